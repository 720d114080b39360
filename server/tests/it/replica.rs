//! A real streaming read replica of the test's PostgreSQL (`pg_basebackup`, then a second
//! server on the same machine): pages and the API read from it, writes go to the primary,
//! and someone who just changed something reads their change from the primary until the
//! replica has it.

use crate::common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use common::{As, Fetched, app_with, get, send_json, signed_in};
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use trailkeeper::web::replica::WROTE_COOKIE;
use trailkeeper_app::Role;

/// A hot standby of the primary's whole cluster, stopped when dropped.
struct Replica {
    server: Child,
    options: PgConnectOptions,
    _dir: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl Replica {
    /// Copies the primary's cluster with `pg_basebackup` and starts it as a streaming
    /// replica, as the user the primary runs as, listening on a socket of its own.
    async fn start(primary: &PgPool) -> Replica {
        let options = (*primary.connect_options()).clone();
        let socket = options
            .get_socket()
            .expect("the test cluster listens on a unix socket")
            .to_path_buf();
        let owner = std::fs::metadata(&socket).unwrap();
        let (uid, gid) = (owner.uid(), owner.gid());
        // Where initdb really is (PATH may hold links to it): pg_basebackup is beside it.
        let initdb = trailkeeper::db::embedded::find_server_programs()
            .expect("PostgreSQL's server programs are installed")
            .join("initdb");
        let programs = std::fs::canonicalize(initdb).unwrap();
        let programs = programs.parent().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data: PathBuf = dir.path().join("replica");
        // Not the data directory, as the primary's is: the copy holds the primary's socket lock.
        let sockets: PathBuf = dir.path().join("sockets");
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&sockets).unwrap();
        for path in [dir.path(), &data, &sockets] {
            nix::unistd::chown(path, Some(uid.into()), Some(gid.into())).unwrap();
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();

        let copied = Command::new(programs.join("pg_basebackup"))
            .arg("--pgdata")
            .arg(&data)
            .arg("--host")
            .arg(&socket)
            .args(["--port", &options.get_port().to_string()])
            .args(["--username", options.get_username()])
            .args([
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
            ])
            .current_dir(dir.path())
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap();
        assert!(
            copied.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&copied.stderr)
        );
        let server = Command::new(programs.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses="])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", sockets.display()))
            .args(["-c", "hot_standby=on"])
            .current_dir(dir.path())
            .uid(uid)
            .gid(gid)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let replica = Replica {
            server,
            options: options.socket(&sockets),
            _dir: dir,
        };
        let started = Instant::now();
        loop {
            if let Ok(mut connection) = PgConnection::connect_with(&replica.options).await
                && sqlx::query_scalar::<_, bool>("SELECT pg_is_in_recovery()")
                    .fetch_one(&mut connection)
                    .await
                    .unwrap_or(false)
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the replica did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        replica
    }

    fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }

    /// Stops or restarts replaying what the primary writes.
    async fn replay(&self, on: bool) {
        let mut connection = PgConnection::connect_with(&self.options).await.unwrap();
        let call = if on {
            "SELECT pg_wal_replay_resume()"
        } else {
            "SELECT pg_wal_replay_pause()"
        };
        sqlx::query(call).execute(&mut connection).await.unwrap();
    }
}

fn json_body(fetched: &Fetched) -> Value {
    serde_json::from_str(&fetched.body).unwrap_or_else(|_| panic!("not JSON: {}", fetched.body))
}

/// `who`'s cookie with the one a write left beside it.
fn with_cookie(who: &As, wrote: &str) -> As {
    match who {
        As::Cookie(cookie) => As::Cookie(format!("{cookie}; {wrote}")),
        _ => panic!("a signed-in person has a cookie"),
    }
}

