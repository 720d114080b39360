//! `make bench`: the inventory at 10 000 secrets, on a real PostgreSQL (DATABASE_URL, in a
//! database of its own). Prints the sync's store throughput (diffing and storing described
//! secrets, no AWS latency), and the server-side latency of the Secrets page and the list API
//! (through the real router, warm): p50 and p95. Then an Organization's: 200 accounts × 3
//! regions × 50 secrets synced as `sync` runs them (accounts at once up to the default
//! concurrency, each secret described by two AWS calls, here a fixed stand-in for AWS's
//! latency), stored and assessed per account × region, in a database of its own; and the
//! Secrets page at its 30 000 secrets, unfiltered, filtered to one account, and for people
//! scoped to a team or an account against one who sees everything. Last, who can read what
//! (`inventory::grants`): one account's roles × secrets evaluated as a sync does.

mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;

use aws_sdk_secretsmanager::primitives::DateTime as AwsDateTime;
use aws_sdk_secretsmanager::types::{
    RotationRulesType, SecretListEntry, SecretVersionsListEntry, Tag,
};
use chrono::Utc;
use trailkeeper::aws::accounts::DEFAULT_CONCURRENCY;
use trailkeeper::inventory::assess::reassess;
use trailkeeper::inventory::status::StatusThresholds;
use trailkeeper::inventory::sync::{self, Described, store};

use common::{app, database_url, fresh_database, latency, millis, scoped_viewer};

const SECRETS: usize = 10_000;
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];
/// The Organization: accounts, and secrets in each of their regions.
const ACCOUNTS: usize = 200;
const PER_ACCOUNT_REGION: usize = 50;
/// What one AWS call takes, in the organisation's sync: a stand-in for a region's round trip.
const AWS_CALL: Duration = Duration::from_millis(30);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (pool, _) = fresh_database(&database_url()?, "inventory").await?;

    let described: Vec<(String, Described)> = (0..SECRETS).map(secret).collect();
    let started = Instant::now();
    for (region, secret) in &described {
        store(&pool, region, secret).await?;
    }
    let stored = started.elapsed();
    let started = Instant::now();
    reassess(&pool, None, None, Utc::now(), StatusThresholds::default()).await?;
    let assessed = started.elapsed();
    println!(
        "sync store: {SECRETS} described secrets diffed and stored in {:.2} s = {:.0} secrets/s \
         (assessing them all: {} ms)",
        stored.as_secs_f64(),
        SECRETS as f64 / stored.as_secs_f64(),
        assessed.as_millis()
    );

    let app = app(pool.clone()).await?;
    for (what, path) in [
        ("Secrets page, first page", "/secrets"),
        ("Secrets page, search", "/secrets?q=team%3Dpayments"),
        (
            "Secrets page, status filter sorted by last rotation",
            "/secrets?status=healthy&sort=last_rotated&order=desc",
        ),
        ("list API, 1000 per page", "/api/v1/secrets?limit=1000"),
    ] {
        let (p50, p95) = latency(&app, path).await?;
        println!(
            "{what} at {SECRETS} secrets: p50 {:.1} ms, p95 {:.1} ms ({path})",
            millis(p50),
            millis(p95)
        );
    }

    // An Organization, in a database of its own: accounts synced at once up to the default
    // concurrency, as `sync` runs them; in each region one ListSecrets page, then each secret
    // described (two calls) with the sync's own concurrency, stored, and the region assessed.
    let (pool, _) = fresh_database(&database_url()?, "organisation").await?;
    let organisation = ACCOUNTS * REGIONS.len() * PER_ACCOUNT_REGION;
    let started = Instant::now();
    let accounts = (0..ACCOUNTS).map(|index| {
        let pool = pool.clone();
        async move {
            let account = format!("{:012}", 200_000_000_000 + index);
            for (r, region) in REGIONS.iter().enumerate() {
                tokio::time::sleep(AWS_CALL).await;
                let first = (index * REGIONS.len() + r) * PER_ACCOUNT_REGION;
                let described = futures::stream::iter(first..first + PER_ACCOUNT_REGION)
                    .map(|n| {
                        let (pool, account) = (pool.clone(), account.clone());
                        async move {
                            tokio::time::sleep(2 * AWS_CALL).await;
                            let (_, described) = secret_in(n, region, &account);
                            store(&pool, region, &described).await
                        }
                    })
                    .buffer_unordered(sync::CONCURRENCY);
                for stored in described.collect::<Vec<_>>().await {
                    stored?;
                }
                reassess(
                    &pool,
                    Some(region),
                    Some(&account),
                    Utc::now(),
                    StatusThresholds::default(),
                )
                .await?;
            }
            anyhow::Ok(())
        }
    });
    let mut accounts = futures::stream::iter(accounts).buffer_unordered(DEFAULT_CONCURRENCY);
    while let Some(synced) = accounts.next().await {
        synced?;
    }
    let stored = started.elapsed();
    println!(
        "sync across an Organization: {ACCOUNTS} accounts × {} regions × {PER_ACCOUNT_REGION} \
         secrets = {organisation} secrets, {DEFAULT_CONCURRENCY} accounts at once, each AWS call \
         taking {} ms, described, stored and assessed in {:.2} s = {:.0} secrets/s",
        REGIONS.len(),
        AWS_CALL.as_millis(),
        stored.as_secs_f64(),
        organisation as f64 / stored.as_secs_f64()
    );
    let app = common::app(pool.clone()).await?;
    let total = organisation;
    for (what, path) in [
        ("Secrets page, first page", "/secrets".to_string()),
        (
            "Secrets page, one account",
            format!("/secrets?account={:012}", 200_000_000_000_u64 + 7),
        ),
    ] {
        let (p50, p95) = latency(&app, &path).await?;
        println!(
            "{what} at {total} secrets: p50 {:.1} ms, p95 {:.1} ms ({path})",
            millis(p50),
            millis(p95)
        );
    }
    // The same page for people who see part of the estate: the policies decide what every
    // query of theirs reads.
    let one_account = format!("{:012}", 200_000_000_000_u64 + 7);
    for (who, scope) in [
        ("a viewer who sees everything", None),
        ("a viewer scoped to team=payments", Some("team=payments")),
        ("a viewer scoped to one account", Some(one_account.as_str())),
    ] {
        let viewer = match scope {
            Some(scope) => (app.0.clone(), scoped_viewer(&pool, scope).await?),
            None => (app.0.clone(), app.1.clone()),
        };
        let (p50, p95) = latency(&viewer, "/secrets").await?;
        println!(
            "Secrets page at {total} secrets for {who}: p50 {:.1} ms, p95 {:.1} ms",
            millis(p50),
            millis(p95)
        );
    }
    who_can_read();
    Ok(())
}

