//! Administration: the changes an admin can make to a secret in AWS — its rotation, labels,
//! deletion, tags, description, KMS key, replicas and resource policy, never its value — as
//! the page's forms, the JSON API and the command line ask for them. Each request is checked
//! here, once, before anything reaches AWS.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::changes::ChangeApproval;
use super::secrets::SecretDetail;
use crate::AppError;

/// What an admin asks Trailkeeper to change about a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretAction {
    /// `RotateSecret`: now, or (not immediately) only testing the rotation function.
    Rotate { immediately: bool },
    /// `RotateSecret` with a schedule: rotation turned on, or its schedule or function changed.
    ConfigureRotation(RotationPlan),
    /// `CancelRotateSecret`: rotation turned off.
    StopRotation,
    /// `AWSCURRENT` back to the version holding `AWSPREVIOUS`.
    Rollback,
    /// `AWSPENDING` off a version that is not current: a stuck rotation cleared.
    ClearPending,
    /// `DeleteSecret` with a recovery window, never without one.
    Delete { recovery_days: i64 },
    /// `RestoreSecret`: a scheduled deletion called off.
    Restore,
    /// `TagResource` for the tags set, `UntagResource` for the keys removed.
    Tags {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    /// `UpdateSecret` without a value: the description, the KMS key, or both.
    Update {
        description: Option<String>,
        kms_key_id: Option<String>,
    },
    /// `ReplicateSecretToRegions`.
    Replicate { regions: Vec<ReplicaRegion> },
    /// `RemoveRegionsFromReplication`: the replica in that region deleted.
    RemoveReplica { region: String },
    /// `ValidateResourcePolicy`, then `PutResourcePolicy` with `BlockPublicPolicy`.
    SetPolicy { policy: String },
    /// `DeleteResourcePolicy`.
    DeletePolicy,
}

/// Rotation as an admin configures it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPlan {
    pub schedule: RotationSchedule,
    /// The rotation window's length, `1h` to `24h`; AWS's default without one.
    pub window: Option<String>,
    /// The rotation function; without one, the one AWS already has for the secret.
    pub function_arn: Option<String>,
    /// Rotate at once as well, rather than only testing the function.
    pub immediately: bool,
}

/// When AWS rotates the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationSchedule {
    /// `rate(N days)`, which AWS takes as `AutomaticallyAfterDays`.
    EveryDays(i64),
    /// `rate(N hours)` or `cron(…)`, sent as AWS's `ScheduleExpression`.
    Expression(String),
}

/// A region to replicate the secret to, and the KMS key to encrypt it with there (the
/// region's `aws/secretsmanager` key without one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReplicaRegion {
    pub region: String,
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

/// The recovery window AWS allows, in days.
pub const RECOVERY_DAYS: std::ops::RangeInclusive<i64> = 7..=30;

/// The longest resource policy AWS stores, in characters.
pub const MAX_POLICY: usize = 20_480;

