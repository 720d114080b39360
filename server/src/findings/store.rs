//! Store: verdicts become findings in the transaction that stored their events. A finding
//! merges into the active one with the same kind × principal × secret, or into the incident
//! it belongs to (`finding_secrets`, migration 0032, lists each secret); a rule in force
//! (`suppressed()`, migration 0013) files it as suppressed.

use std::collections::{HashMap, HashSet};

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
    let written = write(db, &incidents).await?;
    let mut members: Vec<Value> = Vec::new();
    for (incident, written) in incidents.iter().zip(written) {
        let Some((id, opened)) = written else {
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

/// Adds what each incident adds to its active finding, or opens it as a finding — or,
/// should one with its key have become active meanwhile, adds to that: a statement for all
/// the updates and one for all the openings (whatever their number: a backfill's first days
/// open thousands a batch). Per incident, in order: its finding's id and whether it opened;
/// `None` when there was nothing new.
async fn write(
    db: &mut PgConnection,
    incidents: &[Incident],
) -> Result<Vec<Option<(i64, bool)>>, sqlx::Error> {
    let mut written = vec![None; incidents.len()];
    let added: Vec<(usize, Option<i64>, Draft)> = incidents
        .iter()
        .enumerate()
        .filter_map(|(at, incident)| Some((at, incident.id, incident.added()?)))
        .collect();
    let new_evidence = "(EXCLUDED.last_seen > f.last_seen \
         OR NOT (EXCLUDED.evidence_event_ids <@ f.evidence_event_ids))";
    let columns = "kind text, severity text, title text, explanation text, secret_arn text, \
         secret_name text, principal text, account_id text, region text, \
         first_seen timestamptz, last_seen timestamptz, count bigint, \
         evidence_event_ids text[], detail jsonb, target bigint, at bigint";

    let updates: Vec<Value> = added
        .iter()
        .filter_map(|(at, target, draft)| Some(row(*at, Some((*target)?), draft)))
        .collect();
    if !updates.is_empty() {
        let updated: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "UPDATE findings AS f SET {adds} \
             FROM jsonb_to_recordset($1) AS EXCLUDED ({columns}) \
             WHERE f.id = EXCLUDED.target AND {new_evidence} \
             RETURNING EXCLUDED.at, f.id",
            adds = adds()
        ))
        .bind(Value::Array(updates))
        .fetch_all(&mut *db)
        .await?;
        for (at, id) in updated {
            written[at as usize] = Some((id, false));
        }
    }

    // A statement may not add to one row twice: incidents with the same key (a principal's
    // two incidents of a kind in one batch, their first secret the same) go in turns, the
    // later adding to what the earlier opened.
    let mut openings: Vec<&(usize, Option<i64>, Draft)> = added
        .iter()
        .filter(|(_, target, _)| target.is_none())
        .collect();
    while !openings.is_empty() {
        let mut keys = HashSet::new();
        let (turn, later): (Vec<_>, Vec<_>) = openings
            .into_iter()
            .partition(|(_, _, draft)| keys.insert(key(draft)));
        openings = later;
        let rows: Vec<Value> = turn
            .iter()
            .map(|(at, _, draft)| row(*at, None, draft))
            .collect();
        let opened: Vec<(i64, bool, String, String, String)> = sqlx::query_as(&format!(
            "INSERT INTO findings AS f (kind, severity, title, explanation, secret_arn, \
                 secret_name, principal, account_id, region, first_seen, last_seen, count, \
                 evidence_event_ids, detail, status) \
             SELECT kind, severity, title, explanation, secret_arn, secret_name, principal, \
                 account_id, region, first_seen, last_seen, count, evidence_event_ids, detail, \
                 CASE WHEN suppressed(kind, principal, secret_arn, secret_name) \
                     THEN 'suppressed' ELSE 'open' END \
             FROM jsonb_to_recordset($1) AS d ({columns}) ORDER BY at \
             ON CONFLICT (kind, COALESCE(principal, ''), COALESCE(secret_arn, ''), COALESCE(subject, '')) \
                 WHERE status <> 'resolved' \
             DO UPDATE SET {adds} WHERE {new_evidence} \
             RETURNING id, (xmax = 0), kind, COALESCE(principal, ''), COALESCE(secret_arn, '')",
            adds = adds()
        ))
        .bind(Value::Array(rows))
        .fetch_all(&mut *db)
        .await?;
        let places: HashMap<(&str, &str, &str), usize> = turn
            .iter()
            .map(|(at, _, draft)| (key(draft), *at))
            .collect();
        for (id, new, kind, principal, secret) in opened {
            if let Some(at) = places.get(&(kind.as_str(), principal.as_str(), secret.as_str())) {
                written[*at] = Some((id, new));
            }
        }
    }
    Ok(written)
}

/// An active finding's key, as the findings table's unique index reads it.
fn key(draft: &Draft) -> (&str, &str, &str) {
    (
        draft.kind.as_str(),
        draft.principal.as_deref().unwrap_or(""),
        draft.secret_arn.as_deref().unwrap_or(""),
    )
}

/// A draft as a row of `write`'s statements: `at`, the incident's place; `target`, the
/// active finding it adds to.
fn row(at: usize, target: Option<i64>, draft: &Draft) -> Value {
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
        "target": target,
        "at": at,
    })
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
