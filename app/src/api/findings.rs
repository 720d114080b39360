//! Findings as pages and the JSON API see them: what detection flagged, how serious it is,
//! and where it stands in triage.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::events::EventSummary;
#[cfg(feature = "ssr")]
use super::given;
use super::query::{self, QueryError};
use crate::AppError;

/// How serious a finding is, least first (the order sorts and compares by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name in URLs, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == name)
    }

    pub fn label(self) -> &'static str {
        self.as_str()
    }
}

/// What a finding is about: one kind per thing a detector recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// CloudTrail reported `RotationFailed` or `RotationAbandoned`.
    RotationFailed,
    /// `AWSPENDING` has sat on a version longer than a rotation may take.
    RotationStuck,
    /// The secret's own schedule says it should have rotated by now.
    RotationOverdue,
    /// Rotation is enabled and has never run.
    RotationNeverRan,
    /// Rotation is off and the secret has not been rotated for longer than policy allows.
    RotationNeglected,
    /// Someone switched rotation off (`CancelRotateSecret`).
    RotationCancelled,
    /// Nobody has read the secret for longer than the setting allows.
    SecretUnused,
    /// A principal read a secret it had never read before.
    FirstTimeReader,
    /// A principal read from a network it has not used lately.
    UnfamiliarNetwork,
    /// A principal read with a client it has not used lately.
    UnfamiliarClient,
    /// A principal read a secret far more often than it does in that hour of the week.
    ReadSpike,
    /// One principal read many secrets in a short time.
    BulkRetrieval,
    /// Many refused reads by one principal in a short time.
    DeniedBurst,
    /// A principal of another account read a secret.
    CrossAccountReader,
    /// A resource policy now lets anyone or another account in.
    PolicyOpened,
    /// A resource policy was removed.
    PolicyDeleted,
    /// A secret was scheduled for deletion or deleted at once.
    SecretDeleted,
    /// A replica was removed or promoted away.
    ReplicationRemoved,
    /// The secret's encryption key was changed.
    KmsKeyChanged,
    /// The account's root user acted.
    RootUsed,
    /// A person read a secret at an hour they are not usually active.
    OffHoursAccess,
    /// A change to a secret through Trailkeeper waits for a second admin's approval.
    ChangeAwaitingApproval,
    /// Secrets are kept where no logging trail records Secrets Manager's reads (or only some).
    TrailGap,
    /// A trail that records Secrets Manager's events stopped logging, or stopped delivering.
    TrailStopped,
    /// Events from an account × region that usually arrive steadily stopped arriving.
    IngestSilence,
    /// Someone stopped or deleted a trail (`StopLogging`, `DeleteTrail`).
    LoggingStopped,
    /// Someone changed a trail so that it records less of Secrets Manager's events
    /// (`PutEventSelectors`), or only its home region (`UpdateTrail`).
    LoggingNarrowed,
    /// After a rotation, a principal kept reading the superseded version, or kept failing.
    RotationStaleConsumer,
    /// A principal the policies let read secrets it has not read for the idle period.
    UnusedGrant,
    /// A principal the policies let read very many secrets, or every one (`secretsmanager:*`
    /// on `*`).
    BroadGrant,
}

impl FindingKind {
    pub const ALL: [FindingKind; 30] = [
        FindingKind::RotationFailed,
        FindingKind::RotationStuck,
        FindingKind::RotationOverdue,
        FindingKind::RotationNeverRan,
        FindingKind::RotationNeglected,
        FindingKind::RotationCancelled,
        FindingKind::SecretUnused,
        FindingKind::FirstTimeReader,
        FindingKind::UnfamiliarNetwork,
        FindingKind::UnfamiliarClient,
        FindingKind::ReadSpike,
        FindingKind::BulkRetrieval,
        FindingKind::DeniedBurst,
        FindingKind::CrossAccountReader,
        FindingKind::PolicyOpened,
        FindingKind::PolicyDeleted,
        FindingKind::SecretDeleted,
        FindingKind::ReplicationRemoved,
        FindingKind::KmsKeyChanged,
        FindingKind::RootUsed,
        FindingKind::OffHoursAccess,
        FindingKind::ChangeAwaitingApproval,
        FindingKind::TrailGap,
        FindingKind::TrailStopped,
        FindingKind::IngestSilence,
        FindingKind::LoggingStopped,
        FindingKind::LoggingNarrowed,
        FindingKind::RotationStaleConsumer,
        FindingKind::UnusedGrant,
        FindingKind::BroadGrant,
    ];

