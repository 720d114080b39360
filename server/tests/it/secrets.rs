//! Reading the inventory: the JSON API and the pages over secrets synced from the AWS API
//! peer (moto) into a real PostgreSQL. Each test keeps to regions of its own.

use crate::common;

use aws_sdk_secretsmanager::types::{RotationRulesType, Tag};
use axum::Router;
use axum::http::StatusCode;
use chrono::{Duration, SubsecRound, Utc};
use common::{As, app, client, create_secret, get, put_value, signed_in, value};
use serde_json::Value;
use sqlx::PgPool;
use trailkeeper::inventory::assess::reassess;
use trailkeeper::inventory::status::StatusThresholds;
use trailkeeper::inventory::sync::sync_region;
use trailkeeper_app::Role;

async fn json(app: &Router, path: &str, who: &As) -> (StatusCode, Value) {
    let fetched = get(app, path, who).await;
    let body = serde_json::from_str(&fetched.body)
        .unwrap_or_else(|_| panic!("{path} answered {}: {}", fetched.status, fetched.body));
    (fetched.status, body)
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_string())
        .collect()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_api_filters_sorts_and_pages_through_every_secret(pool: PgPool) {
    let region = "ca-central-1";
    let client = client(region).await;
    for (name, team) in [
        ("checkout/db", "payments"),
        ("checkout/stripe-key", "payments"),
        ("search/es", "search"),
        ("search/oauth", "search"),
        ("ledger/db", "payments"),
    ] {
        create_secret(&client, name, team).await;
    }
    client
        .put_resource_policy()
        .secret_id("search/es")
        .resource_policy(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    client
        .rotate_secret()
        .secret_id("ledger/db")
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .unwrap();
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;
    let list = |query: &str| format!("/api/v1/secrets?region={region}&{query}");

    // Two at a time, following `next`, every secret comes exactly once, in name order.
    let mut seen = Vec::new();
    let mut path = list("limit=2");
    loop {
        let (status, page) = json(&app, &path, &viewer).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(names(&page));
        match page["next"].as_str() {
            Some(cursor) => path = list(&format!("limit=2&cursor={cursor}")),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "checkout/db",
            "checkout/stripe-key",
            "ledger/db",
            "search/es",
            "search/oauth"
        ]
    );

    let (_, descending) = json(&app, &list("order=desc&limit=2"), &viewer).await;
    assert_eq!(names(&descending), ["search/oauth", "search/es"]);

    let (_, payments) = json(&app, &list("q=team%3Dpayments"), &viewer).await;
    assert_eq!(
        names(&payments),
        ["checkout/db", "checkout/stripe-key", "ledger/db"]
    );
    let (_, stripe) = json(&app, &list("q=STRIPE"), &viewer).await;
    assert_eq!(names(&stripe), ["checkout/stripe-key"]);

    let (_, public) = json(&app, &list("flag=public_policy"), &viewer).await;
    assert_eq!(names(&public), ["search/es"]);
    assert_eq!(
        public["items"][0]["flags"],
        serde_json::json!(["public_policy"])
    );

    let (_, healthy) = json(&app, &list("status=healthy"), &viewer).await;
    assert_eq!(names(&healthy), ["ledger/db"]);
    let reason = healthy["items"][0]["rotation_reason"].as_str().unwrap();
    assert!(reason.starts_with("Last rotated"), "{reason}");
    let item = &healthy["items"][0];
    for field in [
        "arn",
        "name",
        "region",
        "rotation_status",
        "rotation_reason",
        "flags",
    ] {
        assert!(!item[field].is_null(), "{field} missing from {item}");
    }

    let (_, by_status) = json(&app, &list("sort=status"), &viewer).await;
    assert_eq!(names(&by_status)[0], "ledger/db", "healthy before disabled");

    let (status, error) = json(&app, &list("status=fine"), &viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .starts_with("status=\"fine\" is not valid"),
        "{error}"
    );
    let (status, error) = json(&app, &list("cursor=garbage"), &viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _) = json(&app, &list("limit=1001"), &viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = json(&app, &list(""), &As::Nobody).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn one_secret_by_name_or_arn_with_its_versions_and_label_history(pool: PgPool) {
    let region = "ap-northeast-1";
    let client = client(region).await;
    let arn = create_secret(&client, "orders/api-key", "orders").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    put_value(&client, &arn, &[]).await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;

    let (status, by_name) = json(&app, "/api/v1/secrets/orders/api-key", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{by_name}");
    assert_eq!(by_name["arn"], arn.as_str());
    assert_eq!(by_name["versions"].as_array().unwrap().len(), 2);
    let moves: Vec<&str> = by_name["label_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["label"].as_str().unwrap())
        .collect();
    assert_eq!(moves, ["AWSCURRENT", "AWSCURRENT", "AWSPREVIOUS"]);
    assert_eq!(by_name["tags"]["team"], "orders");

    let (status, by_arn) = json(&app, &format!("/api/v1/secrets/{arn}"), &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_arn, by_name);

    let (status, error) = json(&app, "/api/v1/secrets/orders/nothing", &viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error["error"].as_str().unwrap().contains("orders/nothing"));

    // The same name in a second region needs the ARN.
    let elsewhere = common::client("us-east-2").await;
    create_secret(&elsewhere, "orders/api-key", "orders").await;
    sync_region(&pool, &elsewhere, "us-east-2", None)
        .await
        .unwrap();
    let (status, error) = json(&app, "/api/v1/secrets/orders/api-key", &viewer).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error["error"].as_str().unwrap().contains(&arn), "{error}");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_pending_label_left_past_the_grace_period_is_stuck(pool: PgPool) {
    let region = "ap-south-1";
    let client = client(region).await;
    let arn = create_secret(&client, "reports/db", "data").await;
    // A rotation's first step made the pending version, and nothing finished it.
    let pending = put_value(&client, &arn, &["AWSPENDING"]).await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let status = |pool: PgPool| async move {
        sqlx::query_as::<_, (String, String)>(
            "SELECT rotation_status, rotation_reason FROM secrets WHERE region = 'ap-south-1'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(
        status(pool.clone()).await.0,
        "disabled",
        "still in progress"
    );

    let later = Utc::now() + Duration::days(2) + Duration::minutes(1);
    reassess(
        &pool,
        Some(region),
        None,
        later,
        StatusThresholds::default(),
    )
    .await
    .unwrap();
    let (stuck, reason) = status(pool.clone()).await;
    assert_eq!(stuck, "stuck");
    assert_eq!(
        reason,
        format!(
            "AWSPENDING has been on version {}… for 2 days",
            &pending[..8]
        )
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn pages_show_what_aws_wrote_as_text_never_as_markup(pool: PgPool) {
    let region = "eu-central-1";
    let client = client(region).await;
    let hostile = "<img src=x onerror=alert(1)>";
    let arn = client
        .create_secret()
        .name("web/session-key")
        .description(hostile)
        .secret_string(value())
        .tags(Tag::builder().key("owner").value(hostile).build())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;

    let list = get(&app, "/secrets?q=session", &viewer).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("web/session-key"));
    let detail = get(&app, &format!("/secrets/{arn}"), &viewer).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("Version timeline"));
    for page in [&list.body, &detail.body] {
        assert!(!page.contains(hostile), "markup from AWS reached the page");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }
}

/// A CloudTrail record of a call on the secret, as a trail file holds it.
fn record(id: &str, name: &str, at: chrono::DateTime<Utc>, arn: &str, fields: Value) -> Value {
    let mut record = serde_json::json!({
        "eventVersion": "1.09",
        "eventID": id,
        "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": name,
        "awsRegion": "af-south-1",
        "recipientAccountId": "123456789012",
        "eventType": "AwsApiCall",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/deployer/ci-run-42",
            "accountId": "123456789012",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/deployer"}}
        },
        "requestParameters": {"secretId": arn},
        "responseElements": {"arn": arn},
    });
    let object = record.as_object_mut().unwrap();
    for (key, value) in fields.as_object().unwrap() {
        object.insert(key.clone(), value.clone());
    }
    record
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn cloudtrail_says_who_moved_each_label_and_when(pool: PgPool) {
    let region = "af-south-1";
    let client = client(region).await;
    let arn = create_secret(&client, "billing/ledger", "billing").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let first: String =
        sqlx::query_scalar("SELECT version_id FROM secret_versions WHERE secret_arn = $1")
            .bind(&arn)
            .fetch_one(&pool)
            .await
            .unwrap();
    // CloudTrail times are whole seconds: keep the call a second clear of the first sync.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let put_at = Utc::now();
    let second = put_value(&client, &arn, &[]).await;
    sync_region(&pool, &client, region, None).await.unwrap();

    // CloudTrail: the deployer's PutSecretValue made the second version current; later the
    // deployer moved AWSCURRENT back (no sync has seen that yet) and a rotation failed.
    let rollback_at = Utc::now() + Duration::seconds(5);
    let mut failed = record(
        "failed-0001",
        "RotationFailed",
        rollback_at + Duration::seconds(10),
        &arn,
        serde_json::json!({"errorMessage": "Error when executing lambda during testSecret step"}),
    );
    failed["eventType"] = "AwsServiceEvent".into();
    failed["userIdentity"] = serde_json::json!({"accountId": "123456789012", "invokedBy": "secretsmanager.amazonaws.com"});
    failed["additionalEventData"] = serde_json::json!({"SecretId": arn});
    let records = [
        record(
            "put-0001",
            "PutSecretValue",
            put_at,
            &arn,
            serde_json::json!({
                "requestParameters": {"secretId": arn, "clientRequestToken": second},
            }),
        ),
        record(
            "back-0001",
            "UpdateSecretVersionStage",
            rollback_at,
            &arn,
            serde_json::json!({
                "requestParameters": {"secretId": arn, "versionStage": "AWSCURRENT",
                    "moveToVersionId": first, "removeFromVersionId": second},
            }),
        ),
        failed,
    ];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        serde_json::json!({"Records": records}).to_string(),
    )
    .unwrap();
    trailkeeper::ingest::sources::files::ingest_file(&pool, file.path())
        .await
        .unwrap();
    trailkeeper::ingest::after_ingest(&pool).await.unwrap();

    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;
    let (status, detail) = json(&app, &format!("/api/v1/secrets/{arn}"), &viewer).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let moves: Vec<(&str, Option<&str>, Option<&str>, bool)> = detail["label_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["label"].as_str().unwrap(),
                change["to_version"].as_str(),
                change["by"]["event_id"].as_str(),
                change["observed_at"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("AWSCURRENT", Some(first.as_str()), None, true),
            ("AWSCURRENT", Some(second.as_str()), Some("put-0001"), true),
            ("AWSPREVIOUS", Some(first.as_str()), Some("put-0001"), true),
            ("AWSCURRENT", Some(first.as_str()), Some("back-0001"), false),
        ]
    );
    let put = &detail["label_history"][1];
    assert_eq!(
        put["at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap(),
        put_at.trunc_subsecs(0),
        "the move is dated by the event, not the sync"
    );
    assert_eq!(
        put["by"]["principal"],
        "arn:aws:iam::123456789012:role/deployer"
    );
    assert_eq!(put["by"]["session_name"], "ci-run-42");
    assert_eq!(put["by"]["origin"], "203.0.113.7");
    assert_eq!(detail["changes"][0]["event_name"], "RotationFailed");
    assert_eq!(
        detail["changes"][0]["message"],
        "Error when executing lambda during testSecret step"
    );
    assert_eq!(detail["rotation_status"], "failing");

    // The page says the same in words: who, which call, and what the sync has not seen.
    let page = get(&app, &format!("/secrets/{arn}"), &viewer).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"data-actor="arn:aws:iam::123456789012:role/deployer""#)
    );
    assert!(page.body.contains("no: CloudTrail only"));
    assert!(page.body.contains("testSecret step"));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn events_stored_before_the_sync_found_their_secret_are_resolved_by_it(pool: PgPool) {
    let region = "me-central-1";
    // CloudTrail names the secret by its name before any sync has seen it.
    let mut read = record(
        "early-0001",
        "GetSecretValue",
        Utc::now() - Duration::hours(1),
        "reports/warehouse",
        serde_json::json!({}),
    );
    read["awsRegion"] = region.into();
    read["responseElements"] = Value::Null;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), read.to_string()).unwrap();
    trailkeeper::ingest::sources::files::ingest_file(&pool, file.path())
        .await
        .unwrap();
    let resolved = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT secret_arn FROM events")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(resolved().await, None);

    let client = client(region).await;
    let arn = create_secret(&client, "reports/warehouse", "data").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    assert_eq!(resolved().await.as_deref(), Some(arn.as_str()));

    let app = app(pool.clone()).await;
    let auditor = signed_in(&pool, "ada", Role::Auditor).await;
    let (status, report) = json(
        &app,
        &format!("/api/v1/secrets/{arn}/access?range=7d"),
        &auditor,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["principals"][0]["principal"],
        "arn:aws:iam::123456789012:role/deployer"
    );
}
