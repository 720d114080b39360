//! `make bench`: the inventory at 10 000 secrets, on a real PostgreSQL (DATABASE_URL, in a
//! database of its own). Prints the sync's store throughput (diffing and storing described
//! secrets, no AWS latency), and the server-side latency of the Secrets page and the list API
//! (through the real router, warm): p50 and p95.

use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::primitives::DateTime as AwsDateTime;
use aws_sdk_secretsmanager::types::{
    RotationRulesType, SecretListEntry, SecretVersionsListEntry, Tag,
};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tower::ServiceExt;
use trailkeeper::auth::sessions::{self, SessionPolicy};
use trailkeeper::auth::sign_in::SignInLimits;
use trailkeeper::auth::users;
use trailkeeper::inventory::assess::reassess;
use trailkeeper::inventory::status::StatusThresholds;
use trailkeeper::inventory::sync::{Described, store};
use trailkeeper::web::{AuthSettings, WebContext, router};
use trailkeeper_app::Role;
use trailkeeper_app::api::overview::AwsTarget;

const SECRETS: usize = 10_000;
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const SAMPLES: usize = 200;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("DATABASE_URL is not set: run it with `make bench`"))?;
    let pool = fresh_database(&url).await?;

    let described: Vec<(String, Described)> = (0..SECRETS).map(secret).collect();
    let started = Instant::now();
    for (region, secret) in &described {
        store(&pool, region, secret).await?;
    }
    let stored = started.elapsed();
    let started = Instant::now();
    reassess(&pool, None, Utc::now(), StatusThresholds::default()).await?;
    let assessed = started.elapsed();
    println!(
        "sync store: {SECRETS} described secrets diffed and stored in {:.2} s = {:.0} secrets/s \
         (assessing them all: {} ms)",
        stored.as_secs_f64(),
        SECRETS as f64 / stored.as_secs_f64(),
        assessed.as_millis()
    );

    let app = app(pool.clone()).await?;
    for (what, path) in [
        ("Secrets page, first page", "/secrets"),
        ("Secrets page, search", "/secrets?q=team%3Dpayments"),
        (
            "Secrets page, status filter sorted by last rotation",
            "/secrets?status=healthy&sort=last_rotated&order=desc",
        ),
        ("list API, 1000 per page", "/api/v1/secrets?limit=1000"),
    ] {
        let (p50, p95) = latency(&app, path).await?;
        println!(
            "{what} at {SECRETS} secrets: p50 {:.1} ms, p95 {:.1} ms ({path})",
            millis(p50),
            millis(p95)
        );
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A database of the bench's own, migrated.
async fn fresh_database(url: &str) -> anyhow::Result<PgPool> {
    let name = format!("bench_inventory_{}", std::process::id());
    let mut admin = PgConnection::connect(url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let mut options: sqlx::postgres::PgConnectOptions = url.parse()?;
    options = options.database(&name);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    trailkeeper::db::MIGRATOR.run(&pool).await?;
    Ok(pool)
}

fn at(days_ago: i64) -> AwsDateTime {
    AwsDateTime::from_secs((Utc::now() - chrono::Duration::days(days_ago)).timestamp())
}

/// The n-th secret of a varied estate: teams, environments, rotation schedules, versions.
fn secret(n: usize) -> (String, Described) {
    let region = REGIONS[n % REGIONS.len()];
    let team = ["payments", "identity", "data", "platform", "search"][n % 5];
    let name = format!("{}/{team}/app-{n:05}/db", ["prod", "staging"][n % 2]);
    let arn = format!("arn:aws:secretsmanager:{region}:123456789012:secret:{name}-{n:06}");
    let rotated = (!n.is_multiple_of(4)).then_some((n % 120) as i64);
    let mut entry = SecretListEntry::builder()
        .arn(&arn)
        .name(&name)
        .description(format!("Database credentials for app {n}"))
        .created_date(at(200))
        .last_changed_date(at(3))
        .tags(Tag::builder().key("team").value(team).build())
        .tags(
            Tag::builder()
                .key("env")
                .value(["prod", "staging"][n % 2])
                .build(),
        )
        .rotation_enabled(rotated.is_some());
    if let Some(days) = rotated {
        entry = entry.last_rotated_date(at(days)).rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        );
    }
    let versions = (0..3)
        .map(|v| {
            let labels: &[&str] = match v {
                0 => &["AWSCURRENT"],
                1 => &["AWSPREVIOUS"],
                _ => &[],
            };
            let mut version = SecretVersionsListEntry::builder()
                .version_id(format!("{n:08x}-0000-4000-8000-{v:012x}"))
                .created_date(at(30 * v));
            for label in labels {
                version = version.version_stages(*label);
            }
            version.build()
        })
        .collect();
    (
        region.to_string(),
        Described::new(entry.build(), versions, None),
    )
}

async fn app(pool: PgPool) -> anyhow::Result<(Router, String)> {
    let user = users::add(&pool, "bench", "bench", Role::Viewer, "bench password 123").await?;
    let session = sessions::create(&pool, user.id, SessionPolicy::default(), None, None).await?;
    let app = router(WebContext {
        pool,
        database_location: "bench database".into(),
        aws: AwsTarget {
            region: None,
            endpoint: None,
        },
        listen: "127.0.0.1:3000".parse()?,
        auth: AuthSettings {
            sessions: SessionPolicy::default(),
            limits: SignInLimits::default(),
            tls: false,
        },
        sso: None,
    });
    Ok((app, format!("trailkeeper_session={}", session.secret)))
}

/// p50 and p95 of `SAMPLES` requests, after warming up.
async fn latency(
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
