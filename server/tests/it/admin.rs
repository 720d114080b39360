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
    sync_region(&pool, &client, region, None).await.unwrap();

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
    sync_region(&pool, &client, region, None).await.unwrap();
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
    sync_region(&pool, &client, region, None).await.unwrap();
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
    let described = common::described(&client, &arn).await;
    assert!(described.deleted_date().is_none(), "refusals reach no one");

    let confirmed = json!({ "reason": "retired in March", "recovery_days": 7,
                            "confirm": "admin/legacy-api-key" })
    .to_string();
    let deleted = send_json(&app, "POST", &action("delete"), &confirmed, &admin).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let outcome: Value = serde_json::from_str(&deleted.body).unwrap();
    assert!(outcome["secret"]["deleted_at"].is_string(), "{outcome}");
    let described = common::described(&client, &arn).await;
    assert!(described.deleted_date().is_some());

    let rotate = json!({ "reason": "try" }).to_string();
    let conflict = send_json(&app, "POST", &action("rotate"), &rotate, &admin).await;
    assert_eq!(conflict.status, 409, "{}", conflict.body);

    let restore = json!({ "reason": "still used by the billing export" }).to_string();
    let restored = send_json(&app, "POST", &action("restore"), &restore, &admin).await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    let described = common::described(&client, &arn).await;
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
    sync_region(&pool, &client, region, None).await.unwrap();
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

