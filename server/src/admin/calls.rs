//! The AWS calls a change comes to: the secret's state read from AWS first (what it allows),
//! a new policy validated by AWS, then the calls themselves, each answered with AWS's request
//! id or its refusal in plain words.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::RequestId;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{ReplicaRegionType, RotationRulesType, Tag};
use serde_json::{Value, json};
use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::{RotationSchedule, SecretAction};
use trailkeeper_app::api::secrets::SecretDetail;

/// The AWS calls that make `change`, as CloudTrail names their events.
pub(super) fn operations(change: &SecretAction) -> Vec<&'static str> {
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

/// The AWS calls a change comes to, once the secret's state (read from AWS now) allows it.
pub(super) struct Call {
    pub change: SecretAction,
    /// Where a label moves, for a roll back or a stuck rotation cleared.
    label_move: Option<LabelMove>,
    /// What the audit log records of it.
    pub parameters: Value,
}

struct LabelMove {
    stage: &'static str,
    to: Option<String>,
    from: Option<String>,
}

/// What AWS said when it refused.
pub(super) struct Refusal {
    operation: &'static str,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl Refusal {
    fn from_sdk<E>(operation: &'static str, error: &SdkError<E, HttpResponse>) -> Refusal
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        // An answer without an error AWS names (an endpoint that failed) is said by its HTTP
        // status, not by the SDK's whole debugging account of it.
        let status = error
            .raw_response()
            .map(|response| response.status().as_u16());
        let code = match (error.code(), status) {
            (Some(code), _) => code.to_string(),
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "Unreachable".to_string(),
        };
        let message = match (error.message(), status) {
            (Some(message), _) => message.to_string(),
            (None, Some(status)) => format!("the endpoint answered HTTP {status} without an error"),
            (None, None) => DisplayErrorContext(error).to_string(),
        };
        Refusal {
            operation,
            code,
            message,
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
pub(super) async fn planned(
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
    pub(super) async fn send(&self, client: &Client, arn: &str) -> Result<Vec<String>, Refusal> {
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
