//! Can this principal read this secret's value? IAM's evaluation of `GetSecretValue` over
//! what the account's policies say: an explicit `Deny` anywhere wins; within the account an
//! `Allow` in the principal's identity policies (inside its permissions boundary) or in the
//! secret's resource policy naming it grants; across accounts both must; and the secret's KMS
//! key must let it decrypt (its key policy, directly or through the account's IAM policies).
//!
//! A condition Trailkeeper can judge from what it knows (the principal's tags, its ARN and
//! account, the secret's tags) is judged; one that depends on the request (a VPC endpoint,
//! an address, the caller's organisation, the service in between) makes the answer
//! "possibly". Service control and resource control policies and session policies are not
//! seen here: an answer can only be narrower in AWS.

use std::collections::BTreeMap;

use serde_json::Value;
use wildmatch::WildMatch;

/// The action evaluated, and the one the secret's key must allow.
pub const READ: &str = "secretsmanager:GetSecretValue";
pub const DECRYPT: &str = "kms:Decrypt";

/// A policy document and where it applies from, as people name it ("inline policy ReadDb
/// of group payments", "arn:aws:iam::aws:policy/SecretsManagerReadWrite").
#[derive(Clone, Debug)]
pub struct Policy {
    pub source: String,
    pub document: Value,
}

/// An IAM user or role with everything that applies to it.
#[derive(Clone, Debug, Default)]
pub struct Principal {
    pub arn: String,
    pub account: String,
    pub tags: BTreeMap<String, String>,
    /// Its inline and attached policies, and for a user its groups'.
    pub identity_policies: Vec<Policy>,
    pub boundary: Option<Policy>,
}

#[derive(Clone, Debug)]
pub struct Secret {
    pub arn: String,
    pub account: String,
    pub tags: BTreeMap<String, String>,
    pub resource_policy: Option<Value>,
    pub key: Key,
}

/// The secret's KMS key.
#[derive(Clone, Debug)]
pub enum Key {
    /// `aws/secretsmanager`: its policy lets every principal of the account decrypt through
    /// Secrets Manager, and nobody outside it.
    AwsManaged,
    /// A customer managed key; `policy` is `None` when its policy could not be read.
    Customer { arn: String, policy: Option<Value> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    No,
    /// A condition that depends on the request decides.
    Possibly,
    Yes,
}

/// The answer, with the statements that grant it, or why not (or why only possibly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub reach: Reach,
    pub granted_by: Vec<String>,
    pub reasons: Vec<String>,
}

