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
    role(&iam, "tk-grants-app").await;
    iam.put_role_policy()
        .role_name("tk-grants-app")
        .policy_name("read")
        .policy_document(document(json!([{ "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue", "Resource": "*",
            "Condition": { "StringEquals": { "aws:PrincipalTag/team": "payments" } } }])))
        .send()
        .await
        .unwrap();
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
    role(&iam, "tk-grants-stored-reader").await;
    iam.put_role_policy()
        .role_name("tk-grants-stored-reader")
        .policy_name("payments")
        .policy_document(document(json!([{ "Sid": "Payments", "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "arn:aws:secretsmanager:*:*:secret:tk-grants-stored/payments-*" }])))
        .send()
        .await
        .unwrap();
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
