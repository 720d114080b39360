//! Reading the inventory: the JSON API and the pages over secrets synced from the AWS API
//! peer (moto) into a real PostgreSQL. Each test keeps to regions of its own.

mod common;

use aws_sdk_secretsmanager::types::{RotationRulesType, Tag};
use axum::Router;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::{As, app, client, create_secret, get, signed_in, value};
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
    sync_region(&pool, &client, region).await.unwrap();
    let app = app(pool.clone());
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
    sync_region(&pool, &client, region).await.unwrap();
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(value())
        .send()
        .await
        .unwrap();
    sync_region(&pool, &client, region).await.unwrap();
    let app = app(pool.clone());
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
    sync_region(&pool, &elsewhere, "us-east-2").await.unwrap();
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
    let pending = client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(value())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    sync_region(&pool, &client, region).await.unwrap();
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
    reassess(&pool, Some(region), later, StatusThresholds::default())
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
    sync_region(&pool, &client, region).await.unwrap();
    let app = app(pool.clone());
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
