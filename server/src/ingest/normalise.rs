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
    /// `secret` is a full ARN where AWS writes one (`resources`, the response's `arn`, a
    /// service event's `SecretId`), not merely an ARN-like text the caller passed: it
    /// teaches the store what that secret's name means in its account and region.
    pub secret_is_full_arn: bool,
    pub principal: Option<String>,
    /// For an assumed role: the session's name (often the workload or the person).
    pub session_name: Option<String>,
    pub principal_account: Option<String>,
    pub source: Source,
    pub user_agent_family: Option<String>,
    /// The version a value read asked for.
    pub version: AskedVersion,
}

/// `GetSecretValue`'s `versionStage` and `versionId`: none asks for `AWSCURRENT`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AskedVersion {
    pub stage: Option<String>,
    pub id: Option<String>,
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
    let (secret, secret_is_full_arn) = secret(record);
    Normalised {
        secret,
        secret_is_full_arn,
        principal,
        session_name,
        principal_account: record
            .user_identity
            .as_ref()
            .and_then(|identity| identity.account_id.clone()),
        source: source(record.source_ip_address.as_deref()),
        user_agent_family: record.user_agent.as_deref().map(user_agent_family),
        version: asked_version(record),
    }
}

fn asked_version(record: &Record) -> AskedVersion {
    let request = record
        .request_parameters
        .as_ref()
        .filter(|_| record.event_name == "GetSecretValue");
    let text = |name: &str| {
        request
            .and_then(|request| request.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    AskedVersion {
        stage: text("versionStage"),
        id: text("versionId"),
    }
}

fn is_secret_arn(text: &str) -> bool {
    text.starts_with("arn:") && text.contains(":secretsmanager:") && text.contains(":secret:")
}

/// A secret's full ARN: `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`.
pub fn is_full_secret_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(7, ':').collect();
    let [
        _,
        partition,
        "secretsmanager",
        region,
        account,
        "secret",
        name,
    ] = parts[..]
    else {
        return false;
    };
    let suffix = name.len().checked_sub(7).and_then(|at| name.get(at..));
    is_secret_arn(text)
        && partition.starts_with("aws")
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && suffix.is_some_and(|suffix| {
            suffix.starts_with('-') && suffix[1..].bytes().all(|b| b.is_ascii_alphanumeric())
        })
        && name.len() > 7
}

/// The record's secret, full ARNs first: `resources`, `responseElements.arn`, then what the
/// request named, then the service events' `SecretId`; and whether it is a full ARN as AWS
/// wrote it.
fn secret(record: &Record) -> (Option<String>, bool) {
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
    if let Some(arn) = from_resources.or(from_response) {
        let full = is_full_secret_arn(&arn);
        return (Some(arn), full);
    }
    if let Some(named) = field(&record.request_parameters, &["secretId", "SecretId"]) {
        return (Some(named), false);
    }
    // Secrets Manager's own events name the secret by its full ARN.
    let from_service = field(&record.additional_event_data, &["SecretId", "secretId"])
        .or_else(|| field(&record.service_event_details, &["SecretId", "secretId"]));
    let full = from_service.as_deref().is_some_and(is_full_secret_arn);
    (from_service, full)
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
    fn only_arns_aws_wrote_teach_what_a_name_means() {
        let full = "arn:aws:secretsmanager:eu-west-1:444455556666:secret:payments/db-Xy12Zq";
        assert!(is_full_secret_arn(full));
        for not_full in [
            "arn:aws:secretsmanager:eu-west-1:444455556666:secret:payments/db",
            "arn:aws:secretsmanager:eu-west-1:444455556666:secret:-Xy12Zq",
            "arn:aws:secretsmanager:eu-west-1:4444:secret:payments/db-Xy12Zq",
            "arn:aws:secretsmanager::444455556666:secret:payments/db-Xy12Zq",
            "arn:aws:s3:eu-west-1:444455556666:secret:payments/db-Xy12Zq",
            "payments/db-Xy12Zq",
            "arn:aws:secretsmanager:eu-west-1:444455556666:secret:payments/db-Xy12Z\u{e9}",
        ] {
            assert!(!is_full_secret_arn(not_full), "{not_full}");
        }
        let record =
            |value: serde_json::Value| -> Record { serde_json::from_value(value).unwrap() };
        let read = serde_json::json!({
            "eventTime": "2026-10-03T08:12:41Z", "eventName": "GetSecretValue",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventID": "1", "requestParameters": { "secretId": full }
        });
        // What the caller passed may be a partial ARN that looks whole: not learned from.
        assert_eq!(
            secret(&record(read.clone())),
            (Some(full.to_string()), false)
        );
        let mut resolved = read;
        resolved["resources"] = serde_json::json!([{ "ARN": full }]);
        assert_eq!(secret(&record(resolved)), (Some(full.to_string()), true));
        let service = serde_json::json!({
            "eventTime": "2026-10-03T08:12:41Z", "eventName": "RotationStarted",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventID": "2", "additionalEventData": { "SecretId": full }
        });
        assert_eq!(secret(&record(service)), (Some(full.to_string()), true));
    }

    #[test]
    fn a_read_names_the_version_it_asked_for_and_hostile_values_are_ignored() {
        let read = |request: serde_json::Value, name: &str| -> Record {
            serde_json::from_value(serde_json::json!({
                "eventTime": "2026-10-03T08:12:41Z", "eventName": name,
                "eventSource": "secretsmanager.amazonaws.com",
                "eventID": "1", "requestParameters": request
            }))
            .unwrap()
        };
        let previous = serde_json::json!({ "secretId": "db", "versionStage": "AWSPREVIOUS" });
        assert_eq!(
            asked_version(&read(previous.clone(), "GetSecretValue")),
            AskedVersion {
                stage: Some("AWSPREVIOUS".into()),
                id: None
            }
        );
        let pinned = serde_json::json!({ "secretId": "db", "versionId": "v-1" });
        assert_eq!(
            asked_version(&read(pinned, "GetSecretValue")).id.as_deref(),
            Some("v-1")
        );
        // Only a value read's request names the version it read.
        assert_eq!(
            asked_version(&read(previous, "DescribeSecret")),
            AskedVersion::default()
        );
        let hostile = serde_json::json!({ "versionStage": 7, "versionId": { "$ne": 1 } });
        assert_eq!(
            asked_version(&read(hostile, "GetSecretValue")),
            AskedVersion::default()
        );
    }

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