/// Whether `principal` can read `secret`'s value.
pub fn can_read(principal: &Principal, secret: &Secret) -> Verdict {
    let mut reasons = Vec::new();
    let request = Request {
        principal,
        action: READ,
        resource: &secret.arn,
        resource_tags: &secret.tags,
    };
    let identity = statements(&principal.identity_policies);
    let resource: Vec<Named> = secret
        .resource_policy
        .iter()
        .flat_map(|document| named(document, "the secret's resource policy", true))
        .collect();
    let boundary: Option<Vec<Named>> = principal
        .boundary
        .as_ref()
        .map(|policy| named(&policy.document, &policy.source, false));

    let denied = applying(
        identity
            .iter()
            .chain(&resource)
            .chain(boundary.iter().flatten()),
        Effect::Deny,
        &request,
    );
    if let Some((statement, Truth::True)) = denied {
        return refused(format!("explicitly denied by {}", statement.name));
    }
    if let Some((statement, Truth::Unknown)) = denied {
        reasons.push(format!("{} denies it under conditions", statement.name));
    }

    let identity_grant = allowed(&identity, &request);
    let identity_grant = match (&boundary, identity_grant) {
        (Some(boundary), Some(grant)) => match allowed(boundary, &request) {
            Some(limit) => Some(Grant {
                truth: grant.truth.and(limit.truth),
                ..grant
            }),
            None => {
                reasons.push(format!(
                    "its permissions boundary ({}) does not allow it",
                    principal
                        .boundary
                        .as_ref()
                        .map_or("", |policy| &policy.source)
                ));
                None
            }
        },
        (_, grant) => grant,
    };
    let resource_grant = allowed(&resource, &request);
    let resource_to_account = allowed_to_account(&resource, &request);
    let same_account = principal.account == secret.account;
    let grant = if same_account {
        [identity_grant, resource_grant]
            .into_iter()
            .flatten()
            .max_by_key(|grant| grant.truth)
    } else {
        let from_resource = [resource_grant, resource_to_account]
            .into_iter()
            .flatten()
            .max_by_key(|grant| grant.truth);
        match (identity_grant, from_resource) {
            (Some(identity), Some(resource)) => Some(Grant {
                truth: identity.truth.and(resource.truth),
                by: [identity.by, resource.by].concat(),
            }),
            (None, _) => {
                reasons.push("no identity policy of it allows it".into());
                None
            }
            (_, None) => {
                reasons.push(format!(
                    "it is in account {}, and the secret's resource policy does not let it in",
                    principal.account
                ));
                None
            }
        }
    };
    let Some(grant) = grant else {
        if same_account && reasons.is_empty() {
            reasons.push(format!("no policy allows it {READ} on the secret"));
        }
        return Verdict {
            reach: Reach::No,
            granted_by: Vec::new(),
            reasons,
        };
    };

    let (key_truth, key_by) = match decrypts(principal, secret, &identity, &mut reasons) {
        Some(found) => found,
        None => {
            return Verdict {
                reach: Reach::No,
                granted_by: grant.by,
                reasons,
            };
        }
    };
    let truth = grant.truth.and(key_truth);
    if truth == Truth::Unknown && reasons.is_empty() {
        reasons.push("a condition that depends on the request decides".into());
    }
    let deny_may_apply = matches!(denied, Some((_, Truth::Unknown)));
    Verdict {
        reach: if truth == Truth::True && !deny_may_apply {
            Reach::Yes
        } else {
            Reach::Possibly
        },
        granted_by: [grant.by, key_by].concat(),
        reasons,
    }
}

/// The identity statement, if any, that lets `principal` do anything in Secrets Manager to
/// every resource without a condition (`secretsmanager:*` or `*` on `*`): a grant of every
/// secret there is or will be.
pub fn every_secret(principal: &Principal) -> Option<String> {
    statements(&principal.identity_policies)
        .into_iter()
        .find(|named| {
            let statement = named.statement;
            named.effect == Effect::Allow
                && statement.get("Condition").is_none()
                && names(&statement["Action"])
                    .iter()
                    .any(|action| *action == "*" || action.eq_ignore_ascii_case("secretsmanager:*"))
                && names(&statement["Resource"]).contains(&"*")
        })
        .map(|named| named.name)
}

/// Whether any identity policy of `principal` allows an action that takes in
/// `GetSecretValue`, on whatever resource and condition. Without one, only a secret's
/// resource policy could let it read: secrets without one need not be evaluated for it.
pub fn may_read_some(principal: &Principal) -> bool {
    statements(&principal.identity_policies)
        .iter()
        .any(|named| named.effect == Effect::Allow && takes_action(named.statement, READ))
}

/// Whether `statement`'s `Action` (or `NotAction`) takes in `action`.
fn takes_action(statement: &Value, action: &str) -> bool {
    if statement.get("NotAction").is_some() {
        !matches_any(&statement["NotAction"], action, false)
    } else {
        matches_any(&statement["Action"], action, false)
    }
}

fn refused(reason: String) -> Verdict {
    Verdict {
        reach: Reach::No,
        granted_by: Vec::new(),
        reasons: vec![reason],
    }
}

