//! Reading stored events for the explorer, the API and exports: the filters of an
//! [`EventQuery`] as SQL, newest first with a keyset cursor, the histogram, one event.
//!
//! Which index serves which query (`EXPLAIN` on a million events, see `make bench`):
//! - no filter, or filters without an index of their own: `events_newest` (event_time DESC),
//!   read backwards from the cursor until a page is full;
//! - `secret=`: the secret's ARNs are looked up first, then `events_by_secret` (secret_arn,
//!   event_time DESC) OR-ed with `events_unresolved` for records that named it without
//!   resolving: a bitmap of the secret's events in the range, the page sorted from those;
//! - `principal=ARN`: `events_by_principal` (principal, event_time DESC), likewise.
//!
//! Monthly partitions are pruned by the time range.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use trailkeeper_app::api::admin::TrailkeeperChange;
use trailkeeper_app::api::events::{
    AccessKind, AccessReport, Bucket, ErrorFilter, EventQuery, EventRecord, EventSummary,
    Histogram, PrincipalAccess, TimeRange,
};
use trailkeeper_app::api::overview::{EventsOverview, SourcePoll, StreamCheckpoint};
use trailkeeper_app::api::query::DEFAULT_LIMIT;

use crate::db::ReadError;
use crate::db::escape_like;

/// The columns of [`EventRow`], as the select list.
pub const EVENT_COLUMNS: &str = "event_id, event_time, event_name, event_type, region, \
    account_id, secret_ref, secret_arn, principal, session_name, principal_account, \
    principal_type, host(source_ip) AS source_ip, source_service, user_agent, \
    user_agent_family, error_code, error_message, read_only, ingested_from";

#[derive(sqlx::FromRow)]
pub struct EventRow {
    event_id: String,
    event_time: DateTime<Utc>,
    event_name: String,
    event_type: Option<String>,
    region: Option<String>,
    account_id: Option<String>,
    secret_ref: Option<String>,
    secret_arn: Option<String>,
    principal: Option<String>,
    session_name: Option<String>,
    principal_account: Option<String>,
    principal_type: Option<String>,
    source_ip: Option<String>,
    source_service: Option<String>,
    user_agent: Option<String>,
    user_agent_family: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    read_only: Option<bool>,
    ingested_from: String,
}

