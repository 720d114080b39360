//! The validated settings each command runs with.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use trailkeeper_app::Role;
use trailkeeper_app::api::admin::{ChangeRequest, SecretAction};
use trailkeeper_app::api::settings::DetectionSettings;
use trailkeeper_app::scope::Scope;

use crate::admin::approvals::ApprovalPolicy;
use trailkeeper_app::api::alerts::NewChannel;

use super::cli::UserCommand;
use crate::alert::channels::outbound::Destinations;
use crate::alert::sealing::{KeyError, SECRET_KEY_FILE, SealingKey};
use crate::auth::oidc::OidcSettings;
use crate::auth::sessions::SessionPolicy;
use crate::aws::accounts::AccountSettings;
use crate::db::DatabaseSource;
use crate::ingest::sources::s3::S3Url;
use sqlx::postgres::PgConnectOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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
        accounts: AccountSettings,
    },
    Ingest(IngestPlan),
    Backfill {
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    },
    /// Detection over recent events with the settings `proposed` (read from
    /// `settings_file`), beside the stored.
    WhatIf {
        proposed: Box<DetectionSettings>,
        settings_file: PathBuf,
        since: Option<DateTime<Utc>>,
    },
    DbRun {
        command: Vec<OsString>,
    },
    User(UserCommand),
    Token(TokenInvocation),
    Channel(ChannelInvocation),
    /// A change to the secret `secret` (name or ARN).
    Secret {
        secret: String,
        action: SecretAction,
        request: Box<ChangeRequest>,
        approvals: ApprovalPolicy,
        /// For a secret in a member account, through its role.
        external_id: Option<String>,
    },
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
    pub accounts: AccountSettings,
    pub since: Option<DateTime<Utc>>,
}

/// What `serve` needs, validated.
#[derive(Debug)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    /// Regions to sync; empty means the SDK's region.
    pub regions: Vec<String>,
    /// The accounts to sync and read LookupEvents in.
    pub accounts: AccountSettings,
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
    /// Change nothing in AWS: no Actions, the administration routes refused.
    pub read_only: bool,
    /// Which changes wait for a second admin.
    pub approvals: ApprovalPolicy,
    /// A streaming read replica, and how far behind it may fall.
    pub read_replica: Option<ReadReplica>,
}

#[derive(Debug)]
pub struct ReadReplica {
    pub database: PgConnectOptions,
    pub max_lag: Duration,
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
        /// `None`: everything its role allows.
        scope: Option<Scope>,
    },
    List,
    Revoke {
        name: String,
    },
}
