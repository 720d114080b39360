//! Administration: a change an admin asks for on a secret's configuration and labels (rotate
//! it, roll it back, clear a stuck rotation, schedule its deletion, restore it), never its
//! value. Each change is recorded in the audit log before AWS is called (who, what, why) and
//! after (AWS's request id, or AWS's error), and the secret is read afresh from AWS at once,
//! so its page and label history show the new state.

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::RequestId;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use serde_json::{Value, json};
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::secrets::{ChangeOutcome, ChangeRequest, SecretAction, SecretLookup};

use crate::audit::{Action, Entry, Outcome};
use crate::findings::triage::Actor;
use crate::inventory::{read, sync};

/// The longest reason kept.
const MAX_REASON: usize = 1000;

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
    if change.needs_confirmation() && request.confirm.as_deref().map(str::trim) != Some(name) {
        return Err(AppError::Invalid {
            parameter: Some("confirm".into()),
            message: format!(
                "confirm by typing the secret's name, {name}: this will {}",
                what(change, name)
            ),
        });
    }
    let client = crate::aws::secrets_manager(aws, region);
    let call = planned(&client, arn, name, change).await?;

    let detail = json!({
        "secret": arn,
        "action": change.name(),
        "parameters": call.parameters,
        "reason": reason,
    });
    Entry::new(
        actor.name,
        Action::SecretChangeRequested,
        format!("asked to {}: {reason}", what(change, name)),
    )
    .detail(detail.clone())
    .from_address(actor.address)
    .record(pool)
    .await?;

    let answered = call.send(&client, arn).await;
    let mut answer = detail;
    let (outcome, summary) = match &answered {
        Ok(request_id) => {
            answer["request_id"] = json!(request_id);
            (
                Outcome::Success,
                format!("{} through AWS: {reason}", done(change, name)),
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
                    what(change, name),
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
    let request_id = answered?;
    let secret = match read::lookup(pool, arn).await? {
        SecretLookup::Found(detail) => Some(*detail),
        SecretLookup::Ambiguous(_) | SecretLookup::NotFound => None,
    };
    Ok(ChangeOutcome {
        action: change.name().to_string(),
        secret_arn: arn.to_string(),
        request_id,
        summary,
        secret,
    })
}

/// "roll back prod/db", for the audit log and the confirmation.
fn what(change: SecretAction, name: &str) -> String {
    match change {
        SecretAction::Rotate { immediately: true } => format!("rotate {name} now"),
        SecretAction::Rotate { immediately: false } => {
            format!("test the rotation function of {name}")
        }
        SecretAction::Rollback => format!("roll {name} back to its previous version"),
        SecretAction::ClearPending => format!("clear the stuck rotation of {name}"),
        SecretAction::Delete { recovery_days } => {
            format!("schedule {name} for deletion, restorable for {recovery_days} days")
        }
        SecretAction::Restore => format!("restore {name}"),
    }
}

/// "rolled back prod/db", once AWS did it.
fn done(change: SecretAction, name: &str) -> String {
    match change {
        SecretAction::Rotate { immediately: true } => format!("rotated {name}"),
        SecretAction::Rotate { immediately: false } => {
            format!("tested the rotation function of {name}")
        }
        SecretAction::Rollback => format!("rolled {name} back to its previous version"),
        SecretAction::ClearPending => format!("cleared the stuck rotation of {name}"),
        SecretAction::Delete { recovery_days } => {
            format!("scheduled {name} for deletion, restorable for {recovery_days} days")
        }
        SecretAction::Restore => format!("restored {name}"),
    }
}

/// The AWS call a change comes to, once the secret's state (read from AWS now) allows it.
struct Call {
    operation: Operation,
    /// What the audit log records of it.
    parameters: Value,
}

enum Operation {
    Rotate {
        immediately: bool,
    },
    MoveStage {
        stage: &'static str,
        to: Option<String>,
        from: Option<String>,
    },
    Delete {
        recovery_days: i64,
    },
    Restore,
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
            _ => format!("{operation} failed: {message}"),
        };
        AppError::Aws { code, message }
    }
}

