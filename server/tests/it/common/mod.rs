//! Drives the real router in-process against a real PostgreSQL, as a browser or an API
//! client would: with a session cookie, a bearer token or nothing.

pub mod peer;
pub mod webhook;

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::Tag;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use sqlx::{ConnectOptions, PgPool};
use tower::ServiceExt;
use trailkeeper::alert::channels::Senders;
use trailkeeper::alert::channels::outbound::Destinations;
use trailkeeper::application::Application;
use trailkeeper::auth::sessions::{self, SessionPolicy};
use trailkeeper::auth::users;
use trailkeeper::config::{self, Invocation, ServeSettings, Settings};
use trailkeeper::db::Database;
use trailkeeper::ingest::sources::files::ingest_file;
use trailkeeper::web::{WebContext, router};
use trailkeeper_app::Role;

pub const PASSWORD: &str = "correct horse battery";
/// The address the router believes requests come from (in-process, there is no socket).
pub const ORIGIN: &str = "http://127.0.0.1:3000";
pub const HOST: &str = "127.0.0.1:3000";

/// Senders that may reach the tests' receivers on this machine (as an operator allows with
/// TRAILKEEPER_ALERT_ALLOWED_HOSTS).
pub fn loopback_senders() -> Senders {
    Senders::reaching(Destinations::allowing(&["127.0.0.1"]).unwrap())
}

/// `trailkeeper serve`'s settings from its command line (`args` added to it), over the
/// test's database and a data directory of its own (kept while the guard lives: the server
/// reads its sealing key there when it is built).
async fn serve_settings(
    pool: &PgPool,
    args: &[&str],
) -> (Database, Settings, ServeSettings, tempfile::TempDir) {
    let database_url = pool.connect_options().to_url_lossy().to_string();
    let data_dir = tempfile::tempdir().unwrap();
    let command_line = [
        "trailkeeper",
        "--database-url",
        &database_url,
        "--data-dir",
        data_dir.path().to_str().unwrap(),
        "serve",
    ]
    .into_iter()
    .chain(args.iter().copied());
    let (settings, Invocation::Serve(serve)) = config::parse_from(command_line).unwrap() else {
        panic!("the command line is not serve's");
    };
    let database = Database::open(&settings.database).await.unwrap();
    (database, settings, *serve, data_dir)
}

/// Starts the `trailkeeper` binary's `serve` on a free port of `data_dir` (on its private
/// database unless `env` gives a `DATABASE_URL`), and waits until it serves: the process,
/// its URL and the first administrator's password it printed, if it made one.
pub fn serve_process(
    data_dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, String, String) {
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_trailkeeper"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "serve"])
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("DATABASE_URL")
        .env("TRAILKEEPER_LOOKUP_INTERVAL", "off")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(server.stdout.take().unwrap()));
    let mut password = String::new();
    let url = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(generated) = line.trim().strip_prefix("password: ") {
            password = generated.to_string();
        }
        if let Some(rest) = line.strip_prefix("Trailkeeper is serving on ") {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    // Whatever it prints later still has a reader.
    std::thread::spawn(move || lines.for_each(drop));
    (server, url, password)
}

/// What the router serves with when `trailkeeper serve` is given `args`, built by the
/// library as the binary builds it; driven in-process at [`ORIGIN`]. A test may still change
/// what no setting reaches (the sign-in limits).
pub async fn context(pool: &PgPool, args: &[&str]) -> WebContext {
    let args = ["--listen", HOST]
        .iter()
        .chain(args)
        .copied()
        .collect::<Vec<_>>();
    let (database, settings, serve, _data_dir) = serve_settings(pool, &args).await;
    Application::web_context(&database, &settings, serve)
        .await
        .unwrap()
}

pub async fn app_with(pool: &PgPool, args: &[&str]) -> Router {
    router(context(pool, args).await)
}

/// The router as served with alert channels allowed to reach this machine's receivers.
pub async fn app(pool: PgPool) -> Router {
    app_with(&pool, &["--alert-allowed-hosts", "127.0.0.1"]).await
}

