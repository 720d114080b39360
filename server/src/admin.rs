//! Administration: a change an admin asks for on a secret's configuration and labels —
//! rotation, labels, deletion, tags, description, KMS key, replicas, resource policy — never
//! its value. Each change is recorded in the audit log before AWS is called (who, what, why)
//! and after (AWS's request id, or AWS's error), and the secret is read afresh from AWS at
//! once, so its page and label history show the new state.

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::RequestId;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{ReplicaRegionType, RotationRulesType, Tag};
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::{
    ChangeOutcome, ChangeRequest, RotationPlan, RotationSchedule, SecretAction,
};
use trailkeeper_app::api::secrets::{PolicyExposure, PolicyFlag, SecretDetail, SecretLookup};

use crate::audit::{Action, Entry, Outcome};
use crate::findings::triage::Actor;
use crate::inventory::{policy, read, sync};

/// The longest reason kept.
const MAX_REASON: usize = 1000;

/// Where the web's administration goes: AWS as `serve` reaches it, unless Trailkeeper runs
/// read-only (`TRAILKEEPER_READ_ONLY`), when it offers and makes no change at all.
#[derive(Clone, Debug)]
pub struct Administration {
    aws: SdkConfig,
    read_only: bool,
}

impl Administration {
    pub fn new(aws: SdkConfig, read_only: bool) -> Administration {
        Administration { aws, read_only }
    }

    /// Whether changes are offered at all.
    pub fn offered(&self) -> bool {
        !self.read_only
    }

    /// [`change_secret`] for the action named `action`, refused before anything else when
    /// Trailkeeper runs read-only.
    pub async fn change_secret(
        &self,
        pool: &PgPool,
        actor: &Actor<'_>,
        id: &str,
        action: &str,
        request: &ChangeRequest,
    ) -> Result<ChangeOutcome, AppError> {
        if self.read_only {
            return Err(AppError::Forbidden(
                "Trailkeeper runs read-only (TRAILKEEPER_READ_ONLY=true): it changes nothing in AWS"
                    .into(),
            ));
        }
        let change = SecretAction::from_request(action, request)?;
        change_secret(pool, &self.aws, actor, id, change, request).await
    }
}

/// Makes `change` to the secret `id` (its name or ARN) for `actor`, for `request.reason`.
pub async fn change_secret(
    pool: &PgPool,
    aws: &SdkConfig,
    actor: &Actor<'_>,
    id: &str,
    change: SecretAction,
    request: &ChangeRequest,
) -> Result<ChangeOutcome, AppError> {
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(AppError::Invalid {
            parameter: Some("reason".into()),
            message: format!("a reason is required: say why, in 1 to {MAX_REASON} characters"),
        });
    }
    // The inventory names the region to call.
    let secret = read::find(pool, id).await?;
    let (arn, name, region) = (
        secret.summary.arn.as_str(),
        secret.summary.name.as_str(),
        secret.summary.region.as_str(),
    );
    if let Some(consequence) = consequence(&change, &secret)
        && request.confirm.as_deref().map(str::trim) != Some(name)
    {
        return Err(AppError::Invalid {
            parameter: Some("confirm".into()),
            message: format!(
                "confirm by typing the secret's name, {name}: this will {consequence}"
            ),
        });
    }
    let client = crate::aws::secrets_manager(aws, region);
    let call = planned(&client, &secret, change).await?;

    let detail = json!({
        "secret": arn,
        "action": call.change.name(),
        "parameters": call.parameters,
        "reason": reason,
        // The CloudTrail events of the change are matched to these entries by these calls
        // when their request ids are not known (`trailkeeper_change_for_event`).
        "operations": operations(&call.change),
    });
    Entry::new(
        actor.name,
        Action::SecretChangeRequested,
        format!("asked to {}: {reason}", what(&call.change, name)),
    )
    .detail(detail.clone())
    .from_address(actor.address)
    .record(pool)
    .await?;

    let answered = call.send(&client, arn).await;
    let mut answer = detail;
    let (outcome, summary) = match &answered {
        Ok(request_ids) => {
            answer["request_id"] = json!(request_ids.first());
            answer["request_ids"] = json!(request_ids);
            (
                Outcome::Success,
                format!("{} through AWS: {reason}", done(&call.change, name)),
            )
        }
        Err(refused) => {
            answer["request_id"] = json!(refused.request_id);
            answer["code"] = json!(refused.code);
            answer["message"] = json!(refused.message);
            (
                Outcome::Failure,
                format!(
                    "AWS refused to {} ({}): {reason}",
                    what(&call.change, name),
                    refused.code
                ),
            )
        }
    };
    Entry::new(actor.name, Action::SecretChanged, summary.clone())
        .detail(answer)
        .from_address(actor.address)
        .outcome(outcome)
        .record(pool)
        .await?;

    // The page shows what AWS now has, whether or not the change went through.
    let refreshed = sync::refresh(pool, &client, region, arn, name).await?;
    for problem in refreshed {
        tracing::warn!(secret = arn, operation = problem.operation, message = %problem.message, "could not read the secret afresh after a change");
    }
    let request_ids = answered?;
    let secret = match read::lookup(pool, arn).await? {
        SecretLookup::Found(detail) => Some(*detail),
        SecretLookup::Ambiguous(_) | SecretLookup::NotFound => None,
    };
    Ok(ChangeOutcome {
        action: call.change.name().to_string(),
        secret_arn: arn.to_string(),
        request_id: request_ids.into_iter().next(),
        summary,
        secret,
    })
}

