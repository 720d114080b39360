//! Blind spots: standing conditions of what the trails record, re-evaluated after each sync
//! from what it read of them (`inventory::trails`). A gap — an account × region holding
//! secrets where no logging trail records Secrets Manager's management reads, so no reading of
//! them is ever seen — and a trail that stopped logging or delivering.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::api::findings::{FindingKind, Severity};
use trailkeeper_app::api::overview::{Logged, TrailState};

use crate::detect::DetectionSettings;
use crate::findings::store::{self, About, Condition};

struct Place {
    account_id: String,
    region: String,
    reads: Option<String>,
    trails: Vec<TrailState>,
    secrets: i64,
}

struct PlaceRow {
    account_id: String,
    region: String,
    reads: Option<String>,
    trails: serde_json::Value,
    secrets: i64,
}

/// Re-evaluates every account × region the sync has read the trails of, at `now`.
pub async fn reassess(
    pool: &PgPool,
    settings: &DetectionSettings,
    now: DateTime<Utc>,
) -> Result<store::Recorded, sqlx::Error> {
    let places: Vec<Place> = sqlx::query_as!(
        PlaceRow,
        r#"SELECT c.account_id, c.region, c.reads, c.trails,
               (SELECT count(*) FROM secrets s WHERE s.account_id = c.account_id
                    AND s.region = c.region AND s.gone_since IS NULL) AS "secrets!"
           FROM trail_checks c ORDER BY c.account_id, c.region"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| Place {
        account_id: row.account_id,
        region: row.region,
        reads: row.reads,
        trails: serde_json::from_value(row.trails).unwrap_or_default(),
        secrets: row.secrets,
    })
    .collect();
    let mut recorded = gaps(pool, &places, now).await?;
    let stopped = stopped(pool, settings, &places, now).await?;
    recorded.opened += stopped.opened;
    recorded.updated += stopped.updated;
    recorded.resolved += stopped.resolved;
    Ok(recorded)
}

/// An account × region as a finding's subject.
pub fn place_subject(account_id: &str, region: &str) -> String {
    format!("{account_id}/{region}")
}

async fn gaps(
    pool: &PgPool,
    places: &[Place],
    now: DateTime<Utc>,
) -> Result<store::Recorded, sqlx::Error> {
    // Where the answer is unknown (a trail could not be read), a gap is neither opened nor
    // closed: the Overview says why.
    let known: Vec<&Place> = places
        .iter()
        .filter(|place| place.reads.is_some())
        .collect();
    let assessed: Vec<String> = known
        .iter()
        .map(|place| place_subject(&place.account_id, &place.region))
        .collect();
    let conditions = known
        .iter()
        .filter(|place| place.secrets > 0)
        .filter_map(|place| {
            let reads = Logged::parse(place.reads.as_deref()?)?;
            let trails = &place.trails;
            let logging: Vec<&str> = trails
                .iter()
                .filter(|trail| trail.logging == Some(true))
                .map(|trail| trail.name.as_str())
                .collect();
            let trails_here = if logging.is_empty() {
                "no trail is logging here".to_string()
            } else {
                format!("the trails logging here ({})", logging.join(", "))
            };
            let secrets = match place.secrets {
                1 => "1 secret is".to_string(),
                count => format!("{count} secrets are"),
            };
            let (severity, title, explanation) = match reads {
                Logged::All => return None,
                Logged::None => (
                    Severity::Medium,
                    format!(
                        "No trail logs Secrets Manager reads in {} {}",
                        place.account_id, place.region
                    ),
                    format!(
                        "{secrets} kept here, but {trails_here} record no Secrets Manager \
                         management read events (GetSecretValue, BatchGetSecretValue): nobody's \
                         reading of these secrets is seen, so detection cannot judge it. Log \
                         read management events here: a trail whose selectors take ReadOnly or \
                         All management events, or an advanced selector without readOnly = \
                         false."
                    ),
                ),
                Logged::Partly => (
                    Severity::Low,
                    format!(
                        "Secrets Manager reads are logged only in part in {} {}",
                        place.account_id, place.region
                    ),
                    format!(
                        "{secrets} kept here, and {trails_here} record only some of Secrets \
                         Manager's management read events (some calls, or some callers): the \
                         reads left out are never seen by detection."
                    ),
                ),
            };
            Some(Condition {
                kind: FindingKind::TrailGap,
                severity,
                title,
                explanation,
                about: About::Subject(place_subject(&place.account_id, &place.region)),
                account_id: place.account_id.clone(),
                region: place.region.clone(),
                detail: json!({ "reads": reads, "secrets": place.secrets, "trails": trails }),
            })
        })
        .collect();
    let assessed: Vec<&str> = assessed.iter().map(String::as_str).collect();
    store::hold(pool, &[FindingKind::TrailGap], &assessed, conditions, now).await
}

