//! `make bench`: CloudTrail ingestion at a million events, on a real PostgreSQL
//! (DATABASE_URL, in databases of its own). Writes a month of Secrets Manager events as
//! gzip trail files, then prints, measured in the same run:
//! - `trailkeeper ingest` on those files, end to end (a real process: gunzip, parse,
//!   normalise, resolve secrets, COPY, dedup against the unique index, every index on);
//! - `psql \copy` of the same rows, already flattened, into the same empty table — the
//!   machine's limit — and the ratio between the two;
//! - one `INSERT` per row on a sample, the way not to do it;
//! - the ingest process's peak memory on a quarter of the files and on all of them (flat
//!   memory means the two are close);
//! - the explorer page's p50/p95 for three typical filters, and the plan of each.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use sqlx::PgPool;
use trailkeeper::events::read::explain_list;
use trailkeeper_app::api::events::{ErrorFilter, EventQuery, TimeRange};

use common::load::{EVENT_COLUMNS, copy_round_trip, ingest, settle};
use common::trail::Estate;
use common::{SAMPLES, app, database_url, fresh_database, latency, millis};

const EVENTS: usize = 1_000_000;
const DAYS: usize = 28;
/// Rows inserted one statement at a time.
const ROW_BY_ROW: usize = 20_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = database_url()?;
    let estate = Estate {
        accounts: vec!["123456789012".into()],
        regions: &["us-east-1", "eu-west-1", "ap-southeast-1"],
        secrets: 300,
        roles: 60,
    };
    // Whole days, so each region's day is one directory; the last ends at midnight.
    let end = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let scratch = tempfile::Builder::new()
        .prefix("trailkeeper-bench-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let started = Instant::now();
    let trail = estate.write_trail(
        scratch.path(),
        end,
        DAYS,
        EVENTS,
        &indicatif::ProgressBar::hidden(),
    )?;
    println!(
        "wrote {EVENTS} events as {} gzip trail files ({:.0} MB) in {:.1} s",
        trail.files,
        trail.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // A quarter of the files, then all of them, each into an empty database.
    let quarter_days: Vec<&PathBuf> = trail.days[..DAYS / 4].iter().flatten().collect();
    let all_days: Vec<&PathBuf> = trail.days.iter().flatten().collect();
    let (quarter_pool, quarter_db) = fresh_database(&url, "ingest_quarter").await?;
    estate.seed_inventory(&quarter_pool).await?;
    settle(&quarter_pool).await?;
    let quarter = ingest(&quarter_db, &quarter_days, scratch.path(), None)?;
    let (pool, database) = fresh_database(&url, "ingest").await?;
    estate.seed_inventory(&pool).await?;
    settle(&pool).await?;
    let full = ingest(&database, &all_days, scratch.path(), None)?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        stored as usize == EVENTS,
        "the ingest stored {stored} of {EVENTS} events"
    );
    let resolved: i64 = sqlx::query_scalar("SELECT count(secret_arn) FROM events")
        .fetch_one(&pool)
        .await?;
    let ingest_rate = EVENTS as f64 / full.took.as_secs_f64();
    println!(
        "trailkeeper ingest: {EVENTS} events in {:.1} s = {ingest_rate:.0} events/s \
         ({resolved} resolved to their secret)",
        full.took.as_secs_f64()
    );

    settle(&pool).await?;
    // The same rows, flattened, through psql's \copy into the same (emptied) table.
    let copy_rate = copy_round_trip(
        &database,
        &scratch.path().join("events.csv"),
        "cat",
        "cat",
        EVENTS,
    )?;
    println!(
        "psql \\copy of the same rows, pre-flattened: {copy_rate:.0} events/s; \
         trailkeeper ingest runs at {:.2}× that (target ≥ 0.7×)",
        ingest_rate / copy_rate
    );

    let row_rate = row_by_row(&pool, EVENT_COLUMNS).await?;
    println!(
        "one INSERT per row ({ROW_BY_ROW} rows): {row_rate:.0} events/s \
         (trailkeeper ingest: {:.1}× faster)",
        ingest_rate / row_rate
    );
    println!(
        "peak memory of the ingest process: {:.0} MB for {} events, {:.0} MB for {EVENTS}",
        quarter.peak_kb as f64 / 1024.0,
        EVENTS / 4,
        full.peak_kb as f64 / 1024.0
    );

    sqlx::query("ANALYZE events").execute(&pool).await?;
    let secret = estate.secret_arn(&estate.accounts[0], estate.regions[0], 7);
    let principal = estate.role_arn(&estate.accounts[0], 3);
    let app = app(pool.clone()).await?;
    for (what, query) in [
        (
            "one secret, last 30 days",
            EventQuery {
                secret: Some(secret),
                range: Some(TimeRange::LastMonth),
                ..EventQuery::default()
            },
        ),
        (
            "one principal, last 7 days",
            EventQuery {
                principal: Some(principal),
                range: Some(TimeRange::LastWeek),
                ..EventQuery::default()
            },
        ),
        (
            "any error, last 24 hours",
            EventQuery {
                error: Some(ErrorFilter::Any),
                range: Some(TimeRange::LastDay),
                ..EventQuery::default()
            },
        ),
    ] {
        let path = format!("/events?{}", query.to_query_string());
        let (p50, p95) = latency(&app, &path).await?;
        println!(
            "explorer page at {EVENTS} events, {what}: p50 {:.1} ms, p95 {:.1} ms \
             over {SAMPLES} requests ({path})",
            millis(p50),
            millis(p95)
        );
        for line in explain_list(&mut *pool.acquire().await?, &query, Utc::now()).await? {
            println!("    {line}");
        }
    }
    Ok(())
}

/// Takes `ROW_BY_ROW` stored events out and puts them back one INSERT each, as a naive
/// ingest would.
async fn row_by_row(pool: &PgPool, columns: &str) -> anyhow::Result<f64> {
    let list: Vec<&str> = columns.split(", ").map(str::trim).collect();
    let rows: Vec<Vec<Option<String>>> = sqlx::query_scalar::<_, Vec<Option<String>>>(&format!(
        "DELETE FROM events WHERE (event_id, event_time) IN \
             (SELECT event_id, event_time FROM events LIMIT {ROW_BY_ROW}) \
         RETURNING ARRAY[{}]",
        list.iter()
            .map(|column| format!("{column}::text"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .fetch_all(pool)
    .await?;
    let casts = [
        ("event_time", "timestamptz"),
        ("source_ip", "inet"),
        ("read_only", "boolean"),
        ("raw", "jsonb"),
    ];
    let values: Vec<String> = list
        .iter()
        .enumerate()
        .map(
            |(index, column)| match casts.iter().find(|(name, _)| name == column) {
                Some((_, kind)) => format!("${}::{kind}", index + 1),
                None => format!("${}", index + 1),
            },
        )
        .collect();
    let insert = format!(
        "INSERT INTO events ({columns}) VALUES ({}) ON CONFLICT DO NOTHING",
        values.join(", ")
    );
    let started = Instant::now();
    for row in &rows {
        let mut query = sqlx::query(&insert);
        for value in row {
            query = query.bind(value);
        }
        query.execute(pool).await?;
    }
    Ok(rows.len() as f64 / started.elapsed().as_secs_f64())
}
