//! The continuing CloudTrail sources, each through the real AWS SDK: trail files in S3 and
//! S3 notifications through SQS against the AWS API peer, and LookupEvents against a small
//! server that speaks CloudTrail's JSON protocol and replays recorded responses (the peer
//! has no LookupEvents). Each resumes from its checkpoint and stores every event once.

use crate::common;
use common::peer::{peer_config, put, s3_with_bucket, trail_file};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper::ingest::load::{Summary, TRAIL_CHANGES};
use trailkeeper::ingest::sources::lookup::{Lookup, OVERLAP};
use trailkeeper::ingest::sources::poll_and_record;
use trailkeeper::ingest::sources::s3::{S3Trail, S3Url};
use trailkeeper::ingest::sources::sqs::SqsNotices;

/// A CloudTrail record of a read of `secret` at `time`.
fn record(id: &str, time: &str, secret: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "eventID": id,
        "eventTime": time,
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "aws-sdk-go-v2/1.30.0",
        "readOnly": true,
        "requestParameters": { "secretId": secret },
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/app/session",
            "accountId": "111122223333",
            "sessionContext": { "sessionIssuer": {
                "type": "Role", "arn": "arn:aws:iam::111122223333:role/app" } }
        }
    })
}

fn log_key(region: &str, name: &str) -> String {
    format!(
        "AWSLogs/111122223333/CloudTrail/{region}/2026/10/03/111122223333_CloudTrail_{region}_{name}.json.gz"
    )
}

