//! `GET /healthz`: is Trailkeeper able to do its work? 200 when the database answers, 503 when
//! it does not. Load balancers ask anonymously and get only `ok` or `unavailable`: the version
//! and the database's error text would tell a stranger what to attack. A signed-in person
//! (or token) gets the details; the server log always has the error.
//!
//! For load balancers and orchestrators, liveness and readiness apart: `GET /healthz/live` is
//! 200 while the process serves at all (restart it when not); `GET /healthz/ready` is 200 only
//! when it should be sent traffic: the database answers and holds every migration this binary
//! knows (a new binary beside an old schema is not ready, nor an old one beside a newer), and
//! its read replica, if it has one, answers within `TRAILKEEPER_READ_MAX_LAG` of the primary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use sqlx::PgPool;
use trailkeeper_app::access::Identity;

use super::replica::{Replica, lag};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<ReplicaHealth>,
}

#[derive(Debug, Serialize)]
struct ReplicaHealth {
    /// `up`, `lagging` (further behind than allowed) or `down`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lag_seconds: Option<f64>,
    max_lag_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
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
pub async fn ready(
    State(pool): State<PgPool>,
    State(replica): State<Option<Arc<Replica>>>,
    identity: Option<Extension<Identity>>,
) -> Response {
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
    let replica = match replica {
        Some(replica) => Some(replica_health(&pool, &replica).await),
        None => None,
    };
    let ready = database.status == "up"
        && migrations.status == "current"
        && replica
            .as_ref()
            .is_none_or(|replica| replica.status == "up");
    let (code, status) = if ready {
        (StatusCode::OK, "ok")
    } else {
        tracing::warn!(
            database = ?database.error,
            migrations = migrations.status,
            replica = replica.as_ref().map(|replica| replica.status),
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
            replica,
        }),
    )
        .into_response()
}

/// How far behind the primary the replica is, against how far it may be.
async fn replica_health(primary: &PgPool, replica: &Replica) -> ReplicaHealth {
    let max_lag_seconds = replica.max_lag.as_secs_f64();
    match answer(lag(primary, &replica.pool)).await {
        Ok(lag) => ReplicaHealth {
            status: if lag <= replica.max_lag {
                "up"
            } else {
                "lagging"
            },
            lag_seconds: Some(lag.as_secs_f64()).filter(|seconds| seconds.is_finite()),
            max_lag_seconds,
            error: None,
        },
        Err(error) => ReplicaHealth {
            status: "down",
            lag_seconds: None,
            max_lag_seconds,
            error: Some(error),
        },
    }
}

/// What a database answered within `DATABASE_TIMEOUT`, or why there is no answer.
async fn answer<T>(
    query: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(DATABASE_TIMEOUT, query).await {
        Ok(answered) => answered.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no answer within {} s", DATABASE_TIMEOUT.as_secs())),
    }
}

/// Whether the database answers `SELECT 1`, and how fast.
async fn probe(pool: &PgPool) -> DatabaseHealth {
    let started = Instant::now();
    match answer(sqlx::query!("SELECT 1 AS one").fetch_one(pool)).await {
        Ok(_) => DatabaseHealth {
            status: "up",
            latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            error: None,
        },
        Err(error) => DatabaseHealth {
            status: "down",
            latency_ms: None,
            error: Some(error),
        },
    }
}
