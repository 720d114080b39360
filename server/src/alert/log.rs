//! The delivery log: every message, where it went, how each attempt went; and a person's
//! retry of a delivery that died.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use trailkeeper_app::api::alerts::{
    Delivery, DeliveryAttempt, DeliveryKind, DeliveryPage, DeliveryQuery, DeliveryStatus,
};
use trailkeeper_app::api::query::DEFAULT_LIMIT;

use super::WAKE_CHANNEL;
use crate::audit::{Action, Entry};
use crate::db::{Cursor, FOREIGN_CURSOR};
use crate::findings::triage::Actor;
use trailkeeper_app::AppError;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    channel_id: i64,
    channel_name: String,
    kind: String,
    status: String,
    finding_ids: Vec<i64>,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

struct AttemptRow {
    delivery_id: String,
    attempted_at: DateTime<Utc>,
    delivered: bool,
    response_code: Option<i32>,
    error: Option<String>,
    latency_ms: i32,
}

const SELECT_DELIVERIES: &str = "SELECT d.id::text AS id, d.channel_id, c.name AS channel_name, \
        d.kind, d.status, \
        ARRAY(SELECT o.finding_id FROM alert_delivery_items i \
              JOIN alert_outbox o ON o.id = i.outbox_id \
              WHERE i.delivery_id = d.id ORDER BY o.id) AS finding_ids, \
        d.created_at, d.next_attempt_at, d.delivered_at, d.last_error \
 FROM alert_deliveries d JOIN alert_channels c ON c.id = d.channel_id WHERE true";

/// Deliveries newest first, with their attempts.
pub async fn list(pool: &PgPool, query: &DeliveryQuery) -> Result<DeliveryPage, AppError> {
    let limit = i64::from(query.limit.unwrap_or(DEFAULT_LIMIT));
    let cursor = match &query.cursor {
        Some(text) => {
            Some(Cursor::<String>::decode(text).ok_or_else(|| AppError::invalid(FOREIGN_CURSOR))?)
        }
        None => None,
    };
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_DELIVERIES);
    if let Some(status) = query.status {
        sql.push(" AND d.status = ").push_bind(status.as_str());
    }
    if let Some(channel) = query.channel {
        sql.push(" AND d.channel_id = ").push_bind(channel);
    }
    if let Some(finding) = query.finding {
        sql.push(
            " AND EXISTS (SELECT 1 FROM alert_delivery_items i JOIN alert_outbox o \
             ON o.id = i.outbox_id WHERE i.delivery_id = d.id AND o.finding_id = ",
        )
        .push_bind(finding)
        .push(")");
    }
    if let Some(since) = query.since {
        sql.push(" AND d.created_at >= ").push_bind(since);
    }
    if let Some(until) = query.until {
        sql.push(" AND d.created_at < ").push_bind(until);
    }
    if let Some(cursor) = &cursor {
        sql.push(" AND (d.created_at, d.id::text) < (")
            .push_bind(cursor.time)
            .push(", ")
            .push_bind(cursor.id.clone())
            .push(")");
    }
    sql.push(" ORDER BY d.created_at DESC, d.id::text DESC LIMIT ")
        .push_bind(limit + 1);
    let mut rows: Vec<DeliveryRow> = sql.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last()).flatten().map(|row| {
        Cursor {
            time: row.created_at,
            id: row.id.clone(),
        }
        .encode()
    });
    let items = with_attempts(pool, rows).await?;
    Ok(DeliveryPage { items, next })
}

/// One delivery, with its attempts.
pub async fn get(pool: &PgPool, id: &str) -> Result<Delivery, AppError> {
    let rows: Vec<DeliveryRow> = QueryBuilder::<Postgres>::new(SELECT_DELIVERIES)
        .push(" AND d.id::text = ")
        .push_bind(id)
        .build_query_as()
        .fetch_all(pool)
        .await?;
    with_attempts(pool, rows)
        .await?
        .pop()
        .ok_or_else(|| AppError::NotFound(format!("there is no delivery {id}")))
}

/// The deliveries of `rows`, each with every attempt at it.
async fn with_attempts(pool: &PgPool, rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, AppError> {
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let attempts: Vec<AttemptRow> = sqlx::query_as!(
        AttemptRow,
        r#"SELECT delivery_id::text AS "delivery_id!", attempted_at, delivered, response_code,
                error, latency_ms
         FROM alert_attempts WHERE delivery_id = ANY ($1::text[]::uuid[]) ORDER BY attempted_at, id"#,
        &ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let status = DeliveryStatus::parse(&row.status).unwrap_or(DeliveryStatus::Pending);
            Delivery {
                attempts: attempts
                    .iter()
                    .filter(|attempt| attempt.delivery_id == row.id)
                    .map(|attempt| DeliveryAttempt {
                        attempted_at: attempt.attempted_at,
                        delivered: attempt.delivered,
                        response_code: attempt.response_code,
                        error: attempt.error.clone(),
                        latency_ms: attempt.latency_ms,
                    })
                    .collect(),
                id: row.id,
                channel_id: row.channel_id,
                channel_name: row.channel_name,
                kind: DeliveryKind::parse(&row.kind).unwrap_or(DeliveryKind::Alert),
                status,
                finding_ids: row.finding_ids,
                created_at: row.created_at,
                next_attempt_at: matches!(
                    status,
                    DeliveryStatus::Pending | DeliveryStatus::Collecting
                )
                .then_some(row.next_attempt_at),
                delivered_at: row.delivered_at,
                last_error: row.last_error,
            }
        })
        .collect())
}

/// Sends a dead delivery again, with a fresh day of retries.
pub async fn retry(pool: &PgPool, actor: &Actor<'_>, id: &str) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let status: Option<String> = sqlx::query_scalar!(
        "SELECT status FROM alert_deliveries WHERE id::text = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    match status.as_deref() {
        None => return Err(AppError::NotFound(format!("there is no delivery {id}"))),
        Some("dead") => {}
        Some(other) => {
            return Err(AppError::Conflict(format!(
                "delivery {id} is {other}; only a dead delivery can be retried"
            )));
        }
    }
    sqlx::query!(
        "UPDATE alert_deliveries SET status = 'pending', next_attempt_at = now(), \
         retried_at = now(), requested_by = $2 WHERE id::text = $1",
        id,
        actor.name
    )
    .execute(&mut *tx)
    .await?;
    Entry::new(
        actor.name,
        Action::AlertDeliveryRetried,
        format!("retried the dead alert delivery {id}"),
    )
    .detail(json!({ "delivery_id": id }))
    .from_address(actor.address)
    .record(&mut *tx)
    .await?;
    sqlx::query!("SELECT pg_notify($1, '')", WAKE_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
