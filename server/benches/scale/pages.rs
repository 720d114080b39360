//! The pages and API lists at scale, each beside the same reads run directly, with the plan
//! of every statement they run; the export; the pages after retention.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use futures::StreamExt;
use sqlx::{PgConnection, PgPool};
use tower::ServiceExt;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, filter};
use trailkeeper::events::read as events;
use trailkeeper::findings::read as findings;
use trailkeeper::inventory::{accounts, read as inventory};
use trailkeeper_app::Role;
use trailkeeper_app::api::audit::AuditFilter;
use trailkeeper_app::api::events::{ErrorFilter, EventQuery, TimeRange};
use trailkeeper_app::api::findings::FindingQuery;
use trailkeeper_app::api::secrets::{SecretQuery, SecretSort};

use crate::common::trail::Estate;
use crate::common::{SAMPLES, app_as, latency, millis};

/// What a page or API list reads: the calls its server functions or handler make.
enum Reads {
    Overview,
    SecretsPage(SecretQuery),
    SecretsList(SecretQuery),
    Secret { id: String, access: EventQuery },
    EventsPage(EventQuery),
    EventsList(EventQuery),
    FindingsPage(FindingQuery),
    FindingsList(FindingQuery),
    Audit(AuditFilter),
}

struct Case {
    what: String,
    path: String,
    reads: Reads,
}

/// Every page and API list: page p50/p95 and its reads' p95, then the plans.
pub async fn measure(pool: &PgPool, estate: &Estate) -> anyhow::Result<()> {
    let plans = Plans::install();
    let app = app_as(pool.clone(), Role::Admin).await?;
    let cases = cases(pool, estate).await?;
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>7}",
        "page (p50/p95 over 200 requests, warm)", "page p50", "page p95", "SQL p95", "ratio"
    );
    let mut over = Vec::new();
    for case in &cases {
        let (p50, p95) = latency(&app, &case.path).await?;
        let sql = sql_p95(pool, &case.reads).await?;
        let ratio = p95.as_secs_f64() / sql.as_secs_f64();
        println!(
            "{:<44} {:>6.1} ms {:>6.1} ms {:>6.1} ms {:>6.2}×",
            case.what,
            millis(p50),
            millis(p95),
            millis(sql),
            ratio
        );
        if p95 > Duration::from_millis(300) || ratio > 2.0 {
            over.push(case.what.clone());
        }
    }
    println!(
        "targets: page p95 under 300 ms and at most 2× its SQL's; {}",
        if over.is_empty() {
            "every page meets both".to_string()
        } else {
            format!("missed by: {}", over.join(", "))
        }
    );

    println!("plans (auto_explain, EXPLAIN ANALYZE of each statement each page runs):");
    let mut sequential = Vec::new();
    for case in &cases {
        println!("  {} ({})", case.what, case.path);
        let statements = plans.capture(pool, &case.reads).await?;
        for plan in &statements {
            for line in plan.lines() {
                println!("      {line}");
            }
            for scan in sequential_scans(plan) {
                if scan.worth_flagging() {
                    sequential.push(format!(
                        "{} ({}, {} of {} rows kept)",
                        case.what, scan.partition, scan.kept, scan.read
                    ));
                }
            }
        }
    }
    sequential.dedup();
    println!(
        "sequential scans of the events table (a month of at least \
         {SEQUENTIAL_SCAN_WORTH_FLAGGING} rows read whole to keep under 1 in \
         {SELECTIVE_ENOUGH_FOR_AN_INDEX} of them): {}",
        if sequential.is_empty() {
            "none".to_string()
        } else {
            sequential.join(", ")
        }
    );
    Ok(())
}

/// A sequential scan of an events partition smaller than this is the planner's right choice:
/// a month only days old.
const SEQUENTIAL_SCAN_WORTH_FLAGGING: u64 = 10_000;

/// A scan that keeps more than 1 in this many of the rows it reads is the planner's right
/// choice too: a month wholly inside the range asked for, whose rows match the filter often,
/// is read faster whole than through an index.
const SELECTIVE_ENOUGH_FOR_AN_INDEX: u64 = 10;

