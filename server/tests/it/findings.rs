//! Findings through the JSON API: the list and its filters, one finding with its evidence and
//! history, triage by role, suppression rules, and detection's settings.

use crate::common;

use common::{ACCOUNT, As, app, bobs_call, get, ingest_records, secret_arn, send_json, signed_in};
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper_app::Role;

/// Bob deletes one secret at once and another with a recovery window a minute later, and
/// opens a third's policy to anyone: two findings, one incident of two deletions (critical,
/// its worst) and one critical policy.
async fn ingest_incidents(pool: &PgPool) {
    let records = vec![
        bobs_call(
            "e1",
            "2026-11-02T10:30:00Z",
            "DeleteSecret",
            json!({ "secretId": secret_arn("prod/old"), "forceDeleteWithoutRecovery": true }),
        ),
        bobs_call(
            "e2",
            "2026-11-02T10:31:00Z",
            "DeleteSecret",
            json!({ "secretId": secret_arn("prod/older"), "recoveryWindowInDays": 7 }),
        ),
        bobs_call(
            "e3",
            "2026-11-02T10:35:00Z",
            "PutResourcePolicy",
            json!({ "secretId": secret_arn("prod/key"), "resourcePolicy":
                   r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"# }),
        ),
    ];
    ingest_records(pool, records).await;
}

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn findings_are_listed_filtered_and_shown_with_their_evidence(pool: PgPool) {
    ingest_incidents(&pool).await;
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;

    let all = json_body(&get(&app, "/api/v1/findings", &viewer).await.body);
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{all}");
    // Most recent activity first.
    assert_eq!(items[0]["kind"], "policy_opened");
    assert_eq!(items[0]["severity"], "critical");
    assert_eq!(
        items[0]["principal"],
        format!("arn:aws:iam::{ACCOUNT}:user/bob")
    );
    assert_eq!(items[0]["secret_name"], "prod/key");
    assert_eq!(items[0]["evidence_event_ids"], json!(["e3"]));
    assert_eq!(items[0]["status"], "open");
    for field in [
        "id",
        "title",
        "explanation",
        "secret_arn",
        "first_seen",
        "last_seen",
        "count",
    ] {
        assert!(items[0].get(field).is_some(), "{field} missing");
    }

    // One incident: both deletions, at the worst one's severity, saying which secrets.
    let incident = &items[1];
    assert_eq!(incident["kind"], "secret_deleted");
    assert_eq!(incident["severity"], "critical");
    assert_eq!(
        incident["title"],
        "Secret deleted: 2 secrets within a minute or two by bob"
    );
    let explanation = incident["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("2 secrets") && explanation.contains("prod/old and prod/older"),
        "{explanation}"
    );
    assert_eq!(incident["count"], 2);
    assert_eq!(incident["evidence_event_ids"], json!(["e1", "e2"]));
    let secrets: Vec<&str> = incident["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|secret| secret["name"].as_str().unwrap())
        .collect();
    assert_eq!(secrets, ["prod/old", "prod/older"]);

    let high = json_body(
        &get(&app, "/api/v1/findings?severity=high", &viewer)
            .await
            .body,
    );
    assert_eq!(high["items"], json!([]));
    // Either secret finds the incident.
    for secret in ["prod/old", &secret_arn("prod/older")] {
        let by_secret = json_body(
            &get(
                &app,
                &format!("/api/v1/findings?secret={secret}&kind=secret_deleted"),
                &viewer,
            )
            .await
            .body,
        );
        assert_eq!(by_secret["items"].as_array().unwrap().len(), 1, "{secret}");
        assert_eq!(by_secret["items"][0]["id"], incident["id"]);
    }
    let paged = json_body(&get(&app, "/api/v1/findings?limit=1", &viewer).await.body);
    let next = paged["next"].as_str().unwrap();
    let rest = json_body(
        &get(
            &app,
            &format!("/api/v1/findings?limit=1&cursor={next}"),
            &viewer,
        )
        .await
        .body,
    );
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next"].is_null());
    let refused = get(&app, "/api/v1/findings?severity=urgent", &viewer).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("severity=\\\"urgent\\\" is not valid"),
        "{}",
        refused.body
    );

    let id = items[0]["id"].as_i64().unwrap();
    let body = get(&app, &format!("/api/v1/findings/{id}"), &viewer)
        .await
        .body;
    // What the finding's page decodes, each field once.
    let decoded: trailkeeper_app::api::findings::FindingDetail =
        serde_json::from_str(&body).unwrap();
    assert_eq!(decoded.finding.id, id);
    let one = json_body(&body);
    assert_eq!(one["evidence"][0]["event_id"], "e3");
    assert_eq!(one["evidence"][0]["event_name"], "PutResourcePolicy");
    assert_eq!(one["activity"].as_array().unwrap().len(), 1);
    assert!(
        one["explanation"]
            .as_str()
            .unwrap()
            .contains("lets anyone in")
    );
    assert_eq!(
        get(&app, "/api/v1/findings/999999", &viewer).await.status,
        404
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn auditors_triage_and_every_action_is_in_the_findings_history(pool: PgPool) {
    ingest_incidents(&pool).await;
    let app = app(pool.clone()).await;
    let viewer = signed_in(&pool, "vera", Role::Viewer).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;
    let list = json_body(
        &get(&app, "/api/v1/findings?kind=policy_opened", &viewer)
            .await
            .body,
    );
    let id = list["items"][0]["id"].as_i64().unwrap();
    let triage = |who: As, body: Value| {
        let app = app.clone();
        async move {
            send_json(
                &app,
                "POST",
                &format!("/api/v1/findings/{id}/triage"),
                &body.to_string(),
                &who,
            )
            .await
        }
    };

    assert_eq!(
        triage(viewer.clone(), json!({ "action": "acknowledge" }))
            .await
            .status,
        403
    );
    let acknowledged = triage(
        auditor.clone(),
        json!({ "action": "acknowledge", "comment": "looking into it" }),
    )
    .await;
    assert_eq!(acknowledged.status, 200, "{}", acknowledged.body);
    assert_eq!(json_body(&acknowledged.body)["status"], "acknowledged");
    assert_eq!(
        triage(auditor.clone(), json!({ "action": "acknowledge" }))
            .await
            .status,
        409
    );
    let assigned = triage(
        auditor.clone(),
        json!({ "action": "assign", "assignee": "audrey" }),
    )
    .await;
    assert_eq!(json_body(&assigned.body)["assignee"], "audrey");
    assert_eq!(
        triage(
            auditor.clone(),
            json!({ "action": "assign", "assignee": "nobody" })
        )
        .await
        .status,
        400
    );
    assert_eq!(
        triage(
            auditor.clone(),
            json!({ "action": "comment", "comment": "  " })
        )
        .await
        .status,
        400
    );
    assert_eq!(
        triage(auditor.clone(), json!({ "action": "dance" }))
            .await
            .status,
        400
    );
    let resolved = triage(
        auditor.clone(),
        json!({ "action": "resolve", "comment": "policy reverted" }),
    )
    .await;
    let resolved = json_body(&resolved.body);
    assert_eq!(resolved["status"], "resolved");
    let history: Vec<(String, String)> = resolved["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["actor"].as_str().unwrap().to_string(),
                entry["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("audrey".to_string(), "finding.acknowledged".to_string()),
            ("audrey".to_string(), "finding.assigned".to_string()),
            ("audrey".to_string(), "finding.resolved".to_string()),
        ]
    );
    assert!(
        resolved["history"][0]["summary"]
            .as_str()
            .unwrap()
            .ends_with(": looking into it")
    );
    // Resolved, it no longer shows in the queue (active findings) but does with status=all.
    let active = json_body(&get(&app, "/api/v1/findings", &viewer).await.body);
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    let all = json_body(&get(&app, "/api/v1/findings?status=all", &viewer).await.body);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_suppression_files_matching_findings_away_until_it_is_removed(pool: PgPool) {
    ingest_incidents(&pool).await;
    let app = app(pool.clone()).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;
    let rule = json!({ "kind": "secret_deleted", "secret_pattern": "prod/old*",
                       "until": "2099-01-01T00:00:00Z", "reason": "decommissioning" });
    let added = send_json(
        &app,
        "POST",
        "/api/v1/suppressions",
        &rule.to_string(),
        &auditor,
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let active = json_body(&get(&app, "/api/v1/findings", &auditor).await.body);
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    let suppressed = json_body(
        &get(&app, "/api/v1/findings?status=suppressed", &auditor)
            .await
            .body,
    );
    assert_eq!(suppressed["items"].as_array().unwrap().len(), 1);

    let rules = json_body(&get(&app, "/api/v1/suppressions", &auditor).await.body);
    assert_eq!(rules[0]["reason"], "decommissioning");
    assert_eq!(rules[0]["created_by"], "audrey");
    let past = json!({ "until": "2001-01-01T00:00:00Z", "reason": "x" });
    assert_eq!(
        send_json(
            &app,
            "POST",
            "/api/v1/suppressions",
            &past.to_string(),
            &auditor
        )
        .await
        .status,
        400
    );

    let id = rules[0]["id"].as_i64().unwrap();
    let removed = send_json(
        &app,
        "DELETE",
        &format!("/api/v1/suppressions/{id}"),
        "",
        &auditor,
    )
    .await;
    assert_eq!(removed.status, 204);
    assert_eq!(
        json_body(&get(&app, "/api/v1/suppressions", &auditor).await.body),
        json!([])
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn admins_change_detection_settings_and_bad_values_change_nothing(pool: PgPool) {
    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;
    let defaults = json_body(&get(&app, "/api/v1/settings/detection", &auditor).await.body);
    assert_eq!(defaults["bulk_secrets"], 20);
    assert_eq!(defaults["learning_days"], 5);

    let change = json!({ "bulk_secrets": 30 }).to_string();
    assert_eq!(
        send_json(&app, "PUT", "/api/v1/settings/detection", &change, &auditor)
            .await
            .status,
        403
    );
    let changed = send_json(&app, "PUT", "/api/v1/settings/detection", &change, &admin).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(json_body(&changed.body)["bulk_secrets"], 30);
    let bad = json!({ "denied_reads": 0 }).to_string();
    let refused = send_json(&app, "PUT", "/api/v1/settings/detection", &bad, &admin).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("denied_reads must be at least 1"),
        "{}",
        refused.body
    );
    let misspelt = json!({ "bulk_secret": 3 }).to_string();
    assert_eq!(
        send_json(&app, "PUT", "/api/v1/settings/detection", &misspelt, &admin)
            .await
            .status,
        400
    );
    let now = json_body(&get(&app, "/api/v1/settings/detection", &auditor).await.body);
    assert_eq!(now["bulk_secrets"], 30);
    let audited: String =
        sqlx::query_scalar("SELECT summary FROM audit_log WHERE action = 'settings.changed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audited, "changed detection settings: bulk_secrets = 30");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn findings_for_one_row_in_one_batch_are_written_one_after_the_other(pool: PgPool) {
    use trailkeeper::findings::store::record;
    use trailkeeper::findings::{Draft, Verdict};
    use trailkeeper_app::api::findings::{FindingKind, Severity};

    let at = chrono::Utc::now();
    let draft = |principal: Option<&str>, event: &str| {
        Verdict::Finding(Draft {
            kind: FindingKind::BulkRetrieval,
            severity: Severity::High,
            title: "Bulk retrieval".into(),
            explanation: "Many secrets read at once".into(),
            secret_arn: None,
            secret_name: None,
            principal: principal.map(str::to_string),
            account_id: Some(ACCOUNT.into()),
            region: Some("us-east-1".into()),
            first_seen: at,
            last_seen: at,
            count: 1,
            evidence: vec![event.into()],
            detail: json!({}),
        })
    };
    // An absent principal and an empty one are two keys here, and one row of the table.
    let mut db = pool.acquire().await.unwrap();
    let recorded = record(
        &mut db,
        vec![draft(None, "e-1"), draft(Some(""), "e-2")],
        chrono::Duration::minutes(15),
    )
    .await
    .unwrap();
    assert_eq!((recorded.opened, recorded.updated), (1, 1));
    let (rows, count): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(count)::bigint FROM findings")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((rows, count), (1, 2), "one finding holding both events");
}
