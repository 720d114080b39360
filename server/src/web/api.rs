//! The JSON API under `/api/v1/`, for automation: it authenticates with
//! `Authorization: Bearer TOKEN` (or a browser session) and answers JSON only. Its OpenAPI
//! document is generated from the handlers and types below.

use axum::Json;
use axum::extract::Extension;
use serde::Serialize;
use trailkeeper_app::access::{Credential, Identity};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trailkeeper API",
        description = "Metadata and audit trail of AWS Secrets Manager secrets. Every request \
                       needs `Authorization: Bearer TOKEN` with a token made by \
                       `trailkeeper token create`; the token's role decides what it may do."
    ),
    paths(me, openapi_document),
    components(schemas(Me, ApiError)),
    modifiers(&BearerAuthentication),
    security(("bearer" = []))
)]
pub struct ApiDocument;

struct BearerAuthentication;

impl Modify for BearerAuthentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// Who the request authenticated as.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user's or the token's name.
    #[schema(example = "ci-exporter")]
    pub name: String,
    /// `viewer`, `auditor` or `admin`.
    #[schema(value_type = String, example = "auditor")]
    pub role: trailkeeper_app::Role,
    /// `token` for an API token, `session` for a browser session.
    #[schema(value_type = String, example = "token")]
    pub credential: Credential,
}

/// Every error the API returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// What went wrong, for people.
    #[schema(example = "sign in required")]
    pub error: String,
}

/// Who am I, and with which role.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "identity",
    responses(
        (status = 200, description = "The caller's identity", body = Me),
        (status = 401, description = "No valid token or session", body = ApiError),
    )
)]
pub async fn me(Extension(identity): Extension<Identity>) -> Json<Me> {
    Json(Me {
        name: identity.name,
        role: identity.role,
        credential: identity.credential,
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API"))
)]
pub async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDocument::openapi())
}