/// Waits (up to a minute) until `done` says the answer at `path` is the awaited one.
async fn until(app: &Router, path: &str, who: &As, done: impl Fn(&Fetched) -> bool) -> Fetched {
    let started = Instant::now();
    loop {
        let fetched = get(app, path, who).await;
        if done(&fetched) {
            return fetched;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{path} never became what was awaited: {} {}",
            fetched.status,
            fetched.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn pages_read_the_replica_and_a_persons_own_change_reads_the_primary(pool: PgPool) {
    let finding: i64 = sqlx::query_scalar(
        "INSERT INTO findings (kind, severity, title, explanation, first_seen, last_seen, count) \
         VALUES ('bulk_retrieval', 'high', 'A sweep of secrets', 'Many reads at once.', \
                 now(), now(), 1) RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let auditor = signed_in(&pool, "audrey", Role::Auditor).await;
    let replica = Replica::start(&pool).await;
    let url = replica.url();
    let app = app_with(
        &pool,
        &["--read-database-url", &url, "--read-max-lag", "1s"],
    )
    .await;
    let ready = until(&app, "/healthz/ready", &viewer, |ready| ready.status == 200).await;
    assert_eq!(json_body(&ready)["replica"]["status"], "up");

    // The replica stops replaying; the primary gets a secret the replica does not have.
    replica.replay(false).await;
    let name = "prod/written-on-the-primary";
    sqlx::query(
        "INSERT INTO secrets (arn, name, region, account_id) VALUES ($1, $2, 'us-east-1', \
         '111111111111')",
    )
    .bind(format!(
        "arn:aws:secretsmanager:us-east-1:111111111111:secret:{name}-AbCdEf"
    ))
    .bind(name)
    .execute(&pool)
    .await
    .unwrap();
    let listed = get(&app, "/api/v1/secrets", &viewer).await;
    assert_eq!(listed.status, 200);
    assert!(
        !listed.body.contains(name),
        "the API read the primary: {}",
        listed.body
    );
    let page = get(&app, "/secrets", &viewer).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(name), "the page read the primary");
    assert!(
        !page.headers.contains_key(header::SET_COOKIE) || {
            let cookies: Vec<_> = page.headers.get_all(header::SET_COOKIE).iter().collect();
            cookies
                .iter()
                .all(|cookie| !cookie.to_str().unwrap().starts_with(WROTE_COOKIE))
        },
        "reading leaves no cookie"
    );

    // The auditor acknowledges the finding: written to the primary, and they see it so.
    let triaged = send_json(
        &app,
        "POST",
        &format!("/api/v1/findings/{finding}/triage"),
        &json!({ "action": "acknowledge" }).to_string(),
        &auditor,
    )
    .await;
    assert_eq!(triaged.status, 200, "{}", triaged.body);
    let wrote = triaged
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|cookie| cookie.to_str().unwrap())
        .find(|cookie| cookie.starts_with(WROTE_COOKIE))
        .expect("a write leaves the primary's position in a cookie");
    let wrote = wrote.split(';').next().unwrap().to_string();
    let path = format!("/api/v1/findings/{finding}");
    let own = get(&app, &path, &with_cookie(&auditor, &wrote)).await;
    assert_eq!(json_body(&own)["status"], "acknowledged");
    // Everyone else reads the replica, which has not replayed it yet.
    assert_eq!(
        json_body(&get(&app, &path, &viewer).await)["status"],
        "open"
    );
    // A position that is no WAL position is ignored, not sent to the database.
    let hostile = with_cookie(&viewer, &format!("{WROTE_COOKIE}=0/1'; DROP TABLE events"));
    assert_eq!(
        json_body(&get(&app, &path, &hostile).await)["status"],
        "open"
    );

    // Paused with the primary ahead, the replica falls behind: not ready for traffic.
    let lagging = until(&app, "/healthz/ready", &viewer, |ready| ready.status == 503).await;
    assert_eq!(json_body(&lagging)["replica"]["status"], "lagging");
    assert_eq!(json_body(&lagging)["database"]["status"], "up");

    // Replaying again, it catches up: everyone sees both changes, and it is ready. The
    // triage was written last, so once it shows, the replay has passed the secret too.
    replica.replay(true).await;
    until(&app, &path, &viewer, |finding| {
        json_body(finding)["status"] == "acknowledged"
    })
    .await;
    let listed = get(&app, "/api/v1/secrets", &viewer).await;
    assert!(listed.body.contains(name), "{}", listed.body);
    until(&app, "/healthz/ready", &viewer, |ready| ready.status == 200).await;
}

#[sqlx::test(migrator = "trailkeeper::db::MIGRATOR")]
async fn a_replica_that_is_down_makes_the_server_not_ready_but_alive(pool: PgPool) {
    let viewer = signed_in(&pool, "vic", Role::Viewer).await;
    let unreachable = (*pool.connect_options())
        .clone()
        .socket("/nonexistent")
        .to_url_lossy()
        .to_string();
    let app = app_with(&pool, &["--read-database-url", &unreachable]).await;
    let ready = get(&app, "/healthz/ready", &viewer).await;
    assert_eq!(ready.status, 503);
    assert_eq!(json_body(&ready)["replica"]["status"], "down");
    assert_eq!(json_body(&ready)["database"]["status"], "up");
    assert_eq!(
        json_body(&get(&app, "/healthz/ready", &As::Nobody).await),
        json!({ "status": "unavailable" })
    );
    assert_eq!(get(&app, "/healthz/live", &As::Nobody).await.status, 200);
}
