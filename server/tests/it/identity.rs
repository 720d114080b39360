//! One secret, however CloudTrail names it: a secret the inventory does not know (an account
//! outside it, or before the first sync) named by full ARN in one event and by name or
//! partial ARN in another is one secret to detection, the events explorer and findings.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::ingest_records;

/// An account no sync covers.
const ACCOUNT: &str = "444455556666";
const ARN: &str = "arn:aws:secretsmanager:eu-west-1:444455556666:secret:payments/db-Xy12Zq";

fn ago(duration: Duration) -> String {
    (Utc::now() - duration).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `role` reading `secret_id`; with `resources` naming the full ARN when `by_arn`, as
/// CloudTrail writes for a read it could resolve.
fn read(id: &str, time: &str, role: &str, secret_id: &str, by_arn: bool, from: &str) -> Value {
    let mut record = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{role}-session"),
            "accountId": ACCOUNT,
            "sessionContext": { "sessionIssuer": {
                "type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                "accountId": ACCOUNT, "userName": role } }
        },
        "eventTime": time, "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue", "awsRegion": "eu-west-1", "sourceIPAddress": from,
        "userAgent": "aws-sdk-go-v2/1.30.3", "requestParameters": { "secretId": secret_id },
        "responseElements": null, "eventID": id, "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT
    });
    if by_arn {
        record["resources"] =
            json!([{ "accountId": ACCOUNT, "type": "AWS::SecretsManager::Secret", "ARN": ARN }]);
    }
    record
}

/// The account's history begins a month ago: its learning period is over.
fn history_begins() -> Value {
    read(
        "history",
        &ago(Duration::days(30)),
        "payments-task",
        ARN,
        true,
        "10.20.4.17",
    )
}

async fn findings(pool: &PgPool) -> Vec<(String, Option<String>, Vec<String>)> {
    sqlx::query_as("SELECT kind, secret_arn, evidence_event_ids FROM findings ORDER BY first_seen")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn two_reads_by_name_and_by_arn_make_one_first_time_reader(pool: PgPool) {
    ingest_records(&pool, vec![history_begins()]).await;
    // The read by name comes first, in the same file as the one that names the ARN.
    ingest_records(
        &pool,
        vec![
            read(
                "by-name",
                &ago(Duration::minutes(10)),
                "intruder",
                "payments/db",
                false,
                "198.51.100.7",
            ),
            read(
                "by-arn",
                &ago(Duration::minutes(9)),
                "intruder",
                ARN,
                true,
                "198.51.100.7",
            ),
        ],
    )
    .await;
    // A later file names it by partial ARN.
    let partial = &ARN[..ARN.len() - 7];
    ingest_records(
        &pool,
        vec![read(
            "by-partial",
            &ago(Duration::minutes(8)),
            "intruder",
            partial,
            false,
            "198.51.100.7",
        )],
    )
    .await;

    let found = findings(&pool).await;
    let first_time: Vec<_> = found
        .iter()
        .filter(|(kind, ..)| kind == "first_time_reader")
        .collect();
    assert_eq!(first_time.len(), 1, "{found:?}");
    assert_eq!(first_time[0].1.as_deref(), Some(ARN));
    assert_eq!(first_time[0].2, ["by-name"]);

    every_event_names(&pool, ARN).await;
    // The account's CloudTrail is arriving: its newest event, kept as events are stored.
    let (newest, stored): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "SELECT (SELECT newest_event_at FROM trail_coverage WHERE account_id = $1), \
             (SELECT max(event_time) FROM events WHERE account_id = $1)",
    )
    .bind(ACCOUNT)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(newest, stored);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_rotation_function_reading_by_name_is_the_rotation_named_by_arn(pool: PgPool) {
    ingest_records(&pool, vec![history_begins()]).await;
    let started = json!({
        "eventVersion": "1.09",
        "userIdentity": { "accountId": ACCOUNT, "invokedBy": "secretsmanager.amazonaws.com" },
        "eventTime": ago(Duration::minutes(10)), "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "RotationStarted", "awsRegion": "eu-west-1",
        "sourceIPAddress": "secretsmanager.amazonaws.com",
        "userAgent": "secretsmanager.amazonaws.com", "eventType": "AwsServiceEvent",
        "additionalEventData": { "SecretId": ARN }, "requestParameters": null,
        "responseElements": null, "eventID": "rotation-started", "readOnly": false,
        "recipientAccountId": ACCOUNT
    });
    ingest_records(&pool, vec![started]).await;
    // The function reads by name, as rotation templates do, in a file of its own.
    ingest_records(
        &pool,
        vec![read(
            "function-read",
            &ago(Duration::minutes(9)),
            "payments-db-rotation",
            "payments/db",
            false,
            "lambda.amazonaws.com",
        )],
    )
    .await;
    assert_eq!(findings(&pool).await, []);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn events_stored_before_the_arn_was_seen_resolve_when_it_is(pool: PgPool) {
    let partial = &ARN[..ARN.len() - 7];
    ingest_records(
        &pool,
        vec![
            read(
                "early-by-name",
                &ago(Duration::hours(3)),
                "payments-task",
                "payments/db",
                false,
                "10.20.4.17",
            ),
            read(
                "early-by-partial",
                &ago(Duration::hours(2)),
                "payments-task",
                partial,
                false,
                "10.20.4.17",
            ),
        ],
    )
    .await;
    let waiting: Vec<Option<String>> =
        sqlx::query_scalar("SELECT secret_arn FROM events ORDER BY event_time")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(waiting, [None, None]);

    ingest_records(
        &pool,
        vec![read(
            "later-by-arn",
            &ago(Duration::hours(1)),
            "payments-task",
            ARN,
            true,
            "10.20.4.17",
        )],
    )
    .await;
    every_event_names(&pool, ARN).await;
}

/// Every stored event resolved to the secret `arn`, however it named it.
async fn every_event_names(pool: &PgPool, arn: &str) {
    let resolved: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT event_id, secret_arn FROM events ORDER BY event_time")
            .fetch_all(pool)
            .await
            .unwrap();
    assert!(
        resolved
            .iter()
            .all(|(_, found)| found.as_deref() == Some(arn)),
        "{resolved:?}"
    );
}
