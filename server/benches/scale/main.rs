//! `make bench SCALE=10m`: a year of an organisation — 10 000 000 events over 12 months,
//! 30 000 secrets in 3 accounts × 3 regions, 2 000 roles — on a real PostgreSQL
//! (DATABASE_URL, in a database of its own; `SCALE=1m` is the same estate with a tenth of
//! the events). Prints, measured in the same run:
//! - the load: gzip trail files written, then `trailkeeper ingest` of them (live detection
//!   on) against `psql \copy` of the same rows into the same table, peak memory at a tenth
//!   and at all of it, and a tenth again with live detection off against `psql \copy` of
//!   that tenth (the median of three rounds); storage per million;
//! - every page and API list, p50/p95 server-side (warm), beside the p95 of the same reads
//!   run directly through sqlx (what the page's server functions call, on one connection),
//!   with the plan of each statement (auto_explain);
//! - an export of a million events: rows/s and the server's memory;
//! - detection's backfill over everything: events/s and the detector state's size;
//! - retention: dropping the oldest month, and the pages right after.
//!
//! The store is kept (database `bench_scale_SCALE`, trail under the target directory) when
//! DATABASE_URL outlives the run, and reused by the next run of the same scale and schema.

#[path = "../common/mod.rs"]
mod common;
mod pages;
mod throughput;

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Datelike, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

use common::load::{copy_round_trip, ingest, settle};
use common::trail::{Estate, Trail};
use common::{database_url, millis};

const DAYS: usize = 365;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (label, events) = scale()?;
    let estate = Estate {
        accounts: vec![
            "111111111111".into(),
            "222222222222".into(),
            "333333333333".into(),
        ],
        regions: &["us-east-1", "eu-west-1", "ap-southeast-1"],
        secrets: 3_334,
        roles: 667,
    };
    let url = database_url()?;
    let name = format!("bench_scale_{label}");
    let latest = trailkeeper::db::MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or_default();
    let fingerprint = format!("{events} events over {DAYS} days, schema {latest}");
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("scale-{label}"));
    let (pool, database, trail) = match reusable(&url, &name, &fingerprint, &work).await? {
        Some(store) => {
            println!("reusing the {label} store in database {name} ({fingerprint})");
            store
        }
        None => load(&url, &name, &fingerprint, &work, &estate, events).await?,
    };
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    // A partitioned table has no storage of its own: its partitions'.
    let size: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(pg_total_relation_size(inhrelid)), 0)::bigint \
         FROM pg_inherits WHERE inhparent = 'events'::regclass",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "store: {stored} events, {:.0} MB with their indexes = {:.0} MB per million events",
        size as f64 / 1e6,
        size as f64 / 1e6 / (stored as f64 / 1e6)
    );

    pages::measure(&pool, &estate).await?;
    throughput::measure(&pool).await?;
    pages::export(&pool, stored).await?;
    backfill(&pool, stored).await?;
    retention(&pool, &database, &estate, &trail).await?;
    Ok(())
}

/// `TRAILKEEPER_BENCH_SCALE` (`10m` unless set): its label and how many events it means.
fn scale() -> anyhow::Result<(String, usize)> {
    let label = std::env::var("TRAILKEEPER_BENCH_SCALE").unwrap_or_else(|_| "10m".into());
    let (number, unit) = label.split_at(label.len().saturating_sub(1));
    let multiplier = match unit {
        "m" => 1_000_000,
        "k" => 1_000,
        _ => anyhow::bail!("SCALE={label}: give a number of events with k or m, like 10m"),
    };
    let events = number
        .parse::<usize>()
        .map_err(|_| anyhow::anyhow!("SCALE={label}: give a number of events, like 10m"))?;
    Ok((label, events * multiplier))
}

/// The store a previous run of this scale left, if it is whole and of this schema.
async fn reusable(
    url: &str,
    name: &str,
    fingerprint: &str,
    work: &std::path::Path,
) -> anyhow::Result<Option<(PgPool, PgConnectOptions, Trail)>> {
    let mut admin = PgConnection::connect(url).await?;
    let comment: Option<Option<String>> = sqlx::query_scalar(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
    )
    .bind(name)
    .fetch_optional(&mut admin)
    .await?;
    let Some(trail) = Trail::read(work)? else {
        return Ok(None);
    };
    if comment.flatten().as_deref() != Some(fingerprint) {
        return Ok(None);
    }
    let options = url.parse::<PgConnectOptions>()?.database(name);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options.clone())
        .await?;
    Ok(Some((pool, options, trail)))
}