async fn count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Collects the origin of each unit a poll read.
fn collector() -> (
    Arc<Mutex<Vec<String>>>,
    impl Fn(&Summary) + Send + Sync + 'static,
) {
    let read = Arc::new(Mutex::new(Vec::new()));
    let sink = read.clone();
    (read, move |summary: &Summary| {
        sink.lock().unwrap().push(summary.origin.clone())
    })
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn s3_trails_are_read_per_region_from_where_each_stopped(pool: PgPool) {
    let bucket = "trails-per-region";
    let s3 = s3_with_bucket(bucket).await;
    let secret = "prod/app/db";
    put(
        &s3,
        bucket,
        &log_key("us-east-1", "20261003T0800Z_a"),
        trail_file(&[
            record("e-1", "2026-10-03T08:00:00Z", secret),
            record("e-2", "2026-10-03T08:01:00Z", secret),
        ]),
    )
    .await;
    put(
        &s3,
        bucket,
        &log_key("us-west-2", "20261003T0900Z_b"),
        trail_file(&[record("w-1", "2026-10-03T09:00:00Z", secret)]),
    )
    .await;
    // A digest file beside the logs is not a log.
    put(
        &s3,
        bucket,
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/03/digest.json.gz",
        trail_file(&[]),
    )
    .await;

    let trail = S3Trail::new(
        s3.clone(),
        S3Url::parse(&format!("s3://{bucket}/")).unwrap(),
    );
    let (read, report) = collector();
    let totals = poll_and_record(&trail, &pool, &report).await.unwrap();
    assert_eq!((totals.units, totals.new), (2, 3));
    assert_eq!(read.lock().unwrap().len(), 2);

    // us-east-1 delivers a later file, and a corrupt one: both sort before the us-west-2
    // key already read, and are still read; the corrupt one is quarantined and passed.
    put(
        &s3,
        bucket,
        &log_key("us-east-1", "20261003T0815Z_c"),
        trail_file(&[record("e-3", "2026-10-03T08:10:00Z", secret)]),
    )
    .await;
    let mut corrupt = trail_file(&[record("e-4", "2026-10-03T08:11:00Z", secret)]);
    corrupt.truncate(20);
    put(
        &s3,
        bucket,
        &log_key("us-east-1", "20261003T0816Z_d"),
        corrupt,
    )
    .await;
    let (read, report) = collector();
    let totals = poll_and_record(&trail, &pool, &report).await.unwrap();
    assert_eq!((totals.units, totals.new, totals.quarantined), (2, 1, 1));
    assert_eq!(
        *read.lock().unwrap(),
        [
            format!("s3://{bucket}/{}", log_key("us-east-1", "20261003T0815Z_c")),
            format!("s3://{bucket}/{}", log_key("us-east-1", "20261003T0816Z_d")),
        ]
    );

    // Nothing new: nothing read.
    let totals = poll_and_record(&trail, &pool, &|_| {}).await.unwrap();
    assert_eq!(totals.units, 0);
    assert_eq!(count(&pool).await, 4);

    let checkpoints: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT source, position, newest_event_time::text FROM ingest_checkpoints ORDER BY source",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        checkpoints,
        [
            (
                format!("s3://{bucket}/AWSLogs/111122223333/CloudTrail/us-east-1/"),
                log_key("us-east-1", "20261003T0816Z_d"),
                "2026-10-03 08:10:00+00".to_string()
            ),
            (
                format!("s3://{bucket}/AWSLogs/111122223333/CloudTrail/us-west-2/"),
                log_key("us-west-2", "20261003T0900Z_b"),
                "2026-10-03 09:00:00+00".to_string()
            ),
        ]
    );
    let polled: (String, Option<String>) = sqlx::query_as("SELECT source, error FROM ingest_polls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(polled, (format!("s3://{bucket}/"), None));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_missing_bucket_is_an_error_that_names_it_and_is_recorded(pool: PgPool) {
    let config = peer_config().await;
    let trail = S3Trail::new(
        aws_sdk_s3::Client::new(&config),
        S3Url::parse("s3://no-such-trail-bucket/AWSLogs/").unwrap(),
    );
    let error = poll_and_record(&trail, &pool, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("NoSuchBucket"), "{error}");
    let recorded: Option<String> = sqlx::query_scalar("SELECT error FROM ingest_polls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, Some(error));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn sqs_notices_are_read_and_deleted_only_once_stored(pool: PgPool) {
    let config = peer_config().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bucket = "trails-notified";
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name("trail-notices")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn = "arn:aws:sqs:us-east-1:123456789012:trail-notices";
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .queue_configurations(
                    aws_sdk_s3::types::QueueConfiguration::builder()
                        .queue_arn(queue_arn)
                        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A key with a space and a colon arrives URL-encoded.
    let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/03/log 08:00.json.gz";
    put(
        &s3,
        bucket,
        key,
        trail_file(&[
            record("q-1", "2026-10-03T08:00:00Z", "prod/app/db"),
            record("q-2", "2026-10-03T08:00:01Z", "prod/app/db"),
        ]),
    )
    .await;
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("this is not a notice")
        .send()
        .await
        .unwrap();
    // Anyone who may send to the queue can name any object: one in another bucket, and one
    // outside the trail's prefix (its own S3 notice and a forged one), are not read.
    let elsewhere = "someone-elses-bucket";
    s3.create_bucket().bucket(elsewhere).send().await.unwrap();
    put(
        &s3,
        elsewhere,
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/03/planted.json.gz",
        trail_file(&[record("planted-1", "2026-10-03T08:00:00Z", "prod/app/db")]),
    )
    .await;
    put(
        &s3,
        bucket,
        "uploads/planted.json",
        trail_file(&[record("planted-2", "2026-10-03T08:00:00Z", "prod/app/db")]),
    )
    .await;
    for (named_bucket, named_key) in [
        (
            elsewhere,
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/03/planted.json.gz",
        ),
        (bucket, "uploads/planted.json"),
    ] {
        let forged = json!({ "s3Bucket": named_bucket, "s3ObjectKey": [named_key] });
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(forged.to_string())
            .send()
            .await
            .unwrap();
    }

    let source = SqsNotices::new(
        sqs.clone(),
        s3,
        &queue_url,
        Duration::from_secs(1),
        vec![S3Url::parse(&format!("s3://{bucket}/AWSLogs/")).unwrap()],
    );
    let (read, report) = collector();
    let totals = poll_and_record(&source, &pool, &report).await.unwrap();
    assert_eq!(totals.new, 2);
    assert_eq!(totals.quarantined, 4, "{totals:?}");
    assert_eq!(*read.lock().unwrap(), [format!("s3://{bucket}/{key}")]);
    let quarantined: Vec<(String, String)> =
        sqlx::query_as("SELECT source, reason FROM quarantine ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(quarantined.len(), 4, "{quarantined:?}");
    assert!(quarantined.iter().all(|(source, _)| *source == queue_url));
    assert!(quarantined[0].1.contains("not JSON"), "{quarantined:?}");
    for (_, reason) in &quarantined[1..] {
        assert!(
            reason.contains("outside the trail buckets"),
            "{quarantined:?}"
        );
    }
    assert_eq!(count(&pool).await, 2, "nothing planted was stored");

    // Every message was deleted: the queue is empty.
    let left = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(left.messages().is_empty());
}

/// A time in CloudTrail's JSON protocol: seconds since the epoch, maybe with a fraction.
fn seconds(value: &Value) -> i64 {
    value.as_f64().expect("a time in seconds") as i64
}

/// What the replaying CloudTrail server saw and answers, in order.
#[derive(Default)]
struct Replay {
    requests: Vec<Value>,
    responses: Vec<(StatusCode, Value)>,
}

async fn lookup_server(replay: Arc<Mutex<Replay>>) -> SocketAddr {
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let replay = replay.clone();
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                assert!(target.ends_with(".LookupEvents"), "{target}");
                let mut replay = replay.lock().unwrap();
                replay.requests.push(serde_json::from_str(&body).unwrap());
                let (status, body) = if replay.responses.is_empty() {
                    (StatusCode::OK, json!({ "Events": [] }))
                } else {
                    replay.responses.remove(0)
                };
                (
                    status,
                    [("content-type", "application/x-amz-json-1.1")],
                    body.to_string(),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn lookup_events_pages_through_throttling_and_resumes_with_an_overlap(pool: PgPool) {
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/samples/lookup-events-response.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let events = recorded["Events"].as_array().unwrap().clone();
    let (first, second) = events.split_at(events.len() / 2);
    let stop_logging = json!({
        "EventId": "lookup-stop-logging-1",
        "EventName": "StopLogging",
        "EventSource": "cloudtrail.amazonaws.com",
        "CloudTrailEvent": json!({
            "eventVersion": "1.09",
            "eventID": "lookup-stop-logging-1",
            "eventTime": (chrono::Utc::now() - chrono::Duration::minutes(30))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "eventSource": "cloudtrail.amazonaws.com",
            "eventName": "StopLogging",
            "awsRegion": "us-east-1",
            "readOnly": false,
            "requestParameters": { "name": "org-audit" },
            "userIdentity": { "type": "IAMUser", "accountId": "111122223333",
                              "arn": "arn:aws:iam::111122223333:user/mallory" },
            "recipientAccountId": "111122223333"
        })
        .to_string()
    });
    let empty = || (StatusCode::OK, json!({ "Events": [] }));
    let replay = Arc::new(Mutex::new(Replay {
        requests: Vec::new(),
        responses: vec![
            (
                StatusCode::BAD_REQUEST,
                json!({ "__type": "ThrottlingException", "message": "Rate exceeded" }),
            ),
            (
                StatusCode::OK,
                json!({ "Events": first, "NextToken": "page-2" }),
            ),
            (StatusCode::OK, json!({ "Events": second })),
            // CreateTrail, DeleteTrail, StartLogging: none; StopLogging: one.
            empty(),
            empty(),
            empty(),
            (StatusCode::OK, json!({ "Events": [stop_logging] })),
        ],
    }));
    let address = lookup_server(replay.clone()).await;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{address}"))
        .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let client = trailkeeper::aws::cloudtrail(&config, "us-east-1");

    let since = chrono::Utc::now() - chrono::Duration::hours(2);
    let lookup = Lookup::new(client.clone(), "us-east-1", Some(since));
    let totals = poll_and_record(&lookup, &pool, &|_| {}).await.unwrap();
    assert_eq!(totals.new, events.len() as u64 + 1);
    assert_eq!(count(&pool).await, events.len() as i64 + 1);
    let stored: String =
        sqlx::query_scalar("SELECT event_source FROM events WHERE event_name = 'StopLogging'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, "cloudtrail.amazonaws.com");

    let requests = std::mem::take(&mut replay.lock().unwrap().requests);
    // The throttled request was sent again, then the second page asked for by its token,
    // then one request for each of CloudTrail's trail changes.
    assert_eq!(requests.len(), 3 + TRAIL_CHANGES.len(), "{requests:?}");
    assert_eq!(requests[0], requests[1]);
    assert_eq!(requests[2]["NextToken"], "page-2");
    assert_eq!(
        requests[0]["LookupAttributes"],
        json!([{ "AttributeKey": "EventSource", "AttributeValue": "secretsmanager.amazonaws.com" }])
    );
    assert_eq!(
        requests[6]["LookupAttributes"],
        json!([{ "AttributeKey": "EventName", "AttributeValue": "StopLogging" }])
    );
    assert_eq!(seconds(&requests[0]["StartTime"]), since.timestamp());
    let end = seconds(&requests[0]["EndTime"]);

    let checkpoint: String = sqlx::query_scalar(
        "SELECT position FROM ingest_checkpoints WHERE source = 'lookup:us-east-1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&checkpoint)
            .unwrap()
            .timestamp(),
        end
    );

    // The next poll, without --since, starts at the checkpoint less the overlap.
    let resumed = Lookup::new(client, "us-east-1", None);
    let totals = poll_and_record(&resumed, &pool, &|_| {}).await.unwrap();
    assert_eq!(totals.new, 0);
    let requests = std::mem::take(&mut replay.lock().unwrap().requests);
    assert_eq!(
        seconds(&requests[0]["StartTime"]),
        end - OVERLAP.num_seconds()
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn an_s3_ingest_killed_mid_run_resumes_with_nothing_lost_or_doubled(pool: PgPool) {
    use sqlx::ConnectOptions;
    let bucket = "trails-killed";
    let s3 = s3_with_bucket(bucket).await;
    // Files larger than one stored batch, so a kill can fall between a file's batches.
    const FILES: usize = 12;
    const PER_FILE: usize = 7000;
    for file in 0..FILES {
        let records: Vec<Value> = (0..PER_FILE)
            .map(|n| {
                record(
                    &format!("k-{file}-{n}"),
                    &format!("2026-10-03T{:02}:{:02}:{:02}Z", file, n / 60 % 60, n % 60),
                    "prod/app/db",
                )
            })
            .collect();
        put(
            &s3,
            bucket,
            &log_key("us-east-1", &format!("20261003T{file:02}00Z_k")),
            trail_file(&records),
        )
        .await;
    }
    let database_url = pool.connect_options().to_url_lossy().to_string();
    let ingest = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailkeeper"))
            .args(["ingest", &format!("s3://{bucket}/")])
            .env("DATABASE_URL", &database_url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };

    let mut first = ingest();
    let started = std::time::Instant::now();
    while count(&pool).await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing was stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let stored_before = count(&pool).await;
    assert!(
        stored_before < (FILES * PER_FILE) as i64,
        "the ingest finished before it could be killed"
    );

    let status = ingest().wait().unwrap();
    assert!(status.success());
    assert_eq!(count(&pool).await, (FILES * PER_FILE) as i64);
    let checkpoint: String = sqlx::query_scalar("SELECT position FROM ingest_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        checkpoint,
        log_key("us-east-1", &format!("20261003T{:02}00Z_k", FILES - 1))
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn hostile_trail_files_are_quarantined_and_the_trail_reads_on(pool: PgPool) {
    let bucket = "trails-hostile";
    let s3 = s3_with_bucket(bucket).await;
    let secret = "prod/app/db";
    // Times no real record has, beside a good one in the same file.
    put(
        &s3,
        bucket,
        &log_key("us-east-1", "20261003T0800Z_a"),
        trail_file(&[
            record("year-0", "0000-01-01T00:00:00Z", secret),
            record("year-9999", "9999-12-31T23:59:59Z", secret),
            record("epoch", "1970-01-01T00:00:00Z", secret),
            record("good-1", "2026-10-03T08:00:00Z", secret),
        ]),
    )
    .await;
    let bomb = common::gzip_bomb();
    assert!(bomb.len() < 8 * 1024 * 1024, "{} bytes", bomb.len());
    put(&s3, bucket, &log_key("us-east-1", "20261003T0805Z_b"), bomb).await;
    // A month whose partition the store cannot make: the database refuses the file.
    sqlx::query("CREATE TABLE events_y2026m09 (blocking integer)")
        .execute(&pool)
        .await
        .unwrap();
    put(
        &s3,
        bucket,
        &log_key("us-east-1", "20261003T0810Z_c"),
        trail_file(&[record("refused", "2026-09-30T23:00:00Z", secret)]),
    )
    .await;
    put(
        &s3,
        bucket,
        &log_key("us-east-1", "20261003T0815Z_d"),
        trail_file(&[record("good-2", "2026-10-03T08:15:00Z", secret)]),
    )
    .await;

    let before = common::peak_memory();
    let trail = S3Trail::new(
        s3.clone(),
        S3Url::parse(&format!("s3://{bucket}/")).unwrap(),
    )
    .with_max_file_bytes(16 * 1024 * 1024);
    let totals = poll_and_record(&trail, &pool, &|_| {}).await.unwrap();
    let grew = common::peak_memory().saturating_sub(before);
    assert!(
        grew < 1024 * 1024 * 1024,
        "a 4 GiB gzip bomb under a 16 MiB limit raised peak memory by {grew} bytes"
    );

    assert_eq!(totals.units, 4);
    assert_eq!(totals.new, 2, "the good records are stored: {totals:?}");
    let stored: Vec<String> = sqlx::query_scalar("SELECT event_id FROM events ORDER BY 1")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored, ["good-1", "good-2"]);
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM quarantine ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(
        reasons[0].contains("before CloudTrail existed"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("ahead of this server's clock"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("before CloudTrail existed"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].contains("larger than the limit of 16777216 bytes"),
        "{reasons:?}"
    );
    assert!(reasons[4].contains("the store refused it"), "{reasons:?}");

    let position: String = sqlx::query_scalar("SELECT position FROM ingest_checkpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(position, log_key("us-east-1", "20261003T0815Z_d"));
    let totals = poll_and_record(&trail, &pool, &|_| {}).await.unwrap();
    assert_eq!(totals.units, 0, "nothing is read twice");
}
