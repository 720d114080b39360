//! Reading the inventory for pages and the API: the filtered, sorted, keyset-paginated list,
//! one secret in full, and the figures the Overview shows.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use trailkeeper_app::api::overview::{InventoryOverview, SyncRun};
use trailkeeper_app::api::query::DEFAULT_LIMIT;
use trailkeeper_app::api::secrets::{
    DeletedFilter, FlagFilter, PolicyFlag, Replica, RotationSettings, RotationStatus, SecretDetail,
    SecretFacets, SecretFlag, SecretLookup, SecretPage, SecretQuery, SecretSort, SecretSummary,
    SecretVersion,
};

use super::changes::{self, CHANGE_EVENTS, ChangeEvent, ObservedMove};
use super::status::schedule_in_words;
use crate::db::ReadError;
use crate::db::escape_like;
use crate::findings::read as findings;
use trailkeeper_app::AppError;

/// The key of the default KMS key, which AWS leaves out of a secret's description.
pub const DEFAULT_KMS_KEY: &str = "aws/secretsmanager";

const SUMMARY_COLUMNS: &str = "arn, name, region, account_id, \
    (SELECT a.name FROM accounts a WHERE a.id = secrets.account_id) AS account_name, \
    description, rotation_status, \
    rotation_reason, rotation_enabled, last_rotated_at, next_rotation_at, last_accessed_at, \
    tags, flags, owning_service, kms_key_id, deletion_requested_at, gone_since";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    arn: String,
    name: String,
    region: String,
    account_id: String,
    account_name: Option<String>,
    description: Option<String>,
    rotation_status: String,
    rotation_reason: String,
    rotation_enabled: bool,
    last_rotated_at: Option<DateTime<Utc>>,
    next_rotation_at: Option<DateTime<Utc>>,
    last_accessed_at: Option<DateTime<Utc>>,
    tags: Value,
    flags: Vec<String>,
    owning_service: Option<String>,
    kms_key_id: Option<String>,
    deletion_requested_at: Option<DateTime<Utc>>,
    gone_since: Option<DateTime<Utc>>,
}

impl From<SummaryRow> for SecretSummary {
    fn from(row: SummaryRow) -> Self {
        SecretSummary {
            arn: row.arn,
            name: row.name,
            region: row.region,
            account_id: row.account_id,
            account_name: row.account_name,
            description: row.description,
            // Written by the assessment from the same enum; a value it does not know cannot
            // be there, and disabled is the status that claims the least.
            rotation_status: RotationStatus::parse(&row.rotation_status)
                .unwrap_or(RotationStatus::Disabled),
            rotation_reason: row.rotation_reason,
            rotation_enabled: row.rotation_enabled,
            last_rotated_at: row.last_rotated_at,
            next_rotation_at: row.next_rotation_at,
            last_accessed_at: row.last_accessed_at,
            tags: tags(row.tags),
            flags: row
                .flags
                .iter()
                .filter_map(|flag| SecretFlag::parse(flag))
                .collect(),
            owning_service: row.owning_service,
            kms_key_id: row.kms_key_id,
            deleted_at: row.deletion_requested_at,
            gone_since: row.gone_since,
            active_findings: 0,
            worst_finding: None,
        }
    }
}

