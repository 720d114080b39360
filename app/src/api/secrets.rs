//! The inventory as pages and the JSON API see it: secrets with their rotation status and
//! flags, one secret in full with its versions and label history, and the query that lists
//! them (which lives in the URL, so a view can be shared).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::admin::TrailkeeperChange;
use super::findings::Severity;
use super::query::{self, QueryError};
use crate::AppError;

/// How a secret's rotation stands, computed in one place on the server and shown the same
/// way everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RotationStatus {
    /// A rotation started and did not finish: `AWSPENDING` sits on a version that is not
    /// `AWSCURRENT` for longer than the grace period.
    Stuck,
    /// The last rotation failed or was abandoned (CloudTrail's `RotationFailed` or
    /// `RotationAbandoned`), and none has succeeded since.
    Failing,
    /// The next rotation date has passed, or the last rotation is older than the interval.
    Overdue,
    /// Rotation is enabled and has never run.
    NeverRotated,
    /// The next rotation is within a day.
    DueSoon,
    /// Rotated on schedule, next rotation more than a day away.
    Healthy,
    /// Rotation is not enabled.
    Disabled,
}

impl RotationStatus {
    /// Most urgent first: the order of the status column when sorted.
    pub const ALL: [RotationStatus; 7] = [
        RotationStatus::Stuck,
        RotationStatus::Failing,
        RotationStatus::Overdue,
        RotationStatus::NeverRotated,
        RotationStatus::DueSoon,
        RotationStatus::Healthy,
        RotationStatus::Disabled,
    ];

    /// The name in URLs, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationStatus::Stuck => "stuck",
            RotationStatus::Failing => "failing",
            RotationStatus::Overdue => "overdue",
            RotationStatus::NeverRotated => "never_rotated",
            RotationStatus::DueSoon => "due_soon",
            RotationStatus::Healthy => "healthy",
            RotationStatus::Disabled => "disabled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RotationStatus::Stuck => "stuck",
            RotationStatus::Failing => "failing",
            RotationStatus::Overdue => "overdue",
            RotationStatus::NeverRotated => "never rotated",
            RotationStatus::DueSoon => "due soon",
            RotationStatus::Healthy => "healthy",
            RotationStatus::Disabled => "disabled",
        }
    }

    pub fn parse(name: &str) -> Option<RotationStatus> {
        RotationStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}

/// Something about a secret that deserves a second look, shown as a flag in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecretFlag {
    /// A resource policy statement lets anyone in.
    PublicPolicy,
    /// A resource policy statement lets other accounts in.
    CrossAccount,
    /// Deletion is scheduled.
    ScheduledDeletion,
    /// A read-only replica of a secret whose primary is in another region.
    Replica,
}

impl SecretFlag {
    pub const ALL: [SecretFlag; 4] = [
        SecretFlag::PublicPolicy,
        SecretFlag::CrossAccount,
        SecretFlag::ScheduledDeletion,
        SecretFlag::Replica,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretFlag::PublicPolicy => "public_policy",
            SecretFlag::CrossAccount => "cross_account",
            SecretFlag::ScheduledDeletion => "scheduled_deletion",
            SecretFlag::Replica => "replica",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SecretFlag::PublicPolicy => "public policy",
            SecretFlag::CrossAccount => "cross-account",
            SecretFlag::ScheduledDeletion => "scheduled for deletion",
            SecretFlag::Replica => "replica",
        }
    }

    pub fn parse(name: &str) -> Option<SecretFlag> {
        SecretFlag::ALL
            .into_iter()
            .find(|flag| flag.as_str() == name)
    }
}

/// `3f2a9c1e…` for a version id: enough to tell versions apart in a sentence or a chart.
pub fn short_version_id(version: &str) -> String {
    let mut short: String = version.chars().take(8).collect();
    if version.chars().count() > 8 {
        short.push('…');
    }
    short
}

/// A resource policy statement that opens a secret beyond its own account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PolicyFlag {
    /// The statement's `Sid` in quotes, or `#N` for the N-th statement without one.
    pub statement: String,
    pub exposure: PolicyExposure,
    /// One sentence naming the statement, whom it lets in, to do what.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PolicyExposure {
    /// Anyone: `"Principal": "*"` (or `NotPrincipal`) without a narrowing condition.
    Public,
    /// Principals of these other accounts.
    CrossAccount { accounts: Vec<String> },
}

