//! `make bench`: alert delivery on a real PostgreSQL (DATABASE_URL, in a database of its
//! own) to a real HTTP receiver in this process. Prints:
//! - latency from an ingest's commit (`ingest_file` returning) to the signed webhook's
//!   arrival at the receiver, p50 and p99 over 250 alerts sent one at a time (target p99
//!   ≤ 2 s): the outbox trigger, NOTIFY, routing, claiming, sending;
//! - throughput: 2 000 findings committed at once, delivered to a receiver that answers at
//!   once, in alerts per second.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::mpsc;
use trailkeeper::alert::channels::Senders;
use trailkeeper::alert::sealing::SealingKey;
use trailkeeper::alert::setup;
use trailkeeper::alert::{Alerting, DeliverySettings};
use trailkeeper::findings::triage::Actor;
use trailkeeper::ingest::sources::files::ingest_file;
use trailkeeper_app::api::alerts::{ChannelKind, NewChannel};
use trailkeeper_app::api::findings::Severity;

use common::{database_url, fresh_database, millis};

const LATENCY_ALERTS: usize = 250;
const THROUGHPUT_ALERTS: usize = 2_000;
const ACCOUNT: &str = "111122223333";

fn deletion(id: &str, secret: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": { "type": "IAMUser", "principalId": "AIDABOB",
                          "arn": format!("arn:aws:iam::{ACCOUNT}:user/bob"),
                          "accountId": ACCOUNT, "userName": "bob" },
        "eventTime": "2026-11-02T10:00:00Z", "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "DeleteSecret", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.11", "userAgent": "aws-cli/2.17.12",
        "requestParameters": {
            "secretId": format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{secret}-AbCdEf"),
            "recoveryWindowInDays": 7 },
        "responseElements": null, "eventID": id,
        "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT
    })
}

async fn ingest(
    pool: &PgPool,
    dir: &std::path::Path,
    name: &str,
    records: Vec<Value>,
) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json!({ "Records": records }).to_string())?;
    ingest_file(pool, &path).await?;
    Ok(())
}

/// A receiver that reports each alert's arrival.
async fn receiver() -> anyhow::Result<(String, mpsc::UnboundedReceiver<Instant>)> {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let arrived = arrived.clone();
            async move {
                let at = Instant::now();
                let message: Value = serde_json::from_slice(&body).unwrap_or_default();
                for _ in message["alerts"].as_array().into_iter().flatten() {
                    let _ = arrived.send(at);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, arrivals))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = database_url()?;
    let (pool, _) = fresh_database(&url, "alerts").await?;
    let scratch = tempfile::tempdir()?;
    let (hook, mut arrivals) = receiver().await?;
    let alerting = Alerting {
        key: SealingKey::generate(),
        senders: Senders::reaching(
            trailkeeper::alert::channels::outbound::Destinations::allowing(&["127.0.0.1"])
                .expect("an address"),
        ),
        settings: DeliverySettings {
            // Measured here: delivery, not throttling.
            throttle_messages: i64::MAX,
            ..DeliverySettings::new("http://127.0.0.1:3000")
        },
    };
    setup::add_channel(
        &pool,
        &alerting.key,
        &alerting.senders,
        &Actor {
            name: "bench",
            address: None,
        },
        NewChannel {
            kind: ChannelKind::Webhook,
            name: "bench receiver".into(),
            config: json!({ "url": hook }),
            min_severity: Some(Severity::Info),
        },
    )
    .await?;
    let worker = tokio::spawn(alerting.clone().run(pool.clone()));

    let mut samples = Vec::with_capacity(LATENCY_ALERTS);
    for n in 0..LATENCY_ALERTS + 10 {
        ingest(
            &pool,
            scratch.path(),
            &format!("one-{n}"),
            vec![deletion(&format!("l{n}"), &format!("latency/s{n}"))],
        )
        .await?;
        let committed = Instant::now();
        let arrived = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the receiver stopped"))?;
        // The first few warm the connection pool and the HTTP client.
        if n >= 10 {
            samples.push(arrived.saturating_duration_since(committed));
        }
    }
    samples.sort();
    println!(
        "alert latency, ingest commit to webhook arrival ({LATENCY_ALERTS} alerts one at a time): p50 {:.1} ms, p99 {:.1} ms (target p99 ≤ 2000 ms)",
        millis(samples[LATENCY_ALERTS / 2]),
        millis(samples[LATENCY_ALERTS * 99 / 100])
    );

    let records = (0..THROUGHPUT_ALERTS)
        .map(|n| deletion(&format!("t{n}"), &format!("throughput/s{n}")))
        .collect();
    ingest(&pool, scratch.path(), "many", records).await?;
    let committed = Instant::now();
    let mut last = committed;
    for _ in 0..THROUGHPUT_ALERTS {
        last = tokio::time::timeout(Duration::from_secs(120), arrivals.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the receiver stopped"))?;
    }
    let took = last.saturating_duration_since(committed);
    println!(
        "alert throughput: {THROUGHPUT_ALERTS} findings committed at once delivered in {:.2} s: {:.0} alerts/s",
        took.as_secs_f64(),
        THROUGHPUT_ALERTS as f64 / took.as_secs_f64()
    );
    worker.abort();
    Ok(())
}
