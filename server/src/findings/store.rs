//! Store: verdicts become findings in the transaction that stored their events. A finding
//! merges into the active one with the same kind × principal × secret; a rule in force
//! (`suppressed()`, migration 0013) files it as suppressed.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use trailkeeper_app::api::findings::{FindingKind, Severity};

use super::{Draft, EVIDENCE_CAP, Verdict, coalesce};
use crate::audit::{Action, Entry, SYSTEM_ACTOR};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub opened: u64,
    pub updated: u64,
    pub resolved: u64,
}

/// Records `verdicts` (in event order).
pub async fn record(
    db: &mut PgConnection,
    verdicts: Vec<Verdict>,
) -> Result<Recorded, sqlx::Error> {
    let mut recorded = Recorded::default();
    for verdict in coalesce(verdicts) {
        match verdict {
            Verdict::Finding(draft) => match upsert(db, &draft).await? {
                Some(true) => recorded.opened += 1,
                Some(false) => recorded.updated += 1,
                None => {}
            },
            Verdict::Resolve {
                kind,
                principal,
                secret_arn,
                at,
                reason,
            } => {
                let resolved = sqlx::query_as!(
                    Resolved,
                    "UPDATE findings SET status = 'resolved', updated_at = now() \
                     WHERE kind = $1 AND principal IS NOT DISTINCT FROM $2 \
                       AND secret_arn IS NOT DISTINCT FROM $3 AND status <> 'resolved' \
                     RETURNING id, title",
                    kind.as_str(),
                    principal,
                    secret_arn
                )
                .fetch_all(&mut *db)
                .await?;
                recorded.resolved += resolved_by_detector(db, resolved, &reason, at).await?;
            }
        }
    }
    Ok(recorded)
}

/// Opens the draft as a finding or adds it to the active one. `Some(true)`: opened;
/// `Some(false)`: added to; `None`: the active finding already holds these events (a
/// backfill replaying what live detection recorded).
async fn upsert(db: &mut PgConnection, draft: &Draft) -> Result<Option<bool>, sqlx::Error> {
    let created: Option<bool> = sqlx::query_scalar(&format!(
        "INSERT INTO findings AS f (kind, severity, title, explanation, secret_arn, \
             secret_name, principal, account_id, region, first_seen, last_seen, count, \
             evidence_event_ids, detail, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             CASE WHEN suppressed($1, $7, $5, $6) THEN 'suppressed' ELSE 'open' END) \
         ON CONFLICT (kind, COALESCE(principal, ''), COALESCE(secret_arn, '')) \
             WHERE status <> 'resolved' \
         DO UPDATE SET \
             severity = CASE WHEN severity_rank(EXCLUDED.severity) > severity_rank(f.severity) \
                 THEN EXCLUDED.severity ELSE f.severity END, \
             title = EXCLUDED.title, explanation = EXCLUDED.explanation, \
             detail = EXCLUDED.detail, \
             status = CASE WHEN f.status = 'suppressed' AND NOT suppressed($1, $7, $5, $6) \
                 THEN 'open' ELSE f.status END, \
             first_seen = LEAST(f.first_seen, EXCLUDED.first_seen), \
             last_seen = GREATEST(f.last_seen, EXCLUDED.last_seen), \
             count = f.count + EXCLUDED.count, \
             evidence_event_ids = \
                 (f.evidence_event_ids || EXCLUDED.evidence_event_ids)[1:{EVIDENCE_CAP}], \
             updated_at = now() \
         WHERE EXCLUDED.last_seen > f.last_seen \
            OR NOT (EXCLUDED.evidence_event_ids <@ f.evidence_event_ids) \
         RETURNING (xmax = 0)"
    ))
    .bind(draft.kind.as_str())
    .bind(draft.severity.as_str())
    .bind(&draft.title)
    .bind(&draft.explanation)
    .bind(&draft.secret_arn)
    .bind(&draft.secret_name)
    .bind(&draft.principal)
    .bind(&draft.account_id)
    .bind(&draft.region)
    .bind(draft.first_seen)
    .bind(draft.last_seen)
    .bind(draft.count)
    .bind(&draft.evidence)
    .bind(&draft.detail)
    .fetch_optional(&mut *db)
    .await?;
    Ok(created)
}

/// A finding a detector resolved.
struct Resolved {
    id: i64,
    title: String,
}

/// Audits findings a detector resolved; returns how many.
async fn resolved_by_detector(
    db: &mut PgConnection,
    resolved: Vec<Resolved>,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let count = resolved.len() as u64;
    for Resolved { id, title } in resolved {
        Entry::new(
            SYSTEM_ACTOR,
            Action::FindingResolved,
            format!("Resolved finding {id} ({title}): {reason}"),
        )
        .detail(json!({ "finding_id": id, "reason": reason, "at": at }))
        .record(&mut *db)
        .await?;
    }
    Ok(count)
}

/// A standing condition of a secret (a rotation overdue, stuck…): a finding while it holds,
/// opened once, its words kept current, its count not raised by holding on.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub kind: FindingKind,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub secret_arn: String,
    pub secret_name: String,
    pub account_id: String,
    pub region: String,
    pub detail: Value,
}

/// Holds `conditions` at `now` for the secrets in `assessed`: each opens (or keeps) its
/// finding; an active finding of `kinds` about an assessed secret whose condition no longer
/// holds is resolved.
pub async fn hold(
    pool: &PgPool,
    kinds: &[FindingKind],
    assessed: &[&str],
    conditions: Vec<Condition>,
    now: DateTime<Utc>,
) -> Result<Recorded, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut recorded = Recorded::default();
    for condition in &conditions {
        let created = sqlx::query_scalar!(
            "INSERT INTO findings AS f (kind, severity, title, explanation, secret_arn, \
                 secret_name, account_id, region, first_seen, last_seen, count, detail, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1, $10, \
                 CASE WHEN suppressed($1, NULL, $5, $6) THEN 'suppressed' ELSE 'open' END) \
             ON CONFLICT (kind, COALESCE(principal, ''), COALESCE(secret_arn, '')) \
                 WHERE status <> 'resolved' \
             DO UPDATE SET severity = EXCLUDED.severity, title = EXCLUDED.title, \
                 explanation = EXCLUDED.explanation, detail = EXCLUDED.detail, \
                 last_seen = EXCLUDED.last_seen, updated_at = now() \
             RETURNING (xmax = 0) AS \"created!\"",
            condition.kind.as_str(),
            condition.severity.as_str(),
            condition.title,
            condition.explanation,
            condition.secret_arn,
            condition.secret_name,
            condition.account_id,
            condition.region,
            now,
            condition.detail
        )
        .fetch_one(&mut *tx)
        .await?;
        if created {
            recorded.opened += 1;
        } else {
            recorded.updated += 1;
        }
    }
    let kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    let holding: Vec<String> = conditions
        .iter()
        .map(|condition| format!("{}\u{1f}{}", condition.kind.as_str(), condition.secret_arn))
        .collect();
    let resolved = sqlx::query_as!(
        Resolved,
        "UPDATE findings SET status = 'resolved', updated_at = now() \
         WHERE kind = ANY($1) AND secret_arn = ANY($2) AND status <> 'resolved' \
           AND NOT (kind || chr(31) || secret_arn = ANY($3)) \
         RETURNING id, title",
        &kinds as &[&str],
        assessed as &[&str],
        &holding
    )
    .fetch_all(&mut *tx)
    .await?;
    recorded.resolved +=
        resolved_by_detector(&mut tx, resolved, "the condition no longer holds", now).await?;
    tx.commit().await?;
    Ok(recorded)
}
