//! Assessment: turns each stored secret's facts into what the list filters and sorts on —
//! its rotation status with the reason, the policy statements that open it up, and its
//! flags — and stores the result. Runs after every sync (status moves with the clock even
//! when nothing in AWS changed) and every ingest (CloudTrail reports failed rotations), so
//! every reader sees the same answer.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use trailkeeper_app::api::secrets::{PolicyExposure, PolicyFlag, SecretFlag};

use super::policy;
use super::status::{self, Assessment, RotationFacts, StatusThresholds};

/// The facts of one secret that its assessment reads.
#[derive(Debug, sqlx::FromRow)]
struct Facts {
    arn: String,
    region: String,
    account_id: String,
    rotation_enabled: bool,
    last_rotated_at: Option<DateTime<Utc>>,
    next_rotation_at: Option<DateTime<Utc>>,
    rotation_after_days: Option<i32>,
    rotation_schedule: Option<String>,
    deletion_requested_at: Option<DateTime<Utc>>,
    primary_region: Option<String>,
    resource_policy: Option<Value>,
    pending_version: Option<String>,
    pending_since: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    failure_message: Option<String>,
}

/// What the assessment concluded for one secret.
#[derive(Debug, PartialEq)]
pub struct Assessed {
    pub rotation: Assessment,
    pub policy_flags: Vec<PolicyFlag>,
    pub flags: Vec<SecretFlag>,
}

/// Where `AWSPENDING` sits on a version other than `AWSCURRENT`, and since when. When the
/// label arrived with the version (a rotation's first step makes both at once), that is the
/// version's creation; the secret's last change and the version's first sighting are later
/// than or equal to it, so the earliest of the three is the best bound (and holds when a
/// peer misreports one). A label moved onto an older version dates from the sync that saw it.
const FACTS: &str = "\
    SELECT s.arn, s.region, s.account_id, s.rotation_enabled, s.last_rotated_at, \
           s.next_rotation_at, s.rotation_after_days, s.rotation_schedule, \
           s.deletion_requested_at, s.primary_region, s.resource_policy, \
           pending.version_id AS pending_version, pending.since AS pending_since, \
           outcome.event_time AS failed_at, outcome.error_message AS failure_message \
    FROM secrets s \
    LEFT JOIN LATERAL ( \
        SELECT v.version_id, \
               CASE WHEN moved.observed_at IS NULL OR moved.observed_at = v.first_seen_at \
                    THEN LEAST(v.created_at, s.last_changed_at, v.first_seen_at) \
                    ELSE moved.observed_at END AS since \
        FROM secret_versions v \
        LEFT JOIN LATERAL ( \
            SELECT observed_at FROM label_history h \
            WHERE h.secret_arn = v.secret_arn AND h.label = 'AWSPENDING' \
              AND h.to_version = v.version_id \
            ORDER BY observed_at DESC LIMIT 1 \
        ) moved ON true \
        WHERE v.secret_arn = s.arn AND v.gone_since IS NULL \
          AND 'AWSPENDING' = ANY (v.labels) AND NOT ('AWSCURRENT' = ANY (v.labels)) \
        LIMIT 1 \
    ) pending ON true \
    LEFT JOIN LATERAL ( \
        SELECT e.event_name, e.event_time, e.error_message FROM events e \
        WHERE e.secret_arn = s.arn \
          AND e.event_name IN ('RotationSucceeded', 'RotationFailed', 'RotationAbandoned') \
        ORDER BY e.event_time DESC LIMIT 1 \
    ) newest_outcome ON true \
    LEFT JOIN LATERAL ( \
        SELECT newest_outcome.event_time, newest_outcome.error_message \
        WHERE newest_outcome.event_name <> 'RotationSucceeded' \
          AND newest_outcome.event_time > COALESCE(s.last_rotated_at, '-infinity') \
    ) outcome ON true";

