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
