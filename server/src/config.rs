//! The command line and its settings. Every setting is a flag and an environment variable;
//! a bad value is reported in one line that names the setting as the user gave it.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;

use trailkeeper_app::Role;
use trailkeeper_app::api::alerts::{ChannelKind, NewChannel};
use trailkeeper_app::api::findings::Severity;

use crate::alert::channels::outbound::Destinations;
use crate::alert::sealing::{KeyError, SECRET_KEY_FILE, SealingKey};
use crate::auth::oidc::OidcSettings;
use crate::auth::sessions::SessionPolicy;
use crate::db::DatabaseSource;
use crate::ingest::sources::s3::S3Url;

#[derive(Debug, Parser)]
#[command(
    name = "trailkeeper",
    version,
    about = "Dashboard and audit trail for AWS Secrets Manager",
    long_about = "Trailkeeper shows your AWS Secrets Manager secrets, their versions and rotation \
                  status, ingests CloudTrail events about them into PostgreSQL and flags unusual \
                  access. It never reads a secret's value.\n\n\
                  Without a command, it serves the dashboard."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// PostgreSQL URL. When unset, Trailkeeper runs a private PostgreSQL cluster under the
    /// data directory.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// PostgreSQL URL of the schema's owner, for migrations; DATABASE_URL's role then only
    /// serves (a member of `trailkeeper_serving`, owning nothing). Unset: DATABASE_URL
    /// migrates too.
    #[arg(
        long,
        env = "TRAILKEEPER_MIGRATE_DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub migrate_database_url: Option<String>,

    /// Directory for Trailkeeper's state, including the private PostgreSQL cluster.
    #[arg(
        long,
        env = "TRAILKEEPER_DATA_DIR",
        global = true,
        default_value = ".trailkeeper",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// Log format: `text` for people, `json` for log pipelines. Levels come from RUST_LOG.
    #[arg(
        long,
        env = "TRAILKEEPER_LOG_FORMAT",
        global = true,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: String,

    /// The key that seals alert channels' secrets (signing keys, SMTP passwords) in the
    /// database: 32 bytes in base64. Unset: a key file `secret.key` in the data directory,
    /// made at first start and readable by its owner only.
    #[arg(
        long,
        env = "TRAILKEEPER_SECRET_KEY",
        global = true,
        hide_env_values = true,
        value_name = "BASE64"
    )]
    pub secret_key: Option<String>,

    /// The most content one CloudTrail file may hold once gunzipped, in bytes or with a
    /// KiB, MiB or GiB suffix. Real trail files hold at most tens of MB; a file over the
    /// limit (a gzip bomb) is read no further and quarantined with the reason.
    #[arg(
        long,
        env = "TRAILKEEPER_MAX_FILE_SIZE",
        global = true,
        default_value = "1GiB",
        value_name = "SIZE"
    )]
    pub max_file_size: String,

    /// Hosts, addresses and networks (CIDR) that alert channels may reach although they are
    /// loopback, link-local or private, comma-separated: for example
    /// 127.0.0.1,smtp.internal,10.20.0.0/16. Any other such address is refused.
    #[arg(
        long,
        env = "TRAILKEEPER_ALERT_ALLOWED_HOSTS",
        global = true,
        value_name = "HOSTS",
        value_delimiter = ','
    )]
    pub alert_allowed_hosts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Check that the database and AWS are reachable with the current configuration.
    Check,
    /// Sync every secret's metadata, versions, labels and policy from AWS Secrets Manager
    /// once, and print what changed. Never reads a secret's value.
    Sync(SyncArgs),
    /// Ingest CloudTrail records from files or directories (recursively: CloudTrail log
    /// files, JSON arrays, JSON Lines, EventBridge events or LookupEvents output, plain or
    /// gzip), from trail log files under s3://BUCKET/PREFIX URLs, and with --lookup from
    /// CloudTrail's LookupEvents. Each event is stored once however often it is ingested.
    Ingest(IngestArgs),
    /// Run detection over stored events: with --backfill, every detector over the stored
    /// history in event-time order, exactly as if it had arrived live.
    Detect(DetectArgs),
    /// Work with Trailkeeper's database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Manage local user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for automation (`Authorization: Bearer` on /api/v1/).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage alert channels (also on the Alerts page and /api/v1/alerts/).
    #[command(subcommand)]
    Channel(ChannelCommand),
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Add an alert channel; with --min-severity, also the rule sending every finding at or
    /// above it there. A webhook given no signing_key gets one, printed this once.
    Add {
        /// 1 to 100 characters.
        name: String,
        /// webhook, slack, email or sns.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// The channel's settings as JSON, for a webhook
        /// '{"url": "https://…", "signing_key": "…", "headers": {…}}'.
        #[arg(long, value_name = "JSON")]
        config: String,
        /// info, low, medium, high or critical.
        #[arg(long, value_name = "SEVERITY")]
        min_severity: Option<String>,
    },
    /// List the alert channels.
    List,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Regions to sync, comma-separated, for example us-east-1,eu-west-1. Default: the AWS
    /// SDK's region.
    #[arg(
        long,
        env = "TRAILKEEPER_REGIONS",
        value_name = "REGIONS",
        value_delimiter = ','
    )]
    pub regions: Vec<String>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, directories, or s3://BUCKET/PREFIX URLs of CloudTrail trail logs.
    #[arg(required_unless_present = "lookup", value_name = "PATH|S3_URL")]
    pub sources: Vec<String>,
    /// Also read CloudTrail's LookupEvents (the last 90 days) in each region of --regions,
    /// from where the last run stopped.
    #[arg(long)]
    pub lookup: bool,
    /// With --lookup: start at this time (RFC 3339, for example 2026-01-01T00:00:00Z)
    /// instead of where the last run stopped.
    #[arg(long, requires = "lookup", value_name = "TIME")]
    pub since: Option<String>,
    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Clear the detectors' memory and run them over the stored events from the first;
    /// findings nobody has triaged in the range are made again.
    #[arg(long, required = true)]
    pub backfill: bool,
    /// Record findings for events at or after this time (RFC 3339). The detectors still
    /// learn from everything before it.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Record findings only for events before this time (RFC 3339). The detectors still
    /// learn from every stored event, so live detection goes on from all of them.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is kept.
    Create {
        /// 1 to 64 letters, digits, '.', '_', '@' or '-'.
        name: String,
        /// viewer, auditor or admin: exactly what the token may do.
        #[arg(long, value_name = "ROLE")]
        role: Role,
        /// How long the token is valid, for example 90d, 12h or "1y 6months". Without it the
        /// token is valid until revoked.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// List active tokens: name, role, who created it, expiry, last use.
    List,
    /// Revoke a token at once.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Prompts for the password twice, or reads one line from stdin.
    Add {
        /// 1 to 64 letters, digits, '.', '_', '@' or '-'.
        name: String,
        /// viewer, auditor or admin.
        #[arg(long, value_name = "ROLE")]
        role: Role,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with their roles and whether they are disabled.
    List,
    /// Disable a user: they can no longer sign in. The user and their history stay.
    Disable { name: String },
    /// Change a user's role (viewer, auditor or admin). Ends the user's sessions.
    SetRole { name: String, role: Role },
    /// Set a user's password. Prompts twice, or reads one line from stdin. Ends the user's
    /// sessions.
    SetPassword {
        name: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to serve the dashboard on.
    #[arg(
        long,
        env = "TRAILKEEPER_LISTEN",
        default_value = "127.0.0.1:3000",
        value_name = "ADDR"
    )]
    pub listen: String,

    #[command(flatten)]
    pub sync: SyncArgs,

    /// How often to sync the inventory from AWS while serving (also once at start).
    #[arg(
        long,
        env = "TRAILKEEPER_SYNC_INTERVAL",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub sync_interval: String,

    /// How often to read CloudTrail's LookupEvents in each region while serving, or `off`.
    #[arg(
        long,
        env = "TRAILKEEPER_LOOKUP_INTERVAL",
        default_value = "1m",
        value_name = "DURATION"
    )]
    pub lookup_interval: String,

    /// CloudTrail trail logs to read while serving: s3://BUCKET/PREFIX URLs, comma-separated.
    #[arg(
        long,
        env = "TRAILKEEPER_S3_TRAILS",
        value_name = "URLS",
        value_delimiter = ','
    )]
    pub s3_trails: Vec<String>,

    /// How often to list the S3 trails for new log files while serving.
    #[arg(
        long,
        env = "TRAILKEEPER_S3_INTERVAL",
        default_value = "1m",
        value_name = "DURATION"
    )]
    pub s3_interval: String,

    /// An SQS queue of S3 object-created notifications for the trail bucket: new log files
    /// are read as soon as they land.
    #[arg(long, env = "TRAILKEEPER_SQS_QUEUE_URL", value_name = "URL")]
    pub sqs_queue_url: Option<String>,

    /// The trail buckets and prefixes, as s3://BUCKET/PREFIX URLs, comma-separated, whose
    /// objects the SQS notifications may name; a notice for any other object is set aside
    /// unread. Default: the TRAILKEEPER_S3_TRAILS URLs.
    #[arg(
        long,
        env = "TRAILKEEPER_SQS_BUCKETS",
        value_name = "S3_URLS",
        value_delimiter = ','
    )]
    pub sqs_buckets: Vec<String>,

    /// Keep CloudTrail events this many days; older months are dropped whole. Unset: keep
    /// them all.
    #[arg(
        long,
        env = "TRAILKEEPER_RETENTION_DAYS",
        value_name = "DAYS",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub retention_days: Option<u32>,

    /// A session unused for this long ends, for example 30m or 1h.
    #[arg(
        long,
        env = "TRAILKEEPER_SESSION_IDLE_TIMEOUT",
        default_value = "30m",
        value_name = "DURATION"
    )]
    pub session_idle_timeout: String,

    /// A session ends this long after sign-in however busy it is, for example 12h.
    #[arg(
        long,
        env = "TRAILKEEPER_SESSION_LIFETIME",
        default_value = "12h",
        value_name = "DURATION"
    )]
    pub session_lifetime: String,

    /// PEM certificate chain: with --tls-key, serve HTTPS only (and send HSTS).
    #[arg(
        long,
        env = "TRAILKEEPER_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(
        long,
        env = "TRAILKEEPER_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Proxies in front of Trailkeeper (addresses or CIDR networks, comma-separated) whose
    /// X-Forwarded-For header names the client for throttling and the audit log. Unset: the
    /// connection's own address is the client's, and X-Forwarded-For is ignored.
    #[arg(
        long,
        env = "TRAILKEEPER_TRUSTED_PROXIES",
        value_name = "ADDRESSES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,

    /// The address people use to reach Trailkeeper (behind a proxy, for example), for
    /// single sign-on's redirect and alert links. An https:// address makes cookies
    /// `Secure` and sends HSTS, as with built-in TLS. Default: the listen address.
    #[arg(long, env = "TRAILKEEPER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// OpenID Connect issuer URL: turns on single sign-on.
    #[arg(long, env = "TRAILKEEPER_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,

    /// The client id registered with the identity provider.
    #[arg(long, env = "TRAILKEEPER_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,

    /// The client secret registered with the identity provider, if it issued one.
    #[arg(
        long,
        env = "TRAILKEEPER_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub oidc_client_secret: Option<String>,

    /// The ID token claim that decides the role (a string or a list of strings).
    #[arg(
        long,
        env = "TRAILKEEPER_OIDC_ROLE_CLAIM",
        default_value = "groups",
        value_name = "CLAIM"
    )]
    pub oidc_role_claim: String,

    /// Which claim value gives which role, for example
    /// "admin=secops-admins,auditor=audit,viewer=*" (`*`: anyone the provider signs in).
    /// The highest matching role wins; an account that matches none cannot sign in.
    #[arg(long, env = "TRAILKEEPER_OIDC_ROLES", value_name = "MAPPING")]
    pub oidc_roles: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Run a program with DATABASE_URL set to Trailkeeper's database (for example psql or
    /// pg_dump), starting the private cluster for as long as it runs.
    Run {
        /// The program and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A setting with a value that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    /// The setting as the user gave it: the environment variable or the flag.
    pub setting: String,
    pub problem: String,
}

