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
    let backend = super::backend_for::<DecideChange>()?;
    let who = super::caller()?;
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(AppError::Invalid {
                parameter: Some("decision".into()),
                message: format!("decision: {other:?} is neither approve nor reject"),
            });
        }
    };
    backend
        .decide_change(who, id, approve, super::given(comment))
        .await
}