/// Who can read what, as a sync evaluates it for one account: 2 000 roles (one in ten with a
/// policy reading its team's secrets by name, one broad, the rest for other services) × 10 000
/// secrets (one in twenty with a resource policy).
fn who_can_read() {
    use serde_json::json;
    use trailkeeper::inventory::grants::evaluate::{Key, Policy, Principal, Secret};
    use trailkeeper::inventory::grants::readers;

    const ROLES: usize = 2_000;
    const TEAMS: usize = 50;
    let account = "111122223333";
    let arn = |n: usize| {
        format!(
            "arn:aws:secretsmanager:us-east-1:{account}:secret:team-{}/s{n}-AbCdEf",
            n % TEAMS
        )
    };
    let principals: Vec<Principal> = (0..ROLES)
        .map(|n| {
            let statement = match n % 10 {
                0 if n == 0 => json!({ "Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*" }),
                0 => json!({ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                              "Resource": format!("arn:aws:secretsmanager:us-east-1:{account}:secret:team-{}/*", n / 10 % TEAMS) }),
                _ => json!({ "Effect": "Allow", "Action": ["s3:GetObject", "sqs:*", "logs:*"], "Resource": "*" }),
            };
            Principal {
                arn: format!("arn:aws:iam::{account}:role/role-{n}"),
                account: account.into(),
                identity_policies: vec![Policy {
                    source: format!("inline policy of role-{n}"),
                    document: json!({ "Statement": [statement] }),
                }],
                ..Principal::default()
            }
        })
        .collect();
    let secrets: Vec<Secret> = (0..SECRETS)
        .map(|n| Secret {
            arn: arn(n),
            account: account.into(),
            tags: Default::default(),
            resource_policy: (n % 20 == 0).then(|| {
                json!({ "Statement": [{ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                    "Principal": { "AWS": format!("arn:aws:iam::{account}:role/role-{}", n % ROLES) } }] })
            }),
            key: Key::AwsManaged,
        })
        .collect();
    let started = Instant::now();
    let found = readers(&principals, &secrets).len();
    let took = started.elapsed();
    println!(
        "who can read: {ROLES} roles × {SECRETS} secrets evaluated in {:.2} s ({found} readers \
         found) = {:.0} secrets/s",
        took.as_secs_f64(),
        SECRETS as f64 / took.as_secs_f64()
    );
}

fn at(days_ago: i64) -> AwsDateTime {
    AwsDateTime::from_secs((Utc::now() - chrono::Duration::days(days_ago)).timestamp())
}

/// The n-th secret of a varied estate: teams, environments, rotation schedules, versions.
fn secret(n: usize) -> (String, Described) {
    secret_in(n, REGIONS[n % REGIONS.len()], "123456789012")
}

/// The n-th secret, in `account`'s `region`.
fn secret_in(n: usize, region: &str, account: &str) -> (String, Described) {
    let team = ["payments", "identity", "data", "platform", "search"][n % 5];
    let name = format!("{}/{team}/app-{n:05}/db", ["prod", "staging"][n % 2]);
    let arn = format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}-{n:06}");
    let rotated = (!n.is_multiple_of(4)).then_some((n % 120) as i64);
    let mut entry = SecretListEntry::builder()
        .arn(&arn)
        .name(&name)
        .description(format!("Database credentials for app {n}"))
        .created_date(at(200))
        .last_changed_date(at(3))
        .tags(Tag::builder().key("team").value(team).build())
        .tags(
            Tag::builder()
                .key("env")
                .value(["prod", "staging"][n % 2])
                .build(),
        )
        .rotation_enabled(rotated.is_some());
    if let Some(days) = rotated {
        entry = entry.last_rotated_date(at(days)).rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        );
    }
    let versions = (0..3)
        .map(|v| {
            let labels: &[&str] = match v {
                0 => &["AWSCURRENT"],
                1 => &["AWSPREVIOUS"],
                _ => &[],
            };
            let mut version = SecretVersionsListEntry::builder()
                .version_id(format!("{n:08x}-0000-4000-8000-{v:012x}"))
                .created_date(at(30 * v));
            for label in labels {
                version = version.version_stages(*label);
            }
            version.build()
        })
        .collect();
    (
        region.to_string(),
        Described::new(entry.build(), versions, None),
    )
}
