//! Trail coverage against the AWS API peer: each sync reads the trails of every region it
//! syncs, the Overview says where Secrets Manager's reads go unrecorded, and findings open
//! for a blind spot and a stopped trail. The tests make
//! only single-region trails (a multi-region one would show in every test's regions), in
//! regions no other test makes trails in.

use aws_sdk_cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector};
use sqlx::PgPool;
use trailkeeper::aws::accounts::AccountSettings;
use trailkeeper::detect::conditions;
use trailkeeper::inventory::sync::sync_regions;
use trailkeeper::inventory::trails;
use trailkeeper_app::Role;
use trailkeeper_app::api::overview::{Logged, RegionCoverage};

use crate::common::peer::{peer_config, s3_with_bucket};
use crate::common::{self, client, create_secret};

async fn cloudtrail(region: &str) -> aws_sdk_cloudtrail::Client {
    let config = aws_sdk_cloudtrail::config::Builder::from(&peer_config().await)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    aws_sdk_cloudtrail::Client::from_conf(config)
}

/// Makes a trail delivering to `bucket`, logging when `started`.
async fn trail(client: &aws_sdk_cloudtrail::Client, name: &str, bucket: &str, started: bool) {
    client
        .create_trail()
        .name(name)
        .s3_bucket_name(bucket)
        .send()
        .await
        .unwrap();
    if started {
        client.start_logging().name(name).send().await.unwrap();
    }
}

/// Syncs `regions` as `trailkeeper sync` does, the conditions re-evaluated after it.
async fn sync(pool: &PgPool, regions: &[String]) {
    let summaries = sync_regions(
        pool,
        &peer_config().await,
        &AccountSettings::default(),
        regions,
    )
    .await
    .unwrap();
    conditions::after_sync(pool, &summaries).await.unwrap();
}

/// The active trail findings: kind, subject, severity and title.
async fn active(pool: &PgPool) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "SELECT kind, subject, severity, title FROM findings \
         WHERE kind LIKE 'trail_%' AND status <> 'resolved' ORDER BY kind",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn place<'a>(coverage: &'a [RegionCoverage], region: &str) -> &'a RegionCoverage {
    coverage
        .iter()
        .find(|place| place.region == region)
        .unwrap_or_else(|| panic!("no coverage of {region}: {coverage:?}"))
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_sync_records_where_secrets_manager_reads_go_unlogged(pool: PgPool) {
    s3_with_bucket("trails-of-coverage").await;
    // ap-southeast-5: one trail with AWS's default selectors, logging everything.
    create_secret(
        &client("ap-southeast-5").await,
        "coverage/whole",
        "payments",
    )
    .await;
    let whole = cloudtrail("ap-southeast-5").await;
    trail(&whole, "everything", "trails-of-coverage", true).await;
    // ap-southeast-6: a logging trail of management writes only, and a stopped trail that
    // would log everything.
    create_secret(
        &client("ap-southeast-6").await,
        "coverage/blind",
        "payments",
    )
    .await;
    let blind = cloudtrail("ap-southeast-6").await;
    trail(&blind, "changes-only", "trails-of-coverage", true).await;
    blind
        .put_event_selectors()
        .trail_name("changes-only")
        .advanced_event_selectors(
            AdvancedEventSelector::builder()
                .name("management writes")
                .field_selectors(
                    AdvancedFieldSelector::builder()
                        .field("eventCategory")
                        .equals("Management")
                        .build()
                        .unwrap(),
                )
                .field_selectors(
                    AdvancedFieldSelector::builder()
                        .field("readOnly")
                        .equals("false")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    trail(&blind, "stopped", "trails-of-coverage", false).await;

    let regions = ["ap-southeast-5".to_string(), "ap-southeast-6".to_string()];
    sync(&pool, &regions).await;

    let mut db = pool.acquire().await.unwrap();
    let coverage = trails::coverage(&mut db).await.unwrap();
    let whole = place(&coverage, "ap-southeast-5");
    assert_eq!(whole.secrets, 1);
    let check = whole.trails.as_ref().expect("checked by the sync");
    assert_eq!(
        (check.reads, check.writes),
        (Some(Logged::All), Some(Logged::All))
    );
    assert_eq!(check.error, None);
    let names: Vec<(&str, Option<bool>)> = check
        .trails
        .iter()
        .map(|trail| (trail.name.as_str(), trail.logging))
        .collect();
    assert_eq!(names, [("everything", Some(true))]);

    let check = place(&coverage, "ap-southeast-6")
        .trails
        .as_ref()
        .expect("checked by the sync");
    assert_eq!(
        (check.reads, check.writes),
        (Some(Logged::None), Some(Logged::All)),
        "{check:?}"
    );
    let mut states: Vec<(&str, Option<bool>, Option<Logged>)> = check
        .trails
        .iter()
        .map(|trail| (trail.name.as_str(), trail.logging, trail.reads))
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            ("changes-only", Some(true), Some(Logged::None)),
            ("stopped", Some(false), Some(Logged::All)),
        ]
    );

    // Findings: the blind region, and the stopped trail that would have covered it.
    let account = &place(&coverage, "ap-southeast-6").account_id;
    assert_eq!(
        active(&pool).await,
        [
            (
                "trail_gap".to_string(),
                format!("{account}/ap-southeast-6"),
                "medium".to_string(),
                format!("No trail logs Secrets Manager reads in {account} ap-southeast-6")
            ),
            (
                "trail_stopped".to_string(),
                format!("arn:aws:cloudtrail:ap-southeast-6:{account}:trail/stopped"),
                "high".to_string(),
                "Trail stopped is not logging".to_string()
            ),
        ]
    );

    // Starting the stopped trail closes the gap at the next sync, and both findings.
    blind.start_logging().name("stopped").send().await.unwrap();
    sync(&pool, &regions).await;
    let coverage = trails::coverage(&mut db).await.unwrap();
    let check = place(&coverage, "ap-southeast-6").trails.clone().unwrap();
    assert_eq!(check.reads, Some(Logged::All));
    assert_eq!(active(&pool).await, []);

    // The Overview shows it: the blind region's reads were "none" before, "all" now.
    let app = common::app(pool.clone()).await;
    let admin = common::signed_in(&pool, "admin", Role::Admin).await;
    let page = common::get(&app, "/", &admin).await;
    assert!(page.body.contains("Trail coverage"), "{}", page.body);
    assert!(page.body.contains("changes-only"), "{}", page.body);
}
