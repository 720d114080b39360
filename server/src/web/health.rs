//! `GET /healthz`: is Trailkeeper able to do its work? 200 when the database answers, 503 when
//! it does not. Load balancers ask anonymously and get only `ok` or `unavailable`: the version
//! and the database's error text would tell a stranger what to attack. A signed-in person
//! (or token) gets the details; the server log always has the error.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use sqlx::PgPool;
use trailkeeper_app::access::Identity;

const DATABASE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    database: DatabaseHealth,
}

#[derive(Debug, Serialize)]
struct DatabaseHealth {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// What anyone may know.
#[derive(Debug, Serialize)]
struct Status {
    status: &'static str,
}

pub async fn healthz(
    State(pool): State<PgPool>,
    identity: Option<Extension<Identity>>,
) -> Response {
    let started = Instant::now();
    let probe = tokio::time::timeout(
        DATABASE_TIMEOUT,
        sqlx::query!("SELECT 1 AS one").fetch_one(&pool),
    )
    .await;
    let database = match probe {
        Ok(Ok(_)) => DatabaseHealth {
            status: "up",
            latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            error: None,
        },
        Ok(Err(error)) => DatabaseHealth {
            status: "down",
            latency_ms: None,
            error: Some(error.to_string()),
        },
        Err(_) => DatabaseHealth {
            status: "down",
            latency_ms: None,
            error: Some(format!("no answer within {} s", DATABASE_TIMEOUT.as_secs())),
        },
    };
    let (code, status) = if database.status == "up" {
        (StatusCode::OK, "ok")
    } else {
        tracing::warn!(error = ?database.error, "health check: the database is down");
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    if identity.is_none() {
        return (code, Json(Status { status })).into_response();
    }
    (
        code,
        Json(Health {
            status,
            version: env!("CARGO_PKG_VERSION"),
            database,
        }),
    )
        .into_response()
}