/// Whether `text` looks like an AWS region name such as `eu-west-1`.
pub fn is_region_name(text: &str) -> bool {
    text.len() <= 32
        && text.contains('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A refused value of `parameter`, named at the start of the message.
pub(crate) fn invalid(parameter: &str, message: String) -> AppError {
    AppError::Invalid {
        parameter: Some(parameter.into()),
        message: format!("{parameter}: {message}"),
    }
}

impl RotationSchedule {
    /// `rate(N days)` (1 to 1000), `rate(N hours)` (4 to 23) or `cron(…)` with AWS's six
    /// fields.
    pub fn parse(text: &str) -> Result<RotationSchedule, String> {
        let text = text.trim();
        let refused = || {
            format!(
                "{text:?} is not a schedule; give rate(N days) with N from 1 to 1000, \
                 rate(N hours) with N from 4 to 23, or cron(minutes hours day month weekday year)"
            )
        };
        if let Some(rate) = text
            .strip_prefix("rate(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            let (count, unit) = rate.trim().split_once(' ').ok_or_else(refused)?;
            let count: i64 = count.parse().map_err(|_| refused())?;
            return match unit.trim() {
                "day" | "days" if (1..=1000).contains(&count) => {
                    Ok(RotationSchedule::EveryDays(count))
                }
                "hour" | "hours" if (4..=23).contains(&count) => {
                    Ok(RotationSchedule::Expression(format!("rate({count} hours)")))
                }
                _ => Err(refused()),
            };
        }
        if let Some(fields) = text
            .strip_prefix("cron(")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            let fields: Vec<&str> = fields.split_whitespace().collect();
            if fields.len() == 6 {
                return Ok(RotationSchedule::Expression(format!(
                    "cron({})",
                    fields.join(" ")
                )));
            }
        }
        Err(refused())
    }

    /// As AWS and people write it.
    pub fn expression(&self) -> String {
        match self {
            RotationSchedule::EveryDays(days) => format!("rate({days} days)"),
            RotationSchedule::Expression(expression) => expression.clone(),
        }
    }
}

impl ReplicaRegion {
    /// `eu-west-1=alias/orders, us-east-2`: regions separated by commas or lines, each with
    /// its KMS key after `=` when it is not the region's default key.
    pub fn parse_list(text: &str) -> Vec<ReplicaRegion> {
        text.split([',', '\n'])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                let (region, key) = match item.split_once('=') {
                    Some((region, key)) => (region.trim(), Some(key.trim().to_string())),
                    None => (item, None),
                };
                ReplicaRegion {
                    region: region.to_string(),
                    kms_key_id: key.filter(|key| !key.is_empty()),
                }
            })
            .collect()
    }
}

/// `key=value` lines (or commas) as tags.
pub fn parse_tags(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.split_once('=')
                .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
                .ok_or_else(|| format!("{item:?} is not key=value"))
        })
        .collect()
}

/// Keys separated by commas or lines.
pub fn parse_keys(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_string)
        .collect()
}

impl SecretAction {
    /// The actions' names, as the API's paths and the page's buttons give them.
    pub const NAMES: [&'static str; 11] = [
        "rotate",
        "rotation",
        "rollback",
        "clear-pending",
        "delete",
        "restore",
        "tags",
        "update",
        "replicate",
        "remove-replica",
        "policy",
    ];

    /// The change `action` names, with its parameters from `request`, or the parameter that
    /// is missing or not valid.
    pub fn from_request(action: &str, request: &ChangeRequest) -> Result<SecretAction, AppError> {
        match action {
            "rotate" => Ok(SecretAction::Rotate {
                immediately: request.immediately.unwrap_or(true),
            }),
            "rotation" => rotation(request),
            "rollback" => Ok(SecretAction::Rollback),
            "clear-pending" => Ok(SecretAction::ClearPending),
            "delete" => {
                let recovery_days = request.recovery_days.unwrap_or(*RECOVERY_DAYS.end());
                if !RECOVERY_DAYS.contains(&recovery_days) {
                    return Err(invalid(
                        "recovery_days",
                        format!(
                            "a deletion's recovery window is 7 to 30 days, not {recovery_days}"
                        ),
                    ));
                }
                Ok(SecretAction::Delete { recovery_days })
            }
            "restore" => Ok(SecretAction::Restore),
            "tags" => tags(request),
            "update" => update(request),
            "replicate" => replicate(request),
            "remove-replica" => {
                let region = request.region.as_deref().map(str::trim).unwrap_or_default();
                if !is_region_name(region) {
                    return Err(invalid(
                        "region",
                        format!("give the replica's region, such as eu-west-1 (not {region:?})"),
                    ));
                }
                Ok(SecretAction::RemoveReplica {
                    region: region.to_string(),
                })
            }
            "policy" => policy(request),
            other => Err(AppError::NotFound(format!(
                "there is no action {other:?}; the actions are {}",
                SecretAction::NAMES.join(", ")
            ))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SecretAction::Rotate { .. } => "rotate",
            SecretAction::ConfigureRotation(_) | SecretAction::StopRotation => "rotation",
            SecretAction::Rollback => "rollback",
            SecretAction::ClearPending => "clear-pending",
            SecretAction::Delete { .. } => "delete",
            SecretAction::Restore => "restore",
            SecretAction::Tags { .. } => "tags",
            SecretAction::Update { .. } => "update",
            SecretAction::Replicate { .. } => "replicate",
            SecretAction::RemoveReplica { .. } => "remove-replica",
            SecretAction::SetPolicy { .. } | SecretAction::DeletePolicy => "policy",
        }
    }

    /// Whether the person must type the secret's name to confirm it whatever it holds: it
    /// destroys, or takes away protection. (A policy is confirmed when it widens access,
    /// which only the server can tell.)
    pub fn needs_confirmation(&self) -> bool {
        matches!(
            self,
            SecretAction::Delete { .. }
                | SecretAction::StopRotation
                | SecretAction::RemoveReplica { .. }
                | SecretAction::DeletePolicy
        )
    }
}

fn rotation(request: &ChangeRequest) -> Result<SecretAction, AppError> {
    if request.enabled == Some(false) {
        return Ok(SecretAction::StopRotation);
    }
    let Some(schedule) = request.schedule.as_deref() else {
        return Err(invalid(
            "schedule",
            "give the rotation schedule, such as rate(30 days) (or enabled: false to turn rotation off)".into(),
        ));
    };
    let schedule = RotationSchedule::parse(schedule).map_err(|why| invalid("schedule", why))?;
    let window = match request.window.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(window) => {
            let hours = window
                .strip_suffix('h')
                .and_then(|hours| hours.parse::<u8>().ok());
            if !hours.is_some_and(|hours| (1..=24).contains(&hours)) {
                return Err(invalid(
                    "window",
                    format!("the rotation window is 1h to 24h, not {window:?}"),
                ));
            }
            Some(window.to_string())
        }
    };
    let function_arn = match request.function_arn.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(arn) => {
            let lambda = arn.starts_with("arn:")
                && arn.contains(":lambda:")
                && arn.contains(":function:")
                && arn.len() <= 2048;
            if !lambda {
                return Err(invalid(
                    "function_arn",
                    format!(
                        "{arn:?} is not a Lambda function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
                    ),
                ));
            }
            Some(arn.to_string())
        }
    };
    Ok(SecretAction::ConfigureRotation(RotationPlan {
        schedule,
        window,
        function_arn,
        immediately: request.immediately.unwrap_or(false),
    }))
}