/// The stored tags (`{"key": "value"}`) as a map.
pub(super) fn tags(tags: Value) -> BTreeMap<String, String> {
    match tags {
        Value::Object(tags) => tags
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(value) => (key, value),
                other => (key, other.to_string()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Where a page ended: the sort it belongs to, the last row's sort key and ARN.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    sort: SecretSort,
    descending: bool,
    key: String,
    arn: String,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str, query: &SecretQuery) -> Result<Cursor, ReadError> {
        let cursor: Cursor = URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(ReadError::InvalidCursor(
                "the cursor is not one this list gave out; start again without it",
            ))?;
        if cursor.sort != query.sort || cursor.descending != query.descending {
            return Err(ReadError::InvalidCursor(
                "the cursor belongs to the list sorted differently; start again without it",
            ));
        }
        Ok(cursor)
    }
}

/// The text a sort orders by (compared byte-wise), with rows that lack the value last in
/// either direction.
fn sort_key(sort: SecretSort, descending: bool) -> String {
    let name = "lower(name)";
    let missing_last = if descending { "''" } else { "'~'" };
    let instant = |column: &str| {
        format!(
            "COALESCE(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), {missing_last})"
        )
    };
    let key = match sort {
        SecretSort::Name => name.to_string(),
        SecretSort::Region => format!("region || ' ' || {name}"),
        SecretSort::Status => {
            let ranks: String = RotationStatus::ALL
                .iter()
                .enumerate()
                .map(|(rank, status)| format!(" WHEN '{}' THEN '{rank}'", status.as_str()))
                .collect();
            format!("(CASE rotation_status{ranks} ELSE '9' END) || ' ' || {name}")
        }
        SecretSort::LastRotated => instant("last_rotated_at"),
        SecretSort::NextRotation => instant("next_rotation_at"),
        SecretSort::LastAccessed => instant("last_accessed_at"),
    };
    format!("(({key}) COLLATE \"C\")")
}

fn push_filters(sql: &mut QueryBuilder<'_, Postgres>, query: &SecretQuery) {
    sql.push(" WHERE true");
    if let Some(search) = &query.search {
        let search = search.to_lowercase();
        match search.split_once('=') {
            Some((key, value)) => {
                sql.push(
                    " AND EXISTS (SELECT 1 FROM jsonb_each_text(tags) tag \
                     WHERE lower(tag.key) = ",
                )
                .push_bind(key.trim().to_string())
                .push(" AND lower(tag.value) LIKE '%' || ")
                .push_bind(escape_like(value.trim()))
                .push(" || '%')");
            }
            None => {
                let pattern = format!("%{}%", escape_like(&search));
                sql.push(" AND (lower(name) LIKE ")
                    .push_bind(pattern.clone())
                    .push(" OR lower(COALESCE(description, '')) LIKE ")
                    .push_bind(pattern.clone())
                    .push(
                        " OR EXISTS (SELECT 1 FROM jsonb_each_text(tags) tag \
                         WHERE lower(tag.key) LIKE ",
                    )
                    .push_bind(pattern.clone())
                    .push(" OR lower(tag.value) LIKE ")
                    .push_bind(pattern)
                    .push("))");
            }
        }
    }
    if let Some(account) = &query.account {
        sql.push(" AND account_id = ").push_bind(account.clone());
    }
    if let Some(region) = &query.region {
        sql.push(" AND region = ").push_bind(region.clone());
    }
    if let Some(status) = query.status {
        sql.push(" AND rotation_status = ")
            .push_bind(status.as_str());
    }
    if let Some(service) = &query.owning_service {
        sql.push(" AND owning_service = ")
            .push_bind(service.clone());
    }
    if let Some(key) = &query.kms_key {
        if key == DEFAULT_KMS_KEY {
            sql.push(" AND (kms_key_id IS NULL OR kms_key_id = 'alias/aws/secretsmanager')");
        } else {
            sql.push(" AND kms_key_id = ").push_bind(key.clone());
        }
    }
    sql.push(match query.deleted {
        DeletedFilter::Existing => " AND gone_since IS NULL",
        DeletedFilter::Only => " AND (deletion_requested_at IS NOT NULL OR gone_since IS NOT NULL)",
        DeletedFilter::Include => "",
        DeletedFilter::Hide => " AND deletion_requested_at IS NULL AND gone_since IS NULL",
    });
    match query.flag {
        Some(FlagFilter::Any) => {
            sql.push(" AND cardinality(flags) > 0");
        }
        Some(FlagFilter::Flag(flag)) => {
            sql.push(" AND ")
                .push_bind(flag.as_str())
                .push(" = ANY (flags)");
        }
        None => {}
    }
}

/// One page of secrets matching `query`, with the cursor of the next page.
pub async fn list(db: &mut PgConnection, query: &SecretQuery) -> Result<SecretPage, ReadError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT) as usize;
    let key = sort_key(query.sort, query.descending);
    let mut sql = QueryBuilder::new(format!(
        "SELECT {SUMMARY_COLUMNS}, {key} AS sort_key FROM secrets"
    ));
    push_filters(&mut sql, query);
    let order = if query.descending { "DESC" } else { "ASC" };
    if let Some(cursor) = &query.cursor {
        let cursor = Cursor::decode(cursor, query)?;
        let comparison = if query.descending { "<" } else { ">" };
        sql.push(format!(" AND ({key}, arn COLLATE \"C\") {comparison} ("))
            .push_bind(cursor.key)
            .push(", ")
            .push_bind(cursor.arn)
            .push(")");
    }
    sql.push(format!(
        " ORDER BY {key} {order}, arn COLLATE \"C\" {order} LIMIT "
    ))
    .push_bind(limit as i64 + 1);

    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        summary: SummaryRow,
        sort_key: String,
    }
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(&mut *db).await?;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| {
            Cursor {
                sort: query.sort,
                descending: query.descending,
                key: last.sort_key.clone(),
                arn: last.summary.arn.clone(),
            }
            .encode()
        })
    } else {
        None
    };
    let mut items: Vec<SecretSummary> = rows.into_iter().map(|row| row.summary.into()).collect();
    with_findings(&mut *db, &mut items).await?;
    Ok(SecretPage { items, next })
}

