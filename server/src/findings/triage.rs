//! Triage: what people do with findings — acknowledge, resolve, reopen, suppress, assign,
//! comment — and the suppression rules. Each action changes the finding and appends its
//! audit entry in one transaction; the entries are the finding's history.

use chrono::Utc;
use serde_json::json;
use sqlx::{PgExecutor, PgPool};
use trailkeeper_app::api::findings::{NewSuppression, Suppression, TriageAction};

use super::read;
use crate::audit::{Action, Entry};
use crate::db::Reader;
use trailkeeper_app::AppError;

/// The longest comment or reason kept.
const MAX_TEXT: usize = 4000;

#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("there is no finding {0}")]
    NotFound(i64),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<TriageError> for AppError {
    fn from(error: TriageError) -> AppError {
        match error {
            TriageError::NotFound(_) => AppError::NotFound(error.to_string()),
            TriageError::Invalid(message) => AppError::invalid(message),
            TriageError::Conflict(message) => AppError::Conflict(message),
            TriageError::Store(error) => AppError::store(error),
        }
    }
}

/// Who acts, as the audit log records them.
pub struct Actor<'a> {
    pub name: &'a str,
    pub address: Option<&'a str>,
}

fn text(what: &str, value: Option<&str>) -> Result<Option<String>, TriageError> {
    match value.map(str::trim).filter(|value| !value.is_empty()) {
        Some(value) if value.chars().count() > MAX_TEXT => Err(TriageError::Invalid(format!(
            "the {what} is longer than {MAX_TEXT} characters"
        ))),
        value => Ok(value.map(str::to_string)),
    }
}

struct Triaged {
    status: String,
    title: String,
    kind: String,
    principal: Option<String>,
    secret_arn: Option<String>,
}

/// A triage action by someone who may see only what `reader` reads: a finding outside their
/// scope does not exist for them.
pub async fn triage_as(
    reader: &Reader,
    id: i64,
    actor: &Actor<'_>,
    action: TriageAction,
) -> Result<(), TriageError> {
    let mut db = reader.read().await?;
    if !read::exists(&mut db, id).await? {
        return Err(TriageError::NotFound(id));
    }
    drop(db);
    triage(reader.pool(), id, actor, action).await
}

/// Does `action` to finding `id` as `actor`.
pub async fn triage(
    pool: &PgPool,
    id: i64,
    actor: &Actor<'_>,
    action: TriageAction,
) -> Result<(), TriageError> {
    let mut tx = pool.begin().await?;
    let found: Option<Triaged> = sqlx::query_as!(
        Triaged,
        "SELECT status, title, kind, principal, secret_arn FROM findings WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(Triaged {
        status,
        title,
        kind,
        principal,
        secret_arn,
    }) = found
    else {
        return Err(TriageError::NotFound(id));
    };
    let set_status = |to: &'static str| {
        sqlx::query!(
            "UPDATE findings SET status = $2, updated_at = now() WHERE id = $1",
            id,
            to
        )
    };
    let (audit, summary, comment, extra) = match action {
        TriageAction::Acknowledge { comment } => {
            if status != "open" {
                return Err(TriageError::Conflict(format!(
                    "finding {id} is {status}; only an open finding can be acknowledged"
                )));
            }
            set_status("acknowledged").execute(&mut *tx).await?;
            (
                Action::FindingAcknowledged,
                "acknowledged",
                comment,
                json!({}),
            )
        }
        TriageAction::Resolve { comment } => {
            if status == "resolved" {
                return Err(TriageError::Conflict(format!(
                    "finding {id} is already resolved"
                )));
            }
            set_status("resolved").execute(&mut *tx).await?;
            (Action::FindingResolved, "resolved", comment, json!({}))
        }
        TriageAction::Reopen { comment } => {
            if status == "open" {
                return Err(TriageError::Conflict(format!(
                    "finding {id} is already open"
                )));
            }
            let reopened = set_status("open").execute(&mut *tx).await;
            if let Err(sqlx::Error::Database(error)) = &reopened
                && error.constraint() == Some("findings_active")
            {
                return Err(TriageError::Conflict(format!(
                    "finding {id} cannot be reopened: a newer finding of the same kind, \
                     principal and secret is active"
                )));
            }
            reopened?;
            (Action::FindingReopened, "reopened", comment, json!({}))
        }
        TriageAction::Suppress { until, reason } => {
            let reason = text("reason", Some(&reason))?
                .ok_or_else(|| TriageError::Invalid("a suppression needs a reason".into()))?;
            if until <= Utc::now() {
                return Err(TriageError::Invalid(
                    "a suppression must last until a time in the future".into(),
                ));
            }
            let rule: i64 = sqlx::query_scalar!(
                "INSERT INTO suppressions (kind, principal_pattern, secret_pattern, until, reason, \
                     created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                kind,
                // ARNs hold no `*`: as patterns they match themselves.
                principal,
                secret_arn,
                until,
                reason,
                actor.name,
            )
            .fetch_one(&mut *tx)
            .await?;
            set_status("suppressed").execute(&mut *tx).await?;
            (
                Action::FindingSuppressed,
                "suppressed",
                Some(reason),
                json!({ "until": until, "suppression_id": rule }),
            )
        }
        TriageAction::Assign { assignee, comment } => {
            let assignee = text("assignee", assignee.as_deref())?;
            if let Some(name) = &assignee {
                let known = sqlx::query_scalar!(
                    r#"SELECT EXISTS (SELECT 1 FROM users WHERE name = $1 AND disabled_at IS NULL)
                       AS "known!""#,
                    name
                )
                .fetch_one(&mut *tx)
                .await?;
                if !known {
                    return Err(TriageError::Invalid(format!(
                        "there is no active user named {name:?} to assign it to"
                    )));
                }
            }
            sqlx::query!(
                "UPDATE findings SET assignee = $2, updated_at = now() WHERE id = $1",
                id,
                assignee
            )
            .execute(&mut *tx)
            .await?;
            let summary = if assignee.is_some() {
                "assigned"
            } else {
                "unassigned"
            };
            (
                Action::FindingAssigned,
                summary,
                comment,
                json!({ "assignee": assignee }),
            )
        }
        TriageAction::Comment { comment } => {
            if text("comment", Some(&comment))?.is_none() {
                return Err(TriageError::Invalid("the comment is empty".into()));
            }
            (
                Action::FindingCommented,
                "commented on",
                Some(comment),
                json!({}),
            )
        }
    };
    let comment = text("comment", comment.as_deref())?;
    let mut detail = json!({ "finding_id": id, "comment": comment });
    if let (Some(detail), Some(extra)) = (detail.as_object_mut(), extra.as_object()) {
        detail.extend(extra.clone());
    }
    let mut line = format!("{summary} finding {id} ({title})");
    if let Some(assignee) = extra.get("assignee").and_then(|value| value.as_str()) {
        line.push_str(&format!(" to {assignee}"));
    }
    if let Some(comment) = &comment {
        line.push_str(&format!(": {comment}"));
    }
    Entry::new(actor.name, audit, line)
        .detail(detail)
        .from_address(actor.address)
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The rules in force, soonest to expire first.
pub async fn suppressions(db: impl PgExecutor<'_>) -> Result<Vec<Suppression>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, kind, principal_pattern, secret_pattern, until, reason, created_by, \
             created_at FROM suppressions WHERE until > now() ORDER BY until, id"
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Suppression {
            id: row.id,
            kind: row
                .kind
                .as_deref()
                .and_then(trailkeeper_app::api::findings::FindingKind::parse),
            principal_pattern: row.principal_pattern,
            secret_pattern: row.secret_pattern,
            until: row.until,
            reason: row.reason,
            created_by: row.created_by,
            created_at: row.created_at,
        })
        .collect())
}

