//! The inventory sync against the real AWS API peer (moto) and a real PostgreSQL. Each test
//! works in a region of its own, so tests running at once never see each other's secrets.

use crate::common;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::Client;
use common::{client, create_secret, put_value};
use sqlx::PgPool;
use trailkeeper::aws::accounts::AccountSettings;
use trailkeeper::inventory::read;
use trailkeeper::inventory::sync::{sync_region, sync_regions};
use trailkeeper_app::api::secrets::SecretQuery;

async fn history(pool: &PgPool, arn: &str) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT label, from_version, to_version FROM label_history WHERE secret_arn = $1 ORDER BY id",
    )
    .bind(arn)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_first_sync_stores_every_secret_with_its_versions_tags_and_policy(pool: PgPool) {
    let client = client("eu-north-1").await;
    let arn = create_secret(&client, "payments/db", "payments").await;
    create_secret(&client, "payments/api-key", "payments").await;
    client
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();

    let summary = sync_region(&pool, &client, "eu-north-1", None)
        .await
        .unwrap();
    assert_eq!((summary.seen, summary.new, summary.gone), (2, 2, 0));
    assert_eq!(summary.errors, []);

    let (name, account, tags, policy): (String, String, serde_json::Value, serde_json::Value) =
        sqlx::query_as(
            "SELECT name, account_id, tags, resource_policy FROM secrets WHERE arn = $1",
        )
        .bind(&arn)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(name, "payments/db");
    assert_eq!(account.len(), 12);
    assert_eq!(tags, serde_json::json!({ "team": "payments" }));
    assert_eq!(policy["Statement"][0]["Principal"], "*");
    let labels = history(&pool, &arn).await;
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(labels[0].0, "AWSCURRENT");

    let run: (String, i32) = sqlx::query_as("SELECT outcome, secrets_seen FROM sync_runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(run, ("succeeded".to_string(), 2));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn each_label_move_is_recorded_once(pool: PgPool) {
    let client = client("ap-southeast-2").await;
    let arn = create_secret(&client, "orders/db", "payments").await;
    sync_region(&pool, &client, "ap-southeast-2", None)
        .await
        .unwrap();
    let first = history(&pool, &arn).await[0].2.clone().unwrap();

    let second = put_value(&client, &arn, &[]).await;
    let summary = sync_region(&pool, &client, "ap-southeast-2", None)
        .await
        .unwrap();
    assert_eq!(summary.label_moves, 2);
    let again = sync_region(&pool, &client, "ap-southeast-2", None)
        .await
        .unwrap();
    assert_eq!(again.label_moves, 0, "an unchanged secret records nothing");

    assert_eq!(
        history(&pool, &arn).await[1..],
        [
            (
                "AWSCURRENT".to_string(),
                Some(first.clone()),
                Some(second.clone())
            ),
            ("AWSPREVIOUS".to_string(), None, Some(first)),
        ]
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn deleted_secrets_keep_their_deletion_date_and_then_are_marked_gone(pool: PgPool) {
    // How many secrets the Secrets list says match.
    let matching = |query: &str| {
        let query = SecretQuery::parse(query).unwrap();
        let pool = pool.clone();
        async move {
            let mut db = pool.acquire().await.unwrap();
            read::count(&mut db, &query).await.unwrap()
        }
    };
    let client = client("sa-east-1").await;
    let scheduled = create_secret(&client, "legacy/ftp", "payments").await;
    let removed = create_secret(&client, "legacy/smtp", "payments").await;
    sync_region(&pool, &client, "sa-east-1", None)
        .await
        .unwrap();
    let account = removed.split(':').nth(4).unwrap().to_string();
    assert_eq!(matching("").await, 2);
    assert_eq!(matching("region=sa-east-1").await, 2);
    assert_eq!(matching(&format!("account={account}")).await, 2);
    assert_eq!(matching("region=eu-west-1").await, 0);
    assert_eq!(matching("q=smtp").await, 1);

    client
        .delete_secret()
        .secret_id(&scheduled)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    client
        .delete_secret()
        .secret_id(&removed)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let summary = sync_region(&pool, &client, "sa-east-1", None)
        .await
        .unwrap();
    assert_eq!((summary.seen, summary.gone), (1, 1));

    let rows: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT arn, deletion_requested_at IS NOT NULL, gone_since IS NOT NULL FROM secrets ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [(scheduled, true, false), (removed, false, true)],
        "scheduled for deletion is still there; removed is kept, marked gone"
    );
    assert_eq!(
        matching("").await,
        1,
        "the gone secret is no longer counted"
    );
    assert_eq!(matching("region=sa-east-1").await, 1);
    assert_eq!(matching(&format!("account={account}")).await, 1);
    assert_eq!(matching("deleted=include").await, 2);
    assert_eq!(matching("deleted=hide").await, 0);
    assert_eq!(matching("q=smtp").await, 0);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_region_that_fails_is_recorded_with_its_error(pool: PgPool) {
    // Nothing listens on port 1.
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-west-1"))
        .endpoint_url("http://127.0.0.1:1")
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let summary = sync_region(&pool, &Client::new(&config), "us-west-1", None)
        .await
        .unwrap();
    assert_eq!(summary.errors.len(), 1);
    assert_eq!(summary.errors[0].operation, "ListSecrets");
    let (outcome, errors): (String, serde_json::Value) =
        sqlx::query_as("SELECT outcome, errors FROM sync_runs WHERE region = 'us-west-1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(outcome, "failed");
    assert_eq!(errors[0]["operation"], "ListSecrets");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn every_configured_region_is_synced_in_turn(pool: PgPool) {
    create_secret(&client("eu-west-3").await, "billing/db", "payments").await;
    create_secret(&client("eu-south-1").await, "billing/db", "payments").await;
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let regions = ["eu-west-3".to_string(), "eu-south-1".to_string()];
    let summaries = sync_regions(&pool, &config, &AccountSettings::default(), &regions)
        .await
        .unwrap();
    let seen: Vec<(&str, usize)> = summaries
        .iter()
        .map(|summary| (summary.region.as_str(), summary.seen))
        .collect();
    assert_eq!(seen, [("eu-west-3", 1), ("eu-south-1", 1)]);

    // No region anywhere: nothing to sync, and the error says how to name one.
    let regionless = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .build();
    let error = sync_regions(&pool, &regionless, &AccountSettings::default(), &[])
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with("no AWS region is configured"),
        "{error}"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_region_that_errors_does_not_stop_the_others(pool: PgPool) {
    create_secret(&client("eu-west-2").await, "billing/db", "payments").await;
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    // The peer knows no such region and answers 500 for it.
    let regions = ["mars-east-1".to_string(), "eu-west-2".to_string()];
    let summaries = sync_regions(&pool, &config, &AccountSettings::default(), &regions)
        .await
        .unwrap();
    assert_eq!(summaries[0].errors.len(), 1, "{:?}", summaries[0]);
    assert_eq!(summaries[0].errors[0].operation, "ListSecrets");
    assert_eq!((summaries[1].seen, summaries[1].errors.len()), (1, 0));
    let outcomes: Vec<(String, String)> =
        sqlx::query_as("SELECT region, outcome FROM sync_runs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        outcomes,
        [
            ("mars-east-1".to_string(), "failed".to_string()),
            ("eu-west-2".to_string(), "succeeded".to_string())
        ]
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_resource_policy_that_is_not_json_is_a_sync_error_that_says_so(pool: PgPool) {
    let client = client("ap-northeast-2").await;
    let arn = create_secret(&client, "legacy/broken-policy", "legacy").await;
    // The peer stores any text; AWS would refuse it, but a policy read back must still
    // never be trusted to be JSON.
    client
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy("{not json")
        .send()
        .await
        .unwrap();
    let summary = sync_region(&pool, &client, "ap-northeast-2", None)
        .await
        .unwrap();
    assert_eq!(summary.seen, 1);
    assert_eq!(summary.errors.len(), 1, "{:?}", summary.errors);
    let error = &summary.errors[0];
    assert_eq!(error.secret.as_deref(), Some(arn.as_str()));
    assert_eq!(error.operation, "GetResourcePolicy");
    assert!(error.message.contains("not JSON"), "{}", error.message);
}