/// Fills in each secret's active findings.
async fn with_findings(
    db: &mut PgConnection,
    secrets: &mut [SecretSummary],
) -> Result<(), sqlx::Error> {
    let arns: Vec<String> = secrets.iter().map(|secret| secret.arn.clone()).collect();
    let active = findings::active_by_secret(&mut *db, &arns).await?;
    for secret in secrets {
        if let Some((_, count, worst)) = active.iter().find(|(arn, ..)| *arn == secret.arn) {
            secret.active_findings = *count;
            secret.worst_finding = Some(*worst);
        }
    }
    Ok(())
}

/// How many secrets match `query`'s filters, on all pages.
pub async fn count(db: &mut PgConnection, query: &SecretQuery) -> Result<i64, sqlx::Error> {
    if let Some(held) = held_count(db, query).await? {
        return Ok(held);
    }
    let mut sql = QueryBuilder::new("SELECT count(*) FROM secrets");
    push_filters(&mut sql, query);
    sql.build_query_scalar().fetch_one(&mut *db).await
}

/// The count of the secrets AWS still has, in an account or a region or all of them, as
/// migration 0035 keeps it — when `query` asks for no more than that and the reader sees
/// every secret (a scoped reader finds no counts kept).
async fn held_count(
    db: &mut PgConnection,
    query: &SecretQuery,
) -> Result<Option<i64>, sqlx::Error> {
    let SecretQuery {
        search: None,
        account,
        region,
        status: None,
        owning_service: None,
        kms_key: None,
        deleted: DeletedFilter::Existing,
        flag: None,
        // Named, not `..`: a filter added to the query must decide here whether it can be
        // answered from the counts kept.
        sort: _,
        descending: _,
        cursor: _,
        limit: _,
    } = query
    else {
        return Ok(None);
    };
    sqlx::query_scalar(
        "SELECT sum(secrets)::bigint FROM held_secret_counts \
         WHERE ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR region = $2)",
    )
    .bind(account.as_deref())
    .bind(region.as_deref())
    .fetch_one(&mut *db)
    .await
}