/// Reads the secret's state from AWS and says which call makes `change`, or why its state
/// does not allow it.
async fn planned(
    client: &Client,
    arn: &str,
    name: &str,
    change: SecretAction,
) -> Result<Call, AppError> {
    let described = client
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
        .map_err(|error| Refusal::from_sdk("DescribeSecret", &error))?;
    let scheduled = described.deleted_date().is_some();
    if scheduled && !matches!(change, SecretAction::Restore) {
        return Err(AppError::Conflict(format!(
            "{name} is scheduled for deletion; restore it first"
        )));
    }
    let stage_of = |label: &str| version_with(&described, label);
    let (operation, parameters) = match change {
        SecretAction::Rotate { immediately } => {
            if described.rotation_enabled() != Some(true) {
                return Err(AppError::Conflict(format!(
                    "{name} has no rotation configured; configure it first"
                )));
            }
            (
                Operation::Rotate { immediately },
                json!({ "rotate_immediately": immediately }),
            )
        }
        SecretAction::Rollback => {
            let (Some(current), Some(previous)) = (stage_of("AWSCURRENT"), stage_of("AWSPREVIOUS"))
            else {
                return Err(AppError::Conflict(format!(
                    "{name} has no previous version to roll back to"
                )));
            };
            (
                Operation::MoveStage {
                    stage: "AWSCURRENT",
                    to: Some(previous.clone()),
                    from: Some(current.clone()),
                },
                json!({ "version_stage": "AWSCURRENT", "move_to_version_id": previous,
                        "remove_from_version_id": current }),
            )
        }
        SecretAction::ClearPending => {
            let pending = stage_of("AWSPENDING");
            let Some(pending) =
                pending.filter(|pending| Some(pending) != stage_of("AWSCURRENT").as_ref())
            else {
                return Err(AppError::Conflict(format!(
                    "{name} has no rotation stuck in progress (no AWSPENDING version apart from the current one)"
                )));
            };
            (
                Operation::MoveStage {
                    stage: "AWSPENDING",
                    to: None,
                    from: Some(pending.clone()),
                },
                json!({ "version_stage": "AWSPENDING", "remove_from_version_id": pending }),
            )
        }
        SecretAction::Delete { recovery_days } => (
            Operation::Delete { recovery_days },
            json!({ "recovery_window_in_days": recovery_days }),
        ),
        SecretAction::Restore => {
            if !scheduled {
                return Err(AppError::Conflict(format!(
                    "{name} is not scheduled for deletion"
                )));
            }
            (Operation::Restore, json!({}))
        }
    };
    Ok(Call {
        operation,
        parameters,
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
    /// Makes the call; AWS's request id, or what AWS said.
    async fn send(&self, client: &Client, arn: &str) -> Result<Option<String>, Refusal> {
        let id = |request_id: Option<&str>| request_id.map(str::to_string);
        match &self.operation {
            Operation::Rotate { immediately } => client
                .rotate_secret()
                .secret_id(arn)
                .rotate_immediately(*immediately)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("RotateSecret", &error)),
            Operation::MoveStage { stage, to, from } => client
                .update_secret_version_stage()
                .secret_id(arn)
                .version_stage(*stage)
                .set_move_to_version_id(to.clone())
                .set_remove_from_version_id(from.clone())
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("UpdateSecretVersionStage", &error)),
            // Never ForceDeleteWithoutRecovery: a deletion made here can always be undone.
            Operation::Delete { recovery_days } => client
                .delete_secret()
                .secret_id(arn)
                .recovery_window_in_days(*recovery_days)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("DeleteSecret", &error)),
            Operation::Restore => client
                .restore_secret()
                .secret_id(arn)
                .send()
                .await
                .map(|output| id(output.request_id()))
                .map_err(|error| Refusal::from_sdk("RestoreSecret", &error)),
        }
    }
}
