//! `GET /healthz`: is Trailkeeper able to do its work? 200 when the database answers, 503 when
//! it does not. Load balancers ask anonymously and get only `ok` or `unavailable`: the version
//! and the database's error text would tell a stranger what to attack. A signed-in person
//! (or token) gets the details; the server log always has the error.
//!
//! For load balancers and orchestrators, liveness and readiness apart: `GET /healthz/live` is
//! 200 while the process serves at all (restart it when not); `GET /healthz/ready` is 200 only
//! when it should be sent traffic: the database answers and holds every migration this binary
//! knows (a new binary beside an old schema is not ready, nor an old one beside a newer).

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
pub struct Status {
    status: &'static str,
}

pub async fn healthz(
    State(pool): State<PgPool>,
    identity: Option<Extension<Identity>>,
) -> Response {
    let database = probe(&pool).await;
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

/// `GET /healthz/live`: the process answers. Nothing it depends on is asked, so a database
/// outage does not get every server restarted.
pub async fn live() -> Json<Status> {
    Json(Status { status: "ok" })
}

#[derive(Debug, Serialize)]
struct Readiness {
    status: &'static str,
    version: &'static str,
    database: DatabaseHealth,
    migrations: MigrationsHealth,
}

#[derive(Debug, Serialize)]
struct MigrationsHealth {
    status: &'static str,
    /// Migrations this binary knows that the database lacks.
    pending: usize,
    /// Migrations the database has that this binary does not know (a newer one migrated it).
    unknown: usize,
}

/// `GET /healthz/ready`: 200 when this server should get traffic, 503 when not; details to
/// the signed-in, as `/healthz`.
pub async fn ready(State(pool): State<PgPool>, identity: Option<Extension<Identity>>) -> Response {
    let database = probe(&pool).await;
    let migrations = match crate::db::migrations_apart(&pool).await {
        Ok((pending, unknown)) => MigrationsHealth {
            status: if pending == 0 && unknown == 0 {
                "current"
            } else {
                "mismatched"
            },
            pending,
            unknown,
        },
        Err(_) => MigrationsHealth {
            status: "unknown",
            pending: 0,
            unknown: 0,
        },
    };
    let ready = database.status == "up" && migrations.status == "current";
    let (code, status) = if ready {
        (StatusCode::OK, "ok")
    } else {
        tracing::warn!(
            database = ?database.error,
            migrations = migrations.status,
            pending = migrations.pending,
            unknown = migrations.unknown,
            "readiness check: not ready"
        );
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    if identity.is_none() {
        return (code, Json(Status { status })).into_response();
    }
    (
        code,
        Json(Readiness {
            status,
            version: env!("CARGO_PKG_VERSION"),
            database,
            migrations,
        }),
    )
        .into_response()
}

/// Whether the database answers `SELECT 1`, and how fast.
async fn probe(pool: &PgPool) -> DatabaseHealth {
    let started = Instant::now();
    let probe = tokio::time::timeout(
        DATABASE_TIMEOUT,
        sqlx::query!("SELECT 1 AS one").fetch_one(pool),
    )
    .await;
    match probe {
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
    }
}
