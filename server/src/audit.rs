//! Trailkeeper's own audit log: every action of the service and its users that matters to a
//! reviewer of Trailkeeper itself.

use serde_json::Value;
use sqlx::PgExecutor;
use trailkeeper_app::api::overview::AuditEntry;

/// The actor recorded for what the service does on its own.
pub const SYSTEM_ACTOR: &str = "system";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ServiceStarted,
    SchemaMigrated,
    UserCreated,
    UserDisabled,
    UserRoleChanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ServiceStarted => "service.started",
            Action::SchemaMigrated => "schema.migrated",
            Action::UserCreated => "user.created",
            Action::UserDisabled => "user.disabled",
            Action::UserRoleChanged => "user.role_changed",
        }
    }
}

pub async fn record(
    executor: impl PgExecutor<'_>,
    actor: &str,
    action: Action,
    summary: &str,
    detail: Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO audit_log (actor, action, summary, detail) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(actor)
    .bind(action.as_str())
    .bind(summary)
    .bind(detail)
    .fetch_one(executor)
    .await
}

/// The newest `limit` entries, newest first.
pub async fn recent(
    executor: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<(i64, chrono::DateTime<chrono::Utc>, String, String, String)> = sqlx::query_as(
        "SELECT id, occurred_at, actor, action, summary FROM audit_log \
         ORDER BY occurred_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, occurred_at, actor, action, summary)| AuditEntry {
            id,
            occurred_at,
            actor,
            action,
            summary,
        })
        .collect())
}
