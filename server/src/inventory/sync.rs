//! Sync: reads every secret's metadata, versions, labels and resource policy from AWS
//! Secrets Manager, region by region, and stores what changed. It never calls
//! `GetSecretValue` or `BatchGetSecretValue`. One secret's error does not stop the others;
//! it is recorded with its AWS error code in the run, which is itself stored. Across an
//! Organization, each account's regions are synced through that account's role, several
//! accounts at once; an account whose role cannot be assumed is recorded and skipped.

use std::collections::HashSet;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::list_secrets::ListSecretsError;
use aws_sdk_secretsmanager::types::{
    Filter, FilterNameStringType, SecretListEntry, SecretVersionsListEntry,
};
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::assess::reassess;
use super::grants;
use super::labels::{self, Labels};
use super::references::resolve_waiting;
use super::status::StatusThresholds;
use super::trails;
use crate::aws::accounts::{self, Account, AccountSettings};

/// How many secrets are described at once in one region: enough to hide AWS latency,
/// few enough to stay under its request rates.
pub const CONCURRENCY: usize = 8;

/// What an AWS call that failed said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncError {
    /// The secret's ARN; `None` when the whole region failed.
    pub secret: Option<String>,
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

/// The outcome of one region's sync, as stored in `sync_runs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// The account synced; `None` only for the credentials' own account (the default
    /// coverage) when it holds no secrets, whose ARNs would name it.
    pub account: Option<String>,
    pub region: String,
    pub seen: usize,
    pub new: usize,
    pub gone: usize,
    pub label_moves: usize,
    pub errors: Vec<SyncError>,
}

impl SyncSummary {
    /// One line for people and the log.
    pub fn describe(&self) -> String {
        format!(
            "{}{}: {} secrets ({} new, {} gone), {} label moves, {} errors",
            self.account
                .as_deref()
                .map(|account| format!("{account} "))
                .unwrap_or_default(),
            self.region,
            self.seen,
            self.new,
            self.gone,
            self.label_moves,
            self.errors.len()
        )
    }
}

fn aws_error<E, R>(
    secret: Option<&str>,
    operation: &'static str,
    error: &SdkError<E, R>,
) -> SyncError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = crate::aws::said(error);
    SyncError {
        secret: secret.map(str::to_string),
        operation,
        code,
        message,
    }
}

/// The account a secret's ARN names (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:…`).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

/// Everything one secret's calls returned: what [`store`] stores.
pub struct Described {
    entry: SecretListEntry,
    replication: Value,
    versions: Vec<Version>,
    policy: Option<Value>,
    errors: Vec<SyncError>,
}

impl Described {
    /// A secret as `ListSecrets` and `ListSecretVersionIds` describe it, with its resource
    /// policy, and no replicas or errors.
    pub fn new(
        entry: SecretListEntry,
        versions: Vec<SecretVersionsListEntry>,
        policy: Option<Value>,
    ) -> Described {
        Described {
            entry,
            replication: Value::Array(Vec::new()),
            versions: versions.into_iter().filter_map(Version::from_aws).collect(),
            policy,
            errors: Vec::new(),
        }
    }
}

struct Version {
    id: String,
    labels: Vec<String>,
    created_at: Option<DateTime<Utc>>,
    last_accessed_at: Option<DateTime<Utc>>,
    kms_key_ids: Vec<String>,
}

impl Version {
    fn from_aws(version: SecretVersionsListEntry) -> Option<Version> {
        Some(Version {
            id: version.version_id()?.to_string(),
            labels: version.version_stages().to_vec(),
            created_at: crate::aws::time(version.created_date()),
            last_accessed_at: crate::aws::time(version.last_accessed_date()),
            kms_key_ids: version.kms_key_ids().to_vec(),
        })
    }
}

/// Syncs each region (the SDK's own region when `regions` is empty) of each account the
/// settings cover, `settings.concurrency` accounts at once; a region or an account that
/// fails is recorded and does not stop the others.
pub async fn sync_regions(
    pool: &PgPool,
    config: &SdkConfig,
    settings: &AccountSettings,
    regions: &[String],
) -> Result<Vec<SyncSummary>, SyncRegionsError> {
    let regions = crate::aws::regions(config, regions)?;
    let accounts = accounts::discover(config, settings).await?;
    remember(pool, &accounts).await?;
    // The futures made first, so the stream's type names no closure: a closure borrowing
    // `accounts` would not be `Send` for every lifetime the spawned sync task asks of it.
    let runs: Vec<_> = accounts
        .iter()
        .map(|account| sync_account(pool, account, &regions).boxed())
        .collect();
    let mut runs = futures::stream::iter(runs).buffer_unordered(settings.concurrency.max(1));
    let mut summaries = Vec::new();
    while let Some(synced) = runs.next().await {
        summaries.extend(synced?);
    }
    Ok(summaries)
}

