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