/// Assesses every secret of `region` (all regions when `None`) and of `account` (all
/// accounts when `None`) at `now` and stores the results. Returns how many secrets were
/// assessed.
pub async fn reassess(
    pool: &PgPool,
    region: Option<&str>,
    account: Option<&str>,
    now: DateTime<Utc>,
    thresholds: StatusThresholds,
) -> Result<usize, sqlx::Error> {
    let facts: Vec<Facts> = sqlx::query_as(&format!(
        "{FACTS} WHERE ($1::text IS NULL OR s.region = $1) \
         AND ($2::text IS NULL OR s.account_id = $2)"
    ))
    .bind(region)
    .bind(account)
    .fetch_all(pool)
    .await?;
    let mut arns = Vec::with_capacity(facts.len());
    let mut statuses = Vec::with_capacity(facts.len());
    let mut reasons = Vec::with_capacity(facts.len());
    let mut policy_flags = Vec::with_capacity(facts.len());
    let mut flags = Vec::with_capacity(facts.len());
    for secret in &facts {
        let assessed = assess(secret, now, thresholds);
        arns.push(secret.arn.clone());
        statuses.push(assessed.rotation.status.as_str());
        reasons.push(assessed.rotation.reason);
        policy_flags.push(serde_json::to_value(&assessed.policy_flags).unwrap_or_default());
        flags.push(
            assessed
                .flags
                .iter()
                .map(|flag| flag.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    // One statement for the lot; a secret whose assessment did not change is not rewritten.
    sqlx::query!(
        "UPDATE secrets SET rotation_status = a.status, rotation_reason = a.reason, \
             policy_flags = a.policy_flags, flags = string_to_array(a.flags, ','), \
             assessed_at = $6 \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[]) \
             AS a (arn, status, reason, policy_flags, flags) \
         WHERE secrets.arn = a.arn AND ( \
             secrets.rotation_status IS DISTINCT FROM a.status \
             OR secrets.rotation_reason IS DISTINCT FROM a.reason \
             OR secrets.policy_flags IS DISTINCT FROM a.policy_flags \
             OR secrets.flags IS DISTINCT FROM string_to_array(a.flags, ',') \
             OR secrets.assessed_at IS NULL)",
        &arns,
        &statuses as &[&str],
        &reasons,
        &policy_flags,
        &flags,
        now
    )
    .execute(pool)
    .await?;
    Ok(facts.len())
}

fn assess(secret: &Facts, now: DateTime<Utc>, thresholds: StatusThresholds) -> Assessed {
    let rotation = status::assess(
        &RotationFacts {
            enabled: secret.rotation_enabled,
            last_rotated: secret.last_rotated_at,
            next_rotation: secret.next_rotation_at,
            automatically_after_days: secret.rotation_after_days.map(i64::from),
            schedule_expression: secret.rotation_schedule.as_deref(),
            pending: secret.pending_version.as_deref().zip(secret.pending_since),
            failure: secret
                .failed_at
                .map(|at| (at, secret.failure_message.as_deref())),
        },
        now,
        thresholds,
    );
    let policy_flags = secret
        .resource_policy
        .as_ref()
        .map(|document| policy::analyse_document(document, &secret.account_id))
        .unwrap_or_default();
    let flags = flags(
        &policy_flags,
        secret.deletion_requested_at.is_some(),
        secret
            .primary_region
            .as_deref()
            .is_some_and(|primary| primary != secret.region),
    );
    Assessed {
        rotation,
        policy_flags,
        flags,
    }
}

/// The list's flags for a secret, in their fixed order.
fn flags(policy_flags: &[PolicyFlag], scheduled_deletion: bool, replica: bool) -> Vec<SecretFlag> {
    let exposed = |public: bool| {
        policy_flags
            .iter()
            .any(|flag| matches!(flag.exposure, PolicyExposure::Public) == public)
    };
    SecretFlag::ALL
        .into_iter()
        .filter(|flag| match flag {
            SecretFlag::PublicPolicy => exposed(true),
            SecretFlag::CrossAccount => exposed(false),
            SecretFlag::ScheduledDeletion => scheduled_deletion,
            SecretFlag::Replica => replica,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_flag(exposure: PolicyExposure) -> PolicyFlag {
        PolicyFlag {
            statement: "#1".into(),
            exposure,
            reason: String::new(),
        }
    }

    #[test]
    fn flags_come_from_the_policy_the_deletion_and_the_primary_region() {
        assert_eq!(flags(&[], false, false), []);
        let cross = policy_flag(PolicyExposure::CrossAccount {
            accounts: vec!["444455556666".into()],
        });
        assert_eq!(
            flags(&[cross, policy_flag(PolicyExposure::Public)], true, true),
            SecretFlag::ALL
        );
        assert_eq!(
            flags(&[policy_flag(PolicyExposure::Public)], false, false),
            [SecretFlag::PublicPolicy]
        );
    }
}