/// AWS's limits on tags: keys 1 to 128 characters, values up to 256, `aws:` reserved.
fn tags(request: &ChangeRequest) -> Result<SecretAction, AppError> {
    for (key, value) in &request.tags {
        if key.is_empty() || key.chars().count() > 128 || key.starts_with("aws:") {
            return Err(invalid(
                "tags",
                format!("a tag key is 1 to 128 characters and does not start with aws: ({key:?})"),
            ));
        }
        if value.chars().count() > 256 {
            return Err(invalid(
                "tags",
                format!("the value of tag {key:?} is longer than 256 characters"),
            ));
        }
    }
    if let Some(key) = request
        .remove_tags
        .iter()
        .find(|key| request.tags.contains_key(*key))
    {
        return Err(invalid(
            "remove_tags",
            format!("tag {key:?} is both set and removed"),
        ));
    }
    if request.tags.is_empty() && request.remove_tags.is_empty() {
        return Err(invalid(
            "tags",
            "give tags to set (tags) or keys to remove (remove_tags)".into(),
        ));
    }
    Ok(SecretAction::Tags {
        set: request.tags.clone(),
        remove: request.remove_tags.clone(),
    })
}

fn update(request: &ChangeRequest) -> Result<SecretAction, AppError> {
    if let Some(description) = &request.description
        && description.chars().count() > 2048
    {
        return Err(invalid(
            "description",
            "a description is at most 2048 characters".into(),
        ));
    }
    let kms_key_id = request
        .kms_key_id
        .as_deref()
        .map(str::trim)
        .filter(|key| !key.is_empty());
    if request.description.is_none() && kms_key_id.is_none() {
        return Err(invalid(
            "description",
            "give a description, a KMS key (kms_key_id), or both".into(),
        ));
    }
    Ok(SecretAction::Update {
        description: request.description.clone(),
        kms_key_id: kms_key_id.map(str::to_string),
    })
}