/// Validated settings shared by every command.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSource,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// The key for alert channels' secrets; `None`: the key file in the data directory.
    pub secret_key: Option<SealingKey>,
    /// The most content one CloudTrail file may hold once gunzipped.
    pub max_file_bytes: u64,
    /// Where alert channels may connect besides public addresses.
    pub alert_destinations: Destinations,
}

impl Settings {
    /// The key for alert channels' secrets: configured, or the data directory's key file
    /// (made on first use).
    pub fn sealing_key(&self) -> Result<SealingKey, KeyError> {
        match &self.secret_key {
            Some(key) => Ok(key.clone()),
            None => SealingKey::from_file(&self.data_dir.join(SECRET_KEY_FILE)),
        }
    }
}

/// What to do, with its validated settings.
#[derive(Debug)]
pub enum Invocation {
    Serve(Box<ServeSettings>),
    Migrate,
    Check,
    Sync {
        regions: Vec<String>,
    },
    Ingest(IngestPlan),
    Backfill {
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    },
    DbRun {
        command: Vec<OsString>,
    },
    User(UserCommand),
    Token(TokenInvocation),
    Channel(ChannelInvocation),
}

/// A channel command, validated.
#[derive(Debug)]
pub enum ChannelInvocation {
    Add(NewChannel),
    List,
}

