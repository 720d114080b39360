//! `make bench`: detection on the labelled scenario month (`trailkeeper-scenarios`), on a
//! real PostgreSQL (DATABASE_URL, in databases of its own). Prints, measured in one run:
//! - `trailkeeper ingest` of the month with live detection off and on, and the slowdown
//!   detection costs (target ≤ 20 %);
//! - a backfill's throughput: events per second through every detector;
//! - the scenario suite's recall (incidents found, with the right principal and secret) and
//!   its false findings per 100 000 benign events.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use trailkeeper::detect::backfill::backfill;
use trailkeeper_scenarios::Month;

use common::{database_url, fresh_database};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = database_url()?;
    let month = Month::generate(Utc::now() - chrono::Duration::days(40), 20261124);
    let scratch = tempfile::Builder::new()
        .prefix("trailkeeper-bench-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let files = month.write(scratch.path())?;
    let events = month.events();
    println!(
        "scenario month: {events} events in {} hourly trail files, {} labelled incidents",
        files.len(),
        month.labels.len()
    );

    // Off and on in turn, twice each, each into an empty database; the faster of each pair
    // counts (the machine's noise is larger than what is measured).
    let mut off = Duration::MAX;
    let mut on = Duration::MAX;
    let mut quiet = None;
    let mut live = None;
    for round in 0..2 {
        let (pool, database) = fresh_database(&url, &format!("detect_off_{round}")).await?;
        sqlx::query(
            "INSERT INTO settings (area, value, updated_by) \
             VALUES ('detection', '{\"live\": false}', 'bench')",
        )
        .execute(&pool)
        .await?;
        off = off.min(ingest(&database, &files)?);
        quiet = Some(pool);
        let (pool, database) = fresh_database(&url, &format!("detect_on_{round}")).await?;
        on = on.min(ingest(&database, &files)?);
        live = Some(pool);
    }
    let (quiet, live) = (quiet.expect("two rounds"), live.expect("two rounds"));
    let rate = |took: Duration| events as f64 / took.as_secs_f64();
    println!(
        "trailkeeper ingest, live detection off: {:.1} s = {:.0} events/s",
        off.as_secs_f64(),
        rate(off)
    );
    println!(
        "trailkeeper ingest, live detection on:  {:.1} s = {:.0} events/s; detection slows \
         ingest by {:.0} % (target ≤ 20 %)",
        on.as_secs_f64(),
        rate(on),
        (on.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0
    );

    let started = Instant::now();
    let done = backfill(&quiet, None, None, |_| {}).await?;
    let took = started.elapsed();
    println!(
        "detect --backfill: {} events through every detector in {:.1} s = {:.0} events/s",
        done.events,
        took.as_secs_f64(),
        done.events as f64 / took.as_secs_f64()
    );

    let (found, false_findings) = quality(&quiet, &month).await?;
    println!(
        "scenario suite: {found} of {} incidents found with the right principal and secret \
         (recall {:.0} %); {false_findings} false findings = {:.2} per 100 000 events \
         (target ≤ 1)",
        month.labels.len(),
        found as f64 * 100.0 / month.labels.len() as f64,
        false_findings as f64 * 100_000.0 / events as f64
    );
    let live_findings: i64 = sqlx::query_scalar("SELECT count(*) FROM findings")
        .fetch_one(&live)
        .await?;
    let backfilled_findings: i64 = sqlx::query_scalar("SELECT count(*) FROM findings")
        .fetch_one(&quiet)
        .await?;
    println!(
        "findings: {live_findings} from live detection, {backfilled_findings} from the backfill"
    );
    Ok(())
}

/// Runs `trailkeeper ingest` on the files as its own process.
fn ingest(database: &PgConnectOptions, files: &[PathBuf]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_trailkeeper"))
        .arg("ingest")
        .args(files)
        .env("DATABASE_URL", database.to_url_lossy().as_str())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()?;
    anyhow::ensure!(status.success(), "trailkeeper ingest failed");
    Ok(started.elapsed())
}

/// How many labelled incidents a finding of their kind names with their principal and
/// secret, and how many findings hold none of the incidents' events.
async fn quality(pool: &PgPool, month: &Month) -> anyhow::Result<(usize, usize)> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Vec<String>,
        Vec<String>,
    );
    let findings: Vec<Row> = sqlx::query_as(
        "SELECT kind, principal, subject, \
             ARRAY(SELECT s.secret_arn FROM finding_secrets s WHERE s.finding_id = f.id), \
             evidence_event_ids \
         FROM findings f",
    )
    .fetch_all(pool)
    .await?;
    let found = month
        .labels
        .iter()
        .filter(|label| {
            findings
                .iter()
                .any(|(kind, principal, subject, secrets, _)| {
                    label.found_by(kind, principal.as_deref(), subject.as_deref(), secrets)
                })
        })
        .count();
    let false_findings = findings
        .iter()
        .filter(|(.., evidence)| !evidence.iter().any(|id| month.injected.contains(id)))
        .count();
    Ok((found, false_findings))
}
