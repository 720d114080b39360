//! An AWS Organization in one Trailkeeper: accounts discovered through Organizations, each
//! synced through its own role (STS AssumeRole into the peer's other accounts, whose
//! resources are their own), and an account whose role is missing recorded without stopping
//! the others. The peer holds one Organization, so this is the only test that makes one; its
//! region is used by no other test, since the management account is the tests' own.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_organizations::types::OrganizationFeatureSet;
use sqlx::PgPool;
use trailkeeper::aws::accounts::{Account, AccountSettings, Coverage, OrgMember};
use trailkeeper::inventory::sync::sync_regions;

use crate::common::{self, create_secret, get};
use trailkeeper_app::Role;

const REGION: &str = "ap-east-2";

async fn config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .load()
        .await
}

/// Makes a member account whose `role` Organizations creates, as AWS does; returns its id.
async fn member(org: &aws_sdk_organizations::Client, name: &str, role: &str) -> String {
    org.create_account()
        .account_name(name)
        .email(format!("{name}@example.org"))
        .role_name(role)
        .send()
        .await
        .unwrap()
        .create_account_status()
        .and_then(|status| status.account_id())
        .unwrap()
        .to_string()
}

/// A Secrets Manager client acting in `account` through its role.
async fn in_account(config: &SdkConfig, account: &str) -> aws_sdk_secretsmanager::Client {
    let role = format!("arn:aws:iam::{account}:role/TrailkeeperRead")
        .parse()
        .unwrap();
    let account = Account::assumed(config, role, None, None).await;
    aws_sdk_secretsmanager::Client::new(&account.config)
}

