//! Approvals: with `TRAILKEEPER_APPROVALS` on, a change to a secret waits for a second admin,
//! who approves or rejects it on the Changes page (or `/api/v1/changes`). Nobody approves
//! their own; a request not decided in time expires.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a second admin.
    Pending,
    /// Approved, and AWS made the change.
    Approved,
    Rejected,
    /// Approved, and AWS refused the change.
    Failed,
    /// Not decided in time.
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Failed => "failed",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<ApprovalStatus> {
        [
            ApprovalStatus::Pending,
            ApprovalStatus::Approved,
            ApprovalStatus::Rejected,
            ApprovalStatus::Failed,
            ApprovalStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A change waiting for, or decided by, a second admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangeApproval {
    pub id: i64,
    pub secret_arn: String,
    pub secret_name: String,
    pub action: String,
    /// What the change will do, in words.
    pub summary: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: ApprovalStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    /// What became of it in AWS.
    pub outcome: Option<String>,
}

/// A decision on a request, with an optional comment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApprovalDecision {
    #[serde(default)]
    pub comment: Option<String>,
}

/// A decision's name: `approve` (true) or `reject` (false).
pub fn approves(decision: &str) -> Option<bool> {
    match decision {
        "approve" => Some(true),
        "reject" => Some(false),
        _ => None,
    }
}

/// The requests, newest first.
#[server(endpoint = "change_approvals")]
pub async fn list_change_approvals() -> Result<Vec<ChangeApproval>, AppError> {
    super::backend_for::<ListChangeApprovals>()?
        .change_approvals()
        .await
}

/// Approves (`decision` = `approve`, then AWS is called as the person who asked) or rejects
/// (`reject`) the request `id`.
#[server(endpoint = "decide_change")]
pub async fn decide_change(
    #[server(default)] id: i64,
    #[server(default)] decision: String,
    #[server(default)] comment: String,
) -> Result<ChangeApproval, AppError> {
    use super::admin::invalid;
    let backend = super::backend_for::<DecideChange>()?;
    let who = super::caller()?;
    let Some(approve) = approves(&decision) else {
        return Err(invalid(
            "decision",
            format!("{decision:?} is neither approve nor reject"),
        ));
    };
    backend
        .decide_change(who, id, approve, super::given(comment))
        .await
}

/// The changes the Secrets list applies to many secrets at once.
pub const BULK_ACTIONS: [&str; 2] = ["tags", "rotate"];

/// The most secrets one bulk change takes.
pub const MAX_BULK: usize = 100;

/// One secret's part of a bulk change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOutcome {
    pub secret: String,
    /// What was done (or filed for approval), in words; or why it was not.
    pub done: Option<String>,
    pub refused: Option<String>,
}

/// Applies one change (`tags`, or `rotate` now) with one reason to each of `secrets` (ARNs),
/// each on its own, through the same checks and audit as one secret's page: one refused
/// does not stop the others.
#[server(endpoint = "change_secrets")]
pub async fn change_secrets(
    #[server(default)] secrets: Vec<String>,
    #[server(default)] action: String,
    #[server(default)] reason: String,
    #[server(default)] tags: String,
    #[server(default)] remove_tags: String,
) -> Result<Vec<BulkOutcome>, AppError> {
    use super::admin::{ChangeRequest, SecretAction, invalid, parse_keys, parse_tags};
    let backend = super::backend_for::<ChangeSecrets>()?;
    let who = super::caller()?;
    if !BULK_ACTIONS.contains(&action.as_str()) {
        return Err(invalid(
            "action",
            format!(
                "{action:?} is not for many secrets at once; those are {}",
                BULK_ACTIONS.join(", ")
            ),
        ));
    }
    if secrets.is_empty() || secrets.len() > MAX_BULK {
        return Err(invalid(
            "secrets",
            format!("select 1 to {MAX_BULK} secrets"),
        ));
    }
    let request = ChangeRequest {
        reason,
        tags: parse_tags(&tags).map_err(|why| invalid("tags", why))?,
        remove_tags: parse_keys(&remove_tags),
        ..ChangeRequest::default()
    };
    // A bad parameter is said once, not once per secret.
    SecretAction::from_request(&action, &request)?;
    let mut outcomes = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let answer = backend
            .change_secret(who.clone(), secret.clone(), action.clone(), request.clone())
            .await;
        outcomes.push(BulkOutcome {
            secret,
            done: answer.as_ref().ok().map(|outcome| outcome.summary.clone()),
            refused: answer.err().map(|error| error.to_string()),
        });
    }
    Ok(outcomes)
}