/// The values the filters offer: those of secrets AWS still has.
pub async fn facets(db: &mut PgConnection) -> Result<SecretFacets, sqlx::Error> {
    let accounts = super::accounts::holding_secrets(&mut *db).await?;
    let (regions, owning_services, kms_keys): (Vec<String>, Vec<String>, Vec<String>) =
        sqlx::query_as(&format!(
            "WITH RECURSIVE {}, {}, {} \
             SELECT ARRAY(SELECT value FROM regions WHERE value IS NOT NULL), \
                 ARRAY(SELECT value FROM services WHERE value IS NOT NULL), \
                 ARRAY(SELECT value FROM ( \
                     SELECT value FROM keys WHERE value IS NOT NULL \
                     UNION \
                     SELECT $1 WHERE EXISTS ( \
                         SELECT FROM secrets WHERE gone_since IS NULL AND kms_key_id IS NULL) \
                 ) held ORDER BY value)",
            held_values("regions", "region"),
            held_values("services", "owning_service"),
            held_values("keys", "kms_key_id"),
        ))
        .bind(DEFAULT_KMS_KEY)
        .fetch_one(&mut *db)
        .await?;
    Ok(SecretFacets {
        accounts,
        regions,
        owning_services,
        kms_keys,
    })
}

/// A recursive query `name (value)` of the distinct values `column` takes among the
/// secrets AWS still has, in order (a last row of NULL ends it): each found by skipping
/// through the column's partial index (migration 0025) from the one before, a few values
/// among tens of thousands of secrets never read one by one.
pub(super) fn held_values(name: &str, column: &str) -> String {
    format!(
        "{name} (value) AS ( \
             (SELECT {column} FROM secrets WHERE gone_since IS NULL AND {column} IS NOT NULL \
              ORDER BY {column} LIMIT 1) \
             UNION ALL \
             SELECT (SELECT {column} FROM secrets \
                     WHERE gone_since IS NULL AND {column} > {name}.value \
                     ORDER BY {column} LIMIT 1) \
             FROM {name} WHERE {name}.value IS NOT NULL)"
    )
}

