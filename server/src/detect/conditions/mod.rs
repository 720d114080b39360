//! Standing conditions of the inventory, re-evaluated after each sync rather than per event:
//! a rotation that is stuck, overdue or neglected, a secret nobody reads, what the trails do
//! not record, a region whose events stopped arriving, and grants unused or too broad.

pub mod grants;
pub mod ingest_silence;
pub mod rotation_schedule;
pub mod trail_health;
pub mod unused_secret;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::DetectionSettings;
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
    if let Some(settings) = settings_or_warning(pool).await? {
        trail_health::reassess(pool, &settings, now).await?;
        ingest_silence::reassess(pool, &settings, now).await?;
        grants::reassess(pool, &settings, now).await?;
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
    let Some(settings) = settings_or_warning(pool).await? else {
        return Ok(());
    };
    rotation_schedule::reassess(pool, &settings, region, now).await?;
    unused_secret::reassess(pool, &settings, region, now).await?;
    Ok(())
}

/// The stored settings; `None`, with a warning, when they no longer read.
async fn settings_or_warning(pool: &PgPool) -> Result<Option<DetectionSettings>, sqlx::Error> {
    match settings::load(pool).await {
        Ok(settings) => Ok(Some(settings)),
        Err(SettingsError::Database(error)) => Err(error),
        Err(SettingsError::Invalid(problem)) => {
            tracing::warn!(%problem, "inventory findings not re-evaluated");
            Ok(None)
        }
    }
}