    /// The name in URLs, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::RotationFailed => "rotation_failed",
            FindingKind::RotationStuck => "rotation_stuck",
            FindingKind::RotationOverdue => "rotation_overdue",
            FindingKind::RotationNeverRan => "rotation_never_ran",
            FindingKind::RotationNeglected => "rotation_neglected",
            FindingKind::RotationCancelled => "rotation_cancelled",
            FindingKind::SecretUnused => "secret_unused",
            FindingKind::FirstTimeReader => "first_time_reader",
            FindingKind::UnfamiliarNetwork => "unfamiliar_network",
            FindingKind::UnfamiliarClient => "unfamiliar_client",
            FindingKind::ReadSpike => "read_spike",
            FindingKind::BulkRetrieval => "bulk_retrieval",
            FindingKind::DeniedBurst => "denied_burst",
            FindingKind::CrossAccountReader => "cross_account_reader",
            FindingKind::PolicyOpened => "policy_opened",
            FindingKind::PolicyDeleted => "policy_deleted",
            FindingKind::SecretDeleted => "secret_deleted",
            FindingKind::ReplicationRemoved => "replication_removed",
            FindingKind::KmsKeyChanged => "kms_key_changed",
            FindingKind::RootUsed => "root_used",
            FindingKind::OffHoursAccess => "off_hours_access",
            FindingKind::ChangeAwaitingApproval => "change_awaiting_approval",
            FindingKind::TrailGap => "trail_gap",
            FindingKind::TrailStopped => "trail_stopped",
            FindingKind::IngestSilence => "ingest_silence",
            FindingKind::LoggingStopped => "logging_stopped",
            FindingKind::LoggingNarrowed => "logging_narrowed",
            FindingKind::RotationStaleConsumer => "rotation_stale_consumer",
            FindingKind::UnusedGrant => "unused_grant",
            FindingKind::BroadGrant => "broad_grant",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FindingKind::RotationFailed => "rotation failed",
            FindingKind::RotationStuck => "rotation stuck",
            FindingKind::RotationOverdue => "rotation overdue",
            FindingKind::RotationNeverRan => "rotation never ran",
            FindingKind::RotationNeglected => "not rotated",
            FindingKind::RotationCancelled => "rotation switched off",
            FindingKind::SecretUnused => "unused secret",
            FindingKind::FirstTimeReader => "first-time reader",
            FindingKind::UnfamiliarNetwork => "unfamiliar network",
            FindingKind::UnfamiliarClient => "unfamiliar client",
            FindingKind::ReadSpike => "read spike",
            FindingKind::BulkRetrieval => "bulk retrieval",
            FindingKind::DeniedBurst => "burst of denied reads",
            FindingKind::CrossAccountReader => "cross-account reader",
            FindingKind::PolicyOpened => "policy opened up",
            FindingKind::PolicyDeleted => "policy deleted",
            FindingKind::SecretDeleted => "secret deleted",
            FindingKind::ReplicationRemoved => "replication removed",
            FindingKind::KmsKeyChanged => "encryption key changed",
            FindingKind::RootUsed => "root user used",
            FindingKind::OffHoursAccess => "off-hours access",
            FindingKind::ChangeAwaitingApproval => "change awaiting approval",
            FindingKind::TrailGap => "trail blind spot",
            FindingKind::TrailStopped => "trail stopped",
            FindingKind::IngestSilence => "events stopped arriving",
            FindingKind::LoggingStopped => "logging stopped",
            FindingKind::LoggingNarrowed => "logging narrowed",
            FindingKind::RotationStaleConsumer => "stale consumer after rotation",
            FindingKind::UnusedGrant => "unused grant",
            FindingKind::BroadGrant => "broad grant",
        }
    }

    /// Something a principal does to a secret and may do to many in one go (a teardown
    /// deleting seventeen, a sweep reading forty): such findings by one principal within
    /// minutes of each other are one incident, one finding listing every secret. The other
    /// kinds are a secret's standing state, resolved per secret, or about no secret.
    pub fn groups_into_incidents(self) -> bool {
        matches!(
            self,
            FindingKind::RotationCancelled
                | FindingKind::FirstTimeReader
                | FindingKind::UnfamiliarNetwork
                | FindingKind::UnfamiliarClient
                | FindingKind::ReadSpike
                | FindingKind::CrossAccountReader
                | FindingKind::PolicyOpened
                | FindingKind::PolicyDeleted
                | FindingKind::SecretDeleted
                | FindingKind::ReplicationRemoved
                | FindingKind::KmsKeyChanged
                | FindingKind::RootUsed
                | FindingKind::OffHoursAccess
        )
    }

    /// Whether the detectors over events find it, so that a backfill makes it again; the
    /// rest are standing conditions judged after a sync, and changes waiting for approval.
    pub fn found_in_events(self) -> bool {
        !matches!(
            self,
            FindingKind::RotationStuck
                | FindingKind::RotationOverdue
                | FindingKind::RotationNeverRan
                | FindingKind::RotationNeglected
                | FindingKind::SecretUnused
                | FindingKind::ChangeAwaitingApproval
                | FindingKind::TrailGap
                | FindingKind::TrailStopped
                | FindingKind::IngestSilence
                | FindingKind::UnusedGrant
                | FindingKind::BroadGrant
        )
    }

    pub fn parse(name: &str) -> Option<FindingKind> {
        FindingKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// Where a finding stands in triage. Open and acknowledged findings are active: new
/// evidence of the same kind, principal and secret adds to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    Acknowledged,
    /// Closed by a person, or by the detector when the problem went away (a rotation that
    /// succeeded after failing).
    Resolved,
    /// Matched by a suppression rule: kept, counted, not shown in the queue by default.
    Suppressed,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 4] = [
        FindingStatus::Open,
        FindingStatus::Acknowledged,
        FindingStatus::Resolved,
        FindingStatus::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Acknowledged => "acknowledged",
            FindingStatus::Resolved => "resolved",
            FindingStatus::Suppressed => "suppressed",
        }
    }

    pub fn parse(name: &str) -> Option<FindingStatus> {
        FindingStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }

    /// Open or acknowledged: new evidence adds to it.
    pub fn is_active(self) -> bool {
        matches!(self, FindingStatus::Open | FindingStatus::Acknowledged)
    }
}