/// Whether the secret's key lets the principal decrypt: how surely, and by which
/// statements; `None` (with the reason) when it does not.
fn decrypts(
    principal: &Principal,
    secret: &Secret,
    identity: &[Named],
    reasons: &mut Vec<String>,
) -> Option<(Truth, Vec<String>)> {
    let (arn, policy) = match &secret.key {
        Key::AwsManaged if principal.account == secret.account => {
            return Some((Truth::True, Vec::new()));
        }
        Key::AwsManaged => {
            reasons.push(
                "the secret is encrypted with aws/secretsmanager, which no other account can use"
                    .into(),
            );
            return None;
        }
        Key::Customer { arn, policy } => (arn, policy),
    };
    let Some(policy) = policy else {
        reasons.push(format!("the policy of key {arn} could not be read"));
        return Some((Truth::Unknown, Vec::new()));
    };
    let no_tags = BTreeMap::new();
    let request = Request {
        principal,
        action: DECRYPT,
        resource: arn,
        resource_tags: &no_tags,
    };
    let key_policy = named(policy, &format!("the policy of key {arn}"), true);
    let denied = applying(key_policy.iter().chain(identity), Effect::Deny, &request);
    let mut doubt = Truth::True;
    match denied {
        Some((statement, Truth::True)) => {
            reasons.push(format!("{DECRYPT} is denied by {}", statement.name));
            return None;
        }
        Some((statement, _)) => {
            reasons.push(format!(
                "{} denies {DECRYPT} under conditions",
                statement.name
            ));
            doubt = Truth::Unknown;
        }
        None => {}
    }
    let direct = allowed(&key_policy, &request);
    // A key policy that lets the account in leaves it to the account's IAM policies.
    let delegated = allowed_to_account(&key_policy, &request).and_then(|account| {
        allowed(identity, &request).map(|grant| Grant {
            truth: account.truth.and(grant.truth),
            by: [account.by, grant.by].concat(),
        })
    });
    match [direct, delegated]
        .into_iter()
        .flatten()
        .max_by_key(|grant| grant.truth)
    {
        Some(grant) => Some((grant.truth.and(doubt), grant.by)),
        None => {
            reasons.push(format!(
                "the policy of key {arn} does not let it {DECRYPT} (directly or through its IAM policies)"
            ));
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Truth {
    False,
    Unknown,
    True,
}

impl Truth {
    fn and(self, other: Truth) -> Truth {
        self.min(other)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// One statement, named by its policy and its `Sid` (or its place).
struct Named<'a> {
    name: String,
    effect: Effect,
    statement: &'a Value,
    /// Of a resource or key policy: it applies only to the principals it names.
    names_principals: bool,
}

/// A statement that allows, and the names of those it took.
struct Grant {
    truth: Truth,
    by: Vec<String>,
}

struct Request<'a> {
    principal: &'a Principal,
    action: &'a str,
    resource: &'a str,
    resource_tags: &'a BTreeMap<String, String>,
}

fn statements(policies: &[Policy]) -> Vec<Named<'_>> {
    policies
        .iter()
        .flat_map(|policy| named(&policy.document, &policy.source, false))
        .collect()
}

fn named<'a>(document: &'a Value, source: &str, names_principals: bool) -> Vec<Named<'a>> {
    let statements: Vec<&Value> = match &document["Statement"] {
        Value::Array(many) => many.iter().collect(),
        one @ Value::Object(_) => vec![one],
        _ => Vec::new(),
    };
    statements
        .into_iter()
        .enumerate()
        .filter_map(|(index, statement)| {
            let effect = match statement["Effect"].as_str() {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return None,
            };
            let sid = statement["Sid"]
                .as_str()
                .filter(|sid| !sid.is_empty())
                .map(|sid| format!("{sid:?}"))
                .unwrap_or_else(|| format!("#{}", index + 1));
            Some(Named {
                name: format!("statement {sid} of {source}"),
                effect,
                statement,
                names_principals,
            })
        })
        .collect()
}

