//! Who can read each secret, as the account's policies grant it: read from IAM and KMS at
//! each sync (`fetch`), evaluated for every user and role of the account against every
//! secret it holds (`evaluate`), and stored (`secret_readers`) for the secret and principal
//! pages.

pub mod evaluate;
pub mod fetch;
pub mod read;

use std::collections::HashMap;

use aws_config::SdkConfig;
use chrono::Utc;
use serde_json::Value;
use sqlx::PgPool;

use evaluate::{Key, Reach, Secret, can_read, every_secret};

/// The key Secrets Manager uses when a secret names none.
const DEFAULT_KEY: &str = "alias/aws/secretsmanager";

#[derive(sqlx::FromRow)]
struct Stored {
    arn: String,
    region: String,
    tags: Value,
    resource_policy: Option<Value>,
    kms_key_id: Option<String>,
}

/// Reads `account`'s principals and its secrets' key policies, and stores who can read each
/// of its secrets. When IAM refuses, the refusal is recorded and the readers stored before
/// are kept.
pub async fn check(pool: &PgPool, config: &SdkConfig, account: &str) -> Result<(), sqlx::Error> {
    let principals = match fetch::principals(config).await {
        Ok(principals) => principals,
        Err(refused) => {
            tracing::warn!(%account, %refused, "who can read the secrets could not be read");
            return record_check(pool, account, 0, Some(refused.to_string())).await;
        }
    };
    let stored: Vec<Stored> = sqlx::query_as(
        "SELECT arn, region, tags, resource_policy, kms_key_id FROM secrets \
         WHERE account_id = $1 AND gone_since IS NULL",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;

    let mut key_policies: HashMap<(String, String), Option<Value>> = HashMap::new();
    let mut secrets = Vec::with_capacity(stored.len());
    for secret in stored {
        let key = match secret.kms_key_id.as_deref() {
            None | Some(DEFAULT_KEY) => Key::AwsManaged,
            Some(key) => {
                let cache = (secret.region.clone(), key.to_string());
                if !key_policies.contains_key(&cache) {
                    let policy = match fetch::key_policy(config, &secret.region, key).await {
                        Ok(policy) => Some(policy),
                        Err(refused) => {
                            tracing::warn!(%account, key, %refused, "a key policy could not be read");
                            None
                        }
                    };
                    key_policies.insert(cache.clone(), policy);
                }
                Key::Customer {
                    arn: key.to_string(),
                    policy: key_policies[&cache].clone(),
                }
            }
        };
        secrets.push(Secret {
            account: account.to_string(),
            tags: super::read::tags(secret.tags),
            resource_policy: secret.resource_policy,
            key,
            arn: secret.arn,
        });
    }

    let mut rows = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let everything: Vec<Option<String>> = principals.iter().map(every_secret).collect();
    for secret in &secrets {
        for (principal, everything) in principals.iter().zip(&everything) {
            let verdict = can_read(principal, secret);
            let reach = match verdict.reach {
                Reach::No => continue,
                Reach::Possibly => "possibly",
                Reach::Yes => "yes",
            };
            rows.0.push(secret.arn.clone());
            rows.1.push(principal.arn.clone());
            rows.2.push(reach);
            rows.3.push(Value::from(verdict.granted_by));
            rows.4.push(Value::from(verdict.reasons));
            rows.5.push(everything.clone());
        }
    }
    let arns: Vec<&str> = secrets.iter().map(|secret| secret.arn.as_str()).collect();
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM secret_readers WHERE secret_arn = ANY($1)")
        .bind(&arns)
        .execute(&mut *tx)
        .await?;
    // Text arrays of differing lengths do not unnest into rows: they go as JSON.
    sqlx::query(
        "INSERT INTO secret_readers (secret_arn, principal, reach, granted_by, reasons, \
             every_secret) \
         SELECT arn, principal, reach, \
             ARRAY(SELECT jsonb_array_elements_text(granted_by)), \
             ARRAY(SELECT jsonb_array_elements_text(reasons)), every_secret \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::text[]) \
             AS r (arn, principal, reach, granted_by, reasons, every_secret)",
    )
    .bind(&rows.0)
    .bind(&rows.1)
    .bind(&rows.2)
    .bind(&rows.3)
    .bind(&rows.4)
    .bind(&rows.5)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    record_check(pool, account, principals.len(), None).await
}

async fn record_check(
    pool: &PgPool,
    account: &str,
    principals: usize,
    error: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grant_checks (account_id, checked_at, principals, error) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id) DO UPDATE SET checked_at = EXCLUDED.checked_at, \
             principals = EXCLUDED.principals, error = EXCLUDED.error",
    )
    .bind(account)
    .bind(Utc::now())
    .bind(i32::try_from(principals).unwrap_or(i32::MAX))
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}
