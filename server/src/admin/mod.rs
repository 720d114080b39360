//! Administration: a change an admin asks for on a secret's configuration and labels —
//! rotation, labels, deletion, tags, description, KMS key, replicas, resource policy — never
//! its value. Each change is recorded in the audit log before AWS is called (who, what, why)
//! and after (AWS's request id, or AWS's error), and the secret is read afresh from AWS at
//! once, so its page and label history show the new state.

pub mod approvals;
mod calls;
mod words;

use aws_config::SdkConfig;
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::{ChangeOutcome, ChangeRequest, SecretAction};
use trailkeeper_app::api::changes::ChangeApproval;
use trailkeeper_app::api::secrets::SecretLookup;

use crate::audit::{Action, Entry, Outcome};
use crate::aws::accounts::{Account, RoleArn};
use crate::db::Reader;
use crate::findings::triage::Actor;
use crate::inventory::{read, sync};
use approvals::ApprovalPolicy;
use calls::{operations, planned};
use words::{consequence, done, what};

/// The longest reason kept.
const MAX_REASON: usize = 1000;

/// Where administration goes: AWS as Trailkeeper reaches it (in an Organization, each
/// secret's account through the role its sync used), through approvals when they are on,
/// unless Trailkeeper runs read-only (`TRAILKEEPER_READ_ONLY`), when it offers and makes no
/// change at all.
#[derive(Clone, Debug)]
pub struct Administration {
    aws: SdkConfig,
    /// What the member accounts' roles require (`TRAILKEEPER_ORG_EXTERNAL_ID`).
    external_id: Option<String>,
    read_only: bool,
    approvals: ApprovalPolicy,
}

impl Administration {
    pub fn new(
        aws: SdkConfig,
        external_id: Option<String>,
        read_only: bool,
        approvals: ApprovalPolicy,
    ) -> Administration {
        Administration {
            aws,
            external_id,
            read_only,
            approvals,
        }
    }

    /// How to act in `account`: through the role the sync assumed there, or as Trailkeeper's
    /// own credentials for their own account (and any account no role is known for).
    async fn acting_in(&self, pool: &PgPool, account: &str) -> Result<SdkConfig, AppError> {
        let role = crate::inventory::accounts::role_of(&mut *pool.acquire().await?, account)
            .await
            .map_err(AppError::from)?;
        Ok(match role.and_then(|role| role.parse::<RoleArn>().ok()) {
            Some(role) => {
                Account::assumed(&self.aws, role, None, self.external_id.as_deref())
                    .await
                    .config
            }
            None => self.aws.clone(),
        })
    }

    /// Whether changes are offered at all.
    pub fn offered(&self) -> bool {
        !self.read_only
    }

