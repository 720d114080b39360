//! Scoped access over a two-team estate: a person limited to `team=payments` walks every
//! page, server function and API route, and nothing of the identity team reaches them —
//! names, ARNs, accounts, counts, events, findings — while unscoped people still see it all.

use crate::access::{every_route, request};
use crate::common;

use axum::Router;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::{As, PASSWORD, app, get, post_form, send_json};
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper::auth::{sessions, tokens, users};
use trailkeeper::ingest::sources::files::ingest_file;
use trailkeeper_app::Role;
use trailkeeper_app::access::Access;
use trailkeeper_app::scope::Scope;

const PAYMENTS_ACCOUNT: &str = "111111111111";
const IDENTITY_ACCOUNT: &str = "222222222222";
const PAYMENTS_SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:111111111111:secret:payments/stripe-key-PaYmNt";
const IDENTITY_SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:222222222222:secret:identity/ldap-bind-IdEnTy";
/// A secret the inventory has never seen: its events are for unscoped people only.
const GHOST_SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:333333333333:secret:ghost/unknown-GhOsTs";

/// What only the identity team's (or no team's) data holds: none of it may reach a
/// payments person anywhere.
const FOREIGN: [&str; 10] = [
    "identity/ldap-bind",
    IDENTITY_ACCOUNT,
    "Identity Prod",
    "identity-directory-svc",
    "IDENTITY-ONLY-DESCRIPTION",
    "evt-identity-read",
    "IDENTITY-FINDING",
    "ghost/unknown",
    "evt-ghost-read",
    "333333333333",
];

/// What comes only from the store about the identity team, never from the address asked
/// for: checked where a request names the identity team's secret, event or finding.
const FOREIGN_CONTENT: [&str; 4] = [
    "Identity Prod",
    "identity-directory-svc",
    "IDENTITY-ONLY-DESCRIPTION",
    "IDENTITY-FINDING",
];

fn read_of(event_id: &str, secret: &str, account: &str, principal: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": { "type": "AssumedRole", "principalId": "AROAEXAMPLE:task",
                          "arn": format!("arn:aws:sts::{account}:assumed-role/{principal}/task"),
                          "accountId": account },
        "eventTime": (Utc::now() - Duration::hours(1)).to_rfc3339(),
        "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
        "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1", "userAgent": "aws-sdk-go/1.0",
        "requestParameters": { "secretId": secret }, "responseElements": null,
        "eventID": event_id, "eventType": "AwsApiCall", "readOnly": true,
        "recipientAccountId": account
    })
}

