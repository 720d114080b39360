use crate::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One entry of Trailkeeper's own audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    /// The client address of the request that did it; `None` for the service itself and for
    /// commands run on the server.
    pub address: Option<String>,
    pub action: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub summary: String,
}

/// Which entries the audit page shows; every field comes from the page's URL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Part of the actor's name, any case.
    pub actor: Option<String>,
    /// An action (`user.created`) or a family of them (`user.`).
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Keyset cursor: only entries older than this id.
    pub before: Option<i64>,
}

/// The outcomes an entry can have, for the filter.
pub const OUTCOMES: [&str; 3] = ["success", "failure", "denied"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// The cursor for the next (older) page, when there is one.
    pub next_before: Option<i64>,
}

#[server(endpoint = "audit_log")]
pub async fn get_audit_log(#[server(default)] filter: AuditFilter) -> Result<AuditPage, AppError> {
    super::backend_for::<GetAuditLog>()?.audit_log(filter).await
}