impl From<EventRow> for EventSummary {
    fn from(row: EventRow) -> Self {
        EventSummary {
            event_id: row.event_id,
            event_time: row.event_time,
            event_name: row.event_name,
            event_type: row.event_type,
            region: row.region,
            account_id: row.account_id,
            secret_ref: row.secret_ref,
            secret_arn: row.secret_arn,
            principal: row.principal,
            session_name: row.session_name,
            principal_account: row.principal_account,
            principal_type: row.principal_type,
            source_ip: row.source_ip,
            source_service: row.source_service,
            user_agent: row.user_agent,
            user_agent_family: row.user_agent_family,
            error_code: row.error_code,
            error_message: row.error_message,
            read_only: row.read_only,
            ingested_from: row.ingested_from,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct RecordRow {
    #[sqlx(flatten)]
    event: EventRow,
    raw: Value,
}

impl From<RecordRow> for EventRecord {
    fn from(row: RecordRow) -> Self {
        EventRecord {
            event: row.event.into(),
            raw: row.raw,
            through_trailkeeper: None,
        }
    }
}

/// Where a page ended: the last event's time and id.
type Cursor = crate::db::Cursor<String>;

fn decode_cursor(text: &str) -> Result<Cursor, ReadError> {
    Cursor::decode(text).ok_or(ReadError::InvalidCursor(crate::db::FOREIGN_CURSOR))
}

/// The ARNs for the query's secret filter (an ARN, or a name that finds each secret of that
/// name, in the inventory or learned from events), looked up before the events are: with the ARNs themselves in the
/// query, PostgreSQL plans the secret index rather than reading every event in the range.
pub async fn secret_arns(
    db: &mut PgConnection,
    query: &EventQuery,
) -> Result<Vec<String>, sqlx::Error> {
    match &query.secret {
        Some(secret) => {
            sqlx::query_scalar!(
                "SELECT arn AS \"arn!\" FROM secrets WHERE arn = $1 OR name = $1 \
                 UNION SELECT arn FROM event_secret_arns WHERE arn = $1 OR name = $1",
                secret
            )
            .fetch_all(&mut *db)
            .await
        }
        None => Ok(Vec::new()),
    }
}

/// Which of a secret filter's events a statement reads: those whose reference resolved to
/// one of the secret's ARNs, those stored before it did (named as the record named it), or
/// both. Apart, the resolved ones can be counted from the `(secret_arn, event_time)` index
/// alone, without reading each event's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretMatch {
    Either,
    Resolved,
    Unresolved,
}

/// The query's filters as a `WHERE` clause, its range resolved at `now` and its secret
/// filter standing for `secret_arns` (from [`secret_arns`]), matched as `matching` says. Run
/// the result unprepared (`persistent(false)`), so each is planned for its own values.
pub fn push_filters(
    sql: &mut QueryBuilder<'_, Postgres>,
    query: &EventQuery,
    now: DateTime<Utc>,
    secret_arns: &[String],
    matching: SecretMatch,
) {
    sql.push(" WHERE true");
    let (since, until) = query.bounds(now);
    if let Some(since) = since {
        sql.push(" AND event_time >= ").push_bind(since);
    }
    if let Some(until) = until {
        sql.push(" AND event_time < ").push_bind(until);
    }
    if let Some(secret) = &query.secret {
        // By the inventory's ARN, or as the record named it when it did not resolve.
        let resolved = |sql: &mut QueryBuilder<'_, Postgres>| {
            sql.push("secret_arn = ANY(")
                .push_bind(secret_arns.to_vec())
                .push(")");
        };
        let unresolved = |sql: &mut QueryBuilder<'_, Postgres>| {
            sql.push("(secret_arn IS NULL AND secret_ref = ")
                .push_bind(secret.clone())
                .push(")");
        };
        sql.push(" AND ");
        match matching {
            SecretMatch::Either => {
                sql.push("(");
                resolved(sql);
                sql.push(" OR ");
                unresolved(sql);
                sql.push(")");
            }
            SecretMatch::Resolved => resolved(sql),
            SecretMatch::Unresolved => unresolved(sql),
        }
    }
    if let Some(principal) = &query.principal {
        if principal.starts_with("arn:") {
            sql.push(" AND principal = ").push_bind(principal.clone());
        } else {
            sql.push(" AND (principal ILIKE ")
                .push_bind(format!("%{}%", escape_like(principal)))
                .push(" OR session_name = ")
                .push_bind(principal.clone())
                .push(")");
        }
    }
    if let Some(name) = &query.event_name {
        sql.push(" AND event_name = ").push_bind(name.clone());
    }
    if let Some(block) = &query.source_ip {
        sql.push(" AND source_ip <<= ")
            .push_bind(block.clone())
            .push("::inet");
    }
    match &query.error {
        Some(ErrorFilter::Any) => {
            sql.push(" AND error_code IS NOT NULL");
        }
        Some(ErrorFilter::None) => {
            sql.push(" AND error_code IS NULL");
        }
        Some(ErrorFilter::Code(code)) => {
            sql.push(" AND error_code = ").push_bind(code.clone());
        }
        None => {}
    }
    match query.access {
        Some(AccessKind::Read) => {
            sql.push(" AND read_only");
        }
        Some(AccessKind::Write) => {
            sql.push(" AND NOT read_only");
        }
        None => {}
    }
    if let Some(agent) = &query.user_agent {
        sql.push(" AND user_agent ILIKE ")
            .push_bind(format!("%{}%", escape_like(agent)));
    }
    if let Some(account) = &query.account {
        sql.push(" AND account_id = ").push_bind(account.clone());
    }
    if let Some(region) = &query.region {
        sql.push(" AND region = ").push_bind(region.clone());
    }
    if let Some(id) = &query.event_id {
        sql.push(" AND event_id = ").push_bind(id.clone());
    }
}