/// What the person confirms by typing the secret's name, for a change that destroys, takes
/// protection away, or (a policy) widens who can use the secret; `None` for others.
fn consequence(change: &SecretAction, secret: &SecretDetail) -> Option<String> {
    let name = &secret.summary.name;
    if change.needs_confirmation() {
        return Some(what(change, name));
    }
    let SecretAction::SetPolicy { policy: text } = change else {
        return None;
    };
    let flags = policy::analyse(text, &secret.account_id).unwrap_or_default();
    let opened = widened(&secret.policy_flags, &flags);
    (!opened.is_empty()).then(|| format!("{}, which opens it to {}", what(change, name), opened))
}

/// Whom `new` lets use the secret that `old` did not: "anyone" and/or the new accounts, in
/// words, naming the statements; empty when it does not widen.
fn widened(old: &[PolicyFlag], new: &[PolicyFlag]) -> String {
    let was_public = old
        .iter()
        .any(|flag| flag.exposure == PolicyExposure::Public);
    let old_accounts: BTreeSet<&str> = old
        .iter()
        .filter_map(|flag| match &flag.exposure {
            PolicyExposure::CrossAccount { accounts } => Some(accounts),
            PolicyExposure::Public => None,
        })
        .flatten()
        .map(String::as_str)
        .collect();
    let mut opened = Vec::new();
    for flag in new {
        match &flag.exposure {
            PolicyExposure::Public if !was_public => {
                opened.push(format!("anyone (statement {})", flag.statement));
            }
            PolicyExposure::CrossAccount { accounts } => {
                let added: Vec<&str> = accounts
                    .iter()
                    .map(String::as_str)
                    .filter(|account| !old_accounts.contains(account))
                    .collect();
                if !added.is_empty() {
                    opened.push(format!(
                        "account {} (statement {})",
                        added.join(", "),
                        flag.statement
                    ));
                }
            }
            PolicyExposure::Public => {}
        }
    }
    opened.join(" and ")
}

/// The AWS calls that make `change`, as CloudTrail names their events.
fn operations(change: &SecretAction) -> Vec<&'static str> {
    match change {
        SecretAction::Rotate { .. } | SecretAction::ConfigureRotation(_) => vec!["RotateSecret"],
        SecretAction::StopRotation => vec!["CancelRotateSecret"],
        SecretAction::Rollback | SecretAction::ClearPending => vec!["UpdateSecretVersionStage"],
        SecretAction::Delete { .. } => vec!["DeleteSecret"],
        SecretAction::Restore => vec!["RestoreSecret"],
        SecretAction::Tags { set, remove } => [
            (!set.is_empty()).then_some("TagResource"),
            (!remove.is_empty()).then_some("UntagResource"),
        ]
        .into_iter()
        .flatten()
        .collect(),
        SecretAction::Update { .. } => vec!["UpdateSecret"],
        SecretAction::Replicate { .. } => vec!["ReplicateSecretToRegions"],
        SecretAction::RemoveReplica { .. } => vec!["RemoveRegionsFromReplication"],
        SecretAction::SetPolicy { .. } => vec!["PutResourcePolicy"],
        SecretAction::DeletePolicy => vec!["DeleteResourcePolicy"],
    }
}