/// The most certain statement that applies, if any applies at all.
fn strongest<'a, 'b>(
    candidates: impl Iterator<Item = (&'b Named<'a>, Truth)>,
) -> Option<(&'b Named<'a>, Truth)> {
    candidates
        .filter(|(_, truth)| *truth != Truth::False)
        .max_by_key(|(_, truth)| *truth)
}

/// The most certain statement of `effect` among `statements` that applies to `request`.
fn applying<'a, 'b>(
    statements: impl IntoIterator<Item = &'b Named<'a>>,
    effect: Effect,
    request: &Request,
) -> Option<(&'b Named<'a>, Truth)>
where
    'a: 'b,
{
    strongest(
        statements
            .into_iter()
            .filter(|statement| statement.effect == effect)
            .map(|statement| {
                let truth = request.applies(statement, statement.names_principals);
                (statement, truth)
            }),
    )
}

/// The most certain `Allow` among `statements` for `request`.
fn allowed(statements: &[Named], request: &Request) -> Option<Grant> {
    let (statement, truth) = applying(statements, Effect::Allow, request)?;
    Some(Grant {
        truth,
        by: vec![statement.name.clone()],
    })
}

/// A resource or key policy's `Allow` to the principal's whole account (its root, or the
/// account ID), which leaves the rest to the account's IAM policies.
fn allowed_to_account(statements: &[Named], request: &Request) -> Option<Grant> {
    let account = &request.principal.account;
    let (statement, truth) = strongest(
        statements
            .iter()
            .filter(|statement| statement.effect == Effect::Allow)
            .filter(|statement| {
                names(&statement.statement["Principal"]["AWS"])
                    .iter()
                    .any(|name| is_account(name, account))
            })
            .map(|statement| (statement, request.applies(statement, false))),
    )?;
    Some(Grant {
        truth,
        by: vec![statement.name.clone()],
    })
}