fn replicate(request: &ChangeRequest) -> Result<SecretAction, AppError> {
    if request.regions.is_empty() {
        return Err(invalid(
            "regions",
            "give the regions to replicate to, such as eu-west-1".into(),
        ));
    }
    let mut regions: Vec<ReplicaRegion> = Vec::new();
    for replica in &request.regions {
        let region = replica.region.trim();
        if !is_region_name(region) {
            return Err(invalid(
                "regions",
                format!("{region:?} is not an AWS region name such as eu-west-1"),
            ));
        }
        if regions.iter().any(|seen| seen.region == region) {
            return Err(invalid("regions", format!("{region} is given twice")));
        }
        regions.push(ReplicaRegion {
            region: region.to_string(),
            kms_key_id: replica
                .kms_key_id
                .as_deref()
                .map(str::trim)
                .filter(|key| !key.is_empty())
                .map(str::to_string),
        });
    }
    Ok(SecretAction::Replicate { regions })
}

fn policy(request: &ChangeRequest) -> Result<SecretAction, AppError> {
    if request.remove_policy == Some(true) {
        return Ok(SecretAction::DeletePolicy);
    }
    let policy = request.policy.as_deref().map(str::trim).unwrap_or_default();
    if policy.is_empty() {
        return Err(invalid(
            "policy",
            "give the policy document (or remove_policy: true to delete it)".into(),
        ));
    }
    if policy.chars().count() > MAX_POLICY {
        return Err(invalid(
            "policy",
            format!("a resource policy is at most {MAX_POLICY} characters"),
        ));
    }
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(document) if document.is_object() => Ok(SecretAction::SetPolicy {
            policy: policy.to_string(),
        }),
        Ok(_) => Err(invalid(
            "policy",
            "a policy is a JSON object with a Statement".into(),
        )),
        Err(error) => Err(invalid("policy", format!("not valid JSON: {error}"))),
    }
}

/// An action's parameters and why it is taken, as the API's body and the page's form give
/// them. Each action reads the fields it names and no other.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangeRequest {
    /// Why: required, recorded in the audit log with the change.
    #[serde(default)]
    pub reason: String,
    /// The secret's name, typed to confirm a deletion, rotation turned off, a replica
    /// removed, the policy deleted, or a policy that widens access.
    #[serde(default)]
    pub confirm: Option<String>,
    /// `rotate`: rotate now (the default), or only test the rotation function.
    /// `rotation`: also rotate at once (default: only test the function).
    #[serde(default)]
    pub immediately: Option<bool>,
    /// `delete`: days AWS keeps the secret restorable, 7 to 30 (default 30).
    #[serde(default)]
    pub recovery_days: Option<i64>,
    /// `rotation`: `false` turns rotation off; otherwise it is turned on or changed.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `rotation`: `rate(N days)`, `rate(N hours)` or `cron(…)`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// `rotation`: the rotation window, `1h` to `24h`.
    #[serde(default)]
    pub window: Option<String>,
    /// `rotation`: the rotation function's ARN (default: the one AWS has).
    #[serde(default)]
    pub function_arn: Option<String>,
    /// `tags`: tags to add or change.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `tags`: keys of tags to remove.
    #[serde(default)]
    pub remove_tags: Vec<String>,
    /// `update`: the new description (empty clears it).
    #[serde(default)]
    pub description: Option<String>,
    /// `update`: the KMS key (ARN, id or alias) to encrypt the secret with.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// `replicate`: the regions to add, each with its KMS key.
    #[serde(default)]
    pub regions: Vec<ReplicaRegion>,
    /// `remove-replica`: the replica's region.
    #[serde(default)]
    pub region: Option<String>,
    /// `policy`: the new resource policy, as JSON text.
    #[serde(default)]
    pub policy: Option<String>,
    /// `policy`: `true` deletes the resource policy.
    #[serde(default)]
    pub remove_policy: Option<bool>,
}

/// What became of a change: AWS's request id, in words, and the secret as AWS now has it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangeOutcome {
    pub action: String,
    pub secret_arn: String,
    /// AWS's id for the call, which CloudTrail records with the event.
    pub request_id: Option<String>,
    pub summary: String,
    /// The secret read afresh from AWS after the change.
    pub secret: Option<SecretDetail>,
    /// With approvals on: the request now waiting for a second admin (nothing was changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_approval: Option<ChangeApproval>,
}

/// A change made through Trailkeeper, as its audit entry records it: CloudTrail names
/// Trailkeeper's AWS role for it, this names the person and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrailkeeperChange {
    /// The audit log entry of the change.
    pub audit_id: i64,
    pub person: String,
    pub reason: String,
}

