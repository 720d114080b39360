//! The web layer against a real PostgreSQL: each test gets a fresh database from
//! `#[sqlx::test]` (created from DATABASE_URL's server, migrated, dropped afterwards).

use crate::common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{As, Fetched, app, get, post_form, signed_in};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower::ServiceExt;
use trailkeeper::audit::{Action, Entry, SYSTEM_ACTOR};
use trailkeeper::db::MIGRATOR;
use trailkeeper_app::Role;
use trailkeeper_app::api::overview::Overview;

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn healthz_reports_the_database_up_with_details_only_to_the_signed_in(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool).await;
    let Fetched { status, body, .. } = get(&app, "/healthz", &As::Nobody).await;
    assert_eq!(status, StatusCode::OK);
    let anonymous: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(anonymous, serde_json::json!({ "status": "ok" }));

    let Fetched { status, body, .. } = get(&app, "/healthz", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["database"]["status"], "up");
    assert!(health["database"]["latency_ms"].as_f64().unwrap() >= 0.0);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn healthz_is_503_without_the_reason_when_the_database_is_down(pool: PgPool) {
    // Served, and then the database is gone: nothing listens on port 1, so every
    // connection attempt is refused.
    let mut context = common::context(&pool, &[]).await;
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(1)
        .username("nobody");
    context.pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy_with(options);
    let app = trailkeeper::web::router(context);
    let Fetched { status, body, .. } = get(&app, "/healthz", &As::Nobody).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let health: Value = serde_json::from_str(&body).unwrap();
    // A stranger learns that it is down, not why (the server log says why).
    assert_eq!(health, serde_json::json!({ "status": "unavailable" }));

    // Not ready for traffic, but alive: nothing to gain from restarting it.
    let ready = get(&app, "/healthz/ready", &As::Nobody).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        serde_json::from_str::<Value>(&ready.body).unwrap(),
        json!({ "status": "unavailable" })
    );
    let live = get(&app, "/healthz/live", &As::Nobody).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&live.body).unwrap(),
        json!({ "status": "ok" })
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_server_is_ready_only_beside_the_schema_it_was_built_for(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool.clone()).await;
    let ready = get(&app, "/healthz/ready", &As::Nobody).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&ready.body).unwrap(),
        json!({ "status": "ok" })
    );
    let details: Value =
        serde_json::from_str(&get(&app, "/healthz/ready", &viewer).await.body).unwrap();
    assert_eq!(details["database"]["status"], "up");
    assert_eq!(
        details["migrations"],
        json!({ "status": "current", "pending": 0, "unknown": 0 })
    );

    // A newer release migrated the database while this server still runs.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101, 'from a newer release', true, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let ready = get(&app, "/healthz/ready", &As::Nobody).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        serde_json::from_str::<Value>(&ready.body).unwrap(),
        json!({ "status": "unavailable" })
    );
    let details: Value =
        serde_json::from_str(&get(&app, "/healthz/ready", &viewer).await.body).unwrap();
    assert_eq!(
        details["migrations"],
        json!({ "status": "mismatched", "pending": 0, "unknown": 1 })
    );
    // It still answers, and its database too.
    assert_eq!(
        get(&app, "/healthz", &As::Nobody).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/healthz/live", &As::Nobody).await.status,
        StatusCode::OK
    );

    // A database this binary's last migration has not reached.
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version IN ($1, 99990101)")
        .bind(latest)
        .execute(&pool)
        .await
        .unwrap();
    let details: Value =
        serde_json::from_str(&get(&app, "/healthz/ready", &viewer).await.body).unwrap();
    assert_eq!(details["status"], "unavailable");
    assert_eq!(
        details["migrations"],
        json!({ "status": "mismatched", "pending": 1, "unknown": 0 })
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn overview_is_rendered_on_the_server_from_the_database(pool: PgPool) {
    Entry::new(
        SYSTEM_ACTOR,
        Action::ServiceStarted,
        "Trailkeeper started <script>alert(1)</script>",
    )
    .record(&pool)
    .await
    .unwrap();
    let admin = signed_in(&pool, "ada", Role::Admin).await;

    let page = get(&app(pool).await, "/", &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    let sections = page.sections();
    for section in [
        "Overview",
        "Secrets",
        "Events",
        "Findings",
        "Alerts",
        "Settings",
        "Audit log",
    ] {
        assert!(
            sections.iter().any(|shown| shown == section),
            "navigation lacks {section}: {sections:?}"
        );
    }
    let html = page.body;
    assert!(html.contains("Sign out"), "{html}");
    assert!(
        html.contains("service.started"),
        "the audit entry is missing:\n{html}"
    );
    // Text from the store is escaped, never markup.
    assert!(
        html.contains("Trailkeeper started &lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)</script>"));
    let newest = MIGRATOR.iter().last().unwrap();
    assert!(html.contains(&format!(
        "version {} ({})",
        newest.version, newest.description
    )));
    // The AWS target it was served with: the SDK's region, the AWS peer's.
    assert!(html.contains(&std::env::var("AWS_REGION").unwrap()));
    assert!(
        html.contains("/pkg/trailkeeper.js"),
        "hydration script missing"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_overview_server_function_returns_newest_activity_first(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    for summary in ["first", "second"] {
        Entry::new(SYSTEM_ACTOR, Action::SchemaMigrated, summary)
            .detail(json!({}))
            .record(&pool)
            .await
            .unwrap();
    }
    let response = post_form(&app(pool).await, "/api/overview", "", &viewer).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let overview: Overview = serde_json::from_str(&response.body).unwrap();
    let summaries: Vec<&str> = overview
        .recent_activity
        .iter()
        .map(|entry| entry.summary.as_str())
        .collect();
    assert_eq!(
        summaries,
        ["second", "first", "created user vic with role viewer"]
    );
    assert!(overview.database.server_version.starts_with("PostgreSQL "));
    assert_eq!(
        overview.database.schema_version,
        MIGRATOR.iter().last().unwrap().version
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn auditors_read_the_alerts_page_without_its_forms_and_unknown_pages_are_404(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Auditor).await;
    let app = app(pool).await;
    let Fetched {
        status, body: html, ..
    } = get(&app, "/alerts", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Delivery log"));
    assert!(
        !html.contains("Add a channel"),
        "changing alerts is for admins"
    );

    let Fetched {
        status, body: html, ..
    } = get(&app, "/no-such-page", &viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("There is no page at this address."));

    // Without a session, an unknown address does not even say whether it exists.
    let anonymous = get(&app, "/no-such-page", &As::Nobody).await;
    assert!(anonymous.status.is_redirection());
    assert_eq!(anonymous.location(), "/login");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn metrics_count_requests_by_route_and_status(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool).await;
    get(&app, "/healthz", &As::Nobody).await;
    get(&app, "/healthz", &As::Nobody).await;
    get(&app, "/", &viewer).await;
    let Fetched {
        status, body: text, ..
    } = get(&app, "/metrics", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            r#"trailkeeper_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"trailkeeper_http_request_duration_seconds_count{method="GET",route="/"} 1"#
        ),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

/// The value of the series `name` (with its labels, as exposed) in a scrape.
fn series_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// A source lagging ten minutes, one failing and one not, two quarantined records, a sync
/// that failed twice since its last success and one that succeeds, an active and a resolved
/// finding, and a channel with deliveries in every state. Returns the lagging source.
async fn seed_pipeline_state(pool: &PgPool) -> &'static str {
    let lagging = "s3://trail/AWSLogs/111111111111/CloudTrail/us-east-1/";
    sqlx::query(
        "INSERT INTO ingest_checkpoints (source, position, newest_event_time) \
         VALUES ($1, 'x', now() - interval '10 minutes')",
    )
    .bind(lagging)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ingest_polls (source, polled_at, error) VALUES \
         ('s3://trail/', now(), 'AccessDenied'), ('LookupEvents in eu-west-1', now(), NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO quarantine (source, position, reason) VALUES \
         ('a.json', '1', 'not JSON'), ('a.json', '2', 'not JSON')",
    )
    .execute(pool)
    .await
    .unwrap();
    // A success an hour ago, then two failures; another region only succeeds.
    sqlx::query(
        "INSERT INTO sync_runs (account_id, region, outcome, started_at, finished_at) VALUES \
         ('111111111111', 'us-east-1', 'succeeded', now() - interval '1 hour', \
          now() - interval '59 minutes'), \
         ('111111111111', 'us-east-1', 'failed', now() - interval '30 minutes', \
          now() - interval '29 minutes'), \
         ('111111111111', 'us-east-1', 'failed', now() - interval '5 minutes', \
          now() - interval '4 minutes'), \
         ('111111111111', 'eu-west-1', 'succeeded', now() - interval '5 minutes', now())",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO findings (kind, severity, title, explanation, first_seen, last_seen, count, \
                               status) VALUES \
         ('bulk_retrieval', 'high', 't', 'e', now(), now(), 1, 'open'), \
         ('policy_opened', 'critical', 't', 'e', now(), now(), 1, 'resolved')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "WITH channel AS (INSERT INTO alert_channels (kind, name, created_by) \
                          VALUES ('webhook', 'ops', 'test') RETURNING id) \
         INSERT INTO alert_deliveries (channel_id, kind, status) \
         SELECT id, 'alert', status FROM channel, \
             unnest(ARRAY['dead', 'pending', 'pending', 'delivered']) AS status",
    )
    .execute(pool)
    .await
    .unwrap();

    lagging
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn metrics_say_what_an_operator_alerts_on_from_the_store(pool: PgPool) {
    let lagging = seed_pipeline_state(&pool).await;
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool).await;
    let Fetched { status, body, .. } = get(&app, "/metrics", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    let value = |name: &str| series_value(&body, name).unwrap_or_else(|| panic!("{name}: {body}"));
    assert_eq!(value("trailkeeper_store_up"), 1.0);
    let lag = value(&format!(
        r#"trailkeeper_source_lag_seconds{{source="{lagging}"}}"#
    ));
    assert!((600.0..700.0).contains(&lag), "lag {lag}");
    assert_eq!(
        value(r#"trailkeeper_source_failing{source="s3://trail/"}"#),
        1.0
    );
    assert_eq!(
        value(r#"trailkeeper_source_failing{source="LookupEvents in eu-west-1"}"#),
        0.0
    );
    assert_eq!(value("trailkeeper_quarantined_records"), 2.0);
    assert_eq!(
        value(r#"trailkeeper_sync_failures{account="111111111111",region="us-east-1"}"#),
        2.0
    );
    assert_eq!(
        value(r#"trailkeeper_sync_failures{account="111111111111",region="eu-west-1"}"#),
        0.0
    );
    let synced = value(
        r#"trailkeeper_sync_last_success_timestamp_seconds{account="111111111111",region="us-east-1"}"#,
    );
    let hour_ago = (chrono::Utc::now() - chrono::Duration::minutes(59)).timestamp() as f64;
    assert!((synced - hour_ago).abs() < 60.0, "{synced} vs {hour_ago}");
    assert_eq!(
        value(r#"trailkeeper_findings_active{kind="bulk_retrieval",severity="high"}"#),
        1.0
    );
    assert!(
        !body.contains(r#"trailkeeper_findings_active{kind="policy_opened""#),
        "a resolved finding is not active"
    );
    assert_eq!(
        value(r#"trailkeeper_findings_opened_total{kind="policy_opened",severity="critical"}"#),
        1.0,
        "but it was opened"
    );
    assert_eq!(
        value(r#"trailkeeper_alert_deliveries{channel="ops",status="dead"}"#),
        1.0
    );
    assert_eq!(
        value(r#"trailkeeper_alert_deliveries{channel="ops",status="pending"}"#),
        2.0
    );
    let connections = value(r#"trailkeeper_db_pool_connections{state="in_use"}"#)
        + value(r#"trailkeeper_db_pool_connections{state="idle"}"#);
    assert!(connections >= 1.0, "{connections}");
    let waited = value("trailkeeper_db_pool_wait_seconds");
    assert!(
        (0.0..1.0).contains(&waited),
        "an idle pool keeps nobody waiting: {waited}"
    );
    assert!(body.trim_end().ends_with("# EOF"));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_shipped_alert_rules_are_well_formed_and_name_series_the_server_exposes(pool: PgPool) {
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/prometheus-rules.yml"
    ))
    .unwrap();
    // Prometheus's own checker, where Debian's `prometheus` package put it.
    if let Ok(checked) = std::process::Command::new("promtool")
        .args([
            "check",
            "rules",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/prometheus-rules.yml"),
        ])
        .output()
    {
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stdout)
        );
    }
    seed_pipeline_state(&pool).await;
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool).await;
    // A request answered, so the request series have a sample too.
    get(&app, "/healthz", &As::Nobody).await;
    let scrape = get(&app, "/metrics", &viewer).await.body;
    let exposed: Vec<&str> = scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .collect();

    let alerts: Vec<&str> = rules.split("      - alert: ").skip(1).collect();
    assert!(alerts.len() >= 8, "{} rules", alerts.len());
    for alert in alerts {
        let name = alert.lines().next().unwrap();
        let field = |key: &str| {
            alert
                .lines()
                .find_map(|line| line.trim().strip_prefix(key))
                .map(str::trim)
                .unwrap_or_else(|| panic!("{name} has no {key}"))
        };
        let expr = field("expr:");
        assert!(field("for:").ends_with('m'), "{name}");
        assert!(
            ["critical", "warning"].contains(&field("severity:")),
            "{name}"
        );
        assert!(field("summary:").starts_with('"'), "{name}");
        let mut depth = 0i32;
        for c in expr.chars() {
            depth += match c {
                '(' | '{' | '[' => 1,
                ')' | '}' | ']' => -1,
                _ => 0,
            };
            assert!(depth >= 0, "{name}: {expr}");
        }
        assert_eq!(depth, 0, "{name}: {expr}");
        // Every Trailkeeper series a rule reads is one the server exposes.
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("trailkeeper_") {
                let family = ["_total", "_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| word.strip_suffix(suffix))
                    .unwrap_or(word);
                assert!(
                    exposed.contains(&family),
                    "{name} reads {word}, which is not exposed"
                );
            }
        }
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn made_up_methods_and_paths_add_no_metric_series(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool).await;
    let series = |text: &str| {
        text.lines()
            .filter(|line| line.starts_with("trailkeeper_http_requests_total{"))
            .count()
    };
    let send_odd = |n: usize| {
        let app = app.clone();
        async move {
            let request = axum::http::Request::builder()
                .method(format!("M{n:04}X").as_str())
                .uri(format!("/no/such/{n}"))
                .header("host", common::HOST)
                .header("origin", common::ORIGIN)
                .body(axum::body::Body::empty())
                .unwrap();
            common::send(&app, request).await;
        }
    };
    send_odd(0).await;
    get(&app, "/no/such/page", &As::Nobody).await;
    let before = series(&get(&app, "/metrics", &viewer).await.body);
    for n in 1..=1000 {
        send_odd(n).await;
    }
    for n in 1..=50 {
        get(&app, &format!("/no/such/page/{n}"), &As::Nobody).await;
    }
    let text = get(&app, "/metrics", &viewer).await.body;
    // Only /metrics itself may have joined (its first answer was counted after it rendered).
    assert!(series(&text) <= before + 1, "{text}");
    assert!(!text.contains("M0001X"), "{text}");
    assert!(!text.contains("/no/such"), "{text}");
    assert!(text.contains(r#"method="other",route="other""#), "{text}");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn pages_allow_only_the_hydration_script_that_carries_their_nonce(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let Fetched {
        headers,
        body: html,
        ..
    } = get(&app(pool).await, "/", &viewer).await;
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();

    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the page policy names a nonce");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script lacks the nonce"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(
        !headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
        "no HSTS without TLS"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn non_page_responses_may_run_nothing(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool).await;
    for uri in ["/healthz", "/metrics", "/api/v1/me", "/api/v1/openapi.json"] {
        let Fetched { headers, .. } = get(&app, uri, &viewer).await;
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; frame-ancestors 'none'",
            "{uri}"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{uri}");
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn oversized_request_bodies_are_refused(pool: PgPool) {
    let body = vec![b'a'; trailkeeper::web::MAX_REQUEST_BODY + 1];
    // From our own origin, so that the cross-site check lets it through to the size check.
    let request = Request::post("/api/overview")
        .header(header::HOST, common::HOST)
        .header(header::ORIGIN, common::ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap();
    let response = app(pool).await.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn over_tls_browsers_are_told_to_use_nothing_else(pool: PgPool) {
    // Behind a proxy that terminates TLS.
    let app = common::app_with(&pool, &["--public-url", "https://trailkeeper.example.test"]).await;
    let Fetched { headers, .. } = get(&app, "/healthz", &As::Nobody).await;
    assert_eq!(
        headers[header::STRICT_TRANSPORT_SECURITY],
        "max-age=63072000; includeSubDomains"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_server_serve_builds_answers_over_http_records_its_start_and_syncs(pool: PgPool) {
    let url = common::serving(&pool, &["--lookup-interval", "off"]).await;

    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
    let started: Vec<String> =
        sqlx::query_scalar("SELECT summary FROM audit_log WHERE action = 'service.started'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(
        started[0].ends_with(&format!("serving {url}")),
        "{started:?}"
    );

    // Its inventory sync runs at once, against the AWS peer.
    let mut outcome = None;
    for _ in 0..100 {
        outcome = sqlx::query_scalar::<_, String>(
            "SELECT outcome FROM sync_runs WHERE finished_at IS NOT NULL",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
        if outcome.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outcome.as_deref(), Some("succeeded"));
}
