//! What the benchmarks share: a database of their own, a signed-in router, latency
//! percentiles.

#![allow(dead_code)] // Each benchmark uses its own part of this.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tower::ServiceExt;
use trailkeeper::application::Application;
use trailkeeper::auth::sessions::{self, SessionPolicy};
use trailkeeper::auth::users;
use trailkeeper::config::{self, Invocation};
use trailkeeper::db::Database;
use trailkeeper::web::router;
use trailkeeper_app::Role;

pub mod load;
pub mod trail;

/// Requests measured per path, after 20 to warm up.
pub const SAMPLES: usize = 200;

/// The server's `DATABASE_URL`, which `make bench` provides.
pub fn database_url() -> anyhow::Result<String> {
    std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("DATABASE_URL is not set: run it with `make bench`"))
}

/// A database of the bench's own, migrated: its pool, and how to connect to it.
pub async fn fresh_database(
    url: &str,
    purpose: &str,
) -> anyhow::Result<(PgPool, PgConnectOptions)> {
    let name = format!("bench_{purpose}_{}", std::process::id());
    let mut admin = PgConnection::connect(url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let options = url.parse::<PgConnectOptions>()?.database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options.clone())
        .await?;
    trailkeeper::db::MIGRATOR.run(&pool).await?;
    Ok((pool, options))
}

/// A viewer limited to `scope`, signed in: their cookie.
pub async fn scoped_viewer(pool: &PgPool, scope: &str) -> anyhow::Result<String> {
    let scope = scope.parse().map_err(|error| anyhow::anyhow!("{error}"))?;
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("scoped-{made}");
    let user = users::add_scoped(
        pool,
        "bench",
        &name,
        Role::Viewer,
        Some(&scope),
        "bench password 123",
    )
    .await?;
    let session = sessions::create(pool, user.id, SessionPolicy::default(), None, None).await?;
    Ok(format!("trailkeeper_session={}", session.secret))
}

/// The router as `trailkeeper serve` builds it over `pool`'s database, with a viewer signed in:
/// the router and the viewer's cookie.
pub async fn app(pool: PgPool) -> anyhow::Result<(Router, String)> {
    app_as(pool, Role::Viewer).await
}

/// The router with someone of `role` signed in.
pub async fn app_as(pool: PgPool, role: Role) -> anyhow::Result<(Router, String)> {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("bench-{}-{made}", std::process::id());
    let user = users::add(&pool, "bench", &name, role, "bench password 123").await?;
    let session = sessions::create(&pool, user.id, SessionPolicy::default(), None, None).await?;
    let database_url = pool.connect_options().to_url_lossy().to_string();
    let data_dir = tempfile::tempdir()?;
    let command_line = [
        "trailkeeper",
        "--database-url",
        &database_url,
        "--data-dir",
        data_dir.path().to_str().expect("a UTF-8 path"),
        "serve",
        "--listen",
        "127.0.0.1:3000",
    ];
    let (settings, Invocation::Serve(serve)) = config::parse_from(command_line)? else {
        anyhow::bail!("the command line is not serve's");
    };
    let database = Database::open(&settings.database).await?;
    let context = Application::web_context(&database, &settings, *serve).await?;
    Ok((
        router(context),
        format!("trailkeeper_session={}", session.secret),
    ))
}

/// p50 and p95 of `SAMPLES` requests, after warming up.
pub async fn latency(
    (app, cookie): &(Router, String),
    path: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let mut samples = Vec::with_capacity(SAMPLES);
    for round in 0..SAMPLES + 20 {
        let request = Request::get(path)
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::COOKIE, cookie)
            .body(Body::empty())?;
        let started = Instant::now();
        let response = app.clone().oneshot(request).await?;
        let status = response.status();
        to_bytes(response.into_body(), usize::MAX).await?;
        let took = started.elapsed();
        anyhow::ensure!(status == StatusCode::OK, "{path} answered {status}");
        if round >= 20 {
            samples.push(took);
        }
    }
    samples.sort();
    Ok((samples[SAMPLES / 2], samples[SAMPLES * 95 / 100]))
}

pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
