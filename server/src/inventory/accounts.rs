//! The AWS accounts as the store knows them: discovered (with the Organization's names), or
//! seen in the secrets' ARNs and in CloudTrail. Read by the Overview and the lists' filters.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use trailkeeper_app::api::overview::AccountOverview;
use trailkeeper_app::api::secrets::AccountName;

use super::read::{held_values, sync_errors};

/// The accounts that hold secrets AWS still has, with their names when known.
pub async fn holding_secrets(db: &mut PgConnection) -> Result<Vec<AccountName>, sqlx::Error> {
    let accounts: Vec<(String, Option<String>)> = sqlx::query_as(&format!(
        "WITH RECURSIVE {} \
         SELECT held.value, a.name FROM held LEFT JOIN accounts a ON a.id = held.value \
         WHERE held.value IS NOT NULL ORDER BY a.name NULLS LAST, held.value",
        held_values("held", "account_id")
    ))
    .fetch_all(&mut *db)
    .await?;
    Ok(accounts
        .into_iter()
        .map(|(id, name)| AccountName { id, name })
        .collect())
}

/// The role Trailkeeper assumes in `account`, as discovery last recorded it.
pub async fn role_of(db: &mut PgConnection, account: &str) -> Result<Option<String>, sqlx::Error> {
    Ok(
        sqlx::query_scalar!("SELECT role_arn FROM accounts WHERE id = $1", account)
            .fetch_optional(&mut *db)
            .await?
            .flatten(),
    )
}

/// Each account: discovered, holding secrets, or sending CloudTrail.
pub async fn overview(db: &mut PgConnection) -> Result<Vec<AccountOverview>, sqlx::Error> {
    struct Row {
        id: String,
        name: Option<String>,
        secrets: i64,
        rotation_healthy: i64,
        rotation_problems: i64,
        open_findings: i64,
        last_sync: Option<DateTime<Utc>>,
        sync_errors: Value,
        newest_event: Option<DateTime<Utc>>,
    }
    let rows = sqlx::query_as!(
        Row,
        r#"WITH known AS (
               SELECT id FROM accounts
               UNION SELECT account_id FROM secrets WHERE gone_since IS NULL
               UNION SELECT account_id FROM trail_coverage
           ), held AS (
               SELECT account_id, count(*) AS secrets,
                   count(*) FILTER (WHERE rotation_status IN ('healthy', 'due_soon')) AS healthy,
                   count(*) FILTER (WHERE rotation_status IN
                       ('stuck', 'failing', 'overdue', 'never_rotated')) AS problems
               FROM secrets WHERE gone_since IS NULL GROUP BY account_id
           ), open AS (
               SELECT account_id, count(*) AS findings FROM findings
               WHERE status IN ('open', 'acknowledged') AND account_id IS NOT NULL
               GROUP BY account_id
           ), newest_runs AS (
               SELECT DISTINCT ON (account_id, region) account_id, finished_at, errors
               FROM sync_runs WHERE account_id IS NOT NULL
               ORDER BY account_id, region, started_at DESC
           ), runs AS (
               SELECT account_id, max(finished_at) AS last_sync,
                   jsonb_path_query_array(jsonb_agg(errors), '$[*][*]') AS errors
               FROM newest_runs GROUP BY account_id
           ), coverage AS (
               SELECT account_id, max(newest_event_at) AS newest FROM trail_coverage
               GROUP BY account_id
           )
           SELECT known.id AS "id!", accounts.name,
               COALESCE(held.secrets, 0) AS "secrets!",
               COALESCE(held.healthy, 0) AS "rotation_healthy!",
               COALESCE(held.problems, 0) AS "rotation_problems!",
               COALESCE(open.findings, 0) AS "open_findings!",
               runs.last_sync, COALESCE(runs.errors, '[]') AS "sync_errors!",
               coverage.newest AS newest_event
           FROM known
           LEFT JOIN accounts ON accounts.id = known.id
           LEFT JOIN held ON held.account_id = known.id
           LEFT JOIN open ON open.account_id = known.id
           LEFT JOIN runs ON runs.account_id = known.id
           LEFT JOIN coverage ON coverage.account_id = known.id
           WHERE known.id IS NOT NULL
           ORDER BY accounts.name NULLS LAST, known.id"#
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AccountOverview {
            id: row.id,
            name: row.name,
            secrets: row.secrets,
            rotation_healthy: row.rotation_healthy,
            rotation_problems: row.rotation_problems,
            open_findings: row.open_findings,
            last_sync: row.last_sync,
            sync_errors: sync_errors(&row.sync_errors),
            newest_event: row.newest_event,
        })
        .collect())
}