/// One sequential scan of an events partition, as it ran.
struct SequentialScan {
    partition: String,
    /// The rows it read: those it kept and those its filter removed, over every loop.
    read: u64,
    kept: u64,
}

impl SequentialScan {
    /// Whether an index would have served it: a month of many rows read whole to keep few.
    fn worth_flagging(&self) -> bool {
        self.read >= SEQUENTIAL_SCAN_WORTH_FLAGGING
            && self.kept * SELECTIVE_ENOUGH_FOR_AN_INDEX < self.read
    }
}

/// Each sequential scan of an events partition that ran in `plan`.
fn sequential_scans(plan: &str) -> Vec<SequentialScan> {
    let number_after = |text: &str, label: &str| -> Option<u64> {
        let start = text.find(label)? + label.len();
        let digits: String = text[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let lines: Vec<&str> = plan.lines().collect();
    let mut scans = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let (Some(scan), Some(actual)) = (line.find("Seq Scan on events_"), line.find("(actual "))
        else {
            continue;
        };
        let partition = line[scan + "Seq Scan on ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let actual = &line[actual..];
        // EXPLAIN gives both counts per loop (a parallel scan's loops are its workers).
        let loops = number_after(actual, "loops=").unwrap_or(1);
        let kept = number_after(actual, "rows=").unwrap_or_default();
        let removed = lines[index + 1..]
            .iter()
            .take_while(|below| !below.contains("->"))
            .find_map(|below| number_after(below, "Rows Removed by Filter: "))
            .unwrap_or_default();
        scans.push(SequentialScan {
            partition,
            read: (kept + removed) * loops,
            kept: kept * loops,
        });
    }
    scans
}

/// The pages people open most, right after a month was dropped.
pub async fn after_retention(pool: &PgPool, estate: &Estate) -> anyhow::Result<()> {
    let app = app_as(pool.clone(), Role::Admin).await?;
    for (what, path) in [
        ("Overview", "/".to_string()),
        ("Events, default 30 days", "/events".to_string()),
        (
            "Events, one secret, 12 months",
            format!(
                "/events?secret={}&range=all",
                encode(&estate.busiest_secret())
            ),
        ),
    ] {
        let (p50, p95) = latency(&app, &path).await?;
        println!(
            "after the drop, {what}: p50 {:.1} ms, p95 {:.1} ms",
            millis(p50),
            millis(p95)
        );
    }
    Ok(())
}

/// An export of about a million of the `stored` events (the newest), streamed: rows/s and
/// how much the server's memory grew while it ran.
pub async fn export(pool: &PgPool, stored: i64) -> anyhow::Result<()> {
    let newest: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT max(event_time) FROM events")
        .fetch_one(pool)
        .await?;
    let days = (365.0 * 1e6 / stored as f64).min(365.0);
    let since = newest - chrono::Duration::seconds((days * 86_400.0) as i64);
    let app = app_as(pool.clone(), Role::Auditor).await?;
    let path = format!(
        "/api/v1/events/export.csv?since={}&until={}",
        encode(&since.to_rfc3339()),
        encode(&(newest + chrono::Duration::seconds(1)).to_rfc3339())
    );
    let resident = || -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("VmRSS:"))
                    .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or_default()
    };
    let before = resident();
    let request = Request::get(&path)
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::COOKIE, &app.1)
        .body(Body::empty())?;
    let started = Instant::now();
    let response = app.0.clone().oneshot(request).await?;
    anyhow::ensure!(
        response.status() == StatusCode::OK,
        "the export answered {}",
        response.status()
    );
    let mut body = response.into_body().into_data_stream();
    let (mut lines, mut bytes, mut peak) = (0u64, 0u64, before);
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        lines += chunk.iter().filter(|byte| **byte == b'\n').count() as u64;
        bytes += chunk.len() as u64;
        if lines % 50_000 < 100 {
            peak = peak.max(resident());
        }
    }
    let took = started.elapsed();
    let rows = lines.saturating_sub(1);
    println!(
        "export (CSV, the newest {days:.0} days): {rows} events, {:.0} MB in {:.1} s = {:.0} \
         rows/s; the server's memory grew by at most {:.0} MB while it streamed",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        peak.saturating_sub(before) as f64 / 1024.0
    );
    Ok(())
}

