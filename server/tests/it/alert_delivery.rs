//! Alert delivery end to end on a real PostgreSQL and real HTTP: findings made by ingesting
//! CloudTrail events reach a webhook receiver started by the test, signed, routed by the
//! rules, retried while the receiver is down, once per delivery id across a restart,
//! throttled and digested; and the alerts API that sets it up.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use common::webhook::{Received, Receiver};
use common::{ACCOUNT, bobs_call, ingest_records, secret_arn};
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper::alert::log;
use trailkeeper::alert::sealing::SealingKey;
use trailkeeper::alert::setup;
use trailkeeper::alert::{Alerting, DeliverySettings};
use trailkeeper::findings::triage::Actor;
use trailkeeper_app::AppError;
use trailkeeper_app::api::alerts::{
    ChannelKind, DeliveryQuery, DeliveryStatus, NewAlertRule, NewChannel,
};
use trailkeeper_app::api::findings::{FindingKind, Severity};

const SIGNING_KEY: &str = "test-signing-key-0123456789";
const ADMIN: Actor<'static> = Actor {
    name: "admin",
    address: None,
};

/// Bob's call `name` on the secret called `secret`, an hour after his call before: far
/// enough apart that each finding is its own, not one incident.
fn event(id: &str, name: &str, secret: &str, request: Value) -> Value {
    static HOURS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let hours = HOURS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z").unwrap()
        + chrono::Duration::hours(hours);
    let mut request = request;
    request["secretId"] = json!(secret_arn(secret));
    bobs_call(id, &at.to_rfc3339(), name, request)
}

/// A scheduled deletion of `secret`: a high finding.
fn deletion(id: &str, secret: &str) -> Value {
    event(
        id,
        "DeleteSecret",
        secret,
        json!({ "recoveryWindowInDays": 7 }),
    )
}

fn quick_settings() -> DeliverySettings {
    DeliverySettings {
        first_retry: Duration::from_millis(200),
        longest_retry: Duration::from_millis(500),
        lease: Duration::from_secs(2),
        ..DeliverySettings::new("http://127.0.0.1:3000")
    }
}

fn alerting(settings: DeliverySettings) -> Alerting {
    Alerting {
        key: SealingKey::generate(),
        senders: common::loopback_senders(),
        settings,
    }
}

async fn webhook(
    pool: &PgPool,
    alerting: &Alerting,
    name: &str,
    url: &str,
    min_severity: Option<Severity>,
) -> i64 {
    setup::add_channel(
        pool,
        &alerting.key,
        &alerting.senders,
        &ADMIN,
        NewChannel {
            kind: ChannelKind::Webhook,
            name: name.into(),
            config: json!({ "url": url, "signing_key": SIGNING_KEY,
                            "headers": { "Authorization": "Bearer receiver-token" } }),
            min_severity,
        },
    )
    .await
    .unwrap()
    .channel
    .id
}

/// Whether `header` signs `body` under `key`, as a receiver checks it.
fn verifies(key: &str, header: &str, body: &[u8]) -> bool {
    let mut parts = header.split(',');
    let timestamp = parts.next().unwrap().strip_prefix("t=").unwrap();
    let signature = parts.next().unwrap().strip_prefix("v1=").unwrap();
    let expected: Vec<u8> = (0..signature.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&signature[at..at + 2], 16).unwrap())
        .collect();
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        &signed,
        &expected,
    )
    .is_ok()
}

async fn deliveries(pool: &PgPool) -> Vec<trailkeeper_app::api::alerts::Delivery> {
    log::list(pool, &DeliveryQuery::default())
        .await
        .unwrap()
        .items
}