/// One finding as the queue and the JSON API list it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Finding {
    pub id: i64,
    pub kind: FindingKind,
    pub severity: Severity,
    pub title: String,
    /// Plain words with the numbers the detector used.
    pub explanation: String,
    pub secret_arn: Option<String>,
    pub secret_name: Option<String>,
    /// A role's ARN for its sessions, a user's ARN, or the AWS service.
    pub principal: Option<String>,
    /// The account the finding is about (the secret's, or the event's).
    #[serde(default)]
    pub account_id: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many events the finding stands for.
    pub count: i64,
    /// The first events of it (at most 50; `count` has the full number).
    pub evidence_event_ids: Vec<String>,
    pub status: FindingStatus,
    /// Every secret it touched (that the reader may see), first first: one for a finding
    /// about a secret, several for an incident, none for a finding about no secret.
    #[serde(default)]
    pub secrets: Vec<FindingSecret>,
}

/// One secret of a finding, with its own events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FindingSecret {
    pub arn: String,
    pub name: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: i64,
}

/// Which statuses a query lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusFilter {
    /// Open or acknowledged: the queue.
    #[default]
    Active,
    All,
    Only(FindingStatus),
}

impl StatusFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Active => "active",
            StatusFilter::All => "all",
            StatusFilter::Only(status) => status.as_str(),
        }
    }

    pub fn parse(name: &str) -> Option<StatusFilter> {
        match name {
            "active" => Some(StatusFilter::Active),
            "all" => Some(StatusFilter::All),
            other => FindingStatus::parse(other).map(StatusFilter::Only),
        }
    }
}

