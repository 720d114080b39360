//! Granted versus used, as standing conditions re-evaluated after each sync from the readers
//! it stored (`inventory::grants`): a principal the policies let read secrets it has not read
//! for the idle period (an unused grant: least privilege says take it away), and one they let
//! read very many secrets, or every one (a broad grant). One finding per principal, listing
//! the secrets.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::api::events::principal_name;
use trailkeeper_app::api::findings::{FindingKind, Severity};
use trailkeeper_app::api::grants::counted;

use crate::detect::DetectionSettings;
use crate::findings::store::{self, About, Condition};

/// IAM is global: a principal's finding is about no region.
const GLOBAL: &str = "global";
/// The stored readers of secrets in accounts whose policies the last sync read…
const READERS: &str = "FROM secret_readers r JOIN secrets s ON s.arn = r.secret_arn \
     JOIN grant_checks c ON c.account_id = s.account_id AND c.error IS NULL";
/// …that stand: plainly (not on a condition), on a secret still there.
const STANDING: &str = "r.reach = 'yes' AND s.gone_since IS NULL";

/// The secrets a finding's detail names; the principal's page lists them all.
const LISTED: usize = 50;

#[derive(sqlx::FromRow)]
struct Holder {
    principal: String,
    account_id: String,
    secrets: i64,
    names: Vec<String>,
    statements: Vec<String>,
    every_secret: Option<String>,
}

/// Re-evaluates the principals of every account whose grants the last sync read, at `now`.
pub async fn reassess(
    pool: &PgPool,
    settings: &DetectionSettings,
    now: DateTime<Utc>,
) -> Result<store::Recorded, sqlx::Error> {
    // Where IAM refused, the stored readers are old: their findings stand as they are.
    let assessed: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT r.principal FROM secret_readers r \
         JOIN secrets s ON s.arn = r.secret_arn \
         JOIN grant_checks c ON c.account_id = s.account_id AND c.error IS NULL \
         UNION SELECT f.subject FROM findings f \
         JOIN grant_checks c ON c.account_id = f.account_id AND c.error IS NULL \
         WHERE f.kind IN ('unused_grant', 'broad_grant') AND f.status <> 'resolved'",
    )
    .fetch_all(pool)
    .await?;
    let mut conditions = unused(pool, settings, now).await?;
    conditions.extend(broad(pool, settings).await?);
    let assessed: Vec<&str> = assessed.iter().map(String::as_str).collect();
    store::hold(
        pool,
        &[FindingKind::UnusedGrant, FindingKind::BroadGrant],
        &assessed,
        conditions,
        now,
    )
    .await
}

/// Principals that can read secrets older than the idle period that they did not read in it;
/// judged only once the stored CloudTrail reaches back that far.
async fn unused(
    pool: &PgPool,
    settings: &DetectionSettings,
    now: DateTime<Utc>,
) -> Result<Vec<Condition>, sqlx::Error> {
    let days = settings.unused_grant_days;
    let cutoff = now - Duration::days(days);
    let holders: Vec<Holder> = sqlx::query_as(&format!(
        "SELECT r.principal, s.account_id, count(*) AS secrets, \
             array_agg(s.name ORDER BY s.name) AS names, \
             array_agg(r.granted_by[1] ORDER BY s.name) AS statements, \
             NULL::text AS every_secret \
         {READERS} WHERE {STANDING} \
           AND COALESCE(s.created_at, s.first_seen_at) < $1 \
           AND EXISTS (SELECT 1 FROM events WHERE event_time < $1) \
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.principal = r.principal \
               AND e.secret_arn = r.secret_arn AND e.event_name = 'GetSecretValue' \
               AND e.error_code IS NULL AND e.event_time >= $1) \
         GROUP BY r.principal, s.account_id"
    ))
    .bind(cutoff)
    .fetch_all(pool)
    .await?;
    Ok(holders
        .into_iter()
        .filter(|holder| narrowable(&holder.principal))
        .map(|holder| {
            let who = principal_name(&holder.principal);
            let secrets = counted(holder.secrets as usize, "secret");
            let mut statements = holder.statements.clone();
            statements.sort();
            statements.dedup();
            Condition {
                kind: FindingKind::UnusedGrant,
                severity: Severity::Low,
                title: format!("{who} can read {secrets} it has not read in {days} days"),
                explanation: format!(
                    "The account's policies let {} read {secrets} ({}), and CloudTrail shows it \
                     reading none of them in the last {days} days. A grant nobody uses is \
                     access an intruder can use: narrow {}.",
                    holder.principal,
                    listed(&holder.names),
                    listed(&statements),
                ),
                about: About::Principal(holder.principal),
                account_id: holder.account_id,
                region: GLOBAL.into(),
                detail: json!({
                    "secrets": holder.names.iter().take(LISTED).collect::<Vec<_>>(),
                    "statements": statements,
                    "settings": { "unused_grant_days": days },
                }),
            }
        })
        .collect())
}

