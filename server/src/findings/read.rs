//! Reading findings: the queue (a [`FindingQuery`] as SQL, most recent activity first, with a
//! keyset cursor and counts per severity), one finding in full, and active findings per
//! secret for the inventory's badges.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use trailkeeper_app::api::findings::{
    Finding, FindingDetail, FindingKind, FindingPage, FindingQuery, FindingSecret, FindingStatus,
    Severity, StatusFilter, TriageEntry,
};
use trailkeeper_app::api::query::DEFAULT_LIMIT;

use trailkeeper_app::api::overview::FindingsOverview;

use crate::db::ReadError;
use crate::db::{Cursor, FOREIGN_CURSOR, escape_like};
use crate::events::read as events;
use crate::findings::incident_words;

/// A finding's columns, with its secrets (those the reader may see) as JSON.
const COLUMNS: &str = "id, kind, severity, title, explanation, secret_arn, secret_name, \
    principal, account_id, first_seen, last_seen, count, evidence_event_ids, status, \
    (SELECT COALESCE(jsonb_agg(jsonb_build_object('arn', s.secret_arn, 'name', s.secret_name, \
         'first_seen', s.first_seen, 'last_seen', s.last_seen, 'count', s.count, \
         'title', s.title, 'explanation', s.explanation) ORDER BY s.first_seen, s.secret_arn), \
         '[]') FROM finding_secrets s WHERE s.finding_id = findings.id) AS secrets";

/// One of a finding's secrets as stored, with the detector's words about it.
#[derive(serde::Deserialize)]
struct Member {
    arn: String,
    name: Option<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: i64,
    title: String,
    explanation: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    severity: String,
    title: String,
    explanation: String,
    secret_arn: Option<String>,
    secret_name: Option<String>,
    principal: Option<String>,
    account_id: Option<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: i64,
    evidence_event_ids: Vec<String>,
    status: String,
    secrets: sqlx::types::Json<Vec<Member>>,
}

impl Member {
    fn secret(&self) -> FindingSecret {
        FindingSecret {
            arn: self.arn.clone(),
            name: self.name.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            count: self.count,
        }
    }
}

impl Row {
    /// The finding, unless a newer version wrote a kind this one does not know.
    fn finding(self) -> Option<Finding> {
        let Some(kind) = FindingKind::parse(&self.kind) else {
            tracing::warn!(id = self.id, kind = %self.kind, "a finding of an unknown kind is left out");
            return None;
        };
        let mut row = self;
        let members = std::mem::take(&mut row.secrets.0);
        let secrets: Vec<FindingSecret> = members.iter().map(Member::secret).collect();
        // A reader who may see only some of an incident's secrets sees it about those.
        match members.as_slice() {
            [] => {}
            [only] if row.secret_arn.as_deref() == Some(only.arn.as_str()) => {}
            [only] => {
                row.title = only.title.clone();
                row.explanation = only.explanation.clone();
                row.secret_arn = Some(only.arn.clone());
                row.secret_name = only.name.clone();
                row.first_seen = only.first_seen;
                row.last_seen = only.last_seen;
                row.count = only.count;
            }
            [first, ..] => {
                (row.title, row.explanation) =
                    incident_words(kind, row.principal.as_deref(), &secrets, &first.explanation);
                row.secret_arn = Some(first.arn.clone());
                row.secret_name = first.name.clone();
                row.count = members.iter().map(|member| member.count).sum();
                row.first_seen = secrets.iter().map(|secret| secret.first_seen).min()?;
                row.last_seen = secrets.iter().map(|secret| secret.last_seen).max()?;
            }
        }
        Some(Finding {
            id: row.id,
            kind,
            // The CHECK constraints hold these to the names these parse.
            severity: Severity::parse(&row.severity).unwrap_or(Severity::Medium),
            title: row.title,
            explanation: row.explanation,
            secret_arn: row.secret_arn,
            secret_name: row.secret_name,
            principal: row.principal,
            account_id: row.account_id,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            count: row.count,
            evidence_event_ids: row.evidence_event_ids,
            status: FindingStatus::parse(&row.status).unwrap_or(FindingStatus::Open),
            secrets,
        })
    }
}

