//! Rotation schedule: standing conditions of the inventory, re-evaluated after each sync
//! from the rotation status computed in `inventory::status` — a rotation stuck with
//! `AWSPENDING`, overdue against the secret's own schedule, enabled but never run, or off on
//! a secret not rotated for longer than the maximum age (Prowler's and AWS Config's check).
//! Each opens once while it holds and is resolved when it no longer does.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::DetectionSettings;
use crate::findings::store::{self, About, Condition};

/// The kinds this detector owns: those it does not find any more are resolved.
pub const KINDS: [FindingKind; 4] = [
    FindingKind::RotationStuck,
    FindingKind::RotationOverdue,
    FindingKind::RotationNeverRan,
    FindingKind::RotationNeglected,
];

struct Secret {
    arn: String,
    name: String,
    account_id: String,
    region: String,
    rotation_status: Option<String>,
    rotation_reason: Option<String>,
    last_rotated_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    first_seen_at: DateTime<Utc>,
}

/// Re-evaluates the secrets of `region` (every region when `None`) at `now`.
pub async fn reassess(
    pool: &PgPool,
    settings: &DetectionSettings,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<store::Recorded, sqlx::Error> {
    let secrets: Vec<Secret> = sqlx::query_as!(
        Secret,
        "SELECT arn, name, account_id, region, rotation_status, rotation_reason, \
             last_rotated_at, created_at, first_seen_at \
         FROM secrets WHERE gone_since IS NULL AND ($1::text IS NULL OR region = $1)",
        region
    )
    .fetch_all(pool)
    .await?;
    let conditions: Vec<Condition> = secrets
        .iter()
        .filter_map(|secret| condition(secret, settings, now))
        .collect();
    let arns: Vec<&str> = secrets.iter().map(|secret| secret.arn.as_str()).collect();
    store::hold(pool, &KINDS, &arns, conditions, now).await
}

fn condition(
    secret: &Secret,
    settings: &DetectionSettings,
    now: DateTime<Utc>,
) -> Option<Condition> {
    let reason = secret.rotation_reason.clone().unwrap_or_default();
    let name = &secret.name;
    let max_age = Duration::days(settings.rotation_max_age_days);
    let (kind, severity, title, explanation) = match secret.rotation_status.as_deref()? {
        "stuck" => (
            FindingKind::RotationStuck,
            Severity::High,
            format!("Rotation of {name} is stuck"),
            format!(
                "{reason}. A rotation started and never finished: the next rotation cannot \
                 start until AWSPENDING is cleared, and clients asking for AWSPENDING get an \
                 unfinished value."
            ),
        ),
        "overdue" => (
            FindingKind::RotationOverdue,
            Severity::Medium,
            format!("Rotation of {name} is overdue"),
            format!("{reason}, by the secret's own schedule."),
        ),
        "never_rotated" => (
            FindingKind::RotationNeverRan,
            Severity::Medium,
            format!("Rotation of {name} has never run"),
            format!(
                "{reason}: rotation is switched on, but AWS has no record of a rotation, so \
                 the secret still has the value it was created with."
            ),
        ),
        "disabled" => {
            let since = secret
                .last_rotated_at
                .or(secret.created_at)
                .unwrap_or(secret.first_seen_at);
            if now - since <= max_age {
                return None;
            }
            let age = (now - since).num_days();
            (
                FindingKind::RotationNeglected,
                Severity::Low,
                format!("{name} has not been rotated for {age} days"),
                format!(
                    "{reason}. Its value is {age} days old; secrets should rotate at least every \
                     {} days.",
                    settings.rotation_max_age_days
                ),
            )
        }
        _ => return None,
    };
    Some(Condition {
        kind,
        severity,
        title,
        explanation,
        about: About::Secret {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
        },
        account_id: secret.account_id.clone(),
        region: secret.region.clone(),
        detail: json!({ "rotation_status": secret.rotation_status, "reason": reason,
                        "settings": { "rotation_max_age_days": settings.rotation_max_age_days } }),
    })
}