/// What `trailkeeper ingest` reads, validated.
#[derive(Debug, Default)]
pub struct IngestPlan {
    pub paths: Vec<PathBuf>,
    pub s3_urls: Vec<S3Url>,
    /// The regions to read LookupEvents in (empty: the SDK's region), when asked to.
    pub lookup: Option<LookupPlan>,
}

#[derive(Debug, Default)]
pub struct LookupPlan {
    pub regions: Vec<String>,
    pub since: Option<DateTime<Utc>>,
}

/// What `serve` needs, validated.
#[derive(Debug)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    /// Regions to sync; empty means the SDK's region.
    pub regions: Vec<String>,
    pub sync_interval: Duration,
    /// How long CloudTrail events are kept; `None` keeps them all.
    pub retention_days: Option<u32>,
    /// `None`: LookupEvents is not read.
    pub lookup_interval: Option<Duration>,
    pub s3_trails: Vec<S3Url>,
    pub s3_interval: Duration,
    pub sqs_queue_url: Option<String>,
    /// What the SQS notifications may name.
    pub sqs_buckets: Vec<S3Url>,
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub oidc: Option<OidcSettings>,
    pub sessions: SessionPolicy,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A token command with its expiry parsed.
#[derive(Debug)]
pub enum TokenInvocation {
    Create {
        name: String,
        role: Role,
        valid_for: Option<Duration>,
    },
    List,
    Revoke {
        name: String,
    },
}

/// Parses the command line and environment; clap handles `--help` and usage errors itself.
pub fn parse() -> Result<(Settings, Invocation), ConfigError> {
    parse_from(std::env::args_os())
}

