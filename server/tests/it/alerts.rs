//! Alerts' outbox on a real PostgreSQL: a finding that opens, rises in severity or re-opens
//! after being resolved leaves one row to send, written with the change and announced at
//! commit; an update that changes nothing a person must hear about, and a backfill, leave none.

use crate::common;

use std::time::Duration;

use common::{bobs_call, ingest_records, secret_arn};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use trailkeeper::detect::backfill::backfill;
use trailkeeper::findings::triage::{self, Actor};
use trailkeeper_app::api::findings::TriageAction;

/// Bob's deletion of the secret prod/db at `time`, as CloudTrail records it.
fn delete(id: &str, time: &str, request: Value) -> Value {
    let mut request = request;
    request["secretId"] = json!(secret_arn("prod/db"));
    bobs_call(id, time, "DeleteSecret", request)
}

async fn outbox(pool: &PgPool) -> Vec<(i64, String, String)> {
    sqlx::query_as("SELECT finding_id, reason, severity FROM alert_outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_finding_alerts_when_it_opens_rises_or_reopens_and_not_otherwise(pool: PgPool) {
    // Bob schedules the secret's deletion: a high finding opens.
    ingest_records(
        &pool,
        vec![delete(
            "d1",
            "2026-11-02T10:00:00Z",
            json!({ "recoveryWindowInDays": 7 }),
        )],
    )
    .await;
    let opened = outbox(&pool).await;
    assert_eq!(opened.len(), 1, "{opened:?}");
    let (finding, reason, severity) = opened[0].clone();
    assert_eq!((reason.as_str(), severity.as_str()), ("opened", "high"));

    // The same again adds evidence to the open finding: nothing new to say.
    ingest_records(
        &pool,
        vec![delete(
            "d2",
            "2026-11-02T10:05:00Z",
            json!({ "recoveryWindowInDays": 7 }),
        )],
    )
    .await;
    assert_eq!(outbox(&pool).await.len(), 1);

    // Then at once, without recovery: the same finding, now critical.
    ingest_records(
        &pool,
        vec![delete(
            "d3",
            "2026-11-02T10:10:00Z",
            json!({ "forceDeleteWithoutRecovery": true }),
        )],
    )
    .await;
    let actor = Actor {
        name: "alice",
        address: None,
    };
    triage::triage(
        &pool,
        finding,
        &actor,
        TriageAction::Acknowledge { comment: None },
    )
    .await
    .unwrap();
    triage::triage(
        &pool,
        finding,
        &actor,
        TriageAction::Resolve { comment: None },
    )
    .await
    .unwrap();
    triage::triage(
        &pool,
        finding,
        &actor,
        TriageAction::Reopen { comment: None },
    )
    .await
    .unwrap();

    let reasons: Vec<(i64, String, String)> = outbox(&pool).await;
    assert_eq!(
        reasons,
        [
            (finding, "opened".to_string(), "high".to_string()),
            (finding, "escalated".to_string(), "critical".to_string()),
            (finding, "reopened".to_string(), "critical".to_string()),
        ],
        "acknowledging and resolving alert nobody"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_outbox_wakes_a_listener_when_the_finding_commits(pool: PgPool) {
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen("trailkeeper_alerts").await.unwrap();
    ingest_records(
        &pool,
        vec![delete(
            "w1",
            "2026-11-02T10:00:00Z",
            json!({ "forceDeleteWithoutRecovery": true }),
        )],
    )
    .await;
    let woken = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10 s of the commit")
        .unwrap();
    assert_eq!(woken.channel(), "trailkeeper_alerts");
    assert_eq!(outbox(&pool).await.len(), 1);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_backfill_makes_findings_but_alerts_nobody(pool: PgPool) {
    sqlx::query(
        "INSERT INTO settings (area, value, updated_by) \
         VALUES ('detection', '{\"live\": false}', 'test')",
    )
    .execute(&pool)
    .await
    .unwrap();
    ingest_records(
        &pool,
        vec![delete(
            "b1",
            "2026-11-02T10:00:00Z",
            json!({ "forceDeleteWithoutRecovery": true }),
        )],
    )
    .await;
    backfill(&pool, None, None, |_| {}).await.unwrap();
    let findings: i64 = sqlx::query_scalar("SELECT count(*) FROM findings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(findings, 1);
    assert_eq!(outbox(&pool).await, []);
}
