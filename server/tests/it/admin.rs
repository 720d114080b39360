//! Administration against the AWS peer: an admin's change reaches AWS, is audited before and
//! after with the reason and AWS's request id, and the secret is read afresh at once; viewers
//! and auditors are refused, and a state that does not allow a change is a 409.

use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper::inventory::sync::sync_region;
use trailkeeper_app::Role;

use crate::common::{self, app, create_secret, put_value, send_json, signed_in, version_holding};

/// The audit entries about secrets, oldest first: (action, outcome, detail).
async fn secret_entries(pool: &PgPool) -> Vec<(String, String, Value)> {
    sqlx::query_as(
        "SELECT action, outcome, detail FROM audit_log WHERE action LIKE 'secret.%' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn an_admin_rolls_a_secret_back_and_the_change_is_audited_and_shown_at_once(pool: PgPool) {
    let region = "ap-southeast-1";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/orders-db", "orders").await;
    let first = version_holding(&client, &arn, "AWSCURRENT").await.unwrap();
    let second = put_value(&client, &arn, &[]).await;
    assert_eq!(
        version_holding(&client, &arn, "AWSPREVIOUS").await,
        Some(first.clone())
    );
    sync_region(&pool, &client, region).await.unwrap();

    let app = app(pool.clone()).await;
    let uri = "/api/v1/secrets/admin/orders-db/actions/rollback";
    let body = json!({ "reason": "the new password broke the orders service" }).to_string();
    for role in [Role::Viewer, Role::Auditor] {
        let who = signed_in(&pool, &format!("{role}-user"), role).await;
        let refused = send_json(&app, "POST", uri, &body, &who).await;
        assert_eq!(refused.status, 403, "{role}: {}", refused.body);
    }
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let unexplained = send_json(&app, "POST", uri, "{}", &admin).await;
    assert_eq!(unexplained.status, 400);
    assert!(unexplained.body.contains("reason"), "{}", unexplained.body);
    assert!(
        secret_entries(&pool).await.is_empty(),
        "nothing was asked of AWS"
    );

    let done = send_json(&app, "POST", uri, &body, &admin).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let outcome: Value = serde_json::from_str(&done.body).unwrap();
    assert_eq!(
        version_holding(&client, &arn, "AWSCURRENT").await,
        Some(first.clone())
    );
    assert_eq!(
        version_holding(&client, &arn, "AWSPREVIOUS").await,
        Some(second.clone())
    );

    // The answer carries the secret as AWS has it now.
    let versions = outcome["secret"]["versions"].as_array().unwrap();
    let current = versions
        .iter()
        .find(|version| {
            version["labels"]
                .as_array()
                .unwrap()
                .contains(&json!("AWSCURRENT"))
        })
        .unwrap();
    assert_eq!(current["version_id"], first.as_str());
    let moves: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM label_history WHERE secret_arn = $1 AND label = 'AWSCURRENT' \
         AND to_version = $2",
    )
    .bind(&arn)
    .bind(&first)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(moves, 1, "the label history records the move");

    let entries = secret_entries(&pool).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (asked, changed) = (&entries[0], &entries[1]);
    assert_eq!(
        (asked.0.as_str(), asked.1.as_str()),
        ("secret.change_requested", "success")
    );
    assert_eq!(
        (changed.0.as_str(), changed.1.as_str()),
        ("secret.changed", "success")
    );
    for (_, _, detail) in &entries {
        assert_eq!(detail["secret"], arn.as_str());
        assert_eq!(detail["action"], "rollback");
        assert_eq!(
            detail["reason"],
            "the new password broke the orders service"
        );
    }
    assert_eq!(
        changed.2["parameters"]["move_to_version_id"],
        first.as_str()
    );
    let request_id = changed.2["request_id"].as_str().expect("AWS's request id");
    assert_eq!(outcome["request_id"], request_id);

    // Rolled back once, the previous version is the broken one: a second roll back would
    // bring it back, which is allowed; but a secret with one version has nothing to go to.
    let lone = create_secret(&client, "admin/lone", "orders").await;
    sync_region(&pool, &client, region).await.unwrap();
    let nothing = send_json(
        &app,
        "POST",
        "/api/v1/secrets/admin/lone/actions/rollback",
        &body,
        &admin,
    )
    .await;
    assert_eq!(nothing.status, 409, "{}", nothing.body);
    assert!(
        nothing.body.contains("no previous version"),
        "{}",
        nothing.body
    );
    assert!(
        version_holding(&client, &lone, "AWSPREVIOUS")
            .await
            .is_none()
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_deletion_needs_the_name_typed_and_a_restore_calls_it_off(pool: PgPool) {
    let region = "eu-central-2";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/legacy-api-key", "platform").await;
    sync_region(&pool, &client, region).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let action = |name: &str| format!("/api/v1/secrets/{arn}/actions/{name}");

    let unconfirmed = json!({ "reason": "retired in March", "recovery_days": 7 }).to_string();
    let refused = send_json(&app, "POST", &action("delete"), &unconfirmed, &admin).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("admin/legacy-api-key"),
        "{}",
        refused.body
    );
    let too_short = json!({ "reason": "retired", "recovery_days": 3,
                            "confirm": "admin/legacy-api-key" })
    .to_string();
    let refused = send_json(&app, "POST", &action("delete"), &too_short, &admin).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("7 to 30 days"), "{}", refused.body);
    let described = client
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(described.deleted_date().is_none(), "refusals reach no one");

    let confirmed = json!({ "reason": "retired in March", "recovery_days": 7,
                            "confirm": "admin/legacy-api-key" })
    .to_string();
    let deleted = send_json(&app, "POST", &action("delete"), &confirmed, &admin).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let outcome: Value = serde_json::from_str(&deleted.body).unwrap();
    assert!(outcome["secret"]["deleted_at"].is_string(), "{outcome}");
    let described = client
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(described.deleted_date().is_some());

    let rotate = json!({ "reason": "try" }).to_string();
    let conflict = send_json(&app, "POST", &action("rotate"), &rotate, &admin).await;
    assert_eq!(conflict.status, 409, "{}", conflict.body);

    let restore = json!({ "reason": "still used by the billing export" }).to_string();
    let restored = send_json(&app, "POST", &action("restore"), &restore, &admin).await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    let described = client
        .describe_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(described.deleted_date().is_none());
    let again = send_json(&app, "POST", &action("restore"), &restore, &admin).await;
    assert_eq!(again.status, 409, "{}", again.body);

    // Rotation is not configured: nothing to rotate.
    let unrotated = send_json(&app, "POST", &action("rotate"), &rotate, &admin).await;
    assert_eq!(unrotated.status, 409);
    assert!(
        unrotated.body.contains("no rotation configured"),
        "{}",
        unrotated.body
    );
    let unknown = send_json(&app, "POST", &action("shred"), &rotate, &admin).await;
    assert_eq!(unknown.status, 404);

    let actions: Vec<String> = secret_entries(&pool)
        .await
        .into_iter()
        .filter(|(action, ..)| action == "secret.changed")
        .map(|(_, _, detail)| detail["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["delete", "restore"]);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn rotate_now_moves_the_current_label_to_a_new_version(pool: PgPool) {
    let region = "me-south-1";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/search-token", "search").await;
    client
        .rotate_secret()
        .secret_id(&arn)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let before = version_holding(&client, &arn, "AWSCURRENT").await.unwrap();
    sync_region(&pool, &client, region).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let body = json!({ "reason": "the token leaked in a build log" }).to_string();
    let rotated = send_json(
        &app,
        "POST",
        "/api/v1/secrets/admin/search-token/actions/rotate",
        &body,
        &admin,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let after = version_holding(&client, &arn, "AWSCURRENT").await.unwrap();
    assert_ne!(after, before, "AWS rotated it");
    let outcome: Value = serde_json::from_str(&rotated.body).unwrap();
    assert!(
        outcome["summary"]
            .as_str()
            .unwrap()
            .contains("rotated admin/search-token"),
        "{outcome}"
    );
}