/// Adds a rule; the active findings it matches are suppressed at once.
pub async fn add_suppression(
    pool: &PgPool,
    actor: &Actor<'_>,
    rule: NewSuppression,
) -> Result<i64, TriageError> {
    let reason = text("reason", Some(&rule.reason))?
        .ok_or_else(|| TriageError::Invalid("a suppression needs a reason".into()))?;
    if rule.until <= Utc::now() {
        return Err(TriageError::Invalid(
            "a suppression must last until a time in the future".into(),
        ));
    }
    let principal = text("principal pattern", rule.principal_pattern.as_deref())?;
    let secret = text("secret pattern", rule.secret_pattern.as_deref())?;
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar!(
        "INSERT INTO suppressions (kind, principal_pattern, secret_pattern, until, reason, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        rule.kind.map(|kind| kind.as_str()),
        principal,
        secret,
        rule.until,
        reason,
        actor.name
    )
    .fetch_one(&mut *tx)
    .await?;
    let suppressed = sqlx::query!(
        "UPDATE findings SET status = 'suppressed', updated_at = now() \
         WHERE status = 'open' AND suppressed(kind, principal, secret_arn, secret_name)"
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let what = [
        rule.kind.map(|kind| format!("kind {}", kind.as_str())),
        principal.as_ref().map(|p| format!("principal {p}")),
        secret.as_ref().map(|s| format!("secret {s}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    let what = if what.is_empty() {
        "every finding".to_string()
    } else {
        what.join(", ")
    };
    Entry::new(
        actor.name,
        Action::SuppressionAdded,
        format!(
            "suppressed {what} until {}: {reason} ({suppressed} open findings suppressed)",
            rule.until.to_rfc3339()
        ),
    )
    .detail(
        json!({ "suppression_id": id, "kind": rule.kind, "principal_pattern": principal,
                    "secret_pattern": secret, "until": rule.until, "suppressed": suppressed }),
    )
    .from_address(actor.address)
    .record(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes a rule. Findings it suppressed stay suppressed until new evidence arrives
/// (which reopens them) or someone reopens them.
pub async fn remove_suppression(
    pool: &PgPool,
    actor: &Actor<'_>,
    id: i64,
) -> Result<(), TriageError> {
    let mut tx = pool.begin().await?;
    let removed: Option<String> = sqlx::query_scalar!(
        "DELETE FROM suppressions WHERE id = $1 RETURNING reason",
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(reason) = removed else {
        return Err(TriageError::Invalid(format!(
            "there is no suppression rule {id}"
        )));
    };
    Entry::new(
        actor.name,
        Action::SuppressionRemoved,
        format!("removed suppression rule {id} ({reason})"),
    )
    .detail(json!({ "suppression_id": id }))
    .from_address(actor.address)
    .record(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
