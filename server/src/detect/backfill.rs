//! Backfill: the stored events through the same detectors, in event-time order, as if they
//! were arriving live. The detectors' memory is cleared and rebuilt from the first stored
//! event to the newest (a first-time reader needs the whole history to know who read what,
//! and live detection goes on from that memory afterwards, even when the range asked for
//! ended long ago); findings are recorded only for events in the range asked for. Findings
//! in that range nobody has touched (no person triaged, assigned or commented on them) are
//! made again from scratch; those people did touch are kept, and only take evidence they do
//! not hold yet. Findings no event makes (standing conditions, approvals) are left alone.

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgPool};
use trailkeeper_app::api::findings::FindingKind;

use super::engine::{self, Recording};
use super::settings::{self, SettingsError};
use super::{DetectionSettings, observed};
use crate::audit::SYSTEM_ACTOR;
use crate::findings::store::Recorded;

/// Events per transaction.
pub(super) const CHUNK: i64 = 5000;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("the backfill could not use the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backfilled {
    pub events: u64,
    pub findings: Recorded,
    /// Detector memories past their use when it ended, forgotten.
    pub forgotten: u64,
}

/// Runs detection over every stored event, recording findings for those at or after `since`
/// and before `until`. `progress` hears how many events are done.
pub async fn backfill(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    mut progress: impl FnMut(u64),
) -> Result<Backfilled, BackfillError> {
    let settings = settings::load(pool).await?;
    let mut db = pool.acquire().await?;
    // Held for the whole backfill: live detection waits rather than interleaving with it.
    sqlx::query!("SELECT pg_advisory_lock($1)", engine::DETECTION_LOCK)
        .execute(&mut *db)
        .await?;
    let outcome = run(&mut db, &settings, since, until, &mut progress).await;
    let unlocked = sqlx::query!("SELECT pg_advisory_unlock($1)", engine::DETECTION_LOCK)
        .fetch_one(&mut *db)
        .await;
    let backfilled = outcome?;
    unlocked?;
    Ok(backfilled)
}

async fn run(
    db: &mut sqlx::PgConnection,
    settings: &DetectionSettings,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    progress: &mut impl FnMut(u64),
) -> Result<Backfilled, BackfillError> {
    let mut tx = db.begin().await?;
    sqlx::query!("DELETE FROM detector_state")
        .execute(&mut *tx)
        .await?;
    // What events found; standing conditions stay until the next sync judges them.
    let remade: Vec<&str> = FindingKind::ALL
        .into_iter()
        .filter(|kind| kind.found_in_events())
        .map(FindingKind::as_str)
        .collect();
    sqlx::query(
        "DELETE FROM findings f \
         WHERE ($1::timestamptz IS NULL OR f.first_seen >= $1) \
           AND ($2::timestamptz IS NULL OR f.first_seen < $2) \
           AND f.kind = ANY($4) \
           AND f.assignee IS NULL AND f.status <> 'acknowledged' \
           AND NOT EXISTS ( \
               SELECT 1 FROM audit_log a \
               WHERE (a.detail ->> 'finding_id')::bigint = f.id AND a.detail ? 'finding_id' \
                 AND a.actor <> $3)",
    )
    .bind(since)
    .bind(until)
    .bind(SYSTEM_ACTOR)
    .bind(&remade)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut done = Backfilled::default();
    let mut after: Option<(DateTime<Utc>, String)> = None;
    loop {
        let events = observed::read_after(&mut *db, after.as_ref(), CHUNK).await?;
        let Some(last) = events.last() else {
            break;
        };
        after = Some((last.event_time, last.event_id.clone()));
        let count = events.len() as u64;
        let mut tx = db.begin().await?;
        // History's findings are for reading, not for paging anyone (migration 0014).
        sqlx::query!("SET LOCAL trailkeeper.alerts = 'off'")
            .execute(&mut *tx)
            .await?;
        let recorded =
            engine::detect(&mut tx, events, settings, Recording { since, until }).await?;
        tx.commit().await?;
        done.events += count;
        done.findings.opened += recorded.opened;
        done.findings.updated += recorded.updated;
        done.findings.resolved += recorded.resolved;
        progress(done.events);
    }
    // What the history left behind that no detector will read again.
    done.forgotten = engine::forget(db, settings).await?;
    Ok(done)
}
