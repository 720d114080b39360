//! The `trailkeeper` binary as a user runs it.

use std::io::Read;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::serve_process as serve;

/// Runs the binary with a scratch data directory (unless `--data-dir` is given); a command
/// still running after 60 s (a `serve` that should have refused to start) is killed.
fn trailkeeper(args: &[&str], env: &[(&str, &str)]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailkeeper"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("TRAILKEEPER_DATA_DIR", scratch.path().join("data"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("trailkeeper {args:?} was still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Runs a command to completion on a data directory that outlives it, with `stdin` as input.
fn run_in(data_dir: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailkeeper"))
        .args(["--data-dir", data_dir])
        .args(args)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    let commands: [&[&str]; 18] = [
        &["--help"],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["check", "--help"],
        &["sync", "--help"],
        &["db", "run", "--help"],
        &["user", "--help"],
        &["user", "add", "--help"],
        &["user", "list", "--help"],
        &["user", "disable", "--help"],
        &["user", "set-role", "--help"],
        &["user", "set-password", "--help"],
        &["token", "--help"],
        &["token", "create", "--help"],
        &["token", "list", "--help"],
        &["token", "revoke", "--help"],
        &["secret", "--help"],
        &["secret", "delete", "--help"],
    ];
    for args in commands {
        let output = trailkeeper(args, &[]);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage: trailkeeper"),
            "{args:?}"
        );
    }
}

#[test]
fn a_bad_setting_gets_one_line_naming_it_and_exit_code_2() {
    // (command, variable, bad value, how the message starts)
    let cases = [
        (
            "serve",
            "TRAILKEEPER_LISTEN",
            "localhost",
            "TRAILKEEPER_LISTEN: \"localhost\" is not an address to listen on",
        ),
        (
            "migrate",
            "DATABASE_URL",
            "mysql://root:hunter2@db/x",
            "DATABASE_URL: must be a PostgreSQL URL",
        ),
        (
            "migrate",
            "TRAILKEEPER_LOG_FORMAT",
            "xml",
            "TRAILKEEPER_LOG_FORMAT: \"xml\" is not a log format",
        ),
        (
            "check",
            "AWS_ENDPOINT_URL",
            "127.0.0.1:5000",
            "AWS_ENDPOINT_URL: \"127.0.0.1:5000\" is not an endpoint URL",
        ),
        (
            "migrate",
            "TRAILKEEPER_MAX_FILE_SIZE",
            "lots",
            "TRAILKEEPER_MAX_FILE_SIZE: \"lots\" is not a unit",
        ),
        (
            "migrate",
            "TRAILKEEPER_ALERT_ALLOWED_HOSTS",
            "127.0.0.1,evil host!",
            "TRAILKEEPER_ALERT_ALLOWED_HOSTS: \"evil host!\" is neither a host name",
        ),
        (
            "serve",
            "TRAILKEEPER_TRUSTED_PROXIES",
            "the-proxy",
            "TRAILKEEPER_TRUSTED_PROXIES: \"the-proxy\" is not an address or a network",
        ),
        (
            "serve",
            "TRAILKEEPER_SQS_QUEUE_URL",
            "http://127.0.0.1:5000/123456789012/trail-notices",
            "TRAILKEEPER_SQS_BUCKETS: name the trail buckets",
        ),
    ];
    for (command, variable, value, expected) in cases {
        let output = trailkeeper(&[command], &[(variable, value)]);
        assert_eq!(output.status.code(), Some(2), "{variable}={value}");
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(
            message.starts_with(&format!("trailkeeper: {expected}")),
            "{message}"
        );
        assert!(!message.contains("hunter2"));
    }
}

