//! How far each continuing source has read. A checkpoint is written only by the store, in
//! the transaction of the events it covers (see `store::store`), so killing the process at
//! any moment leaves it exactly where the stored events end.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

/// A source's position after a unit of input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The stream: `s3://bucket/AWSLogs/111122223333/CloudTrail/us-east-1/`, `lookup:us-east-1`.
    pub source: String,
    /// Where the next read starts: an object key, an event time.
    pub position: String,
    /// The newest event time covered so far, for the source's lag.
    pub newest_event_time: Option<DateTime<Utc>>,
}

/// The stream's stored position, if it has read anything yet.
pub async fn position(pool: &PgPool, source: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT position FROM ingest_checkpoints WHERE source = $1",
        source
    )
    .fetch_optional(pool)
    .await
}

/// Positions only move forward (object keys in S3's byte order, times written alike), so a
/// backfill of an earlier span leaves a source's later checkpoint where it was.
pub(super) async fn advance(
    tx: &mut Transaction<'_, Postgres>,
    checkpoint: &Checkpoint,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO ingest_checkpoints (source, position, newest_event_time) \
         VALUES ($1, $2, $3) \
         ON CONFLICT (source) DO UPDATE SET \
             position = GREATEST(ingest_checkpoints.position COLLATE \"C\", \
                                 EXCLUDED.position COLLATE \"C\"), \
             newest_event_time = GREATEST(ingest_checkpoints.newest_event_time, \
                                          EXCLUDED.newest_event_time), \
             advanced_at = now()",
        checkpoint.source,
        checkpoint.position,
        checkpoint.newest_event_time,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
