//! Administration: a change an admin asks for on a secret's configuration and labels —
//! rotation, labels, deletion, tags, description, KMS key, replicas, resource policy — never
//! its value. Each change is recorded in the audit log before AWS is called (who, what, why)
//! and after (AWS's request id, or AWS's error), and the secret is read afresh from AWS at
//! once, so its page and label history show the new state.

mod calls;
mod words;

use aws_config::SdkConfig;
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::{ChangeOutcome, ChangeRequest, SecretAction};
use trailkeeper_app::api::secrets::SecretLookup;

use crate::audit::{Action, Entry, Outcome};
use crate::findings::triage::Actor;
use crate::inventory::{read, sync};
use calls::{operations, planned};
use words::{consequence, done, what};

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
