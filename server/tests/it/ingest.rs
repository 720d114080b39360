//! Ingesting files into a real PostgreSQL: every event once however often it arrives, the
//! secret each names resolved against the inventory, and bad input quarantined with a
//! reason while the good records beside it are stored.

use std::path::PathBuf;

use sqlx::PgPool;
use trailkeeper::ingest::formats;
use trailkeeper::ingest::load::{prepare, store_together};
use trailkeeper::ingest::sources::files::ingest_file;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(name)
}

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/payments/db-AbCdEf";

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn each_event_is_stored_once_whatever_file_it_comes_in(pool: PgPool) {
    sqlx::query(
        "INSERT INTO secrets (arn, name, region, account_id) \
         VALUES ($1, 'prod/payments/db', 'us-east-1', '111122223333')",
    )
    .bind(SECRET)
    .execute(&pool)
    .await
    .unwrap();

    let first = ingest_file(&pool, &sample("trail-file.json"))
        .await
        .unwrap();
    assert_eq!(first.format.as_deref(), Ok("CloudTrail log file"));
    assert_eq!((first.records, first.new, first.duplicates), (15, 15, 0));
    for name in [
        "111122223333_CloudTrail_us-east-1_20261003T0815Z_Ab12Cd34Ef56Gh78.json.gz",
        "records.jsonl",
        "eventbridge.jsonl",
        "lookup-events-response.json",
    ] {
        let again = ingest_file(&pool, &sample(name)).await.unwrap();
        assert_eq!(again.new, 0, "{name}");
        assert_eq!(again.duplicates, again.records, "{name}");
    }
    let (events, resolved): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(secret_arn) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 15);
    // All but the batch read by filter name the one secret, by name or ARN.
    assert_eq!(resolved, 14);
    let by_name: (String, String) =
        sqlx::query_as("SELECT secret_arn, principal FROM events WHERE event_id LIKE '%0001'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        by_name,
        (
            SECRET.to_string(),
            "arn:aws:iam::111122223333:role/payments-api-task".to_string()
        )
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn bad_records_are_quarantined_with_reasons_and_the_good_ones_stored(pool: PgPool) {
    let lines = std::fs::read_to_string(sample("records.jsonl")).unwrap();
    let mut lines: Vec<String> = lines.lines().map(str::to_string).collect();
    lines.insert(2, "{not json".into());
    lines.insert(4, r#"{"eventTime": "2026-10-03T08:00:00Z", "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue"}"#.into());
    lines.push(r#"{"eventID": "s3-1", "eventTime": "2026-10-03T08:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}"#.into());
    lines.push(r#"{"eventID": "nul-1", "eventTime": "2026-10-03T08:00:00Z", "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue", "userAgent": "evil\u0000agent"}"#.into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();

    let summary = ingest_file(&pool, &path).await.unwrap();
    assert_eq!(summary.format.as_deref(), Ok("JSON Lines of records"));
    assert_eq!(
        (
            summary.records,
            summary.new,
            summary.skipped,
            summary.quarantined
        ),
        (19, 15, 1, 3)
    );
    let reasons: Vec<(String, String)> =
        sqlx::query_as("SELECT position, reason FROM quarantine ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(reasons[0].0, "line 3");
    assert!(reasons[0].1.starts_with("not valid JSON"), "{reasons:?}");
    assert_eq!(reasons[1].0, "line 5");
    assert!(reasons[1].1.contains("eventID"), "{reasons:?}");
    assert!(reasons[2].1.contains("NUL"), "{reasons:?}");

    // A file that is not CloudTrail at all is quarantined whole.
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    let summary = ingest_file(&pool, &junk).await.unwrap();
    assert!(summary.format.unwrap_err().starts_with("not JSON"));
    assert_eq!(summary.quarantined, 1);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn small_files_stored_together_are_each_reported_for_themselves(pool: PgPool) {
    // Files stored in one transaction: a trail file, the same events again in other
    // formats, one with a bad record, and one that is not CloudTrail at all.
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = std::fs::read_to_string(sample("records.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.insert(1, "{not json".into());
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(&mixed, lines.join("\n")).unwrap();
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    let paths = [
        sample("trail-file.json"),
        sample("eventbridge.jsonl"),
        mixed.clone(),
        junk.clone(),
    ];

    let units = paths
        .iter()
        .map(|path| {
            let contents = std::fs::read(path).unwrap();
            let contents = formats::read(&contents, formats::DEFAULT_MAX_FILE_BYTES)
                .map_err(|error| error.to_string());
            prepare(&path.display().to_string(), contents)
        })
        .collect();
    let reported = store_together(&pool, units).await.unwrap();
    let origins: Vec<String> = reported.iter().map(|s| s.origin.clone()).collect();
    let expected: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(
        origins, expected,
        "one report per file, in the files' order"
    );
    let counts: Vec<(u64, u64, u64)> = reported
        .iter()
        .map(|s| (s.new, s.duplicates, s.quarantined))
        .collect();
    assert_eq!(counts, [(15, 0, 0), (0, 15, 0), (0, 15, 1), (0, 0, 1)]);

    let quarantined: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT source, position FROM quarantine ORDER BY source")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        quarantined,
        [
            (mixed.display().to_string(), Some("line 2".to_string())),
            (junk.display().to_string(), None),
        ],
        "each rejected record names its own file"
    );
    let sources: Vec<String> = sqlx::query_scalar("SELECT DISTINCT ingested_from FROM events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(sources, [paths[0].display().to_string()]);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn an_ingest_storing_the_same_event_at_the_same_time_is_waited_for(pool: PgPool) {
    // Another ingest (another server over the same trail) has stored the file's first event
    // and not committed yet.
    for month in [10, 11] {
        trailkeeper::ingest::partitions::create(&pool, 2026, month)
            .await
            .unwrap();
    }
    let mut other = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (event_id, event_time, event_name, event_source, raw, ingested_from) \
         VALUES ('0b1e7a52-6c1d-4c55-9f0a-000000000001', '2026-10-03T08:12:41Z', \
             'GetSecretValue', 'secretsmanager.amazonaws.com', '{}', 'the other ingest')",
    )
    .execute(&mut *other)
    .await
    .unwrap();

    let ingest = tokio::spawn({
        let pool = pool.clone();
        async move { ingest_file(&pool, &sample("trail-file.json")).await }
    });
    let waiting = async {
        loop {
            let waits: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND query LIKE 'COPY events %'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if waits > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), waiting)
        .await
        .expect("the ingest waits for the other's event");
    other.commit().await.unwrap();

    let summary = ingest.await.unwrap().unwrap();
    assert_eq!((summary.new, summary.duplicates), (14, 1));
    let sources: Vec<(String, i64)> =
        sqlx::query_as("SELECT ingested_from, count(*) FROM events GROUP BY 1 ORDER BY 2")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        sources,
        [
            ("the other ingest".to_string(), 1),
            (sample("trail-file.json").display().to_string(), 14)
        ],
        "each event once, the first stored kept"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_serving_role_bound_by_row_level_security_stores_events_too(pool: PgPool) {
    // As `trailkeeper serve` runs when the schema's owner is another role: PostgreSQL refuses
    // such a role `COPY` into a table with row-level security.
    sqlx::query(
        "DO $$ BEGIN CREATE ROLE trailkeeper_ingest_test LOGIN IN ROLE trailkeeper_serving; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    let serving = PgPool::connect_with(
        pool.connect_options()
            .as_ref()
            .clone()
            .username("trailkeeper_ingest_test"),
    )
    .await
    .unwrap();
    let bound: bool = sqlx::query_scalar("SELECT row_security_active('events')")
        .fetch_one(&serving)
        .await
        .unwrap();
    assert!(bound);

    let first = ingest_file(&serving, &sample("trail-file.json"))
        .await
        .unwrap();
    assert_eq!((first.new, first.duplicates), (15, 0));
    let again = ingest_file(&serving, &sample("records.jsonl"))
        .await
        .unwrap();
    assert_eq!((again.new, again.duplicates), (0, again.records));
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 15);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_failed_rotation_in_cloudtrail_makes_the_secret_failing_until_one_succeeds(pool: PgPool) {
    use chrono::Utc;
    use trailkeeper::inventory::assess::reassess;
    use trailkeeper::inventory::status::StatusThresholds;
    sqlx::query(
        "INSERT INTO secrets (arn, name, region, account_id, rotation_enabled) \
         VALUES ($1, 'prod/payments/db', 'us-east-1', '111122223333', true)",
    )
    .bind(SECRET)
    .execute(&pool)
    .await
    .unwrap();
    let status = |pool: PgPool| async move {
        reassess(&pool, None, None, Utc::now(), StatusThresholds::default())
            .await
            .unwrap();
        sqlx::query_as::<_, (String, String)>(
            "SELECT rotation_status, rotation_reason FROM secrets",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };

    // The samples end with a RotationFailed (setSecret) and then a RotationAbandoned.
    ingest_file(&pool, &sample("records.jsonl")).await.unwrap();
    let (failing, reason) = status(pool.clone()).await;
    assert_eq!(failing, "failing");
    assert!(
        reason.starts_with("The last rotation was abandoned"),
        "{reason}"
    );

    // A rotation that succeeded since (as the inventory saw it) ends it.
    sqlx::query("UPDATE secrets SET last_rotated_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(status(pool.clone()).await.0, "healthy");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn retention_drops_whole_months_that_ended_before_the_cutoff(pool: PgPool) {
    use trailkeeper::ingest::partitions::drop_before;
    // The samples span October and November 2026.
    ingest_file(&pool, &sample("records.jsonl")).await.unwrap();
    let months = |pool: PgPool| async move {
        sqlx::query_as::<_, (String, i64)>(
            "SELECT to_char(event_time, 'YYYY-MM'), count(*) FROM events GROUP BY 1 ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = months(pool.clone()).await;
    assert_eq!(before.len(), 2, "{before:?}");

    let mid_november = "2026-11-15T00:00:00Z".parse().unwrap();
    let dropped = drop_before(&pool, mid_november).await.unwrap();
    assert_eq!(dropped, ["events_y2026m10"]);
    let after = months(pool.clone()).await;
    assert_eq!(after, before[1..], "November is kept whole");
    // Nothing older is left to drop.
    assert!(drop_before(&pool, mid_november).await.unwrap().is_empty());
}