/// The query's filters, all but severity (the counts are per severity).
fn push_filters(sql: &mut QueryBuilder<'_, Postgres>, query: &FindingQuery) {
    match query.status {
        StatusFilter::Active => {
            sql.push(" AND status IN ('open', 'acknowledged')");
        }
        StatusFilter::All => {}
        StatusFilter::Only(status) => {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
    }
    if !query.kinds.is_empty() {
        let kinds: Vec<&str> = query.kinds.iter().map(|kind| kind.as_str()).collect();
        sql.push(" AND kind = ANY(").push_bind(kinds).push(")");
    }
    if let Some(secret) = &query.secret {
        sql.push(" AND id IN (SELECT finding_id FROM finding_secrets WHERE secret_arn = ")
            .push_bind(secret.clone())
            .push(" OR secret_name ILIKE '%' || ")
            .push_bind(escape_like(secret))
            .push(" || '%')");
    }
    if let Some(principal) = &query.principal {
        sql.push(" AND principal ILIKE '%' || ")
            .push_bind(escape_like(principal))
            .push(" || '%'");
    }
    if let Some(account) = &query.account {
        sql.push(" AND account_id = ").push_bind(account.clone());
    }
    if let Some(since) = query.since {
        sql.push(" AND last_seen >= ").push_bind(since);
    }
    if let Some(until) = query.until {
        sql.push(" AND first_seen < ").push_bind(until);
    }
}

/// One page of the query's findings, most recent activity first.
pub async fn list(db: &mut PgConnection, query: &FindingQuery) -> Result<FindingPage, ReadError> {
    let limit = i64::from(query.limit.unwrap_or(DEFAULT_LIMIT));
    let mut sql = QueryBuilder::new(format!("SELECT {COLUMNS} FROM findings WHERE true"));
    push_filters(&mut sql, query);
    if !query.severities.is_empty() {
        let severities: Vec<&str> = query.severities.iter().map(|s| s.as_str()).collect();
        sql.push(" AND severity = ANY(")
            .push_bind(severities)
            .push(")");
    }
    if let Some(cursor) = &query.cursor {
        let cursor =
            Cursor::<i64>::decode(cursor).ok_or(ReadError::InvalidCursor(FOREIGN_CURSOR))?;
        sql.push(" AND (last_seen, id) < (")
            .push_bind(cursor.time)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    sql.push(" ORDER BY last_seen DESC, id DESC LIMIT ")
        .push_bind(limit + 1);
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(&mut *db).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|row| {
            Cursor {
                time: row.last_seen,
                id: row.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(FindingPage {
        items: rows.into_iter().filter_map(Row::finding).collect(),
        next,
    })
}

/// How many of the query's findings there are of each severity, most severe first.
pub async fn counts(
    db: &mut PgConnection,
    query: &FindingQuery,
) -> Result<Vec<(Severity, i64)>, sqlx::Error> {
    let mut sql = QueryBuilder::new("SELECT severity, count(*) FROM findings WHERE true");
    push_filters(&mut sql, query);
    sql.push(" GROUP BY severity");
    let rows: Vec<(String, i64)> = sql.build_query_as().fetch_all(&mut *db).await?;
    let mut counts: Vec<(Severity, i64)> = rows
        .into_iter()
        .filter_map(|(severity, count)| Some((Severity::parse(&severity)?, count)))
        .collect();
    counts.sort_by_key(|(severity, _)| std::cmp::Reverse(*severity));
    Ok(counts)
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    row: Row,
    region: Option<String>,
    assignee: Option<String>,
    detail: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// One finding with its evidence events, the principal's activity around it, and its
/// history.
/// Whether a finding with this id exists for this reader.
pub async fn exists(db: &mut PgConnection, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM findings WHERE id = $1) AS "exists!""#,
        id
    )
    .fetch_one(db)
    .await
}

pub async fn get(db: &mut PgConnection, id: i64) -> Result<Option<FindingDetail>, sqlx::Error> {
    let Some(found): Option<DetailRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, region, assignee, detail, created_at, updated_at \
         FROM findings WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *db)
    .await?
    else {
        return Ok(None);
    };
    let Some(finding) = found.row.finding() else {
        return Ok(None);
    };
    let evidence = events::summaries(&mut *db, &finding.evidence_event_ids).await?;
    let activity = match &finding.principal {
        Some(principal) => {
            events::hourly(
                &mut *db,
                principal,
                finding.first_seen - Duration::days(1),
                finding.last_seen + Duration::days(1),
            )
            .await?
        }
        None => Vec::new(),
    };
    let history = sqlx::query_as!(
        TriageEntry,
        "SELECT occurred_at AS at, actor, action, summary FROM audit_log \
         WHERE detail ? 'finding_id' AND (detail ->> 'finding_id')::bigint = $1 ORDER BY id",
        id
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(Some(FindingDetail {
        finding,
        region: found.region,
        assignee: found.assignee,
        detail: found.detail,
        created_at: found.created_at,
        updated_at: found.updated_at,
        evidence,
        activity,
        history,
    }))
}

/// The findings with these ids, as a reader of the queue sees them.
pub async fn by_ids(db: &mut PgConnection, ids: &[i64]) -> Result<Vec<Finding>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM findings WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows.into_iter().filter_map(Row::finding).collect())
}

/// How many findings to show first on the Overview.
const OVERVIEW_TOP: i64 = 5;

/// Active findings by severity, and the most pressing of them.
pub async fn overview(db: &mut PgConnection) -> Result<FindingsOverview, sqlx::Error> {
    let by_severity = counts(&mut *db, &FindingQuery::default()).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM findings WHERE status IN ('open', 'acknowledged') \
         ORDER BY severity_rank(severity) DESC, last_seen DESC, id DESC LIMIT $1"
    ))
    .bind(OVERVIEW_TOP)
    .fetch_all(&mut *db)
    .await?;
    Ok(FindingsOverview {
        by_severity,
        top: rows.into_iter().filter_map(Row::finding).collect(),
    })
}

/// Active findings per secret: how many, and the most severe.
pub async fn active_by_secret(
    db: &mut PgConnection,
    arns: &[String],
) -> Result<Vec<(String, i64, Severity)>, sqlx::Error> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT s.secret_arn, count(*), \
             (array_agg(f.severity ORDER BY severity_rank(f.severity) DESC))[1] \
         FROM finding_secrets s JOIN findings f ON f.id = s.finding_id \
         WHERE s.secret_arn = ANY($1) AND f.status IN ('open', 'acknowledged') \
         GROUP BY s.secret_arn",
    )
    .bind(arns)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(arn, active, severity)| Some((arn, active, Severity::parse(&severity)?)))
        .collect())
}
