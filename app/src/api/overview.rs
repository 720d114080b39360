use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::audit::AuditEntry;
use super::events::Histogram;
use super::findings::{Finding, Severity};
use super::secrets::RotationStatus;
use crate::AppError;

/// Everything the Overview page shows, read in one round trip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub findings: FindingsOverview,
    pub database: DatabaseStatus,
    pub aws: AwsTarget,
    pub inventory: InventoryOverview,
    /// Each AWS account Trailkeeper knows, by name.
    #[serde(default)]
    pub accounts: Vec<AccountOverview>,
    /// Whether CloudTrail records what detection needs in each account × region.
    #[serde(default)]
    pub coverage: Vec<RegionCoverage>,
    pub events: EventsOverview,
    /// Newest first.
    pub recent_activity: Vec<AuditEntry>,
    pub generated_at: DateTime<Utc>,
    /// Read for a person limited to part of the estate: estate-wide figures (sources,
    /// quarantine) are not theirs to see.
    #[serde(default)]
    pub scoped: bool,
}

/// What needs a person first: active findings by severity, and the most pressing of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingsOverview {
    /// Open or acknowledged findings of each severity, most severe first.
    pub by_severity: Vec<(Severity, i64)>,
    /// The most severe active findings, the most recent first within a severity.
    pub top: Vec<Finding>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseStatus {
    /// For example "PostgreSQL 15.18".
    pub server_version: String,
    /// Where the database lives, without credentials: the embedded cluster's directory or
    /// the external server's host and database name.
    pub location: String,
    /// The newest applied migration.
    pub schema_version: i64,
    pub schema_description: String,
    pub size_bytes: i64,
}

/// The inventory at a glance: how rotation stands, what is flagged, how the last sync went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryOverview {
    /// Secrets AWS still has.
    pub secrets: i64,
    /// Each status with its count, most urgent first; statuses no secret has are left out.
    pub by_status: Vec<(RotationStatus, i64)>,
    /// Secrets with at least one flag (public or cross-account policy, scheduled deletion,
    /// replica).
    pub flagged: i64,
    /// The newest sync of each region.
    pub last_syncs: Vec<SyncRun>,
}

/// One account at a glance: its secrets, how their rotation stands, what is open, how its
/// last sync went and whether its CloudTrail is arriving.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountOverview {
    pub id: String,
    pub name: Option<String>,
    /// Secrets AWS still has.
    pub secrets: i64,
    /// Of those, rotating as they should (healthy or due soon)…
    pub rotation_healthy: i64,
    /// …and stuck, failing, overdue or never rotated although enabled.
    pub rotation_problems: i64,
    /// Open or acknowledged findings about it.
    pub open_findings: i64,
    /// When its newest sync finished (any region), and the errors of its regions' newest syncs.
    pub last_sync: Option<DateTime<Utc>>,
    pub sync_errors: Vec<String>,
    /// The newest CloudTrail event stored from it: `None` when its trail has delivered nothing.
    pub newest_event: Option<DateTime<Utc>>,
}

/// One account × region: its secrets, what its trails log of Secrets Manager, and how fresh
/// its stored CloudTrail is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionCoverage {
    pub account_id: String,
    pub account_name: Option<String>,
    pub region: String,
    /// Secrets AWS still has there.
    pub secrets: i64,
    /// What the last sync found of its trails; `None` before a sync has looked.
    pub trails: Option<TrailCheck>,
    /// The newest CloudTrail event stored from it.
    pub newest_event: Option<DateTime<Utc>>,
}

/// The trails a sync found logging in one account × region (its own, multi-region and
/// organisation trails), and the best any of them does for Secrets Manager.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrailCheck {
    pub checked_at: DateTime<Utc>,
    /// Secrets Manager's management reads logged by a trail that is logging; `None` when
    /// that could not be told (see `error`).
    pub reads: Option<Logged>,
    pub writes: Option<Logged>,
    /// Why the trails, or one of them, could not be read.
    pub error: Option<String>,
    pub trails: Vec<TrailState>,
}

/// One trail as the sync read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrailState {
    pub arn: String,
    pub name: String,
    pub home_region: Option<String>,
    pub multi_region: bool,
    pub organization: bool,
    /// Whether it is logging; `None` when its status could not be read.
    pub logging: Option<bool>,
    pub latest_delivery_at: Option<DateTime<Utc>>,
    pub latest_delivery_error: Option<String>,
    /// What its event selectors log of Secrets Manager's management events; `None` when
    /// they could not be read.
    pub reads: Option<Logged>,
    pub writes: Option<Logged>,
    /// Why its status or its selectors could not be read.
    pub problem: Option<String>,
}

/// How much of a kind of event a trail logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Logged {
    None,
    /// Some calls and not others (some operations, or depending on who calls or from where).
    Partly,
    All,
}

impl Logged {
    pub fn as_str(self) -> &'static str {
        match self {
            Logged::None => "none",
            Logged::Partly => "partly",
            Logged::All => "all",
        }
    }

    pub fn parse(text: &str) -> Option<Logged> {
        match text {
            "none" => Some(Logged::None),
            "partly" => Some(Logged::Partly),
            "all" => Some(Logged::All),
            _ => None,
        }
    }
}

/// CloudTrail at a glance: the last day's events, and how each source is keeping up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventsOverview {
    /// Events in the last 24 hours.
    pub last_day: i64,
    /// Of those, how many failed.
    pub errors_last_day: i64,
    /// The busiest principals of the last 24 hours, with their event counts.
    pub top_principals: Vec<(String, i64)>,
    /// The last 24 hours' events per hour.
    pub last_day_by_hour: Option<Histogram>,
    /// The newest event stored, if any.
    pub newest_event: Option<DateTime<Utc>>,
    /// Records and files set aside, in all.
    pub quarantined: i64,
    /// Each configured source's last poll.
    pub polls: Vec<SourcePoll>,
    /// Each stream's checkpoint (an S3 account × region prefix, a region's LookupEvents).
    pub checkpoints: Vec<StreamCheckpoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcePoll {
    pub source: String,
    pub polled_at: DateTime<Utc>,
    /// Why the last poll failed, if it did.
    pub error: Option<String>,
    pub new_events: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamCheckpoint {
    pub source: String,
    /// The last object key read, or the time read up to.
    pub position: String,
    /// The newest event time the stream has delivered: its lag is now minus this.
    pub newest_event_time: Option<DateTime<Utc>>,
    pub advanced_at: DateTime<Utc>,
    /// Records or files from this stream set aside.
    pub quarantined: i64,
}

/// One region's sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRun {
    /// `None`: the credentials' own account, when no other is configured.
    #[serde(default)]
    pub account_id: Option<String>,
    pub region: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `partial` or `failed`.
    pub outcome: String,
    pub secrets_seen: i32,
    pub label_moves: i32,
    /// Each error as `CODE: message` (or the message alone when AWS gave no code).
    pub errors: Vec<String>,
}

/// The AWS API endpoint Trailkeeper is configured to talk to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AwsTarget {
    pub region: Option<String>,
    /// A custom endpoint (`AWS_ENDPOINT_URL`), or `None` for AWS's own.
    pub endpoint: Option<String>,
}

#[server(endpoint = "overview")]
pub async fn get_overview() -> Result<Overview, AppError> {
    super::backend_for::<GetOverview>()?.overview().await
}