    fn writable(&self) -> Result<(), AppError> {
        if self.read_only {
            return Err(AppError::Forbidden(
                "Trailkeeper runs read-only (TRAILKEEPER_READ_ONLY=true): it changes nothing in AWS"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Makes the change named `action` (one of `SecretAction::NAMES`) to the secret `id`
    /// (its name or ARN) for `actor`, or files it for a second admin's approval when
    /// approvals cover it; refused before anything else when Trailkeeper runs read-only.
    pub async fn change_secret(
        &self,
        reader: &Reader,
        actor: &Actor<'_>,
        id: &str,
        action: &str,
        request: &ChangeRequest,
    ) -> Result<ChangeOutcome, AppError> {
        self.writable()?;
        let change = SecretAction::from_request(action, request)?;
        make_change(
            reader,
            self,
            actor,
            id,
            change,
            request,
            Gate::Policy(&self.approvals),
        )
        .await
    }

    /// Approves (then makes the change, as the person who asked it) or rejects the change
    /// request `id` for `decider`.
    pub async fn decide_change(
        &self,
        pool: &PgPool,
        decider: &Actor<'_>,
        id: i64,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<ChangeApproval, AppError> {
        self.writable()?;
        let (approval, request) = approvals::decide(pool, decider, id, approve, comment).await?;
        if approve {
            let requester = Actor {
                name: &approval.requested_by,
                address: None,
            };
            let made = match SecretAction::from_request(&approval.action, &request) {
                Ok(change) => {
                    make_change(
                        &Reader::everything(pool.clone()),
                        self,
                        &requester,
                        &approval.secret_arn,
                        change,
                        &request,
                        Gate::Approved {
                            by: decider.name,
                            approval: id,
                        },
                    )
                    .await
                }
                Err(refused) => Err(refused),
            };
            match made {
                Ok(outcome) => approvals::record_outcome(pool, id, true, &outcome.summary).await?,
                Err(refused) => {
                    approvals::record_outcome(pool, id, false, &refused.to_string()).await?
                }
            }
        }
        approvals::get(pool, id).await
    }
}

/// What lets a change go to AWS.
enum Gate<'a> {
    /// The approval policy: it goes now, or waits for a second admin.
    Policy(&'a ApprovalPolicy),
    /// A second admin approved the request.
    Approved { by: &'a str, approval: i64 },
}

/// Makes `change` to the secret `id` (its name or ARN) for `actor`, for `request.reason`,
/// through `gate`.
async fn make_change(
    reader: &Reader,
    administration: &Administration,
    actor: &Actor<'_>,
    id: &str,
    change: SecretAction,
    request: &ChangeRequest,
    gate: Gate<'_>,
) -> Result<ChangeOutcome, AppError> {
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(AppError::Invalid {
            parameter: Some("reason".into()),
            message: format!("a reason is required: say why, in 1 to {MAX_REASON} characters"),
        });
    }
    // The inventory names the region to call; a secret outside the person's scope does not
    // exist for them.
    let pool = reader.pool();
    let secret = read::find(&mut *reader.read().await?, id).await?;
    let (arn, name, region) = (
        secret.summary.arn.as_str(),
        secret.summary.name.as_str(),
        secret.summary.region.as_str(),
    );
    let consequence = consequence(&change, &secret);
    if let Some(consequence) = &consequence
        && request.confirm.as_deref().map(str::trim) != Some(name)
    {
        return Err(AppError::Invalid {
            parameter: Some("confirm".into()),
            message: format!(
                "confirm by typing the secret's name, {name}: this will {consequence}"
            ),
        });
    }
    let aws = administration
        .acting_in(pool, &secret.summary.account_id)
        .await?;
    let client = crate::aws::secrets_manager(&aws, region);
    let call = planned(&client, &secret, change).await?;
    if let Gate::Policy(policy) = gate
        && policy.requires(consequence.is_some())
    {
        let summary = what(&call.change, name);
        let filed = approvals::file(
            pool,
            actor,
            &secret,
            call.change.name(),
            request,
            &summary,
            policy,
        )
        .await?;
        return Ok(ChangeOutcome {
            action: call.change.name().to_string(),
            secret_arn: arn.to_string(),
            request_id: None,
            summary: format!("asked a second admin to approve: {summary}"),
            secret: None,
            awaiting_approval: Some(filed),
        });
    }

    let mut detail = json!({
        "secret": arn,
        "action": call.change.name(),
        "parameters": call.parameters,
        "reason": reason,
        // The CloudTrail events of the change are matched to these entries by these calls
        // when their request ids are not known (`trailkeeper_change_for_event`).
        "operations": operations(&call.change),
    });
    if let Gate::Approved { by, approval } = gate {
        detail["approved_by"] = json!(by);
        detail["approval"] = json!(approval);
    }
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
    let secret = match read::lookup(&mut *reader.read().await?, arn).await? {
        SecretLookup::Found(detail) => Some(*detail),
        SecretLookup::Ambiguous(_) | SecretLookup::NotFound => None,
    };
    Ok(ChangeOutcome {
        action: call.change.name().to_string(),
        secret_arn: arn.to_string(),
        request_id: request_ids.into_iter().next(),
        summary,
        secret,
        awaiting_approval: None,
    })
}