async fn cases(pool: &PgPool, estate: &Estate) -> anyhow::Result<Vec<Case>> {
    let busiest = estate.busiest_secret();
    let typical = estate.secret_arn(&estate.accounts[1], estate.regions[1], 1_234);
    let principal = estate.role_arn(&estate.accounts[2], 123);
    let page_50 = {
        let mut db = pool.acquire().await?;
        let mut query = SecretQuery::default();
        for _ in 1..50 {
            query.cursor = inventory::list(&mut db, &query).await?.next;
        }
        query
    };
    let secrets = |what: &str, query: SecretQuery| Case {
        what: what.to_string(),
        path: format!("/secrets?{}", query.to_query_string()),
        reads: Reads::SecretsPage(query),
    };
    let explorer = |what: &str, query: EventQuery| Case {
        what: what.to_string(),
        path: format!("/events?{}", query.to_query_string()),
        reads: Reads::EventsPage(query),
    };
    let year = EventQuery {
        secret: Some(busiest.clone()),
        since: Some(Utc::now() - chrono::Duration::days(365)),
        until: Some(Utc::now()),
        ..EventQuery::default()
    };
    Ok(vec![
        Case {
            what: "Overview".into(),
            path: "/".into(),
            reads: Reads::Overview,
        },
        secrets("Secrets, default", SecretQuery::default()),
        secrets(
            "Secrets, search",
            SecretQuery {
                search: Some("app-01234".into()),
                ..SecretQuery::default()
            },
        ),
        secrets(
            "Secrets, one account",
            SecretQuery {
                account: Some(estate.accounts[1].clone()),
                ..SecretQuery::default()
            },
        ),
        secrets(
            "Secrets, sorted by last rotation",
            SecretQuery {
                sort: SecretSort::LastRotated,
                descending: true,
                ..SecretQuery::default()
            },
        ),
        secrets("Secrets, page 50 by cursor", page_50),
        Case {
            what: "busiest secret, 90-day Access".into(),
            path: format!("/secrets/{busiest}?range=90d"),
            reads: Reads::Secret {
                id: busiest.clone(),
                access: EventQuery {
                    range: Some(TimeRange::LastQuarter),
                    ..EventQuery::default()
                },
            },
        },
        explorer(
            "Events, default 30 days",
            EventQuery {
                range: Some(TimeRange::LastMonth),
                ..EventQuery::default()
            },
        ),
        explorer(
            "Events, one secret, 30 days",
            EventQuery {
                secret: Some(typical.clone()),
                range: Some(TimeRange::LastMonth),
                ..EventQuery::default()
            },
        ),
        explorer(
            "Events, one principal, 7 days",
            EventQuery {
                principal: Some(principal),
                range: Some(TimeRange::LastWeek),
                ..EventQuery::default()
            },
        ),
        explorer(
            "Events, errors, 24 hours",
            EventQuery {
                error: Some(ErrorFilter::Any),
                range: Some(TimeRange::LastDay),
                ..EventQuery::default()
            },
        ),
        explorer(
            "Events, a source CIDR, 7 days",
            EventQuery {
                source_ip: Some("10.1.0.0/16".into()),
                range: Some(TimeRange::LastWeek),
                ..EventQuery::default()
            },
        ),
        explorer("Events, busiest secret, 12 months", year),
        Case {
            what: "Findings queue".into(),
            path: "/findings".into(),
            reads: Reads::FindingsPage(FindingQuery::default()),
        },
        Case {
            what: "Audit log".into(),
            path: "/audit".into(),
            reads: Reads::Audit(AuditFilter::default()),
        },
        Case {
            what: "API: secrets".into(),
            path: "/api/v1/secrets".into(),
            reads: Reads::SecretsList(SecretQuery::default()),
        },
        Case {
            what: "API: events, one secret, 30 days".into(),
            path: format!("/api/v1/events?secret={}&range=30d", encode(&typical)),
            reads: Reads::EventsList(EventQuery {
                secret: Some(typical),
                range: Some(TimeRange::LastMonth),
                ..EventQuery::default()
            }),
        },
        Case {
            what: "API: findings".into(),
            path: "/api/v1/findings".into(),
            reads: Reads::FindingsList(FindingQuery::default()),
        },
    ])
}