fn organisation(exclude: Vec<OrgMember>) -> AccountSettings {
    AccountSettings {
        coverage: Coverage::Organization {
            role_name: "TrailkeeperRead".into(),
            include: Vec::new(),
            exclude,
        },
        ..AccountSettings::default()
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn every_account_of_the_organisation_is_synced_through_its_role(pool: PgPool) {
    let config = config().await;
    let org = aws_sdk_organizations::Client::new(&config);
    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let prod = member(&org, "prod", "TrailkeeperRead").await;
    let dev = member(&org, "dev", "TrailkeeperRead").await;
    // Made with the default role only: Trailkeeper's role is missing there.
    let sandbox = member(&org, "sandbox", "OrganizationAccountAccessRole").await;
    // The same name in two accounts: two secrets.
    let prod_arn =
        create_secret(&in_account(&config, &prod).await, "payments/db", "payments").await;
    let dev_arn = create_secret(&in_account(&config, &dev).await, "payments/db", "payments").await;
    let own = aws_sdk_secretsmanager::Client::new(&config);
    let own_arn = create_secret(&own, "org/audit-reader", "security").await;
    assert_ne!(prod_arn, dev_arn);

    let summaries = sync_regions(&pool, &config, &organisation(Vec::new()), &[REGION.into()])
        .await
        .unwrap();
    let mut outcomes: Vec<(String, usize, usize)> = summaries
        .iter()
        .map(|summary| {
            let account = summary.account.clone().unwrap();
            (account, summary.seen, summary.errors.len())
        })
        .collect();
    outcomes.sort();
    let mut expected = vec![
        (prod.clone(), 1, 0),
        (dev.clone(), 1, 0),
        (sandbox.clone(), 0, 1),
        ("123456789012".to_string(), 1, 0),
    ];
    expected.sort();
    assert_eq!(outcomes, expected);

    let refused = summaries
        .iter()
        .find(|summary| summary.account.as_deref() == Some(sandbox.as_str()))
        .unwrap();
    assert_eq!(refused.errors[0].operation, "AssumeRole");
    assert_eq!(refused.errors[0].code.as_deref(), Some("AccessDenied"));
    assert!(
        refused.errors[0]
            .message
            .contains(&format!("arn:aws:iam::{sandbox}:role/TrailkeeperRead")),
        "{:?}",
        refused.errors[0]
    );
    let (outcome, errors): (String, serde_json::Value) = sqlx::query_as(
        "SELECT outcome, errors FROM sync_runs WHERE account_id = $1 AND region = $2",
    )
    .bind(&sandbox)
    .bind(REGION)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(outcome, "failed");
    assert_eq!(errors[0]["code"], "AccessDenied");

    let secrets: Vec<(String, String)> =
        sqlx::query_as("SELECT arn, account_id FROM secrets ORDER BY arn")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut expected = vec![
        (prod_arn.clone(), prod.clone()),
        (dev_arn.clone(), dev.clone()),
        (own_arn, "123456789012".to_string()),
    ];
    expected.sort();
    assert_eq!(secrets, expected);
    let mut names: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT id, name, role_arn FROM accounts")
            .fetch_all(&pool)
            .await
            .unwrap();
    names.sort();
    let mut expected = vec![
        (
            prod.clone(),
            Some("prod".into()),
            Some(format!("arn:aws:iam::{prod}:role/TrailkeeperRead")),
        ),
        (
            dev.clone(),
            Some("dev".into()),
            Some(format!("arn:aws:iam::{dev}:role/TrailkeeperRead")),
        ),
        (
            sandbox.clone(),
            Some("sandbox".into()),
            Some(format!("arn:aws:iam::{sandbox}:role/TrailkeeperRead")),
        ),
        ("123456789012".into(), Some("master".into()), None),
    ];
    expected.sort();
    assert_eq!(names, expected);

    // The lists and the Overview show and filter by account.
    let app = common::app(pool.clone()).await;
    let viewer = common::signed_in(&pool, "auditor", Role::Viewer).await;
    let listed = get(&app, &format!("/api/v1/secrets?account={dev}"), &viewer).await;
    let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["arn"], dev_arn.as_str());
    assert_eq!(items[0]["account_id"], dev.as_str());
    assert_eq!(items[0]["account_name"], "dev");
    // The page's own decoding of a secret reads what the server sends (its account once).
    let detail = get(&app, &format!("/api/v1/secrets/{dev_arn}"), &viewer).await;
    let detail: trailkeeper_app::api::secrets::SecretDetail =
        serde_json::from_str(&detail.body).unwrap();
    assert_eq!(
        (
            detail.summary.account_id.as_str(),
            detail.summary.account_name.as_deref()
        ),
        (dev.as_str(), Some("dev"))
    );
    let refused = get(&app, "/api/v1/secrets?account=dev", &viewer).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("account=\\\"dev\\\" is not valid"),
        "{}",
        refused.body
    );
    let overview = trailkeeper::inventory::accounts::overview(&mut pool.acquire().await.unwrap())
        .await
        .unwrap();
    let row = |id: &str| overview.iter().find(|account| account.id == id).unwrap();
    assert_eq!(
        (row(&prod).name.as_deref(), row(&prod).secrets),
        (Some("prod"), 1)
    );
    assert!(row(&prod).sync_errors.is_empty() && row(&prod).last_sync.is_some());
    assert_eq!(row(&sandbox).secrets, 0);
    assert!(
        row(&sandbox).sync_errors[0].starts_with("AccessDenied: "),
        "{:?}",
        row(&sandbox).sync_errors
    );

    // A change to a member account's secret goes through that account's role.
    let admin = common::signed_in(&pool, "ada", Role::Admin).await;
    let tagged = common::send_json(
        &app,
        "POST",
        &format!("/api/v1/secrets/{dev_arn}/actions/tags"),
        &serde_json::json!({ "reason": "owner of the dev database", "tags": { "owner": "ada" } })
            .to_string(),
        &admin,
    )
    .await;
    assert_eq!(tagged.status, 200, "{}", tagged.body);
    let described = common::described(&in_account(&config, &dev).await, &dev_arn).await;
    assert!(
        described
            .tags()
            .iter()
            .any(|tag| tag.key() == Some("owner") && tag.value() == Some("ada")),
        "{described:?}"
    );

    // An organisational unit left out: its account is not synced, and its secrets are not
    // marked gone by the other accounts' syncs of the same region.
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let unit = org
        .create_organizational_unit()
        .parent_id(&root)
        .name("development")
        .send()
        .await
        .unwrap()
        .organizational_unit()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    org.move_account()
        .account_id(&dev)
        .source_parent_id(&root)
        .destination_parent_id(&unit)
        .send()
        .await
        .unwrap();
    in_account(&config, &prod)
        .await
        .delete_secret()
        .secret_id(&prod_arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let summaries = sync_regions(
        &pool,
        &config,
        &organisation(vec![OrgMember::Unit(unit)]),
        &[REGION.into()],
    )
    .await
    .unwrap();
    assert!(
        summaries
            .iter()
            .all(|summary| summary.account.as_deref() != Some(dev.as_str())),
        "{summaries:?}"
    );
    let gone: Vec<(String, bool)> = sqlx::query_as(
        "SELECT arn, gone_since IS NOT NULL FROM secrets WHERE arn = ANY($1) ORDER BY arn",
    )
    .bind([prod_arn.clone(), dev_arn.clone()])
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut expected = vec![(prod_arn, true), (dev_arn, false)];
    expected.sort();
    assert_eq!(gone, expected);
}