/// One page of events matching `query`, newest first, each with its record.
pub async fn list(
    db: &mut PgConnection,
    query: &EventQuery,
    now: DateTime<Utc>,
) -> Result<(Vec<EventRecord>, Option<String>), ReadError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    let secrets = secret_arns(&mut *db, query).await?;
    let mut sql = list_sql("", query, now, limit, &secrets)?;
    let mut rows: Vec<RecordRow> = sql
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *db)
        .await?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| {
            Cursor {
                time: last.event.event_time,
                id: last.event.event_id.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok((rows.into_iter().map(EventRecord::from).collect(), next))
}

/// The plan PostgreSQL chooses for a page of `query`, one line per node: which index
/// serves which filter, as `make bench` shows at a million events.
pub async fn explain_list(
    db: &mut PgConnection,
    query: &EventQuery,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ReadError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    let secrets = secret_arns(&mut *db, query).await?;
    let mut sql = list_sql("EXPLAIN (COSTS OFF) ", query, now, limit, &secrets)?;
    Ok(sql
        .build_query_scalar()
        .persistent(false)
        .fetch_all(&mut *db)
        .await?)
}

/// A page of `query`, one more row than `limit` to tell whether another page follows.
fn list_sql<'a>(
    prefix: &str,
    query: &'a EventQuery,
    now: DateTime<Utc>,
    limit: usize,
    secret_arns: &[String],
) -> Result<QueryBuilder<'a, Postgres>, ReadError> {
    let mut sql = QueryBuilder::new(format!("{prefix}SELECT {EVENT_COLUMNS}, raw FROM events"));
    push_filters(&mut sql, query, now, secret_arns, SecretMatch::Either);
    if let Some(cursor) = &query.cursor {
        let cursor = decode_cursor(cursor)?;
        sql.push(" AND (event_time, event_id) < (")
            .push_bind(cursor.time)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    sql.push(" ORDER BY event_time DESC, event_id DESC LIMIT ")
        .push_bind(limit as i64 + 1);
    Ok(sql)
}

/// Matching events per hour (for a span up to eight days) or per day.
pub async fn histogram(
    db: &mut PgConnection,
    query: &EventQuery,
    now: DateTime<Utc>,
) -> Result<Option<Histogram>, sqlx::Error> {
    let (since, until) = query.bounds(now);
    let bucket = match since {
        Some(since) if until.unwrap_or(now) - since <= chrono::Duration::days(8) => Bucket::Hour,
        _ => Bucket::Day,
    };
    let secrets = secret_arns(&mut *db, query).await?;
    let query = query.first_page();
    let count = format!(
        "SELECT date_trunc('{bucket}', event_time, 'UTC') AS bucket, count(*) AS n FROM events"
    );
    let mut sql = QueryBuilder::new("");
    if query.secret.is_some() {
        // A busy secret's year is a hundred thousand events: counted in two parts, the
        // resolved ones from the index alone.
        sql.push(format!("SELECT bucket, sum(n)::bigint FROM ({count}"));
        push_filters(&mut sql, &query, now, &secrets, SecretMatch::Resolved);
        sql.push(format!(" GROUP BY 1 UNION ALL {count}"));
        push_filters(&mut sql, &query, now, &secrets, SecretMatch::Unresolved);
        sql.push(" GROUP BY 1) parts");
    } else {
        sql.push(count);
        push_filters(&mut sql, &query, now, &secrets, SecretMatch::Either);
    }
    sql.push(" GROUP BY 1 ORDER BY 1");
    let bars: Vec<(DateTime<Utc>, i64)> = sql
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *db)
        .await?;
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Ok(None);
    };
    Ok(Some(Histogram {
        bucket,
        from: since.unwrap_or(first.0),
        to: until.unwrap_or(if since.is_some() {
            now
        } else {
            last.0 + bucket.step()
        }),
        bars,
    }))
}