impl TrailkeeperChange {
    /// From a row's columns, all or none of which are set.
    pub fn from_parts(
        audit_id: Option<i64>,
        person: Option<String>,
        reason: Option<String>,
    ) -> Option<TrailkeeperChange> {
        Some(TrailkeeperChange {
            audit_id: audit_id?,
            person: person?,
            reason: reason.unwrap_or_default(),
        })
    }
}

pub use form::{ChangeSecret, change_secret};

/// The server function behind the Actions forms, which takes each of their fields as an
/// argument (the forms post flat fields), more than clippy's limit.
mod form {
    #![allow(clippy::too_many_arguments)]

    use leptos::prelude::*;

    use super::ChangeOutcome;
    use crate::AppError;

    /// Changes a secret as the caller (admins only), taking the Actions forms' fields: `action`
    /// is the button pressed, `reason` is required, `confirm` is the secret's name typed for a
    /// change that destroys or widens. Lists are text: tags as `key=value` lines, keys and
    /// regions (`region=kms key`) separated by commas.
    #[server(endpoint = "change_secret")]
    pub async fn change_secret(
        #[server(default)] id: String,
        #[server(default)] action: String,
        #[server(default)] reason: String,
        #[server(default)] confirm: String,
        #[server(default)] immediately: Option<bool>,
        #[server(default)] recovery_days: Option<i64>,
        #[server(default)] enabled: Option<bool>,
        #[server(default)] schedule: String,
        #[server(default)] window: String,
        #[server(default)] function_arn: String,
        #[server(default)] tags: String,
        #[server(default)] remove_tags: String,
        #[server(default)] description: Option<String>,
        #[server(default)] kms_key_id: String,
        #[server(default)] regions: String,
        #[server(default)] region: String,
        #[server(default)] policy: String,
        #[server(default)] remove_policy: Option<bool>,
    ) -> Result<ChangeOutcome, AppError> {
        use super::{ChangeRequest, ReplicaRegion, invalid, parse_keys, parse_tags};
        use crate::api::{backend_for, caller, given};
        let backend = backend_for::<ChangeSecret>()?;
        let who = caller()?;
        let request = ChangeRequest {
            reason,
            confirm: given(confirm),
            immediately,
            recovery_days,
            enabled,
            schedule: given(schedule),
            window: given(window),
            function_arn: given(function_arn),
            tags: parse_tags(&tags).map_err(|why| invalid("tags", why))?,
            remove_tags: parse_keys(&remove_tags),
            description,
            kms_key_id: given(kms_key_id),
            regions: ReplicaRegion::parse_list(&regions),
            region: given(region),
            policy: given(policy),
            remove_policy,
        };
        backend.change_secret(who, id, action, request).await
    }
}