/// The real server, built in this process as `trailkeeper serve` builds it from its command
/// line (`args` added to it), over the test's database and on a free port, serving until
/// the test ends. Returns its URL.
pub async fn serving(pool: &PgPool, args: &[&str]) -> String {
    let args = ["--listen", "127.0.0.1:0"]
        .iter()
        .chain(args)
        .copied()
        .collect::<Vec<_>>();
    let (database, settings, serve, _data_dir) = serve_settings(pool, &args).await;
    let application = Application::build(&database, &settings, serve)
        .await
        .unwrap();
    let url = application.url().to_string();
    tokio::spawn(application.run(std::future::pending()));
    url
}

pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Fetched {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|value| value.to_str().unwrap())
            .unwrap_or("")
    }

    /// The labels of the page's section navigation, in order: each link's text, whatever
    /// markup the renderer puts around it.
    pub fn sections(&self) -> Vec<String> {
        let Some((_, nav)) = self.body.split_once(r#"<nav aria-label="Sections">"#) else {
            return Vec::new();
        };
        let nav = nav.split("</nav>").next().unwrap_or_default();
        nav.split("<a ")
            .skip(1)
            .filter_map(|link| link.split_once('>'))
            .map(|(_, text)| text.split('<').next().unwrap_or_default().to_string())
            .collect()
    }

    /// The session cookie this response sets, as `name=value`.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap())
            .find(|cookie| cookie.starts_with("trailkeeper_session="))
            .map(|cookie| cookie.split(';').next().unwrap().to_string())
    }
}

/// Who a request is sent as.
#[derive(Clone, Debug, Default)]
pub enum As {
    #[default]
    Nobody,
    /// A `Cookie` header value.
    Cookie(String),
    Bearer(String),
}

/// Sends `request` through the router and reads the whole answer; an answer that has not
/// ended within two minutes fails the test, naming the request, rather than stalling the suite.
pub async fn send(app: &Router, request: Request<Body>) -> Fetched {
    let asked = format!("{} {}", request.method(), request.uri());
    let answer = async {
        let response = app.clone().oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = to_bytes(response.into_body(), 10 * 1024 * 1024)
            .await
            .unwrap();
        Fetched {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), answer)
        .await
        .unwrap_or_else(|_| panic!("{asked} did not answer within two minutes"))
}