/// Two teams in two accounts, each with a secret, a version, a read, a finding, a sync run
/// and trail coverage; and a read of a secret nobody inventoried. Returns the findings' ids
/// (payments, identity).
async fn two_team_estate(pool: &PgPool) -> (i64, i64) {
    for (id, name) in [
        (PAYMENTS_ACCOUNT, "Payments Prod"),
        (IDENTITY_ACCOUNT, "Identity Prod"),
    ] {
        sqlx::query("INSERT INTO accounts (id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
    for (arn, name, account, team, description) in [
        (
            PAYMENTS_SECRET,
            "payments/stripe-key",
            PAYMENTS_ACCOUNT,
            "payments",
            "Stripe API key",
        ),
        (
            IDENTITY_SECRET,
            "identity/ldap-bind",
            IDENTITY_ACCOUNT,
            "identity",
            "IDENTITY-ONLY-DESCRIPTION",
        ),
    ] {
        sqlx::query(
            "INSERT INTO secrets (arn, name, region, account_id, tags, description, \
                 rotation_status, rotation_reason) \
             VALUES ($1, $2, 'us-east-1', $3, jsonb_build_object('team', $4::text), $5, \
                 'never_rotated', 'rotation is enabled but has never run')",
        )
        .bind(arn)
        .bind(name)
        .bind(account)
        .bind(team)
        .bind(description)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO secret_versions (secret_arn, version_id, labels) \
             VALUES ($1, $2, '{AWSCURRENT}')",
        )
        .bind(arn)
        .bind(format!("{team}-version-1"))
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO sync_runs (region, account_id, finished_at, outcome) \
             VALUES ('us-east-1', $1, now(), 'succeeded')",
        )
        .bind(account)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO trail_coverage (account_id, region, newest_event_at) \
             VALUES ($1, 'us-east-1', now())",
        )
        .bind(account)
        .execute(pool)
        .await
        .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.json");
    let records = vec![
        read_of(
            "evt-payments-read",
            PAYMENTS_SECRET,
            PAYMENTS_ACCOUNT,
            "payments-api",
        ),
        read_of(
            "evt-identity-read",
            IDENTITY_SECRET,
            IDENTITY_ACCOUNT,
            "identity-directory-svc",
        ),
        read_of(
            "evt-ghost-read",
            GHOST_SECRET,
            "333333333333",
            "identity-directory-svc",
        ),
    ];
    std::fs::write(&path, json!({ "Records": records }).to_string()).unwrap();
    ingest_file(pool, &path).await.unwrap();

    let mut ids = Vec::new();
    for (title, arn, name, account, principal, event) in [
        (
            "PAYMENTS-FINDING",
            PAYMENTS_SECRET,
            "payments/stripe-key",
            PAYMENTS_ACCOUNT,
            "payments-api",
            "evt-payments-read",
        ),
        (
            "IDENTITY-FINDING",
            IDENTITY_SECRET,
            "identity/ldap-bind",
            IDENTITY_ACCOUNT,
            "identity-directory-svc",
            "evt-identity-read",
        ),
    ] {
        let id: i64 = sqlx::query_scalar(
            "WITH finding AS ( \
                 INSERT INTO findings (kind, severity, title, explanation, secret_arn, \
                     secret_name, principal, account_id, region, first_seen, last_seen, count, \
                     evidence_event_ids) \
                 VALUES ('first_time_reader', 'high', $1, 'a first read', $2, $3, $4, $5, \
                     'us-east-1', now() - interval '1 hour', now(), 1, ARRAY[$6]) \
                 RETURNING id, secret_arn, secret_name, first_seen, last_seen, count, title, \
                     explanation), \
             about AS (INSERT INTO finding_secrets SELECT * FROM finding) \
             SELECT id FROM finding",
        )
        .bind(title)
        .bind(arn)
        .bind(name)
        .bind(principal)
        .bind(account)
        .bind(event)
        .fetch_one(pool)
        .await
        .unwrap();
        ids.push(id);
    }
    // What an admin did about each team's secret, in the audit log the Overview shows.
    for arn in [PAYMENTS_SECRET, IDENTITY_SECRET] {
        trailkeeper::audit::Entry::new(
            "ops",
            trailkeeper::audit::Action::SecretChanged,
            format!("tagged {arn}"),
        )
        .detail(json!({ "secret": arn }))
        .record(pool)
        .await
        .unwrap();
    }
    (ids[0], ids[1])
}

/// A user limited to `scope`, with a live session.
async fn scoped_session(pool: &PgPool, name: &str, role: Role, scope: &str) -> As {
    let scope: Scope = scope.parse().unwrap();
    let user = users::add_scoped(pool, "test", name, role, Some(&scope), PASSWORD)
        .await
        .unwrap();
    let session = sessions::create(pool, user.id, Default::default(), None, None)
        .await
        .unwrap();
    As::Cookie(format!("trailkeeper_session={}", session.secret))
}

fn assert_nothing_foreign(what: &str, body: &str, markers: &[&str]) {
    for marker in markers {
        assert!(
            !body.contains(marker),
            "{what} showed {marker:?} to a payments person: {body}"
        );
    }
}

