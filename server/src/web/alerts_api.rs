//! The JSON API's alerting: channels, routing rules and the delivery log. Viewing needs the
//! `auditor` role, changing `admin`; changes are recorded in the audit log, secrets never.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use trailkeeper_app::api::alerts::{
    AlertRule, Channel, ChannelChange, ChannelCreated, Delivery, DeliveryPage, DeliveryQuery,
    NewAlertRule, NewChannel,
};

use super::api::{Body, Requester};
use crate::alert::Alerting;
use crate::alert::log;
use crate::alert::{deliver, setup};
use trailkeeper_app::AppError;
use trailkeeper_app::error::ApiError;

/// The channels, by name; their secrets are named, never shown.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/channels",
    tag = "alerts",
    responses(
        (status = 200, description = "Every channel", body = Vec<Channel>),
        (status = 403, description = "The auditor role is needed", body = ApiError),
    )
)]
pub async fn channels(State(pool): State<PgPool>) -> Result<Json<Vec<Channel>>, AppError> {
    Ok(Json(setup::list_channels(&pool).await?))
}

/// Adds a channel: `{"kind": "webhook" | "slack" | "email" | "sns", "name": …, "config": {…},
/// "min_severity": …}`. Settings that cannot work are refused by name; secrets are sealed
/// and never shown again. With `min_severity`, the catch-all rule for it is made too. A
/// webhook given no `signing_key` gets one, in this answer only. Role `admin`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/channels",
    tag = "alerts",
    request_body = NewChannel,
    responses(
        (status = 201, description = "The channel, and what was made with it", body = ChannelCreated),
        (status = 400, description = "The channel's settings cannot work", body = ApiError),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 409, description = "A channel has that name", body = ApiError),
    )
)]
pub async fn add_channel(
    State(pool): State<PgPool>,
    State(alerting): State<Arc<Alerting>>,
    requester: Requester,
    Body(new): Body<NewChannel>,
) -> Result<(StatusCode, Json<ChannelCreated>), AppError> {
    let actor = requester.actor();
    setup::add_channel(&pool, &alerting.key, &alerting.senders, &actor, new)
        .await
        .map(|created| (StatusCode::CREATED, Json(created)))
}

/// Renames, reconfigures, disables (`"enabled": false`) or enables a channel. Secret settings
/// left out of `config` keep their saved values. Role `admin`.
#[utoipa::path(
    patch,
    path = "/api/v1/alerts/channels/{id}",
    tag = "alerts",
    params(("id" = i64, Path, description = "The channel's id")),
    request_body = ChannelChange,
    responses(
        (status = 200, description = "The channel now", body = Channel),
        (status = 400, description = "The new settings cannot work; nothing was changed", body = ApiError),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 404, description = "No such channel", body = ApiError),
    )
)]
pub async fn change_channel(
    State(pool): State<PgPool>,
    State(alerting): State<Arc<Alerting>>,
    requester: Requester,
    Path(id): Path<i64>,
    Body(change): Body<ChannelChange>,
) -> Result<Json<Channel>, AppError> {
    let actor = requester.actor();
    setup::change_channel(&pool, &alerting.key, &alerting.senders, &actor, id, change)
        .await
        .map(Json)
}

/// Removes a channel with its delivery log; rules left with no channel go too. Role `admin`.
#[utoipa::path(
    delete,
    path = "/api/v1/alerts/channels/{id}",
    tag = "alerts",
    params(("id" = i64, Path, description = "The channel's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 404, description = "No such channel", body = ApiError),
    )
)]
pub async fn remove_channel(
    State(pool): State<PgPool>,
    requester: Requester,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let actor = requester.actor();
    setup::remove_channel(&pool, &actor, id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Sends a test message to a channel now and answers with the delivery: `delivered`, or
/// `dead` with the receiver's answer or the error. A test is not retried. Role `admin`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/channels/{id}/test",
    tag = "alerts",
    params(("id" = i64, Path, description = "The channel's id")),
    responses(
        (status = 200, description = "How the test went", body = Delivery),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 404, description = "No such channel", body = ApiError),
    )
)]
pub async fn test_channel(
    State(pool): State<PgPool>,
    State(alerting): State<Arc<Alerting>>,
    requester: Requester,
    Path(id): Path<i64>,
) -> Result<Json<Delivery>, AppError> {
    let actor = requester.actor();
    deliver::test_channel(&pool, &alerting, &actor, id)
        .await
        .map(Json)
}