/// Which findings to list, most recent activity first: the queue's URL query and the API's
/// query parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingQuery {
    pub status: StatusFilter,
    /// Any of these severities; all when empty.
    pub severities: Vec<Severity>,
    /// Any of these kinds; all when empty.
    pub kinds: Vec<FindingKind>,
    /// A secret's ARN, or part of its name.
    pub secret: Option<String>,
    /// A principal's ARN, or part of it.
    pub principal: Option<String>,
    /// A 12-digit AWS account id: the account the finding is about.
    pub account: Option<String>,
    /// Findings with activity at or after this time…
    pub since: Option<DateTime<Utc>>,
    /// …and before this one.
    pub until: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Comma-separated names, each read by `parse`.
fn names<T>(
    name: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    accepted: &str,
) -> Result<Vec<T>, QueryError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            parse(part).ok_or_else(|| {
                query::invalid(name, part, format_args!("{accepted}, comma-separated"))
            })
        })
        .collect()
}

impl FindingQuery {
    /// Reads URL query parameters: `status` (`active`, the default: open or acknowledged;
    /// `all`; or one status), `severity` and `kind` (comma-separated), `secret`, `principal`,
    /// `since`, `until` (RFC 3339), `cursor`, `limit`. Empty values are ignored; a value a
    /// parameter does not accept is an error that names it.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<FindingQuery, QueryError> {
        let mut query = FindingQuery::default();
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let text = Some(value.to_string());
            match name {
                "status" => {
                    query.status = StatusFilter::parse(value).ok_or_else(|| {
                        QueryError(format!(
                            "status={value:?} is not valid; it accepts active, all, open, \
                             acknowledged, resolved, suppressed"
                        ))
                    })?
                }
                "severity" => {
                    query.severities = names(
                        name,
                        value,
                        Severity::parse,
                        "info, low, medium, high, critical",
                    )?
                }
                "kind" => {
                    query.kinds = names(
                        name,
                        value,
                        FindingKind::parse,
                        &FindingKind::ALL.map(FindingKind::as_str).join(", "),
                    )?
                }
                "secret" => query.secret = text,
                "principal" => query.principal = text,
                "account" => query.account = Some(query::account(name, value)?),
                "since" => query.since = Some(query::time(name, value)?),
                "until" => query.until = Some(query::time(name, value)?),
                "cursor" => query.cursor = text,
                "limit" => query.limit = Some(query::limit(name, value)?),
                _ => {}
            }
        }
        query::in_order(query.since, query.until)?;
        Ok(query)
    }

    pub fn parse(text: &str) -> Result<FindingQuery, QueryError> {
        FindingQuery::from_pairs(query::pairs(text).iter().map(query::as_strs))
    }

    /// The URL query that [`FindingQuery::parse`] reads back into this query.
    pub fn to_query_string(&self) -> String {
        let status = (self.status != StatusFilter::Active).then(|| self.status.as_str());
        let severities = self
            .severities
            .iter()
            .map(|severity| severity.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let kinds = self
            .kinds
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let since = self.since.map(|time| time.to_rfc3339());
        let until = self.until.map(|time| time.to_rfc3339());
        let limit = self.limit.map(|limit| limit.to_string());
        query::write([
            ("status", status),
            (
                "severity",
                Some(severities.as_str()).filter(|s| !s.is_empty()),
            ),
            ("kind", Some(kinds.as_str()).filter(|s| !s.is_empty())),
            ("secret", self.secret.as_deref()),
            ("principal", self.principal.as_deref()),
            ("account", self.account.as_deref()),
            ("since", since.as_deref()),
            ("until", until.as_deref()),
            ("cursor", self.cursor.as_deref()),
            ("limit", limit.as_deref()),
        ])
    }

    pub fn first_page(&self) -> FindingQuery {
        FindingQuery {
            cursor: None,
            ..self.clone()
        }
    }
}

