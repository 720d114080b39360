//! Trailkeeper's AWS configuration against the real AWS API peer (moto's server) that the
//! test harness starts and names in AWS_ENDPOINT_URL.

use aws_config::BehaviorVersion;
use trailkeeper::aws::{self, AwsError};

fn peer_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("these tests need the AWS API peer: run them with `make test`")
}

#[tokio::test]
async fn the_standard_chain_reaches_the_peer_named_in_aws_endpoint_url() {
    let endpoint = peer_endpoint();
    let config = aws::load_config().await;
    let target = aws::target(&config);
    assert_eq!(target.endpoint.as_deref(), Some(endpoint.as_str()));
    assert!(target.region.is_some());

    let client = aws_sdk_secretsmanager::Client::new(&config);
    let name = format!("trailkeeper-test/peer-{}", std::process::id());
    client
        .create_secret()
        .name(&name)
        .secret_string("never read back")
        .send()
        .await
        .unwrap();
    aws::check_secrets_manager(&config)
        .await
        .expect("ListSecrets answers");
    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_reported_with_the_operation() {
    peer_endpoint();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:1")
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let error = aws::check_secrets_manager(&config).await.unwrap_err();
    assert!(
        matches!(
            error,
            AwsError::Api {
                operation: "ListSecrets",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("Secrets Manager ListSecrets failed"),
        "{error}"
    );
}
