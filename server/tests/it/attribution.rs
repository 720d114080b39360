//! A change made through Trailkeeper reaches CloudTrail under Trailkeeper's own AWS role; the
//! secret's Changes and the event page name the person and the reason instead, matched to
//! the audit entry by AWS's request id, or by the call, the secret and the time.

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper::inventory::sync::sync_region;
use trailkeeper_app::Role;

use crate::common::{
    self, app, create_secret, get, ingest_records, post_form, put_value, send_json, signed_in,
    version_holding,
};

/// A call as CloudTrail records it when Trailkeeper's role (or `principal`) makes it.
fn recorded(id: &str, name: &str, principal: &str, request_id: &str, request: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": { "type": "AssumedRole", "arn": principal, "accountId": "123456789012" },
        "eventTime": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "eventSource": "secretsmanager.amazonaws.com", "eventName": name,
        "awsRegion": "ap-northeast-3", "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-sdk-rust/1.3", "requestParameters": request,
        "responseElements": null, "requestID": request_id, "eventID": id,
        "eventType": "AwsApiCall", "recipientAccountId": "123456789012"
    })
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn events_of_changes_made_through_trailkeeper_name_the_person_and_the_reason(pool: PgPool) {
    let region = "ap-northeast-3";
    let client = common::client(region).await;
    let arn = create_secret(&client, "attribution/ledger-db", "ledger").await;
    let first = version_holding(&client, &arn, "AWSCURRENT").await.unwrap();
    let second = put_value(&client, &arn, &[]).await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let act = |action: &str, body: Value| {
        let (app, admin) = (app.clone(), admin.clone());
        let uri = format!("/api/v1/secrets/{arn}/actions/{action}");
        async move {
            let done = send_json(&app, "POST", &uri, &body.to_string(), &admin).await;
            assert_eq!(done.status, 200, "{}", done.body);
            serde_json::from_str::<Value>(&done.body).unwrap()
        }
    };
    let rolled_back = act(
        "rollback",
        json!({ "reason": "the new password broke billing" }),
    )
    .await;
    let request_id = rolled_back["request_id"].as_str().unwrap().to_string();
    act(
        "tags",
        json!({ "reason": "ledger belongs to finance", "tags": { "team": "finance" } }),
    )
    .await;

    let trailkeeper = "arn:aws:sts::123456789012:assumed-role/trailkeeper/i-0abc";
    ingest_records(
        &pool,
        vec![
            // Matched by request id.
            recorded(
                "ev-rollback",
                "UpdateSecretVersionStage",
                trailkeeper,
                &request_id,
                json!({ "secretId": arn, "versionStage": "AWSCURRENT",
                        "moveToVersionId": first, "removeFromVersionId": second }),
            ),
            // No request id in common (as when the audit entry lost it): matched by the call,
            // the secret and the time.
            recorded(
                "ev-tags",
                "TagResource",
                trailkeeper,
                "not-a-known-request",
                json!({ "secretId": arn, "tags": [{ "key": "team", "value": "finance" }] }),
            ),
            // Someone else, on their own.
            recorded(
                "ev-mallory",
                "UntagResource",
                "arn:aws:sts::123456789012:assumed-role/ops/mallory",
                "another-request",
                json!({ "secretId": arn, "tagKeys": ["team"] }),
            ),
        ],
    )
    .await;

    let page = get(&app, &format!("/api/v1/secrets/{arn}"), &admin).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let secret: Value = serde_json::from_str(&page.body).unwrap();
    let moved = secret["label_history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["by"]["event_id"] == "ev-rollback")
        .unwrap_or_else(|| panic!("the roll back's move: {secret}"));
    assert_eq!(moved["by"]["through_trailkeeper"]["person"], "ada");
    assert_eq!(
        moved["by"]["through_trailkeeper"]["reason"],
        "the new password broke billing"
    );
    let through = |event_id: &str| {
        secret["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|change| change["event_id"] == event_id)
            .unwrap_or_else(|| panic!("{event_id} among the changes: {secret}"))["through_trailkeeper"]
            .clone()
    };
    assert_eq!(through("ev-tags")["reason"], "ledger belongs to finance");
    assert_eq!(through("ev-tags")["person"], "ada");
    assert!(through("ev-mallory").is_null(), "mallory acted on her own");

    // The event page's own call.
    let event_page = |id: &str| {
        let (app, admin) = (app.clone(), admin.clone());
        let body = format!("event_id={id}");
        async move {
            let fetched = post_form(&app, "/api/event", &body, &admin).await;
            assert_eq!(fetched.status, 200, "{}", fetched.body);
            serde_json::from_str::<Value>(&fetched.body).unwrap()
        }
    };
    let event = event_page("ev-rollback").await;
    assert_eq!(event["through_trailkeeper"]["person"], "ada", "{event}");
    let other = event_page("ev-mallory").await;
    assert!(other.get("through_trailkeeper").is_none(), "{other}");
}
