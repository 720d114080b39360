//! Detection over a labelled month (`trailkeeper-scenarios`): every incident is found and
//! attributed to the right principal and secret, the benign month raises (almost) nothing,
//! and a backfill over the stored events finds exactly what live detection found.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use trailkeeper::detect::backfill::backfill;
use trailkeeper::ingest::sources::files::ingest_file;
use trailkeeper_scenarios::Month;

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
}

async fn findings(pool: &PgPool) -> Vec<Stored> {
    sqlx::query_as(
        "SELECT kind, severity, title, explanation, secret_arn, principal, first_seen, \
             last_seen, count, evidence_event_ids, status \
         FROM findings ORDER BY kind, principal, secret_arn, first_seen",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn every_incident_is_found_live_and_a_backfill_finds_exactly_the_same(pool: PgPool) {
    let month = Month::generate(Utc::now() - Duration::days(45), 20261124);
    let scratch = tempfile::tempdir().unwrap();
    // One trail file per hour, stored in order as they would arrive.
    for path in month.write(scratch.path()).unwrap() {
        ingest_file(&pool, &path).await.unwrap();
    }
    let live = findings(&pool).await;

    for label in &month.labels {
        assert!(
            live.iter().any(|finding| finding.kind == label.kind
                && finding.principal == label.principal
                && finding.secret_arn == label.secret_arn),
            "{label:?} was not found; the findings: {:#?}",
            live.iter()
                .map(|f| (&f.kind, &f.principal, &f.secret_arn))
                .collect::<Vec<_>>()
        );
    }
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
}