/// One secret as the list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretSummary {
    pub arn: String,
    pub name: String,
    pub region: String,
    /// The AWS account that holds it…
    #[serde(default)]
    pub account_id: String,
    /// …and the Organization's name for that account, when Trailkeeper knows it.
    #[serde(default)]
    pub account_name: Option<String>,
    pub description: Option<String>,
    pub rotation_status: RotationStatus,
    /// One line that says why the status is what it is.
    pub rotation_reason: String,
    pub rotation_enabled: bool,
    pub last_rotated_at: Option<DateTime<Utc>>,
    pub next_rotation_at: Option<DateTime<Utc>>,
    /// AWS records the day only.
    pub last_accessed_at: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
    pub flags: Vec<SecretFlag>,
    /// The AWS service that manages the secret (for example `rds`), if any.
    pub owning_service: Option<String>,
    /// `None`: the account's default key, `aws/secretsmanager`.
    pub kms_key_id: Option<String>,
    /// AWS's `DeletedDate`, set while deletion is scheduled.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Since when AWS no longer lists the secret; its record is kept.
    pub gone_since: Option<DateTime<Utc>>,
    /// Its active findings (open or acknowledged)…
    #[serde(default)]
    pub active_findings: i64,
    /// …and the most severe of them.
    #[serde(default)]
    pub worst_finding: Option<Severity>,
}

/// One secret in full: everything the detail page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretDetail {
    /// With the secret's account (`account_id`, `account_name`).
    #[serde(flatten)]
    pub summary: SecretSummary,
    pub created_at: Option<DateTime<Utc>>,
    pub last_changed_at: Option<DateTime<Utc>>,
    pub rotation: RotationSettings,
    /// The primary region of a replica.
    pub primary_region: Option<String>,
    /// The regions this secret is replicated to.
    pub replicas: Vec<Replica>,
    /// The resource policy, formatted for reading.
    pub resource_policy: Option<String>,
    pub policy_flags: Vec<PolicyFlag>,
    /// Newest first, deprecated and gone versions included.
    pub versions: Vec<SecretVersion>,
    /// Oldest first.
    pub label_history: Vec<LabelMove>,
    /// CloudTrail events that changed the secret without moving a label (rotations' starts
    /// and outcomes, rotation cancelled, metadata updated, deleted, restored), oldest first.
    pub changes: Vec<SecretChange>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RotationSettings {
    pub enabled: bool,
    pub lambda_arn: Option<String>,
    pub automatically_after_days: Option<i32>,
    /// `rate(…)` or `cron(…)`.
    pub schedule_expression: Option<String>,
    /// The rotation window's length, such as `3h`.
    pub window: Option<String>,
    /// The schedule as people say it: "every 30 days".
    pub schedule: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Replica {
    pub region: String,
    pub kms_key_id: Option<String>,
    /// `InSync`, `InProgress` or `Failed`.
    pub status: Option<String>,
    pub status_message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretVersion {
    pub version_id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub last_accessed_at: Option<DateTime<Utc>>,
    /// Empty for a deprecated version.
    pub labels: Vec<String>,
    pub kms_key_ids: Vec<String>,
    pub first_seen_at: DateTime<Utc>,
    /// Since when AWS no longer lists the version.
    pub gone_since: Option<DateTime<Utc>>,
}

/// One move of a staging label, as a sync saw it, CloudTrail recorded it, or both.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LabelMove {
    pub label: String,
    /// `None`: the label was on no version before (or CloudTrail did not say where it was).
    pub from_version: Option<String>,
    /// `None`: the label left every version.
    pub to_version: Option<String>,
    /// When it happened: the time of the CloudTrail event that made it when one is known,
    /// otherwise when a sync first saw it.
    pub at: DateTime<Utc>,
    /// When a sync first saw it; `None` for a move only CloudTrail knows (a label moved
    /// again before the next sync, or before Trailkeeper's first).
    pub observed_at: Option<DateTime<Utc>>,
    /// The CloudTrail event that made the move: who, when, from where.
    pub by: Option<SecretChange>,
}

/// A CloudTrail event that changed a secret: a new value, a label moved, a rotation's start
/// or outcome, rotation switched off, the secret deleted or restored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretChange {
    pub event_id: String,
    pub event_name: String,
    pub event_time: DateTime<Utc>,
    /// Who acted: a role's ARN for its sessions, a user's ARN, or the AWS service.
    pub principal: Option<String>,
    pub session_name: Option<String>,
    /// The source address, or the AWS service that called.
    pub origin: Option<String>,
    /// AWS's message, such as why a rotation failed.
    pub message: Option<String>,
    /// Made by a person through Trailkeeper (under its AWS role): who, and why.
    #[serde(default)]
    pub through_trailkeeper: Option<TrailkeeperChange>,
}

/// What a name or ARN in an address found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SecretLookup {
    Found(Box<SecretDetail>),
    /// The name exists in several regions (or was deleted and made again): pick one.
    Ambiguous(Vec<SecretSummary>),
    NotFound,
}

/// The columns the list sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSort {
    #[default]
    Name,
    Region,
    Status,
    LastRotated,
    NextRotation,
    LastAccessed,
}

