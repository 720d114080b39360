//! Findings as pages and the JSON API see them: what detection flagged, how serious it is,
//! and where it stands in triage.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
}

impl FindingKind {
    pub const ALL: [FindingKind; 20] = [
        FindingKind::RotationFailed,
        FindingKind::RotationStuck,
        FindingKind::RotationOverdue,
        FindingKind::RotationNeverRan,
        FindingKind::RotationNeglected,
        FindingKind::RotationCancelled,
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
        }
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
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many events the finding stands for.
    pub count: i64,
    /// The first events of it (at most 50; `count` has the full number).
    pub evidence_event_ids: Vec<String>,
    pub status: FindingStatus,
}