/// Whether the caller is offered the secret pages' Actions: an admin, on a Trailkeeper that
/// does not run read-only.
#[server(endpoint = "may_change_secrets")]
pub async fn may_change_secrets() -> Result<bool, AppError> {
    super::identity::offers_changes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(action: &str, request: ChangeRequest) -> (Option<String>, String) {
        match SecretAction::from_request(action, &request) {
            Err(AppError::Invalid { parameter, message }) => (parameter, message),
            other => panic!("{action} was not refused: {other:?}"),
        }
    }

    #[test]
    fn schedules_are_aws_rates_and_crons() {
        assert_eq!(
            RotationSchedule::parse(" rate(30 days) "),
            Ok(RotationSchedule::EveryDays(30))
        );
        assert_eq!(
            RotationSchedule::parse("rate(6 hours)"),
            Ok(RotationSchedule::Expression("rate(6 hours)".into()))
        );
        assert_eq!(
            RotationSchedule::parse("cron(0  16 1,15 * ? *)").map(|s| s.expression()),
            Ok("cron(0 16 1,15 * ? *)".to_string())
        );
        for wrong in [
            "rate(0 days)",
            "rate(1001 days)",
            "rate(2 hours)",
            "rate(3 weeks)",
            "cron(0 16 * *)",
            "30",
            "every month",
        ] {
            let why = RotationSchedule::parse(wrong).unwrap_err();
            assert!(why.contains(wrong), "{why}");
        }
    }

    #[test]
    fn each_action_names_the_parameter_it_refuses() {
        let (parameter, message) = refused("rotation", ChangeRequest::default());
        assert_eq!(parameter.as_deref(), Some("schedule"));
        assert!(message.starts_with("schedule: "), "{message}");
        let (parameter, _) = refused(
            "rotation",
            ChangeRequest {
                schedule: Some("rate(30 days)".into()),
                window: Some("36h".into()),
                ..ChangeRequest::default()
            },
        );
        assert_eq!(parameter.as_deref(), Some("window"));
        let (parameter, _) = refused(
            "rotation",
            ChangeRequest {
                schedule: Some("rate(30 days)".into()),
                function_arn: Some("my-function".into()),
                ..ChangeRequest::default()
            },
        );
        assert_eq!(parameter.as_deref(), Some("function_arn"));
        let (parameter, message) = refused(
            "tags",
            ChangeRequest {
                tags: BTreeMap::from([("aws:owner".into(), "me".into())]),
                ..ChangeRequest::default()
            },
        );
        assert_eq!(parameter.as_deref(), Some("tags"));
        assert!(message.contains("aws:owner"), "{message}");
        let (parameter, _) = refused("tags", ChangeRequest::default());
        assert_eq!(parameter.as_deref(), Some("tags"));
        let (parameter, _) = refused("update", ChangeRequest::default());
        assert_eq!(parameter.as_deref(), Some("description"));
        let (parameter, message) = refused(
            "replicate",
            ChangeRequest {
                regions: ReplicaRegion::parse_list("eu-west-1, EU WEST"),
                ..ChangeRequest::default()
            },
        );
        assert_eq!(parameter.as_deref(), Some("regions"));
        assert!(message.contains("EU WEST"), "{message}");
        let (parameter, _) = refused("remove-replica", ChangeRequest::default());
        assert_eq!(parameter.as_deref(), Some("region"));
        let (parameter, message) = refused(
            "policy",
            ChangeRequest {
                policy: Some("{\"Statement\": [".into()),
                ..ChangeRequest::default()
            },
        );
        assert_eq!(parameter.as_deref(), Some("policy"));
        assert!(message.contains("not valid JSON"), "{message}");
    }

    #[test]
    fn rotation_off_and_policy_removal_are_their_own_changes_and_are_confirmed() {
        let off = SecretAction::from_request(
            "rotation",
            &ChangeRequest {
                enabled: Some(false),
                ..ChangeRequest::default()
            },
        )
        .unwrap();
        assert_eq!(off, SecretAction::StopRotation);
        assert!(off.needs_confirmation());
        let configured = SecretAction::from_request(
            "rotation",
            &ChangeRequest {
                schedule: Some("rate(14 days)".into()),
                window: Some("4h".into()),
                ..ChangeRequest::default()
            },
        )
        .unwrap();
        assert!(!configured.needs_confirmation());
        assert_eq!(configured.name(), "rotation");
        let removed = SecretAction::from_request(
            "policy",
            &ChangeRequest {
                remove_policy: Some(true),
                ..ChangeRequest::default()
            },
        )
        .unwrap();
        assert_eq!(removed, SecretAction::DeletePolicy);
        assert!(removed.needs_confirmation());
    }

    #[test]
    fn form_lists_become_tags_keys_and_regions() {
        assert_eq!(
            parse_tags("team=payments\n owner = ada , empty="),
            Ok(BTreeMap::from([
                ("empty".to_string(), String::new()),
                ("owner".to_string(), "ada".to_string()),
                ("team".to_string(), "payments".to_string()),
            ]))
        );
        assert!(parse_tags("team").unwrap_err().contains("\"team\""));
        assert_eq!(parse_keys(" a, b\n\n"), ["a", "b"]);
        assert_eq!(
            ReplicaRegion::parse_list("eu-west-1=alias/orders\nus-east-2"),
            [
                ReplicaRegion {
                    region: "eu-west-1".into(),
                    kms_key_id: Some("alias/orders".into())
                },
                ReplicaRegion {
                    region: "us-east-2".into(),
                    kms_key_id: None
                },
            ]
        );
    }
}