/// The page's reads, one after another on one connection.
async fn run(pool: &PgPool, db: &mut PgConnection, reads: &Reads) -> anyhow::Result<()> {
    let now = Utc::now();
    match reads {
        Reads::Overview => {
            trailkeeper::db::status(pool, "bench").await?;
            trailkeeper::audit::recent(&mut *db, 20).await?;
            inventory::overview(db).await?;
            events::overview(db).await?;
            findings::overview(db).await?;
            accounts::overview(db).await?;
        }
        Reads::SecretsPage(query) => {
            inventory::list(db, query).await?;
            inventory::count(db, query).await?;
            inventory::facets(db).await?;
        }
        Reads::SecretsList(query) => {
            inventory::list(db, query).await?;
        }
        Reads::Secret { id, access } => {
            inventory::lookup(db, id).await?;
            events::access_report(db, id, access, now).await?;
        }
        Reads::EventsPage(query) => {
            events::list(db, query, now).await?;
            events::histogram(db, query, now).await?;
        }
        Reads::EventsList(query) => {
            events::list(db, query, now).await?;
        }
        Reads::FindingsPage(query) => {
            findings::list(db, query).await?;
            findings::counts(db, query).await?;
        }
        Reads::FindingsList(query) => {
            findings::list(db, query).await?;
        }
        Reads::Audit(filter) => {
            trailkeeper::audit::page(&mut *db, filter).await?;
        }
    }
    Ok(())
}

/// p95 of the reads run `SAMPLES` times, after 20 to warm up.
async fn sql_p95(pool: &PgPool, reads: &Reads) -> anyhow::Result<Duration> {
    let mut db = pool.acquire().await?;
    let mut samples = Vec::with_capacity(SAMPLES);
    for round in 0..SAMPLES + 20 {
        let started = Instant::now();
        run(pool, &mut db, reads).await?;
        if round >= 20 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    Ok(samples[SAMPLES * 95 / 100])
}

/// The plans PostgreSQL's auto_explain sends as notices, collected from sqlx's log.
#[derive(Clone, Default)]
struct Plans(Arc<Mutex<Vec<String>>>);

impl Plans {
    fn install() -> Plans {
        let plans = Plans::default();
        tracing_subscriber::registry()
            .with(plans.clone().with_filter(
                filter::Targets::new().with_target("sqlx::postgres::notice", tracing::Level::INFO),
            ))
            .init();
        plans
    }

    /// Each statement's plan when the reads run once.
    async fn capture(&self, pool: &PgPool, reads: &Reads) -> anyhow::Result<Vec<String>> {
        let mut db = pool.acquire().await?;
        for setting in [
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_analyze = on",
            "SET auto_explain.log_level = notice",
            "SET client_min_messages = notice",
        ] {
            sqlx::query(setting).execute(&mut *db).await?;
        }
        self.0.lock().expect("not poisoned").clear();
        let outcome = run(pool, &mut db, reads).await;
        sqlx::query("SET auto_explain.log_min_duration = -1")
            .execute(&mut *db)
            .await?;
        outcome?;
        Ok(std::mem::take(&mut *self.0.lock().expect("not poisoned")))
    }
}

impl<S: tracing::Subscriber> Layer<S> for Plans {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Message(Option<String>);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "message" {
                    self.0 = Some(value.to_string());
                }
            }
        }
        let mut message = Message(None);
        event.record(&mut message);
        if let Some(plan) = message.0 {
            self.0.lock().expect("not poisoned").push(plan);
        }
    }
}

fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}
