//! The JSON API's findings, triage, suppression rules and detection settings.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::api::findings::{
    FindingDetail, FindingPage, FindingQuery, NewSuppression, Suppression, TriageAction,
};

use super::api::{Body, Requester};
use crate::db::Reader;
use crate::detect::DetectionSettings;
use crate::detect::settings;
use crate::findings::read;
use crate::findings::triage;
use trailkeeper_app::AppError;
use trailkeeper_app::error::ApiError;

/// Findings, most recent activity first, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/findings",
    tag = "findings",
    params(
        ("since" = Option<String>, Query, description = "Findings with activity at or after this time (RFC 3339)"),
        ("until" = Option<String>, Query, description = "Findings with activity before this time (RFC 3339)"),
        ("status" = Option<String>, Query, description = "`active` (default: open or acknowledged), `all`, `open`, `acknowledged`, `resolved` or `suppressed`"),
        ("severity" = Option<String>, Query, description = "`info`, `low`, `medium`, `high`, `critical`; comma-separated for several"),
        ("kind" = Option<String>, Query, description = "Such as `first_time_reader` or `rotation_failed`; comma-separated for several"),
        ("secret" = Option<String>, Query, description = "A secret's ARN, or part of its name"),
        ("principal" = Option<String>, Query, description = "A principal's ARN, or part of it"),
        ("account" = Option<String>, Query, description = "Only findings about this AWS account (12 digits)"),
        ("cursor" = Option<String>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "One page of findings", body = FindingPage),
        (status = 400, description = "A parameter or the cursor is not valid", body = ApiError),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn list(
    reader: Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<FindingPage>, AppError> {
    let query = FindingQuery::parse(query.as_deref().unwrap_or_default())?;
    let mut db = reader.read().await.map_err(AppError::from)?;
    Ok(Json(read::list(&mut db, &query).await?))
}

/// One finding with its evidence events, the principal's activity around it, the detector's
/// numbers and its triage history.
#[utoipa::path(
    get,
    path = "/api/v1/findings/{id}",
    tag = "findings",
    params(("id" = i64, Path, description = "The finding's id")),
    responses(
        (status = 200, description = "The finding", body = FindingDetail),
        (status = 401, description = "No valid token or session", body = ApiError),
        (status = 404, description = "No such finding", body = ApiError),
    )
)]
pub async fn get(reader: Reader, Path(id): Path<i64>) -> Result<Json<FindingDetail>, AppError> {
    let mut db = reader.read().await.map_err(AppError::from)?;
    read::get(&mut db, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("there is no finding {id}")))
}

/// Acknowledge, resolve, reopen, suppress (until a time, with a reason: a suppression rule for
/// the finding's kind, principal and secret), assign or comment on a finding. Role
/// `auditor`; recorded in the audit log, which is the finding's history.
#[utoipa::path(
    post,
    path = "/api/v1/findings/{id}/triage",
    tag = "findings",
    params(("id" = i64, Path, description = "The finding's id")),
    request_body(content = TriageAction, description = "For example {\"action\": \"acknowledge\", \"comment\": \"looking\"}"),
    responses(
        (status = 200, description = "The finding after the action", body = FindingDetail),
        (status = 400, description = "The action is not valid", body = ApiError),
        (status = 403, description = "The auditor role is needed", body = ApiError),
        (status = 404, description = "No such finding", body = ApiError),
        (status = 409, description = "The finding's status does not allow it", body = ApiError),
    )
)]
pub async fn triage(
    reader: Reader,
    requester: Requester,
    Path(id): Path<i64>,
    Body(action): Body<TriageAction>,
) -> Result<Json<FindingDetail>, AppError> {
    let actor = requester.actor();
    triage::triage_as(&reader, id, &actor, action)
        .await
        .map_err(AppError::from)?;
    get(reader, Path(id)).await
}

/// The suppression rules in force, soonest to expire first.
#[utoipa::path(
    get,
    path = "/api/v1/suppressions",
    tag = "findings",
    responses(
        (status = 200, description = "The rules in force", body = Vec<Suppression>),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn suppressions(reader: Reader) -> Result<Json<Vec<Suppression>>, AppError> {
    let mut db = reader.read().await.map_err(AppError::from)?;
    triage::suppressions(&mut *db)
        .await
        .map(Json)
        .map_err(AppError::from)
}

/// Adds a suppression rule: findings of the kind (any when left out), principal and secret
/// patterns (`*` matches anything) are filed as suppressed until it expires. Role `auditor`.
#[utoipa::path(
    post,
    path = "/api/v1/suppressions",
    tag = "findings",
    request_body = NewSuppression,
    responses(
        (status = 201, description = "The rule's id", body = Object),
        (status = 400, description = "The rule is not valid", body = ApiError),
        (status = 403, description = "The auditor role is needed", body = ApiError),
    )
)]
pub async fn add_suppression(
    State(pool): State<PgPool>,
    requester: Requester,
    Body(rule): Body<NewSuppression>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = requester.actor();
    let id = triage::add_suppression(&pool, &actor, rule)
        .await
        .map_err(AppError::from)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// Removes a suppression rule. Role `auditor`.
#[utoipa::path(
    delete,
    path = "/api/v1/suppressions/{id}",
    tag = "findings",
    params(("id" = i64, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "No such rule", body = ApiError),
        (status = 403, description = "The auditor role is needed", body = ApiError),
    )
)]
pub async fn remove_suppression(
    State(pool): State<PgPool>,
    requester: Requester,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let actor = requester.actor();
    triage::remove_suppression(&pool, &actor, id)
        .await
        .map_err(AppError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Detection's thresholds as they are now (defaults where none were set).
#[utoipa::path(
    get,
    path = "/api/v1/settings/detection",
    tag = "settings",
    responses(
        (status = 200, description = "The settings", body = DetectionSettings),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn detection_settings(
    State(pool): State<PgPool>,
) -> Result<Json<DetectionSettings>, AppError> {
    settings::load(&pool)
        .await
        .map(Json)
        .map_err(AppError::from)
}

/// Changes detection's thresholds: the settings given replace the current ones, those left
/// out return to their defaults. Applies to events detected from now on (and to a backfill).
/// Role `admin`; recorded in the audit log.
#[utoipa::path(
    put,
    path = "/api/v1/settings/detection",
    tag = "settings",
    request_body = DetectionSettings,
    responses(
        (status = 200, description = "The settings now", body = DetectionSettings),
        (status = 400, description = "A setting is not valid; nothing was changed", body = ApiError),
        (status = 403, description = "The admin role is needed", body = ApiError),
    )
)]
pub async fn put_detection_settings(
    State(pool): State<PgPool>,
    requester: Requester,
    Body(settings): Body<DetectionSettings>,
) -> Result<Json<DetectionSettings>, AppError> {
    settings::save(&pool, &settings, &requester.name, Some(&requester.address))
        .await
        .map_err(AppError::from)?;
    Ok(Json(settings))
}