/// Writes the trail and loads it into a new database `name`: the ingest measured against
/// `psql \copy`, with its memory, and a tenth again with live detection off.
async fn load(
    url: &str,
    name: &str,
    fingerprint: &str,
    work: &std::path::Path,
    estate: &Estate,
    events: usize,
) -> anyhow::Result<(PgPool, PgConnectOptions, Trail)> {
    let mut admin = PgConnection::connect(url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    if work.exists() {
        std::fs::remove_dir_all(work)?;
    }
    std::fs::create_dir_all(work)?;

    let end = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let progress = ProgressBar::new(events as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {human_pos}/{human_len} events written, {eta} left",
    )?);
    let started = Instant::now();
    let trail = estate.write_trail(&work.join("trail"), end, DAYS, events, &progress)?;
    progress.finish_and_clear();
    trail.write(work)?;
    println!(
        "wrote {events} events as {} gzip trail files ({:.0} MB) in {:.0} s",
        trail.files,
        trail.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // A tenth of the days with live detection off against `\copy` of the same tenth, in
    // rounds: one round of a few seconds moves with whatever else the machine does.
    let tenth: Vec<&PathBuf> = trail.days[..DAYS / 10].iter().flatten().collect();
    let mut rounds = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        println!(
            "round {round} of {ROUNDS}: a tenth of the days with live detection off, then \
             psql \\copy of its rows…"
        );
        let measured = tenth_without_detection(url, &mut admin, work, estate, &tenth).await?;
        println!(
            "  {} events: ingest {:.0} events/s, \\copy {:.0} events/s: {:.2}×",
            measured.events,
            measured.ingest_rate,
            measured.copy_rate,
            measured.ratio()
        );
        rounds.push(measured);
    }
    rounds.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
    let off = &rounds[ROUNDS / 2];

    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let database = url.parse::<PgConnectOptions>()?.database(name);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(database.clone())
        .await?;
    trailkeeper::db::MIGRATOR.run(&pool).await?;
    estate.seed_inventory(&pool).await?;
    let all: Vec<&PathBuf> = trail.days.iter().flatten().collect();
    let scratch = tempfile::tempdir_in(work)?;
    settle(&pool).await?;
    println!("ingesting all {events} events with live detection on…");
    let on = ingest(&database, &all, scratch.path(), Some(trail.files / 10))?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        stored as usize == events,
        "the ingest stored {stored} of {events} events"
    );
    let ingest_rate = events as f64 / on.took.as_secs_f64();
    println!(
        "trailkeeper ingest, live detection on: {events} events in {:.0} s = \
         {ingest_rate:.0} events/s; a tenth with live detection off, the median of {ROUNDS} \
         rounds: {:.0} events/s against psql \\copy of the same tenth's rows at {:.0}: {:.2}× \
         (target ≥ 0.7×; the rounds ranged {:.2}–{:.2}×)",
        on.took.as_secs_f64(),
        off.ingest_rate,
        off.copy_rate,
        off.ratio(),
        rounds[0].ratio(),
        rounds[ROUNDS - 1].ratio()
    );
    println!(
        "peak memory of the ingest process: {:.0} MB after a tenth of the files, {:.0} MB \
         after all of them (live detection off, a tenth: {:.0} MB)",
        on.early_peak_kb.unwrap_or_default() as f64 / 1024.0,
        on.peak_kb as f64 / 1024.0,
        off.peak_kb as f64 / 1024.0
    );

    settle(&pool).await?;
    println!("psql \\copy of the same rows…");
    let copy_rate = zstd_copy_round_trip(&database, work, events)?;
    println!(
        "psql \\copy of the same rows, pre-flattened: {copy_rate:.0} events/s; trailkeeper \
         ingest with live detection on runs at {:.2}× that (target ≥ 0.7×)",
        ingest_rate / copy_rate
    );
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    sqlx::query(&format!("COMMENT ON DATABASE {name} IS '{fingerprint}'"))
        .execute(&pool)
        .await?;
    Ok((pool, database, trail))
}

/// Rounds of the tenth with live detection off.
const ROUNDS: usize = 3;

/// One round of the tenth with live detection off.
struct Tenth {
    events: i64,
    ingest_rate: f64,
    copy_rate: f64,
    peak_kb: u64,
}