impl Request<'_> {
    /// Whether `named` applies to this request. `by_principal`: its `Principal` (or
    /// `NotPrincipal`) must take the principal itself; otherwise it is not looked at.
    fn applies(&self, named: &Named, by_principal: bool) -> Truth {
        let statement = named.statement;
        let action = takes_action(statement, self.action);
        let resource = match (statement.get("Resource"), statement.get("NotResource")) {
            (_, Some(not)) => !matches_any(not, self.resource, true),
            (Some(resource), None) => matches_any(resource, self.resource, true),
            // A resource or key policy may leave it out: its own resource.
            (None, None) => true,
        };
        let principal = !by_principal || self.names_principal(statement);
        if !(action && resource && principal) {
            return Truth::False;
        }
        self.condition(&statement["Condition"])
    }

    fn names_principal(&self, statement: &Value) -> bool {
        let arn = &self.principal.arn;
        let takes = |value: &Value| {
            value.as_str() == Some("*")
                || names(&value["AWS"])
                    .iter()
                    .any(|name| *name == "*" || name == arn)
        };
        match (statement.get("Principal"), statement.get("NotPrincipal")) {
            (_, Some(not)) => !takes(not),
            (Some(principal), None) => takes(principal),
            (None, None) => false,
        }
    }

    /// Every operator and key must hold; a key Trailkeeper cannot know makes it unknown.
    fn condition(&self, condition: &Value) -> Truth {
        let operators = match condition {
            Value::Null => return Truth::True,
            Value::Object(operators) => operators,
            _ => return Truth::Unknown,
        };
        let mut truth = Truth::True;
        for (operator, keys) in operators {
            let Some(keys) = keys.as_object() else {
                return Truth::Unknown;
            };
            for (key, expected) in keys {
                truth = truth.and(self.test(operator, key, expected));
            }
        }
        truth
    }

    fn test(&self, operator: &str, key: &str, expected: &Value) -> Truth {
        let if_exists = operator.ends_with("IfExists");
        let operator = operator
            .trim_start_matches("ForAnyValue:")
            .trim_start_matches("ForAllValues:")
            .trim_end_matches("IfExists");
        let Some(known) = self.known(key) else {
            return Truth::Unknown;
        };
        if operator == "Null" {
            let wants_absent = names(expected).contains(&"true");
            return truth(known.is_none() == wants_absent);
        }
        let Some(value) = known else {
            // An absent key fails every operator but the negated ones, and those `IfExists`.
            return truth(if_exists || operator.starts_with("StringNot"));
        };
        let Some(expected) = names(expected)
            .into_iter()
            .map(|pattern| self.substitute(pattern))
            .collect::<Option<Vec<String>>>()
        else {
            return Truth::Unknown;
        };
        let (negated, like, case_blind) = match operator {
            "StringEquals" | "ArnEquals" => (false, false, false),
            "StringLike" | "ArnLike" => (false, true, false),
            "StringEqualsIgnoreCase" => (false, false, true),
            "StringNotEquals" | "ArnNotEquals" => (true, false, false),
            "StringNotLike" | "ArnNotLike" => (true, true, false),
            "StringNotEqualsIgnoreCase" => (true, false, true),
            _ => return Truth::Unknown,
        };
        let hit = expected.iter().any(|pattern| {
            if like {
                glob(pattern, value, false)
            } else if case_blind {
                pattern.eq_ignore_ascii_case(value)
            } else {
                pattern == value
            }
        });
        truth(hit != negated)
    }

    /// A condition value with its policy variables (`${aws:PrincipalTag/team}`) replaced by
    /// what Trailkeeper knows of them; `None` when one depends on the request or is absent.
    fn substitute(&self, pattern: &str) -> Option<String> {
        let mut resolved = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            let end = rest[start..].find('}')? + start;
            resolved.push_str(&rest[..start]);
            resolved.push_str(self.known(&rest[start + 2..end])??);
            rest = &rest[end + 1..];
        }
        resolved.push_str(rest);
        Some(resolved)
    }

    /// The value of a condition key Trailkeeper knows (`Some(None)`: known to be absent), or
    /// `None` for a key that depends on the request.
    fn known(&self, key: &str) -> Option<Option<&str>> {
        let lower = key.to_ascii_lowercase();
        fn tag<'t>(tags: &'t BTreeMap<String, String>, name: &str) -> Option<Option<&'t str>> {
            Some(tags.get(name).map(String::as_str))
        }
        if let Some(name) = lower.strip_prefix("aws:principaltag/") {
            return tag(&self.principal.tags, &key[key.len() - name.len()..]);
        }
        for prefix in ["secretsmanager:resourcetag/", "aws:resourcetag/"] {
            if let Some(name) = lower.strip_prefix(prefix) {
                return tag(self.resource_tags, &key[key.len() - name.len()..]);
            }
        }
        match lower.as_str() {
            "aws:principalarn" => Some(Some(self.principal.arn.as_str())),
            "aws:principalaccount" => Some(Some(self.principal.account.as_str())),
            _ => None,
        }
    }
}

fn truth(holds: bool) -> Truth {
    if holds { Truth::True } else { Truth::False }
}

/// A policy field's strings: one, or a list.
fn names(value: &Value) -> Vec<&str> {
    match value {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn matches_any(patterns: &Value, text: &str, case_matters: bool) -> bool {
    names(patterns)
        .iter()
        .any(|pattern| glob(pattern, text, !case_matters))
}

/// `123456789012` or `arn:aws:iam::123456789012:root`.
fn is_account(name: &str, account: &str) -> bool {
    name == account
        || name
            .strip_prefix("arn:")
            .and_then(|rest| rest.split_once(":iam::"))
            .is_some_and(|(_, rest)| rest == format!("{account}:root"))
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if ignore_case {
        WildMatch::new_case_insensitive(pattern).matches(text)
    } else {
        WildMatch::new(pattern).matches(text)
    }
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