pub fn parse_from<I, T>(args: I) -> Result<(Settings, Invocation), ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut matches = Cli::command().get_matches_from(args.clone());
    if matches.subcommand().is_none() {
        // No command means `serve`, with whatever global options were given.
        args.insert(1.min(args.len()), "serve".into());
        matches = Cli::command().get_matches_from(args);
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let named = |id: &str, flag: &str, env: &str| setting_name(&matches, id, flag, env);

    let settings = Settings {
        database: database_source(
            &cli.global,
            &named("database_url", "--database-url", "DATABASE_URL"),
            &named(
                "migrate_database_url",
                "--migrate-database-url",
                "TRAILKEEPER_MIGRATE_DATABASE_URL",
            ),
        )?,
        data_dir: data_dir(
            &cli.global.data_dir,
            &named("data_dir", "--data-dir", "TRAILKEEPER_DATA_DIR"),
        )?,
        log_format: log_format(
            &cli.global.log_format,
            &named("log_format", "--log-format", "TRAILKEEPER_LOG_FORMAT"),
        )?,
        secret_key: cli
            .global
            .secret_key
            .as_deref()
            .map(|key| {
                SealingKey::from_base64(key).map_err(|error| ConfigError {
                    setting: named("secret_key", "--secret-key", "TRAILKEEPER_SECRET_KEY"),
                    problem: error.to_string(),
                })
            })
            .transpose()?,
        max_file_bytes: size(
            &cli.global.max_file_size,
            &named(
                "max_file_size",
                "--max-file-size",
                "TRAILKEEPER_MAX_FILE_SIZE",
            ),
        )?,
        alert_destinations: Destinations::allowing(&cli.global.alert_allowed_hosts).map_err(
            |problem| {
                invalid(
                    &named(
                        "alert_allowed_hosts",
                        "--alert-allowed-hosts",
                        "TRAILKEEPER_ALERT_ALLOWED_HOSTS",
                    ),
                    problem,
                )
            },
        )?,
    };
    check_aws_environment()?;

    let listen_setting = named("listen", "--listen", "TRAILKEEPER_LISTEN");
    let invocation = match cli.command {
        None => unreachable!("a missing command was replaced by `serve` above"),
        Some(Command::Serve(serve)) => Invocation::Serve(Box::new(ServeSettings {
            listen: listen_address(&serve.listen, &listen_setting)?,
            regions: regions(
                &serve.sync.regions,
                &named("regions", "--regions", "TRAILKEEPER_REGIONS"),
            )?,
            sync_interval: duration(
                &serve.sync_interval,
                &named(
                    "sync_interval",
                    "--sync-interval",
                    "TRAILKEEPER_SYNC_INTERVAL",
                ),
            )?,
            retention_days: serve.retention_days,
            lookup_interval: match serve.lookup_interval.trim() {
                "off" => None,
                value => Some(duration(
                    value,
                    &named(
                        "lookup_interval",
                        "--lookup-interval",
                        "TRAILKEEPER_LOOKUP_INTERVAL",
                    ),
                )?),
            },
            s3_trails: s3_urls(
                &serve.s3_trails,
                &named("s3_trails", "--s3-trails", "TRAILKEEPER_S3_TRAILS"),
            )?,
            s3_interval: duration(
                &serve.s3_interval,
                &named("s3_interval", "--s3-interval", "TRAILKEEPER_S3_INTERVAL"),
            )?,
            sqs_queue_url: serve
                .sqs_queue_url
                .as_deref()
                .map(|url| {
                    http_url(
                        url,
                        &named(
                            "sqs_queue_url",
                            "--sqs-queue-url",
                            "TRAILKEEPER_SQS_QUEUE_URL",
                        ),
                    )
                })
                .transpose()?,
            sqs_buckets: sqs_buckets(&serve, &named)?,
            sessions: SessionPolicy {
                idle_timeout: duration(
                    &serve.session_idle_timeout,
                    &named(
                        "session_idle_timeout",
                        "--session-idle-timeout",
                        "TRAILKEEPER_SESSION_IDLE_TIMEOUT",
                    ),
                )?,
                lifetime: duration(
                    &serve.session_lifetime,
                    &named(
                        "session_lifetime",
                        "--session-lifetime",
                        "TRAILKEEPER_SESSION_LIFETIME",
                    ),
                )?,
            },
            public_url: serve
                .public_url
                .as_deref()
                .map(|url| {
                    http_url(
                        url,
                        &named("public_url", "--public-url", "TRAILKEEPER_PUBLIC_URL"),
                    )
                })
                .transpose()?,
            trusted_proxies: networks(
                &serve.trusted_proxies,
                &named(
                    "trusted_proxies",
                    "--trusted-proxies",
                    "TRAILKEEPER_TRUSTED_PROXIES",
                ),
            )?,
            oidc: oidc_settings(&serve, &named)?,
            tls: tls_files(
                serve.tls_cert,
                serve.tls_key,
                &named("tls_cert", "--tls-cert", "TRAILKEEPER_TLS_CERT"),
                &named("tls_key", "--tls-key", "TRAILKEEPER_TLS_KEY"),
            )?,
        })),
        Some(Command::Migrate) => Invocation::Migrate,
        Some(Command::Check) => Invocation::Check,
        Some(Command::Sync(sync)) => Invocation::Sync {
            regions: regions(
                &sync.regions,
                &named("regions", "--regions", "TRAILKEEPER_REGIONS"),
            )?,
        },
        Some(Command::Ingest(ingest)) => {
            let (urls, paths): (Vec<String>, Vec<String>) = ingest
                .sources
                .into_iter()
                .partition(|source| source.starts_with("s3://"));
            Invocation::Ingest(IngestPlan {
                paths: paths.into_iter().map(PathBuf::from).collect(),
                s3_urls: s3_urls(&urls, "PATH|S3_URL")?,
                lookup: if ingest.lookup {
                    Some(LookupPlan {
                        regions: regions(
                            &ingest.sync.regions,
                            &named("regions", "--regions", "TRAILKEEPER_REGIONS"),
                        )?,
                        since: ingest
                            .since
                            .as_deref()
                            .map(|since| time(since, "--since"))
                            .transpose()?,
                    })
                } else {
                    None
                },
            })
        }
        Some(Command::Detect(detect)) => {
            let since = detect
                .since
                .as_deref()
                .map(|since| time(since, "--since"))
                .transpose()?;
            let until = detect
                .until
                .as_deref()
                .map(|until| time(until, "--until"))
                .transpose()?;
            if let (Some(since), Some(until)) = (since, until)
                && since >= until
            {
                return Err(invalid("--until", "must be later than --since"));
            }
            Invocation::Backfill { since, until }
        }
        Some(Command::Db(DbCommand::Run { command })) => Invocation::DbRun { command },
        Some(Command::User(command)) => Invocation::User(command),
        Some(Command::Token(command)) => Invocation::Token(match command {
            TokenCommand::Create {
                name,
                role,
                expires,
            } => TokenInvocation::Create {
                name,
                role,
                valid_for: expires
                    .map(|expires| duration(&expires, "--expires"))
                    .transpose()?,
            },
            TokenCommand::List => TokenInvocation::List,
            TokenCommand::Revoke { name } => TokenInvocation::Revoke { name },
        }),
        Some(Command::Channel(command)) => Invocation::Channel(match command {
            ChannelCommand::Add {
                name,
                kind,
                config,
                min_severity,
            } => ChannelInvocation::Add(NewChannel {
                kind: ChannelKind::parse(&kind).ok_or_else(|| ConfigError {
                    setting: "--kind".into(),
                    problem: format!("{kind:?} is not webhook, slack, email or sns"),
                })?,
                name,
                config: serde_json::from_str(&config).map_err(|error| ConfigError {
                    setting: "--config".into(),
                    problem: format!("not JSON: {error}"),
                })?,
                min_severity: min_severity
                    .map(|severity| {
                        Severity::parse(&severity).ok_or_else(|| ConfigError {
                            setting: "--min-severity".into(),
                            problem: format!(
                                "{severity:?} is not info, low, medium, high or critical"
                            ),
                        })
                    })
                    .transpose()?,
            }),
            ChannelCommand::List => ChannelInvocation::List,
        }),
    };
    Ok((settings, invocation))
}

