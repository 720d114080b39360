//! What the evaluator needs from AWS: the account's users and roles with every policy that
//! applies to them (`iam:GetAccountAuthorizationDetails`: inline and attached policies,
//! groups' policies, permissions boundaries, tags), and a KMS key's policy
//! (`kms:GetKeyPolicy`).

use std::collections::{BTreeMap, HashMap};

use aws_config::SdkConfig;
use aws_sdk_iam::types::{AttachedPolicy, EntityType, PolicyDetail, Tag};
use serde_json::Value;

use super::evaluate::{Policy, Principal};

/// AWS refused or failed a call, in its words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{operation} failed: {message}")]
pub struct Refused {
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

/// Every user and role of the account `config` reaches, with its policies. A policy
/// document that does not read is kept as `null` (it grants nothing) and logged.
pub async fn principals(config: &SdkConfig) -> Result<Vec<Principal>, Refused> {
    let client = aws_sdk_iam::Client::new(config);
    let mut pages = client
        .get_account_authorization_details()
        .filter(EntityType::User)
        .filter(EntityType::Role)
        .filter(EntityType::Group)
        .filter(EntityType::LocalManagedPolicy)
        .filter(EntityType::AwsManagedPolicy)
        .into_paginator()
        .send();
    let mut managed: HashMap<String, Value> = HashMap::new();
    let mut group_details = Vec::new();
    let mut users = Vec::new();
    let mut roles = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            let (code, message) = crate::aws::said(&error);
            Refused {
                operation: "GetAccountAuthorizationDetails",
                code,
                message,
            }
        })?;
        for policy in page.policies() {
            let default = policy
                .policy_version_list()
                .iter()
                .find(|version| version.is_default_version());
            if let (Some(arn), Some(document)) =
                (policy.arn(), default.and_then(|version| version.document()))
            {
                managed.insert(arn.to_string(), document_of(document, arn));
            }
        }
        group_details.extend(page.group_detail_list().iter().cloned());
        users.extend(page.user_detail_list().iter().cloned());
        roles.extend(page.role_detail_list().iter().cloned());
    }
    // Managed policies may come on any page: each one is looked up once all are read.
    let policies_of = |of: &str, inline_policies: &[PolicyDetail], attached: &[AttachedPolicy]| {
        let mut policies = inline(inline_policies, of);
        policies.extend(attached.iter().filter_map(|policy| {
            let arn = policy.policy_arn()?;
            Some(Policy {
                source: format!("managed policy {arn} (attached to {of})"),
                document: managed.get(arn).cloned().unwrap_or(Value::Null),
            })
        }));
        policies
    };
    let boundary = |arn: Option<&str>| {
        arn.map(|arn| Policy {
            source: format!("permissions boundary {arn}"),
            document: managed.get(arn).cloned().unwrap_or(Value::Null),
        })
    };
    let groups: HashMap<&str, Vec<Policy>> = group_details
        .iter()
        .filter_map(|group| {
            let name = group.group_name()?;
            let of = format!("group {name}");
            Some((
                name,
                policies_of(
                    &of,
                    group.group_policy_list(),
                    group.attached_managed_policies(),
                ),
            ))
        })
        .collect();
    let mut principals = Vec::with_capacity(users.len() + roles.len());
    for user in &users {
        let (Some(arn), Some(name)) = (user.arn(), user.user_name()) else {
            continue;
        };
        let mut policies = policies_of(
            &format!("user {name}"),
            user.user_policy_list(),
            user.attached_managed_policies(),
        );
        for group in user.group_list() {
            policies.extend(groups.get(group.as_str()).cloned().unwrap_or_default());
        }
        principals.push(Principal {
            arn: arn.to_string(),
            account: account_of(arn),
            tags: tags(user.tags()),
            identity_policies: policies,
            boundary: boundary(
                user.permissions_boundary()
                    .and_then(|boundary| boundary.permissions_boundary_arn()),
            ),
        });
    }
    for role in &roles {
        let (Some(arn), Some(name)) = (role.arn(), role.role_name()) else {
            continue;
        };
        principals.push(Principal {
            arn: arn.to_string(),
            account: account_of(arn),
            tags: tags(role.tags()),
            identity_policies: policies_of(
                &format!("role {name}"),
                role.role_policy_list(),
                role.attached_managed_policies(),
            ),
            boundary: boundary(
                role.permissions_boundary()
                    .and_then(|boundary| boundary.permissions_boundary_arn()),
            ),
        });
    }
    Ok(principals)
}

fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|tag| (tag.key().to_string(), tag.value().to_string()))
        .collect()
}

/// The policy of the KMS key `key` (an ID, ARN or alias) in `region`.
pub async fn key_policy(config: &SdkConfig, region: &str, key: &str) -> Result<Value, Refused> {
    let config = aws_sdk_kms::config::Builder::from(config)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let client = aws_sdk_kms::Client::from_conf(config);
    let refused = |code, message| Refused {
        operation: "GetKeyPolicy",
        code,
        message,
    };
    let answer = client
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await
        .map_err(|error| {
            let (code, message) = crate::aws::said(&error);
            refused(code, message)
        })?;
    let text = answer.policy().unwrap_or_default();
    serde_json::from_str(text).map_err(|error| {
        refused(
            None,
            format!("the policy of key {key} is not valid JSON: {error}"),
        )
    })
}

/// Inline policies, named for where they are.
fn inline(policies: &[PolicyDetail], of: &str) -> Vec<Policy> {
    policies
        .iter()
        .map(|policy| {
            let name = policy.policy_name().unwrap_or_default();
            let source = format!("inline policy {name} of {of}");
            Policy {
                document: policy
                    .policy_document()
                    .map_or(Value::Null, |document| document_of(document, &source)),
                source,
            }
        })
        .collect()
}

/// IAM gives documents URL-encoded.
fn document_of(encoded: &str, source: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|error| {
        tracing::warn!(%source, %error, "an IAM policy document does not read; it grants nothing here");
        Value::Null
    })
}

/// `111122223333` from `arn:aws:iam::111122223333:role/app`.
fn account_of(arn: &str) -> String {
    arn.split(':').nth(4).unwrap_or_default().to_string()
}
