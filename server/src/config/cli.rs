//! The command line as clap reads it: every flag with its environment variable and help.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};

use trailkeeper_app::Role;
use trailkeeper_app::api::alerts::ChannelKind;
use trailkeeper_app::api::findings::Severity;
use trailkeeper_app::scope::Scope;

use super::settings::LogFormat;
use super::validate as parse;
use crate::admin::approvals::{ApprovalPolicy, Approvals};
use crate::aws::accounts::{AccountSettings, Coverage, DEFAULT_CONCURRENCY, OrgMember, RoleArn};
use crate::ingest::sources::s3::S3Url;

mod secret;
pub use secret::{ChangeArgs, SecretCommand};

/// How often something runs while serving, or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Off,
    Every(Duration),
}

/// A file or directory, or trail logs under an `s3://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestSource {
    Path(PathBuf),
    S3(S3Url),
}

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
        value_name = "FORMAT",
        value_parser = parse::log_format
    )]
    pub log_format: LogFormat,

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
        value_name = "SIZE",
        value_parser = parse::size
    )]
    pub max_file_size: u64,

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
    /// Change a secret in AWS Secrets Manager, never its value (also on the secret's page and
    /// /api/v1/secrets/NAME/actions/ACTION). Recorded in the audit log, with the reason,
    /// before and after AWS is called.
    #[command(subcommand)]
    Secret(SecretCommand),
}

/// Which changes to secrets wait for a second admin's approval.
#[derive(Debug, Args)]
pub struct ApprovalArgs {
    /// Changes that wait for a second admin's approval on the Changes page: off,
    /// destructive (those that need the secret's name typed) or all.
    #[arg(
        long,
        env = "TRAILKEEPER_APPROVALS",
        default_value = "off",
        value_name = "WHICH",
        value_enum
    )]
    pub approvals: Approvals,
    /// How long a change waits for approval before it expires.
    #[arg(
        long,
        env = "TRAILKEEPER_APPROVAL_EXPIRY",
        default_value = "24h",
        value_name = "DURATION",
        value_parser = parse::duration
    )]
    pub approval_expiry: Duration,
}

impl ApprovalArgs {
    pub fn policy(&self) -> ApprovalPolicy {
        ApprovalPolicy {
            which: self.approvals,
            expiry: self.approval_expiry,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Add an alert channel; with --min-severity, also the rule sending every finding at or
    /// above it there. A webhook given no signing_key gets one, printed this once.
    Add {
        /// 1 to 100 characters.
        name: String,
        /// webhook, slack, email or sns.
        #[arg(long, value_name = "KIND", value_parser = parse::channel_kind)]
        kind: ChannelKind,
        /// The channel's settings as JSON, for a webhook
        /// '{"url": "https://…", "signing_key": "…", "headers": {…}}'.
        #[arg(long, value_name = "JSON", value_parser = parse::json)]
        config: serde_json::Value,
        /// info, low, medium, high or critical.
        #[arg(long, value_name = "SEVERITY", value_parser = parse::severity)]
        min_severity: Option<Severity>,
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
        value_delimiter = ',',
        value_parser = parse::region
    )]
    pub regions: Vec<Option<String>>,

    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// Which AWS accounts to cover. Without --accounts or --org-role-name, the credentials' own.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Roles to assume, one per account, comma-separated: for example
    /// arn:aws:iam::111111111111:role/trailkeeper-read,arn:aws:iam::222222222222:role/trailkeeper-read.
    #[arg(
        long,
        env = "TRAILKEEPER_ACCOUNTS",
        value_name = "ROLE_ARNS",
        value_delimiter = ',',
        value_parser = parse::role_arn,
        conflicts_with = "org_role_name"
    )]
    pub accounts: Vec<Option<RoleArn>>,

    /// Cover every active account of the AWS Organization (listed from its management or a
    /// delegated administrator account) through the role of this name in each.
    #[arg(
        long,
        env = "TRAILKEEPER_ORG_ROLE_NAME",
        value_name = "NAME",
        value_parser = parse::role_name
    )]
    pub org_role_name: Option<String>,

    /// The external id the roles' trust policies require, if any.
    #[arg(
        long,
        env = "TRAILKEEPER_ORG_EXTERNAL_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub org_external_id: Option<String>,

    /// With --org-role-name: only these accounts, organisational units (ou-…) or roots
    /// (r-…), comma-separated; a unit covers every account under it.
    #[arg(
        long,
        env = "TRAILKEEPER_ORG_ACCOUNTS",
        value_name = "IDS",
        value_delimiter = ',',
        value_parser = parse::org_member,
        requires = "org_role_name"
    )]
    pub org_accounts: Vec<Option<OrgMember>>,

    /// With --org-role-name: leave out these accounts, organisational units or roots.
    #[arg(
        long,
        env = "TRAILKEEPER_ORG_EXCLUDE",
        value_name = "IDS",
        value_delimiter = ',',
        value_parser = parse::org_member,
        requires = "org_role_name"
    )]
    pub org_exclude: Vec<Option<OrgMember>>,

    /// How many accounts are synced at once (each account's regions in turn).
    #[arg(
        long,
        env = "TRAILKEEPER_SYNC_ACCOUNT_CONCURRENCY",
        value_name = "N",
        default_value_t = DEFAULT_CONCURRENCY,
        value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from)
    )]
    pub sync_account_concurrency: usize,
}