/// The routing rules, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/rules",
    tag = "alerts",
    responses(
        (status = 200, description = "Every rule", body = Vec<AlertRule>),
        (status = 403, description = "The auditor role is needed", body = ApiError),
    )
)]
pub async fn rules(State(pool): State<PgPool>) -> Result<Json<Vec<AlertRule>>, AppError> {
    Ok(Json(setup::list_rules(&pool).await?))
}

/// Adds a routing rule: findings at or above `min_severity`, of `kinds` (all when empty),
/// matching `secret_pattern`, `secret_tag` (`key` or `key=value`) and `principal_pattern`
/// (`*` wildcards) go to `channel_ids`, at once or every `digest_minutes`. Role `admin`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/rules",
    tag = "alerts",
    request_body = NewAlertRule,
    responses(
        (status = 201, description = "The rule's id", body = Object),
        (status = 400, description = "The rule is not valid", body = ApiError),
        (status = 403, description = "The admin role is needed", body = ApiError),
    )
)]
pub async fn add_rule(
    State(pool): State<PgPool>,
    requester: Requester,
    Body(rule): Body<NewAlertRule>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let actor = requester.actor();
    let id = setup::add_rule(&pool, &actor, rule).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// Removes a routing rule. Role `admin`.
#[utoipa::path(
    delete,
    path = "/api/v1/alerts/rules/{id}",
    tag = "alerts",
    params(("id" = i64, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 404, description = "No such rule", body = ApiError),
    )
)]
pub async fn remove_rule(
    State(pool): State<PgPool>,
    requester: Requester,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let actor = requester.actor();
    setup::remove_rule(&pool, &actor, id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// The delivery log, newest first: each message with its channel, findings, status and
/// every attempt (when, response code, error, latency).
#[utoipa::path(
    get,
    path = "/api/v1/alerts/deliveries",
    tag = "alerts",
    params(
        ("status" = Option<String>, Query, description = "`collecting`, `pending`, `delivered` or `dead`"),
        ("channel" = Option<i64>, Query, description = "A channel's id"),
        ("finding" = Option<i64>, Query, description = "Deliveries about this finding"),
        ("since" = Option<String>, Query, description = "Made at or after this time (RFC 3339)"),
        ("until" = Option<String>, Query, description = "Made before this time (RFC 3339)"),
        ("cursor" = Option<String>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 1000 (default 50)"),
    ),
    responses(
        (status = 200, description = "One page of deliveries", body = DeliveryPage),
        (status = 400, description = "A parameter is not valid", body = ApiError),
        (status = 403, description = "The auditor role is needed", body = ApiError),
    )
)]
pub async fn deliveries(
    State(pool): State<PgPool>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeliveryPage>, AppError> {
    let query = DeliveryQuery::parse(query.as_deref().unwrap_or_default())
        .map_err(|error| AppError::invalid(error.0))?;
    log::list(&pool, &query).await.map(Json)
}

/// Sends a dead delivery again, with a fresh day of retries. Role `admin`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/deliveries/{id}/retry",
    tag = "alerts",
    params(("id" = String, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery, pending again", body = Delivery),
        (status = 403, description = "The admin role is needed", body = ApiError),
        (status = 404, description = "No such delivery", body = ApiError),
        (status = 409, description = "The delivery is not dead", body = ApiError),
    )
)]
pub async fn retry_delivery(
    State(pool): State<PgPool>,
    requester: Requester,
    Path(id): Path<String>,
) -> Result<Json<Delivery>, AppError> {
    let actor = requester.actor();
    log::retry(&pool, &actor, &id).await?;
    log::get(&pool, &id).await.map(Json)
}
