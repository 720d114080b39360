use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::audit::AuditEntry;
use super::secrets::RotationStatus;

/// Everything the Overview page shows, read in one round trip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub database: DatabaseStatus,
    pub aws: AwsTarget,
    pub inventory: InventoryOverview,
    /// Newest first.
    pub recent_activity: Vec<AuditEntry>,
    pub generated_at: DateTime<Utc>,
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

/// One region's sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRun {
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
pub async fn get_overview() -> Result<Overview, ServerFnError> {
    super::backend_for::<GetOverview>()?.overview().await
}
