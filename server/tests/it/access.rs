//! Who may reach what, through the real router and a real PostgreSQL: sign-in and sessions,
//! the access table for every route, cross-site requests, API tokens and the audit log.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{
    As, Fetched, HOST, PASSWORD, app, app_with, get, post_form, send, send_json, signed_in,
};
use leptos_axum::generate_route_list;
use serde_json::Value;
use sqlx::PgPool;
use trailkeeper::audit;
use trailkeeper::auth::sign_in::{self, SignInLimits};
use trailkeeper::auth::{sessions, tokens, users};
use trailkeeper::web::server_routes;
use trailkeeper_app::access::{self, Access};
use trailkeeper_app::api::audit::AuditFilter;
use trailkeeper_app::{App, Role};

/// Signs in through the form, as a browser does.
async fn sign_in(app: &Router, name: &str, password: &str, who: &As) -> Fetched {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", name)
        .append_pair("password", password)
        .append_pair("next", "/audit?actor=ada")
        .finish();
    post_form(app, "/login", &body, who).await
}

/// A request to `path` as `who`; server functions are POSTed from our own origin.
pub(crate) async fn request(app: &Router, method: &Method, path: &str, who: &As) -> Fetched {
    match *method {
        Method::GET => get(app, path, who).await,
        Method::POST => post_form(app, path, "", who).await,
        _ => send_json(app, method.as_str(), path, "", who).await,
    }
}