/// Who used the secret `secret_arn` within the query's time range (its other filters are
/// not part of a report): per principal, counts, first and last use, sources, clients and
/// errors, the busiest first.
pub async fn access_report(
    db: &mut PgConnection,
    secret_arn: &str,
    query: &EventQuery,
    now: DateTime<Utc>,
) -> Result<AccessReport, sqlx::Error> {
    let (since, until) = query.bounds(now);
    struct Row {
        principal: String,
        principal_account: Option<String>,
        events: i64,
        reads: i64,
        writes: i64,
        errors: i64,
        first_at: DateTime<Utc>,
        last_at: DateTime<Utc>,
        sources: Vec<String>,
        user_agents: Vec<String>,
        error_codes: Vec<String>,
    }
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT COALESCE(principal, source_service, 'unknown') AS "principal!",
                max(principal_account) AS principal_account,
                count(*) AS "events!",
                count(*) FILTER (WHERE read_only) AS "reads!",
                count(*) FILTER (WHERE NOT read_only) AS "writes!",
                count(*) FILTER (WHERE error_code IS NOT NULL) AS "errors!",
                min(event_time) AS "first_at!", max(event_time) AS "last_at!",
                (COALESCE(array_agg(DISTINCT COALESCE(host(source_ip), source_service))
                    FILTER (WHERE source_ip IS NOT NULL OR source_service IS NOT NULL),
                    '{}'))[1:10] AS "sources!",
                (COALESCE(array_agg(DISTINCT user_agent_family)
                    FILTER (WHERE user_agent_family IS NOT NULL), '{}'))[1:10] AS "user_agents!",
                COALESCE(array_agg(DISTINCT error_code) FILTER (WHERE error_code IS NOT NULL),
                    '{}') AS "error_codes!"
         FROM events
         WHERE secret_arn = $1
           -- Bounds the index and the months can be narrowed by, whichever plan is used.
           AND event_time >= COALESCE($2::timestamptz, '-infinity')
           AND event_time < COALESCE($3::timestamptz, 'infinity')
         GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 500"#,
        secret_arn,
        since,
        until
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(AccessReport {
        secret_arn: secret_arn.to_string(),
        since,
        until,
        principals: rows
            .into_iter()
            .map(|row| PrincipalAccess {
                principal: row.principal,
                principal_account: row.principal_account,
                events: row.events,
                reads: row.reads,
                writes: row.writes,
                errors: row.errors,
                first_at: row.first_at,
                last_at: row.last_at,
                sources: row.sources,
                user_agents: row.user_agents,
                error_codes: row.error_codes,
            })
            .collect(),
    })
}

/// One event by its CloudTrail id.
pub async fn event(
    db: &mut PgConnection,
    event_id: &str,
) -> Result<Option<EventRecord>, sqlx::Error> {
    let row: Option<RecordRow> = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS}, raw FROM events WHERE event_id = $1 LIMIT 1"
    ))
    .bind(event_id)
    .fetch_optional(&mut *db)
    .await?;
    let Some(mut record) = row.map(EventRecord::from) else {
        return Ok(None);
    };
    let through = sqlx::query!(
        "SELECT audit_id, person, reason FROM trailkeeper_change_for_event($1, $2, $3, $4)",
        record.raw["requestID"].as_str(),
        record.event.secret_arn,
        record.event.event_name,
        record.event.event_time,
    )
    .fetch_optional(&mut *db)
    .await?;
    record.through_trailkeeper = through.and_then(|through| {
        TrailkeeperChange::from_parts(through.audit_id, through.person, through.reason)
    });
    Ok(Some(record))
}

