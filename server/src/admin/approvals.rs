//! Approvals (`TRAILKEEPER_APPROVALS`): a change waits, as a request, for a second admin. The
//! request keeps what the person asked (action, parameters, reason, confirmation); once
//! approved it is replayed as theirs, through the same checks against AWS's state then.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::api::admin::ChangeRequest;
use trailkeeper_app::api::changes::{ApprovalStatus, ChangeApproval};
use trailkeeper_app::api::findings::{FindingKind, Severity};
use trailkeeper_app::api::secrets::SecretDetail;

use crate::audit::{Action, Entry};
use crate::findings::triage::Actor;
use crate::findings::{Draft, Verdict, store};

/// Which changes wait for a second admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Approvals {
    /// None: each change goes to AWS at once.
    Off,
    /// Those that need the secret's name typed: a deletion, rotation turned off, a replica
    /// removed, the policy deleted, a policy that widens access.
    Destructive,
    All,
}

/// Which changes wait, and for how long before they expire.
#[derive(Clone, Copy, Debug)]
pub struct ApprovalPolicy {
    pub which: Approvals,
    pub expiry: Duration,
}

impl ApprovalPolicy {
    /// Whether a change waits; `destructive` says it needs the secret's name typed.
    pub fn requires(&self, destructive: bool) -> bool {
        match self.which {
            Approvals::Off => false,
            Approvals::Destructive => destructive,
            Approvals::All => true,
        }
    }
}

struct Row {
    id: i64,
    secret_arn: String,
    secret_name: String,
    action: String,
    request: serde_json::Value,
    summary: String,
    requested_by: String,
    requested_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    status: String,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    comment: Option<String>,
    outcome: Option<String>,
}

impl Row {
    fn approval(self) -> ChangeApproval {
        let status = match ApprovalStatus::parse(&self.status) {
            Some(ApprovalStatus::Pending) if self.expires_at <= Utc::now() => {
                ApprovalStatus::Expired
            }
            Some(status) => status,
            None => ApprovalStatus::Failed,
        };
        ChangeApproval {
            id: self.id,
            secret_arn: self.secret_arn,
            secret_name: self.secret_name,
            action: self.action,
            summary: self.summary,
            reason: self.request["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            requested_by: self.requested_by,
            requested_at: self.requested_at,
            expires_at: self.expires_at,
            status,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            comment: self.comment,
            outcome: self.outcome,
        }
    }
}

/// Files the change `action` (`summary` in words) as a request waiting for a second admin.
pub(super) async fn file(
    pool: &PgPool,
    actor: &Actor<'_>,
    secret: &SecretDetail,
    action: &str,
    request: &ChangeRequest,
    summary: &str,
    policy: &ApprovalPolicy,
) -> Result<ChangeApproval, AppError> {
    let expires_at =
        Utc::now() + chrono::Duration::from_std(policy.expiry).unwrap_or(chrono::Duration::days(1));
    let mut transaction = pool.begin().await?;
    let row = sqlx::query_as!(
        Row,
        "INSERT INTO change_approvals \
             (secret_arn, secret_name, action, request, summary, requested_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, secret_arn, secret_name, action, request, summary, requested_by, \
             requested_at, expires_at, status, decided_by, decided_at, comment, outcome",
        secret.summary.arn,
        secret.summary.name,
        action,
        serde_json::to_value(request).unwrap_or_default(),
        summary,
        actor.name,
        expires_at,
    )
    .fetch_one(&mut *transaction)
    .await?;
    Entry::new(
        actor.name,
        Action::ChangeApprovalRequested,
        format!(
            "asked a second admin to approve: {summary}: {}",
            request.reason.trim()
        ),
    )
    .detail(
        json!({ "approval": row.id, "secret": secret.summary.arn, "action": action,
                    "reason": request.reason.trim(), "expires_at": expires_at }),
    )
    .from_address(actor.address)
    .record(&mut *transaction)
    .await?;
    // Alerted like a finding: the alert rules route it to the channels that take its kind.
    let now = Utc::now();
    let waiting = Draft {
        kind: FindingKind::ChangeAwaitingApproval,
        severity: Severity::Medium,
        title: format!("{} asks a second admin to {summary}", actor.name),
        explanation: format!(
            "{} asked to {summary} ({}). Another admin approves or rejects it on the Changes \
             page before {}, or it expires.",
            actor.name,
            request.reason.trim(),
            expires_at.format("%Y-%m-%d %H:%M UTC")
        ),
        secret_arn: Some(secret.summary.arn.clone()),
        secret_name: Some(secret.summary.name.clone()),
        principal: Some(requester_key(actor.name)),
        account_id: Some(secret.summary.account_id.clone()),
        region: Some(secret.summary.region.clone()),
        first_seen: now,
        last_seen: now,
        count: 1,
        evidence: Vec::new(),
        detail: json!({ "approval": row.id, "action": action, "expires_at": expires_at }),
    };
    store::record(
        &mut transaction,
        vec![Verdict::Finding(waiting)],
        store::ALONE,
    )
    .await?;
    transaction.commit().await?;
    Ok(row.approval())
}

/// Who a change request's finding is about: the person, as Trailkeeper knows them.
fn requester_key(name: &str) -> String {
    format!("{name} (Trailkeeper)")
}

/// The requests, newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<ChangeApproval>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT id, secret_arn, secret_name, action, request, summary, requested_by, \
             requested_at, expires_at, status, decided_by, decided_at, comment, outcome \
         FROM change_approvals ORDER BY requested_at DESC, id DESC LIMIT 500"
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Row::approval).collect())
}