/// The delivery log once no delivery is waiting any more, for at most ten seconds.
async fn until_delivered(pool: &PgPool) -> Vec<trailkeeper_app::api::alerts::Delivery> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = deliveries(pool).await;
        if log.iter().all(|d| d.status != DeliveryStatus::Pending)
            || std::time::Instant::now() > deadline
        {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_finding_reaches_a_webhook_signed_and_a_wrong_key_does_not_verify(pool: PgPool) {
    let receiver = Receiver::start().await;
    let alerting = alerting(quick_settings());
    webhook(
        &pool,
        &alerting,
        "security",
        &receiver.url(),
        Some(Severity::Medium),
    )
    .await;
    let worker = tokio::spawn(alerting.clone().run(pool.clone()));

    ingest_records(&pool, vec![deletion("e1", "prod/db")]).await;
    let got = receiver.wait_for(1).await;
    // The receiver has answered; the worker records that just after.
    let log = until_delivered(&pool).await;
    worker.abort();

    let request = &got[0];
    let signature = request.headers["trailkeeper-signature"].to_str().unwrap();
    assert!(
        verifies(SIGNING_KEY, signature, &request.body),
        "{signature}"
    );
    assert!(!verifies(
        "another-key-0123456789",
        signature,
        &request.body
    ));
    let timestamp: i64 = signature[2..signature.find(',').unwrap()].parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert_eq!(request.headers["authorization"], "Bearer receiver-token");
    assert_eq!(request.headers["content-type"], "application/json");

    let body = request.json();
    let finding: i64 = sqlx::query_scalar("SELECT id FROM findings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(body["delivery_id"], request.delivery_id());
    assert_eq!(body["type"], "alert");
    let alert = &body["alerts"][0];
    assert_eq!(alert["finding_id"], finding);
    assert_eq!(alert["reason"], "opened");
    assert_eq!(alert["kind"], "secret_deleted");
    assert_eq!(alert["severity"], "high");
    assert_eq!(alert["secret"]["arn"], secret_arn("prod/db"));
    assert_eq!(
        alert["principal"],
        format!("arn:aws:iam::{ACCOUNT}:user/bob")
    );
    assert_eq!(alert["count"], 1);
    assert_eq!(
        alert["url"],
        format!("http://127.0.0.1:3000/findings/{finding}")
    );
    assert!(
        alert["explanation"]
            .as_str()
            .unwrap()
            .contains("recovery window of 7 days")
    );

    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, DeliveryStatus::Delivered);
    assert_eq!(log[0].id, request.delivery_id());
    assert_eq!(log[0].finding_ids, [finding]);
    assert_eq!(log[0].attempts.len(), 1);
    assert_eq!(log[0].attempts[0].response_code, Some(200));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_teardown_deleting_secrets_in_minutes_alerts_once_naming_them_all(pool: PgPool) {
    let receiver = Receiver::start().await;
    let alerting = alerting(quick_settings());
    webhook(
        &pool,
        &alerting,
        "security",
        &receiver.url(),
        Some(Severity::Info),
    )
    .await;
    let worker = tokio::spawn(alerting.clone().run(pool.clone()));

    let teardown: Vec<Value> = ["prod/db", "prod/api", "prod/queue"]
        .iter()
        .enumerate()
        .map(|(n, secret)| {
            let mut request = json!({ "secretId": secret_arn(secret), "recoveryWindowInDays": 7 });
            if n == 1 {
                request = json!({ "secretId": secret_arn(secret),
                                  "forceDeleteWithoutRecovery": true });
            }
            bobs_call(
                &format!("t{n}"),
                &format!("2026-11-02T10:0{n}:00Z"),
                "DeleteSecret",
                request,
            )
        })
        .collect();
    ingest_records(&pool, teardown).await;
    receiver.wait_for(1).await;
    // Give a second alert, if any were coming, the time to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.abort();

    let got = receiver.got();
    assert_eq!(got.len(), 1, "one incident, one alert");
    let alert = &got[0].json()["alerts"][0];
    assert_eq!(alert["severity"], "critical", "the worst deletion's");
    assert_eq!(alert["count"], 3);
    assert_eq!(
        alert["title"],
        "Secret deleted: 3 secrets within 2 minutes by bob"
    );
    let explanation = alert["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("prod/db, prod/api and prod/queue"),
        "{explanation}"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn alerts_wait_out_a_dead_receiver_and_a_restart_and_arrive_once_each(pool: PgPool) {
    let address = Receiver::reserve().await;
    let alerting = alerting(quick_settings());
    let url = format!("http://{address}/hook");
    webhook(&pool, &alerting, "security", &url, Some(Severity::Info)).await;
    let first_server = tokio::spawn(alerting.clone().run(pool.clone()));

    ingest_records(
        &pool,
        vec![
            deletion("e1", "prod/db"),
            deletion("e2", "prod/api"),
            deletion("e3", "prod/queue"),
        ],
    )
    .await;
    // Nobody listens: every delivery fails, more than once, and stays pending.
    for _ in 0..200 {
        let failed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM alert_attempts WHERE NOT delivered")
                .fetch_one(&pool)
                .await
                .unwrap();
        if failed >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiting = deliveries(&pool).await;
    assert_eq!(waiting.len(), 3);
    for delivery in &waiting {
        assert_eq!(delivery.status, DeliveryStatus::Pending, "{delivery:?}");
        assert!(delivery.attempts.len() >= 2, "{delivery:?}");
        assert!(
            delivery
                .last_error
                .as_deref()
                .unwrap()
                .contains("cannot connect"),
            "{delivery:?}"
        );
    }

    // The server stops (perhaps mid-send) and another starts; then the receiver comes back.
    first_server.abort();
    let second_server = tokio::spawn(alerting.clone().run(pool.clone()));
    let receiver = Receiver::serve_on(address).await;
    receiver.wait_for(3).await;
    // Give a duplicate, if any were coming, the time to arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    second_server.abort();

    let got = receiver.got();
    let mut ids: Vec<String> = got.iter().map(Received::delivery_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three deliveries, by id");
    let mut findings: Vec<i64> = got
        .iter()
        .map(|request| request.json()["alerts"][0]["finding_id"].as_i64().unwrap())
        .collect();
    findings.sort();
    findings.dedup();
    assert_eq!(findings.len(), 3, "each finding alerted");
    for delivery in deliveries(&pool).await {
        assert_eq!(delivery.status, DeliveryStatus::Delivered, "{delivery:?}");
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_refused_delivery_dies_at_once_and_a_person_can_retry_it(pool: PgPool) {
    let receiver = Receiver::start().await;
    receiver.status.store(404, Ordering::SeqCst);
    let alerting = alerting(quick_settings());
    webhook(
        &pool,
        &alerting,
        "security",
        &receiver.url(),
        Some(Severity::Info),
    )
    .await;
    ingest_records(&pool, vec![deletion("e1", "prod/db")]).await;
    alerting.pass(&pool).await.unwrap();

    let dead = &deliveries(&pool).await[0];
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert_eq!(dead.attempts.len(), 1, "a 404 is not retried by itself");
    assert_eq!(dead.attempts[0].response_code, Some(404));
    assert!(
        dead.last_error.as_deref().unwrap().contains("404"),
        "{dead:?}"
    );

    // Throttled receivers are waited for, as they ask.
    receiver.status.store(429, Ordering::SeqCst);
    log::retry(&pool, &ADMIN, &dead.id).await.unwrap();
    alerting.pass(&pool).await.unwrap();
    let waiting = &deliveries(&pool).await[0];
    assert_eq!(waiting.status, DeliveryStatus::Pending);
    let wait = waiting.next_attempt_at.unwrap() - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::milliseconds(500),
        "Retry-After: 1 is honoured: {wait}"
    );

    receiver.status.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    alerting.pass(&pool).await.unwrap();
    let delivered = &deliveries(&pool).await[0];
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.attempts.len(), 3);
    let ids: Vec<String> = receiver.got().iter().map(Received::delivery_id).collect();
    assert_eq!(
        ids,
        vec![dead.id.clone(); 3],
        "one delivery id on every attempt"
    );
    assert!(
        log::retry(&pool, &ADMIN, &dead.id).await.is_err(),
        "only the dead are retried"
    );
}

/// A receiver that answers every message `503` with a `Retry-After` far past any calendar
/// (and a megabyte of body): it must neither stop the worker nor hold other channels' alerts.
async fn hostile_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/hook",
        post(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "100000000000000")],
                "busy ".repeat(200_000),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/hook")
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_receiver_asking_for_an_absurd_wait_stops_no_other_channels_alerts(pool: PgPool) {
    let healthy = Receiver::start().await;
    let alerting = alerting(quick_settings());
    let hostile = hostile_receiver().await;
    let hostile_id = webhook(&pool, &alerting, "hostile", &hostile, Some(Severity::Info)).await;
    webhook(
        &pool,
        &alerting,
        "healthy",
        &healthy.url(),
        Some(Severity::Info),
    )
    .await;
    let worker = tokio::spawn(alerting.clone().supervise(pool.clone()));

    ingest_records(&pool, vec![deletion("e1", "prod/db")]).await;
    healthy.wait_for(1).await;
    // A finding made after the hostile answer still reaches the healthy receiver.
    ingest_records(&pool, vec![deletion("e2", "prod/api")]).await;
    healthy.wait_for(2).await;
    let mut refused = Vec::new();
    for _ in 0..200 {
        refused = deliveries(&pool)
            .await
            .into_iter()
            .filter(|delivery| {
                delivery.channel_id == hostile_id && delivery.status == DeliveryStatus::Dead
            })
            .collect();
        if refused.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.abort();

    assert_eq!(
        refused.len(),
        2,
        "both hostile deliveries end, with a reason"
    );
    for delivery in refused {
        let error = delivery.last_error.unwrap();
        assert!(error.contains("503"), "{error}");
        assert!(error.contains("asked to be retried after"), "{error}");
        assert!(error.len() < 1024, "the receiver's body is not kept whole");
        assert_eq!(delivery.attempts.len(), 1);
        assert_eq!(delivery.attempts[0].error.as_deref(), Some(error.as_str()));
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn rules_route_by_severity_and_kind(pool: PgPool) {
    let (pager, policies) = (Receiver::start().await, Receiver::start().await);
    let alerting = alerting(quick_settings());
    webhook(
        &pool,
        &alerting,
        "pager",
        &pager.url(),
        Some(Severity::Critical),
    )
    .await;
    let policy_channel = webhook(&pool, &alerting, "policies", &policies.url(), None).await;
    setup::add_rule(
        &pool,
        &ADMIN,
        NewAlertRule {
            min_severity: Severity::Low,
            kinds: vec![FindingKind::PolicyDeleted],
            secret_pattern: Some("prod/*".into()),
            secret_tag: None,
            principal_pattern: None,
            channel_ids: vec![policy_channel],
            digest_minutes: None,
        },
    )
    .await
    .unwrap();

    ingest_records(
        &pool,
        vec![
            // High: under the pager's minimum, not a policy.
            deletion("e1", "prod/db"),
            // Critical: the pager.
            event(
                "e2",
                "DeleteSecret",
                "prod/api",
                json!({ "forceDeleteWithoutRecovery": true }),
            ),
            // Medium policy deletions: the policy channel, for prod/ only.
            event("e3", "DeleteResourcePolicy", "prod/db", json!({})),
            event("e4", "DeleteResourcePolicy", "dev/db", json!({})),
        ],
    )
    .await;
    alerting.pass(&pool).await.unwrap();

    let alerted = |receiver: &Receiver| -> Vec<(String, String)> {
        receiver
            .got()
            .iter()
            .map(|request| {
                let alert = request.json()["alerts"][0].clone();
                (
                    alert["kind"].as_str().unwrap().to_string(),
                    alert["secret"]["arn"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        alerted(&pager),
        [("secret_deleted".to_string(), secret_arn("prod/api"))]
    );
    assert_eq!(
        alerted(&policies),
        [("policy_deleted".to_string(), secret_arn("prod/db"))]
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_busy_channel_is_throttled_into_one_more_message(pool: PgPool) {
    let receiver = Receiver::start().await;
    let alerting = alerting(DeliverySettings {
        throttle_messages: 2,
        throttle_window: Duration::from_secs(2),
        ..quick_settings()
    });
    webhook(
        &pool,
        &alerting,
        "security",
        &receiver.url(),
        Some(Severity::Info),
    )
    .await;
    let worker = tokio::spawn(alerting.clone().run(pool.clone()));
    ingest_records(
        &pool,
        (1..=5)
            .map(|n| deletion(&format!("e{n}"), &format!("prod/s{n}")))
            .collect(),
    )
    .await;
    let first = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.got().len(), 2, "two messages in the window");
    assert!(
        first
            .iter()
            .all(|request| request.json()["type"] == "alert")
    );

    // When the window has room again, the rest go as one message.
    let got = receiver.wait_for(3).await;
    worker.abort();
    let overflow = got[2].json();
    assert_eq!(overflow["type"], "overflow");
    assert_eq!(overflow["alerts"].as_array().unwrap().len(), 3);
    let mut alerted: Vec<i64> = got
        .iter()
        .flat_map(|request| {
            request.json()["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|alert| alert["finding_id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    alerted.sort();
    alerted.dedup();
    assert_eq!(alerted.len(), 5, "every finding alerted once");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_digest_rule_sends_its_periods_findings_in_one_message(pool: PgPool) {
    let receiver = Receiver::start().await;
    let alerting = alerting(quick_settings());
    let channel = webhook(&pool, &alerting, "digest", &receiver.url(), None).await;
    setup::add_rule(
        &pool,
        &ADMIN,
        NewAlertRule {
            min_severity: Severity::Info,
            kinds: Vec::new(),
            secret_pattern: None,
            secret_tag: None,
            principal_pattern: None,
            channel_ids: vec![channel],
            digest_minutes: Some(60),
        },
    )
    .await
    .unwrap();
    ingest_records(&pool, vec![deletion("e1", "prod/db")]).await;
    ingest_records(&pool, vec![deletion("e2", "prod/api")]).await;
    alerting.pass(&pool).await.unwrap();
    assert!(receiver.got().is_empty(), "nothing before the period ends");
    let collecting = deliveries(&pool).await;
    assert_eq!(collecting.len(), 1);
    assert_eq!(collecting[0].status, DeliveryStatus::Collecting);
    assert_eq!(collecting[0].finding_ids.len(), 2);
    let due = collecting[0].next_attempt_at.unwrap() - chrono::Utc::now();
    assert!(due > chrono::Duration::minutes(59), "{due}");

    // The period ends.
    sqlx::query("UPDATE alert_deliveries SET next_attempt_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    alerting.pass(&pool).await.unwrap();
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let digest = got[0].json();
    assert_eq!(digest["type"], "digest");
    assert_eq!(digest["digest_minutes"], 60);
    assert_eq!(digest["alerts"].as_array().unwrap().len(), 2);

    // A later finding starts the next period's digest.
    ingest_records(&pool, vec![deletion("e3", "prod/queue")]).await;
    alerting.pass(&pool).await.unwrap();
    let statuses: Vec<DeliveryStatus> = deliveries(&pool).await.iter().map(|d| d.status).collect();
    assert_eq!(
        statuses,
        [DeliveryStatus::Collecting, DeliveryStatus::Delivered]
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn two_servers_on_one_database_send_each_alert_once(pool: PgPool) {
    let receiver = Receiver::start().await;
    let alerting = alerting(quick_settings());
    webhook(
        &pool,
        &alerting,
        "security",
        &receiver.url(),
        Some(Severity::Info),
    )
    .await;
    let servers = [
        tokio::spawn(alerting.clone().run(pool.clone())),
        tokio::spawn(alerting.clone().run(pool.clone())),
    ];
    for batch in 0..4 {
        ingest_records(
            &pool,
            (0..5)
                .map(|n| deletion(&format!("e{batch}-{n}"), &format!("prod/s{batch}-{n}")))
                .collect(),
        )
        .await;
    }
    receiver.wait_for(20).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for server in servers {
        server.abort();
    }
    let mut ids: Vec<String> = receiver.got().iter().map(Received::delivery_id).collect();
    assert_eq!(ids.len(), 20, "no message sent twice");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn admins_set_up_channels_through_the_api_and_secrets_never_come_back(pool: PgPool) {
    use common::{get, send_json, signed_in};
    use trailkeeper_app::Role;

    let receiver = Receiver::start().await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let auditor = signed_in(&pool, "aud", Role::Auditor).await;
    let app = common::app(pool.clone()).await;

    // A webhook without a signing key gets one, shown this once, and a catch-all rule.
    let created = send_json(
        &app,
        "POST",
        "/api/v1/alerts/channels",
        &json!({ "kind": "webhook", "name": "security", "min_severity": "high",
                 "config": { "url": receiver.url(),
                             "headers": { "Authorization": "Bearer hunter2-token" } } })
        .to_string(),
        &admin,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let created: Value = serde_json::from_str(&created.body).unwrap();
    let signing_key = created["signing_key"].as_str().unwrap().to_string();
    assert!(signing_key.starts_with("whsec_"));
    let channel = created["channel"]["id"].as_i64().unwrap();
    assert_eq!(
        created["channel"]["config"],
        json!({ "url": receiver.url() })
    );
    assert_eq!(
        created["channel"]["secret_fields"],
        json!(["headers", "signing_key"])
    );

    let listed = get(&app, "/api/v1/alerts/channels", &auditor).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.body.contains("security"));
    let rules = get(&app, "/api/v1/alerts/rules", &auditor).await;
    let rules: Value = serde_json::from_str(&rules.body).unwrap();
    assert_eq!(rules[0]["min_severity"], "high");
    assert_eq!(rules[0]["channel_ids"], json!([channel]));

    // Settings that cannot work are refused by name; a second channel of one name too.
    let refused = send_json(
        &app,
        "POST",
        "/api/v1/alerts/channels",
        &json!({ "kind": "slack", "name": "chat", "config": { "url": "not a url" } }).to_string(),
        &admin,
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("not a URL"), "{}", refused.body);
    let taken = send_json(
        &app,
        "POST",
        "/api/v1/alerts/channels",
        &json!({ "kind": "webhook", "name": "security",
                 "config": { "url": receiver.url() } })
        .to_string(),
        &admin,
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    // A test message goes out signed with the key that was shown.
    let tested = send_json(
        &app,
        "POST",
        &format!("/api/v1/alerts/channels/{channel}/test"),
        "",
        &admin,
    )
    .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    let tested: Value = serde_json::from_str(&tested.body).unwrap();
    assert_eq!(tested["status"], "delivered");
    assert_eq!(tested["kind"], "test");
    assert_eq!(tested["attempts"][0]["response_code"], 200);
    let request = &receiver.got()[0];
    let signature = request.headers["trailkeeper-signature"].to_str().unwrap();
    assert!(verifies(&signing_key, signature, &request.body));
    assert_eq!(request.headers["authorization"], "Bearer hunter2-token");
    assert_eq!(request.json()["type"], "test");

    // A new path on the same receiver keeps the saved secrets.
    let same_receiver = format!("{}?team=secops", receiver.url());
    let changed = send_json(
        &app,
        "PATCH",
        &format!("/api/v1/alerts/channels/{channel}"),
        &json!({ "config": { "url": same_receiver } }).to_string(),
        &admin,
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);

    // Another destination without the secrets is refused: an admin's session (or a stolen
    // token) cannot redirect the signing key and header values to a server of theirs.
    let moved = Receiver::start().await;
    let redirected = send_json(
        &app,
        "PATCH",
        &format!("/api/v1/alerts/channels/{channel}"),
        &json!({ "config": { "url": moved.url() } }).to_string(),
        &admin,
    )
    .await;
    assert_eq!(
        redirected.status,
        StatusCode::BAD_REQUEST,
        "{}",
        redirected.body
    );
    assert!(
        redirected
            .body
            .contains("give its saved secret settings again (headers, signing_key)"),
        "{}",
        redirected.body
    );
    send_json(
        &app,
        "POST",
        &format!("/api/v1/alerts/channels/{channel}/test"),
        "",
        &admin,
    )
    .await;
    assert!(
        moved.got().is_empty(),
        "nothing went to the new destination"
    );
    assert_eq!(receiver.got().len(), 2);

    // Given again, the secrets go with the move, and the audit log names both ends.
    let changed = send_json(
        &app,
        "PATCH",
        &format!("/api/v1/alerts/channels/{channel}"),
        &json!({ "config": { "url": moved.url(), "signing_key": signing_key,
                             "headers": { "Authorization": "Bearer hunter2-token" } } })
        .to_string(),
        &admin,
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    send_json(
        &app,
        "POST",
        &format!("/api/v1/alerts/channels/{channel}/test"),
        "",
        &admin,
    )
    .await;
    let request = &moved.got()[0];
    let signature = request.headers["trailkeeper-signature"].to_str().unwrap();
    assert!(verifies(&signing_key, signature, &request.body));
    assert_eq!(request.headers["authorization"], "Bearer hunter2-token");
    let moved_entry: Value = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'alert.channel_changed' \
         AND detail ? 'destination' AND detail->'destination' <> 'null' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        moved_entry["destination"],
        json!({ "from": format!("http://{}", receiver.address),
                "to": format!("http://{}", moved.address) })
    );

    // The log, filtered; and nothing anywhere repeats a secret.
    let log = get(
        &app,
        &format!("/api/v1/alerts/deliveries?status=delivered&channel={channel}"),
        &auditor,
    )
    .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let log: Value = serde_json::from_str(&log.body).unwrap();
    assert_eq!(log["items"].as_array().unwrap().len(), 3);
    let bad = get(&app, "/api/v1/alerts/deliveries?status=lost", &auditor).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let stored: String = sqlx::query_scalar(
        "SELECT string_agg(config::text || COALESCE(sealed, ''), ' ') FROM alert_channels",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let audit: String =
        sqlx::query_scalar("SELECT string_agg(summary || detail::text, ' ') FROM audit_log")
            .fetch_one(&pool)
            .await
            .unwrap();
    let listed = get(&app, "/api/v1/alerts/channels", &auditor).await.body;
    for text in [stored, audit.clone(), listed] {
        assert!(!text.contains(&signing_key));
        assert!(!text.contains("hunter2-token"));
    }
    assert!(audit.contains("added the webhook alert channel"), "{audit}");
    assert!(audit.contains("sent a test message"), "{audit}");

    let disabled = send_json(
        &app,
        "PATCH",
        &format!("/api/v1/alerts/channels/{channel}"),
        &json!({ "enabled": false }).to_string(),
        &admin,
    )
    .await;
    let disabled: Value = serde_json::from_str(&disabled.body).unwrap();
    assert_eq!(disabled["enabled"], false);
    let removed = send_json(
        &app,
        "DELETE",
        &format!("/api/v1/alerts/channels/{channel}"),
        "",
        &admin,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let rules = get(&app, "/api/v1/alerts/rules", &auditor).await;
    assert_eq!(rules.body, "[]", "a rule left with no channel goes too");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn an_sns_channel_publishes_with_attributes_a_subscriber_can_filter_on(pool: PgPool) {
    use aws_config::{BehaviorVersion, Region};
    std::env::var("AWS_ENDPOINT_URL")
        .expect("this test needs the AWS API peer: run it with `make test`");
    let aws = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-north-1"))
        .load()
        .await;
    let sns = aws_sdk_sns::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let topic = sns
        .create_topic()
        .name("trailkeeper-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue = sqs
        .create_queue()
        .queue_name("security-inbox")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();

    let alerting = Alerting {
        senders: common::loopback_senders().with_aws(aws.clone()),
        ..alerting(quick_settings())
    };
    let created = setup::add_channel(
        &pool,
        &alerting.key,
        &alerting.senders,
        &ADMIN,
        NewChannel {
            kind: ChannelKind::Sns,
            name: "sns".into(),
            config: json!({ "topic_arn": topic }),
            min_severity: Some(Severity::Info),
        },
    )
    .await
    .unwrap();
    assert_eq!(created.channel.secret_fields, Vec::<String>::new());
    let refused = setup::add_channel(
        &pool,
        &alerting.key,
        &alerting.senders,
        &ADMIN,
        NewChannel {
            kind: ChannelKind::Sns,
            name: "wrong".into(),
            config: json!({ "topic_arn": "trailkeeper-alerts" }),
            min_severity: None,
        },
    )
    .await;
    assert!(
        matches!(&refused, Err(AppError::Invalid { message: m, .. }) if m.contains("not a topic ARN")),
        "{:?}",
        refused.map(|created| created.channel)
    );

    ingest_records(&pool, vec![deletion("e1", "prod/db")]).await;
    alerting.pass(&pool).await.unwrap();
    let log = deliveries(&pool).await;
    assert_eq!(log[0].status, DeliveryStatus::Delivered, "{:?}", log[0]);

    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    // SNS wraps the message for SQS: the alert is its Message, the attributes beside it.
    let envelope: Value = serde_json::from_str(received[0].body().unwrap()).unwrap();
    assert_eq!(envelope["TopicArn"], topic);
    assert_eq!(envelope["Subject"], "[HIGH] prod/db deleted");
    assert_eq!(envelope["MessageAttributes"]["severity"]["Value"], "high");
    assert_eq!(
        envelope["MessageAttributes"]["kind"]["Value"],
        "secret_deleted"
    );
    let message: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["delivery_id"], log[0].id);
    assert_eq!(message["alerts"][0]["secret"]["arn"], secret_arn("prod/db"));
}

/// A real SMTP server (aiosmtpd from the repository's venv) keeping mail in a maildir.
struct SmtpServer {
    process: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
        let port = Receiver::reserve().await.port();
        let maildir = tempfile::tempdir().unwrap();
        let server = SmtpServer {
            process: std::process::Command::new(python)
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(maildir.path().join("mail"))
                .spawn()
                .expect("aiosmtpd from the venv (scripts/setup.sh installs it)"),
            port,
            maildir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    fn mail(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.path().join("mail").join("new"))
            .map(|entries| {
                entries
                    .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn an_email_channel_sends_text_and_html_through_a_real_smtp_server(pool: PgPool) {
    let smtp = SmtpServer::start().await;
    let alerting = alerting(quick_settings());
    let created = setup::add_channel(
        &pool,
        &alerting.key,
        &alerting.senders,
        &ADMIN,
        NewChannel {
            kind: ChannelKind::Email,
            name: "secops mail".into(),
            config: json!({ "host": "127.0.0.1", "port": smtp.port, "security": "none",
                            "from": "Trailkeeper <trailkeeper@example.test>",
                            "to": ["secops@example.test"] }),
            min_severity: Some(Severity::Medium),
        },
    )
    .await
    .unwrap();
    assert_eq!(created.channel.config["host"], "127.0.0.1");

    ingest_records(&pool, vec![deletion("e1", "prod/db")]).await;
    alerting.pass(&pool).await.unwrap();
    let log = deliveries(&pool).await;
    assert_eq!(log[0].status, DeliveryStatus::Delivered, "{:?}", log[0]);
    assert_eq!(log[0].attempts[0].response_code, Some(250));

    let mail = smtp.mail();
    assert_eq!(mail.len(), 1);
    let mail = &mail[0];
    assert!(mail.contains("Subject: [HIGH] prod/db deleted"), "{mail}");
    assert!(mail.contains("To: secops@example.test"), "{mail}");
    assert!(
        mail.contains(&format!("Message-ID: <{}@trailkeeper>", log[0].id)),
        "{mail}"
    );
    assert!(mail.contains("Content-Type: text/plain"), "{mail}");
    assert!(mail.contains("Content-Type: text/html"), "{mail}");
    assert!(mail.contains("recovery window of 7 days"), "{mail}");

    // A server that is gone is retried, not given up on.
    drop(smtp);
    ingest_records(&pool, vec![deletion("e2", "prod/api")]).await;
    alerting.pass(&pool).await.unwrap();
    let waiting = &deliveries(&pool).await[0];
    assert_eq!(waiting.status, DeliveryStatus::Pending, "{waiting:?}");
    assert!(
        waiting.last_error.as_deref().unwrap().contains("SMTP"),
        "{waiting:?}"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_slack_channel_posts_a_coloured_block_kit_message_linking_the_finding(pool: PgPool) {
    let slack = Receiver::start().await;
    let alerting = alerting(quick_settings());
    setup::add_channel(
        &pool,
        &alerting.key,
        &alerting.senders,
        &ADMIN,
        NewChannel {
            kind: ChannelKind::Slack,
            name: "#secops".into(),
            config: json!({ "url": slack.url() }),
            min_severity: Some(Severity::Medium),
        },
    )
    .await
    .unwrap();

    ingest_records(&pool, vec![deletion("e1", "prod/db")]).await;
    alerting.pass(&pool).await.unwrap();
    let got = slack.wait_for(1).await;
    let log = deliveries(&pool).await;
    assert_eq!(log[0].status, DeliveryStatus::Delivered, "{:?}", log[0]);

    let finding: i64 = sqlx::query_scalar("SELECT id FROM findings")
        .fetch_one(&pool)
        .await
        .unwrap();
    let message = got[0].json();
    assert_eq!(got[0].headers["content-type"], "application/json");
    assert_eq!(message["text"], "[HIGH] prod/db deleted");
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["color"], "#d93f0b", "high findings are orange");
    let blocks = attachment["blocks"].as_array().unwrap();
    assert!(
        blocks
            .iter()
            .all(|block| ["section", "context"].contains(&block["type"].as_str().unwrap())),
        "{message}"
    );
    let alert = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        alert.starts_with(&format!(
            "*<http://127.0.0.1:3000/findings/{finding}|prod/db deleted>*"
        )),
        "{alert}"
    );
    assert!(alert.contains("recovery window of 7 days"), "{alert}");
    assert!(
        message.to_string().contains(&log[0].id),
        "the delivery id lets a reader match the log: {message}"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn channels_to_internal_addresses_are_refused_unless_allowed(pool: PgPool) {
    use common::{send_json, signed_in};

    use trailkeeper_app::Role;

    let receiver = Receiver::start().await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    // As served without TRAILKEEPER_ALERT_ALLOWED_HOSTS.
    let app = common::app_with(&pool, &[]).await;
    let add = |name: &str, url: String| {
        let body = json!({ "kind": "webhook", "name": name, "config": { "url": url } }).to_string();
        let (app, admin) = (app.clone(), admin.clone());
        async move { send_json(&app, "POST", "/api/v1/alerts/channels", &body, &admin).await }
    };

    let metadata = add(
        "metadata",
        "http://169.254.169.254/latest/meta-data/".into(),
    )
    .await;
    assert_eq!(
        metadata.status,
        StatusCode::BAD_REQUEST,
        "{}",
        metadata.body
    );
    assert!(
        metadata
            .body
            .contains("169.254.169.254 is a link-local address"),
        "{}",
        metadata.body
    );
    assert!(
        metadata.body.contains("TRAILKEEPER_ALERT_ALLOWED_HOSTS"),
        "{}",
        metadata.body
    );
    let loopback = add("loopback", receiver.url()).await;
    assert_eq!(
        loopback.status,
        StatusCode::BAD_REQUEST,
        "{}",
        loopback.body
    );
    assert!(
        loopback.body.contains("127.0.0.1 is a loopback address"),
        "{}",
        loopback.body
    );

    // A name is checked where it resolves, when a message is sent: the test message dies
    // with the reason, and nothing reaches the receiver.
    let by_name = add(
        "by name",
        format!("http://localhost:{}/hook", receiver.address.port()),
    )
    .await;
    assert_eq!(by_name.status, StatusCode::CREATED, "{}", by_name.body);
    let created: Value = serde_json::from_str(&by_name.body).unwrap();
    let channel = created["channel"]["id"].as_i64().unwrap();
    let tested = send_json(
        &app,
        "POST",
        &format!("/api/v1/alerts/channels/{channel}/test"),
        "",
        &admin,
    )
    .await;
    let tested: Value = serde_json::from_str(&tested.body).unwrap();
    assert_eq!(tested["status"], "dead", "{tested}");
    let error = tested["last_error"].as_str().unwrap();
    assert!(error.contains("localhost is a loopback address"), "{error}");
    assert!(receiver.got().is_empty());

    // Listed, the same receiver is reached.
    let allowed = common::app(pool.clone()).await;
    let body = json!({ "kind": "webhook", "name": "allowed", "config": { "url": receiver.url() } });
    let added = send_json(
        &allowed,
        "POST",
        "/api/v1/alerts/channels",
        &body.to_string(),
        &admin,
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
}
