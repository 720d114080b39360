//! Store: verdicts become findings in the transaction that stored their events. A finding
//! merges into the active one with the same kind × principal × secret, or into the incident
//! it belongs to (`finding_secrets`, migration 0032, lists each secret); a rule in force
//! (`suppressed()`, migration 0013) files it as suppressed.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use trailkeeper_app::api::findings::{FindingKind, Severity};

use super::{Draft, EVIDENCE_CAP, Incident, Verdict, assign};
use crate::audit::{Action, Entry, SYSTEM_ACTOR};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub opened: u64,
    pub updated: u64,
    pub resolved: u64,
}

/// Records `verdicts` (in event order): each finding adds to the active one it belongs to
/// ([`assign`]: same kind × principal × secret, or the same incident within `window`) or
/// opens one; a resolution first writes the findings before it.
pub async fn record(
    db: &mut PgConnection,
    verdicts: Vec<Verdict>,
    window: Duration,
) -> Result<Recorded, sqlx::Error> {
    let mut recorded = Recorded::default();
    let mut drafts: Vec<Draft> = Vec::new();
    for verdict in verdicts {
        match verdict {
            Verdict::Finding(draft) => drafts.push(draft),
            Verdict::Resolve {
                kind,
                principal,
                secret_arn,
                at,
                reason,
            } => {
                upsert(db, std::mem::take(&mut drafts), window, &mut recorded).await?;
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
    upsert(db, drafts, window, &mut recorded).await?;
    Ok(recorded)
}

/// The window for findings of kinds that group into no incidents (an approval waiting).
pub const ALONE: Duration = Duration::zero();

#[derive(sqlx::FromRow)]
struct ActiveRow {
    id: i64,
    kind: String,
    principal: Option<String>,
    secrets: Vec<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// The active findings of the drafts' kinds and principals, with their secrets.
async fn active(db: &mut PgConnection, drafts: &[Draft]) -> Result<Vec<Incident>, sqlx::Error> {
    let (kinds, principals): (Vec<&str>, Vec<&str>) = drafts
        .iter()
        .map(|draft| {
            (
                draft.kind.as_str(),
                draft.principal.as_deref().unwrap_or(""),
            )
        })
        .unzip();
    let rows: Vec<ActiveRow> = sqlx::query_as(
        "SELECT f.id, f.kind, f.principal, f.first_seen, f.last_seen, \
             ARRAY(SELECT s.secret_arn FROM finding_secrets s WHERE s.finding_id = f.id \
                   ORDER BY s.first_seen, s.secret_arn) AS secrets \
         FROM findings f \
         WHERE f.status <> 'resolved' AND f.subject IS NULL \
           AND (f.kind, COALESCE(f.principal, '')) IN \
               (SELECT * FROM unnest($1::text[], $2::text[]))",
    )
    .bind(kinds)
    .bind(principals)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(Incident {
                id: Some(row.id),
                kind: FindingKind::parse(&row.kind)?,
                principal: row.principal,
                secrets: row.secrets,
                first_seen: row.first_seen,
                last_seen: row.last_seen,
                drafts: Vec::new(),
            })
        })
        .collect())
}

/// Adds each draft to the active finding it belongs to, or opens one, counting the findings
/// opened and added to; what an active finding already holds (a backfill replaying what
/// live detection recorded) is neither.
async fn upsert(
    db: &mut PgConnection,
    drafts: Vec<Draft>,
    window: Duration,
    recorded: &mut Recorded,
) -> Result<(), sqlx::Error> {
    if drafts.is_empty() {
        return Ok(());
    }
    let mut incidents = active(db, &drafts).await?;
    assign(&mut incidents, drafts, window);
    let mut members: Vec<Value> = Vec::new();
    for incident in &incidents {
        let Some(added) = incident.added() else {
            continue;
        };
        let Some((id, opened)) = write(db, incident.id, &added).await? else {
            continue;
        };
        if opened {
            recorded.opened += 1;
        } else {
            recorded.updated += 1;
        }
        members.extend(incident.added_per_secret().into_iter().map(|draft| {
            json!({
                "finding_id": id,
                "secret_arn": draft.secret_arn,
                "secret_name": draft.secret_name,
                "first_seen": draft.first_seen,
                "last_seen": draft.last_seen,
                "count": draft.count,
                "title": draft.title,
                "explanation": draft.explanation,
            })
        }));
    }
    if !members.is_empty() {
        sqlx::query(
            "INSERT INTO finding_secrets AS s (finding_id, secret_arn, secret_name, first_seen, \
                 last_seen, count, title, explanation) \
             SELECT * FROM jsonb_to_recordset($1) AS m (finding_id bigint, secret_arn text, \
                 secret_name text, first_seen timestamptz, last_seen timestamptz, count bigint, \
                 title text, explanation text) \
             ON CONFLICT (finding_id, secret_arn) DO UPDATE SET \
                 secret_name = COALESCE(EXCLUDED.secret_name, s.secret_name), \
                 first_seen = LEAST(s.first_seen, EXCLUDED.first_seen), \
                 last_seen = GREATEST(s.last_seen, EXCLUDED.last_seen), \
                 count = s.count + EXCLUDED.count, \
                 title = EXCLUDED.title, explanation = EXCLUDED.explanation",
        )
        .bind(Value::Array(members))
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// Adds `draft` to the active finding `target`, or opens it as a finding — or, should one
/// with its key have become active meanwhile, adds to that. The finding's id, and whether
/// it opened; `None` when there was nothing new.
async fn write(
    db: &mut PgConnection,
    target: Option<i64>,
    draft: &Draft,
) -> Result<Option<(i64, bool)>, sqlx::Error> {
    let new_evidence = "(EXCLUDED.last_seen > f.last_seen \
         OR NOT (EXCLUDED.evidence_event_ids <@ f.evidence_event_ids))";
    let sql = match target {
        None => format!(
            "INSERT INTO findings AS f (kind, severity, title, explanation, secret_arn, \
                 secret_name, principal, account_id, region, first_seen, last_seen, count, \
                 evidence_event_ids, detail, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                 CASE WHEN suppressed($1, $7, $5, $6) THEN 'suppressed' ELSE 'open' END) \
             ON CONFLICT (kind, COALESCE(principal, ''), COALESCE(secret_arn, ''), COALESCE(subject, '')) \
                 WHERE status <> 'resolved' \
             DO UPDATE SET {adds} WHERE {new_evidence} \
             RETURNING id, (xmax = 0)",
            adds = adds()
        ),
        Some(_) => format!(
            "UPDATE findings AS f SET {adds} \
             FROM (SELECT $1 AS kind, $2 AS severity, $3 AS title, $4 AS explanation, \
                       $5 AS secret_arn, $6 AS secret_name, $7 AS principal, \
                       $8 AS account_id, $9 AS region, \
                       $10::timestamptz AS first_seen, $11::timestamptz AS last_seen, \
                       $12::bigint AS count, $13::text[] AS evidence_event_ids, \
                       $14::jsonb AS detail) AS EXCLUDED \
             WHERE f.id = $15 AND {new_evidence} \
             RETURNING f.id, false",
            adds = adds()
        ),
    };
    let query = sqlx::query_as(&sql)
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
        .bind(&draft.detail);
    match target {
        Some(id) => query.bind(id),
        None => query,
    }
    .fetch_optional(&mut *db)
    .await
}

/// How new evidence (`EXCLUDED`) adds to an active finding (`f`): the highest severity, the
/// latest words, both ends of its time, its events; a suppressed finding opens when the
/// rules no longer cover what was added.
fn adds() -> String {
    format!(
        "severity = CASE WHEN severity_rank(EXCLUDED.severity) > severity_rank(f.severity) \
         THEN EXCLUDED.severity ELSE f.severity END, \
     title = EXCLUDED.title, explanation = EXCLUDED.explanation, detail = EXCLUDED.detail, \
     status = CASE WHEN f.status = 'suppressed' AND NOT suppressed(EXCLUDED.kind, \
             EXCLUDED.principal, EXCLUDED.secret_arn, EXCLUDED.secret_name) \
         THEN 'open' ELSE f.status END, \
     first_seen = LEAST(f.first_seen, EXCLUDED.first_seen), \
     last_seen = GREATEST(f.last_seen, EXCLUDED.last_seen), \
     count = f.count + EXCLUDED.count, \
     evidence_event_ids = (f.evidence_event_ids || EXCLUDED.evidence_event_ids)[1:{EVIDENCE_CAP}], \
     updated_at = now()"
    )
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
            "WITH written AS ( \
                 INSERT INTO findings AS f (kind, severity, title, explanation, secret_arn, \
                     secret_name, account_id, region, first_seen, last_seen, count, detail, \
                     subject, principal, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1, $10, $11, $12, \
                     CASE WHEN suppressed($1, $12, $5, $6) THEN 'suppressed' ELSE 'open' END) \
                 ON CONFLICT (kind, COALESCE(principal, ''), COALESCE(secret_arn, ''), COALESCE(subject, '')) \
                     WHERE status <> 'resolved' \
                 DO UPDATE SET severity = EXCLUDED.severity, title = EXCLUDED.title, \
                     explanation = EXCLUDED.explanation, detail = EXCLUDED.detail, \
                     last_seen = EXCLUDED.last_seen, updated_at = now() \
                 RETURNING id, (xmax = 0) AS created), \
             about AS ( \
                 INSERT INTO finding_secrets AS s (finding_id, secret_arn, secret_name, \
                     first_seen, last_seen, count, title, explanation) \
                 SELECT id, $5, $6, $9, $9, 1, $3, $4 FROM written WHERE $5::text IS NOT NULL \
                 ON CONFLICT (finding_id, secret_arn) DO UPDATE SET \
                     title = EXCLUDED.title, explanation = EXCLUDED.explanation, \
                     last_seen = EXCLUDED.last_seen) \
             SELECT created FROM written",
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