pub async fn get(pool: &PgPool, id: i64) -> Result<ChangeApproval, AppError> {
    sqlx::query_as!(
        Row,
        "SELECT id, secret_arn, secret_name, action, request, summary, requested_by, \
             requested_at, expires_at, status, decided_by, decided_at, comment, outcome \
         FROM change_approvals WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .map(Row::approval)
    .ok_or_else(|| AppError::NotFound(format!("there is no change request {id}")))
}

/// Decides the request `id` for `decider`: only a pending one not yet expired, and never
/// one's own approved. Answers the request as decided and what was asked in it.
pub(super) async fn decide(
    pool: &PgPool,
    decider: &Actor<'_>,
    id: i64,
    approve: bool,
    comment: Option<&str>,
) -> Result<(ChangeApproval, ChangeRequest), AppError> {
    let mut transaction = pool.begin().await?;
    // One statement claims it, so two admins deciding at once cannot both win.
    let decided = sqlx::query_as!(
        Row,
        "UPDATE change_approvals \
         SET status = CASE WHEN $2 THEN 'approved' ELSE 'rejected' END, \
             decided_by = $3, decided_at = now(), comment = $4 \
         WHERE id = $1 AND status = 'pending' AND expires_at > now() \
           AND (NOT $2 OR requested_by <> $3) \
         RETURNING id, secret_arn, secret_name, action, request, summary, requested_by, \
             requested_at, expires_at, status, decided_by, decided_at, comment, outcome",
        id,
        approve,
        decider.name,
        comment,
    )
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(decided) = decided else {
        let current = get(pool, id).await?;
        return Err(match current.status {
            ApprovalStatus::Expired => AppError::Conflict(format!(
                "change request {id} expired at {}; ask again",
                current.expires_at.format("%Y-%m-%d %H:%M UTC")
            )),
            ApprovalStatus::Pending => AppError::Forbidden(format!(
                "change request {id} is your own: another admin must approve it"
            )),
            decided => AppError::Conflict(format!(
                "change request {id} was already {} by {}",
                match decided {
                    ApprovalStatus::Rejected => "rejected",
                    _ => "approved",
                },
                current.decided_by.unwrap_or_default()
            )),
        });
    };
    let request: ChangeRequest = serde_json::from_value(decided.request.clone())
        .map_err(|error| AppError::internal("reading a change request", error))?;
    let (action, verb) = if approve {
        (Action::ChangeApproved, "approved")
    } else {
        (Action::ChangeRejected, "rejected")
    };
    Entry::new(
        decider.name,
        action,
        format!(
            "{verb} {}'s request to {}{}",
            decided.requested_by,
            decided.summary,
            comment
                .map(|comment| format!(": {comment}"))
                .unwrap_or_default()
        ),
    )
    .detail(
        json!({ "approval": id, "secret": decided.secret_arn, "action": decided.action,
                    "requested_by": decided.requested_by, "comment": comment }),
    )
    .from_address(decider.address)
    .record(&mut *transaction)
    .await?;
    let decided_request = Verdict::Resolve {
        kind: FindingKind::ChangeAwaitingApproval,
        principal: Some(requester_key(&decided.requested_by)),
        secret_arn: Some(decided.secret_arn.clone()),
        at: Utc::now(),
        reason: format!("{verb} by {}", decider.name),
    };
    store::record(&mut transaction, vec![decided_request], store::ALONE).await?;
    transaction.commit().await?;
    Ok((decided.approval(), request))
}

/// Resolves the findings of requests that expired undecided, unless another request by the
/// same person on the same secret still waits; housekeeping runs it hourly.
pub async fn resolve_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let expired = sqlx::query!(
        r#"SELECT DISTINCT requested_by AS "requested_by!", secret_arn AS "secret_arn!"
           FROM change_approvals lapsed
           WHERE status = 'pending' AND expires_at <= now()
             AND NOT EXISTS (
                 SELECT 1 FROM change_approvals waiting
                 WHERE waiting.status = 'pending' AND waiting.expires_at > now()
                   AND waiting.requested_by = lapsed.requested_by
                   AND waiting.secret_arn = lapsed.secret_arn)"#
    )
    .fetch_all(pool)
    .await?;
    let verdicts = expired
        .into_iter()
        .map(|lapsed| Verdict::Resolve {
            kind: FindingKind::ChangeAwaitingApproval,
            principal: Some(requester_key(&lapsed.requested_by)),
            secret_arn: Some(lapsed.secret_arn),
            at: Utc::now(),
            reason: "expired before a second admin decided".into(),
        })
        .collect();
    let mut transaction = pool.begin().await?;
    let recorded = store::record(&mut transaction, verdicts, store::ALONE).await?;
    transaction.commit().await?;
    Ok(recorded.resolved)
}

/// Records what became of an approved request in AWS.
pub(super) async fn record_outcome(
    pool: &PgPool,
    id: i64,
    succeeded: bool,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE change_approvals SET status = CASE WHEN $2 THEN 'approved' ELSE 'failed' END, \
             outcome = $3 WHERE id = $1",
        id,
        succeeded,
        outcome
    )
    .execute(pool)
    .await?;
    Ok(())
}
