//! The JSON API's administration: changes to a secret's configuration and labels, never its
//! value. Role `admin`; each change is recorded in the audit log before and after AWS is
//! called, with the reason given.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::{ChangeOutcome, ChangeRequest};
use trailkeeper_app::api::changes::{ApprovalDecision, ChangeApproval, approves};
use trailkeeper_app::error::ApiError;

use super::api::{Body, Requester};
use crate::admin::{Administration, approvals};
use crate::db::Reader;

/// Changes a secret. The actions and the body fields each reads: `rotate` (`immediately`,
/// default true); `rotation` (`schedule`, `window`, `function_arn`, `immediately`, or
/// `enabled: false` to turn rotation off); `rollback` (AWSCURRENT back to the AWSPREVIOUS
/// version); `clear-pending` (a stuck rotation's AWSPENDING label removed); `delete`
/// (`recovery_days` 7 to 30); `restore`; `tags` (`tags` to set, `remove_tags`); `update`
/// (`description`, `kms_key_id`); `replicate` (`regions`: `region`, `kms_key_id`);
/// `remove-replica` (`region`); `policy` (`policy`, validated by AWS first and saved with
/// BlockPublicPolicy, or `remove_policy: true`). Every change needs a `reason`; a deletion,
/// rotation turned off, a replica removed, the policy deleted or a policy that opens the
/// secret to anyone or another account also needs `confirm`, the secret's name. Answers with
/// AWS's request id and the secret read afresh.
#[utoipa::path(
    post,
    path = "/api/v1/secrets/{id}/actions/{action}",
    tag = "administration",
    params(
        ("id" = String, Path, description = "The secret's ARN, or its name when that is unique"),
        ("action" = String, Path, description = "rotate, rotation, rollback, clear-pending, delete, restore, tags, update, replicate, remove-replica or policy"),
    ),
    request_body = ChangeRequest,
    responses(
        (status = 200, description = "AWS made the change", body = ChangeOutcome),
        (status = 202, description = "With approvals on: filed for a second admin (`awaiting_approval`); nothing changed yet", body = ChangeOutcome),
        (status = 400, description = "A parameter is missing or not valid (the reason, the confirmation, a schedule, a policy AWS's validation refuses)", body = ApiError),
        (status = 403, description = "The admin role is needed, or Trailkeeper runs read-only", body = ApiError),
        (status = 404, description = "No such secret or action", body = ApiError),
        (status = 409, description = "The secret's state does not allow it", body = ApiError),
        (status = 502, description = "AWS refused: its error code and message", body = ApiError),
    )
)]
pub async fn change_secret(
    reader: Reader,
    State(administration): State<Administration>,
    requester: Requester,
    Path(path): Path<String>,
    Body(request): Body<ChangeRequest>,
) -> Result<(StatusCode, Json<ChangeOutcome>), AppError> {
    // A name may hold slashes: the action is what follows the last `/actions/`.
    let Some((id, action)) = path.rsplit_once("/actions/") else {
        return Err(AppError::NotFound(
            "changes are posted to /api/v1/secrets/{name or ARN}/actions/{action}".into(),
        ));
    };
    let outcome = administration
        .change_secret(&reader, &requester.actor(), id, action, &request)
        .await?;
    let status = if outcome.awaiting_approval.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)))
}

/// The change requests waiting for (or decided by) a second admin, newest first, each with its
/// status: `pending`, `approved` (and made), `rejected`, `failed` (approved, AWS refused) or
/// `expired`.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "administration",
    responses(
        (status = 200, description = "The requests", body = Vec<ChangeApproval>),
        (status = 403, description = "The admin role is needed", body = ApiError),
    )
)]
pub async fn changes(State(pool): State<PgPool>) -> Result<Json<Vec<ChangeApproval>>, AppError> {
    Ok(Json(approvals::list(&pool).await?))
}

/// Approves a change request (then Trailkeeper makes the change in AWS, as the person who
/// asked it) or rejects it, with an optional `comment`. Nobody approves their own request;
/// an expired or decided one cannot be decided.
#[utoipa::path(
    post,
    path = "/api/v1/changes/{id}/{decision}",
    tag = "administration",
    params(
        ("id" = i64, Path, description = "The request's id"),
        ("decision" = String, Path, description = "approve or reject"),
    ),
    request_body = ApprovalDecision,
    responses(
        (status = 200, description = "Decided; an approved change's outcome in AWS is in `status` and `outcome`", body = ChangeApproval),
        (status = 403, description = "The admin role is needed, the request is the caller's own, or Trailkeeper runs read-only", body = ApiError),
        (status = 404, description = "No such request or decision", body = ApiError),
        (status = 409, description = "The request was already decided, or expired", body = ApiError),
    )
)]
pub async fn decide_change(
    State(pool): State<PgPool>,
    State(administration): State<Administration>,
    requester: Requester,
    Path((id, decision)): Path<(i64, String)>,
    Body(body): Body<ApprovalDecision>,
) -> Result<Json<ChangeApproval>, AppError> {
    let Some(approve) = approves(&decision) else {
        return Err(AppError::NotFound(format!(
            "there is no decision {decision:?}; post to approve or reject"
        )));
    };
    administration
        .decide_change(
            &pool,
            &requester.actor(),
            id,
            approve,
            body.comment.as_deref(),
        )
        .await
        .map(Json)
}