/// Names a setting the way the user gave it: the flag if it was on the command line, else
/// the environment variable (which is also where a default can be overridden).
fn setting_name(matches: &ArgMatches, id: &str, flag: &str, env: &str) -> String {
    let mut level = Some(matches);
    while let Some(current) = level {
        if current.try_get_raw(id).is_ok()
            && current.value_source(id) == Some(ValueSource::CommandLine)
        {
            return flag.to_string();
        }
        level = current.subcommand().map(|(_, sub)| sub);
    }
    env.to_string()
}

fn invalid(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        problem: problem.into(),
    }
}

fn database_source(
    global: &GlobalArgs,
    setting: &str,
    migrate_setting: &str,
) -> Result<DatabaseSource, ConfigError> {
    fn given(url: Option<&str>) -> Option<&str> {
        url.map(str::trim).filter(|url| !url.is_empty())
    }
    let Some(url) = given(global.database_url.as_deref()) else {
        if given(global.migrate_database_url.as_deref()).is_some() {
            return Err(invalid(
                migrate_setting,
                "needs DATABASE_URL: the private cluster migrates as its own owner",
            ));
        }
        return Ok(DatabaseSource::Embedded {
            data_dir: global.data_dir.clone(),
        });
    };
    Ok(DatabaseSource::External {
        serving: Box::new(postgres_url(url, setting)?),
        migrating: given(global.migrate_database_url.as_deref())
            .map(|url| postgres_url(url, migrate_setting).map(Box::new))
            .transpose()?,
    })
}

fn postgres_url(url: &str, setting: &str) -> Result<PgConnectOptions, ConfigError> {
    // The URL may carry a password: never echo it back.
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            setting,
            "must be a PostgreSQL URL starting with postgres:// or postgresql://",
        ));
    }
    PgConnectOptions::from_str(url)
        .map_err(|error| invalid(setting, format!("is not a valid PostgreSQL URL ({error})")))
}

fn data_dir(dir: &std::path::Path, setting: &str) -> Result<PathBuf, ConfigError> {
    if dir.as_os_str().is_empty() {
        return Err(invalid(setting, "must not be empty"));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(invalid(
            setting,
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    Ok(dir.to_path_buf())
}

fn log_format(value: &str, setting: &str) -> Result<LogFormat, ConfigError> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(invalid(
            setting,
            format!("{other:?} is not a log format; use text or json"),
        )),
    }
}

fn listen_address(value: &str, setting: &str) -> Result<SocketAddr, ConfigError> {
    SocketAddr::from_str(value.trim()).map_err(|_| {
        invalid(setting, format!("{value:?} is not an address to listen on; use IP:PORT such as 127.0.0.1:3000 or [::1]:3000"))
    })
}

/// AWS region names such as `eu-west-1`; empty means the SDK's own region.
fn regions(values: &[String], setting: &str) -> Result<Vec<String>, ConfigError> {
    let mut regions = Vec::new();
    for region in values
        .iter()
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
    {
        let plausible = region.len() <= 32
            && region.contains('-')
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !plausible {
            return Err(invalid(
                setting,
                format!("{region:?} is not an AWS region name such as eu-west-1"),
            ));
        }
        if !regions.iter().any(|known| known == region) {
            regions.push(region.to_string());
        }
    }
    Ok(regions)
}

/// `s3://BUCKET/PREFIX` URLs.
fn s3_urls(values: &[String], setting: &str) -> Result<Vec<S3Url>, ConfigError> {
    values
        .iter()
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
        .map(|value| S3Url::parse(value).map_err(|error| invalid(setting, error.to_string())))
        .collect()
}

/// An RFC 3339 time such as `2026-01-01T00:00:00Z`.
fn time(value: &str, setting: &str) -> Result<DateTime<Utc>, ConfigError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| {
            invalid(
                setting,
                format!("{value:?} is not an RFC 3339 time ({error}); use for example 2026-01-01T00:00:00Z"),
            )
        })
}

