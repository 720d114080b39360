//! Local users in a real PostgreSQL.

use sqlx::PgPool;
use trailkeeper::audit;
use trailkeeper::auth::users::{self, UserError};
use trailkeeper_app::Role;

const PASSWORD: &str = "correct horse battery";

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn users_are_added_with_an_argon2id_hash_and_audited(pool: PgPool) {
    let user = users::add(
        &pool,
        "root (command line)",
        "alice",
        Role::Auditor,
        PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(
        (user.name.as_str(), user.role, user.disabled_at),
        ("alice", Role::Auditor, None)
    );

    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE name = 'alice'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(PASSWORD));

    let entry = &audit::recent(&pool, 1).await.unwrap()[0];
    assert_eq!(entry.action, "user.created");
    assert_eq!(entry.actor, "root (command line)");
    assert_eq!(entry.summary, "created user alice with role auditor");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn names_are_unique_regardless_of_case_and_must_be_plain(pool: PgPool) {
    users::add(&pool, "test", "alice", Role::Viewer, PASSWORD)
        .await
        .unwrap();
    let error = users::add(&pool, "test", "Alice", Role::Admin, PASSWORD)
        .await
        .unwrap_err();
    assert!(
        matches!(error, UserError::NameTaken(ref name) if name == "Alice"),
        "{error:?}"
    );

    let error = users::add(&pool, "test", "bob<script>", Role::Viewer, PASSWORD)
        .await
        .unwrap_err();
    assert!(matches!(error, UserError::InvalidName(_)), "{error:?}");
    let error = users::add(&pool, "test", "bob", Role::Viewer, "short")
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "a password needs at least 12 characters");
    assert_eq!(
        users::list(&pool).await.unwrap().len(),
        1,
        "nothing was stored for the refused users"
    );
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn disabling_and_changing_roles_find_the_user_case_insensitively(pool: PgPool) {
    users::add(&pool, "test", "Carol", Role::Viewer, PASSWORD)
        .await
        .unwrap();

    let promoted = users::set_role(&pool, "test", "carol", Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        (promoted.name.as_str(), promoted.role),
        ("Carol", Role::Admin)
    );
    let disabled = users::disable(&pool, "test", "CAROL").await.unwrap();
    assert!(disabled.disabled_at.is_some());
    let again = users::disable(&pool, "test", "carol").await.unwrap();
    assert_eq!(
        again.disabled_at, disabled.disabled_at,
        "disabling twice keeps the first time"
    );

    let actions: Vec<String> = audit::recent(&pool, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "user.disabled",
            "user.disabled",
            "user.role_changed",
            "user.created"
        ]
    );

    let error = users::set_role(&pool, "test", "dave", Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "there is no user named \"dave\"");
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn the_first_admin_is_created_once_with_a_generated_password(pool: PgPool) {
    let password = users::ensure_initial_admin(&pool)
        .await
        .unwrap()
        .expect("a password on first start");
    assert!(password.len() >= 20);
    assert_eq!(
        users::ensure_initial_admin(&pool).await.unwrap(),
        None,
        "only on a store without users"
    );

    let all = users::list(&pool).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].name.as_str(), all[0].role),
        (users::INITIAL_ADMIN, Role::Admin)
    );
    let entries = audit::recent(&pool, 10).await.unwrap();
    assert!(
        entries
            .iter()
            .all(|entry| !entry.summary.contains(&password)),
        "the password is never recorded"
    );
}

/// A server function of the Users page, called as the page calls it.
async fn users_page(
    app: &axum::Router,
    endpoint: &str,
    form: &[(&str, &str)],
    who: &crate::common::As,
) -> crate::common::Fetched {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    crate::common::post_form(app, &format!("/api/{endpoint}"), &body, who).await
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn admins_add_people_change_their_role_and_scope_and_sign_them_out(pool: PgPool) {
    use crate::common::{As, app, signed_in};
    use axum::http::StatusCode;
    use trailkeeper::auth::sessions;

    let app = app(pool.clone()).await;
    let admin = signed_in(&pool, "ada", Role::Admin).await;

    let added = users_page(
        &app,
        "add_user",
        &[
            ("name", "pat"),
            ("role", "viewer"),
            ("scope", "team=payments"),
        ],
        &admin,
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let password: String = serde_json::from_str(&added.body).unwrap();
    let pat = users::credentials(&pool, "pat").await.unwrap().unwrap();
    assert!(trailkeeper::auth::password::verify(
        &password,
        pat.password_hash.as_deref().unwrap()
    ));
    assert_eq!(pat.user.scope.unwrap().to_string(), "team=payments");

    let session = sessions::create(&pool, pat.user.id, Default::default(), None, None)
        .await
        .unwrap();
    let listed = users_page(&app, "users", &[], &admin).await;
    let listed: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["name"] == "pat")
        .unwrap();
    assert_eq!(row["live_sessions"], 1, "{row}");
    assert_eq!(row["role"], "viewer");

    for (change, value, said) in [
        ("role", "auditor", "pat now has the auditor role."),
        (
            "scope",
            "111111111111, team=payments",
            "pat now sees only 111111111111,team=payments.",
        ),
        ("end-sessions", "", "pat is signed out everywhere."),
        ("scope", "", "pat now sees everything their role allows."),
        ("disable", "", "pat is disabled and signed out."),
    ] {
        let answer = users_page(
            &app,
            "change_user",
            &[("name", "pat"), ("change", change), ("value", value)],
            &admin,
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{change}: {}", answer.body);
        assert_eq!(serde_json::from_str::<String>(&answer.body).unwrap(), said);
    }
    let cookie = As::Cookie(format!("trailkeeper_session={}", session.secret));
    let after = crate::common::get(&app, "/api/v1/me", &cookie).await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "signed out everywhere"
    );
    let actions: Vec<String> = audit::recent(&pool, 5)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(
        actions,
        [
            "user.disabled",
            "user.scope_changed",
            "user.sessions_ended",
            "user.scope_changed",
            "user.role_changed"
        ]
    );

    // Nobody takes their own access away here, and a bad value is named.
    let own = users_page(
        &app,
        "change_user",
        &[("name", "ADA"), ("change", "role"), ("value", "viewer")],
        &admin,
    )
    .await;
    assert_eq!(own.status, StatusCode::CONFLICT, "{}", own.body);
    for (form, named) in [
        (
            vec![("name", "bo"), ("role", "root"), ("scope", "")],
            "role",
        ),
        (
            vec![("name", "bo"), ("role", "viewer"), ("scope", "pay*ments")],
            "scope",
        ),
        (
            vec![("name", "b o"), ("role", "viewer"), ("scope", "")],
            "name",
        ),
    ] {
        let refused = users_page(&app, "add_user", &form, &admin).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.body.contains(named), "{}", refused.body);
    }
    let taken = users_page(
        &app,
        "add_user",
        &[("name", "PAT"), ("role", "viewer"), ("scope", "")],
        &admin,
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
}