impl Tenth {
    fn ratio(&self) -> f64 {
        self.ingest_rate / self.copy_rate
    }
}

/// `trailkeeper ingest` of `tenth` with live detection off into a database of its own, an
/// estate assessed as a sync leaves it, then `psql \copy` of the same rows into the same
/// table: the table's size (its indexes' depth) moves \copy's rate too.
async fn tenth_without_detection(
    url: &str,
    admin: &mut PgConnection,
    work: &std::path::Path,
    estate: &Estate,
    tenth: &[&PathBuf],
) -> anyhow::Result<Tenth> {
    let (quiet, quiet_database) = common::fresh_database(url, "scale_tenth").await?;
    estate.seed_inventory(&quiet).await?;
    sqlx::query(
        "INSERT INTO settings (area, value, updated_by) \
         VALUES ('detection', '{\"live\": false}', 'bench')",
    )
    .execute(&quiet)
    .await?;
    let scratch = tempfile::tempdir_in(work)?;
    settle(&quiet).await?;
    let ingested = ingest(&quiet_database, tenth, scratch.path(), None)?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&quiet)
        .await?;
    settle(&quiet).await?;
    let copy_rate = zstd_copy_round_trip(&quiet_database, work, events as usize)?;
    quiet.close().await;
    sqlx::query(&format!(
        "DROP DATABASE {} WITH (FORCE)",
        quiet_database.get_database().unwrap_or_default()
    ))
    .execute(admin)
    .await?;
    Ok(Tenth {
        events,
        ingest_rate: events as f64 / ingested.took.as_secs_f64(),
        copy_rate,
        peak_kb: ingested.peak_kb,
    })
}

/// `psql \copy` of the database's events out and back in, compressed on disk (at this size
/// they would not fit flat): zstd's decompression costs a fraction of a core beside the COPY.
fn zstd_copy_round_trip(
    database: &PgConnectOptions,
    work: &std::path::Path,
    events: usize,
) -> anyhow::Result<f64> {
    let file = work.join("events.csv.zst");
    let rate = copy_round_trip(database, &file, "zstd -1 -q -T0", "zstd -d -q -c", events)?;
    std::fs::remove_file(file)?;
    Ok(rate)
}

/// Detection's backfill over every stored event.
async fn backfill(pool: &PgPool, stored: i64) -> anyhow::Result<()> {
    let progress = ProgressBar::new(stored as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {human_pos}/{human_len} events through detection, {eta} left",
    )?);
    let started = Instant::now();
    let done =
        trailkeeper::detect::backfill::backfill(pool, None, None, |n| progress.set_position(n))
            .await?;
    progress.finish_and_clear();
    let took = started.elapsed();
    // The rows the backfill kept: those it forgot leave space PostgreSQL reuses.
    let (state_rows, state_bytes): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(pg_column_size(memory.*)), 0)::bigint \
         FROM detector_state memory",
    )
    .fetch_one(pool)
    .await?;
    println!(
        "detect --backfill: {} events in {:.0} s = {:.0} events/s, {} findings opened; \
         detector state: {state_rows} rows, {:.1} MB ({} memories past their use forgotten)",
        done.events,
        took.as_secs_f64(),
        done.events as f64 / took.as_secs_f64(),
        done.findings.opened,
        state_bytes as f64 / 1e6,
        done.forgotten
    );
    Ok(())
}

/// Drops the oldest month, measures the pages right after, then ingests the month again so
/// the store stays whole for the next run.
async fn retention(
    pool: &PgPool,
    database: &PgConnectOptions,
    estate: &Estate,
    trail: &Trail,
) -> anyhow::Result<()> {
    let oldest: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT min(event_time) FROM events")
        .fetch_one(pool)
        .await?;
    let next_month = oldest
        .date_naive()
        .with_day(1)
        .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
        .expect("a month follows")
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let started = Instant::now();
    let dropped = trailkeeper::ingest::partitions::drop_before(pool, next_month).await?;
    println!(
        "retention: dropping {} ({}) took {:.1} ms",
        dropped.join(", "),
        oldest.format("%B %Y"),
        millis(started.elapsed())
    );
    pages::after_retention(pool, estate).await?;

    let month: Vec<&PathBuf> = trail
        .days
        .iter()
        .flatten()
        .filter(|dir| Trail::day_of(dir).is_some_and(|day| day < next_month))
        .collect();
    let scratch = tempfile::tempdir()?;
    ingest(database, &month, scratch.path(), None)?;
    Ok(())
}
