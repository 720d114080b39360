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

/// The flags for one secret's policy text; `own_account` is the account that owns the secret.
pub fn analyse(policy: &str, own_account: &str) -> Result<Vec<PolicyFlag>, PolicyError> {
    let document: Value =
        serde_json::from_str(policy).map_err(|error| PolicyError(error.to_string()))?;
    Ok(analyse_document(&document, own_account))
}

/// The flags for a policy already parsed (as the store keeps it).
pub fn analyse_document(document: &Value, own_account: &str) -> Vec<PolicyFlag> {
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
    flags
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

/// `secretsmanager:DescribeSecret`, or the first three and how many more.
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