async fn stopped(
    pool: &PgPool,
    settings: &DetectionSettings,
    places: &[Place],
    now: DateTime<Utc>,
) -> Result<store::Recorded, sqlx::Error> {
    // A multi-region trail shows in every region: once, by its ARN.
    let mut trails: BTreeMap<&str, (&TrailState, &Place)> = BTreeMap::new();
    for place in places {
        for trail in &place.trails {
            trails.entry(&trail.arn).or_insert((trail, place));
        }
    }
    // A trail gone since its finding opened no longer holds the condition either.
    let accounts: BTreeSet<&str> = places
        .iter()
        .map(|place| place.account_id.as_str())
        .collect();
    let accounts: Vec<&str> = accounts.into_iter().collect();
    let open: Vec<String> = sqlx::query_scalar!(
        r#"SELECT subject AS "subject!" FROM findings
           WHERE kind = $1 AND status <> 'resolved' AND subject IS NOT NULL
             AND account_id = ANY($2)"#,
        FindingKind::TrailStopped.as_str(),
        &accounts as &[&str]
    )
    .fetch_all(pool)
    .await?;
    let stale_after = Duration::hours(settings.trail_stale_hours);
    let conditions = trails
        .values()
        .filter_map(|(trail, place)| {
            let records = [trail.reads, trail.writes]
                .iter()
                .any(|logged| *logged != Some(Logged::None));
            if !records {
                // A trail that logs nothing of Secrets Manager is not ours to watch.
                return None;
            }
            let (severity, title, explanation) = if trail.logging == Some(false) {
                (
                    Severity::High,
                    format!("Trail {} is not logging", trail.name),
                    format!(
                        "CloudTrail reports the trail {} stopped: what it recorded of Secrets \
                         Manager is no longer recorded. Stopping a trail is how an intruder \
                         hides what they do next; find who stopped it (StopLogging), then start \
                         it again.",
                        trail.arn
                    ),
                )
            } else {
                let delivered = trail.latest_delivery_at?;
                let silent = now - delivered;
                if trail.logging != Some(true) || silent <= stale_after {
                    return None;
                }
                (
                    Severity::Medium,
                    format!(
                        "Trail {} has not delivered for {} hours",
                        trail.name,
                        silent.num_hours()
                    ),
                    format!(
                        "The trail {} is logging, but its last log file reached its bucket {} \
                         hours ago (the setting allows {}){}: events it records are not arriving.",
                        trail.arn,
                        silent.num_hours(),
                        settings.trail_stale_hours,
                        trail
                            .latest_delivery_error
                            .as_ref()
                            .map(|error| format!("; AWS's last delivery error: {error}"))
                            .unwrap_or_default()
                    ),
                )
            };
            Some(Condition {
                kind: FindingKind::TrailStopped,
                severity,
                title,
                explanation,
                about: About::Subject(trail.arn.clone()),
                // Where it was found missing (an organisation trail's ARN names the
                // management account).
                account_id: place.account_id.clone(),
                region: trail
                    .home_region
                    .clone()
                    .unwrap_or_else(|| place.region.clone()),
                detail: json!({ "trail": trail,
                                "settings": { "trail_stale_hours": settings.trail_stale_hours } }),
            })
        })
        .collect();
    // A trail whose status could not be read is left as it stands.
    let unread: BTreeSet<&str> = trails
        .values()
        .filter(|(trail, _)| trail.logging.is_none())
        .map(|(trail, _)| trail.arn.as_str())
        .collect();
    let assessed: Vec<&str> = trails
        .keys()
        .copied()
        .chain(open.iter().map(String::as_str))
        .filter(|arn| !unread.contains(arn))
        .collect();
    store::hold(
        pool,
        &[FindingKind::TrailStopped],
        &assessed,
        conditions,
        now,
    )
    .await
}
