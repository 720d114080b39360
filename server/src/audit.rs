//! Trailkeeper's own audit log: every action of the service and its users that matters to a
//! reviewer of Trailkeeper itself: who, when, from which address, what, and how it ended.
//! The table refuses updates and deletes.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, QueryBuilder};
use trailkeeper_app::api::audit::{AuditEntry, AuditFilter, AuditPage};

/// The actor recorded for what the service does on its own.
pub const SYSTEM_ACTOR: &str = "system";

/// Entries on one page of the audit log.
pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ServiceStarted,
    SchemaMigrated,
    UserCreated,
    UserDisabled,
    UserRoleChanged,
    UserScopeChanged,
    UserSessionsEnded,
    UserPasswordChanged,
    SignIn,
    SignOut,
    TokenCreated,
    TokenRevoked,
    EventsExported,
    EventsIngested,
    /// A detector closed a finding itself (a rotation that succeeded after failing, a
    /// rotation back on schedule).
    FindingResolved,
    FindingAcknowledged,
    FindingReopened,
    FindingSuppressed,
    FindingAssigned,
    FindingCommented,
    SuppressionAdded,
    SuppressionRemoved,
    DetectionBackfilled,
    SettingsChanged,
    AlertChannelAdded,
    AlertChannelChanged,
    AlertChannelRemoved,
    AlertRuleAdded,
    AlertRuleRemoved,
    AlertTestSent,
    AlertDeliveryRetried,
    /// An admin asked for a change to a secret; recorded before AWS is called.
    SecretChangeRequested,
    /// AWS made the change (its request id in the detail) or refused it (its error).
    SecretChanged,
    /// A change was filed for a second admin's approval.
    ChangeApprovalRequested,
    ChangeApproved,
    ChangeRejected,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ServiceStarted => "service.started",
            Action::SchemaMigrated => "schema.migrated",
            Action::UserCreated => "user.created",
            Action::UserDisabled => "user.disabled",
            Action::UserRoleChanged => "user.role_changed",
            Action::UserScopeChanged => "user.scope_changed",
            Action::UserSessionsEnded => "user.sessions_ended",
            Action::UserPasswordChanged => "user.password_changed",
            Action::SignIn => "auth.sign_in",
            Action::SignOut => "auth.sign_out",
            Action::TokenCreated => "token.created",
            Action::TokenRevoked => "token.revoked",
            Action::EventsExported => "events.exported",
            Action::EventsIngested => "events.ingested",
            Action::FindingResolved => "finding.resolved",
            Action::FindingAcknowledged => "finding.acknowledged",
            Action::FindingReopened => "finding.reopened",
            Action::FindingSuppressed => "finding.suppressed",
            Action::FindingAssigned => "finding.assigned",
            Action::FindingCommented => "finding.commented",
            Action::SuppressionAdded => "suppression.added",
            Action::SuppressionRemoved => "suppression.removed",
            Action::DetectionBackfilled => "detection.backfilled",
            Action::SettingsChanged => "settings.changed",
            Action::AlertChannelAdded => "alert.channel_added",
            Action::AlertChannelChanged => "alert.channel_changed",
            Action::AlertChannelRemoved => "alert.channel_removed",
            Action::AlertRuleAdded => "alert.rule_added",
            Action::AlertRuleRemoved => "alert.rule_removed",
            Action::AlertTestSent => "alert.test_sent",
            Action::AlertDeliveryRetried => "alert.delivery_retried",
            Action::SecretChangeRequested => "secret.change_requested",
            Action::SecretChanged => "secret.changed",
            Action::ChangeApprovalRequested => "change.approval_requested",
            Action::ChangeApproved => "change.approved",
            Action::ChangeRejected => "change.rejected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The action was attempted and failed (a wrong password).
    Failure,
    /// The action was refused before it was attempted (too many attempts, too low a role).
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct Entry {
    actor: String,
    action: Action,
    summary: String,
    detail: Value,
    address: Option<String>,
    outcome: Outcome,
}

impl Entry {
    pub fn new(actor: &str, action: Action, summary: impl Into<String>) -> Self {
        Entry {
            actor: actor.to_string(),
            action,
            summary: summary.into(),
            detail: Value::Object(Default::default()),
            address: None,
            outcome: Outcome::Success,
        }
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    /// The client address of the request behind the action.
    pub fn from_address(mut self, address: Option<&str>) -> Self {
        self.address = address.map(str::to_string);
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub async fn record(self, executor: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar!(
            "INSERT INTO audit_log (actor, action, summary, detail, address, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            self.actor,
            self.action.as_str(),
            self.summary,
            self.detail,
            self.address,
            self.outcome.as_str(),
        )
        .fetch_one(executor)
        .await
    }
}

type EntryRow = (
    i64,
    DateTime<Utc>,
    String,
    Option<String>,
    String,
    String,
    String,
);

const COLUMNS: &str =
    "SELECT id, occurred_at, actor, address, action, outcome, summary FROM audit_log";

fn from_row((id, occurred_at, actor, address, action, outcome, summary): EntryRow) -> AuditEntry {
    AuditEntry {
        id,
        occurred_at,
        actor,
        address,
        action,
        outcome,
        summary,
    }
}

/// The newest `limit` entries, newest first.
pub async fn recent(
    executor: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as!(
        AuditEntry,
        "SELECT id, occurred_at, actor, address, action, outcome, summary FROM audit_log \
         ORDER BY occurred_at DESC, id DESC LIMIT $1",
        limit
    )
    .fetch_all(executor)
    .await
}

/// One page of entries matching `filter`, newest first, with the cursor for the next page.
pub async fn page(
    executor: impl PgExecutor<'_>,
    filter: &AuditFilter,
) -> Result<AuditPage, sqlx::Error> {
    let mut query = QueryBuilder::new(COLUMNS);
    query.push(" WHERE true");
    if let Some(actor) = &filter.actor {
        query
            .push(" AND lower(actor) LIKE '%' || ")
            .push_bind(crate::db::escape_like(&actor.to_lowercase()))
            .push(" || '%'");
    }
    if let Some(action) = &filter.action {
        // "user." is a family; "user.created" is one action.
        if action.ends_with('.') {
            query
                .push(" AND action LIKE ")
                .push_bind(crate::db::escape_like(action))
                .push(" || '%'");
        } else {
            query.push(" AND action = ").push_bind(action.clone());
        }
    }
    if let Some(outcome) = &filter.outcome {
        query.push(" AND outcome = ").push_bind(outcome.clone());
    }
    if let Some(since) = filter.since {
        query.push(" AND occurred_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        query.push(" AND occurred_at < ").push_bind(until);
    }
    if let Some(before) = filter.before {
        query.push(" AND id < ").push_bind(before);
    }
    // One more than a page tells whether there is a next page.
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(PAGE_SIZE + 1);
    let mut entries: Vec<AuditEntry> = query
        .build_query_as::<EntryRow>()
        .fetch_all(executor)
        .await?
        .into_iter()
        .map(from_row)
        .collect();
    let next_before = if entries.len() as i64 > PAGE_SIZE {
        entries.truncate(PAGE_SIZE as usize);
        entries.last().map(|entry| entry.id)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_before,
    })
}
