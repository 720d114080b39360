//! Where CloudTrail events come from. Each source reads what is new since its checkpoint and
//! hands every unit of input (a file, an S3 object, a page of LookupEvents) to the shared
//! load step, which stores it and advances the checkpoint in one transaction.

pub mod files;
pub mod lookup;
pub mod s3;
pub mod sqs;

use std::path::PathBuf;

use async_trait::async_trait;
use sqlx::PgPool;

use super::load::{Summary, Totals};
use crate::activity::ACTIVITY;

/// Called with each unit's summary as soon as it is stored (the CLI prints it).
pub type Report<'a> = &'a (dyn Fn(&Summary) + Send + Sync);

#[async_trait]
pub trait EventSource: Send + Sync {
    /// What it reads, for a person: `s3://trails/AWSLogs/`, `LookupEvents in us-east-1`.
    fn name(&self) -> String;
    /// Reads and stores everything new since the source's checkpoint.
    async fn poll(&self, pool: &PgPool, report: Report<'_>) -> Result<Totals, SourceError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}")]
    Url(String),
    #[error("{service} {operation} failed{}: {message}", code.as_ref().map(|code| format!(" with {code}")).unwrap_or_default())]
    Aws {
        service: &'static str,
        operation: &'static str,
        code: Option<String>,
        message: String,
    },
    #[error("storing events failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl SourceError {
    /// An AWS SDK error, with AWS's own code and message.
    pub fn aws<E>(
        service: &'static str,
        operation: &'static str,
        error: &aws_sdk_s3::error::SdkError<E>,
    ) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        SourceError::Aws {
            service,
            operation,
            code: error.code().map(str::to_string),
            message: error
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| aws_sdk_s3::error::DisplayErrorContext(error).to_string()),
        }
    }
}

/// Polls `source` and records the outcome (when, how many new events, the error) for the
/// ingestion status on the Overview, unless other servers held all of it: theirs is the
/// outcome to show.
pub async fn poll_and_record(
    source: &dyn EventSource,
    pool: &PgPool,
    report: Report<'_>,
) -> Result<Totals, SourceError> {
    let outcome = source.poll(pool, report).await;
    match &outcome {
        Ok(totals) => ACTIVITY.polled(&source.name(), totals.units, totals.new, totals.quarantined),
        Err(_) => ACTIVITY.poll_failed(&source.name()),
    }
    let (new_events, error) = match &outcome {
        Ok(totals) if totals.only_held_elsewhere() => return outcome,
        Ok(totals) => (totals.new, None),
        Err(error) => (0, Some(error.to_string())),
    };
    sqlx::query!(
        "INSERT INTO ingest_polls (source, polled_at, error, new_events) \
         VALUES ($1, now(), $2, $3) \
         ON CONFLICT (source) DO UPDATE SET polled_at = now(), error = EXCLUDED.error, \
             new_events = EXCLUDED.new_events",
        source.name(),
        error,
        i64::try_from(new_events).unwrap_or(i64::MAX),
    )
    .execute(pool)
    .await?;
    outcome
}