#[test]
fn a_what_if_file_that_is_not_detection_settings_is_refused_naming_the_problem() {
    let scratch = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = scratch.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let missing = scratch.path().join("missing.json");
    let cases = [
        (missing.to_string_lossy().into_owned(), "cannot read"),
        (
            write("broken.json", "{\"bulk_secrets\": 3"),
            "is not detection settings",
        ),
        (
            write("typo.json", "{\"bulk_secretz\": 3}"),
            "unknown field `bulk_secretz`",
        ),
        (
            write("zero.json", "{\"bulk_secrets\": 0}"),
            "bulk_secrets must be at least 1",
        ),
        (
            write("hostile.json", "[\"\\u0000\", {\"live\": \"drop table\"}]"),
            "is not detection settings",
        ),
    ];
    for (file, problem) in cases {
        let output = trailkeeper(&["detect", "--what-if", &file], &[]);
        assert_eq!(output.status.code(), Some(2), "{file}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains("--what-if"), "{message}");
        assert!(message.contains(problem), "{file}: {message}");
    }
    // --what-if and --backfill are one or the other.
    let both = trailkeeper(
        &["detect", "--backfill", "--what-if", &write("ok.json", "{}")],
        &[],
    );
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

#[test]
fn a_data_dir_that_is_a_file_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let output = trailkeeper(
        &["--data-dir", file.path().to_str().unwrap(), "migrate"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--data-dir: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn migrate_and_db_run_use_the_private_cluster_and_leave_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();

    let first = trailkeeper(&["--data-dir", data_dir, "migrate"], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("Applied migration 1 (audit log)"));
    let second = trailkeeper(&["--data-dir", data_dir, "migrate"], &[]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("The database schema is up to date."));

    // The program sees the database both as DATABASE_URL and as libpq's PG* variables.
    let query = trailkeeper(
        &[
            "--data-dir",
            data_dir,
            "db",
            "run",
            "--",
            "psql",
            "-Atc",
            "SELECT action FROM audit_log ORDER BY id",
        ],
        &[],
    );
    assert!(query.status.success(), "{}", stderr(&query));
    assert_eq!(
        String::from_utf8_lossy(&query.stdout).trim(),
        "schema.migrated"
    );

    let failing = trailkeeper(
        &[
            "--data-dir",
            data_dir,
            "db",
            "run",
            "--",
            "sh",
            "-c",
            "exit 7",
        ],
        &[],
    );
    assert_eq!(
        failing.status.code(),
        Some(7),
        "db run passes the program's exit code on"
    );

    assert!(
        !dir.path().join("data/pg/postmaster.pid").exists(),
        "the private PostgreSQL was stopped"
    );
}

#[test]
fn users_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let run = |args: &[&str], stdin: &str| run_in(data_dir, args, stdin);
    let stdout = |output: &Output| String::from_utf8_lossy(&output.stdout).into_owned();

    let added = run(
        &[
            "user",
            "add",
            "alice",
            "--role",
            "auditor",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(stdout(&added).trim(), "Added user alice with role auditor.");

    let refused = run(&["user", "add", "bob", "--role", "viewer"], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("--password-stdin"),
        "{}",
        stderr(&refused)
    );

    let bad_role = run(
        &["user", "add", "bob", "--role", "root", "--password-stdin"],
        "",
    );
    assert_eq!(bad_role.status.code(), Some(2));
    assert!(
        stderr(&bad_role).contains("\"root\" is not a role"),
        "{}",
        stderr(&bad_role)
    );

    assert!(
        run(&["user", "set-role", "alice", "admin"], "")
            .status
            .success()
    );
    assert!(run(&["user", "disable", "alice"], "").status.success());
    let listed = stdout(&run(&["user", "list"], ""));
    let alice = listed
        .lines()
        .find(|line| line.starts_with("alice"))
        .expect("alice is listed");
    assert!(
        alice.contains("admin") && alice.contains("disabled since"),
        "{listed}"
    );

    let limited = run(
        &["user", "set-scope", "alice", "team=payments,payments/*"],
        "",
    );
    assert!(limited.status.success(), "{}", stderr(&limited));
    assert!(
        stdout(&limited).contains("alice now sees only team=payments,payments/*"),
        "{}",
        stdout(&limited)
    );
    let listed = stdout(&run(&["user", "list"], ""));
    assert!(
        listed.contains("limited to team=payments,payments/*"),
        "{listed}"
    );
    let hostile = run(
        &["user", "set-scope", "alice", "team=payments,pay*ments"],
        "",
    );
    assert_eq!(hostile.status.code(), Some(2));
    assert!(
        stderr(&hostile).contains("\"pay*ments\" is not a scope term"),
        "{}",
        stderr(&hostile)
    );
    let lifted = run(&["user", "set-scope", "alice", "*"], "");
    assert!(
        stdout(&lifted).contains("alice now sees everything"),
        "{}",
        stdout(&lifted)
    );
    assert!(!stdout(&run(&["user", "list"], "")).contains("limited to"));

    let missing = run(&["user", "disable", "nobody"], "");
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("there is no user named \"nobody\""),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn tokens_are_printed_once_listed_without_their_secret_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let run = |args: &[&str]| run_in(data_dir, args, "");
    let created = run(&[
        "token",
        "create",
        "exporter",
        "--role",
        "auditor",
        "--expires",
        "90d",
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    let token = String::from_utf8_lossy(&created.stdout).trim().to_string();
    assert!(token.starts_with("tkp_") && token.len() == 47, "{token}");
    assert!(stderr(&created).contains("shown only this once"));

    let listed = run(&["token", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let line = listed
        .lines()
        .find(|line| line.starts_with("exporter"))
        .expect("the token is listed");
    assert!(
        line.contains("auditor") && line.contains("never"),
        "{listed}"
    );
    assert!(
        !listed.contains(&token[4..]),
        "the secret is never shown again"
    );

    let scoped = run(&[
        "token",
        "create",
        "payments-ci",
        "--role",
        "viewer",
        "--scope",
        "111111111111,team=payments",
    ]);
    assert!(
        stderr(&scoped).contains("limited to 111111111111,team=payments"),
        "{}",
        stderr(&scoped)
    );
    let listed = String::from_utf8_lossy(&run(&["token", "list"]).stdout).into_owned();
    let line = listed
        .lines()
        .find(|line| line.starts_with("payments-ci"))
        .expect("the scoped token is listed");
    assert!(
        line.ends_with("limited to 111111111111,team=payments"),
        "{listed}"
    );

    assert!(run(&["token", "revoke", "exporter"]).status.success());
    let again = run(&["token", "revoke", "exporter"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("there is no active token named \"exporter\""),
        "{}",
        stderr(&again)
    );
}

#[test]
fn serve_over_tls_answers_https_only_with_hsts_and_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    // Run as root, the private PostgreSQL runs as `postgres`, which must enter the data dir.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));

    let (mut server, url, password) = serve(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answers = runtime.block_on(async {
        use openidconnect::reqwest;
        let client = reqwest::ClientBuilder::new()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let health = client.get(format!("{url}/healthz")).send().await.unwrap();
        let signed_in = client
            .post(format!("{url}/login"))
            .header("origin", &url)
            .form(&[("username", "admin"), ("password", password.as_str())])
            .send()
            .await
            .unwrap();
        let plain = reqwest::get(url.replace("https://", "http://") + "/healthz").await;
        (health, signed_in, plain)
    });
    let (health, signed_in, plain) = answers;
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert_eq!(
        signed_in.headers()["location"],
        "/",
        "sign-in works over TLS"
    );
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-trailkeeper_session=tks_"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(plain.is_err(), "plain HTTP is not served");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(server.wait().unwrap().success());
}

#[test]
fn behind_an_https_proxy_cookies_are_secure_and_the_trusted_proxy_names_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (mut server, url, password) = serve(
        &data_dir,
        &[],
        &[
            ("TRAILKEEPER_PUBLIC_URL", "https://trailkeeper.example.test"),
            // The proxy is this machine: the test's requests come through it.
            ("TRAILKEEPER_TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (failed, signed_in) = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let attempt = |password: String, client_address: &'static str| {
            client
                .post(format!("{url}/login"))
                .header("origin", &url)
                .header("x-forwarded-for", format!("6.6.6.6, {client_address}"))
                .form(&[("username", "admin"), ("password", password.as_str())])
                .send()
        };
        let failed = attempt("wrong guess".into(), "203.0.113.77").await.unwrap();
        let signed_in = attempt(password.clone(), "203.0.113.78").await.unwrap();
        (failed, signed_in)
    });
    assert!(
        failed.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?reason=invalid")
    );
    assert_eq!(
        signed_in.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-trailkeeper_session=tks_"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    let addresses = run_in(
        data_dir.to_str().unwrap(),
        &[
            "db",
            "run",
            "--",
            "psql",
            "-At",
            "-c",
            "SELECT outcome || ' ' || address FROM audit_log \
             WHERE action = 'auth.sign_in' ORDER BY id",
        ],
        "",
    );
    assert!(addresses.status.success(), "{}", stderr(&addresses));
    assert_eq!(
        String::from_utf8_lossy(&addresses.stdout),
        "failure 203.0.113.77\nsuccess 203.0.113.78\n"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(server.wait().unwrap().success());
}

#[test]
fn sync_prints_a_summary_per_region_and_fails_when_a_region_does_not_answer() {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("this test needs the AWS API peer: run it with `make test`");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();

    // A region of its own, empty at the peer.
    let synced = run_in(data_dir, &["sync", "--regions", "ca-central-1"], "");
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert_eq!(
        String::from_utf8_lossy(&synced.stdout).trim(),
        "ca-central-1: 0 secrets (0 new, 0 gone), 0 label moves, 0 errors"
    );

    let unreachable = trailkeeper(
        &["--data-dir", data_dir, "sync", "--regions", "ca-west-1"],
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    assert_eq!(unreachable.status.code(), Some(1));
    let printed = String::from_utf8_lossy(&unreachable.stdout).into_owned();
    assert!(
        printed.starts_with("ca-west-1: 0 secrets (0 new, 0 gone), 0 label moves, 1 errors"),
        "{printed}"
    );
    assert!(
        printed.contains("ca-west-1 ListSecrets failed"),
        "{printed}"
    );
}

#[tokio::test]
async fn an_admin_changes_a_secret_from_the_command_line_with_a_reason() {
    let region = "il-central-1";
    let client = crate::common::client(region).await;
    let arn = crate::common::create_secret(&client, "cli/reports-db", "reports").await;
    let first = crate::common::version_holding(&client, &arn, "AWSCURRENT")
        .await
        .unwrap();
    crate::common::put_value(&client, &arn, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let run = |args: &[&str]| run_in(data_dir, args, "");
    let synced = run(&["sync", "--regions", region]);
    assert!(synced.status.success(), "{}", stderr(&synced));

    let unconfirmed = run(&["secret", "delete", "cli/reports-db", "--reason", "retired"]);
    assert_eq!(unconfirmed.status.code(), Some(1));
    assert!(
        stderr(&unconfirmed).contains("confirm by typing the secret's name, cli/reports-db"),
        "{}",
        stderr(&unconfirmed)
    );
    let too_short = run(&[
        "secret",
        "delete",
        "cli/reports-db",
        "--reason",
        "retired",
        "--confirm",
        "cli/reports-db",
        "--recovery-days",
        "3",
    ]);
    assert_eq!(too_short.status.code(), Some(2));
    assert!(
        stderr(&too_short).starts_with("trailkeeper: --recovery-days: "),
        "{}",
        stderr(&too_short)
    );

    let rolled = run(&[
        "secret",
        "rollback",
        "cli/reports-db",
        "--reason",
        "the new password broke the reports",
    ]);
    assert!(rolled.status.success(), "{}", stderr(&rolled));
    assert!(
        String::from_utf8_lossy(&rolled.stdout)
            .contains("rolled cli/reports-db back to its previous version through AWS"),
        "{}",
        String::from_utf8_lossy(&rolled.stdout)
    );
    assert_eq!(
        crate::common::version_holding(&client, &arn, "AWSCURRENT").await,
        Some(first)
    );
}
