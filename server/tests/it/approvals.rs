//! Approvals against the AWS peer: with `--approvals destructive`, a deletion waits for a
//! second admin and reaches AWS only once approved, as the person who asked it; nobody
//! approves their own, a decided or expired request cannot be decided again, and a rejected
//! one changes nothing.

use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper::admin::approvals;
use trailkeeper::inventory::sync::sync_region;
use trailkeeper_app::Role;

use crate::common::{self, As, create_secret, get, send_json, signed_in};

async fn deleted(client: &aws_sdk_secretsmanager::Client, arn: &str) -> bool {
    common::described(client, arn)
        .await
        .deleted_date()
        .is_some()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_deletion_waits_for_a_second_admin_and_is_made_as_the_person_who_asked(pool: PgPool) {
    let region = "ap-southeast-3";
    let client = common::client(region).await;
    let arn = create_secret(&client, "approvals/legacy-token", "platform").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = common::app_with(&pool, &["--approvals", "destructive"]).await;
    let ada = signed_in(&pool, "ada", Role::Admin).await;
    let grace = signed_in(&pool, "grace", Role::Admin).await;
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let post = |who: &As, uri: String, body: Value| {
        let (app, who) = (app.clone(), who.clone());
        async move { send_json(&app, "POST", &uri, &body.to_string(), &who).await }
    };
    let delete = || {
        post(
            &ada,
            format!("/api/v1/secrets/{arn}/actions/delete"),
            json!({ "reason": "retired with the old billing system", "recovery_days": 7,
                    "confirm": "approvals/legacy-token" }),
        )
    };

    let filed = delete().await;
    assert_eq!(filed.status, 202, "{}", filed.body);
    let filed: Value = serde_json::from_str(&filed.body).unwrap();
    let id = filed["awaiting_approval"]["id"].as_i64().unwrap();
    assert_eq!(filed["awaiting_approval"]["status"], "pending");
    assert!(
        !deleted(&client, &arn).await,
        "nothing reaches AWS before approval"
    );
    // Waiting, it is alerted like a finding of its own kind, which alert rules can route.
    let waiting: (String, String, String) = sqlx::query_as(
        "SELECT f.status, f.title, o.reason FROM findings f \
         JOIN alert_outbox o ON o.finding_id = f.id \
         WHERE f.kind = 'change_awaiting_approval' AND f.secret_arn = $1",
    )
    .bind(&arn)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(waiting.0, "open");
    assert!(
        waiting
            .1
            .contains("ada asks a second admin to schedule approvals/legacy-token for deletion"),
        "{}",
        waiting.1
    );
    assert_eq!(waiting.2, "opened");
    // A change that destroys nothing goes at once.
    let tagged = post(
        &ada,
        format!("/api/v1/secrets/{arn}/actions/tags"),
        json!({ "reason": "owner", "tags": { "owner": "ada" } }),
    )
    .await;
    assert_eq!(tagged.status, 200, "{}", tagged.body);

    let listed = get(&app, "/api/v1/changes", &grace).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let listed: Value = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["requested_by"], "ada");
    assert_eq!(listed[0]["reason"], "retired with the old billing system");
    assert_eq!(get(&app, "/api/v1/changes", &viewer).await.status, 403);
    let refused = post(&viewer, format!("/api/v1/changes/{id}/approve"), json!({})).await;
    assert_eq!(refused.status, 403);

    let own = post(&ada, format!("/api/v1/changes/{id}/approve"), json!({})).await;
    assert_eq!(own.status, 403, "{}", own.body);
    assert!(own.body.contains("your own"), "{}", own.body);
    assert!(!deleted(&client, &arn).await);

    let approved = post(
        &grace,
        format!("/api/v1/changes/{id}/approve"),
        json!({ "comment": "checked: nothing reads it since March" }),
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let approved: Value = serde_json::from_str(&approved.body).unwrap();
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(approved["decided_by"], "grace");
    assert!(
        approved["outcome"]
            .as_str()
            .unwrap()
            .contains("scheduled approvals/legacy-token for deletion"),
        "{approved}"
    );
    assert!(deleted(&client, &arn).await, "approved, AWS deleted it");
    let status: String =
        sqlx::query_scalar("SELECT status FROM findings WHERE kind = 'change_awaiting_approval'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        status, "resolved",
        "decided, nobody needs to be told any more"
    );
    let again = post(&grace, format!("/api/v1/changes/{id}/approve"), json!({})).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.body.contains("already approved by grace"),
        "{}",
        again.body
    );

    // The change is the asker's, approved by the second admin.
    let changed: (String, Value) = sqlx::query_as(
        "SELECT actor, detail FROM audit_log WHERE action = 'secret.changed' \
         AND detail ->> 'action' = 'delete'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(changed.0, "ada");
    assert_eq!(changed.1["approved_by"], "grace");
    assert_eq!(changed.1["approval"], id);
    let decisions: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, action FROM audit_log WHERE action LIKE 'change.%' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        decisions,
        [
            ("ada".to_string(), "change.approval_requested".to_string()),
            ("grace".to_string(), "change.approved".to_string()),
        ]
    );

    // Restored, asked again: rejected, and AWS is untouched.
    let restored = post(
        &ada,
        format!("/api/v1/secrets/{arn}/actions/restore"),
        json!({ "reason": "finance still reads it" }),
    )
    .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    let second: Value = serde_json::from_str(&delete().await.body).unwrap();
    let second = second["awaiting_approval"]["id"].as_i64().unwrap();
    let rejected = post(
        &grace,
        format!("/api/v1/changes/{second}/reject"),
        json!({ "comment": "finance still reads it" }),
    )
    .await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert!(
        rejected.body.contains("\"status\":\"rejected\""),
        "{}",
        rejected.body
    );
    assert!(!deleted(&client, &arn).await);

    // A request nobody decided in time expires.
    let third: Value = serde_json::from_str(&delete().await.body).unwrap();
    let third = third["awaiting_approval"]["id"].as_i64().unwrap();
    sqlx::query(
        "UPDATE change_approvals SET expires_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(third)
    .execute(&pool)
    .await
    .unwrap();
    let late = post(
        &grace,
        format!("/api/v1/changes/{third}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert!(late.body.contains("expired"), "{}", late.body);
    let active = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM findings WHERE kind = 'change_awaiting_approval' \
             AND status IN ('open', 'acknowledged')",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(
        active().await,
        1,
        "the expired request still asks for attention"
    );
    assert_eq!(approvals::resolve_expired(&pool).await.unwrap(), 1);
    assert_eq!(active().await, 0, "expired, nobody is asked any more");
    assert!(!deleted(&client, &arn).await);
    let listed: Value =
        serde_json::from_str(&get(&app, "/api/v1/changes", &grace).await.body).unwrap();
    let statuses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|request| request["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expired", "rejected", "approved"]);
}
