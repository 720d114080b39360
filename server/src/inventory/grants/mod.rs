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

use evaluate::{Key, Principal, Reach, Secret, can_read, every_secret, may_read_some};

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
    for reader in readers(&principals, &secrets) {
        rows.0.push(reader.secret.to_string());
        rows.1.push(reader.principal.to_string());
        rows.2.push(reader.reach);
        rows.3.push(Value::from(reader.granted_by));
        rows.4.push(Value::from(reader.reasons));
        rows.5.push(reader.every_secret);
    }
    let arns: Vec<&str> = secrets.iter().map(|secret| secret.arn.as_str()).collect();
    let mut tx = pool.begin().await?;
    // Two syncs of an account at once (a server's and `trailkeeper sync`) would each delete
    // what it can see and insert beside what the other inserted: one after the other, the
    // second deletes the first's rows.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('secret_readers'), hashtext($1))")
        .bind(account)
        .execute(&mut *tx)
        .await?;
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

/// One principal that can read one secret, as stored.
pub struct Reader<'a> {
    pub secret: &'a str,
    pub principal: &'a str,
    /// `yes`, or `possibly` when a condition of the request decides.
    pub reach: &'static str,
    pub granted_by: Vec<String>,
    pub reasons: Vec<String>,
    /// The statement that grants it every secret, if one does.
    pub every_secret: Option<String>,
}

/// Who can read each of `secrets`. A principal whose policies allow no action that takes in
/// `GetSecretValue` is evaluated only for secrets with a resource policy (which might let it
/// in): in an account of thousands of roles and secrets most pairs are never evaluated.
pub fn readers<'a>(principals: &'a [Principal], secrets: &'a [Secret]) -> Vec<Reader<'a>> {
    let candidates: Vec<(&Principal, Option<String>, bool)> = principals
        .iter()
        .map(|principal| (principal, every_secret(principal), may_read_some(principal)))
        .collect();
    let mut readers = Vec::new();
    for secret in secrets {
        let by_resource = secret.resource_policy.is_some();
        for (principal, everything, may_read) in &candidates {
            if !may_read && !by_resource {
                continue;
            }
            let verdict = can_read(principal, secret);
            let reach = match verdict.reach {
                Reach::No => continue,
                Reach::Possibly => "possibly",
                Reach::Yes => "yes",
            };
            readers.push(Reader {
                secret: &secret.arn,
                principal: &principal.arn,
                reach,
                granted_by: verdict.granted_by,
                reasons: verdict.reasons,
                every_secret: everything.clone(),
            });
        }
    }
    readers
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::evaluate::Policy;
    use super::*;

    const ACCOUNT: &str = "111122223333";

    fn role(name: &str, statement: Value) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            account: ACCOUNT.into(),
            identity_policies: vec![Policy {
                source: format!("inline policy of {name}"),
                document: json!({ "Statement": [statement] }),
            }],
            ..Principal::default()
        }
    }

    fn secret(name: &str, resource_policy: Option<Value>) -> Secret {
        Secret {
            arn: format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf"),
            account: ACCOUNT.into(),
            tags: BTreeMap::new(),
            resource_policy,
            key: Key::AwsManaged,
        }
    }

    #[test]
    fn only_statements_that_take_in_reading_make_a_principal_a_possible_reader() {
        let allow = |action: Value| json!({ "Effect": "Allow", "Action": action, "Resource": "*" });
        assert!(may_read_some(&role(
            "a",
            allow(json!("secretsmanager:Get*"))
        )));
        assert!(may_read_some(&role(
            "b",
            json!({ "Effect": "Allow", "NotAction": "s3:*", "Resource": "*" })
        )));
        assert!(!may_read_some(&role(
            "c",
            allow(json!(["secretsmanager:List*", "s3:*"]))
        )));
        assert!(!may_read_some(&role(
            "d",
            json!({ "Effect": "Deny", "Action": "*", "Resource": "*" })
        )));
    }

    #[test]
    fn a_resource_policy_lets_in_a_principal_its_own_policies_do_not() {
        let reader = role(
            "reader",
            json!({ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*" }),
        );
        let storage = role(
            "storage",
            json!({ "Effect": "Allow", "Action": "s3:*", "Resource": "*" }),
        );
        let shared = secret(
            "shared",
            Some(json!({ "Statement": [{ "Effect": "Allow",
                "Principal": { "AWS": storage.arn }, "Action": "secretsmanager:GetSecretValue" }] })),
        );
        let principals = [reader, storage];
        let secrets = [secret("plain", None), shared];
        let found: Vec<(&str, &str)> = readers(&principals, &secrets)
            .iter()
            .map(|reader| (reader.secret, reader.principal))
            .collect();
        assert_eq!(
            found,
            [
                (secrets[0].arn.as_str(), principals[0].arn.as_str()),
                (secrets[1].arn.as_str(), principals[0].arn.as_str()),
                (secrets[1].arn.as_str(), principals[1].arn.as_str()),
            ]
        );
    }
}
