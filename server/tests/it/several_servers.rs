//! Several `trailkeeper serve` processes on one primary: claims give each piece of work to
//! one process at a time and are freed when their holder dies, so two servers over one trail
//! bucket, one of them killed mid-ingest, store every event once, make every finding once
//! and deliver every alert once.

use crate::common;
use common::peer::{put, s3_with_bucket, trail_file};
use common::webhook::{Received, Receiver};

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{ConnectOptions, PgPool};
use trailkeeper::alert::sealing::SealingKey;
use trailkeeper::alert::setup;
use trailkeeper::db::claims::Claims;
use trailkeeper::findings::triage::Actor;
use trailkeeper_app::api::alerts::{ChannelKind, NewChannel};
use trailkeeper_app::api::findings::Severity;

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_claim_is_one_holders_until_its_work_ends_or_is_dropped(pool: PgPool) {
    let (first, second) = (Claims::shared(&pool), Claims::shared(&pool));
    let (started, start) = tokio::sync::oneshot::channel();
    let (finish, finished) = tokio::sync::oneshot::channel::<()>();
    let holding = tokio::spawn(async move {
        first
            .run("stream-a", async {
                started.send(()).unwrap();
                finished.await.unwrap();
                Ok::<_, sqlx::Error>("read by the first")
            })
            .await
    });
    start.await.unwrap();
    let refused = second
        .run("stream-a", async {
            Ok::<_, sqlx::Error>("read by the second")
        })
        .await
        .unwrap();
    assert_eq!(refused, None, "the claim is the first's while it works");
    let other = second
        .run("stream-b", async {
            Ok::<_, sqlx::Error>("read by the second")
        })
        .await
        .unwrap();
    assert_eq!(other, Some("read by the second"), "other work is free");

    finish.send(()).unwrap();
    assert_eq!(holding.await.unwrap().unwrap(), Some("read by the first"));
    let after = second
        .run("stream-a", async {
            Ok::<_, sqlx::Error>("read by the second")
        })
        .await
        .unwrap();
    assert_eq!(
        after,
        Some("read by the second"),
        "freed when the work ended"
    );

    // Work cancelled half way (its task aborted) lets go of its claim too.
    let abandoned = Claims::shared(&pool);
    let (started, start) = tokio::sync::oneshot::channel();
    let stuck = tokio::spawn(async move {
        abandoned
            .run("stream-a", async {
                started.send(()).unwrap();
                std::future::pending::<Result<(), sqlx::Error>>().await
            })
            .await
    });
    start.await.unwrap();
    assert_eq!(
        second
            .run("stream-a", async { Ok::<_, sqlx::Error>(()) })
            .await
            .unwrap(),
        None
    );
    stuck.abort();
    let _ = stuck.await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let taken = second
            .run("stream-a", async { Ok::<_, sqlx::Error>(()) })
            .await
            .unwrap();
        if taken.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "an abandoned claim is never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const FILES: usize = 4;
const PER_FILE: usize = 5000;
/// 32 bytes, base64: the key both servers and the test seal channels' secrets with.
const SECRET_KEY: &str = "c2V2ZXJhbC1zZXJ2ZXJzLXNoYXJlLW9uZS1rZXktISE=";

/// Reads of the account's secrets by its application role, and one deletion per file (a
/// high finding each, as the secret differs).
fn trail_records(account: &str, region: &str, file: usize) -> Vec<Value> {
    let secret =
        |name: &str| format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf");
    let call = |n: usize, name: &str, secret_arn: String| {
        json!({
            "eventVersion": "1.09",
            "eventID": format!("{account}-{region}-{file}-{n}"),
            "eventTime": format!("2026-10-03T{file:02}:{:02}:{:02}Z", n / 60 % 60, n % 60),
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": name,
            "eventType": "AwsApiCall",
            "awsRegion": region,
            "recipientAccountId": account,
            "sourceIPAddress": "10.0.0.1",
            "userAgent": "aws-sdk-go-v2/1.30.0",
            "readOnly": name == "GetSecretValue",
            "requestParameters": { "secretId": secret_arn, "recoveryWindowInDays": 7 },
            "userIdentity": {
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::{account}:assumed-role/app/session"),
                "accountId": account,
                "sessionContext": { "sessionIssuer": {
                    "type": "Role", "arn": format!("arn:aws:iam::{account}:role/app") } }
            }
        })
    };
    (0..PER_FILE)
        .map(|n| match n {
            0 => call(n, "DeleteSecret", secret(&format!("retired/{file}"))),
            _ => call(n, "GetSecretValue", secret(&format!("app/{}", n % 5))),
        })
        .collect()
}

fn log_key(account: &str, region: &str, file: usize) -> String {
    format!(
        "AWSLogs/{account}/CloudTrail/{region}/2026/10/03/{account}_CloudTrail_{region}_20261003T{file:02}00Z_x.json.gz"
    )
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Waits until `done` holds, for at most two minutes.
async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn two_servers_over_one_trail_one_killed_mid_ingest_store_find_and_alert_once(pool: PgPool) {
    let bucket = "trails-two-servers";
    let s3 = s3_with_bucket(bucket).await;
    for account in ACCOUNTS {
        for region in REGIONS {
            for file in 0..FILES {
                let body = trail_file(&trail_records(account, region, file));
                put(&s3, bucket, &log_key(account, region, file), body).await;
            }
        }
    }
    let total = (ACCOUNTS.len() * REGIONS.len() * FILES * PER_FILE) as i64;
    let deletions = (ACCOUNTS.len() * REGIONS.len() * FILES) as i64;

    let receiver = Receiver::start().await;
    setup::add_channel(
        &pool,
        &SealingKey::from_base64(SECRET_KEY).unwrap(),
        &common::loopback_senders(),
        &Actor {
            name: "admin",
            address: None,
        },
        NewChannel {
            kind: ChannelKind::Webhook,
            name: "security".into(),
            config: json!({ "url": receiver.url(), "signing_key": "two-servers-signing-key" }),
            min_severity: Some(Severity::Info),
        },
    )
    .await
    .unwrap();

    let database_url = pool.connect_options().to_url_lossy().to_string();
    let trails = format!("s3://{bucket}/AWSLogs/");
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("TRAILKEEPER_S3_TRAILS", trails.as_str()),
        ("TRAILKEEPER_S3_INTERVAL", "1s"),
        ("TRAILKEEPER_SECRET_KEY", SECRET_KEY),
        ("TRAILKEEPER_ALERT_ALLOWED_HOSTS", "127.0.0.1"),
    ];
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut first, _, _) = common::serve_process(first_dir.path(), &[], &env);
    wait_until("the first server storing events", async || {
        scalar(&pool, "SELECT count(*) FROM events").await > 0
    })
    .await;
    let (mut second, _, _) = common::serve_process(second_dir.path(), &[], &env);
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let stored_at_kill = scalar(&pool, "SELECT count(*) FROM events").await;
    assert!(
        stored_at_kill < total,
        "the first server finished before it could be killed"
    );

    wait_until("every event stored", async || {
        scalar(&pool, "SELECT count(*) FROM events").await == total
    })
    .await;
    for account in ACCOUNTS {
        for region in REGIONS {
            let stream = format!("s3://{bucket}/AWSLogs/{account}/CloudTrail/{region}/");
            let position: String =
                sqlx::query_scalar("SELECT position FROM ingest_checkpoints WHERE source = $1")
                    .bind(&stream)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(position, log_key(account, region, FILES - 1), "{stream}");
        }
    }

    // Each deletion is one event of one finding: no event was detected on twice. (A role's
    // deletions in several regions at once are one incident, listing each secret.)
    let deleted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.secret_arn, s.count FROM finding_secrets s \
         JOIN findings f ON f.id = s.finding_id WHERE f.kind = 'secret_deleted' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(deleted.len() as i64, deletions, "{deleted:?}");
    assert!(deleted.iter().all(|(_, count)| *count == 1), "{deleted:?}");
    assert_eq!(
        scalar(
            &pool,
            "SELECT sum(count)::bigint FROM findings WHERE kind = 'secret_deleted'"
        )
        .await,
        deletions
    );

    // A delivery is one message, which may carry several alerts (a busy channel's are
    // gathered); a message sent again after its sender died keeps its delivery id, by which
    // receivers drop the copy.
    let findings = scalar(&pool, "SELECT count(*) FROM findings").await;
    let alerted = || {
        let mut messages: Vec<Received> = receiver.got();
        let mut seen = HashSet::new();
        messages.retain(|message| seen.insert(message.delivery_id()));
        messages
            .iter()
            .flat_map(|message| message.json()["alerts"].as_array().unwrap().clone())
            .map(|alert| alert["finding_id"].as_i64().unwrap())
            .collect::<Vec<i64>>()
    };
    wait_until("every finding alerted", async || {
        alerted().len() as i64 >= findings
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let alerted = alerted();
    let distinct: HashSet<i64> = alerted.iter().copied().collect();
    assert_eq!(distinct.len() as i64, findings, "every finding alerted");
    assert_eq!(
        alerted.len(),
        distinct.len(),
        "no finding alerted twice: {alerted:?}"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}