/// A positive duration such as `30m`, `12h` or `90d`.
fn duration(value: &str, setting: &str) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(value.trim()) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err(invalid(setting, "must be longer than zero")),
        Err(error) => Err(invalid(
            setting,
            format!("{value:?} is not a duration ({error}); use for example 30m, 12h or 90d"),
        )),
    }
}

/// A size in bytes: a whole number, optionally followed by KiB, MiB or GiB.
fn size(value: &str, setting: &str) -> Result<u64, ConfigError> {
    let value = value.trim();
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit())
        .map_or((value, ""), |at| value.split_at(at));
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(invalid(
                setting,
                format!("{other:?} is not a unit; use bytes or KiB, MiB or GiB, for example 1GiB"),
            ));
        }
    };
    let bytes = number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(multiplier))
        .ok_or_else(|| {
            invalid(
                setting,
                format!("{value:?} is not a size; use bytes or KiB, MiB or GiB, for example 1GiB"),
            )
        })?;
    if bytes == 0 {
        return Err(invalid(setting, "must be larger than zero"));
    }
    Ok(bytes)
}

/// An http(s) URL without a trailing slash.
fn http_url(value: &str, setting: &str) -> Result<String, ConfigError> {
    let value = value.trim().trim_end_matches('/');
    let well_formed = (value.starts_with("http://") || value.starts_with("https://"))
        && value.len() > "https://".len()
        && !value.contains(char::is_whitespace);
    if well_formed {
        Ok(value.to_string())
    } else {
        Err(invalid(
            setting,
            format!("{value:?} is not a URL; use https://HOST[:PORT][/PATH]"),
        ))
    }
}

/// Single sign-on is on when an issuer is set; then a client id and a role mapping must be.
/// Addresses or CIDR networks.
fn networks(values: &[String], setting: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    values
        .iter()
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
        .map(|value| {
            value
                .parse::<ipnet::IpNet>()
                .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(
                        setting,
                        format!("{value:?} is not an address or a network such as 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

/// What SQS notifications may name: the listed URLs, or else the S3 trails; a queue with
/// neither would read nothing, which is refused here rather than discovered later.
fn sqs_buckets(
    serve: &ServeArgs,
    named: &impl Fn(&str, &str, &str) -> String,
) -> Result<Vec<S3Url>, ConfigError> {
    let setting = named("sqs_buckets", "--sqs-buckets", "TRAILKEEPER_SQS_BUCKETS");
    let buckets = if serve.sqs_buckets.is_empty() {
        s3_urls(
            &serve.s3_trails,
            &named("s3_trails", "--s3-trails", "TRAILKEEPER_S3_TRAILS"),
        )?
    } else {
        s3_urls(&serve.sqs_buckets, &setting)?
    };
    if serve.sqs_queue_url.is_some() && buckets.is_empty() {
        return Err(invalid(
            &setting,
            "name the trail buckets (s3://BUCKET/PREFIX) whose objects the SQS notifications \
             may name, or set TRAILKEEPER_S3_TRAILS",
        ));
    }
    Ok(buckets)
}

fn oidc_settings(
    serve: &ServeArgs,
    named: &impl Fn(&str, &str, &str) -> String,
) -> Result<Option<OidcSettings>, ConfigError> {
    let Some(issuer) = serve
        .oidc_issuer
        .as_deref()
        .filter(|issuer| !issuer.is_empty())
    else {
        return Ok(None);
    };
    let issuer = http_url(
        issuer,
        &named("oidc_issuer", "--oidc-issuer", "TRAILKEEPER_OIDC_ISSUER"),
    )?;
    let client_setting = named(
        "oidc_client_id",
        "--oidc-client-id",
        "TRAILKEEPER_OIDC_CLIENT_ID",
    );
    let client_id = serve
        .oidc_client_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid(&client_setting, "must be set for single sign-on"))?;
    let roles_setting = named("oidc_roles", "--oidc-roles", "TRAILKEEPER_OIDC_ROLES");
    let roles = role_mapping(serve.oidc_roles.as_deref().unwrap_or(""), &roles_setting)?;
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret: serve
            .oidc_client_secret
            .clone()
            .filter(|secret| !secret.is_empty()),
        role_claim: serve.oidc_role_claim.clone(),
        roles,
    }))
}

/// `admin=secops-admins,auditor=audit,viewer=*`.
fn role_mapping(value: &str, setting: &str) -> Result<Vec<(Role, String)>, ConfigError> {
    let mut roles = Vec::new();
    for pair in value
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let Some((role, claim_value)) = pair.split_once('=') else {
            return Err(invalid(
                setting,
                format!("{pair:?} is not ROLE=VALUE; use for example admin=secops-admins,viewer=*"),
            ));
        };
        let role: Role = role
            .trim()
            .parse()
            .map_err(|problem: String| invalid(setting, problem))?;
        roles.push((role, claim_value.trim().to_string()));
    }
    if roles.is_empty() {
        return Err(invalid(
            setting,
            "must map claim values to roles for single sign-on, for example admin=secops-admins,viewer=*",
        ));
    }
    Ok(roles)
}

