//! Bulk changes from the Secrets list against the AWS peer: one tag change or "rotate now"
//! applied to each secret selected, each on its own, audited like a change made on one
//! secret's page; one refused does not stop the others.

use sqlx::PgPool;
use trailkeeper::inventory::sync::sync_region;
use trailkeeper_app::Role;

use crate::common::{self, create_secret, post_form, signed_in};

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_tag_change_reaches_each_selected_secret_and_says_what_became_of_each(pool: PgPool) {
    let region = "ap-southeast-7";
    let client = common::client(region).await;
    let first = create_secret(&client, "bulk/orders-db", "orders").await;
    let second = create_secret(&client, "bulk/orders-api", "orders").await;
    sync_region(&pool, &client, region, None).await.unwrap();
    let app = common::app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let auditor = signed_in(&pool, "aud", Role::Auditor).await;
    let form = |action: &str, secrets: &[&str]| {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for secret in secrets {
            form.append_pair("secrets[]", secret);
        }
        form.append_pair("action", action)
            .append_pair("reason", "orders moved to the commerce team")
            .append_pair("tags", "team=commerce\ncost-centre=4410")
            .finish()
    };
    let missing = "arn:aws:secretsmanager:ap-southeast-7:123456789012:secret:bulk/gone-AbCdEf";

    let refused = post_form(
        &app,
        "/api/change_secrets",
        &form("tags", &[&first]),
        &auditor,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let shred = post_form(
        &app,
        "/api/change_secrets",
        &form("delete", &[&first]),
        &admin,
    )
    .await;
    assert_eq!(shred.status, 400, "{}", shred.body);
    assert!(
        shred.body.contains("not for many secrets at once"),
        "{}",
        shred.body
    );

    let done = post_form(
        &app,
        "/api/change_secrets",
        &form("tags", &[&first, missing, &second]),
        &admin,
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let outcomes: serde_json::Value = serde_json::from_str(&done.body).unwrap();
    let outcomes = outcomes.as_array().unwrap();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(
        outcomes[0]["done"]
            .as_str()
            .unwrap()
            .contains("set tags cost-centre=4410, team=commerce")
    );
    assert!(
        outcomes[1]["refused"]
            .as_str()
            .unwrap()
            .contains("no secret has the name")
    );
    assert!(
        outcomes[2]["done"].is_string(),
        "one refused does not stop the others"
    );
    for arn in [&first, &second] {
        let described = common::described(&client, arn).await;
        let team = described
            .tags()
            .iter()
            .find(|tag| tag.key() == Some("team"))
            .and_then(|tag| tag.value());
        assert_eq!(team, Some("commerce"), "{arn}");
    }
    let changed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'secret.changed' AND actor = 'ada' \
         AND detail ->> 'reason' = 'orders moved to the commerce team'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(changed, 2);

    // Neither has rotation configured: each says so.
    let rotated = post_form(
        &app,
        "/api/change_secrets",
        &form("rotate", &[&first, &second]),
        &admin,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(
        rotated.body.matches("no rotation configured").count(),
        2,
        "{}",
        rotated.body
    );
}