/// Principals that can read more secrets than the setting, or every one.
async fn broad(pool: &PgPool, settings: &DetectionSettings) -> Result<Vec<Condition>, sqlx::Error> {
    let most = settings.broad_grant_secrets;
    let holders: Vec<Holder> = sqlx::query_as(&format!(
        "SELECT r.principal, s.account_id, count(DISTINCT r.secret_arn) AS secrets, \
             array_agg(DISTINCT s.name) AS names, \
             array_agg(DISTINCT g) AS statements, max(r.every_secret) AS every_secret \
         {READERS} CROSS JOIN LATERAL unnest(r.granted_by) AS g WHERE {STANDING} \
         GROUP BY r.principal, s.account_id \
         HAVING count(DISTINCT r.secret_arn) > $1 OR max(r.every_secret) IS NOT NULL"
    ))
    .bind(most)
    .fetch_all(pool)
    .await?;
    Ok(holders
        .into_iter()
        .filter(|holder| narrowable(&holder.principal))
        .map(|holder| {
            let who = principal_name(&holder.principal);
            let (title, why) = match &holder.every_secret {
                Some(statement) => (
                    format!("{who} can read every secret"),
                    format!(
                        "{statement} allows secretsmanager:* on every resource: {} can read every \
                         secret of the account, now {}, and every one made later",
                        holder.principal,
                        counted(holder.secrets as usize, "secret")
                    ),
                ),
                None => (
                    format!(
                        "{who} can read {}",
                        counted(holder.secrets as usize, "secret")
                    ),
                    format!(
                        "The account's policies let {} read {} (more than {most}, the setting): {}",
                        holder.principal,
                        counted(holder.secrets as usize, "secret"),
                        listed(&holder.names)
                    ),
                ),
            };
            Condition {
                kind: FindingKind::BroadGrant,
                severity: Severity::Medium,
                title,
                explanation: format!(
                    "{why}. Whoever takes hold of it takes them all; grant each workload the \
                     secrets it reads, by name or tag. Granted by {}.",
                    listed(&holder.statements)
                ),
                about: About::Principal(holder.principal),
                account_id: holder.account_id,
                region: GLOBAL.into(),
                detail: json!({
                    "secrets": holder.secrets,
                    "names": holder.names.iter().take(LISTED).collect::<Vec<_>>(),
                    "statements": holder.statements,
                    "every_secret": holder.every_secret,
                    "settings": { "broad_grant_secrets": most },
                }),
            }
        })
        .collect())
}

/// AWS's own service-linked and SSO-reserved roles: nobody can narrow their policies.
fn narrowable(principal: &str) -> bool {
    !principal.contains(":role/aws-service-role/") && !principal.contains(":role/aws-reserved/")
}

/// The first few, and how many more.
fn listed(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let shown = items
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    match items.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::{listed, narrowable};

    #[test]
    fn long_lists_are_cut_short_and_aws_own_roles_are_left_alone() {
        let names: Vec<String> = (1..=7).map(|n| format!("s{n}")).collect();
        assert_eq!(listed(&names), "s1, s2, s3, s4, s5 and 2 more");
        assert_eq!(listed(&names[..2]), "s1, s2");
        assert!(narrowable("arn:aws:iam::111122223333:role/app"));
        assert!(!narrowable(
            "arn:aws:iam::111122223333:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"
        ));
    }
}