/// Both files must exist; they are read when serving starts.
fn tls_files(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    cert_setting: &str,
    key_setting: &str,
) -> Result<Option<TlsFiles>, ConfigError> {
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(None);
    };
    for (path, setting) in [(&cert, cert_setting), (&key, key_setting)] {
        if !path.is_file() {
            return Err(invalid(
                setting,
                format!("{} is not a readable file", path.display()),
            ));
        }
    }
    Ok(Some(TlsFiles { cert, key }))
}

/// aws-config reads these itself, but reports a bad endpoint only on the first request, far
/// from the cause; check them up front.
fn check_aws_environment() -> Result<(), ConfigError> {
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name == "AWS_ENDPOINT_URL" || name.starts_with("AWS_ENDPOINT_URL_") {
            let value = value.to_string_lossy();
            if !(value.starts_with("http://") || value.starts_with("https://"))
                || value.len() <= "https://".len()
            {
                return Err(invalid(
                    name,
                    format!(
                        "{value:?} is not an endpoint URL; use http://HOST:PORT or https://HOST"
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Settings, Invocation), ConfigError> {
        parse_from(std::iter::once("trailkeeper").chain(args.iter().copied()))
    }

    #[test]
    fn no_command_serves_on_the_default_address_with_the_embedded_database() {
        // An empty URL counts as unset (the test harness itself sets DATABASE_URL).
        let (settings, invocation) =
            parse(&["--database-url", "", "--data-dir", "/tmp/tk"]).unwrap();
        assert!(
            matches!(settings.database, DatabaseSource::Embedded { ref data_dir } if data_dir == std::path::Path::new("/tmp/tk"))
        );
        let Invocation::Serve(serve) = invocation else {
            panic!("expected serve")
        };
        assert_eq!(serve.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(serve.sessions, SessionPolicy::default());
        assert_eq!(serve.sync_interval, Duration::from_secs(300));
        assert!(serve.regions.is_empty(), "the SDK's region");
        assert!(serve.tls.is_none());
    }

    #[test]
    fn a_bad_listen_flag_is_named_with_what_is_wrong() {
        let error = parse(&["serve", "--listen", "localhost"]).unwrap_err();
        assert_eq!(error.setting, "--listen");
        assert!(
            error.problem.contains("\"localhost\" is not an address"),
            "{}",
            error.problem
        );
    }

    #[test]
    fn a_secret_key_that_is_not_32_bytes_is_refused_without_echoing_it() {
        let error = parse(&["serve", "--secret-key", "hunter2hunter2"]).unwrap_err();
        assert_eq!(error.setting, "--secret-key");
        assert!(error.problem.contains("32 bytes"), "{}", error.problem);
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn a_database_url_of_another_kind_is_refused_without_echoing_it() {
        let error = parse(&["migrate", "--database-url", "mysql://root:hunter2@db/x"]).unwrap_err();
        assert_eq!(error.setting, "--database-url");
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn a_postgres_url_selects_the_external_database() {
        let (settings, invocation) = parse(&[
            "migrate",
            "--database-url",
            "postgres://tk@db.internal:6432/audit",
        ])
        .unwrap();
        let DatabaseSource::External {
            serving: options,
            migrating: None,
        } = settings.database
        else {
            panic!("expected an external database migrated by its own role")
        };
        assert_eq!(options.get_host(), "db.internal");
        assert_eq!(options.get_port(), 6432);
        assert!(matches!(invocation, Invocation::Migrate));
    }

    #[test]
    fn detect_backfills_a_range_and_refuses_one_that_ends_before_it_starts() {
        let (_, invocation) =
            parse(&["detect", "--backfill", "--since", "2026-01-01T00:00:00Z"]).unwrap();
        let Invocation::Backfill { since, until } = invocation else {
            panic!("expected a backfill")
        };
        assert_eq!(since.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(until, None);
        let error = parse(&[
            "detect",
            "--backfill",
            "--since",
            "2026-02-01T00:00:00Z",
            "--until",
            "2026-01-01T00:00:00Z",
        ])
        .unwrap_err();
        assert_eq!(error.setting, "--until");
        assert_eq!(
            parse(&["detect", "--backfill", "--until", "soon"])
                .unwrap_err()
                .setting,
            "--until"
        );
    }

    #[test]
    fn ingest_reads_paths_s3_urls_and_lookup_events_from_a_time() {
        let (_, invocation) = parse(&[
            "ingest",
            "exports/",
            "s3://trails/AWSLogs/",
            "--lookup",
            "--since",
            "2026-01-01T00:00:00Z",
            "--regions",
            "eu-west-1",
        ])
        .unwrap();
        let Invocation::Ingest(plan) = invocation else {
            panic!("expected ingest")
        };
        assert_eq!(plan.paths, [PathBuf::from("exports/")]);
        assert_eq!(plan.s3_urls[0].bucket, "trails");
        let lookup = plan.lookup.unwrap();
        assert_eq!(lookup.regions, ["eu-west-1"]);
        assert_eq!(
            lookup.since.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );

        let error = parse(&["ingest", "--lookup", "--since", "yesterday"]).unwrap_err();
        assert_eq!(error.setting, "--since");
        assert!(error.problem.contains("RFC 3339"), "{}", error.problem);
        let error = parse(&["ingest", "s3://"]).unwrap_err();
        assert!(
            error.problem.contains("names no bucket"),
            "{}",
            error.problem
        );
    }

    #[test]
    fn serve_reads_lookup_events_every_minute_unless_turned_off() {
        let (_, invocation) = parse(&["serve"]).unwrap();
        let Invocation::Serve(serve) = invocation else {
            panic!("expected serve")
        };
        assert_eq!(serve.lookup_interval, Some(Duration::from_secs(60)));
        let (_, invocation) = parse(&[
            "serve",
            "--lookup-interval",
            "off",
            "--s3-trails",
            "s3://a/AWSLogs/,s3://b/",
        ])
        .unwrap();
        let Invocation::Serve(serve) = invocation else {
            panic!("expected serve")
        };
        assert_eq!(serve.lookup_interval, None);
        assert_eq!(serve.s3_trails.len(), 2);
        let error = parse(&["serve", "--s3-trails", "trails"]).unwrap_err();
        assert_eq!(error.setting, "--s3-trails");
    }

    #[test]
    fn unknown_log_formats_are_refused() {
        let error = parse(&["--log-format", "xml"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--log-format: \"xml\" is not a log format; use text or json"
        );
    }

    #[test]
    fn session_lifetimes_and_token_expiries_are_human_durations() {
        let (_, invocation) = parse(&["serve", "--session-idle-timeout", "15m"]).unwrap();
        let Invocation::Serve(serve) = invocation else {
            panic!("expected serve")
        };
        assert_eq!(serve.sessions.idle_timeout, Duration::from_secs(15 * 60));

        let error = parse(&["serve", "--session-lifetime", "forever"]).unwrap_err();
        assert_eq!(error.setting, "--session-lifetime");
        assert!(
            error.problem.contains("\"forever\" is not a duration"),
            "{}",
            error.problem
        );

        let (_, invocation) = parse(&[
            "token",
            "create",
            "ci",
            "--role",
            "viewer",
            "--expires",
            "90d",
        ])
        .unwrap();
        assert!(matches!(
            invocation,
            Invocation::Token(TokenInvocation::Create { valid_for: Some(d), .. })
                if d == Duration::from_secs(90 * 86_400)
        ));
        let error = parse(&[
            "token",
            "create",
            "ci",
            "--role",
            "viewer",
            "--expires",
            "0d",
        ])
        .unwrap_err();
        assert_eq!(error.to_string(), "--expires: must be longer than zero");
    }

    #[test]
    fn single_sign_on_needs_a_client_and_a_role_mapping() {
        let (_, invocation) = parse(&[
            "serve",
            "--oidc-issuer",
            "https://id.example/",
            "--oidc-client-id",
            "trailkeeper",
            "--oidc-roles",
            "admin=secops, viewer=*",
        ])
        .unwrap();
        let Invocation::Serve(serve) = invocation else {
            panic!("expected serve")
        };
        let oidc = serve.oidc.unwrap();
        assert_eq!(oidc.issuer, "https://id.example");
        assert_eq!(oidc.role_claim, "groups");
        assert_eq!(
            oidc.roles,
            [
                (Role::Admin, "secops".to_string()),
                (Role::Viewer, "*".to_string())
            ]
        );

        let error = parse(&["serve", "--oidc-issuer", "https://id.example"]).unwrap_err();
        assert_eq!(error.setting, "TRAILKEEPER_OIDC_CLIENT_ID");
        let error = parse(&[
            "serve",
            "--oidc-issuer",
            "https://id.example",
            "--oidc-client-id",
            "tk",
            "--oidc-roles",
            "boss=everyone",
        ])
        .unwrap_err();
        assert_eq!(error.setting, "--oidc-roles");
        assert!(
            error.problem.contains("\"boss\" is not a role"),
            "{}",
            error.problem
        );
    }

    #[test]
    fn sync_regions_are_a_list_of_region_names() {
        let (_, invocation) =
            parse(&["sync", "--regions", "eu-west-1, us-east-1,eu-west-1"]).unwrap();
        let Invocation::Sync { regions } = invocation else {
            panic!("expected sync")
        };
        assert_eq!(regions, ["eu-west-1", "us-east-1"]);
        let error = parse(&["sync", "--regions", "Frankfurt"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--regions: \"Frankfurt\" is not an AWS region name such as eu-west-1"
        );
    }

    #[test]
    fn tls_files_must_exist() {
        let error = parse(&[
            "serve",
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "--tls-cert: /nonexistent/cert.pem is not a readable file"
        );
    }

    #[test]
    fn db_run_keeps_the_program_arguments_verbatim() {
        let (_, invocation) = parse(&["db", "run", "--", "psql", "-c", "select 1"]).unwrap();
        let Invocation::DbRun { command } = invocation else {
            panic!("expected db run")
        };
        assert_eq!(command, ["psql", "-c", "select 1"]);
    }
}
