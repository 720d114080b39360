//! CloudTrail ingestion: records from every source, in every format they come in, typed,
//! normalised, stored once each, and handed to detection. Bad input is set aside with a
//! reason; it never stops the good records beside it.

pub mod checkpoints;
pub mod formats;
pub mod load;
pub mod normalise;
pub mod partitions;
pub mod record;
pub mod redact;
pub mod sources;
pub mod store;

use sqlx::PgPool;

use crate::inventory::assess::reassess;
use crate::inventory::status::StatusThresholds;

/// What newly stored events change, run after each ingest: rotation failures among them
/// make secrets `failing`.
pub async fn after_ingest(pool: &PgPool) -> Result<(), sqlx::Error> {
    reassess(
        pool,
        None,
        None,
        chrono::Utc::now(),
        StatusThresholds::default(),
    )
    .await?;
    Ok(())
}