/// Posts `body` as the action `action` on `secret` for `who`.
async fn act(
    app: &axum::Router,
    who: &common::As,
    secret: &str,
    action: &str,
    body: Value,
) -> common::Fetched {
    let uri = format!("/api/v1/secrets/{secret}/actions/{action}");
    send_json(app, "POST", &uri, &body.to_string(), who).await
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn rotation_is_configured_and_turning_it_off_needs_the_name_typed(pool: PgPool) {
    let region = "ap-east-1";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/billing-api", "billing").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let secret = "admin/billing-api";

    let wrong = act(
        &app,
        &admin,
        secret,
        "rotation",
        json!({ "reason": "policy", "schedule": "every fortnight" }),
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("schedule"), "{}", wrong.body);

    let function = common::rotation_function(region, "billing-api-rotation").await;
    let configured = act(
        &app,
        &admin,
        secret,
        "rotation",
        json!({ "reason": "the key policy asks for 14 days", "schedule": "rate(14 days)",
                "window": "4h", "function_arn": function }),
    )
    .await;
    assert_eq!(configured.status, 200, "{}", configured.body);
    let described = common::described(&client, &arn).await;
    assert_eq!(described.rotation_enabled(), Some(true));
    assert_eq!(
        described
            .rotation_rules()
            .and_then(|rules| rules.automatically_after_days()),
        Some(14)
    );
    assert_eq!(described.rotation_lambda_arn(), Some(function.as_str()));
    let outcome: Value = serde_json::from_str(&configured.body).unwrap();
    assert_eq!(outcome["secret"]["rotation"]["enabled"], true, "{outcome}");
    assert!(
        outcome["summary"]
            .as_str()
            .unwrap()
            .contains("every 14 days within 4h with arn:aws:lambda:"),
        "{outcome}"
    );

    let unconfirmed = act(
        &app,
        &admin,
        secret,
        "rotation",
        json!({ "reason": "the service is retired", "enabled": false }),
    )
    .await;
    assert_eq!(unconfirmed.status, 400);
    assert!(
        unconfirmed
            .body
            .contains("turn rotation off for admin/billing-api"),
        "{}",
        unconfirmed.body
    );
    let off = act(
        &app,
        &admin,
        secret,
        "rotation",
        json!({ "reason": "the service is retired", "enabled": false,
                "confirm": "admin/billing-api" }),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let described = common::described(&client, &arn).await;
    assert_ne!(described.rotation_enabled(), Some(true));
    let again = act(
        &app,
        &admin,
        secret,
        "rotation",
        json!({ "reason": "twice", "enabled": false, "confirm": "admin/billing-api" }),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);

    let changed: Vec<(String, Value)> = secret_entries(&pool)
        .await
        .into_iter()
        .filter(|(action, ..)| action == "secret.changed")
        .map(|(_, _, detail)| {
            (
                detail["action"].as_str().unwrap().to_string(),
                detail["parameters"].clone(),
            )
        })
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(changed[0].1["schedule"], "rate(14 days)");
    assert_eq!(changed[0].1["window"], "4h");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn tags_description_and_key_change_and_the_page_shows_them_at_once(pool: PgPool) {
    let region = "mx-central-1";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/reports-db", "reports").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let secret = "admin/reports-db";

    // Viewers and auditors may do none of it.
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let auditor = signed_in(&pool, "aud", Role::Auditor).await;
    for action in trailkeeper_app::api::admin::SecretAction::NAMES {
        for who in [&viewer, &auditor] {
            let refused = act(&app, who, secret, action, json!({ "reason": "try" })).await;
            assert_eq!(refused.status, 403, "{action}: {}", refused.body);
        }
    }

    let aws_reserved = act(
        &app,
        &admin,
        secret,
        "tags",
        json!({ "reason": "label", "tags": { "aws:owner": "x" } }),
    )
    .await;
    assert_eq!(aws_reserved.status, 400);
    assert!(
        aws_reserved.body.contains("aws:owner"),
        "{}",
        aws_reserved.body
    );
    let tagged = act(
        &app,
        &admin,
        secret,
        "tags",
        json!({ "reason": "reports moved to the data team",
                "tags": { "team": "data", "owner": "ada" } }),
    )
    .await;
    assert_eq!(tagged.status, 200, "{}", tagged.body);
    let outcome: Value = serde_json::from_str(&tagged.body).unwrap();
    assert_eq!(
        outcome["secret"]["tags"],
        json!({ "team": "data", "owner": "ada" })
    );
    let untagged = act(
        &app,
        &admin,
        secret,
        "tags",
        json!({ "reason": "owners live in the CMDB", "remove_tags": ["owner"] }),
    )
    .await;
    assert_eq!(untagged.status, 200, "{}", untagged.body);
    let described = common::described(&client, &arn).await;
    let tags: Vec<(&str, &str)> = described
        .tags()
        .iter()
        .map(|tag| (tag.key().unwrap(), tag.value().unwrap()))
        .collect();
    assert_eq!(tags, [("team", "data")]);

    let updated = act(&app, &admin, secret, "update",
        json!({ "reason": "customer-managed key per the audit", "description": "Reports warehouse login",
                "kms_key_id": "alias/reports" })).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let described = common::described(&client, &arn).await;
    assert_eq!(described.description(), Some("Reports warehouse login"));
    assert_eq!(described.kms_key_id(), Some("alias/reports"));
    let unchanged = act(
        &app,
        &admin,
        secret,
        "update",
        json!({ "reason": "again", "description": "Reports warehouse login",
                "kms_key_id": "alias/reports" }),
    )
    .await;
    assert_eq!(unchanged.status, 409, "{}", unchanged.body);
    let versions = client
        .list_secret_version_ids()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1, "no new value was written");
    let outcome: Value = serde_json::from_str(&updated.body).unwrap();
    assert_eq!(outcome["secret"]["description"], "Reports warehouse login");
    assert_eq!(outcome["secret"]["kms_key_id"], "alias/reports");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_replica_is_added_and_removing_it_needs_the_name_typed(pool: PgPool) {
    let region = "ap-south-2";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/edge-cache", "edge").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let secret = "admin/edge-cache";

    let own = act(
        &app,
        &admin,
        secret,
        "replicate",
        json!({ "reason": "resilience", "regions": [{ "region": "ap-south-2" }] }),
    )
    .await;
    assert_eq!(own.status, 409, "{}", own.body);
    let replicated = act(
        &app,
        &admin,
        secret,
        "replicate",
        json!({ "reason": "a second region for the edge fleet",
                "regions": [{ "region": "ap-southeast-4", "kms_key_id": "alias/edge" }] }),
    )
    .await;
    assert_eq!(replicated.status, 200, "{}", replicated.body);
    let described = common::described(&client, &arn).await;
    let regions: Vec<&str> = described
        .replication_status()
        .iter()
        .filter_map(|r| r.region())
        .collect();
    assert_eq!(regions, ["ap-southeast-4"]);
    let outcome: Value = serde_json::from_str(&replicated.body).unwrap();
    assert_eq!(
        outcome["secret"]["replicas"][0]["region"], "ap-southeast-4",
        "{outcome}"
    );

    let unconfirmed = act(
        &app,
        &admin,
        secret,
        "remove-replica",
        json!({ "reason": "the edge fleet left", "region": "ap-southeast-4" }),
    )
    .await;
    assert_eq!(unconfirmed.status, 400);
    assert!(
        unconfirmed
            .body
            .contains("delete the replica of admin/edge-cache in ap-southeast-4"),
        "{}",
        unconfirmed.body
    );
    let removed = act(
        &app,
        &admin,
        secret,
        "remove-replica",
        json!({ "reason": "the edge fleet left", "region": "ap-southeast-4",
                "confirm": "admin/edge-cache" }),
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let described = common::described(&client, &arn).await;
    assert!(described.replication_status().is_empty());
    let none = act(
        &app,
        &admin,
        secret,
        "remove-replica",
        json!({ "reason": "again", "region": "ap-southeast-4", "confirm": "admin/edge-cache" }),
    )
    .await;
    assert_eq!(none.status, 409, "{}", none.body);
    assert!(
        none.body.contains("has no replica in ap-southeast-4"),
        "{}",
        none.body
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_policy_that_widens_access_is_confirmed_and_validated_and_deleting_one_is_confirmed(
    pool: PgPool,
) {
    let region = "eu-south-2";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/partner-feed", "partners").await;
    let partner_only = json!({ "Version": "2012-10-17", "Statement": [{
        "Sid": "Partner", "Effect": "Allow",
        "Principal": { "AWS": "arn:aws:iam::222222222222:root" },
        "Action": "secretsmanager:GetSecretValue", "Resource": "*" }] });
    client
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy(partner_only.to_string())
        .send()
        .await
        .unwrap();
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let secret = "admin/partner-feed";

    let mut wider = partner_only.clone();
    wider["Statement"][0]["Principal"]["AWS"] = json!([
        "arn:aws:iam::222222222222:root",
        "arn:aws:iam::333333333333:root"
    ]);
    let unconfirmed = act(
        &app,
        &admin,
        secret,
        "policy",
        json!({ "reason": "the second partner", "policy": wider.to_string() }),
    )
    .await;
    assert_eq!(unconfirmed.status, 400);
    assert!(
        unconfirmed
            .body
            .contains("opens it to account 333333333333 (statement \\\"Partner\\\")"),
        "{}",
        unconfirmed.body
    );
    // Confirmed, the policy goes to AWS's ValidateResourcePolicy before it is saved. The AWS
    // peer (moto 5.2) does not implement that call, so the save stops there: AWS's policy is
    // unchanged and nothing was recorded as asked of AWS.
    let confirmed = act(
        &app,
        &admin,
        secret,
        "policy",
        json!({ "reason": "the second partner", "policy": wider.to_string(),
                "confirm": "admin/partner-feed" }),
    )
    .await;
    assert_eq!(confirmed.status, 502, "{}", confirmed.body);
    assert!(
        confirmed.body.contains(
            "ValidateResourcePolicy failed: the endpoint answered HTTP 500 without an error"
        ),
        "said in a line, not the SDK's debugging dump: {}",
        confirmed.body
    );
    let kept = client
        .get_resource_policy()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    let kept: Value = serde_json::from_str(kept.resource_policy().unwrap()).unwrap();
    assert_eq!(kept, partner_only);
    assert!(secret_entries(&pool).await.is_empty());

    let unconfirmed = act(
        &app,
        &admin,
        secret,
        "policy",
        json!({ "reason": "the partnership ended", "remove_policy": true }),
    )
    .await;
    assert_eq!(unconfirmed.status, 400);
    let removed = act(
        &app,
        &admin,
        secret,
        "policy",
        json!({ "reason": "the partnership ended", "remove_policy": true,
                "confirm": "admin/partner-feed" }),
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let now = client
        .get_resource_policy()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(now.resource_policy().is_none());
    let outcome: Value = serde_json::from_str(&removed.body).unwrap();
    assert!(outcome["secret"]["resource_policy"].is_null(), "{outcome}");
    assert_eq!(outcome["secret"]["policy_flags"], json!([]));
    let again = act(
        &app,
        &admin,
        secret,
        "policy",
        json!({ "reason": "again", "remove_policy": true, "confirm": "admin/partner-feed" }),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn read_only_offers_no_actions_and_refuses_every_change(pool: PgPool) {
    let region = "ap-southeast-1";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/read-only-probe", "platform").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let admin = signed_in(&pool, "ada", Role::Admin).await;

    let offered = |app: axum::Router| {
        let admin = admin.clone();
        async move { common::post_form(&app, "/api/may_change_secrets", "", &admin).await }
    };
    let writable = offered(app(pool.clone()).await).await;
    assert_eq!(writable.status, 200, "{}", writable.body);
    assert_eq!(writable.body, "true");

    let read_only = common::app_with(&pool, &["--read-only", "true"]).await;
    let offered_here = offered(read_only.clone()).await;
    assert_eq!(offered_here.status, 200, "{}", offered_here.body);
    assert_eq!(offered_here.body, "false", "read-only offers no Actions");
    for action in trailkeeper_app::api::admin::SecretAction::NAMES {
        let refused = act(
            &read_only,
            &admin,
            &arn,
            action,
            json!({ "reason": "try", "tags": { "team": "x" } }),
        )
        .await;
        assert_eq!(refused.status, 403, "{action}: {}", refused.body);
        assert!(refused.body.contains("read-only"), "{}", refused.body);
    }
    assert!(
        secret_entries(&pool).await.is_empty(),
        "nothing was asked of AWS"
    );
    let described = common::described(&client, &arn).await;
    assert_eq!(described.tags().len(), 1, "the tags are as they were");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn clearing_a_stuck_rotation_takes_awspending_off_the_version_that_is_not_current(
    pool: PgPool,
) {
    let region = "ap-east-1";
    let client = common::client(region).await;
    let arn = create_secret(&client, "admin/stuck-queue", "queue").await;
    let current = version_holding(&client, &arn, "AWSCURRENT").await.unwrap();
    let pending = put_value(&client, &arn, &["AWSPENDING"]).await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let reason = json!({ "reason": "the rotation function was deleted mid-rotation" });

    let cleared = act(&app, &admin, &arn, "clear-pending", reason.clone()).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(version_holding(&client, &arn, "AWSPENDING").await, None);
    assert_eq!(
        version_holding(&client, &arn, "AWSCURRENT").await,
        Some(current)
    );
    let outcome: Value = serde_json::from_str(&cleared.body).unwrap();
    let labels_of_pending = outcome["secret"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|version| version["version_id"] == pending.as_str())
        .map(|version| version["labels"].clone());
    assert_eq!(labels_of_pending, Some(json!([])), "{outcome}");
    let again = act(&app, &admin, &arn, "clear-pending", reason).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("no rotation stuck"), "{}", again.body);
}
