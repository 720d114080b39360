//! AWS clients, configured only through aws-config's standard chain: `AWS_REGION`,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL[_<SERVICE>]`, credentials from the environment, profile,
//! SSO, web identity or instance role.
//!
//! Trailkeeper reads metadata only: it never calls `GetSecretValue` or `BatchGetSecretValue`.

pub mod accounts;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use trailkeeper_app::api::overview::AwsTarget;

/// What AWS said of a failed call, whichever service: its error code, and its own message
/// when it sent one — the whole chain of causes otherwise (a timeout, a refused connection).
pub fn said<E, R>(error: &SdkError<E, R>) -> (Option<String>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = error
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| DisplayErrorContext(error).to_string());
    (error.code().map(str::to_string), message)
}

/// The `eventSource` of Secrets Manager's CloudTrail records, and of CloudTrail's own.
pub const SECRETS_MANAGER: &str = "secretsmanager.amazonaws.com";
pub const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";

/// An instant as AWS's SDKs give it, as a UTC time.
pub fn time(
    at: Option<&aws_sdk_secretsmanager::primitives::DateTime>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    at.and_then(|at| chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()))
}

pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A Secrets Manager client for `region`, otherwise configured as `config` says.
/// No region was given and the SDK has none either.
#[derive(Debug, thiserror::Error)]
#[error(
    "no AWS region is configured; set TRAILKEEPER_REGIONS, AWS_REGION or a region in the AWS profile"
)]
pub struct NoRegion;

/// The configured regions, or the SDK's own when none are.
pub fn regions(config: &SdkConfig, configured: &[String]) -> Result<Vec<String>, NoRegion> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let region = config.region().ok_or(NoRegion)?;
    Ok(vec![region.to_string()])
}

pub fn secrets_manager(config: &SdkConfig, region: &str) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(config)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// A CloudTrail client for `region`. LookupEvents throttles at about two requests per second:
/// a `ThrottlingException` is retried with exponential backoff and jitter, up to eight times.
pub fn cloudtrail(config: &SdkConfig, region: &str) -> aws_sdk_cloudtrail::Client {
    let config = aws_sdk_cloudtrail::config::Builder::from(config)
        .region(aws_config::Region::new(region.to_string()))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(8)
                .with_initial_backoff(std::time::Duration::from_millis(500))
                .with_max_backoff(std::time::Duration::from_secs(20)),
        )
        .build();
    aws_sdk_cloudtrail::Client::from_conf(config)
}

pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::new(config)
}

pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

pub fn target(config: &SdkConfig) -> AwsTarget {
    AwsTarget {
        region: config.region().map(|region| region.to_string()),
        endpoint: config.endpoint_url().map(str::to_string),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("no AWS region is configured; set AWS_REGION or a region in the AWS profile")]
    NoRegion,
    #[error("Secrets Manager {operation} failed{}: {message}", code.as_ref().map(|code| format!(" with {code}")).unwrap_or_default())]
    Api {
        operation: &'static str,
        code: Option<String>,
        message: String,
    },
}

/// Proves the credentials and endpoint work by listing one secret's metadata.
pub async fn check_secrets_manager(config: &SdkConfig) -> Result<(), AwsError> {
    if config.region().is_none() {
        return Err(AwsError::NoRegion);
    }
    let client = aws_sdk_secretsmanager::Client::new(config);
    client
        .list_secrets()
        .max_results(1)
        .send()
        .await
        .map_err(|error| AwsError::Api {
            operation: "ListSecrets",
            code: error.code().map(str::to_string),
            message: DisplayErrorContext(&error).to_string(),
        })?;
    Ok(())
}
