//! Detection over a labelled month (`trailkeeper-scenarios`): every incident is found and
//! attributed to the right principal and secret, the benign month raises (almost) nothing,
//! and a backfill over the stored events finds exactly what live detection found; then what
//! no event shows, from the month's account as it stands at the end: its secrets' rotations
//! and reads, and its grants and trails as the AWS API peer holds them.

use aws_config::SdkConfig;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper::aws::accounts::Account as Reached;
use trailkeeper::detect::DetectionSettings;
use trailkeeper::detect::backfill::backfill;
use trailkeeper::detect::conditions::{
    grants, ingest_silence, rotation_schedule, trail_health, unused_secret,
};
use trailkeeper::ingest::sources::files::ingest_file;
use trailkeeper::inventory::assess;
use trailkeeper::inventory::status::StatusThresholds;
use trailkeeper::inventory::sync::{Described, store};
use trailkeeper_app::api::findings::FindingKind;
use trailkeeper_scenarios::{ACCOUNT, Account, Label, Month};

use crate::common::peer::peer_config;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Stored {
    kind: String,
    severity: String,
    title: String,
    explanation: String,
    secret_arn: Option<String>,
    principal: Option<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: i64,
    evidence_event_ids: Vec<String>,
    status: String,
    subject: Option<String>,
    /// Every secret of it (an incident has several), first first.
    secrets: Vec<String>,
}

async fn findings(pool: &PgPool) -> Vec<Stored> {
    sqlx::query_as(
        "SELECT kind, severity, title, explanation, secret_arn, principal, first_seen, \
             last_seen, count, evidence_event_ids, status, subject, \
             ARRAY(SELECT s.secret_arn FROM finding_secrets s WHERE s.finding_id = f.id \
                   ORDER BY s.first_seen, s.secret_arn) AS secrets \
         FROM findings f ORDER BY kind, principal, secret_arn, first_seen",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn finds(finding: &Stored, label: &Label) -> bool {
    label.found_by(
        &finding.kind,
        finding.principal.as_deref(),
        finding.subject.as_deref(),
        &finding.secrets,
    )
}

/// Whether a finding is of a standing condition, judged after a sync, not from events.
fn is_standing(finding: &Stored) -> bool {
    FindingKind::parse(&finding.kind).is_some_and(|kind| !kind.found_in_events())
}

/// The month's account in the AWS API peer, reached as Trailkeeper reaches a member account:
/// through a role in it. The peer knows no way in before that role exists, so the test makes
/// it with the peer's own account header, as the account's administrator onboarding it would;
/// everything else goes through the role.
async fn provision(account: &Account) -> SdkConfig {
    let base = peer_config().await;
    let trust = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow",
        "Principal": { "AWS": "arn:aws:iam::123456789012:root" }, "Action": "sts:AssumeRole" }] })
    .to_string();
    aws_sdk_iam::Client::new(&base)
        .create_role()
        .role_name("TrailkeeperRead")
        .assume_role_policy_document(&trust)
        .customize()
        .mutate_request(|request| {
            request.headers_mut().insert("x-moto-account-id", ACCOUNT);
        })
        .send()
        .await
        .unwrap();
    let role = format!("arn:aws:iam::{ACCOUNT}:role/TrailkeeperRead")
        .parse()
        .unwrap();
    let config = Reached::assumed(&base, role, None, None).await.config;

    let iam = aws_sdk_iam::Client::new(&config);
    for role in &account.roles {
        iam.create_role()
            .role_name(&role.name)
            .assume_role_policy_document(&trust)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name(&role.name)
            .policy_name("secrets")
            .policy_document(role.policy.to_string())
            .send()
            .await
            .unwrap();
    }
    for trail in &account.trails {
        use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType};
        let bucket = format!("{ACCOUNT}-{}-logs", trail.name);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .region(aws_config::Region::new(trail.home_region))
                .build(),
        );
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let cloudtrail = trailkeeper::aws::cloudtrail(&config, trail.home_region);
        cloudtrail
            .create_trail()
            .name(trail.name)
            .s3_bucket_name(&bucket)
            .is_multi_region_trail(trail.multi_region)
            .send()
            .await
            .unwrap();
        let read_write = if trail.records_reads {
            ReadWriteType::All
        } else {
            ReadWriteType::WriteOnly
        };
        cloudtrail
            .put_event_selectors()
            .trail_name(trail.name)
            .event_selectors(
                EventSelector::builder()
                    .read_write_type(read_write)
                    .include_management_events(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        if trail.logging {
            cloudtrail
                .start_logging()
                .name(trail.name)
                .send()
                .await
                .unwrap();
        }
    }
    config
}

