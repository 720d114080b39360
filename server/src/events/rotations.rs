//! Rotation impact, read from the stored events: each recent rotation of a secret with the
//! version it left behind, and its consumers' value reads in the days before and after it.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use trailkeeper_app::api::rotations::{
    ConsumerVerdict, RotationConsumer, RotationImpact, RotationOutcome,
};

/// A rotation that has not reported its end for this long is over all the same (its
/// function gave up without a word).
pub const LONGEST_ROTATION: i64 = 24;

/// The rotations shown: the newest few within a year.
const ROTATIONS: i64 = 5;
const LOOK_BACK_DAYS: i64 = 365;
/// The days of reads compared on each side of a rotation.
const COMPARED_DAYS: i64 = 7;

#[derive(sqlx::FromRow)]
struct End {
    event_time: DateTime<Utc>,
    event_name: String,
    error_message: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Move {
    event_time: DateTime<Utc>,
    moved_to: Option<String>,
    removed_from: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Consumer {
    principal: String,
    reads_before: i64,
    current_reads_after: i64,
    stale_reads_after: i64,
    failures_after: i64,
    error_codes_after: Vec<String>,
    last_read_at: DateTime<Utc>,
}

/// The recent rotations of `secret_arn`, newest first.
pub async fn rotation_impact(
    db: &mut PgConnection,
    secret_arn: &str,
    now: DateTime<Utc>,
) -> Result<Vec<RotationImpact>, sqlx::Error> {
    let ends: Vec<End> = sqlx::query_as(
        "SELECT event_time, event_name, error_message FROM events \
         WHERE secret_arn = $1 \
           AND event_name IN ('RotationSucceeded', 'RotationFailed', 'RotationAbandoned') \
           AND event_time >= $2 \
         ORDER BY event_time DESC LIMIT $3",
    )
    .bind(secret_arn)
    .bind(now - Duration::days(LOOK_BACK_DAYS))
    .bind(ROTATIONS)
    .fetch_all(&mut *db)
    .await?;

    let mut starts = Vec::with_capacity(ends.len());
    for end in &ends {
        let started: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT max(event_time) FROM events \
             WHERE secret_arn = $1 AND event_name = 'RotationStarted' \
               AND event_time <= $2 AND event_time > $3",
        )
        .bind(secret_arn)
        .bind(end.event_time)
        .bind(end.event_time - Duration::hours(LONGEST_ROTATION))
        .fetch_one(&mut *db)
        .await?;
        starts.push(started);
    }

    let mut impacts = Vec::with_capacity(ends.len());
    for (index, end) in ends.iter().enumerate() {
        let Some(outcome) = RotationOutcome::parse_event(&end.event_name) else {
            continue;
        };
        let started_at = starts[index];
        let start = started_at.unwrap_or(end.event_time);
        // The next rotation (newer, listed before) closes this one's after-period, and the
        // one before it (older, listed after) opens its before-period.
        let next_start = index
            .checked_sub(1)
            .map(|newer| starts[newer].unwrap_or(ends[newer].event_time));
        let previous_end = ends.get(index + 1).map(|older| older.event_time);
        let after_until = [
            Some(end.event_time + Duration::days(COMPARED_DAYS)),
            next_start,
        ]
        .into_iter()
        .flatten()
        .fold(now, DateTime::min);
        let before_since = [Some(start - Duration::days(COMPARED_DAYS)), previous_end]
            .into_iter()
            .flatten()
            .fold(DateTime::<Utc>::MIN_UTC, DateTime::max);

        let (new_version, superseded_version) =
            versions(db, secret_arn, start, end.event_time).await?;
        let rows: Vec<Consumer> = sqlx::query_as(
            r#"SELECT principal,
                    count(*) FILTER (WHERE event_time < $3 AND error_code IS NULL) AS reads_before,
                    count(*) FILTER (WHERE event_time >= $4 AND error_code IS NULL AND NOT stale)
                        AS current_reads_after,
                    count(*) FILTER (WHERE event_time >= $4 AND stale) AS stale_reads_after,
                    count(*) FILTER (WHERE event_time >= $4 AND error_code IS NOT NULL
                        AND NOT stale) AS failures_after,
                    COALESCE(array_agg(DISTINCT error_code)
                        FILTER (WHERE event_time >= $4 AND error_code IS NOT NULL), '{}')
                        AS error_codes_after,
                    max(event_time) AS last_read_at
             FROM (SELECT COALESCE(principal, source_service, 'unknown') AS principal,
                          event_time, error_code,
                          COALESCE(version_stage = 'AWSPREVIOUS' OR version_id = $6, false)
                              AS stale
                   FROM events
                   WHERE secret_arn = $1 AND event_name = 'GetSecretValue'
                     AND ((event_time >= $2 AND event_time < $3)
                          OR (event_time >= $4 AND event_time < $5))) reads
             GROUP BY principal
             ORDER BY count(*) DESC, principal LIMIT 500"#,
        )
        .bind(secret_arn)
        .bind(before_since)
        .bind(start)
        .bind(end.event_time)
        .bind(after_until)
        .bind(superseded_version.as_deref())
        .fetch_all(&mut *db)
        .await?;
        let mut consumers: Vec<RotationConsumer> = rows
            .into_iter()
            .map(|row| RotationConsumer {
                verdict: ConsumerVerdict::of(
                    row.reads_before,
                    row.current_reads_after,
                    row.stale_reads_after,
                    row.failures_after,
                ),
                principal: row.principal,
                reads_before: row.reads_before,
                current_reads_after: row.current_reads_after,
                stale_reads_after: row.stale_reads_after,
                failures_after: row.failures_after,
                error_codes_after: row.error_codes_after,
                last_read_at: row.last_read_at,
            })
            // A principal only ever refused before and after never had the value to lose.
            .filter(|consumer| {
                consumer.reads_before > 0
                    || consumer.current_reads_after > 0
                    || consumer.stale_reads_after > 0
            })
            .collect();
        // Stable: within a verdict, the busiest first, as read.
        consumers.sort_by_key(|consumer| consumer.verdict);
        impacts.push(RotationImpact {
            started_at,
            ended_at: end.event_time,
            outcome,
            message: end.error_message.clone(),
            new_version,
            superseded_version,
            before_since,
            after_until,
            consumers,
        });
    }
    Ok(impacts)
}

/// The version a rotation between `start` and `end` moved `AWSCURRENT` to, and the one it
/// moved it from: the move's `removeFromVersionId`, else the version the move before it made
/// current. A rotation that moved nothing (it failed first) changed neither.
async fn versions(
    db: &mut PgConnection,
    secret_arn: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(Option<String>, Option<String>), sqlx::Error> {
    let moves: Vec<Move> = sqlx::query_as(
        "SELECT event_time, raw -> 'requestParameters' ->> 'moveToVersionId' AS moved_to, \
                raw -> 'requestParameters' ->> 'removeFromVersionId' AS removed_from \
         FROM events \
         WHERE secret_arn = $1 AND event_name = 'UpdateSecretVersionStage' \
           AND error_code IS NULL AND event_time <= $2 \
           AND raw -> 'requestParameters' ->> 'versionStage' = 'AWSCURRENT' \
         ORDER BY event_time DESC LIMIT 2",
    )
    .bind(secret_arn)
    .bind(end)
    .fetch_all(&mut *db)
    .await?;
    let Some(made) = moves.first().filter(|made| made.event_time >= start) else {
        return Ok((None, None));
    };
    let superseded = made
        .removed_from
        .clone()
        .or_else(|| moves.get(1).and_then(|before| before.moved_to.clone()));
    Ok((made.moved_to.clone(), superseded))
}