/// A server function called as a page calls it.
async fn call(app: &Router, endpoint: &str, body: &str, who: &As) -> Value {
    let answer = post_form(app, &format!("/api/{endpoint}"), body, who).await;
    assert_eq!(answer.status, StatusCode::OK, "{endpoint}: {}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_scoped_person_sees_nothing_of_another_team_on_any_route(pool: PgPool) {
    let (payments_finding, identity_finding) = two_team_estate(&pool).await;
    let app = app(pool.clone()).await;
    let viewer = scoped_session(&pool, "pat", Role::Viewer, "team=payments").await;
    let auditor = scoped_session(&pool, "pia", Role::Auditor, "team=payments").await;
    let (_, token) = tokens::create(
        &pool,
        "test",
        "payments-ci",
        Role::Auditor,
        Some(&"team=payments".parse().unwrap()),
        None,
    )
    .await
    .unwrap();
    let token = As::Bearer(token);

    for who in [&viewer, &auditor, &token] {
        // Every route the server has, as the route-table test reaches them.
        for (method, path, access) in every_route() {
            // Signing out would end the walk.
            if path == "/logout" {
                continue;
            }
            let answer = request(&app, &method, &path, who).await;
            if matches!(access, Access::Estate(_)) {
                assert!(
                    matches!(
                        answer.status,
                        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
                    ),
                    "{method} {path} covers the whole estate but answered {}",
                    answer.status
                );
            }
            assert_nothing_foreign(&format!("{method} {path}"), &answer.body, &FOREIGN);
        }
        // Every page and route that lists or counts, with real data behind it.
        for path in [
            "/",
            "/secrets",
            "/secrets?search=identity",
            "/events",
            "/events?principal=identity",
            "/findings",
            &format!("/secrets/{PAYMENTS_SECRET}"),
            "/events/evt-payments-read",
            &format!("/findings/{payments_finding}"),
            "/api/v1/secrets",
            "/api/v1/secrets?account=222222222222",
            "/api/v1/events",
            "/api/v1/events?account=222222222222",
            "/api/v1/findings",
            &format!("/api/v1/findings/{payments_finding}"),
            &format!("/api/v1/secrets/{PAYMENTS_SECRET}"),
            &format!("/api/v1/secrets/{PAYMENTS_SECRET}/access"),
            "/api/v1/suppressions",
            "/api/v1/me",
        ] {
            // Pages and server functions are for people signed in; tokens use the API.
            if matches!(who, As::Bearer(_)) && !path.starts_with("/api/v1/") {
                continue;
            }
            let answer = get(&app, path, who).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
            assert_nothing_foreign(path, &answer.body, &FOREIGN);
        }
        // The identity team's things, asked for by name: they do not exist here.
        for path in [
            format!("/api/v1/secrets/{IDENTITY_SECRET}"),
            format!("/api/v1/secrets/{IDENTITY_SECRET}/access"),
            format!("/api/v1/findings/{identity_finding}"),
        ] {
            let answer = get(&app, &path, who).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
            assert_nothing_foreign(&path, &answer.body, &FOREIGN_CONTENT);
        }
        if matches!(who, As::Bearer(_)) {
            continue;
        }
        for path in [
            format!("/secrets/{IDENTITY_SECRET}"),
            "/events/evt-identity-read".to_string(),
            format!("/findings/{identity_finding}"),
        ] {
            let answer = get(&app, &path, who).await;
            assert_nothing_foreign(&path, &answer.body, &FOREIGN_CONTENT);
        }
        let event = call(&app, "event", "event_id=evt-identity-read", who).await;
        assert_eq!(event, Value::Null);
        let finding = call(&app, "finding", &format!("id={identity_finding}"), who).await;
        assert_eq!(finding, Value::Null);
        let access = call(
            &app,
            "secret_access",
            &format!("secret_arn={IDENTITY_SECRET}"),
            who,
        )
        .await;
        assert_nothing_foreign("secret_access", &access.to_string(), &FOREIGN_CONTENT);
        assert_eq!(access["principals"], json!([]), "{access}");
    }

    // Exports, the auditor's: every line is the payments team's.
    for path in ["/api/v1/events/export.csv", "/api/v1/events/export.jsonl"] {
        let export = get(&app, path, &auditor).await;
        assert_eq!(export.status, StatusCode::OK, "{path}");
        assert!(export.body.contains("evt-payments-read"), "{}", export.body);
        assert_nothing_foreign(path, &export.body, &FOREIGN);
    }

    // The counts are the team's own: one secret, one finding, one event.
    let overview = call(&app, "overview", "", &viewer).await;
    assert_eq!(overview["inventory"]["secrets"], 1, "{overview}");
    assert_eq!(overview["events"]["last_day"], 1, "{overview}");
    assert_eq!(overview["findings"]["by_severity"], json!([["high", 1]]));
    assert_eq!(overview["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(overview["recent_activity"].as_array().unwrap().len(), 1);
    assert_eq!(
        overview["scoped"], true,
        "sources and quarantine are not shown"
    );
    let me = get(&app, "/api/v1/me", &token).await;
    let me: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["scope"], json!(["team=payments"]), "{me}");
    let secrets = call(&app, "secrets", "query=", &viewer).await;
    assert_eq!(secrets["matching"], 1, "{secrets}");
    assert_eq!(secrets["facets"]["accounts"].as_array().unwrap().len(), 1);
    let events = call(&app, "events", "query=", &viewer).await;
    let charted: i64 = events["histogram"]["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bar| bar[1].as_i64().unwrap())
        .sum();
    assert_eq!(charted, 1, "{events}");
    let findings = call(&app, "findings", "query=", &viewer).await;
    assert_eq!(findings["page"]["items"].as_array().unwrap().len(), 1);

    // Unscoped people still see both teams and the unknown secret's event.
    let everyone = common::signed_in(&pool, "ops", Role::Admin).await;
    let overview = call(&app, "overview", "", &everyone).await;
    assert_eq!(overview["inventory"]["secrets"], 2, "{overview}");
    assert_eq!(overview["scoped"], false);
    assert_eq!(overview["events"]["last_day"], 3, "{overview}");
    let ghost = call(&app, "event", "event_id=evt-ghost-read", &everyone).await;
    assert_eq!(ghost["event_id"], "evt-ghost-read", "{ghost}");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_scoped_person_cannot_act_on_another_teams_secret_or_finding(pool: PgPool) {
    let (payments_finding, identity_finding) = two_team_estate(&pool).await;
    let app = app(pool.clone()).await;
    let admin = scoped_session(&pool, "pam", Role::Admin, "team=payments").await;

    let triage = |id: i64| {
        let app = app.clone();
        let admin = admin.clone();
        async move {
            send_json(
                &app,
                "POST",
                &format!("/api/v1/findings/{id}/triage"),
                r#"{"action": "acknowledge", "comment": "mine"}"#,
                &admin,
            )
            .await
        }
    };
    let refused = triage(identity_finding).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let status: String = sqlx::query_scalar("SELECT status FROM findings WHERE id = $1")
        .bind(identity_finding)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "open");
    let done = triage(payments_finding).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // A change to the other team's secret stops before AWS: the secret is not there.
    let change = send_json(
        &app,
        "POST",
        &format!("/api/v1/secrets/{IDENTITY_SECRET}/actions/tags"),
        r#"{"reason": "tidy", "tags": {"owner": "me"}}"#,
        &admin,
    )
    .await;
    assert_eq!(change.status, StatusCode::NOT_FOUND, "{}", change.body);
    let requested: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'secret.change_requested'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(requested, 0);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn accounts_tags_and_prefixes_each_bring_their_secrets_into_scope(pool: PgPool) {
    two_team_estate(&pool).await;
    let app = app(pool.clone()).await;
    for (number, (scope, expected)) in [
        (IDENTITY_ACCOUNT, vec!["identity/ldap-bind"]),
        ("team=payments", vec!["payments/stripe-key"]),
        ("identity/*", vec!["identity/ldap-bind"]),
        (
            "payments/*,222222222222",
            vec!["identity/ldap-bind", "payments/stripe-key"],
        ),
        ("team=nobody", vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("person{number}");
        let who = scoped_session(&pool, &name, Role::Viewer, scope).await;
        let listed = get(&app, "/api/v1/secrets?sort=name", &who).await;
        let listed: Value = serde_json::from_str(&listed.body).unwrap();
        let names: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|secret| secret["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "scope {scope}");
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_scoped_person_sees_an_incident_only_through_their_own_secrets(pool: PgPool) {
    use trailkeeper::findings::store::record;
    use trailkeeper::findings::{Draft, Verdict};
    use trailkeeper_app::api::findings::{FindingKind, Severity};

    two_team_estate(&pool).await;
    let sweeper = format!("arn:aws:iam::{PAYMENTS_ACCOUNT}:role/sweeper");
    let at = Utc::now() - Duration::minutes(30);
    let deleted = |minute: i64, arn: &str, name: &str, severity| {
        Verdict::Finding(Draft {
            kind: FindingKind::SecretDeleted,
            severity,
            title: format!("{name} deleted"),
            explanation: format!("sweeper deleted {name} without recovery."),
            secret_arn: Some(arn.into()),
            secret_name: Some(name.into()),
            principal: Some(sweeper.clone()),
            account_id: Some(PAYMENTS_ACCOUNT.into()),
            region: Some("us-east-1".into()),
            first_seen: at + Duration::minutes(minute),
            last_seen: at + Duration::minutes(minute),
            count: 1,
            evidence: vec![format!("evt-delete-{minute}")],
            detail: json!({}),
        })
    };
    // The identity team's secret first: the incident's first secret is foreign to payments.
    let verdicts = vec![
        deleted(0, IDENTITY_SECRET, "identity/ldap-bind", Severity::Critical),
        deleted(2, PAYMENTS_SECRET, "payments/stripe-key", Severity::High),
    ];
    let mut db = pool.acquire().await.unwrap();
    let recorded = record(&mut db, verdicts, Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(
        recorded.opened, 1,
        "two deletions minutes apart are one incident"
    );
    let app = app(pool.clone()).await;

    let admin = common::signed_in(&pool, "ada", Role::Admin).await;
    let all = get(&app, "/api/v1/findings?kind=secret_deleted", &admin).await;
    let all: Value = serde_json::from_str(&all.body).unwrap();
    let incident = &all["items"][0];
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all}");
    assert_eq!(incident["severity"], "critical");
    assert_eq!(
        incident["title"],
        "Secret deleted: 2 secrets within 2 minutes by sweeper"
    );
    assert_eq!(incident["secrets"].as_array().unwrap().len(), 2);
    assert_eq!(incident["count"], 2);

    let viewer = scoped_session(&pool, "pat", Role::Viewer, "team=payments").await;
    let seen = get(&app, "/api/v1/findings?kind=secret_deleted", &viewer).await;
    assert_nothing_foreign("the findings API", &seen.body, &FOREIGN);
    let seen: Value = serde_json::from_str(&seen.body).unwrap();
    let theirs = &seen["items"][0];
    assert_eq!(theirs["id"], incident["id"]);
    assert_eq!(theirs["secret_name"], "payments/stripe-key");
    assert_eq!(theirs["title"], "payments/stripe-key deleted");
    assert_eq!(theirs["count"], 1);
    assert_eq!(theirs["secrets"].as_array().unwrap().len(), 1);
    let id = incident["id"].as_i64().unwrap();
    for path in [format!("/findings/{id}"), format!("/api/v1/findings/{id}")] {
        let page = get(&app, &path, &viewer).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_nothing_foreign(&path, &page.body, &FOREIGN);
    }
}