/// The events with these CloudTrail ids that are stored, oldest first.
pub async fn summaries(
    db: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<EventSummary>, sqlx::Error> {
    let rows: Vec<EventRow> = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ANY($1) \
         ORDER BY event_time, event_id"
    ))
    .bind(ids)
    .fetch_all(&mut *db)
    .await?;
    Ok(rows.into_iter().map(EventSummary::from).collect())
}

/// A principal's events per hour from `from` to `to`, the hours with events only.
pub async fn hourly(
    db: &mut PgConnection,
    principal: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, i64)>, sqlx::Error> {
    let hours = sqlx::query!(
        r#"SELECT date_trunc('hour', event_time, 'UTC') AS "hour!", count(*) AS "events!"
           FROM events
           WHERE principal = $1 AND event_time >= $2 AND event_time < $3
           GROUP BY 1 ORDER BY 1"#,
        principal,
        from,
        to
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(hours
        .into_iter()
        .map(|row| (row.hour, row.events))
        .collect())
}

/// The Overview's CloudTrail figures: the last day's events, errors and busiest principals,
/// and each source's last poll and checkpoint.
pub async fn overview(db: &mut PgConnection) -> Result<EventsOverview, sqlx::Error> {
    let last_day = sqlx::query!(
        r#"SELECT count(*) AS "events!",
                  count(*) FILTER (WHERE error_code IS NOT NULL) AS "errors!",
                  (SELECT max(event_time) FROM events) AS newest
           FROM events WHERE event_time >= now() - interval '1 day'"#
    )
    .fetch_one(&mut *db)
    .await?;
    let top_principals = sqlx::query!(
        r#"SELECT principal AS "principal!", count(*) AS "events!" FROM events
           WHERE event_time >= now() - interval '1 day' AND principal IS NOT NULL
           GROUP BY principal ORDER BY count(*) DESC, principal LIMIT 5"#
    )
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .map(|row| (row.principal, row.events))
    .collect();
    let quarantined = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM quarantine"#)
        .fetch_one(&mut *db)
        .await?;
    let polls = sqlx::query_as!(
        SourcePoll,
        "SELECT source, polled_at, error, new_events FROM ingest_polls ORDER BY source"
    )
    .fetch_all(&mut *db)
    .await?;
    // An S3 stream's objects are quarantined under their own URLs, LookupEvents pages as
    // "LookupEvents in REGION …".
    let checkpoints = sqlx::query_as!(
        StreamCheckpoint,
        r#"SELECT c.source, c.position, c.newest_event_time, c.advanced_at,
               (SELECT count(*) FROM quarantine q WHERE q.source LIKE
                   CASE WHEN c.source LIKE 'lookup:%'
                        THEN 'LookupEvents in ' || substr(c.source, 8) || ' %'
                        ELSE replace(replace(c.source, '%', '\%'), '_', '\_') || '%' END)
                   AS "quarantined!"
           FROM ingest_checkpoints c ORDER BY c.source"#
    )
    .fetch_all(&mut *db)
    .await?;
    let last_day_by_hour = histogram(
        &mut *db,
        &EventQuery {
            range: Some(TimeRange::LastDay),
            ..EventQuery::default()
        },
        Utc::now(),
    )
    .await?;
    Ok(EventsOverview {
        last_day: last_day.events,
        errors_last_day: last_day.errors,
        top_principals,
        last_day_by_hour,
        newest_event: last_day.newest,
        quarantined,
        polls,
        checkpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_foreign_one_is_refused() {
        let cursor = Cursor {
            time: "2026-10-03T08:00:00Z".parse().unwrap(),
            id: "e-1".into(),
        };
        assert_eq!(decode_cursor(&cursor.encode()).unwrap(), cursor);
        assert!(matches!(
            decode_cursor("nonsense"),
            Err(ReadError::InvalidCursor(_))
        ));
    }
}
