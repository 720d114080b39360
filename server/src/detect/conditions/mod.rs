//! Standing conditions of the inventory, re-evaluated after each sync rather than per event:
//! a rotation that is stuck, overdue or neglected, and a secret nobody reads.

pub mod rotation_schedule;
pub mod unused_secret;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::settings::{self, SettingsError};
use crate::inventory::sync::SyncSummary;

/// Re-evaluates the conditions of each region a sync just read.
pub async fn after_sync(pool: &PgPool, synced: &[SyncSummary]) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    // Once per region, however many accounts were synced in it.
    let regions: std::collections::BTreeSet<String> = synced
        .iter()
        .map(|summary| summary.region.clone())
        .collect();
    for region in regions {
        reassess(pool, Some(&region), now).await?;
    }
    Ok(())
}

/// Re-evaluates every condition for the secrets of `region` (every region when `None`) at
/// `now`. Stored settings that no longer read leave the findings as they are, with a warning.
pub async fn reassess(
    pool: &PgPool,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let settings = match settings::load(pool).await {
        Ok(settings) => settings,
        Err(SettingsError::Database(error)) => return Err(error),
        Err(SettingsError::Invalid(problem)) => {
            tracing::warn!(%problem, "inventory findings not re-evaluated");
            return Ok(());
        }
    };
    rotation_schedule::reassess(pool, &settings, region, now).await?;
    unused_secret::reassess(pool, &settings, region, now).await?;
    Ok(())
}
