//! Normalise: the columns detection and the explorer read, derived once from each record —
//! which secret it is about, who acted (an assumed-role session becomes its role, with the
//! session name kept apart), from where, with which client family, and how it ended.

use std::net::IpAddr;

use serde_json::Value;

use super::record::{Record, UserIdentity};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalised {
    /// The secret as the record names it: a full ARN where the record carries one, else
    /// what the caller passed (a name or a partial ARN). The store resolves it against the
    /// inventory.
    pub secret: Option<String>,
    pub principal: Option<String>,
    /// For an assumed role: the session's name (often the workload or the person).
    pub session_name: Option<String>,
    pub principal_account: Option<String>,
    pub source: Source,
    pub user_agent_family: Option<String>,
}

/// Where a call came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Address(IpAddr),
    /// An AWS service calling on someone's behalf, such as `lambda.amazonaws.com`.
    Service(String),
    /// Anything else CloudTrail writes there, such as `AWS Internal`.
    Other(String),
    Unknown,
}

pub fn normalise(record: &Record) -> Normalised {
    let (principal, session_name) = principal(record.user_identity.as_ref());
    Normalised {
        secret: secret(record),
        principal,
        session_name,
        principal_account: record
            .user_identity
            .as_ref()
            .and_then(|identity| identity.account_id.clone()),
        source: source(record.source_ip_address.as_deref()),
        user_agent_family: record.user_agent.as_deref().map(user_agent_family),
    }
}

fn is_secret_arn(text: &str) -> bool {
    text.starts_with("arn:") && text.contains(":secretsmanager:") && text.contains(":secret:")
}

/// The record's secret, full ARNs first: `resources`, `responseElements.arn`, then what the
/// request named, then the service events' `SecretId`.
fn secret(record: &Record) -> Option<String> {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_string);
    let field = |object: &Option<Value>, names: &[&str]| {
        names
            .iter()
            .find_map(|name| text(object.as_ref().and_then(|object| object.get(*name))))
    };
    let from_resources = record
        .resources
        .iter()
        .filter_map(|resource| resource.arn.as_deref())
        .find(|arn| is_secret_arn(arn))
        .map(str::to_string);
    let from_response =
        field(&record.response_elements, &["arn", "ARN"]).filter(|arn| is_secret_arn(arn));
    from_resources
        .or(from_response)
        .or_else(|| field(&record.request_parameters, &["secretId", "SecretId"]))
        .or_else(|| field(&record.additional_event_data, &["SecretId", "secretId"]))
        .or_else(|| field(&record.service_event_details, &["SecretId", "secretId"]))
}

/// Who acted, as one stable name: a role's ARN for its sessions, a user's ARN, or the AWS
/// service that called.
fn principal(identity: Option<&UserIdentity>) -> (Option<String>, Option<String>) {
    let Some(identity) = identity else {
        return (None, None);
    };
    if identity.kind.as_deref() == Some("AssumedRole")
        && let Some(arn) = identity.arn.as_deref()
        && let Some((role_arn, session)) = assumed_role(arn, identity)
    {
        return (Some(role_arn), Some(session));
    }
    let principal = match identity.kind.as_deref() {
        Some("AWSService") | None => identity.invoked_by.clone().or_else(|| identity.arn.clone()),
        _ => identity
            .arn
            .clone()
            .or_else(|| identity.principal_id.clone()),
    };
    (principal, None)
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` → the role's IAM ARN (with its path,
/// from the session issuer when that names the same role) and the session name.
fn assumed_role(arn: &str, identity: &UserIdentity) -> Option<(String, String)> {
    let mut parts = arn.splitn(6, ':');
    let (_, partition, _, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let rest = resource.strip_prefix("assumed-role/")?;
    let (role, session) = rest.split_once('/')?;
    let issuer = identity
        .session_context
        .as_ref()
        .and_then(|context| context.session_issuer.as_ref())
        .and_then(|issuer| issuer.arn.as_deref())
        .filter(|issuer| {
            issuer.ends_with(&format!("/{role}")) && issuer.contains(&format!(":{account}:"))
        });
    let role_arn = issuer
        .map(str::to_string)
        .unwrap_or_else(|| format!("arn:{partition}:iam::{account}:role/{role}"));
    Some((role_arn, session.to_string()))
}

fn source(address: Option<&str>) -> Source {
    match address {
        None => Source::Unknown,
        Some(text) => match text.parse::<IpAddr>() {
            Ok(address) => Source::Address(address),
            Err(_) if text.ends_with(".amazonaws.com") => Source::Service(text.to_string()),
            Err(_) => Source::Other(text.to_string()),
        },
    }
}

/// Client families by what their user agents contain, most specific first.
const FAMILIES: [(&str, &str); 12] = [
    ("aws-cli/", "aws-cli"),
    ("boto3/", "boto3"),
    ("botocore/", "boto3"),
    ("aws-sdk-java", "aws-sdk-java"),
    ("aws-sdk-go", "aws-sdk-go"),
    ("aws-sdk-js", "aws-sdk-js"),
    ("aws-sdk-nodejs", "aws-sdk-js"),
    ("aws-sdk-rust", "aws-sdk-rust"),
    ("aws-sdk-dotnet", "aws-sdk-dotnet"),
    ("terraform", "terraform"),
    ("console.amazonaws.com", "console"),
    ("aws internal", "aws-internal"),
];

/// `aws-cli/2.15.30 Python/3.11.8 …` → `aws-cli`. A user agent no family claims is known by
/// its first product token.
pub fn user_agent_family(user_agent: &str) -> String {
    let lower = user_agent.to_ascii_lowercase();
    if let Some((_, family)) = FAMILIES.iter().find(|(needle, _)| lower.contains(needle)) {
        return family.to_string();
    }
    if lower.ends_with(".amazonaws.com") && !lower.contains(' ') {
        return lower;
    }
    lower
        .split([' ', '/'])
        .find(|token| !token.is_empty())
        .map(|token| token.chars().take(64).collect())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_fall_into_families() {
        assert_eq!(
            user_agent_family("aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64"),
            "aws-cli"
        );
        assert_eq!(
            user_agent_family("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0"),
            "boto3"
        );
        assert_eq!(
            user_agent_family("secretsmanager.amazonaws.com"),
            "secretsmanager.amazonaws.com"
        );
        assert_eq!(user_agent_family("Mozilla/5.0 (X11)"), "mozilla");
        assert_eq!(user_agent_family("   "), "unknown");
    }

    #[test]
    fn addresses_services_and_the_rest_are_told_apart() {
        assert_eq!(
            source(Some("10.20.4.17")),
            Source::Address("10.20.4.17".parse().unwrap())
        );
        assert_eq!(
            source(Some("2001:db8::1")),
            Source::Address("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            source(Some("lambda.amazonaws.com")),
            Source::Service("lambda.amazonaws.com".into())
        );
        assert_eq!(
            source(Some("AWS Internal")),
            Source::Other("AWS Internal".into())
        );
        assert_eq!(source(None), Source::Unknown);
    }
}
