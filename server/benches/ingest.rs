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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use trailkeeper::events::read::explain_list;
use trailkeeper_app::api::events::{ErrorFilter, EventQuery, TimeRange};

use common::{SAMPLES, app, database_url, fresh_database, latency, millis};

const EVENTS: usize = 1_000_000;
const DAYS: usize = 28;
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const ACCOUNT: &str = "123456789012";
const SECRETS: usize = 300;
const ROLES: usize = 60;
/// Rows inserted one statement at a time.
const ROW_BY_ROW: usize = 20_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = database_url()?;
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
    let trail = write_trail(scratch.path(), end)?;
    println!(
        "wrote {EVENTS} events as {} gzip trail files ({:.0} MB) in {:.1} s",
        trail.files,
        trail.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // A quarter of the files, then all of them, each into an empty database.
    let (quarter_pool, quarter_db) = fresh_database(&url, "ingest_quarter").await?;
    seed_inventory(&quarter_pool).await?;
    let quarter = ingest(&quarter_db, &trail.days[..DAYS / 4], scratch.path())?;
    let (pool, database) = fresh_database(&url, "ingest").await?;
    seed_inventory(&pool).await?;
    let full = ingest(&database, &trail.days, scratch.path())?;
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

    // The same rows, flattened, through psql's \copy into the same (emptied) table.
    let flat = scratch.path().join("events.csv");
    let columns = "event_id, event_time, event_name, event_source, event_type, region, \
        account_id, secret_ref, secret_arn, principal, session_name, principal_account, \
        principal_type, source_ip, source_service, user_agent, user_agent_family, error_code, \
        error_message, read_only, raw, ingested_from";
    psql(
        &database,
        &format!(
            "\\copy (SELECT {columns} FROM events) TO '{}' WITH (FORMAT csv)",
            flat.display()
        ),
    )?;
    sqlx::query("TRUNCATE events").execute(&pool).await?;
    let started = Instant::now();
    psql(
        &database,
        &format!(
            "\\copy events ({columns}) FROM '{}' WITH (FORMAT csv)",
            flat.display()
        ),
    )?;
    let copy_rate = EVENTS as f64 / started.elapsed().as_secs_f64();
    println!(
        "psql \\copy of the same rows, pre-flattened: {copy_rate:.0} events/s; \
         trailkeeper ingest runs at {:.2}× that (target ≥ 0.7×)",
        ingest_rate / copy_rate
    );

    let row_rate = row_by_row(&pool, columns).await?;
    println!(
        "one INSERT per row ({ROW_BY_ROW} rows): {row_rate:.0} events/s \
         (trailkeeper ingest: {:.1}× faster)",
        ingest_rate / row_rate
    );
    println!(
        "peak memory of the ingest process: {:.0} MB for {} events, {:.0} MB for {EVENTS}",
        quarter.peak_kb as f64 / 1024.0,
        quarter.events,
        full.peak_kb as f64 / 1024.0
    );

    sqlx::query("ANALYZE events").execute(&pool).await?;
    let secret = secret_arn(REGIONS[0], 7);
    let principal = role_arn(3);
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

struct Trail {
    files: usize,
    bytes: u64,
    /// One directory per region and day, oldest first, all regions of a day together.
    days: Vec<Vec<PathBuf>>,
}

/// `EVENTS` events over `DAYS` days before `end`, one trail file per region and hour, under
/// CloudTrail's key layout.
fn write_trail(root: &Path, end: DateTime<Utc>) -> anyhow::Result<Trail> {
    let start = end - chrono::Duration::days(DAYS as i64);
    let hours = DAYS * 24;
    let per_file = EVENTS / (hours * REGIONS.len());
    let mut trail = Trail {
        files: 0,
        bytes: 0,
        days: vec![Vec::new(); DAYS],
    };
    let mut written = 0;
    for hour in 0..hours {
        let begins = start + chrono::Duration::hours(hour as i64);
        for (index, region) in REGIONS.iter().enumerate() {
            let last = hour == hours - 1 && index == REGIONS.len() - 1;
            let count = if last { EVENTS - written } else { per_file };
            let dir = root.join(format!(
                "AWSLogs/{ACCOUNT}/CloudTrail/{region}/{:04}/{:02}/{:02}",
                begins.year(),
                begins.month(),
                begins.day()
            ));
            if hour.is_multiple_of(24) {
                std::fs::create_dir_all(&dir)?;
                trail.days[hour / 24].push(dir.clone());
            }
            let records: Vec<Value> = (0..count)
                .map(|n| {
                    let offset = (n * 3_600_000 / count.max(1)) as i64;
                    event(
                        written + n,
                        region,
                        begins + chrono::Duration::milliseconds(offset),
                    )
                })
                .collect();
            written += count;
            let path = dir.join(format!(
                "{ACCOUNT}_CloudTrail_{region}_{}_{hour:04}.json.gz",
                begins.format("%Y%m%dT%H%MZ")
            ));
            // Buffered in front of the compressor, which is slow on JSON's many tiny writes.
            let mut gzip = std::io::BufWriter::with_capacity(
                1 << 20,
                GzEncoder::new(std::fs::File::create(&path)?, Compression::fast()),
            );
            serde_json::to_writer(&mut gzip, &json!({ "Records": records }))?;
            gzip.into_inner()
                .map_err(|error| error.into_error())?
                .finish()?
                .flush()?;
            trail.bytes += std::fs::metadata(&path)?.len();
            trail.files += 1;
        }
    }
    Ok(trail)
}

fn secret_name(n: usize) -> String {
    let team = ["payments", "identity", "data", "platform", "search"][n % 5];
    format!("prod/{team}/app-{n:03}/db")
}

fn secret_arn(region: &str, n: usize) -> String {
    format!(
        "arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{}-{:06}",
        secret_name(n),
        n
    )
}

fn role_arn(n: usize) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/app-{n:02}-task")
}

