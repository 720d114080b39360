//! The JSON API's administration: changes to a secret's configuration and labels, never its
//! value. Role `admin`; each change is recorded in the audit log before and after AWS is
//! called, with the reason given.

use axum::Json;
use axum::extract::{Path, State};
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::{ChangeOutcome, ChangeRequest};
use trailkeeper_app::error::ApiError;

use super::api::{Body, Requester};
use crate::admin::Administration;

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
        (status = 400, description = "A parameter is missing or not valid (the reason, the confirmation, a schedule, a policy AWS's validation refuses)", body = ApiError),
        (status = 403, description = "The admin role is needed, or Trailkeeper runs read-only", body = ApiError),
        (status = 404, description = "No such secret or action", body = ApiError),
        (status = 409, description = "The secret's state does not allow it", body = ApiError),
        (status = 502, description = "AWS refused: its error code and message", body = ApiError),
    )
)]
pub async fn change_secret(
    State(pool): State<PgPool>,
    State(administration): State<Administration>,
    requester: Requester,
    Path(path): Path<String>,
    Body(request): Body<ChangeRequest>,
) -> Result<Json<ChangeOutcome>, AppError> {
    // A name may hold slashes: the action is what follows the last `/actions/`.
    let Some((id, action)) = path.rsplit_once("/actions/") else {
        return Err(AppError::NotFound(
            "changes are posted to /api/v1/secrets/{name or ARN}/actions/{action}".into(),
        ));
    };
    administration
        .change_secret(&pool, &requester.actor(), id, action, &request)
        .await
        .map(Json)
}