/// Every registered route, with an example address for routes that take parameters.
pub(crate) fn every_route() -> Vec<(Method, String, Access)> {
    let example = |path: &str| {
        path.split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "example"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut routes = Vec::new();
    for listing in generate_route_list(App) {
        let path = listing.path().to_string();
        let access = access::required(&path)
            .unwrap_or_else(|| panic!("page {path} has no rule in the access table"));
        routes.push((Method::GET, example(&path), access));
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        let access = access::required(path)
            .unwrap_or_else(|| panic!("server function {path} has no rule in the access table"));
        routes.push((method, example(path), access));
    }
    for route in server_routes() {
        routes.push((route.method, example(&route.path), route.access));
    }
    routes
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn every_route_needs_a_session_and_the_role_the_access_table_names(pool: PgPool) {
    let mut by_role = Vec::new();
    for role in Role::ALL {
        by_role.push((role, signed_in(&pool, role.as_str(), role).await));
    }
    let app = app(pool).await;
    let routes = every_route();
    assert!(routes.len() >= 12, "{routes:?}");

    for (method, path, access) in routes {
        let anonymous = request(&app, &method, &path, &As::Nobody).await;
        let Some(needed) = access.role() else {
            assert!(
                !matches!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                ),
                "{method} {path} is public but answered {}",
                anonymous.status
            );
            continue;
        };
        let is_page = method == Method::GET && !path.starts_with("/api/") && path != "/metrics";
        if is_page {
            assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{method} {path}");
            assert!(
                anonymous.location().starts_with("/login"),
                "{method} {path} sent nobody to {}",
                anonymous.location()
            );
        } else {
            assert_eq!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
            let error: Value = serde_json::from_str(&anonymous.body).unwrap();
            assert_eq!(error["error"], "sign in required", "{method} {path}");
        }
        for (role, session) in &by_role {
            let answer = request(&app, &method, &path, session).await;
            if role.includes(needed) {
                assert!(
                    !matches!(
                        answer.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    ) && !answer.status.is_server_error(),
                    "{method} {path} refused {role}: {} {}",
                    answer.status,
                    answer.body
                );
            } else {
                assert_eq!(
                    answer.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} let {role} in (needs {needed})"
                );
            }
        }
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_page_redirects_to_sign_in_and_back_to_where_it_was(pool: PgPool) {
    users::add(&pool, "test", "ada", Role::Admin, PASSWORD)
        .await
        .unwrap();
    let app = app(pool.clone()).await;

    let refused = get(&app, "/audit?actor=ada", &As::Nobody).await;
    assert_eq!(refused.location(), "/login?next=%2Faudit%3Factor%3Dada");
    let login = get(&app, "/login?next=%2Faudit%3Factor%3Dada", &As::Nobody).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("name=\"password\""), "{}", login.body);
    assert!(
        login.body.contains("value=\"/audit?actor=ada\""),
        "{}",
        login.body
    );

    let signed_in = sign_in(&app, "ADA", PASSWORD, &As::Nobody).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), "/audit?actor=ada");
    let set_cookie = signed_in.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = As::Cookie(signed_in.session_cookie().unwrap());

    let page = get(&app, "/audit?actor=ada", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("ada signed in with role admin"),
        "{}",
        page.body
    );

    // The session id is stored only as a digest.
    let secret = signed_in.session_cookie().unwrap();
    let secret = secret.split_once('=').unwrap().1;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE token_hash = $1")
        .bind(secret.as_bytes())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn each_sign_in_gets_a_new_session_and_ends_the_previous_one(pool: PgPool) {
    users::add(&pool, "test", "ada", Role::Viewer, PASSWORD)
        .await
        .unwrap();
    let app = app(pool).await;
    let first = sign_in(&app, "ada", PASSWORD, &As::Nobody)
        .await
        .session_cookie()
        .unwrap();
    let second = sign_in(&app, "ada", PASSWORD, &As::Cookie(first.clone()))
        .await
        .session_cookie()
        .unwrap();
    assert_ne!(first, second, "the session id changes at sign-in");
    assert_eq!(
        get(&app, "/", &As::Cookie(second)).await.status,
        StatusCode::OK
    );
    let old = get(&app, "/", &As::Cookie(first)).await;
    assert_eq!(old.location(), "/login?reason=expired");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn signing_out_ends_the_session(pool: PgPool) {
    users::add(&pool, "test", "ada", Role::Viewer, PASSWORD)
        .await
        .unwrap();
    let app = app(pool.clone()).await;
    let cookie = As::Cookie(
        sign_in(&app, "ada", PASSWORD, &As::Nobody)
            .await
            .session_cookie()
            .unwrap(),
    );
    let out = post_form(&app, "/logout", "", &cookie).await;
    assert_eq!(out.location(), "/login?reason=signed-out");
    let removal = out.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(removal.starts_with("trailkeeper_session=;"), "{removal}");
    assert!(get(&app, "/", &cookie).await.status.is_redirection());
    let entry = &audit::recent(&pool, 1).await.unwrap()[0];
    assert_eq!(
        (entry.action.as_str(), entry.summary.as_str()),
        ("auth.sign_out", "ada signed out")
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn idle_expired_disabled_and_demoted_sessions_are_refused(pool: PgPool) {
    let app = app_with(&pool, &["--session-idle-timeout", "60s"]).await;
    let alive = |cookie: As| {
        let app = app.clone();
        async move { get(&app, "/", &cookie).await.status == StatusCode::OK }
    };

    let idle = signed_in(&pool, "idle", Role::Viewer).await;
    assert!(alive(idle.clone()).await);
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '61 seconds'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(!alive(idle).await, "idle for longer than the timeout");

    let old = signed_in(&pool, "old", Role::Viewer).await;
    sqlx::query(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert!(!alive(old).await, "past the absolute lifetime");

    let disabled = signed_in(&pool, "gone", Role::Viewer).await;
    users::disable(&pool, "test", "gone").await.unwrap();
    assert!(!alive(disabled).await, "the user was disabled");

    let demoted = signed_in(&pool, "demoted", Role::Admin).await;
    users::set_role(&pool, "test", "demoted", Role::Viewer)
        .await
        .unwrap();
    assert!(!alive(demoted).await, "the role changed");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn activity_keeps_a_session_alive_written_down_at_most_every_tenth_of_the_idle_timeout(
    pool: PgPool,
) {
    let app = app_with(&pool, &["--session-idle-timeout", "60s"]).await;
    let busy = signed_in(&pool, "busy", Role::Viewer).await;
    let idle_for = |pool: PgPool| async move {
        sqlx::query_scalar::<_, f64>(
            "SELECT extract(epoch FROM now() - last_seen_at)::float8 FROM sessions",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let seen = |seconds: i32| {
        sqlx::query("UPDATE sessions SET last_seen_at = now() - make_interval(secs => $1)")
            .bind(seconds)
    };

    // Seen 3 seconds ago: a page view reads the session and writes nothing.
    seen(3).execute(&pool).await.unwrap();
    assert_eq!(get(&app, "/", &busy).await.status, StatusCode::OK);
    assert!(
        idle_for(pool.clone()).await >= 3.0,
        "written down again too soon"
    );

    // Seen 50 seconds ago: the view counts as activity, and the timeout starts again.
    seen(50).execute(&pool).await.unwrap();
    assert_eq!(get(&app, "/", &busy).await.status, StatusCode::OK);
    assert!(
        idle_for(pool.clone()).await < 5.0,
        "the activity was not written down"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn failed_sign_ins_are_audited_without_the_password_and_then_throttled(pool: PgPool) {
    users::add(&pool, "test", "ada", Role::Viewer, PASSWORD)
        .await
        .unwrap();
    let app = app(pool.clone()).await;
    for _ in 0..5 {
        let failed = sign_in(&app, "ada", "wrong password guess", &As::Nobody).await;
        assert_eq!(
            failed.location(),
            "/login?reason=invalid&next=%2Faudit%3Factor%3Dada"
        );
        assert!(failed.session_cookie().is_none());
    }
    let unknown = sign_in(&app, "nobody", "wrong password guess", &As::Nobody).await;
    assert!(unknown.location().starts_with("/login?reason=invalid"));

    // Even the right password is not checked now.
    let throttled = sign_in(&app, "ada", PASSWORD, &As::Nobody).await;
    assert!(
        throttled
            .location()
            .starts_with("/login?reason=throttled&retry=15"),
        "{}",
        throttled.location()
    );
    assert!(throttled.session_cookie().is_none());

    let failures = audit::page(
        &pool,
        &AuditFilter {
            action: Some("auth.".into()),
            ..AuditFilter::default()
        },
    )
    .await
    .unwrap()
    .entries;
    assert_eq!(failures.len(), 7);
    assert_eq!(failures[0].outcome, "denied");
    assert_eq!(
        failures[1].summary,
        "sign-in as nobody failed: no such user"
    );
    assert_eq!(failures[2].summary, "sign-in as ada failed: wrong password");
    assert!(
        failures
            .iter()
            .all(|entry| entry.address.as_deref() == Some("unknown"))
    );
    let everything: String =
        sqlx::query_scalar("SELECT string_agg(summary || detail::text, ' ') FROM audit_log")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!everything.contains("wrong password guess"));
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn concurrent_guesses_get_no_more_checks_than_the_limit_and_the_lock_is_short(pool: PgPool) {
    users::add(&pool, "test", "ada", Role::Admin, PASSWORD)
        .await
        .unwrap();
    let window = Duration::from_secs(10);
    // No setting reaches the sign-in limits; a short window keeps the test short.
    let mut context = common::context(&pool, &[]).await;
    context.auth.limits = SignInLimits {
        window,
        ..SignInLimits::default()
    };
    let app = trailkeeper::web::router(context);
    let guesses = (0..50).map(|n| {
        let app = app.clone();
        async move { sign_in(&app, "ada", &format!("guess number {n}"), &As::Nobody).await }
    });
    let answers = futures::future::join_all(guesses).await;
    assert!(
        answers
            .iter()
            .all(|answer| answer.session_cookie().is_none())
    );

    let outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT outcome FROM audit_log WHERE action = 'auth.sign_in' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let verified = outcomes
        .iter()
        .filter(|outcome| *outcome == "failure")
        .count();
    let refused = outcomes
        .iter()
        .filter(|outcome| *outcome == "denied")
        .count();
    assert!(verified <= 5, "{verified} passwords were checked");
    assert_eq!(verified + refused, 50, "{outcomes:?}");

    // While the lock holds, even the right password is refused unchecked.
    let throttled = sign_in(&app, "ada", PASSWORD, &As::Nobody).await;
    assert!(
        throttled.location().starts_with("/login?reason=throttled"),
        "{}",
        throttled.location()
    );
    // The lock is short: once the window has passed, the administrator signs in.
    tokio::time::sleep(window).await;
    let signed_in = sign_in(&app, "ada", PASSWORD, &As::Nobody).await;
    assert!(
        signed_in.session_cookie().is_some(),
        "{}",
        signed_in.location()
    );

    // Anonymous failures do not pile up: a day on, they are forgotten (the audit log keeps
    // them).
    let failed = sign_in(&app, "nobody", "guess", &As::Nobody).await;
    assert!(failed.location().starts_with("/login?reason=invalid"));
    sqlx::query(
        "INSERT INTO sign_in_failures (account, address, failed_at) \
         VALUES ('mallory', '198.51.100.7', now() - interval '2 days')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let purged = sign_in::purge_old_failures(&pool, SignInLimits::default())
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT account FROM sign_in_failures")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, ["nobody"]);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn cross_site_posts_are_refused_even_with_a_valid_session(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let app = app(pool).await;
    let post = |headers: &[(&str, &str)]| {
        let mut builder = Request::post("/api/overview")
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let As::Cookie(cookie) = &viewer {
            builder = builder.header(header::COOKIE, cookie);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    };
    for hostile in [
        vec![("origin", "https://evil.example")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        vec![("sec-fetch-site", "same-site")],
        vec![],
    ] {
        let refused = send(&app, post(&hostile)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{hostile:?}");
        assert!(
            refused.body.contains("cross-site request refused"),
            "{}",
            refused.body
        );
    }
    let same_origin = send(&app, post(&[("sec-fetch-site", "same-origin")])).await;
    assert_eq!(same_origin.status, StatusCode::OK, "{}", same_origin.body);

    // Signing in (or out) from another site is refused too.
    let forged = Request::post("/login")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=vic&password=x"))
        .unwrap();
    assert_eq!(send(&app, forged).await.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn api_tokens_get_exactly_their_role_until_revoked_or_expired(pool: PgPool) {
    let (_, auditor) = tokens::create(&pool, "ops", "exporter", Role::Auditor, None, None)
        .await
        .unwrap();
    let app = app(pool.clone()).await;

    let me = get(&app, "/api/v1/me", &As::Bearer(auditor.clone())).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let me: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(
        me,
        serde_json::json!({ "name": "exporter", "role": "auditor", "credential": "token" })
    );
    // An auditor token cannot use what needs admin.
    let audit_log = send(
        &app,
        Request::post("/api/audit_log")
            .header(header::AUTHORIZATION, format!("Bearer {auditor}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(audit_log.status, StatusCode::FORBIDDEN);

    let listed = tokens::list(&pool).await.unwrap();
    assert!(listed[0].last_used_at.is_some());
    let error = tokens::create(&pool, "ops", "EXPORTER", Role::Viewer, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "an active token named \"EXPORTER\" already exists; revoke it first"
    );

    tokens::revoke(&pool, "ops", "exporter").await.unwrap();
    let revoked = get(&app, "/api/v1/me", &As::Bearer(auditor)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert!(revoked.body.contains("unknown, revoked or expired"));

    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (_, expired) = tokens::create(&pool, "ops", "exporter", Role::Admin, None, Some(past))
        .await
        .unwrap();
    assert_eq!(
        get(&app, "/api/v1/me", &As::Bearer(expired)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&app, "/api/v1/me", &As::Bearer("tkp_made-up".into()))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let actions: Vec<String> = audit::recent(&pool, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, ["token.created", "token.revoked", "token.created"]);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_openapi_document_describes_the_api_and_its_bearer_authentication(pool: PgPool) {
    let (_, token) = tokens::create(&pool, "ops", "reader", Role::Viewer, None, None)
        .await
        .unwrap();
    let document = get(&app(pool).await, "/api/v1/openapi.json", &As::Bearer(token)).await;
    assert_eq!(document.status, StatusCode::OK);
    let document: Value = serde_json::from_str(&document.body).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert!(
        document["paths"]["/api/v1/me"]["get"].is_object(),
        "{document}"
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(document["components"]["schemas"]["Me"].is_object());
    for path in [
        "/api/v1/secrets",
        "/api/v1/secrets/{id}",
        "/api/v1/secrets/{id}/access",
        "/api/v1/secrets/{id}/rotations",
    ] {
        assert!(document["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert!(document["components"]["schemas"]["RotationImpact"].is_object());
    for (path, method) in [
        ("/api/v1/alerts/channels", "get"),
        ("/api/v1/alerts/channels", "post"),
        ("/api/v1/alerts/channels/{id}", "patch"),
        ("/api/v1/alerts/channels/{id}", "delete"),
        ("/api/v1/alerts/channels/{id}/test", "post"),
        ("/api/v1/alerts/rules", "get"),
        ("/api/v1/alerts/rules", "post"),
        ("/api/v1/alerts/deliveries", "get"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    // The events list and its exports take the same filters.
    for path in [
        "/api/v1/events",
        "/api/v1/events/export.csv",
        "/api/v1/events/export.jsonl",
    ] {
        let names: Vec<&str> = document["paths"][path]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has no shared parameters"))
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap())
            .collect();
        for filter in [
            "since",
            "until",
            "secret",
            "principal",
            "source_ip",
            "error_code",
        ] {
            assert!(names.contains(&filter), "{path} lacks {filter}: {names:?}");
        }
    }
    let summary = &document["components"]["schemas"]["SecretSummary"]["properties"];
    for field in [
        "arn",
        "name",
        "region",
        "rotation_status",
        "rotation_reason",
        "flags",
    ] {
        assert!(summary[field].is_object(), "SecretSummary lacks {field}");
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_audit_log_is_append_only_and_filtered_by_its_page(pool: PgPool) {
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    users::add(&pool, "ada", "bob", Role::Viewer, PASSWORD)
        .await
        .unwrap();
    users::set_role(&pool, "ada", "bob", Role::Auditor)
        .await
        .unwrap();

    for statement in [
        "UPDATE audit_log SET summary = 'nothing happened'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let error = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }

    let app = app(pool).await;
    let page = get(&app, "/audit?actor=ADA&action=user.", &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("set the role of user bob to auditor"),
        "{}",
        page.body
    );
    assert!(page.body.contains("created user bob with role viewer"));
    assert!(
        !page.body.contains("created user ada"),
        "actor test made ada"
    );

    let none = get(&app, "/audit?outcome=failure", &admin).await;
    assert!(none.body.contains("No entries match."), "{}", none.body);
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_navigation_shows_only_what_the_role_may_open(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let page = get(&app(pool.clone()).await, "/", &viewer).await;
    let sections = page.sections();
    assert!(
        sections.iter().any(|section| section == "Secrets"),
        "{sections:?}"
    );
    for hidden in ["Alerts", "Settings", "Audit log", "Users"] {
        assert!(
            !sections.iter().any(|section| section == hidden),
            "{hidden}"
        );
    }
    assert!(page.body.contains("vic"));

    // An admin limited to one team has none of the estate-wide pages either.
    let scope = "team=payments".parse().unwrap();
    let scoped = users::add_scoped(&pool, "test", "sam", Role::Admin, Some(&scope), PASSWORD)
        .await
        .unwrap();
    let session = sessions::create(&pool, scoped.id, Default::default(), None, None)
        .await
        .unwrap();
    let scoped = As::Cookie(format!("trailkeeper_session={}", session.secret));
    let app = app(pool.clone()).await;
    let page = get(&app, "/", &scoped).await;
    let sections = page.sections();
    assert!(
        sections.iter().any(|section| section == "Findings"),
        "{sections:?}"
    );
    for hidden in ["Alerts", "Settings", "Changes", "Audit log", "Users"] {
        assert!(
            !sections.iter().any(|section| section == hidden),
            "{hidden}"
        );
    }
    assert!(
        page.body.contains("team=payments"),
        "the header names the scope"
    );
    let refused = get(&app, "/users", &scoped).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("scoped to part of it"),
        "{}",
        refused.body
    );
    let admin = signed_in(&pool, "ada", Role::Admin).await;
    let sections = get(&app, "/", &admin).await.sections();
    assert!(
        sections.iter().any(|section| section == "Users"),
        "{sections:?}"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn sessions_resolve_only_from_their_own_secret(pool: PgPool) {
    let user = users::add(&pool, "test", "ada", Role::Viewer, PASSWORD)
        .await
        .unwrap();
    let policy = sessions::SessionPolicy::default();
    let session = sessions::create(&pool, user.id, policy, Some("192.0.2.1"), None)
        .await
        .unwrap();
    let found = sessions::resolve(&pool, &session.secret, policy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.identity.name.as_str(), found.identity.role),
        ("ada", Role::Viewer)
    );
    // One character changed in the middle, where every character carries six bits.
    let mut tampered = session.secret.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(
        sessions::resolve(&pool, &tampered, policy)
            .await
            .unwrap()
            .is_none()
    );
}
