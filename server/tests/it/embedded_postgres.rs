//! The private PostgreSQL cluster with the system's real initdb/pg_ctl: shared by every
//! process on one data directory, stopped by the last one out, recovered after a crash.

use std::fs;
use std::path::Path;

use sqlx::{Connection, PgConnection};
use trailkeeper::db::embedded::EmbeddedPostgres;
use trailkeeper::db::{Database, DatabaseSource, MIGRATOR};

async fn answers(cluster: &EmbeddedPostgres) -> bool {
    match PgConnection::connect_with(&cluster.connect_options()).await {
        Ok(mut connection) => sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&mut connection)
            .await
            .is_ok(),
        Err(_) => false,
    }
}

fn running(data_dir: &Path) -> bool {
    data_dir.join("pg/postmaster.pid").exists()
}

fn start(data_dir: &Path) -> EmbeddedPostgres {
    EmbeddedPostgres::start(data_dir).expect("the private cluster starts")
}

#[tokio::test]
async fn the_cluster_is_shared_and_the_last_user_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let first = start(&data_dir);
    assert!(
        data_dir.join("pg/PG_VERSION").exists(),
        "initdb made a cluster"
    );
    let pid_before = fs::read_to_string(data_dir.join("pg/postmaster.pid")).unwrap();

    // A second user (in real life another trailkeeper process) joins the same postmaster.
    let second = start(&data_dir);
    assert_eq!(
        fs::read_to_string(data_dir.join("pg/postmaster.pid")).unwrap(),
        pid_before
    );

    second.release().unwrap();
    assert!(running(&data_dir), "the first user still needs the cluster");

    let mut connection = PgConnection::connect_with(&first.connect_options().database("postgres"))
        .await
        .unwrap();
    let answer: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(answer, 1);
    connection.close().await.unwrap();

    first.release().unwrap();
    assert!(!running(&data_dir), "the last user stopped the cluster");
}

#[tokio::test]
async fn a_stale_lock_left_by_a_crash_is_recovered_from() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    start(&data_dir).release().unwrap();

    // A crash leaves postmaster.pid behind, naming a process that is gone (or, after pid
    // reuse, an unrelated one: here, this test process).
    let pid_file = data_dir.join("pg/postmaster.pid");
    for stale_pid in [i32::MAX as u32, std::process::id()] {
        fs::write(
            &pid_file,
            format!("{stale_pid}\n{}\n", data_dir.join("pg").display()),
        )
        .unwrap();
        let cluster = start(&data_dir);
        let new_pid = fs::read_to_string(&pid_file).unwrap();
        assert_ne!(new_pid.lines().next().unwrap(), stale_pid.to_string());
        cluster.release().unwrap();
        assert!(!running(&data_dir));
    }
}

#[tokio::test]
async fn the_embedded_database_is_created_and_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let source = DatabaseSource::Embedded {
        data_dir: dir.path().join("data"),
    };

    let database = Database::open(&source).await.unwrap();
    assert!(database.location().contains("private cluster"));
    let applied = database.migrate().await.unwrap();
    let every_version: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(
        applied.iter().map(|m| m.version).collect::<Vec<_>>(),
        every_version
    );
    assert_eq!(database.pending_migrations().await.unwrap(), 0);
    database.close().await;

    let database = Database::open(&source).await.unwrap();
    assert!(
        database.migrate().await.unwrap().is_empty(),
        "nothing left to apply on the second start"
    );
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert_eq!(tables, 0);
    database.close().await;
    assert!(!running(&dir.path().join("data")));
}

#[tokio::test]
async fn connect_options_reach_the_running_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(&dir.path().join("data"));
    assert!(
        !answers(&cluster).await,
        "the trailkeeper database does not exist before Database::open"
    );
    let source = DatabaseSource::Embedded {
        data_dir: dir.path().join("data"),
    };
    let database = Database::open(&source).await.unwrap();
    assert!(answers(&cluster).await);
    database.close().await;
    cluster.release().unwrap();
}

#[tokio::test]
async fn the_clusters_processes_inherit_none_of_trailkeepers_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let canary = "tk-env-canary-5b1d";
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_trailkeeper"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "db", "run", "--"])
        .arg("sh")
        .arg("-c")
        // While the cluster runs: every postgres process's environment.
        .arg("cat /proc/$(head -1 \"$PGHOST/postmaster.pid\")/environ | tr '\\0' '\\n'")
        .env_remove("DATABASE_URL")
        .env("AWS_SECRET_ACCESS_KEY", canary)
        .env("TRAILKEEPER_OIDC_CLIENT_SECRET", canary)
        .env("SOMETHING_ELSE", canary)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let environment = String::from_utf8_lossy(&status.stdout);
    assert!(environment.contains("LC_ALL=C"), "{environment}");
    assert!(!environment.contains(canary), "{environment}");
    assert!(!running(&data_dir));
}

#[tokio::test]
async fn trailkeeper_serves_as_a_role_that_cannot_rewrite_the_audit_log() {
    use trailkeeper::audit::{Action, Entry, SYSTEM_ACTOR};
    let dir = tempfile::tempdir().unwrap();
    let source = DatabaseSource::Embedded {
        data_dir: dir.path().join("data"),
    };
    let database = Database::open(&source).await.unwrap();
    database.migrate().await.unwrap();
    let pool = database.pool();

    let (role, superuser): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((role.as_str(), superuser), ("trailkeeper_app", false));

    let id = Entry::new(SYSTEM_ACTOR, Action::ServiceStarted, "kept".to_string())
        .record(pool)
        .await
        .unwrap();
    for attack in [
        "DELETE FROM audit_log".to_string(),
        format!("UPDATE audit_log SET summary = 'rewritten' WHERE id = {id}"),
        "TRUNCATE audit_log".to_string(),
        "DROP TRIGGER audit_log_append_only ON audit_log".to_string(),
        "ALTER TABLE audit_log DISABLE TRIGGER ALL".to_string(),
        "DROP TABLE audit_log".to_string(),
        "CREATE TABLE planted (x integer)".to_string(),
        "ALTER TABLE events ADD COLUMN planted integer".to_string(),
    ] {
        let refused = sqlx::query(&attack).execute(pool).await.unwrap_err();
        let code = refused
            .as_database_error()
            .and_then(|error| error.code())
            .map(|code| code.to_string());
        assert_eq!(code.as_deref(), Some("42501"), "{attack}: {refused}");
    }
    // Making and dropping months of events is allowed, and nothing else through it.
    sqlx::query("SELECT trailkeeper_create_events_partition(2026, 11)")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("SELECT trailkeeper_drop_events_partition('events_y2026m11')")
        .execute(pool)
        .await
        .unwrap();
    let refused = sqlx::query("SELECT trailkeeper_drop_events_partition('audit_log')")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not a partition of events"),
        "{refused}"
    );

    let kept: String = sqlx::query_scalar("SELECT summary FROM audit_log WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(kept, "kept");
    database.close().await;
}
