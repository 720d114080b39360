//! Unused secret: a standing condition of the inventory, re-evaluated after each sync — nobody
//! has read the secret for longer than the setting (AWS Config's `secretsmanager-secret-unused`),
//! by AWS's last access date (or its creation, when AWS recorded none) and with no successful
//! read in the stored CloudTrail since. An unused secret is a credential nobody needs that
//! can still leak. A secret AWS has no read date for counts as never read only when the
//! stored CloudTrail reaches back over the whole period (some peers do not record reads).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::DetectionSettings;
use crate::findings::store::{self, About, Condition};

struct Secret {
    arn: String,
    name: String,
    account_id: String,
    region: String,
    last_accessed_at: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
}

/// Re-evaluates the secrets of `region` (every region when `None`) at `now`.
pub async fn reassess(
    pool: &PgPool,
    settings: &DetectionSettings,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<store::Recorded, sqlx::Error> {
    let days = settings.unused_after_days;
    let cutoff = now - Duration::days(days);
    let assessed: Vec<String> = sqlx::query_scalar!(
        "SELECT arn FROM secrets WHERE gone_since IS NULL AND ($1::text IS NULL OR region = $1)",
        region
    )
    .fetch_all(pool)
    .await?;
    let unused: Vec<Secret> = sqlx::query_as!(
        Secret,
        r#"SELECT s.arn, s.name, s.account_id, s.region, s.last_accessed_at,
             COALESCE(s.created_at, s.first_seen_at) AS "since!"
         FROM secrets s
         WHERE s.gone_since IS NULL AND s.deletion_requested_at IS NULL
           AND ($1::text IS NULL OR s.region = $1)
           AND COALESCE(s.last_accessed_at, s.created_at, s.first_seen_at) < $2
           AND (s.last_accessed_at IS NOT NULL
                OR EXISTS (SELECT 1 FROM events WHERE event_time < $2))
           AND NOT EXISTS (
               SELECT 1 FROM events e WHERE e.secret_arn = s.arn AND e.event_time >= $2
                 AND e.event_name = 'GetSecretValue' AND e.error_code IS NULL)"#,
        region,
        cutoff
    )
    .fetch_all(pool)
    .await?;
    let conditions = unused
        .into_iter()
        .map(|secret| {
            let (title, since) = match secret.last_accessed_at {
                Some(last) => (
                    format!(
                        "{} has not been read for {} days",
                        secret.name,
                        (now - last).num_days()
                    ),
                    format!("AWS last recorded a read on {}", last.format("%Y-%m-%d")),
                ),
                None => (
                    format!("{} has never been read", secret.name),
                    format!(
                        "AWS has no record of a read since it was made on {}",
                        secret.since.format("%Y-%m-%d")
                    ),
                ),
            };
            Condition {
                kind: FindingKind::SecretUnused,
                severity: Severity::Low,
                title,
                explanation: format!(
                    "{since}, and CloudTrail shows no successful read in the last {days} days. \
                     A secret nobody uses can still leak: find its owner, or delete it."
                ),
                about: About::Secret {
                    arn: secret.arn,
                    name: secret.name,
                },
                account_id: secret.account_id,
                region: secret.region,
                detail: json!({ "last_accessed_at": secret.last_accessed_at,
                                "settings": { "unused_after_days": days } }),
            }
        })
        .collect();
    let assessed: Vec<&str> = assessed.iter().map(String::as_str).collect();
    store::hold(
        pool,
        &[FindingKind::SecretUnused],
        &assessed,
        conditions,
        now,
    )
    .await
}
