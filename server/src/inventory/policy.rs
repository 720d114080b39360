//! Resource policy analysis: which statements let anyone (`"Principal": "*"`) or principals
//! of other accounts use a secret, without a condition that narrows who. Each flag names the
//! statement and says why, so an administrator can find and fix it.

use serde_json::Value;
use trailkeeper_app::api::secrets::{PolicyExposure, PolicyFlag};

/// Condition keys that pin a statement to an organisation, an account, a network or a named
/// principal; a statement using any of them is not open to the world.
const NARROWING_KEYS: [&str; 11] = [
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:userid",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the resource policy is not valid JSON: {0}")]
pub struct PolicyError(String);

/// The flags for one secret's policy; `own_account` is the account that owns the secret.
pub fn analyse(policy: &str, own_account: &str) -> Result<Vec<PolicyFlag>, PolicyError> {
    let document: Value =
        serde_json::from_str(policy).map_err(|error| PolicyError(error.to_string()))?;
    let statements = match &document["Statement"] {
        Value::Array(statements) => statements.iter().collect(),
        Value::Object(_) => vec![&document["Statement"]],
        _ => Vec::new(),
    };
    let mut flags = Vec::new();
    for (index, statement) in statements.into_iter().enumerate() {
        if statement["Effect"].as_str() != Some("Allow") || narrowed(&statement["Condition"]) {
            continue;
        }
        let name = statement["Sid"]
            .as_str()
            .filter(|sid| !sid.is_empty())
            .map(|sid| format!("{sid:?}"))
            .unwrap_or_else(|| format!("#{}", index + 1));
        let actions = describe_actions(&statement["Action"]);
        let exposure = if statement.get("NotPrincipal").is_some() {
            // Allow with NotPrincipal allows everyone but the few it names.
            Some(PolicyExposure::Public)
        } else {
            exposure(&statement["Principal"], own_account)
        };
        let reason = match &exposure {
            Some(PolicyExposure::Public) => format!(
                "statement {name} allows anyone (\"Principal\": \"*\") to {actions}, with no condition that narrows who"
            ),
            Some(PolicyExposure::CrossAccount { accounts }) => format!(
                "statement {name} allows account {} to {actions}, with no condition that narrows who",
                accounts.join(", ")
            ),
            None => continue,
        };
        flags.push(PolicyFlag {
            statement: name,
            exposure: exposure.expect("matched above"),
            reason,
        });
    }
    Ok(flags)
}

fn narrowed(condition: &Value) -> bool {
    let Some(operators) = condition.as_object() else {
        return false;
    };
    operators
        .values()
        .filter_map(Value::as_object)
        .flat_map(|keys| keys.keys())
        .any(|key| NARROWING_KEYS.contains(&key.to_ascii_lowercase().as_str()))
}

/// Who a `Principal` lets in beyond the owning account.
fn exposure(principal: &Value, own_account: &str) -> Option<PolicyExposure> {
    let aws = match principal {
        Value::String(any) if any == "*" => return Some(PolicyExposure::Public),
        Value::Object(kinds) => kinds.get("AWS")?,
        _ => return None,
    };
    let named: Vec<&str> = match aws {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if named.contains(&"*") {
        return Some(PolicyExposure::Public);
    }
    let mut accounts: Vec<String> = named
        .into_iter()
        .filter_map(account_of)
        .filter(|account| account != own_account)
        .collect();
    accounts.sort();
    accounts.dedup();
    (!accounts.is_empty()).then_some(PolicyExposure::CrossAccount { accounts })
}

/// `444455556666` from `444455556666` or `arn:aws:iam::444455556666:role/reader`.
fn account_of(principal: &str) -> Option<String> {
    let account = if principal.starts_with("arn:") {
        principal.split(':').nth(4)?
    } else {
        principal
    };
    (account.len() == 12 && account.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| account.to_string())
}

/// `secretsmanager:GetSecretValue`, or the first three and how many more.
fn describe_actions(action: &Value) -> String {
    let actions: Vec<&str> = match action {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match actions.len() {
        0 => "act on this secret".into(),
        1..=3 => actions.join(", "),
        more => format!("{} and {} more actions", actions[..3].join(", "), more - 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "111122223333";

    #[test]
    fn a_public_statement_is_named_and_explained() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"AppRole","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},
            {"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
        let flags = analyse(policy, OWN).unwrap();
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].statement, "\"Everyone\"");
        assert_eq!(flags[0].exposure, PolicyExposure::Public);
        assert_eq!(
            flags[0].reason,
            "statement \"Everyone\" allows anyone (\"Principal\": \"*\") to secretsmanager:GetSecretValue, with no condition that narrows who"
        );
    }

    #[test]
    fn other_accounts_are_flagged_unless_a_condition_narrows_them() {
        let policy = r#"{"Statement":{"Effect":"Allow",
            "Principal":{"AWS":["arn:aws:iam::444455556666:role/reader","555566667777","arn:aws:iam::111122223333:root"]},
            "Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret","secretsmanager:ListSecretVersionIds","secretsmanager:GetResourcePolicy"]}}"#;
        let flags = analyse(policy, OWN).unwrap();
        assert_eq!(
            flags[0].exposure,
            PolicyExposure::CrossAccount {
                accounts: vec!["444455556666".into(), "555566667777".into()]
            }
        );
        assert_eq!(
            flags[0].reason,
            "statement #1 allows account 444455556666, 555566667777 to secretsmanager:GetSecretValue, secretsmanager:DescribeSecret, secretsmanager:ListSecretVersionIds and 1 more actions, with no condition that narrows who"
        );

        let narrowed = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue",
            "Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}]}"#;
        assert_eq!(analyse(narrowed, OWN).unwrap(), []);
    }

    #[test]
    fn denies_services_and_the_own_account_are_not_flagged() {
        let policy = r#"{"Statement":[
            {"Effect":"Deny","Principal":"*","Action":"*"},
            {"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"secretsmanager:GetSecretValue"},
            {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"secretsmanager:*"}]}"#;
        assert_eq!(analyse(policy, OWN).unwrap(), []);
        assert!(analyse("{not json", OWN).is_err());
    }
}