#[derive(Debug, thiserror::Error)]
pub enum SyncRegionsError {
    #[error(transparent)]
    NoRegion(#[from] crate::aws::NoRegion),
    #[error("the Organization's accounts could not be listed: {0}")]
    Discovery(#[from] accounts::DiscoveryError),
    #[error("the inventory store failed")]
    Store(#[from] sqlx::Error),
}

/// Records the accounts discovery found, with their names, so pages can name them.
async fn remember(pool: &PgPool, accounts: &[Account]) -> Result<(), sqlx::Error> {
    for account in accounts {
        let Some(id) = &account.id else { continue };
        sqlx::query!(
            "INSERT INTO accounts (id, name, role_arn) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = COALESCE($2, accounts.name), \
                 role_arn = $3, last_seen_at = now()",
            id,
            account.name,
            account.role.as_ref().map(|role| role.to_string())
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// One account's regions in turn. When its role cannot be assumed, each region's run is
/// recorded as failed with STS's answer, and nothing is asked of Secrets Manager.
async fn sync_account(
    pool: &PgPool,
    account: &Account,
    regions: &[String],
) -> Result<Vec<SyncSummary>, sqlx::Error> {
    let refused = account.check_role().await.err();
    let mut summaries = Vec::with_capacity(regions.len());
    let mut trails_seen = trails::TrailsSeen::new();
    for region in regions {
        let summary = match &refused {
            Some(refused) => {
                let run = start(pool, region, account.id.as_deref()).await?;
                let summary = SyncSummary {
                    account: account.id.clone(),
                    region: region.clone(),
                    errors: vec![SyncError {
                        secret: None,
                        operation: "AssumeRole",
                        code: refused.code.clone(),
                        message: format!("{} ({})", refused.message, refused.role),
                    }],
                    ..SyncSummary::default()
                };
                finish(pool, run, &summary, "failed").await?;
                summary
            }
            None => {
                let client = crate::aws::secrets_manager(&account.config, region);
                let summary = sync_region(pool, &client, region, account.id.as_deref()).await?;
                // The credentials' own account is known by its secrets' ARNs; without
                // secrets it has nothing for a trail to miss.
                if let Some(id) = &summary.account {
                    trails::check(pool, &account.config, id, region, &mut trails_seen).await?;
                }
                summary
            }
        };
        summaries.push(summary);
    }
    // IAM is global: who can read the account's secrets is read once, after all its regions.
    let synced_account = summaries.iter().find_map(|summary| summary.account.clone());
    if refused.is_none()
        && let Some(id) = synced_account
    {
        grants::check(pool, &account.config, &id).await?;
    }
    Ok(summaries)
}

/// Whether a sync that has not failed started within `span`, on this server or another.
pub async fn started_within(pool: &PgPool, span: Duration) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM sync_runs
                          WHERE started_at > now() - make_interval(secs => $1)
                            AND outcome <> 'failed') AS "recent!""#,
        span.as_secs_f64(),
    )
    .fetch_one(pool)
    .await
}

async fn start(pool: &PgPool, region: &str, account: Option<&str>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO sync_runs (region, account_id) VALUES ($1, $2) RETURNING id",
        region,
        account
    )
    .fetch_one(pool)
    .await
}

/// Syncs one region of `account` (`None`: the credentials' own): lists every secret
/// (including those scheduled for deletion), describes each with bounded concurrency, stores
/// the changes, marks the account's secrets that are no longer listed as gone, and assesses
/// them afresh.
pub async fn sync_region(
    pool: &PgPool,
    client: &Client,
    region: &str,
    account: Option<&str>,
) -> Result<SyncSummary, sqlx::Error> {
    let run = start(pool, region, account).await?;
    let mut summary = SyncSummary {
        account: account.map(str::to_string),
        region: region.to_string(),
        ..SyncSummary::default()
    };

    let entries = match listed(client, None).await {
        Ok(entries) => entries,
        Err(error) => {
            summary.errors.push(aws_error(None, "ListSecrets", &error));
            finish(pool, run, &summary, "failed").await?;
            return Ok(summary);
        }
    };
    if summary.account.is_none() {
        // The credentials' own account, as its secrets' ARNs name it.
        summary.account = entries
            .iter()
            .find_map(|entry| account_of(entry.arn()?))
            .map(str::to_string);
    }

    // Each secret is stored as soon as it is described, while the next ones are being
    // described: memory stays bounded by the concurrency, whatever the estate's size.
    let mut described = futures::stream::iter(entries)
        .map(|entry| describe(client, region, entry))
        .buffer_unordered(CONCURRENCY);
    let mut seen = HashSet::new();
    while let Some(secret) = described.next().await {
        summary.errors.extend(secret.errors.iter().cloned());
        let Some(arn) = secret.entry.arn().map(str::to_string) else {
            continue;
        };
        let (new, moves) = store(pool, region, &secret).await?;
        summary.new += usize::from(new);
        summary.label_moves += moves;
        seen.insert(arn);
    }
    summary.seen = seen.len();
    let seen: Vec<String> = seen.into_iter().collect();
    let gone = sqlx::query!(
        "UPDATE secrets SET gone_since = now() \
         WHERE region = $1 AND ($3::text IS NULL OR account_id = $3) \
             AND gone_since IS NULL AND NOT (arn = ANY($2))",
        region,
        &seen,
        account
    )
    .execute(pool)
    .await?;
    summary.gone = gone.rows_affected() as usize;
    if summary.new > 0 {
        // Events may have named these secrets before the inventory knew them.
        resolve_waiting(pool).await?;
    }
    let outcome = if summary.errors.is_empty() {
        "succeeded"
    } else {
        "partial"
    };
    finish(pool, run, &summary, outcome).await?;
    Ok(summary)
}

/// Reads one secret afresh, as a sync reads it, and stores what changed (label moves
/// included): after a change Trailkeeper made to it, so its page shows the new state at once.
/// What AWS refused is returned, as a sync records it.
pub async fn refresh(
    pool: &PgPool,
    client: &Client,
    region: &str,
    arn: &str,
    name: &str,
) -> Result<Vec<SyncError>, sqlx::Error> {
    let named = Filter::builder()
        .key(FilterNameStringType::Name)
        .values(name)
        .build();
    let entry = match listed(client, Some(named)).await {
        Ok(entries) => entries.into_iter().find(|entry| entry.arn() == Some(arn)),
        Err(error) => return Ok(vec![aws_error(Some(arn), "ListSecrets", &error)]),
    };
    let Some(entry) = entry else {
        return Ok(vec![SyncError {
            secret: Some(arn.to_string()),
            operation: "ListSecrets",
            code: None,
            message: "AWS no longer lists the secret".into(),
        }]);
    };
    let described = describe(client, region, entry).await;
    store(pool, region, &described).await?;
    let account = account_of(arn);
    reassess(
        pool,
        Some(region),
        account,
        Utc::now(),
        StatusThresholds::default(),
    )
    .await?;
    Ok(described.errors)
}

/// Every secret ListSecrets names, those scheduled for deletion included, narrowed by
/// `filter`.
async fn listed(
    client: &Client,
    filter: Option<Filter>,
) -> Result<Vec<SecretListEntry>, SdkError<ListSecretsError, HttpResponse>> {
    let pages: Vec<_> = client
        .list_secrets()
        .include_planned_deletion(true)
        .set_filters(filter.map(|filter| vec![filter]))
        .into_paginator()
        .send()
        .try_collect()
        .await?;
    Ok(pages
        .into_iter()
        .flat_map(|page| page.secret_list.unwrap_or_default())
        .collect())
}

/// Records how the run ended, then assesses the account's secrets in the region afresh
/// (statuses move with the clock even when AWS could not be asked).
async fn finish(
    pool: &PgPool,
    run: i64,
    summary: &SyncSummary,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sync_runs SET finished_at = now(), outcome = $2, secrets_seen = $3, \
         secrets_new = $4, secrets_gone = $5, label_moves = $6, errors = $7, \
         account_id = COALESCE(account_id, $8) WHERE id = $1",
        run,
        outcome,
        summary.seen as i32,
        summary.new as i32,
        summary.gone as i32,
        summary.label_moves as i32,
        json!(summary.errors),
        summary.account
    )
    .execute(pool)
    .await?;
    let now = Utc::now();
    reassess(
        pool,
        Some(&summary.region),
        summary.account.as_deref(),
        now,
        StatusThresholds::default(),
    )
    .await?;
    Ok(())
}

/// DescribeSecret, ListSecretVersionIds and (for all but replicas) GetResourcePolicy for one
/// secret. A failed call leaves what the list said in place and is recorded.
async fn describe(client: &Client, region: &str, entry: SecretListEntry) -> Described {
    let arn = entry.arn().unwrap_or_default().to_string();
    let mut errors = Vec::new();

    let replication = match client.describe_secret().secret_id(&arn).send().await {
        Ok(described) => Value::Array(
            described
                .replication_status()
                .iter()
                .map(|replica| {
                    json!({
                        "region": replica.region(),
                        "kms_key_id": replica.kms_key_id(),
                        "status": replica.status().map(|status| status.as_str()),
                        "status_message": replica.status_message(),
                    })
                })
                .collect(),
        ),
        Err(error) => {
            errors.push(aws_error(Some(&arn), "DescribeSecret", &error));
            Value::Array(Vec::new())
        }
    };

    let pages: Result<Vec<_>, _> = client
        .list_secret_version_ids()
        .secret_id(&arn)
        .include_deprecated(true)
        .into_paginator()
        .send()
        .try_collect()
        .await;
    let versions = match pages {
        Ok(pages) => pages
            .into_iter()
            .flat_map(|page| page.versions.unwrap_or_default())
            .filter_map(Version::from_aws)
            .collect(),
        Err(error) => {
            errors.push(aws_error(Some(&arn), "ListSecretVersionIds", &error));
            Vec::new()
        }
    };

    // A replica has no policy of its own; AWS answers for it only in the primary's region.
    let replica = entry
        .primary_region()
        .is_some_and(|primary| primary != region);
    let policy = if replica {
        None
    } else {
        match client.get_resource_policy().secret_id(&arn).send().await {
            Ok(answer) => match answer.resource_policy().map(serde_json::from_str) {
                Some(Ok(policy)) => Some(policy),
                Some(Err(error)) => {
                    errors.push(SyncError {
                        secret: Some(arn.clone()),
                        operation: "GetResourcePolicy",
                        code: None,
                        message: format!(
                            "the resource policy AWS returned is not JSON ({error}), so it \
                             could not be analysed or stored"
                        ),
                    });
                    None
                }
                None => None,
            },
            Err(error) => {
                errors.push(aws_error(Some(&arn), "GetResourcePolicy", &error));
                None
            }
        }
    };

    Described {
        entry,
        replication,
        versions,
        policy,
        errors,
    }
}

/// Stores one secret and its versions, and records each label move, in one transaction.
/// Returns whether the secret is new and how many labels moved.
pub async fn store(
    pool: &PgPool,
    region: &str,
    secret: &Described,
) -> Result<(bool, usize), sqlx::Error> {
    let entry = &secret.entry;
    let arn = entry.arn().unwrap_or_default();
    let account = account_of(arn).unwrap_or_default();
    let tags: serde_json::Map<String, Value> = entry
        .tags()
        .iter()
        .filter_map(|tag| {
            Some((
                tag.key()?.to_string(),
                Value::from(tag.value().unwrap_or_default()),
            ))
        })
        .collect();
    let rules = entry.rotation_rules();
    let mut tx = pool.begin().await?;
    // What a sync stores, the next sync can store again: a crash may lose the last few
    // commits (each whole, never half), and need not wait for the disk on every secret.
    sqlx::query!("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let new = sqlx::query_scalar!(
        "INSERT INTO secrets (arn, name, region, account_id, description, kms_key_id, tags, \
             owning_service, created_at, last_changed_at, last_accessed_at, last_rotated_at, \
             next_rotation_at, rotation_enabled, rotation_lambda_arn, rotation_after_days, \
             rotation_schedule, rotation_window, deletion_requested_at, primary_region, \
             replication, resource_policy) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19, $20, $21, $22) \
         ON CONFLICT (arn) DO UPDATE SET name = $2, description = $5, kms_key_id = $6, \
             tags = $7, owning_service = $8, last_changed_at = $10, last_accessed_at = $11, \
             last_rotated_at = $12, next_rotation_at = $13, rotation_enabled = $14, \
             rotation_lambda_arn = $15, rotation_after_days = $16, rotation_schedule = $17, \
             rotation_window = $18, deletion_requested_at = $19, primary_region = $20, \
             replication = CASE WHEN $23 THEN secrets.replication ELSE $21 END, \
             resource_policy = CASE WHEN $24 THEN secrets.resource_policy ELSE $22 END, \
             last_seen_at = now(), gone_since = NULL \
         RETURNING xmax = 0 AS \"new!\"",
        arn,
        entry.name().unwrap_or_default(),
        region,
        account,
        entry.description(),
        entry.kms_key_id(),
        Value::Object(tags),
        entry.owning_service(),
        crate::aws::time(entry.created_date()),
        crate::aws::time(entry.last_changed_date()),
        crate::aws::time(entry.last_accessed_date()),
        crate::aws::time(entry.last_rotated_date()),
        crate::aws::time(entry.next_rotation_date()),
        entry.rotation_enabled().unwrap_or(false),
        entry
            .rotation_lambda_arn()
            .filter(|lambda| !lambda.is_empty()),
        rules
            .and_then(|rules| rules.automatically_after_days())
            .map(|days| days as i32),
        rules.and_then(|rules| rules.schedule_expression()),
        rules.and_then(|rules| rules.duration()),
        crate::aws::time(entry.deleted_date()),
        entry.primary_region(),
        secret.replication,
        secret.policy,
        failed(secret, "DescribeSecret"),
        failed(secret, "GetResourcePolicy")
    )
    .fetch_one(&mut *tx)
    .await?;

    let mut moves = 0;
    // Versions could not be listed: keep the stored ones rather than mark them all gone.
    if !failed(secret, "ListSecretVersionIds") {
        let stored = sqlx::query!("SELECT version_id, labels FROM secret_versions WHERE secret_arn = $1 AND gone_since IS NULL", arn)
        .fetch_all(&mut *tx)
        .await?;
        let before: Labels = stored
            .into_iter()
            .map(|version| (version.version_id, version.labels))
            .collect();
        let after: Labels = secret
            .versions
            .iter()
            .map(|version| (version.id.clone(), version.labels.clone()))
            .collect();
        // All versions in one statement: a secret can have a hundred.
        let versions: Vec<Value> = secret
            .versions
            .iter()
            .map(|version| {
                json!({
                    "version_id": version.id,
                    "created_at": version.created_at,
                    "last_accessed_at": version.last_accessed_at,
                    "kms_key_ids": version.kms_key_ids,
                    "labels": version.labels,
                })
            })
            .collect();
        sqlx::query!(
            "INSERT INTO secret_versions (secret_arn, version_id, created_at, \
                 last_accessed_at, kms_key_ids, labels) \
             SELECT $1, v.version_id, v.created_at, v.last_accessed_at, v.kms_key_ids, v.labels \
             FROM jsonb_to_recordset($2) AS v (version_id text, created_at timestamptz, \
                 last_accessed_at timestamptz, kms_key_ids text[], labels text[]) \
             ON CONFLICT (secret_arn, version_id) DO UPDATE SET \
                 last_accessed_at = EXCLUDED.last_accessed_at, \
                 kms_key_ids = EXCLUDED.kms_key_ids, labels = EXCLUDED.labels, \
                 last_seen_at = now(), gone_since = NULL",
            arn,
            Value::Array(versions)
        )
        .execute(&mut *tx)
        .await?;
        let listed: Vec<String> = after.keys().cloned().collect();
        sqlx::query!(
            "UPDATE secret_versions SET gone_since = now(), labels = '{}' \
             WHERE secret_arn = $1 AND gone_since IS NULL AND NOT (version_id = ANY($2))",
            arn,
            &listed
        )
        .execute(&mut *tx)
        .await?;
        let changes = labels::moves(&before, &after);
        if !changes.is_empty() {
            let names: Vec<&str> = changes.iter().map(|change| change.label.as_str()).collect();
            let from: Vec<Option<&str>> = changes
                .iter()
                .map(|change| change.from.as_deref())
                .collect();
            let to: Vec<Option<&str>> = changes.iter().map(|change| change.to.as_deref()).collect();
            moves = names.len();
            sqlx::query!(
                "INSERT INTO label_history (secret_arn, label, from_version, to_version, source) \
                 SELECT $1, moved.label, moved.from_version, moved.to_version, 'sync' \
                 FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY \
                     AS moved (label, from_version, to_version, position) \
                 ORDER BY moved.position",
                arn,
                &names as &[&str],
                &from as &[Option<&str>],
                &to as &[Option<&str>]
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok((new, moves))
}

fn failed(secret: &Described, operation: &str) -> bool {
    secret
        .errors
        .iter()
        .any(|error| error.operation == operation)
}
