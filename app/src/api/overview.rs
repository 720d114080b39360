use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::audit::AuditEntry;

/// Everything the Overview page shows, read in one round trip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub database: DatabaseStatus,
    pub aws: AwsTarget,
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
