//! The JSON API's administration: changes to a secret's configuration and labels, never its
//! value. Role `admin`; each change is recorded in the audit log before and after AWS is
//! called, with the reason given.

use aws_config::SdkConfig;
use axum::Json;
use axum::extract::{Path, State};
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::secrets::{ChangeOutcome, ChangeRequest, SecretAction};
use trailkeeper_app::error::ApiError;

use super::api::{Body, Requester};
use crate::admin;

/// Changes a secret: `rotate` (`immediately`, default true), `rollback` (AWSCURRENT back to
/// the AWSPREVIOUS version), `clear-pending` (a stuck rotation's AWSPENDING label removed),
/// `delete` (`recovery_days` 7 to 30, and `confirm`: the secret's name) or `restore`. Every
/// change needs a `reason`. Answers with AWS's request id and the secret read afresh.
#[utoipa::path(
    post,
    path = "/api/v1/secrets/{id}/actions/{action}",
    tag = "administration",
    params(
        ("id" = String, Path, description = "The secret's ARN, or its name when that is unique"),
        ("action" = String, Path, description = "rotate, rollback, clear-pending, delete or restore"),
    ),
    request_body = ChangeRequest,
    responses(
        (status = 200, description = "AWS made the change", body = ChangeOutcome),
        (status = 400, description = "A parameter is missing or not valid (the reason, the confirmation)", body = ApiError),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 404, description = "No such secret or action", body = ApiError),
        (status = 409, description = "The secret's state does not allow it", body = ApiError),
        (status = 502, description = "AWS refused: its error code and message", body = ApiError),
    )
)]
pub async fn change_secret(
    State(pool): State<PgPool>,
    State(aws): State<SdkConfig>,
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
    let change = SecretAction::from_request(action, &request)?;
    admin::change_secret(&pool, &aws, &requester.actor(), id, change, &request)
        .await
        .map(Json)
}