/// The n-th event: mostly applications' roles reading their secrets, with descriptions,
/// listings, some refusals and now and then a new value.
fn event(n: usize, region: &str, at: DateTime<Utc>) -> Value {
    let role = n % ROLES;
    let secret = (role * 5 + n / ROLES % 5) % SECRETS;
    let (name, read_only, error) = match n % 100 {
        0..=87 => ("GetSecretValue", true, None),
        88..=93 => ("DescribeSecret", true, None),
        94..=95 => ("ListSecretVersionIds", true, None),
        96..=97 => ("GetSecretValue", true, Some("AccessDenied")),
        98 => ("PutSecretValue", false, None),
        _ => ("UpdateSecretVersionStage", false, None),
    };
    // Callers name a secret by name, by partial ARN or by full ARN.
    let reference = match n % 3 {
        0 => secret_name(secret),
        1 => secret_arn(region, secret)[..secret_arn(region, secret).len() - 7].to_string(),
        _ => secret_arn(region, secret),
    };
    let session = format!("app-{role:02}-{}", n % 7);
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLE{role:06}:{session}"),
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app-{role:02}-task/{session}"),
            "accountId": ACCOUNT,
            "accessKeyId": format!("ASIAEXAMPLE{:09}", n % 1_000_000_000),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": format!("AROAEXAMPLE{role:06}"),
                    "arn": role_arn(role),
                    "accountId": ACCOUNT,
                    "userName": format!("app-{role:02}-task")
                },
                "attributes": {"creationDate": at.to_rfc3339(), "mfaAuthenticated": "false"}
            }
        },
        "eventTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": format!("10.{}.{}.{}", role % 4, n % 200, 10 + role),
        "userAgent": if role.is_multiple_of(3) {
            "aws-sdk-java/2.25.1 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.9"
        } else {
            "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#5.10 lang/python#3.12.1"
        },
        "errorCode": error,
        "errorMessage": error.map(|_| format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/app-{role:02}-task/{session} is not authorized to perform: secretsmanager:GetSecretValue"
        )),
        "requestParameters": {"secretId": reference},
        "responseElements": null,
        "requestID": format!("{n:08x}-1111-4111-8111-{n:012x}"),
        "eventID": format!("{n:08x}-2222-4222-8222-{n:012x}"),
        "readOnly": read_only,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::SecretsManager::Secret", "ARN": secret_arn(region, secret)}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("secretsmanager.{region}.amazonaws.com")
        }
    })
}

/// The inventory the events name, so the ingest resolves each to its secret.
async fn seed_inventory(pool: &PgPool) -> anyhow::Result<()> {
    for region in REGIONS {
        let arns: Vec<String> = (0..SECRETS).map(|n| secret_arn(region, n)).collect();
        let names: Vec<String> = (0..SECRETS).map(secret_name).collect();
        sqlx::query(
            "INSERT INTO secrets (arn, name, region, account_id) \
             SELECT arn, name, $3, $4 FROM unnest($1::text[], $2::text[]) AS s (arn, name)",
        )
        .bind(&arns)
        .bind(&names)
        .bind(region)
        .bind(ACCOUNT)
        .execute(pool)
        .await?;
    }
    Ok(())
}

struct Ingested {
    events: usize,
    took: Duration,
    peak_kb: u64,
}

/// Runs `trailkeeper ingest` on the given day directories as its own process, sampling
/// its peak resident memory (the kernel's high-water mark) until it exits.
fn ingest(
    database: &PgConnectOptions,
    days: &[Vec<PathBuf>],
    scratch: &Path,
) -> anyhow::Result<Ingested> {
    let paths: Vec<&PathBuf> = days.iter().flatten().collect();
    // The per-file report goes to a file: a pipe nobody reads would stall the process.
    let report = scratch.join("ingest-report.txt");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailkeeper"))
        .arg("ingest")
        .args(&paths)
        .env("DATABASE_URL", database.to_url_lossy().as_str())
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&report)?)
        .stderr(Stdio::inherit())
        .spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kb) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak_kb = kb;
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let report = std::fs::read_to_string(&report)?;
    anyhow::ensure!(
        status.success(),
        "trailkeeper ingest failed: {}",
        report.lines().rev().take(10).collect::<Vec<_>>().join("\n")
    );
    let events = days.len() * EVENTS / DAYS;
    Ok(Ingested {
        events,
        took,
        peak_kb,
    })
}

/// Runs one psql meta-command against the bench's database (a password, if the server
/// needs one, comes from `PGPASSWORD` or `~/.pgpass`).
fn psql(database: &PgConnectOptions, command: &str) -> anyhow::Result<()> {
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