impl AccountArgs {
    pub fn settings(self) -> AccountSettings {
        let roles: Vec<RoleArn> = self.accounts.into_iter().flatten().collect();
        let coverage = match self.org_role_name {
            Some(role_name) => Coverage::Organization {
                role_name,
                include: self.org_accounts.into_iter().flatten().collect(),
                exclude: self.org_exclude.into_iter().flatten().collect(),
            },
            None if !roles.is_empty() => Coverage::Roles(roles),
            None => Coverage::Own,
        };
        AccountSettings {
            coverage,
            external_id: self.org_external_id.filter(|id| !id.is_empty()),
            concurrency: self.sync_account_concurrency,
        }
    }
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, directories, or s3://BUCKET/PREFIX URLs of CloudTrail trail logs.
    #[arg(
        required_unless_present = "lookup",
        value_name = "PATH|S3_URL",
        value_parser = parse::ingest_source
    )]
    pub sources: Vec<IngestSource>,
    /// Also read CloudTrail's LookupEvents (the last 90 days) in each region of --regions,
    /// from where the last run stopped.
    #[arg(long)]
    pub lookup: bool,
    /// With --lookup: start at this time (RFC 3339, for example 2026-01-01T00:00:00Z)
    /// instead of where the last run stopped.
    #[arg(long, requires = "lookup", value_name = "TIME", value_parser = parse::time)]
    pub since: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["backfill", "what_if"])))]