fn with_credentials(
    mut builder: axum::http::request::Builder,
    who: &As,
) -> axum::http::request::Builder {
    builder = builder.header(header::HOST, HOST);
    match who {
        As::Nobody => builder,
        As::Cookie(cookie) => builder.header(header::COOKIE, cookie),
        As::Bearer(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
    }
}

pub async fn get(app: &Router, uri: &str, who: &As) -> Fetched {
    let request = with_credentials(Request::get(uri), who)
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

/// A form post from one of Trailkeeper's own pages.
pub async fn post_form(app: &Router, uri: &str, body: &str, who: &As) -> Fetched {
    let request = with_credentials(Request::post(uri), who)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

/// A user with `role`, and a live session cookie for them.
pub async fn signed_in(pool: &PgPool, name: &str, role: Role) -> As {
    let user = users::add(pool, "test", name, role, PASSWORD)
        .await
        .unwrap();
    let session = sessions::create(pool, user.id, SessionPolicy::default(), None, None)
        .await
        .unwrap();
    As::Cookie(format!("trailkeeper_session={}", session.secret))
}

/// A Secrets Manager client for the AWS API peer, in `region`.
pub async fn client(region: &'static str) -> Client {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("these tests need the AWS API peer: run them with `make test`");
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .load()
        .await;
    Client::new(&config)
}

/// Makes a secret tagged with its team; returns its ARN.
pub async fn create_secret(client: &Client, name: &str, team: &str) -> String {
    client
        .create_secret()
        .name(name)
        .description(format!("{team} credentials"))
        .secret_string(value())
        .tags(Tag::builder().key("team").value(team).build())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string()
}

/// A rotation function in the AWS peer's Lambda (with the IAM role Lambda requires), for
/// configuring rotation; the peer runs functions without containers, answering each step.
/// There is no Lambda or IAM SDK among Trailkeeper's dependencies, so this speaks their
/// wire protocols, which the peer routes by the credential scope's service.
pub async fn rotation_function(region: &str, name: &str) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let scope = |service: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential=trailkeeper-local/20260101/{region}/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        )
    };
    let http = reqwest::Client::new();
    let role = http
        .post(format!("{endpoint}/"))
        .header("authorization", scope("iam"))
        .form(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", &format!("{name}-role")),
            (
                "AssumeRolePolicyDocument",
                r#"{"Version":"2012-10-17","Statement":[]}"#,
            ),
        ])
        .send()
        .await
        .unwrap();
    let role = role.text().await.unwrap();
    let role_arn = role
        .split("<Arn>")
        .nth(1)
        .and_then(|rest| rest.split("</Arn>").next())
        .unwrap_or_else(|| panic!("the peer made no role: {role}"))
        .to_string();
    let function: Value = http
        .post(format!("{endpoint}/2015-03-31/functions"))
        .header("authorization", scope("lambda"))
        .json(&json!({
            "FunctionName": name,
            "Role": role_arn,
            "PackageType": "Image",
            "Code": { "ImageUri": format!("123456789012.dkr.ecr.{region}.amazonaws.com/{name}:1") },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    function["FunctionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("the peer made no function: {function}"))
        .to_string()
}

/// Puts a new value on the secret with the given staging labels (AWS's default,
/// `AWSCURRENT`, when none) and returns the new version's id.
pub async fn put_value(client: &Client, arn: &str, stages: &[&str]) -> String {
    let mut put = client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value());
    for stage in stages {
        put = put.version_stages(*stage);
    }
    put.send().await.unwrap().version_id().unwrap().to_string()
}

/// A random secret value: the tests never read it back, and neither does Trailkeeper.
pub fn value() -> String {
    format!("{:x}", rand_value())
}

fn rand_value() -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    nanos ^ (u128::from(std::process::id()) << 64)
}

/// A JSON request from an API client or one of Trailkeeper's own pages.
pub async fn send_json(app: &Router, method: &str, uri: &str, body: &str, who: &As) -> Fetched {
    let request = with_credentials(Request::builder().method(method).uri(uri), who)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

/// The account of the recorded calls below.
pub const ACCOUNT: &str = "111122223333";

/// The ARN of the secret called `name` in [`ACCOUNT`].
pub fn secret_arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf")
}

/// A Secrets Manager call by the IAM user bob, as CloudTrail records it.
pub fn bobs_call(id: &str, time: &str, name: &str, request: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": { "type": "IAMUser", "principalId": "AIDABOB",
                          "arn": format!("arn:aws:iam::{ACCOUNT}:user/bob"),
                          "accountId": ACCOUNT, "userName": "bob" },
        "eventTime": time, "eventSource": "secretsmanager.amazonaws.com", "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.11",
        "userAgent": "aws-cli/2.17.12", "requestParameters": request,
        "responseElements": null, "eventID": id, "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT
    })
}

/// Ingests `records` as one CloudTrail log file, as `trailkeeper ingest` would.
pub async fn ingest_records(pool: &PgPool, records: Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.json");
    std::fs::write(&path, json!({ "Records": records }).to_string()).unwrap();
    ingest_file(pool, &path).await.unwrap();
}

/// The process's peak resident memory so far, in bytes (`VmHWM` in `/proc/self/status`).
pub fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap();
    kib * 1024
}

/// 4 GiB of content in about 4 MB of gzip: one small member repeated. Far past what any
/// test's memory bound allows, so a reader without a limit fails the bound whatever else the
/// process (all the tests share it) holds at the time.
pub fn gzip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&vec![b' '; 1024 * 1024]).unwrap();
    gzip.finish().unwrap().repeat(4096)
}

/// Every Rust source file under `dir`, for the tests that read the code itself.
pub fn rust_sources(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &mut found);
    found
}

/// The secret `arn` as AWS describes it now.
pub async fn described(client: &Client, arn: &str) -> DescribeSecretOutput {
    client
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .unwrap()
}

/// The version of the secret `arn` holding the staging `label`, as AWS has it now.
pub async fn version_holding(client: &Client, arn: &str, label: &str) -> Option<String> {
    let described = described(client, arn).await;
    described
        .version_ids_to_stages()?
        .iter()
        .find(|(_, stages)| stages.iter().any(|stage| stage == label))
        .map(|(version, _)| version.clone())
}