/// One page of findings: `next` continues it when there is more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FindingPage {
    pub items: Vec<Finding>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// The queue's data: a page, and how many findings of each severity match the other filters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingListing {
    pub page: FindingPage,
    /// Most severe first; severities with none are left out.
    pub counts: Vec<(Severity, i64)>,
}

/// One entry of a finding's history: a triage action or a detector's resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TriageEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `finding.acknowledged`, `finding.commented`, `finding.resolved`, …
    pub action: String,
    pub summary: String,
}

/// One finding in full: what the finding page shows and `GET /api/v1/findings/{id}` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FindingDetail {
    /// With the account it is about (`account_id`).
    #[serde(flatten)]
    pub finding: Finding,
    pub region: Option<String>,
    pub assignee: Option<String>,
    /// The detector's numbers (baseline, observed, the step that failed…) and the settings'
    /// values it used.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub detail: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The evidence events that are still stored, oldest first.
    pub evidence: Vec<EventSummary>,
    /// The principal's events per hour around the finding (a day either side).
    pub activity: Vec<(DateTime<Utc>, i64)>,
    /// Oldest first.
    pub history: Vec<TriageEntry>,
}

/// What a person does with a finding. Every action may carry a comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TriageAction {
    Acknowledge {
        #[serde(default)]
        comment: Option<String>,
    },
    Resolve {
        #[serde(default)]
        comment: Option<String>,
    },
    /// Back to open, from acknowledged, resolved or suppressed.
    Reopen {
        #[serde(default)]
        comment: Option<String>,
    },
    /// Files the finding, and findings of the same kind, principal and secret until then,
    /// as suppressed: a suppression rule.
    Suppress {
        until: DateTime<Utc>,
        reason: String,
    },
    /// To a person (`null` to unassign).
    Assign {
        #[serde(default)]
        assignee: Option<String>,
        #[serde(default)]
        comment: Option<String>,
    },
    Comment {
        comment: String,
    },
}

/// An empty comment (which is refused): what a request without an action asks for.
impl Default for TriageAction {
    fn default() -> Self {
        TriageAction::Comment {
            comment: String::new(),
        }
    }
}

/// A rule that files matching findings as suppressed until it expires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Suppression {
    pub id: i64,
    /// `null`: any kind.
    pub kind: Option<FindingKind>,
    /// A principal's ARN; `*` matches anything. `null`: any principal.
    pub principal_pattern: Option<String>,
    /// A secret's name or ARN; `*` matches anything. `null`: any secret.
    pub secret_pattern: Option<String>,
    pub until: DateTime<Utc>,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A suppression rule to add.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewSuppression {
    #[serde(default)]
    pub kind: Option<FindingKind>,
    #[serde(default)]
    pub principal_pattern: Option<String>,
    #[serde(default)]
    pub secret_pattern: Option<String>,
    pub until: DateTime<Utc>,
    pub reason: String,
}

/// The queue; `query` is its URL query (see [`FindingQuery::parse`]).
#[server(endpoint = "findings")]
pub async fn list_findings(#[server(default)] query: String) -> Result<FindingListing, AppError> {
    let backend = super::backend_for::<ListFindings>()?;
    let query = FindingQuery::parse(&query)?;
    backend.findings(query).await
}

#[server(endpoint = "finding")]
pub async fn get_finding(#[server(default)] id: i64) -> Result<Option<FindingDetail>, AppError> {
    super::backend_for::<GetFinding>()?.finding(id).await
}