/// The one secret `id` names (its ARN, or its name when that is unique), or why there is none.
pub async fn find(db: &mut PgConnection, id: &str) -> Result<SecretDetail, AppError> {
    match lookup(&mut *db, id).await.map_err(AppError::from)? {
        SecretLookup::Found(detail) => Ok(*detail),
        SecretLookup::NotFound => Err(AppError::NotFound(format!(
            "no secret has the name or ARN {id:?}"
        ))),
        SecretLookup::Ambiguous(secrets) => Err(AppError::Conflict(format!(
            "{} secrets have the name {id:?}; ask for one by ARN: {}",
            secrets.len(),
            secrets
                .iter()
                .map(|secret| secret.arn.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A secret by its ARN or its name. A name AWS holds in several regions (or that was deleted
/// and made again) is ambiguous unless only one of those secrets still exists.
pub async fn lookup(db: &mut PgConnection, id: &str) -> Result<SecretLookup, sqlx::Error> {
    let column = if id.starts_with("arn:") {
        "arn"
    } else {
        "name"
    };
    let mut candidates: Vec<SummaryRow> = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM secrets WHERE {column} = $1 ORDER BY region, arn"
    ))
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    if candidates.len() > 1 && candidates.iter().any(|row| row.gone_since.is_none()) {
        candidates.retain(|row| row.gone_since.is_none());
    }
    match candidates.len() {
        0 => Ok(SecretLookup::NotFound),
        1 => {
            let mut summary = [candidates.remove(0).into()];
            with_findings(&mut *db, &mut summary).await?;
            let [summary] = summary;
            Ok(SecretLookup::Found(Box::new(
                detail(&mut *db, summary).await?,
            )))
        }
        _ => Ok(SecretLookup::Ambiguous(
            candidates.into_iter().map(Into::into).collect(),
        )),
    }
}

async fn detail(
    db: &mut PgConnection,
    summary: SecretSummary,
) -> Result<SecretDetail, sqlx::Error> {
    struct Row {
        created_at: Option<DateTime<Utc>>,
        last_changed_at: Option<DateTime<Utc>>,
        rotation_lambda_arn: Option<String>,
        rotation_after_days: Option<i32>,
        rotation_schedule: Option<String>,
        rotation_window: Option<String>,
        primary_region: Option<String>,
        replication: Value,
        resource_policy: Option<Value>,
        policy_flags: Value,
        first_seen_at: DateTime<Utc>,
        last_seen_at: DateTime<Utc>,
    }
    let row: Row = sqlx::query_as!(
        Row,
        "SELECT created_at, last_changed_at, rotation_lambda_arn, \
             rotation_after_days, rotation_schedule, rotation_window, primary_region, \
             replication, resource_policy, policy_flags, first_seen_at, last_seen_at \
         FROM secrets WHERE arn = $1",
        summary.arn
    )
    .fetch_one(&mut *db)
    .await?;

    struct VersionRow {
        version_id: String,
        created_at: Option<DateTime<Utc>>,
        last_accessed_at: Option<DateTime<Utc>>,
        labels: Vec<String>,
        kms_key_ids: Vec<String>,
        first_seen_at: DateTime<Utc>,
        gone_since: Option<DateTime<Utc>>,
    }
    let versions: Vec<VersionRow> = sqlx::query_as!(
        VersionRow,
        "SELECT version_id, created_at, last_accessed_at, labels, kms_key_ids, first_seen_at, \
             gone_since \
         FROM secret_versions WHERE secret_arn = $1 \
         ORDER BY COALESCE(created_at, first_seen_at) DESC, \
             'AWSPENDING' = ANY (labels) DESC, 'AWSCURRENT' = ANY (labels) DESC, \
             'AWSPREVIOUS' = ANY (labels) DESC, first_seen_at DESC, version_id",
        summary.arn
    )
    .fetch_all(&mut *db)
    .await?;
    let observed: Vec<ObservedMove> = sqlx::query_as!(
        ObservedMove,
        "SELECT label, from_version, to_version, observed_at FROM label_history \
         WHERE secret_arn = $1 ORDER BY observed_at, id",
        summary.arn
    )
    .fetch_all(&mut *db)
    .await?;
    let names = CHANGE_EVENTS.map(|name| format!("'{name}'")).join(", ");
    // A call that failed changed nothing; a service event's message is its news.
    let events: Vec<ChangeEvent> = sqlx::query_as(&format!(
        "SELECT event_id, event_name, event_time, principal, session_name, \
             COALESCE(host(source_ip), source_service) AS origin, error_message AS message, \
             raw -> 'requestParameters' AS request, raw -> 'responseElements' AS response, \
             through.audit_id, through.person, through.reason \
         FROM events \
         LEFT JOIN LATERAL trailkeeper_change_for_event(raw ->> 'requestID', secret_arn, \
             event_name, event_time) AS through ON true \
         WHERE secret_arn = $1 AND event_name IN ({names}) \
           AND (error_code IS NULL OR event_type = 'AwsServiceEvent') \
         ORDER BY event_time, event_id"
    ))
    .bind(&summary.arn)
    .fetch_all(&mut *db)
    .await?;
    let (label_history, changes) = changes::explain(&observed, &events);

    let replicas = serde_json::from_value::<Vec<Replica>>(row.replication).unwrap_or_default();
    let policy_flags =
        serde_json::from_value::<Vec<PolicyFlag>>(row.policy_flags).unwrap_or_default();
    Ok(SecretDetail {
        created_at: row.created_at,
        last_changed_at: row.last_changed_at,
        rotation: RotationSettings {
            enabled: summary.rotation_enabled,
            lambda_arn: row.rotation_lambda_arn,
            automatically_after_days: row.rotation_after_days,
            schedule: schedule_in_words(
                row.rotation_after_days.map(i64::from),
                row.rotation_schedule.as_deref(),
            ),
            schedule_expression: row.rotation_schedule,
            window: row.rotation_window,
        },
        primary_region: row.primary_region,
        replicas,
        resource_policy: row
            .resource_policy
            .map(|policy| serde_json::to_string_pretty(&policy).unwrap_or_default()),
        policy_flags,
        versions: versions
            .into_iter()
            .map(|version| SecretVersion {
                version_id: version.version_id,
                created_at: version.created_at,
                last_accessed_at: version.last_accessed_at,
                labels: version.labels,
                kms_key_ids: version.kms_key_ids,
                first_seen_at: version.first_seen_at,
                gone_since: version.gone_since,
            })
            .collect(),
        label_history,
        changes,
        first_seen_at: row.first_seen_at,
        last_seen_at: row.last_seen_at,
        summary,
    })
}

/// How many of the newest syncs (one per account and region) the Overview lists, those that
/// did not succeed first; the accounts' table covers the rest.
const LAST_SYNCS: i64 = 50;

/// The Overview's figures: secrets by rotation status, how many are flagged, and each
/// account and region's newest sync.
pub async fn overview(db: &mut PgConnection) -> Result<InventoryOverview, sqlx::Error> {
    let counts = sqlx::query!(
        r#"SELECT rotation_status, count(*) AS "secrets!" FROM secrets WHERE gone_since IS NULL
           GROUP BY rotation_status"#
    )
    .fetch_all(&mut *db)
    .await?;
    let by_status: Vec<(RotationStatus, i64)> = RotationStatus::ALL
        .into_iter()
        .filter_map(|status| {
            counts
                .iter()
                .find(|row| row.rotation_status == status.as_str())
                .map(|row| (status, row.secrets))
        })
        .collect();
    let flagged = sqlx::query_scalar!(
        r#"SELECT count(*) AS "flagged!" FROM secrets
           WHERE gone_since IS NULL AND cardinality(flags) > 0"#
    )
    .fetch_one(&mut *db)
    .await?;
    struct RunRow {
        account_id: Option<String>,
        region: String,
        started_at: DateTime<Utc>,
        finished_at: Option<DateTime<Utc>>,
        outcome: String,
        secrets_seen: i32,
        label_moves: i32,
        errors: Value,
    }
    let runs: Vec<RunRow> = sqlx::query_as!(
        RunRow,
        "SELECT * FROM ( \
             SELECT DISTINCT ON (account_id, region) account_id, region, started_at, \
                 finished_at, outcome, secrets_seen, label_moves, errors \
             FROM sync_runs ORDER BY account_id, region, started_at DESC) newest \
         ORDER BY outcome = 'succeeded', account_id, region LIMIT $1",
        LAST_SYNCS
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(InventoryOverview {
        secrets: by_status.iter().map(|(_, count)| count).sum(),
        by_status,
        flagged,
        last_syncs: runs
            .into_iter()
            .map(|run| SyncRun {
                errors: sync_errors(&run.errors),
                account_id: run.account_id,
                region: run.region,
                started_at: run.started_at,
                finished_at: run.finished_at,
                outcome: run.outcome,
                secrets_seen: run.secrets_seen,
                label_moves: run.label_moves,
            })
            .collect(),
    })
}

/// `CODE: message` for each error a run stored.
pub(super) fn sync_errors(errors: &Value) -> Vec<String> {
    errors
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|error| {
            let message = error["message"].as_str().unwrap_or("unknown error");
            match error["code"].as_str() {
                Some(code) => format!("{code}: {message}"),
                None => message.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_only_continues_the_sort_it_came_from() {
        let query = SecretQuery {
            sort: SecretSort::LastRotated,
            descending: true,
            ..SecretQuery::default()
        };
        let cursor = Cursor {
            sort: SecretSort::LastRotated,
            descending: true,
            key: "2026-11-01T00:00:00.000000".into(),
            arn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf".into(),
        };
        let text = cursor.encode();
        assert_eq!(Cursor::decode(&text, &query).unwrap(), cursor);
        let ascending = SecretQuery {
            descending: false,
            ..query.clone()
        };
        assert!(matches!(
            Cursor::decode(&text, &ascending),
            Err(ReadError::InvalidCursor(_))
        ));
        assert!(matches!(
            Cursor::decode("not-a-cursor", &query),
            Err(ReadError::InvalidCursor(_))
        ));
    }

    #[test]
    fn sync_errors_read_code_first() {
        let errors = serde_json::json!([
            {"code": "AccessDeniedException", "message": "not allowed"},
            {"code": null, "message": "connection refused"}
        ]);
        assert_eq!(
            sync_errors(&errors),
            ["AccessDeniedException: not allowed", "connection refused"]
        );
    }
}