impl SecretSort {
    pub const ALL: [SecretSort; 6] = [
        SecretSort::Name,
        SecretSort::Region,
        SecretSort::Status,
        SecretSort::LastRotated,
        SecretSort::NextRotation,
        SecretSort::LastAccessed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretSort::Name => "name",
            SecretSort::Region => "region",
            SecretSort::Status => "status",
            SecretSort::LastRotated => "last_rotated",
            SecretSort::NextRotation => "next_rotation",
            SecretSort::LastAccessed => "last_accessed",
        }
    }
}

/// Which secrets scheduled for deletion or gone from AWS the list includes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletedFilter {
    /// Secrets AWS still has, including those scheduled for deletion.
    #[default]
    Existing,
    /// Only secrets scheduled for deletion or gone.
    Only,
    /// Everything, gone secrets included.
    Include,
    /// Neither scheduled for deletion nor gone.
    Hide,
}

impl DeletedFilter {
    pub const ALL: [DeletedFilter; 4] = [
        DeletedFilter::Existing,
        DeletedFilter::Only,
        DeletedFilter::Include,
        DeletedFilter::Hide,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeletedFilter::Existing => "existing",
            DeletedFilter::Only => "only",
            DeletedFilter::Include => "include",
            DeletedFilter::Hide => "hide",
        }
    }
}

/// Which flags a listed secret must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagFilter {
    Any,
    Flag(SecretFlag),
}

/// Which secrets the list shows, in which order, from where: the page's URL query and the
/// API's query parameters are both this.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretQuery {
    /// Part of the name, the description, a tag key or value; `key=value` matches a tag.
    pub search: Option<String>,
    /// A 12-digit AWS account id.
    pub account: Option<String>,
    pub region: Option<String>,
    pub status: Option<RotationStatus>,
    pub owning_service: Option<String>,
    /// A key id or ARN; `aws/secretsmanager` for the default key.
    pub kms_key: Option<String>,
    pub deleted: DeletedFilter,
    pub flag: Option<FlagFilter>,
    pub sort: SecretSort,
    pub descending: bool,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

fn choices(names: impl IntoIterator<Item = &'static str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

impl SecretQuery {
    /// Reads URL query parameters: `q`, `account`, `region`, `status`, `service`, `kms_key`, `deleted`,
    /// `flag` (`any` or a flag name), `sort`, `order` (`asc` or `desc`), `cursor`, `limit`.
    /// Empty values are ignored; a value outside what a parameter accepts is an error that
    /// names it.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<SecretQuery, QueryError> {
        let mut query = SecretQuery::default();
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let invalid = |accepted: String| query::invalid(name, value, accepted);
            match name {
                "q" => query.search = Some(value.to_string()),
                "account" => query.account = Some(query::account(name, value)?),
                "region" => query.region = Some(value.to_string()),
                "status" => {
                    query.status = Some(RotationStatus::parse(value).ok_or_else(|| {
                        invalid(choices(RotationStatus::ALL.map(RotationStatus::as_str)))
                    })?)
                }
                "service" => query.owning_service = Some(value.to_string()),
                "kms_key" => query.kms_key = Some(value.to_string()),
                "deleted" => {
                    query.deleted = DeletedFilter::ALL
                        .into_iter()
                        .find(|filter| filter.as_str() == value)
                        .ok_or_else(|| invalid(choices(DeletedFilter::ALL.map(|f| f.as_str()))))?
                }
                "flag" => {
                    query.flag = Some(if value == "any" {
                        FlagFilter::Any
                    } else {
                        FlagFilter::Flag(SecretFlag::parse(value).ok_or_else(|| {
                            invalid(format!(
                                "any, {}",
                                choices(SecretFlag::ALL.map(SecretFlag::as_str))
                            ))
                        })?)
                    })
                }
                "sort" => {
                    query.sort = SecretSort::ALL
                        .into_iter()
                        .find(|sort| sort.as_str() == value)
                        .ok_or_else(|| invalid(choices(SecretSort::ALL.map(SecretSort::as_str))))?
                }
                "order" => {
                    query.descending = match value {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(invalid("asc, desc".into())),
                    }
                }
                "cursor" => query.cursor = Some(value.to_string()),
                "limit" => query.limit = Some(query::limit(name, value)?),
                _ => {}
            }
        }
        Ok(query)
    }

    /// Reads a URL query string (without the `?`), as [`SecretQuery::from_pairs`] does.
    pub fn parse(text: &str) -> Result<SecretQuery, QueryError> {
        SecretQuery::from_pairs(query::pairs(text).iter().map(query::as_strs))
    }

    /// The URL query that [`SecretQuery::parse`] reads back into this query.
    pub fn to_query_string(&self) -> String {
        let flag = self.flag.map(|flag| match flag {
            FlagFilter::Any => "any",
            FlagFilter::Flag(flag) => flag.as_str(),
        });
        let limit = self.limit.map(|limit| limit.to_string());
        query::write([
            ("q", self.search.as_deref()),
            ("account", self.account.as_deref()),
            ("region", self.region.as_deref()),
            ("status", self.status.map(RotationStatus::as_str)),
            ("service", self.owning_service.as_deref()),
            ("kms_key", self.kms_key.as_deref()),
            (
                "deleted",
                Some(self.deleted.as_str()).filter(|_| self.deleted != DeletedFilter::Existing),
            ),
            ("flag", flag),
            (
                "sort",
                Some(self.sort.as_str()).filter(|_| self.sort != SecretSort::Name),
            ),
            ("order", self.descending.then_some("desc")),
            ("cursor", self.cursor.as_deref()),
            ("limit", limit.as_deref()),
        ])
    }

    /// The same filters and sort from the first page.
    pub fn first_page(&self) -> SecretQuery {
        SecretQuery {
            cursor: None,
            ..self.clone()
        }
    }
}