/// Does a triage action as the caller, taking the triage form's fields: `action` is the button
/// pressed (acknowledge, resolve, reopen, comment, assign or suppress), `until` a day
/// (`2026-12-31`) or an RFC 3339 time. Refused (as [`AppError`]) when the action is not
/// allowed (the finding's status does not allow it, a value is not valid), and why.
#[server(endpoint = "triage_finding")]
pub async fn triage_finding(
    #[server(default)] id: i64,
    #[server(default)] action: String,
    #[server(default)] comment: String,
    #[server(default)] assignee: String,
    #[server(default)] until: String,
) -> Result<(), AppError> {
    let backend = super::backend_for::<TriageFinding>()?;
    let who = super::caller()?;
    let action = match action.as_str() {
        "acknowledge" => TriageAction::Acknowledge {
            comment: given(comment),
        },
        "resolve" => TriageAction::Resolve {
            comment: given(comment),
        },
        "reopen" => TriageAction::Reopen {
            comment: given(comment),
        },
        "comment" => TriageAction::Comment { comment },
        "assign" => TriageAction::Assign {
            assignee: given(assignee),
            comment: given(comment),
        },
        "suppress" => TriageAction::Suppress {
            until: day_or_time("until", &until)?,
            reason: comment,
        },
        other => {
            return Err(AppError::Invalid {
                parameter: Some("action".into()),
                message: format!("{other:?} is not a triage action"),
            });
        }
    };
    backend.triage(who, id, action).await
}

/// A form's date (`2026-12-31`, its start in UTC) or an RFC 3339 time.
#[cfg(feature = "ssr")]
fn day_or_time(parameter: &str, value: &str) -> Result<DateTime<Utc>, AppError> {
    let value = value.trim();
    let day = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc());
    let time = || DateTime::parse_from_rfc3339(value).map(|time| time.with_timezone(&Utc));
    day.or_else(|_| time()).map_err(|_| AppError::Invalid {
        parameter: Some(parameter.into()),
        message: if value.is_empty() {
            "a suppression needs a date it lasts until".into()
        } else {
            format!("{value:?} is not a date such as 2026-12-31")
        },
    })
}

/// The suppression rules in force, soonest to expire first.
#[server(endpoint = "suppressions")]
pub async fn list_suppressions() -> Result<Vec<Suppression>, AppError> {
    super::backend_for::<ListSuppressions>()?
        .suppressions()
        .await
}

/// Adds a suppression rule as the caller, taking the rule form's fields: an empty `kind` or
/// pattern means any, `until` is a day (`2026-12-31`) or an RFC 3339 time. Refused (as
/// [`AppError`]) when a value is not valid.
#[server(endpoint = "add_suppression")]
pub async fn add_suppression(
    #[server(default)] kind: String,
    #[server(default)] principal_pattern: String,
    #[server(default)] secret_pattern: String,
    #[server(default)] until: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    let backend = super::backend_for::<AddSuppression>()?;
    let who = super::caller()?;
    let kind = match kind.trim() {
        "" => None,
        name => Some(FindingKind::parse(name).ok_or_else(|| AppError::Invalid {
            parameter: Some("kind".into()),
            message: format!("{name:?} is not a kind of finding"),
        })?),
    };
    let rule = NewSuppression {
        kind,
        principal_pattern: given(principal_pattern),
        secret_pattern: given(secret_pattern),
        until: day_or_time("until", &until)?,
        reason,
    };
    backend.add_suppression(who, rule).await
}

/// Removes a suppression rule as the caller; refused (as [`AppError`]) when there is no such rule.
#[server(endpoint = "remove_suppression")]
pub async fn remove_suppression(#[server(default)] id: i64) -> Result<(), AppError> {
    let backend = super::backend_for::<RemoveSuppression>()?;
    let who = super::caller()?;
    backend.remove_suppression(who, id).await
}