/// "roll back prod/db", for the audit log and the confirmation.
fn what(change: &SecretAction, name: &str) -> String {
    match change {
        SecretAction::Rotate { immediately: true } => format!("rotate {name} now"),
        SecretAction::Rotate { immediately: false } => {
            format!("test the rotation function of {name}")
        }
        SecretAction::ConfigureRotation(plan) => {
            format!("rotate {name} {}", schedule_words(plan))
        }
        SecretAction::StopRotation => format!("turn rotation off for {name}"),
        SecretAction::Rollback => format!("roll {name} back to its previous version"),
        SecretAction::ClearPending => format!("clear the stuck rotation of {name}"),
        SecretAction::Delete { recovery_days } => {
            format!("schedule {name} for deletion, restorable for {recovery_days} days")
        }
        SecretAction::Restore => format!("restore {name}"),
        SecretAction::Tags { set, remove } => format!("{} on {name}", tag_words(set, remove)),
        SecretAction::Update {
            description,
            kms_key_id,
        } => format!("{} of {name}", update_words(description, kms_key_id)),
        SecretAction::Replicate { regions } => format!(
            "replicate {name} to {}",
            regions
                .iter()
                .map(|replica| replica.region.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        SecretAction::RemoveReplica { region } => {
            format!("delete the replica of {name} in {region}")
        }
        SecretAction::SetPolicy { .. } => format!("replace the resource policy of {name}"),
        SecretAction::DeletePolicy => {
            format!("delete the resource policy of {name}, with whatever it allows and denies")
        }
    }
}

/// "rolled back prod/db", once AWS did it.
fn done(change: &SecretAction, name: &str) -> String {
    match change {
        SecretAction::Rotate { immediately: true } => format!("rotated {name}"),
        SecretAction::Rotate { immediately: false } => {
            format!("tested the rotation function of {name}")
        }
        SecretAction::ConfigureRotation(plan) => {
            format!("set {name} to rotate {}", schedule_words(plan))
        }
        SecretAction::StopRotation => format!("turned rotation off for {name}"),
        SecretAction::Rollback => format!("rolled {name} back to its previous version"),
        SecretAction::ClearPending => format!("cleared the stuck rotation of {name}"),
        SecretAction::Delete { recovery_days } => {
            format!("scheduled {name} for deletion, restorable for {recovery_days} days")
        }
        SecretAction::Restore => format!("restored {name}"),
        SecretAction::Tags { .. }
        | SecretAction::Update { .. }
        | SecretAction::Replicate { .. }
        | SecretAction::RemoveReplica { .. }
        | SecretAction::SetPolicy { .. }
        | SecretAction::DeletePolicy => format!("did {}", what(change, name)),
    }
}

fn schedule_words(plan: &RotationPlan) -> String {
    let mut words = match &plan.schedule {
        RotationSchedule::EveryDays(days) => format!("every {days} days"),
        RotationSchedule::Expression(expression) => format!("on {expression}"),
    };
    if let Some(window) = &plan.window {
        words.push_str(&format!(" within {window}"));
    }
    if let Some(function) = &plan.function_arn {
        words.push_str(&format!(" with {function}"));
    }
    if plan.immediately {
        words.push_str(", starting now");
    }
    words
}

fn tag_words(set: &std::collections::BTreeMap<String, String>, remove: &[String]) -> String {
    let mut parts = Vec::new();
    if !set.is_empty() {
        let tags: Vec<String> = set
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        parts.push(format!("set tags {}", tags.join(", ")));
    }
    if !remove.is_empty() {
        parts.push(format!("remove tags {}", remove.join(", ")));
    }
    parts.join(" and ")
}

fn update_words(description: &Option<String>, kms_key_id: &Option<String>) -> String {
    let mut parts = Vec::new();
    match description.as_deref() {
        Some("") => parts.push("clear the description".to_string()),
        Some(description) => parts.push(format!("set the description to {description:?}")),
        None => {}
    }
    if let Some(key) = kms_key_id {
        parts.push(format!("encrypt with KMS key {key}"));
    }
    parts.join(" and ")
}

/// The AWS calls a change comes to, once the secret's state (read from AWS now) allows it.
struct Call {
    change: SecretAction,
    /// Where a label moves, for a roll back or a stuck rotation cleared.
    label_move: Option<LabelMove>,
    /// What the audit log records of it.
    parameters: Value,
}

struct LabelMove {
    stage: &'static str,
    to: Option<String>,
    from: Option<String>,
}

/// What AWS said when it refused.
struct Refusal {
    operation: &'static str,
    code: String,
    message: String,
    request_id: Option<String>,
}

impl Refusal {
    fn from_sdk<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Refusal
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
        SdkError<E, R>: RequestId,
    {
        Refusal {
            operation,
            code: error.code().unwrap_or("Unreachable").to_string(),
            message: error
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(error).to_string()),
            request_id: error.request_id().map(str::to_string),
        }
    }
}

/// AWS's refusal in words a person can act on.
impl From<Refusal> for AppError {
    fn from(refused: Refusal) -> AppError {
        let Refusal {
            operation,
            code,
            message,
            ..
        } = refused;
        let message = match code.as_str() {
            "AccessDeniedException" => format!(
                "Trailkeeper's AWS role may not call secretsmanager:{operation} on this secret: \
                 {message}"
            ),
            "MalformedPolicyDocumentException" => {
                format!("AWS found the resource policy malformed: {message}")
            }
            "PublicPolicyException" => format!(
                "AWS blocked the policy because it would let anyone use the secret \
                 (Trailkeeper always asks AWS to block public policies): {message}"
            ),
            _ => format!("{operation} failed: {message}"),
        };
        AppError::Aws { code, message }
    }
}

/// Reads the secret's state from AWS and says which calls make `change`, or why its state
/// does not allow it. A new policy is validated by AWS here, before anything is changed.
async fn planned(
    client: &Client,
    secret: &SecretDetail,
    mut change: SecretAction,
) -> Result<Call, AppError> {
    let (arn, name) = (secret.summary.arn.as_str(), secret.summary.name.as_str());
    let conflict = |why: String| Err(AppError::Conflict(format!("{name} {why}")));
    let described = client
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .map_err(|error| Refusal::from_sdk("DescribeSecret", &error))?;
    if let Some(primary) = described.primary_region()
        && primary != secret.summary.region
    {
        return conflict(format!(
            "is a replica of the secret in {primary}; change it there"
        ));
    }
    let scheduled = described.deleted_date().is_some();
    if scheduled && !matches!(change, SecretAction::Restore) {
        return conflict("is scheduled for deletion; restore it first".into());
    }
    let stage_of = |label: &str| version_with(&described, label);
    let replicas: Vec<&str> = described
        .replication_status()
        .iter()
        .filter_map(|status| status.region())
        .collect();
    let mut label_move = None;
    let parameters = match &change {
        SecretAction::Rotate { immediately } => {
            if described.rotation_enabled() != Some(true) {
                return conflict("has no rotation configured; configure it first".into());
            }
            json!({ "rotate_immediately": immediately })
        }
        SecretAction::ConfigureRotation(plan) => json!({
            "schedule": plan.schedule.expression(),
            "window": plan.window,
            "rotation_lambda_arn": plan.function_arn,
            "rotate_immediately": plan.immediately,
        }),
        SecretAction::StopRotation => {
            if described.rotation_enabled() != Some(true) {
                return conflict("has no rotation to turn off".into());
            }
            json!({})
        }
        SecretAction::Rollback => {
            let (Some(current), Some(previous)) = (stage_of("AWSCURRENT"), stage_of("AWSPREVIOUS"))
            else {
                return conflict("has no previous version to roll back to".into());
            };
            let parameters = json!({ "version_stage": "AWSCURRENT", "move_to_version_id": previous,
                                     "remove_from_version_id": current });
            label_move = Some(LabelMove {
                stage: "AWSCURRENT",
                to: Some(previous),
                from: Some(current),
            });
            parameters
        }
        SecretAction::ClearPending => {
            let pending = stage_of("AWSPENDING");
            let Some(pending) =
                pending.filter(|pending| Some(pending) != stage_of("AWSCURRENT").as_ref())
            else {
                return conflict(
                    "has no rotation stuck in progress (no AWSPENDING version apart from the current one)".into(),
                );
            };
            let parameters =
                json!({ "version_stage": "AWSPENDING", "remove_from_version_id": pending });
            label_move = Some(LabelMove {
                stage: "AWSPENDING",
                to: None,
                from: Some(pending),
            });
            parameters
        }
        SecretAction::Delete { recovery_days } => {
            json!({ "recovery_window_in_days": recovery_days })
        }
        SecretAction::Restore => {
            if !scheduled {
                return conflict("is not scheduled for deletion".into());
            }
            json!({})
        }
        SecretAction::Tags { set, remove } => json!({ "tags": set, "remove_tags": remove }),
        SecretAction::Update {
            description,
            kms_key_id,
        } => {
            // The page's form sends both as they stand; only what differs is changed.
            let description = description
                .clone()
                .filter(|new| new.as_str() != described.description().unwrap_or_default());
            let kms_key_id = kms_key_id
                .clone()
                .filter(|new| Some(new.as_str()) != described.kms_key_id());
            if description.is_none() && kms_key_id.is_none() {
                return conflict("already has that description and KMS key".into());
            }
            let parameters = json!({ "description": description, "kms_key_id": kms_key_id });
            change = SecretAction::Update {
                description,
                kms_key_id,
            };
            parameters
        }
        SecretAction::Replicate { regions } => {
            for replica in regions {
                if replica.region == secret.summary.region {
                    return conflict(format!(
                        "lives in {}: it is not replicated to its own region",
                        replica.region
                    ));
                }
                if replicas.contains(&replica.region.as_str()) {
                    return conflict(format!("is already replicated to {}", replica.region));
                }
            }
            json!({ "add_replica_regions": regions })
        }
        SecretAction::RemoveReplica { region } => {
            if !replicas.contains(&region.as_str()) {
                return conflict(format!(
                    "has no replica in {region} (its replicas: {})",
                    if replicas.is_empty() {
                        "none".to_string()
                    } else {
                        replicas.join(", ")
                    }
                ));
            }
            json!({ "remove_replica_regions": [region] })
        }
        SecretAction::SetPolicy { policy } => {
            validated(client, arn, policy).await?;
            json!({ "resource_policy": policy, "block_public_policy": true })
        }
        SecretAction::DeletePolicy => {
            let current = client
                .get_resource_policy()
                .secret_id(arn)
                .send()
                .await
                .map_err(|error| Refusal::from_sdk("GetResourcePolicy", &error))?;
            if current.resource_policy().is_none() {
                return conflict("has no resource policy".into());
            }
            json!({})
        }
    };
    Ok(Call {
        change,
        label_move,
        parameters,
    })
}

/// AWS's own check of a policy (grammar, and whether it grants broad access); its findings
/// refuse the policy, naming each.
async fn validated(client: &Client, arn: &str, policy: &str) -> Result<(), AppError> {
    let validation = client
        .validate_resource_policy()
        .secret_id(arn)
        .resource_policy(policy)
        .send()
        .await
        .map_err(|error| Refusal::from_sdk("ValidateResourcePolicy", &error))?;
    if validation.policy_validation_passed() {
        return Ok(());
    }
    let findings: Vec<String> = validation
        .validation_errors()
        .iter()
        .map(|error| {
            format!(
                "{}: {}",
                error.check_name().unwrap_or("check"),
                error.error_message().unwrap_or("failed")
            )
        })
        .collect();
    Err(AppError::Invalid {
        parameter: Some("policy".into()),
        message: format!(
            "policy: AWS's validation refused it: {}",
            findings.join("; ")
        ),
    })
}

/// The version that holds `label`, as DescribeSecret lists them.
fn version_with(described: &DescribeSecretOutput, label: &str) -> Option<String> {
    described
        .version_ids_to_stages()?
        .iter()
        .find(|(_, stages)| stages.iter().any(|stage| stage == label))
        .map(|(version, _)| version.clone())
}

impl Call {
    /// Makes the calls; AWS's request ids, or what AWS said.
    async fn send(&self, client: &Client, arn: &str) -> Result<Vec<String>, Refusal> {
        let id = |request_id: Option<&str>| request_id.map(str::to_string);
        let one =
            |answer: Result<Option<String>, Refusal>| answer.map(|id| id.into_iter().collect());
        match &self.change {
            SecretAction::Rotate { immediately } => one(client
                .rotate_secret()
                .secret_id(arn)
                .rotate_immediately(*immediately)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("RotateSecret", &error))),
            SecretAction::ConfigureRotation(plan) => {
                let rules = match &plan.schedule {
                    RotationSchedule::EveryDays(days) => {
                        RotationRulesType::builder().automatically_after_days(*days)
                    }
                    RotationSchedule::Expression(expression) => {
                        RotationRulesType::builder().schedule_expression(expression)
                    }
                }
                .set_duration(plan.window.clone())
                .build();
                one(client
                    .rotate_secret()
                    .secret_id(arn)
                    .rotation_rules(rules)
                    .set_rotation_lambda_arn(plan.function_arn.clone())
                    .rotate_immediately(plan.immediately)
                    .send()
                    .await
                    .map(|output| id(output.request_id()))
                    .map_err(|error| Refusal::from_sdk("RotateSecret", &error)))
            }
            SecretAction::StopRotation => one(client
                .cancel_rotate_secret()
                .secret_id(arn)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("CancelRotateSecret", &error))),
            SecretAction::Rollback | SecretAction::ClearPending => {
                let LabelMove { stage, to, from } = self
                    .label_move
                    .as_ref()
                    .expect("a label move is planned for a roll back or a cleared rotation");
                one(client
                    .update_secret_version_stage()
                    .secret_id(arn)
                    .version_stage(*stage)
                    .set_move_to_version_id(to.clone())
                    .set_remove_from_version_id(from.clone())
                    .send()
                    .await
                    .map(|output| id(output.request_id()))
                    .map_err(|error| Refusal::from_sdk("UpdateSecretVersionStage", &error)))
            }
            // Never ForceDeleteWithoutRecovery: a deletion made here can always be undone.
            SecretAction::Delete { recovery_days } => one(client
                .delete_secret()
                .secret_id(arn)
                .recovery_window_in_days(*recovery_days)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("DeleteSecret", &error))),
            SecretAction::Restore => one(client
                .restore_secret()
                .secret_id(arn)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("RestoreSecret", &error))),
            SecretAction::Tags { set, remove } => {
                let mut request_ids = Vec::new();
                if !set.is_empty() {
                    let tags = set
                        .iter()
                        .map(|(key, value)| Tag::builder().key(key).value(value).build())
                        .collect();
                    let tagged = client
                        .tag_resource()
                        .secret_id(arn)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .map_err(|error| Refusal::from_sdk("TagResource", &error))?;
                    request_ids.extend(id(tagged.request_id()));
                }
                if !remove.is_empty() {
                    let untagged = client
                        .untag_resource()
                        .secret_id(arn)
                        .set_tag_keys(Some(remove.clone()))
                        .send()
                        .await
                        .map_err(|error| Refusal::from_sdk("UntagResource", &error))?;
                    request_ids.extend(id(untagged.request_id()));
                }
                Ok(request_ids)
            }
            // No SecretString or SecretBinary: the value is never sent.
            SecretAction::Update {
                description,
                kms_key_id,
            } => one(client
                .update_secret()
                .secret_id(arn)
                .set_description(description.clone())
                .set_kms_key_id(kms_key_id.clone())
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("UpdateSecret", &error))),
            SecretAction::Replicate { regions } => {
                let regions = regions
                    .iter()
                    .map(|replica| {
                        ReplicaRegionType::builder()
                            .region(&replica.region)
                            .set_kms_key_id(replica.kms_key_id.clone())
                            .build()
                    })
                    .collect();
                one(client
                    .replicate_secret_to_regions()
                    .secret_id(arn)
                    .set_add_replica_regions(Some(regions))
                    .send()
                    .await
                    .map(|output| id(output.request_id()))
                    .map_err(|error| Refusal::from_sdk("ReplicateSecretToRegions", &error)))
            }
            SecretAction::RemoveReplica { region } => one(client
                .remove_regions_from_replication()
                .secret_id(arn)
                .remove_replica_regions(region)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("RemoveRegionsFromReplication", &error))),
            SecretAction::SetPolicy { policy } => one(client
                .put_resource_policy()
                .secret_id(arn)
                .resource_policy(policy)
                .block_public_policy(true)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("PutResourcePolicy", &error))),
            SecretAction::DeletePolicy => one(client
                .delete_resource_policy()
                .secret_id(arn)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("DeleteResourcePolicy", &error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(statement: &str, exposure: PolicyExposure) -> PolicyFlag {
        PolicyFlag {
            statement: statement.into(),
            exposure,
            reason: String::new(),
        }
    }

    #[test]
    fn a_policy_widens_when_it_lets_in_anyone_or_an_account_not_let_in_before() {
        let partner = |accounts: &[&str]| PolicyExposure::CrossAccount {
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
        };
        let before = [flag("\"Partner\"", partner(&["222222222222"]))];
        assert_eq!(
            widened(&before, &[flag("\"Partner\"", partner(&["222222222222"]))]),
            ""
        );
        assert_eq!(widened(&before, &[]), "");
        assert_eq!(
            widened(
                &before,
                &[flag(
                    "\"Partner\"",
                    partner(&["222222222222", "333333333333"])
                )]
            ),
            "account 333333333333 (statement \"Partner\")"
        );
        assert_eq!(
            widened(&before, &[flag("#2", PolicyExposure::Public)]),
            "anyone (statement #2)"
        );
        assert_eq!(
            widened(
                &[flag("#1", PolicyExposure::Public)],
                &[flag("#1", PolicyExposure::Public)]
            ),
            ""
        );
    }
}
