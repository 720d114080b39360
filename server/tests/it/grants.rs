//! Who can read a secret, from the AWS API peer's IAM and KMS: the account's users and roles
//! read with every policy that applies to them (a group's managed policy, a role's inline
//! one, a permissions boundary, tags) and a key's policy, then evaluated. IAM is global in
//! the peer: everything here is named `tk-grants-*`.

use aws_sdk_iam::Client;
use serde_json::json;
use trailkeeper::inventory::grants::evaluate::{Key, Principal, Reach, Secret, can_read};
use trailkeeper::inventory::grants::fetch::{key_policy, principals};

use crate::common::peer::peer_config;

const SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/tk-grants/db-AbCdEf";

fn document(statements: serde_json::Value) -> String {
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

async fn managed(iam: &Client, name: &str, statements: serde_json::Value) -> String {
    iam.create_policy()
        .policy_name(name)
        .policy_document(document(statements))
        .send()
        .await
        .unwrap()
        .policy()
        .and_then(|policy| policy.arn())
        .unwrap()
        .to_string()
}

async fn role(iam: &Client, name: &str) {
    let trust = document(json!([{ "Effect": "Allow",
        "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }]));
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("team")
                .value("payments")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A role (see [`role`]) with one inline policy of `statements`.
async fn role_with(iam: &Client, name: &str, policy: &str, statements: serde_json::Value) {
    role(iam, name).await;
    iam.put_role_policy()
        .role_name(name)
        .policy_name(policy)
        .policy_document(document(statements))
        .send()
        .await
        .unwrap();
}

fn named<'a>(all: &'a [Principal], suffix: &str) -> &'a Principal {
    all.iter()
        .find(|principal| principal.arn.ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} not read"))
}

#[tokio::test]
async fn the_accounts_principals_are_read_with_every_policy_and_evaluated() {
    let config = peer_config().await;
    let iam = Client::new(&config);
    let read_prod = managed(
        &iam,
        "tk-grants-read-prod",
        json!([{ "Sid": "ReadProd", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": "arn:aws:secretsmanager:*:*:secret:prod/*" }]),
    )
    .await;
    let only_s3 = managed(
        &iam,
        "tk-grants-only-s3",
        json!([{ "Effect": "Allow", "Action": "s3:*", "Resource": "*" }]),
    )
    .await;
    iam.create_group()
        .group_name("tk-grants-readers")
        .send()
        .await
        .unwrap();
    iam.attach_group_policy()
        .group_name("tk-grants-readers")
        .policy_arn(&read_prod)
        .send()
        .await
        .unwrap();
    iam.create_user()
        .user_name("tk-grants-alice")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("tk-grants-readers")
        .user_name("tk-grants-alice")
        .send()
        .await
        .unwrap();
    role_with(
        &iam,
        "tk-grants-app",
        "read",
        json!([{ "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue", "Resource": "*",
            "Condition": { "StringEquals": { "aws:PrincipalTag/team": "payments" } } }]),
    )
    .await;
    role(&iam, "tk-grants-bounded").await;
    iam.attach_role_policy()
        .role_name("tk-grants-bounded")
        .policy_arn(&read_prod)
        .send()
        .await
        .unwrap();
    iam.put_role_permissions_boundary()
        .role_name("tk-grants-bounded")
        .permissions_boundary(&only_s3)
        .send()
        .await
        .unwrap();

    let all = principals(&config).await.unwrap();
    let secret = Secret {
        arn: SECRET.into(),
        account: "123456789012".into(),
        tags: Default::default(),
        resource_policy: None,
        key: Key::AwsManaged,
    };
    let alice = named(&all, ":user/tk-grants-alice");
    let verdict = can_read(alice, &secret);
    assert_eq!(verdict.reach, Reach::Yes, "{verdict:?}");
    assert_eq!(
        verdict.granted_by,
        [format!(
            "statement \"ReadProd\" of managed policy {read_prod} (attached to group tk-grants-readers)"
        )]
    );
    let app = named(&all, ":role/tk-grants-app");
    assert_eq!(app.tags.get("team").map(String::as_str), Some("payments"));
    assert_eq!(can_read(app, &secret).reach, Reach::Yes);
    let bounded = named(&all, ":role/tk-grants-bounded");
    assert_eq!(can_read(bounded, &secret).reach, Reach::No);

    // A customer managed key whose policy lets only its administrator decrypt.
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms
        .create_key()
        .policy(document(json!([{ "Sid": "Admin", "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::123456789012:role/tk-grants-key-admin" },
            "Action": "kms:*", "Resource": "*" }])))
        .send()
        .await
        .unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_string();
    let region = config.region().unwrap().to_string();
    let policy = key_policy(&config, &region, &key_arn).await.unwrap();
    assert_eq!(policy["Statement"][0]["Sid"], "Admin");
    let encrypted = Secret {
        key: Key::Customer {
            arn: key_arn,
            policy: Some(policy),
        },
        ..secret
    };
    let verdict = can_read(alice, &encrypted);
    assert_eq!(verdict.reach, Reach::No);
    assert!(
        verdict.reasons[0].contains("does not let it kms:Decrypt"),
        "{verdict:?}"
    );

    // A key that does not exist is AWS's refusal, named.
    let refused = key_policy(&config, &region, "1234abcd-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(refused.operation, "GetKeyPolicy");
    assert_eq!(refused.code.as_deref(), Some("NotFoundException"));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn who_can_read_each_secret_is_stored_with_its_path_and_kept_when_iam_refuses(
    pool: sqlx::PgPool,
) {
    let config = peer_config().await;
    let iam = Client::new(&config);
    role_with(
        &iam,
        "tk-grants-stored-reader",
        "payments",
        json!([{ "Sid": "Payments", "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "arn:aws:secretsmanager:*:*:secret:tk-grants-stored/payments-*" }]),
    )
    .await;
    for name in ["payments", "ledger"] {
        sqlx::query(
            "INSERT INTO secrets (arn, name, region, account_id, tags) \
             VALUES ($1, $2, 'us-east-1', '123456789012', '{\"team\": \"payments\"}')",
        )
        .bind(format!(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:tk-grants-stored/{name}-AbCdEf"
        ))
        .bind(format!("tk-grants-stored/{name}"))
        .execute(&pool)
        .await
        .unwrap();
    }

    trailkeeper::inventory::grants::check(&pool, &config, "123456789012")
        .await
        .unwrap();
    let readers: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT secret_arn, reach, granted_by FROM secret_readers \
         WHERE principal = 'arn:aws:iam::123456789012:role/tk-grants-stored-reader' \
         ORDER BY secret_arn",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert!(
        readers[0]
            .0
            .ends_with(":secret:tk-grants-stored/payments-AbCdEf")
    );
    assert_eq!(readers[0].1, "yes");
    assert_eq!(
        readers[0].2,
        ["statement \"Payments\" of inline policy payments of role tk-grants-stored-reader"]
    );
    let (principals, error): (i32, Option<String>) = sqlx::query_as(
        "SELECT principals, error FROM grant_checks WHERE account_id = '123456789012'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(principals > 0);
    assert_eq!(error, None);

    // Credentials IAM refuses: the refusal is recorded, and what was known is kept.
    let refused = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await;
    trailkeeper::inventory::grants::check(&pool, &refused, "123456789012")
        .await
        .unwrap();
    let error: Option<String> =
        sqlx::query_scalar("SELECT error FROM grant_checks WHERE account_id = '123456789012'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        error
            .as_deref()
            .is_some_and(|error| error.starts_with("GetAccountAuthorizationDetails failed")),
        "{error:?}"
    );
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM secret_readers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(kept >= 1);
}

/// A value read of `secret` by a session of the role `role`, `days` ago.
fn role_reads(id: &str, role: &str, secret: &str, days: i64) -> serde_json::Value {
    let at = chrono::Utc::now() - chrono::Duration::days(days);
    json!({
        "eventVersion": "1.09", "eventID": id, "eventName": "GetSecretValue",
        "eventTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "secretsmanager.amazonaws.com", "awsRegion": "us-east-1",
        "recipientAccountId": "123456789012", "eventType": "AwsApiCall",
        "userIdentity": { "type": "AssumedRole", "accountId": "123456789012",
            "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/task-1"),
            "sessionContext": { "sessionIssuer": { "type": "Role",
                "arn": format!("arn:aws:iam::123456789012:role/{role}") } } },
        "sourceIPAddress": "10.0.1.5", "resources": [{ "ARN": secret }],
        "requestParameters": { "secretId": secret }
    })
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn who_can_read_a_secret_shows_each_grant_with_its_use_and_a_principal_page_the_reverse(
    pool: sqlx::PgPool,
) {
    use crate::common::{app, get, ingest_records, signed_in};
    use axum::http::StatusCode;
    use trailkeeper_app::Role;

    let config = peer_config().await;
    let iam = Client::new(&config);
    for name in ["tk-grants-web-used", "tk-grants-web-idle"] {
        role_with(
            &iam,
            name,
            "db",
            json!([{ "Sid": "ReadDb", "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:*:*:secret:tk-grants-web/db-*" }]),
        )
        .await;
    }
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tk-grants-web/db-AbCdEf";
    sqlx::query(
        "INSERT INTO secrets (arn, name, region, account_id) \
         VALUES ($1, 'tk-grants-web/db', 'us-east-1', '123456789012')",
    )
    .bind(secret)
    .execute(&pool)
    .await
    .unwrap();
    trailkeeper::inventory::grants::check(&pool, &config, "123456789012")
        .await
        .unwrap();
    ingest_records(
        &pool,
        vec![
            role_reads("used-1", "tk-grants-web-used", secret, 3),
            role_reads("used-2", "tk-grants-web-used", secret, 2),
            // Long before the idle period: it does not count as use.
            role_reads("idle-old", "tk-grants-web-idle", secret, 200),
            // A role no policy lets read it, that read it anyway.
            role_reads("outsider", "tk-grants-web-outsider", secret, 1),
        ],
    )
    .await;

    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;
    let fetched = get(&app, "/api/v1/secrets/tk-grants-web/db/readers", &viewer).await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    let readers: serde_json::Value = serde_json::from_str(&fetched.body).unwrap();
    assert_eq!(readers["idle_days"], 90);
    assert_eq!(readers["check"]["error"], serde_json::Value::Null);
    let grants = readers["grants"].as_array().unwrap();
    let ours: Vec<(&str, i64)> = grants
        .iter()
        .filter(|grant| {
            grant["principal"]
                .as_str()
                .unwrap()
                .contains("tk-grants-web-")
        })
        .map(|grant| {
            (
                grant["principal"].as_str().unwrap(),
                grant["reads"].as_i64().unwrap(),
            )
        })
        .collect();
    // The unused grant first.
    assert_eq!(
        ours,
        [
            ("arn:aws:iam::123456789012:role/tk-grants-web-idle", 0),
            ("arn:aws:iam::123456789012:role/tk-grants-web-used", 2),
        ]
    );
    // Other tests' roles in the peer may read it too: all unused, so first as well.
    assert!(
        grants
            .iter()
            .take_while(|grant| grant["reads"] == 0)
            .count()
            >= 1
    );
    assert_eq!(grants.last().unwrap()["reads"], 2);
    let idle = grants
        .iter()
        .find(|grant| {
            grant["principal"]
                .as_str()
                .unwrap()
                .ends_with("/tk-grants-web-idle")
        })
        .unwrap();
    assert_eq!(idle["reach"], "yes");
    assert_eq!(idle["last_read_at"], serde_json::Value::Null);
    assert_eq!(
        idle["granted_by"][0],
        "statement \"ReadDb\" of inline policy db of role tk-grants-web-idle"
    );

    // The page: who can read it, the unused grant marked, the statement to narrow.
    let page = get(&app, "/secrets/tk-grants-web/db", &viewer).await;
    assert!(
        page.body.contains("data-testid=\"who-can-read\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("did not in the last 90 days (unused grants)")
    );
    assert!(page.body.contains("unused for 90 days"));
    assert!(
        page.body
            .contains("To narrow: remove this secret from statement")
    );
    assert!(
        page.body
            .contains("href=\"/principals/arn:aws:iam::123456789012:role/tk-grants-web-idle\"")
    );

    // The principal's page and API: what it can read, and what it read with no grant.
    let idle = get(
        &app,
        "/api/v1/principals/arn:aws:iam::123456789012:role/tk-grants-web-idle",
        &viewer,
    )
    .await;
    assert_eq!(idle.status, StatusCode::OK, "{}", idle.body);
    let idle: serde_json::Value = serde_json::from_str(&idle.body).unwrap();
    assert_eq!(idle["grants"][0]["secret_name"], "tk-grants-web/db");
    assert_eq!(idle["grants"][0]["reads"], 0);
    assert_eq!(idle["check"]["account_id"], "123456789012");
    let outsider = get(
        &app,
        "/api/v1/principals/arn:aws:iam::123456789012:role/tk-grants-web-outsider",
        &viewer,
    )
    .await;
    let outsider: serde_json::Value = serde_json::from_str(&outsider.body).unwrap();
    assert_eq!(outsider["grants"], json!([]));
    assert_eq!(
        outsider["other_reads"][0]["secret_name"],
        "tk-grants-web/db"
    );
    assert_eq!(outsider["other_reads"][0]["reads"], 1);
    let page = get(
        &app,
        "/principals/arn:aws:iam::123456789012:role/tk-grants-web-used",
        &viewer,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<h1>tk-grants-web-used<!></h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("It can read 1 secret and read each in the last 90 days."),
        "{}",
        page.body
    );

    // Hostile principals: too long is refused with why; markup stays text.
    let long = format!("/api/v1/principals/{}", "a".repeat(2049));
    let refused = get(&app, &long, &viewer).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("at most 2048 characters"),
        "{}",
        refused.body
    );
    let page = get(
        &app,
        "/principals/%3Cscript%3Ealert(1)%3C/script%3E",
        &viewer,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert(1)"), "{}", page.body);
    assert!(
        page.body
            .contains("The policies Trailkeeper read let it read no secret.")
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn unused_and_broad_grants_are_findings_about_the_principal_until_they_are_not(
    pool: sqlx::PgPool,
) {
    use crate::common::ingest_records;
    use trailkeeper::detect::DetectionSettings;
    use trailkeeper::detect::conditions::grants::reassess;

    let config = peer_config().await;
    let iam = Client::new(&config);
    role_with(
        &iam,
        "tk-grants-find-idle",
        "ledger",
        json!([{ "Sid": "Ledger", "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "arn:aws:secretsmanager:*:*:secret:tk-grants-find/*" }]),
    )
    .await;
    role_with(
        &iam,
        "tk-grants-find-admin",
        "everything",
        json!([{ "Sid": "All", "Effect": "Allow",
            "Action": "secretsmanager:*", "Resource": "*" }]),
    )
    .await;
    let arn =
        |name: &str| format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf");
    for name in ["tk-grants-find/a", "tk-grants-find/b"] {
        sqlx::query(
            "INSERT INTO secrets (arn, name, region, account_id, created_at) \
             VALUES ($1, $2, 'us-east-1', '123456789012', now() - interval '200 days')",
        )
        .bind(arn(name))
        .bind(name)
        .execute(&pool)
        .await
        .unwrap();
    }
    trailkeeper::inventory::grants::check(&pool, &config, "123456789012")
        .await
        .unwrap();
    let open = |pool: sqlx::PgPool| async move {
        let found: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT kind, severity, title, explanation FROM findings \
             WHERE principal LIKE '%:role/tk-grants-find-%' AND status = 'open' \
               AND kind IN ('unused_grant', 'broad_grant') \
             ORDER BY kind, title",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        found
    };
    let settings = DetectionSettings::default();

    // Without 90 days of stored CloudTrail, nothing is judged unused yet.
    reassess(&pool, &settings, chrono::Utc::now())
        .await
        .unwrap();
    let found = open(pool.clone()).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "broad_grant");
    assert_eq!(found[0].1, "medium");
    assert_eq!(found[0].2, "tk-grants-find-admin can read every secret");
    assert!(
        found[0].3.starts_with(
            "statement \"All\" of inline policy everything of role tk-grants-find-admin allows \
             secretsmanager:* on every resource"
        ),
        "{}",
        found[0].3
    );

    // With history, the roles that read nothing hold unused grants, with what to narrow.
    ingest_records(
        &pool,
        vec![role_reads(
            "old",
            "tk-grants-find-admin",
            &arn("tk-grants-find/a"),
            120,
        )],
    )
    .await;
    reassess(&pool, &settings, chrono::Utc::now())
        .await
        .unwrap();
    let found = open(pool.clone()).await;
    let unused: Vec<&(String, String, String, String)> =
        found.iter().filter(|f| f.0 == "unused_grant").collect();
    assert_eq!(unused.len(), 2, "{found:?}");
    let idle = unused
        .iter()
        .find(|f| f.2.starts_with("tk-grants-find-idle"))
        .unwrap();
    assert_eq!(idle.1, "low");
    assert_eq!(
        idle.2,
        "tk-grants-find-idle can read 2 secrets it has not read in 90 days"
    );
    assert!(
        idle.3.contains("(tk-grants-find/a, tk-grants-find/b)")
            && idle
                .3
                .contains("narrow statement \"Ledger\" of inline policy ledger"),
        "{}",
        idle.3
    );

    // Reading them both resolves the idle role's; the admin's stays.
    ingest_records(
        &pool,
        vec![
            role_reads("a", "tk-grants-find-idle", &arn("tk-grants-find/a"), 1),
            role_reads("b", "tk-grants-find-idle", &arn("tk-grants-find/b"), 1),
        ],
    )
    .await;
    reassess(&pool, &settings, chrono::Utc::now())
        .await
        .unwrap();
    let found = open(pool.clone()).await;
    let titles: Vec<&str> = found.iter().map(|f| f.2.as_str()).collect();
    assert_eq!(
        titles,
        [
            "tk-grants-find-admin can read every secret",
            "tk-grants-find-admin can read 2 secrets it has not read in 90 days"
        ]
    );
}