/// The account's secrets in the inventory, stored by the sync as Secrets Manager's
/// `ListSecrets` and `ListSecretVersionIds` would describe them. (Not through the peer: it
/// names secrets itself and dates them now, and the month's events name them and their
/// history.)
async fn hold_secrets(pool: &PgPool, account: &Account) {
    use aws_sdk_secretsmanager::primitives::DateTime as AwsTime;
    use aws_sdk_secretsmanager::types::{
        RotationRulesType, SecretListEntry, SecretVersionsListEntry,
    };
    let time = |at: DateTime<Utc>| AwsTime::from_secs(at.timestamp());
    for secret in &account.secrets {
        let entry = SecretListEntry::builder()
            .arn(&secret.arn)
            .name(&secret.name)
            .created_date(time(secret.created_at))
            .set_last_rotated_date(secret.last_rotated_at.map(time))
            .set_last_accessed_date(secret.last_accessed_at.map(time))
            .rotation_enabled(secret.rotation_days.is_some())
            .set_rotation_rules(secret.rotation_days.map(|days| {
                RotationRulesType::builder()
                    .automatically_after_days(days)
                    .build()
            }))
            .build();
        let version = |id: &str, stage: &str, at: DateTime<Utc>| {
            SecretVersionsListEntry::builder()
                .version_id(id)
                .version_stages(stage)
                .created_date(time(at))
                .build()
        };
        let current = secret.last_rotated_at.unwrap_or(secret.created_at);
        let mut versions = vec![version("current-version", "AWSCURRENT", current)];
        if let Some((id, since)) = &secret.pending {
            versions.push(version(id, "AWSPENDING", *since));
        }
        store(pool, secret.region, &Described::new(entry, versions, None))
            .await
            .unwrap();
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn every_incident_is_found_live_and_by_a_backfill_and_the_accounts_state_shows_the_rest(
    pool: PgPool,
) {
    let month = Month::generate(Utc::now() - Duration::days(45), 20261124);
    // Every kind detection finds has its labelled incidents (approvals are people's).
    let unlabelled: Vec<FindingKind> = FindingKind::ALL
        .into_iter()
        .filter(|kind| *kind != FindingKind::ChangeAwaitingApproval)
        .filter(|kind| {
            !month
                .labels
                .iter()
                .chain(&month.account.labels)
                .any(|label| label.kind == kind.as_str())
        })
        .collect();
    assert!(unlabelled.is_empty(), "no incident of {unlabelled:?}");
    hold_secrets(&pool, &month.account).await;
    let scratch = tempfile::tempdir().unwrap();
    // One trail file per hour, stored in order as they would arrive.
    for path in month.write(scratch.path()).unwrap() {
        ingest_file(&pool, &path).await.unwrap();
    }
    let live = findings(&pool).await;

    for label in &month.labels {
        assert!(
            live.iter().any(|finding| finds(finding, label)),
            "{label:?} was not found; the findings: {:#?}",
            live.iter()
                .map(|f| (&f.kind, &f.principal, &f.secret_arn))
                .collect::<Vec<_>>()
        );
    }
    // The teardown's seven deletions are one critical finding listing every secret.
    let teardown: Vec<&Stored> = live
        .iter()
        .filter(|finding| {
            finding.kind == "secret_deleted"
                && finding
                    .principal
                    .as_deref()
                    .is_some_and(|principal| principal.ends_with("role/legacy-teardown"))
        })
        .collect();
    assert_eq!(teardown.len(), 1, "{teardown:#?}");
    assert_eq!(teardown[0].secrets.len(), 7);
    assert_eq!(
        (teardown[0].severity.as_str(), teardown[0].count),
        ("critical", 7)
    );
    let false_findings: Vec<&Stored> = live
        .iter()
        .filter(|finding| {
            !finding
                .evidence_event_ids
                .iter()
                .any(|id| month.injected.contains(id))
        })
        .collect();
    assert!(
        false_findings.len() * 100_000 <= month.events(),
        "{} false findings over {} benign events: {false_findings:#?}",
        false_findings.len(),
        month.events()
    );

    let done = backfill(&pool, None, None, |_| {}).await.unwrap();
    assert_eq!(done.events as usize, month.events());
    let backfilled = findings(&pool).await;
    assert_eq!(backfilled.len(), live.len());
    for (live, backfilled) in live.iter().zip(&backfilled) {
        assert_eq!(live, backfilled);
    }

    // What no event shows: the rotations as AWS and the month's events leave them, the
    // account's grants and trails read from the peer as a sync reads them, all judged as of
    // the month's end (a grant unused: not used in the month's last two weeks).
    assess::reassess(
        &pool,
        None,
        Some(ACCOUNT),
        month.end(),
        StatusThresholds::default(),
    )
    .await
    .unwrap();
    let config = provision(&month.account).await;
    trailkeeper::inventory::grants::check(&pool, &config, ACCOUNT)
        .await
        .unwrap();
    let mut seen = Default::default();
    let mut regions: Vec<&str> = month.account.secrets.iter().map(|s| s.region).collect();
    regions.sort();
    regions.dedup();
    for region in regions {
        trailkeeper::inventory::trails::check(&pool, &config, ACCOUNT, region, &mut seen)
            .await
            .unwrap();
    }
    let settings = DetectionSettings {
        unused_grant_days: 14,
        ..DetectionSettings::default()
    };
    trail_health::reassess(&pool, &settings, month.end())
        .await
        .unwrap();
    ingest_silence::reassess(&pool, &settings, month.end())
        .await
        .unwrap();
    rotation_schedule::reassess(&pool, &settings, None, month.end())
        .await
        .unwrap();
    unused_secret::reassess(&pool, &settings, None, month.end())
        .await
        .unwrap();
    grants::reassess(&pool, &settings, month.end())
        .await
        .unwrap();
    let standing: Vec<Stored> = findings(&pool)
        .await
        .into_iter()
        .filter(is_standing)
        .collect();
    let described = |found: &Stored| {
        (
            found.kind.clone(),
            found.principal.clone(),
            found.subject.clone(),
        )
    };
    for label in &month.account.labels {
        assert!(
            standing.iter().any(|finding| finds(finding, label)),
            "{label:?} was not found; the standing findings: {:#?}",
            standing.iter().map(described).collect::<Vec<_>>()
        );
    }
    // And nothing else: no standing finding without its incident.
    let unlabelled: Vec<_> = standing
        .iter()
        .filter(|finding| {
            !month
                .account
                .labels
                .iter()
                .any(|label| finds(finding, label))
        })
        .map(described)
        .collect();
    assert!(unlabelled.is_empty(), "{unlabelled:#?}");

    // A backfill makes again what events found, and leaves these as they stand.
    backfill(&pool, None, None, |_| {}).await.unwrap();
    let after: Vec<Stored> = findings(&pool)
        .await
        .into_iter()
        .filter(is_standing)
        .collect();
    assert_eq!(after, standing);
}

async fn add_secret(
    pool: &PgPool,
    name: &str,
    status: &str,
    reason: &str,
    created_days_ago: i64,
) -> String {
    let arn = format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}-AbCdEf");
    sqlx::query(
        "INSERT INTO secrets (arn, name, region, account_id, rotation_status, rotation_reason, \
             created_at) VALUES ($1, $2, 'us-east-1', '111122223333', $3, $4, now() - make_interval(days => $5::int))",
    )
    .bind(&arn)
    .bind(name)
    .bind(status)
    .bind(reason)
    .bind(created_days_ago as i32)
    .execute(pool)
    .await
    .unwrap();
    arn
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn rotation_conditions_open_once_and_resolve_when_they_no_longer_hold(pool: PgPool) {
    use trailkeeper::detect::conditions::rotation_schedule::reassess;
    let overdue = add_secret(
        &pool,
        "prod/db",
        "overdue",
        "Rotation was due 3 days ago",
        400,
    )
    .await;
    let old = add_secret(
        &pool,
        "prod/legacy",
        "disabled",
        "Rotation is not enabled",
        200,
    )
    .await;
    add_secret(
        &pool,
        "prod/young",
        "disabled",
        "Rotation is not enabled",
        10,
    )
    .await;
    add_secret(
        &pool,
        "prod/fine",
        "healthy",
        "Last rotated 2 days ago",
        400,
    )
    .await;

    let first = reassess(&pool, &DetectionSettings::default(), None, Utc::now())
        .await
        .unwrap();
    assert_eq!(first.opened, 2);
    let again = reassess(&pool, &DetectionSettings::default(), None, Utc::now())
        .await
        .unwrap();
    assert_eq!((again.opened, again.resolved), (0, 0));
    let open: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT kind, secret_arn, count, title FROM findings WHERE status = 'open' ORDER BY kind",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(
        (open[0].0.as_str(), open[0].1.as_str(), open[0].2),
        ("rotation_neglected", old.as_str(), 1)
    );
    assert_eq!(open[0].3, "prod/legacy has not been rotated for 200 days");
    assert_eq!(
        (open[1].0.as_str(), open[1].1.as_str(), open[1].2),
        ("rotation_overdue", overdue.as_str(), 1)
    );

    sqlx::query("UPDATE secrets SET rotation_status = 'healthy' WHERE arn = $1")
        .bind(&overdue)
        .execute(&pool)
        .await
        .unwrap();
    let later = reassess(&pool, &DetectionSettings::default(), None, Utc::now())
        .await
        .unwrap();
    assert_eq!(later.resolved, 1);
    let (status, audited): (String, i64) = sqlx::query_as(
        "SELECT f.status, (SELECT count(*) FROM audit_log a WHERE (a.detail ->> 'finding_id')::bigint = f.id) \
         FROM findings f WHERE secret_arn = $1",
    )
    .bind(&overdue)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), audited), ("resolved", 1));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_secret_nobody_read_for_the_setting_is_unused_unless_cloudtrail_saw_a_read(pool: PgPool) {
    use trailkeeper::detect::conditions::unused_secret::reassess;
    let forgotten = add_secret(&pool, "prod/forgotten", "healthy", "ok", 400).await;
    let read_lately = add_secret(&pool, "prod/read-lately", "healthy", "ok", 400).await;
    add_secret(&pool, "prod/new", "healthy", "ok", 10).await;
    add_secret(&pool, "prod/no-date", "healthy", "ok", 400).await;
    sqlx::query("UPDATE secrets SET last_accessed_at = now() - interval '200 days'")
        .execute(&pool)
        .await
        .unwrap();
    // Without AWS's date, only CloudTrail reaching back 90 days could say it was never read.
    sqlx::query(
        "UPDATE secrets SET last_accessed_at = NULL WHERE name IN ('prod/new', 'prod/no-date')",
    )
    .execute(&pool)
    .await
    .unwrap();
    // AWS's date lags (it records days, and only some reads); CloudTrail saw one last week.
    let read = serde_json::json!({ "Records": [{
        "eventVersion": "1.09", "eventID": "read-1", "eventName": "GetSecretValue",
        "eventTime": (Utc::now() - Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": "secretsmanager.amazonaws.com", "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333", "eventType": "AwsApiCall",
        "userIdentity": { "type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/app",
                          "accountId": "111122223333" },
        "requestParameters": { "secretId": read_lately }
    }]});
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("read.json");
    std::fs::write(&path, read.to_string()).unwrap();
    ingest_file(&pool, &path).await.unwrap();

    let assessed = reassess(&pool, &DetectionSettings::default(), None, Utc::now())
        .await
        .unwrap();
    assert_eq!(assessed.opened, 1);
    let (arn, title, severity): (String, String, String) = sqlx::query_as(
        "SELECT secret_arn, title, severity FROM findings WHERE kind = 'secret_unused'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(arn, forgotten);
    assert_eq!(title, "prod/forgotten has not been read for 200 days");
    assert_eq!(severity, "low");
}

/// Hourly reads in `region`, one every `every` hours, the newest `ended` ago.
fn hourly_reads(region: &str, hours: i64, every: i64, ended: Duration) -> Vec<serde_json::Value> {
    let newest = Utc::now() - ended;
    (0..hours / every)
        .map(|n| {
            let at = newest - Duration::hours(n * every);
            serde_json::json!({
                "eventVersion": "1.09", "eventID": format!("{region}-{n}"),
                "eventName": "GetSecretValue",
                "eventTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "eventSource": "secretsmanager.amazonaws.com", "awsRegion": region,
                "recipientAccountId": "111122223333", "eventType": "AwsApiCall",
                "userIdentity": { "type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/app",
                                  "accountId": "111122223333" },
                "requestParameters": { "secretId": "prod/app" }
            })
        })
        .collect()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_steady_region_that_goes_quiet_is_silent_until_its_events_arrive_again(pool: PgPool) {
    use trailkeeper::detect::conditions::ingest_silence::reassess;
    let scratch = tempfile::tempdir().unwrap();
    let ingest = async |name: &str, records: Vec<serde_json::Value>| {
        let path = scratch.path().join(name);
        std::fs::write(&path, serde_json::json!({ "Records": records }).to_string()).unwrap();
        ingest_file(&pool, &path).await.unwrap()
    };
    // Every hour for ten days: us-east-1 stopped ten hours ago, eu-west-1 is still arriving.
    // ap-south-1 sends something one hour in eight: no rhythm to break.
    let quiet = hourly_reads("us-east-1", 240, 1, Duration::hours(10));
    ingest("quiet.json", quiet.clone()).await;
    ingest(
        "busy.json",
        hourly_reads("eu-west-1", 240, 1, Duration::minutes(20)),
    )
    .await;
    ingest(
        "sparse.json",
        hourly_reads("ap-south-1", 240, 8, Duration::days(2)),
    )
    .await;
    // The same file again stores nothing, and counts nothing twice.
    assert_eq!(ingest("quiet-again.json", quiet).await.new, 0);
    let counted: i64 = sqlx::query_scalar(
        "SELECT sum(events)::bigint FROM arrival_hours WHERE region = 'us-east-1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(counted, 240);

    let settings = DetectionSettings::default();
    reassess(&pool, &settings, Utc::now()).await.unwrap();
    let silent: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT subject, severity, title FROM findings \
         WHERE kind = 'ingest_silence' AND status = 'open'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        silent,
        [(
            "111122223333/us-east-1".to_string(),
            "medium".to_string(),
            "No events from 111122223333 us-east-1 for 10 hours".to_string()
        )]
    );

    // Right after a restart the sources have not yet read the backlog: as of their last
    // look (an hour after us-east-1's last event), the region was not silent.
    sqlx::query(
        "INSERT INTO ingest_polls (source, polled_at) \
         VALUES ('s3://trails/', now() - interval '9 hours')",
    )
    .execute(&pool)
    .await
    .unwrap();
    reassess(&pool, &settings, Utc::now()).await.unwrap();
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM findings WHERE kind = 'ingest_silence' AND status = 'open'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "not silent before the sources looked");
    sqlx::query("UPDATE ingest_polls SET polled_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    reassess(&pool, &settings, Utc::now()).await.unwrap();

    // A more patient setting allows it; events arriving again resolve it.
    let patient = DetectionSettings {
        silence_multiple: 12,
        ..DetectionSettings::default()
    };
    reassess(&pool, &patient, Utc::now()).await.unwrap();
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM findings WHERE kind = 'ingest_silence' AND status = 'open'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open, 0);
    reassess(&pool, &settings, Utc::now()).await.unwrap();
    let mut arrived = hourly_reads("us-east-1", 1, 1, Duration::minutes(5));
    arrived[0]["eventID"] = serde_json::json!("arrived-again");
    ingest("arrived.json", arrived).await;
    reassess(&pool, &settings, Utc::now()).await.unwrap();
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM findings WHERE kind = 'ingest_silence' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["resolved", "resolved", "resolved"]);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_what_if_shows_what_new_settings_add_and_drop_and_stores_nothing(pool: PgPool) {
    use trailkeeper::detect::what_if::what_if;
    let started = Utc::now() - Duration::hours(3);
    let record = |n: usize, who: &str, secret: String, error: Option<&str>| {
        let mut record = serde_json::json!({
            "eventVersion": "1.09", "eventID": format!("what-if-{who}-{n}"),
            "eventName": "GetSecretValue",
            "eventTime": (started + Duration::seconds(n as i64 * 10))
                .format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "eventSource": "secretsmanager.amazonaws.com", "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333", "eventType": "AwsApiCall",
            "sourceIPAddress": "10.0.4.4",
            "userIdentity": { "type": "IAMUser",
                              "arn": format!("arn:aws:iam::111122223333:user/{who}"),
                              "accountId": "111122223333" },
            "requestParameters": { "secretId": secret }
        });
        if let Some(code) = error {
            record["errorCode"] = serde_json::json!(code);
        }
        record
    };
    // A sweep of 25 secrets (a bulk retrieval at the stored settings) and 12 refused reads
    // (below the stored settings' burst).
    let mut records: Vec<serde_json::Value> = (0..25)
        .map(|n| record(n, "sweeper", format!("app/{n}"), None))
        .collect();
    records.extend((0..12).map(|n| record(n, "prober", format!("app/{n}"), Some("AccessDenied"))));
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("what-if.json");
    std::fs::write(&path, serde_json::json!({ "Records": records }).to_string()).unwrap();
    ingest_file(&pool, &path).await.unwrap();
    let stored = findings(&pool).await;
    assert!(
        stored.iter().any(|f| f.kind == "bulk_retrieval"),
        "{stored:#?}"
    );
    let memory = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT string_agg(detector || key || state::text, ',' ORDER BY detector, key) \
             FROM detector_state",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let remembered = memory().await;

    let proposed = DetectionSettings {
        bulk_secrets: 30,
        denied_reads: 10,
        ..DetectionSettings::default()
    };
    let compared = what_if(&pool, &proposed, None).await.unwrap();
    assert_eq!(compared.events, 37);
    let kinds = |changes: &[trailkeeper_app::api::settings::KindChange]| {
        changes
            .iter()
            .map(|change| (change.kind.as_str(), change.findings))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&compared.added), [("denied_burst", 1)]);
    assert_eq!(kinds(&compared.dropped), [("bulk_retrieval", 1)]);
    assert!(
        compared.dropped[0].examples[0].contains("sweeper"),
        "{:?}",
        compared.dropped
    );
    // The same settings change nothing; the store is as it was.
    let unchanged = what_if(&pool, &DetectionSettings::default(), None)
        .await
        .unwrap();
    assert!(unchanged.added.is_empty() && unchanged.dropped.is_empty());
    assert_eq!(findings(&pool).await, stored);
    assert_eq!(memory().await, remembered);
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Kept {
    id: i64,
    kind: String,
    first_seen: DateTime<Utc>,
    count: i64,
    evidence_event_ids: Vec<String>,
}

async fn findings_from(pool: &PgPool, from: DateTime<Utc>) -> Vec<Kept> {
    sqlx::query_as(
        "SELECT id, kind, first_seen, count, evidence_event_ids FROM findings \
         WHERE first_seen >= $1 ORDER BY id",
    )
    .bind(from)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_backfill_of_an_older_range_leaves_live_detection_remembering_everything(pool: PgPool) {
    let start = Utc::now() - Duration::days(45);
    let month = Month::generate(start, 20261124);
    let scratch = tempfile::tempdir().unwrap();
    for path in month.write(scratch.path()).unwrap() {
        ingest_file(&pool, &path).await.unwrap();
    }
    let until = start + Duration::days(1);
    // A routine reader that began reading its secret after the backfill's range: reads on
    // six days of the month, after the learning period, at one time of day.
    let (template, secret, first_at): (serde_json::Value, String, DateTime<Utc>) = sqlx::query_as(
        "SELECT raw, secret_ref, event_time FROM events \
         WHERE event_name = 'GetSecretValue' AND error_code IS NULL \
           AND principal IS NOT NULL AND secret_ref LIKE 'arn:%' \
           AND NOT (event_id = ANY ($1)) \
         ORDER BY event_time LIMIT 1",
    )
    .bind(month.injected.iter().cloned().collect::<Vec<String>>())
    .fetch_one(&pool)
    .await
    .unwrap();
    let new_secret = format!("{secret}-routine");
    let read_on = |day: i64, id: &str| {
        let mut read = template.clone();
        read["eventID"] = id.into();
        read["eventTime"] = (first_at + Duration::days(day))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .into();
        read["requestParameters"]["secretId"] = new_secret.clone().into();
        if let Some(object) = read.as_object_mut() {
            object.remove("resources");
        }
        read
    };
    let routine: Vec<serde_json::Value> = (10..16)
        .map(|day| read_on(day, &format!("routine-{day}")))
        .collect();
    let file = scratch.path().join("routine-reads.json");
    std::fs::write(&file, serde_json::json!({ "Records": routine }).to_string()).unwrap();
    ingest_file(&pool, &file).await.unwrap();
    let live_after_range = findings_from(&pool, until).await;

    backfill(&pool, Some(start), Some(until), |_| {})
        .await
        .unwrap();
    assert_eq!(
        findings_from(&pool, until).await,
        live_after_range,
        "findings outside the range are neither removed nor doubled"
    );
    let total = findings(&pool).await.len();

    let file = scratch.path().join("routine.json");
    std::fs::write(
        &file,
        serde_json::json!({ "Records": [read_on(16, "routine-after-backfill")] }).to_string(),
    )
    .unwrap();
    let summary = ingest_file(&pool, &file).await.unwrap();
    assert_eq!(summary.new, 1);
    // Neither a new finding nor new evidence on one (the reader's first read, days before,
    // opened one that is still open).
    let after = findings(&pool).await;
    let flagged: Vec<&Stored> = after
        .iter()
        .filter(|finding| {
            finding
                .evidence_event_ids
                .contains(&"routine-after-backfill".to_string())
        })
        .collect();
    assert!(
        flagged.is_empty(),
        "a routine read was flagged: {flagged:#?}"
    );
    assert_eq!(after.len(), total);
}

/// `count` reads of `secret` by the user app, a second apart from `at`.
fn reads_of(secret: &str, at: DateTime<Utc>, count: i64) -> Vec<serde_json::Value> {
    (0..count)
        .map(|n| {
            let mut read = hourly_reads("us-east-1", 1, 1, Duration::zero()).remove(0);
            read["eventID"] = format!("{secret}-{}-{n}", at.timestamp()).into();
            read["eventTime"] = (at + Duration::seconds(n))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
                .into();
            read["requestParameters"]["secretId"] = secret.into();
            read
        })
        .collect()
}

async fn spike_memories(pool: &PgPool, secret: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM detector_state WHERE detector = 'read_spike' AND key LIKE $1",
    )
    .bind(format!("%\u{1f}{secret}\u{1f}%"))
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn read_spike_hours_past_the_baseline_are_forgotten_and_a_spike_is_still_found(pool: PgPool) {
    use chrono::DurationRound;
    use trailkeeper::detect::engine::forget;
    let scratch = tempfile::tempdir().unwrap();
    let ingest = async |name: &str, records: Vec<serde_json::Value>| {
        let path = scratch.path().join(name);
        std::fs::write(&path, json!({ "Records": records }).to_string()).unwrap();
        ingest_file(&pool, &path).await.unwrap()
    };
    // prod/old was read at three hours nine weeks ago and not since; prod/app is read daily.
    let now = Utc::now();
    let hour_of = |at: DateTime<Utc>| at.duration_trunc(Duration::hours(1)).unwrap();
    let mut records = Vec::new();
    for hours in [0, 5, 30] {
        records.extend(reads_of(
            "prod/old",
            hour_of(now - Duration::weeks(9)) + Duration::hours(hours),
            3,
        ));
    }
    for day in 1..=20 {
        records.extend(reads_of("prod/app", now - Duration::days(day), 2));
    }
    ingest("reads.json", records).await;
    assert_eq!(spike_memories(&pool, "prod/old").await, 3);
    let recent = spike_memories(&pool, "prod/app").await;
    assert!(recent > 0);

    let settings = DetectionSettings::default();
    let mut db = pool.acquire().await.unwrap();
    assert_eq!(forget(&mut db, &settings).await.unwrap(), 3);
    assert_eq!(spike_memories(&pool, "prod/old").await, 0);
    assert_eq!(spike_memories(&pool, "prod/app").await, recent);
    // Who first read what is history, kept for good.
    let first_reads: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM detector_state WHERE detector = 'history.readers' \
         AND key LIKE '%prod/old'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(first_reads, 1);

    // A backfill rebuilds every memory from the first event, and forgets the same ones.
    backfill(&pool, None, None, |_| {}).await.unwrap();
    assert_eq!(spike_memories(&pool, "prod/old").await, 0);
    assert_eq!(spike_memories(&pool, "prod/app").await, recent);

    // prod/old read 200 times in an hour now: a spike over a baseline of nothing, as it
    // would be had its old hours been kept.
    ingest(
        "burst.json",
        reads_of("prod/old", hour_of(now - Duration::hours(1)), 200),
    )
    .await;
    let spikes: Vec<String> = sqlx::query_scalar(
        "SELECT title FROM findings WHERE kind = 'read_spike' AND secret_name = 'prod/old'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(spikes.len(), 1, "{spikes:?}");
    assert!(spikes[0].contains("times in an hour"), "{}", spikes[0]);
}
