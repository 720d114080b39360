//! Loading a bench's store the way operators do: `trailkeeper ingest` as its own process,
//! and psql for the machine's own limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};

pub struct Ingested {
    pub took: Duration,
    /// The process's peak resident memory, in kB.
    pub peak_kb: u64,
    /// Its peak when the first `early_files` files had been reported, if asked for.
    pub early_peak_kb: Option<u64>,
}

/// Lets the database finish what earlier work left it — dirty pages to write, autovacuum
/// of what was just loaded — before a load is timed: either would otherwise land in the
/// next measurement and make runs differ. The planner gets the statistics of what was just
/// seeded, as a database in service has them.
pub async fn settle(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("ANALYZE").execute(pool).await?;
    // CHECKPOINT needs a superuser or pg_checkpoint; without them the wait still helps.
    if let Err(error) = sqlx::query("CHECKPOINT").execute(pool).await {
        println!("(no checkpoint before timing: {error})");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        let vacuuming: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        )
        .fetch_one(pool)
        .await?;
        if vacuuming == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// Runs `trailkeeper ingest` on `paths` as its own process, sampling its peak resident
/// memory (the kernel's high-water mark) until it exits; with `early_files`, also the peak
/// once that many files were done.
pub fn ingest(
    database: &PgConnectOptions,
    paths: &[&PathBuf],
    scratch: &Path,
    early_files: Option<usize>,
) -> anyhow::Result<Ingested> {
    // The per-file report goes to a file: a pipe nobody reads would stall the process.
    let report = scratch.join("ingest-report.txt");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailkeeper"))
        .arg("ingest")
        .args(paths)
        .env("DATABASE_URL", database.to_url_lossy().as_str())
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&report)?)
        .stderr(Stdio::inherit())
        .spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let mut early_peak_kb = None;
    let mut sampled = Instant::now();
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kb) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak_kb = kb;
        }
        if let Some(early) = early_files
            && early_peak_kb.is_none()
            && sampled.elapsed() > Duration::from_millis(500)
        {
            sampled = Instant::now();
            let done = std::fs::read_to_string(&report)?.lines().count();
            if done >= early {
                early_peak_kb = Some(peak_kb);
            }
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    if !status.success() {
        let report = std::fs::read_to_string(&report)?;
        anyhow::bail!(
            "trailkeeper ingest failed: {}",
            report.lines().rev().take(10).collect::<Vec<_>>().join("\n")
        );
    }
    Ok(Ingested {
        took,
        peak_kb,
        early_peak_kb,
    })
}

/// Runs one psql meta-command against the bench's database (a password, if the server
/// needs one, comes from `PGPASSWORD` or `~/.pgpass`).
pub fn psql(database: &PgConnectOptions, command: &str) -> anyhow::Result<()> {
    // libpq reads these; sqlx's own URL parameters would not parse.
    let host = match database.get_socket() {
        Some(socket) => socket.to_string_lossy().into_owned(),
        None => database.get_host().to_string(),
    };
    let output = Command::new("psql")
        .args(["--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1"])
        .env("PGHOST", host)
        .env("PGPORT", database.get_port().to_string())
        .env("PGUSER", database.get_username())
        .env("PGDATABASE", database.get_database().unwrap_or_default())
        .arg("--command")
        .arg(command)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The events table's columns a `COPY` of stored events carries (all but `ingested_at`).
pub const EVENT_COLUMNS: &str = "event_id, event_time, event_name, event_source, event_type, \
    region, account_id, secret_ref, secret_arn, principal, session_name, principal_account, \
    principal_type, source_ip, source_service, user_agent, user_agent_family, error_code, \
    error_message, read_only, raw, ingested_from, version_stage, version_id";

/// Copies every stored event out through `compressor` (a command reading stdin) to `file`,
/// empties the table, and copies them back in through `decompressor`: the machine's limit
/// for these rows, in events per second.
pub fn copy_round_trip(
    database: &PgConnectOptions,
    file: &Path,
    compressor: &str,
    decompressor: &str,
    events: usize,
) -> anyhow::Result<f64> {
    let file = file.display();
    psql(
        database,
        &format!(
            "\\copy (SELECT {EVENT_COLUMNS} FROM events) TO PROGRAM '{compressor} > {file}' \
             WITH (FORMAT csv)"
        ),
    )?;
    psql(database, "TRUNCATE events")?;
    let started = Instant::now();
    psql(
        database,
        &format!(
            "\\copy events ({EVENT_COLUMNS}) FROM PROGRAM '{decompressor} {file}' \
             WITH (FORMAT csv)"
        ),
    )?;
    Ok(events as f64 / started.elapsed().as_secs_f64())
}