pub struct DetectArgs {
    /// Clear the detectors' memory and run them over the stored events from the first;
    /// findings nobody has triaged in the range are made again.
    #[arg(long)]
    pub backfill: bool,
    /// Instead: run detection over recent events with the settings in FILE (the JSON of
    /// /api/v1/settings/detection; settings left out keep their defaults) beside the stored
    /// settings, and print the findings the change would add and drop. Nothing is stored.
    #[arg(long, value_name = "FILE")]
    pub what_if: Option<PathBuf>,
    /// Record findings for events at or after this time (RFC 3339). The detectors still
    /// learn from everything before it. With --what-if: judge the events from this time
    /// (default: the stored setting what_if_days before now).
    #[arg(long, value_name = "TIME", value_parser = parse::time)]
    pub since: Option<DateTime<Utc>>,
    /// Record findings only for events before this time (RFC 3339). The detectors still
    /// learn from every stored event, so live detection goes on from all of them.
    #[arg(long, value_name = "TIME", value_parser = parse::time, conflicts_with = "what_if")]
    pub until: Option<DateTime<Utc>>,
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
        #[arg(long, value_name = "DURATION", value_parser = parse::duration)]
        expires: Option<Duration>,
        /// Limit what the token may see and act on: accounts, tags and name prefixes,
        /// comma-separated, e.g. team=payments,111111111111,payments/*. Without it the token
        /// sees everything its role allows.
        #[arg(long, value_name = "SCOPE", value_parser = parse::scope)]
        scope: Option<Scope>,
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
        /// Limit what the user may see and act on (as for `user set-scope`).
        #[arg(long, value_name = "SCOPE", value_parser = parse::scope)]
        scope: Option<Scope>,
    },
    /// List users with their roles, scopes and whether they are disabled.
    List,
    /// Disable a user: they can no longer sign in. The user and their history stay.
    Disable { name: String },
    /// Change a user's role (viewer, auditor or admin). Ends the user's sessions.
    SetRole { name: String, role: Role },
    /// Limit what a user may see and act on to accounts, secret tags and name prefixes,
    /// comma-separated: e.g. team=payments,111111111111,payments/*. A secret is in scope when
    /// any term matches it; its events and findings follow it. `*` lifts the limit.
    SetScope {
        name: String,
        #[arg(value_parser = parse::scope)]
        scope: Scope,
    },
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
        value_name = "ADDR",
        value_parser = parse::listen_address
    )]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub sync: SyncArgs,

    /// Change nothing in AWS: the secret pages offer no Actions and the administration
    /// routes answer 403 (for an AWS role that may only read).
    #[arg(
        long,
        env = "TRAILKEEPER_READ_ONLY",
        default_value = "false",
        value_name = "BOOL",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub read_only: bool,

    #[command(flatten)]
    pub approvals: ApprovalArgs,

    /// PostgreSQL URL of a streaming read replica of DATABASE_URL's database: pages, the
    /// API's reads and exports read from it; writes, ingest, detection, sync and alerting use
    /// DATABASE_URL. Someone who just changed something reads from DATABASE_URL until the
    /// replica has their change.
    #[arg(
        long,
        env = "TRAILKEEPER_READ_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub read_database_url: Option<String>,

    /// With a read replica: how far behind the primary it may fall before /healthz/ready
    /// says this server is not ready.
    #[arg(
        long,
        env = "TRAILKEEPER_READ_MAX_LAG",
        default_value = "30s",
        value_name = "DURATION",
        value_parser = parse::duration
    )]
    pub read_max_lag: Duration,

    /// How often to sync the inventory from AWS while serving (also once at start).
    #[arg(
        long,
        env = "TRAILKEEPER_SYNC_INTERVAL",
        default_value = "5m",
        value_name = "DURATION",
        value_parser = parse::duration
    )]
    pub sync_interval: Duration,

    /// How often to read CloudTrail's LookupEvents in each region while serving, or `off`.
    #[arg(
        long,
        env = "TRAILKEEPER_LOOKUP_INTERVAL",
        default_value = "1m",
        value_name = "DURATION",
        value_parser = parse::interval
    )]
    pub lookup_interval: Interval,

    /// CloudTrail trail logs to read while serving: s3://BUCKET/PREFIX URLs, comma-separated.
    #[arg(
        long,
        env = "TRAILKEEPER_S3_TRAILS",
        value_name = "URLS",
        value_delimiter = ',',
        value_parser = parse::s3_url
    )]
    pub s3_trails: Vec<Option<S3Url>>,

    /// How often to list the S3 trails for new log files while serving.
    #[arg(
        long,
        env = "TRAILKEEPER_S3_INTERVAL",
        default_value = "1m",
        value_name = "DURATION",
        value_parser = parse::duration
    )]
    pub s3_interval: Duration,

    /// An SQS queue of S3 object-created notifications for the trail bucket: new log files
    /// are read as soon as they land.
    #[arg(
        long,
        env = "TRAILKEEPER_SQS_QUEUE_URL",
        value_name = "URL",
        value_parser = parse::http_url
    )]
    pub sqs_queue_url: Option<String>,

    /// The trail buckets and prefixes, as s3://BUCKET/PREFIX URLs, comma-separated, whose
    /// objects the SQS notifications may name; a notice for any other object is set aside
    /// unread. Default: the TRAILKEEPER_S3_TRAILS URLs.
    #[arg(
        long,
        env = "TRAILKEEPER_SQS_BUCKETS",
        value_name = "S3_URLS",
        value_delimiter = ',',
        value_parser = parse::s3_url
    )]
    pub sqs_buckets: Vec<Option<S3Url>>,

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
        value_name = "DURATION",
        value_parser = parse::duration
    )]
    pub session_idle_timeout: Duration,

    /// A session ends this long after sign-in however busy it is, for example 12h.
    #[arg(
        long,
        env = "TRAILKEEPER_SESSION_LIFETIME",
        default_value = "12h",
        value_name = "DURATION",
        value_parser = parse::duration
    )]
    pub session_lifetime: Duration,

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
        value_delimiter = ',',
        value_parser = parse::network
    )]
    pub trusted_proxies: Vec<Option<ipnet::IpNet>>,

    /// The address people use to reach Trailkeeper (behind a proxy, for example), for
    /// single sign-on's redirect and alert links. An https:// address makes cookies
    /// `Secure` and sends HSTS, as with built-in TLS. Default: the listen address.
    #[arg(
        long,
        env = "TRAILKEEPER_PUBLIC_URL",
        value_name = "URL",
        value_parser = parse::http_url
    )]
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

    /// Which value of the same claim limits people to which scope term, for example
    /// "team=payments:payments-engineers,111111111111:payments-engineers,*:secops-admins"
    /// (TERM:VALUE; the term `*` is everything; the value `*` anyone). Matching entries add
    /// up; an account that matches none cannot sign in. Unset: scopes are set in Trailkeeper.
    #[arg(long, env = "TRAILKEEPER_OIDC_SCOPES", value_name = "MAPPING")]
    pub oidc_scopes: Option<String>,
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