/// One page of the list: `next` continues it when there is more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretPage {
    pub items: Vec<SecretSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// The list page's data: a page, how many secrets match in all, and what the filters offer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretListing {
    pub page: SecretPage,
    pub matching: i64,
    pub facets: SecretFacets,
}

/// The values the list's filters can take, from the secrets the store holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretFacets {
    /// The accounts holding secrets, by id, with their names when known.
    #[serde(default)]
    pub accounts: Vec<AccountName>,
    pub regions: Vec<String>,
    pub owning_services: Vec<String>,
    pub kms_keys: Vec<String>,
}

/// An AWS account, with the Organization's name for it when Trailkeeper knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountName {
    pub id: String,
    pub name: Option<String>,
}

impl AccountName {
    /// `prod (111111111111)`, or the id alone.
    pub fn label(&self) -> String {
        account_label(&self.id, self.name.as_deref())
    }
}

/// An account as people read it: its name and id, or the id alone.
pub fn account_label(id: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

/// Lists secrets; `query` is the list's URL query (see [`SecretQuery::parse`]).
#[server(endpoint = "secrets")]
pub async fn list_secrets(#[server(default)] query: String) -> Result<SecretListing, AppError> {
    let backend = super::backend_for::<ListSecrets>()?;
    let query = SecretQuery::parse(&query)?;
    backend.secrets(query).await
}

#[server(endpoint = "secret")]
pub async fn get_secret(#[server(default)] id: String) -> Result<SecretLookup, AppError> {
    super::backend_for::<GetSecret>()?.secret(id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_twelve_digits_and_anything_else_is_named() {
        let query = SecretQuery::parse("account=111122223333").unwrap();
        assert_eq!(query.account.as_deref(), Some("111122223333"));
        for hostile in [
            "prod",
            "1111222233334",
            "11112222333%27",
            "%EF%BC%91111222233333",
        ] {
            let error = SecretQuery::parse(&format!("account={hostile}")).unwrap_err();
            assert!(
                error.to_string().starts_with("account=")
                    && error
                        .to_string()
                        .ends_with("it accepts a 12-digit AWS account id"),
                "{hostile}: {error}"
            );
        }
        let findings = crate::api::findings::FindingQuery::parse("account=x").unwrap_err();
        assert!(
            findings.to_string().starts_with("account=\"x\""),
            "{findings}"
        );
    }

    #[test]
    fn a_query_survives_the_round_trip_through_the_url() {
        let query = SecretQuery {
            search: Some("team=payments & co".into()),
            account: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            status: Some(RotationStatus::NeverRotated),
            owning_service: Some("rds".into()),
            kms_key: Some("aws/secretsmanager".into()),
            deleted: DeletedFilter::Only,
            flag: Some(FlagFilter::Flag(SecretFlag::CrossAccount)),
            sort: SecretSort::LastRotated,
            descending: true,
            cursor: Some("abc".into()),
            limit: Some(20),
        };
        assert_eq!(SecretQuery::parse(&query.to_query_string()), Ok(query));
        assert_eq!(SecretQuery::default().to_query_string(), "");
    }

    #[test]
    fn a_value_a_parameter_does_not_accept_is_named_with_the_choices() {
        let error = SecretQuery::from_pairs([("status", "fine")]).unwrap_err();
        assert_eq!(
            error.0,
            "status=\"fine\" is not valid; it accepts stuck, failing, overdue, never_rotated, due_soon, healthy, disabled"
        );
        let error = SecretQuery::from_pairs([("limit", "5000")]).unwrap_err();
        assert!(error.0.contains("from 1 to 1000"), "{error}");
        assert_eq!(
            SecretQuery::from_pairs([("q", "  "), ("unknown", "x")]),
            Ok(SecretQuery::default())
        );
    }
}
