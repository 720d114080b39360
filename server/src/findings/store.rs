//! Store: verdicts become findings in the transaction that stored their events. A finding
//! merges into the active one with the same kind × principal × secret; a rule in force
//! (`suppressed()`, migration 0013) files it as suppressed.

use std::collections::HashSet;

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

/// Records `verdicts` (in event order). Consecutive findings are written in one statement,
/// which may write each row once: a resolution, or a second finding for the same row (the
/// table's key reads an absent principal or secret as empty), writes those before it first.
pub async fn record(
    db: &mut PgConnection,
    verdicts: Vec<Verdict>,
) -> Result<Recorded, sqlx::Error> {
    let mut recorded = Recorded::default();
    let mut drafts: Vec<Draft> = Vec::new();
    let mut rows: HashSet<(&'static str, String, String)> = HashSet::new();
    for verdict in coalesce(verdicts) {
        match verdict {
            Verdict::Finding(draft) => {
                let row = (
                    draft.kind.as_str(),
                    draft.principal.clone().unwrap_or_default(),
                    draft.secret_arn.clone().unwrap_or_default(),
                );
                if rows.contains(&row) {
                    upsert(db, std::mem::take(&mut drafts), &mut recorded).await?;
                    rows.clear();
                }
                rows.insert(row);
                drafts.push(draft);
            }
            Verdict::Resolve {
                kind,
                principal,
                secret_arn,
                at,
                reason,
            } => {
                upsert(db, std::mem::take(&mut drafts), &mut recorded).await?;
                rows.clear();
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
    upsert(db, drafts, &mut recorded).await?;
    Ok(recorded)
}

/// Opens each draft as a finding or adds it to the active one with its key, counting the
/// findings opened and added to; one whose events the active finding already holds (a
/// backfill replaying what live detection recorded) is neither.
async fn upsert(
    db: &mut PgConnection,
    drafts: Vec<Draft>,
    recorded: &mut Recorded,
) -> Result<(), sqlx::Error> {
    if drafts.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = drafts
        .into_iter()
        .map(|draft| {
            json!({
                "kind": draft.kind.as_str(),
                "severity": draft.severity.as_str(),
                "title": draft.title,
                "explanation": draft.explanation,
                "secret_arn": draft.secret_arn,
                "secret_name": draft.secret_name,
                "principal": draft.principal,
                "account_id": draft.account_id,
                "region": draft.region,
                "first_seen": draft.first_seen,
                "last_seen": draft.last_seen,
                "count": draft.count,
                "evidence_event_ids": draft.evidence,
                "detail": draft.detail,
            })
        })
        .collect();
    let created: Vec<bool> = sqlx::query_scalar(&format!(
        "INSERT INTO findings AS f (kind, severity, title, explanation, secret_arn, \
             secret_name, principal, account_id, region, first_seen, last_seen, count, \
             evidence_event_ids, detail, status) \
         SELECT d.kind, d.severity, d.title, d.explanation, d.secret_arn, d.secret_name, \
             d.principal, d.account_id, d.region, d.first_seen, d.last_seen, d.count, \
             d.evidence_event_ids, d.detail, \
             CASE WHEN suppressed(d.kind, d.principal, d.secret_arn, d.secret_name) \
                 THEN 'suppressed' ELSE 'open' END \
         FROM jsonb_to_recordset($1) AS d (kind text, severity text, title text, \
             explanation text, secret_arn text, secret_name text, principal text, \
             account_id text, region text, first_seen timestamptz, last_seen timestamptz, \
             count bigint, evidence_event_ids text[], detail jsonb) \
         ON CONFLICT (kind, COALESCE(principal, ''), COALESCE(secret_arn, ''), COALESCE(subject, '')) \
             WHERE status <> 'resolved' \
         DO UPDATE SET \
             severity = CASE WHEN severity_rank(EXCLUDED.severity) > severity_rank(f.severity) \
                 THEN EXCLUDED.severity ELSE f.severity END, \
             title = EXCLUDED.title, explanation = EXCLUDED.explanation, \
             detail = EXCLUDED.detail, \
             status = CASE WHEN f.status = 'suppressed' AND NOT suppressed(EXCLUDED.kind, \
                     EXCLUDED.principal, EXCLUDED.secret_arn, EXCLUDED.secret_name) \
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
    .bind(Value::Array(rows))
    .fetch_all(&mut *db)
    .await?;
    for opened in created {
        if opened {
            recorded.opened += 1;
        } else {
            recorded.updated += 1;
        }
    }
    Ok(())
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

/// A standing condition of a secret (a rotation overdue, stuck…) or of something else Trailkeeper
/// watches (a trail, an account × region): a finding while it holds, opened once, its words
/// kept current, its count not raised by holding on.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub kind: FindingKind,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub about: About,
    pub account_id: String,
    pub region: String,
    pub detail: Value,
}

/// What a condition holds of.
#[derive(Clone, Debug, PartialEq)]
pub enum About {
    Secret {
        arn: String,
        name: String,
    },
    /// A trail's ARN, an account × region (`111111111111/eu-west-1`): the finding's subject.
    Subject(String),
    /// An IAM user or role: the finding's subject and its principal.
    Principal(String),
}

impl About {
    /// How [`hold`] names it among the assessed.
    fn key(&self) -> &str {
        match self {
            About::Secret { arn, .. } => arn,
            About::Subject(subject) | About::Principal(subject) => subject,
        }
    }

    fn secret(&self) -> (Option<&str>, Option<&str>) {
        match self {
            About::Secret { arn, name } => (Some(arn), Some(name)),
            About::Subject(_) | About::Principal(_) => (None, None),
        }
    }

    fn subject(&self) -> Option<&str> {
        match self {
            About::Secret { .. } => None,
            About::Subject(subject) | About::Principal(subject) => Some(subject),
        }
    }

    fn principal(&self) -> Option<&str> {
        match self {
            About::Principal(principal) => Some(principal),
            About::Secret { .. } | About::Subject(_) => None,
        }
    }
}

/// Holds `conditions` at `now` for what `assessed` names (secrets' ARNs, subjects): each
/// opens (or keeps) its finding; an active finding of `kinds` about something assessed whose
/// condition no longer holds is resolved.
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
        let (secret_arn, secret_name) = condition.about.secret();
        let created: bool = sqlx::query_scalar(
            "INSERT INTO findings AS f (kind, severity, title, explanation, secret_arn, \
                 secret_name, account_id, region, first_seen, last_seen, count, detail, \
                 subject, principal, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1, $10, $11, $12, \
                 CASE WHEN suppressed($1, $12, $5, $6) THEN 'suppressed' ELSE 'open' END) \
             ON CONFLICT (kind, COALESCE(principal, ''), COALESCE(secret_arn, ''), COALESCE(subject, '')) \
                 WHERE status <> 'resolved' \
             DO UPDATE SET severity = EXCLUDED.severity, title = EXCLUDED.title, \
                 explanation = EXCLUDED.explanation, detail = EXCLUDED.detail, \
                 last_seen = EXCLUDED.last_seen, updated_at = now() \
             RETURNING (xmax = 0)",
        )
        .bind(condition.kind.as_str())
        .bind(condition.severity.as_str())
        .bind(&condition.title)
        .bind(&condition.explanation)
        .bind(secret_arn)
        .bind(secret_name)
        .bind(&condition.account_id)
        .bind(&condition.region)
        .bind(now)
        .bind(&condition.detail)
        .bind(condition.about.subject())
        .bind(condition.about.principal())
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
        .map(|condition| format!("{}\u{1f}{}", condition.kind.as_str(), condition.about.key()))
        .collect();
    let resolved = sqlx::query_as!(
        Resolved,
        "UPDATE findings SET status = 'resolved', updated_at = now() \
         WHERE kind = ANY($1) AND COALESCE(secret_arn, subject) = ANY($2) \
           AND status <> 'resolved' \
           AND NOT (kind || chr(31) || COALESCE(secret_arn, subject) = ANY($3)) \
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
