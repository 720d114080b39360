//! The events as detectors see them: the stored columns they judge by, and the facts about
//! an event every detector asks the same way (is it a read, did it succeed, from which
//! network, by a person).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The names whose request detectors read (whether a write set a value, a policy, a
/// deletion's recovery window, a changed key, a batch's filters, the trail a change is to and
/// its new selectors, the version a stage moved from); other events carry no request here.
pub const REQUEST_READ_FOR: [&str; 10] = [
    "CreateSecret",
    "PutResourcePolicy",
    "DeleteSecret",
    "UpdateSecret",
    "BatchGetSecretValue",
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "UpdateSecretVersionStage",
];

/// The columns of `events` detection reads, as SQL over a row of it.
pub const COLUMNS: &str = "event_id, event_time, event_name, region, account_id, secret_ref, \
    secret_arn, principal, session_name, principal_account, principal_type, \
    host(source_ip) AS source_ip, source_service, user_agent_family, error_code, error_message, \
    version_stage, version_id, \
    CASE WHEN event_name IN ('CreateSecret', 'PutResourcePolicy', 'DeleteSecret', 'UpdateSecret', \
        'BatchGetSecretValue', 'StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors', \
        'UpdateSecretVersionStage') \
        THEN raw -> 'requestParameters' END AS request";

/// Stored events in event-time order, after `after` (its time and event ID; `None`: from
/// the first), a chunk of `limit` at a time: how a backfill and a what-if read the store.
pub async fn read_after(
    db: &mut sqlx::PgConnection,
    after: Option<&(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<Observed>, sqlx::Error> {
    let (after_time, after_id) = after.cloned().unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events \
         WHERE ($1::timestamptz IS NULL OR (event_time, event_id) > ($1, $2)) \
         ORDER BY event_time, event_id LIMIT $3"
    ))
    .bind(after_time)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Observed {
    pub event_id: String,
    pub event_time: DateTime<Utc>,
    pub event_name: String,
    pub region: Option<String>,
    /// The account the event was delivered to: the secret's.
    pub account_id: Option<String>,
    pub secret_ref: Option<String>,
    pub secret_arn: Option<String>,
    pub principal: Option<String>,
    pub session_name: Option<String>,
    pub principal_account: Option<String>,
    pub principal_type: Option<String>,
    pub source_ip: Option<String>,
    pub source_service: Option<String>,
    pub user_agent_family: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The stage and the version ID a value read asked for.
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
    /// `requestParameters`, for the names in [`REQUEST_READ_FOR`].
    pub request: Option<Value>,
}

/// Error codes of a read that was refused or named nothing: enumeration looks like these.
const DENIED_CODES: [&str; 3] = [
    "AccessDenied",
    "ResourceNotFoundException",
    "DecryptionFailure",
];

impl Observed {
    pub fn succeeded(&self) -> bool {
        self.error_code.is_none()
    }

    /// A call that returns secret values.
    pub fn is_value_read(&self) -> bool {
        matches!(
            self.event_name.as_str(),
            "GetSecretValue" | "BatchGetSecretValue"
        )
    }

    /// A successful read of one secret's value.
    pub fn is_secret_read(&self) -> bool {
        self.event_name == "GetSecretValue" && self.succeeded() && self.secret().is_some()
    }

    /// A successful call that gave the secret a value of the caller's choosing: creating it
    /// with one, putting one, or updating it with one.
    pub fn sets_value(&self) -> bool {
        let with_value = || {
            self.request.as_ref().is_some_and(|request| {
                request.get("secretString").is_some() || request.get("secretBinary").is_some()
            })
        };
        self.succeeded()
            && self.secret().is_some()
            && match self.event_name.as_str() {
                "PutSecretValue" => true,
                "CreateSecret" | "UpdateSecret" => with_value(),
                _ => false,
            }
    }

    /// A value read refused for access, a missing secret or its key.
    pub fn is_denied_read(&self) -> bool {
        self.is_value_read()
            && self.error_code.as_deref().is_some_and(|code| {
                DENIED_CODES
                    .iter()
                    .any(|denied| code.starts_with(denied) || code.contains(denied))
            })
    }

    /// The secret: the inventory's ARN, else what the record named.
    pub fn secret(&self) -> Option<&str> {
        self.secret_arn.as_deref().or(self.secret_ref.as_deref())
    }

    /// Where the call came from, as a network: a /24 for IPv4, a /48 for IPv6; an AWS
    /// service (or CloudTrail's `AWS Internal`) is a network of its own.
    pub fn network(&self) -> Option<String> {
        if let Some(address) = self.address() {
            return Some(match address {
                IpAddr::V4(v4) => {
                    let [a, b, c, _] = v4.octets();
                    format!("{a}.{b}.{c}.0/24")
                }
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
                }
            });
        }
        self.source_service.clone()
    }

    pub fn address(&self) -> Option<IpAddr> {
        self.source_ip.as_deref()?.parse().ok()
    }

    /// A person rather than a workload: an IAM user, the root user, a console session, an
    /// IAM Identity Center (SSO) role, or a role session named like a person's address.
    pub fn is_human(&self) -> bool {
        let role = self.principal.as_deref().unwrap_or_default();
        match self.principal_type.as_deref() {
            Some("IAMUser") | Some("Root") => true,
            Some("AssumedRole") | Some("FederatedUser") => {
                role.contains(":role/aws-reserved/sso.amazonaws.com/")
                    || role.contains(":role/AWSReservedSSO_")
                    || self.user_agent_family.as_deref() == Some("console")
                    || self
                        .session_name
                        .as_deref()
                        .is_some_and(|session| session.contains('@'))
            }
            _ => false,
        }
    }
}

/// Addresses that are not reachable from the internet: RFC 1918, shared (CGNAT), loopback,
/// link-local, and IPv6 unique-local and link-local.
pub fn is_private(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// A secret's name from its ARN (`arn:…:secret:NAME-AbCdEf` → `NAME`), or the reference
/// itself when it is a name.
pub fn secret_name(reference: &str) -> &str {
    match reference.split_once(":secret:") {
        Some((_, rest)) if rest.len() > 7 && rest.as_bytes()[rest.len() - 7] == b'-' => {
            &rest[..rest.len() - 7]
        }
        Some((_, rest)) => rest,
        None => reference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn event(name: &str) -> Observed {
        Observed {
            event_id: "e".into(),
            event_time: Utc::now(),
            event_name: name.into(),
            region: Some("us-east-1".into()),
            account_id: Some("111122223333".into()),
            secret_ref: None,
            secret_arn: None,
            principal: None,
            session_name: None,
            principal_account: None,
            principal_type: None,
            source_ip: None,
            source_service: None,
            user_agent_family: None,
            error_code: None,
            error_message: None,
            version_stage: None,
            version_id: None,
            request: None,
        }
    }

    #[test]
    fn the_columns_carry_the_request_of_every_name_detectors_read_it_for() {
        for name in REQUEST_READ_FOR {
            assert!(COLUMNS.contains(&format!("'{name}'")), "{name}");
        }
    }

    #[test]
    fn networks_are_slash_24_slash_48_or_the_service() {
        let mut read = event("GetSecretValue");
        read.source_ip = Some("10.1.2.3".into());
        assert_eq!(read.network().as_deref(), Some("10.1.2.0/24"));
        read.source_ip = Some("2001:db8:abcd:12::1".into());
        assert_eq!(read.network().as_deref(), Some("2001:db8:abcd::/48"));
        read.source_ip = None;
        read.source_service = Some("lambda.amazonaws.com".into());
        assert_eq!(read.network().as_deref(), Some("lambda.amazonaws.com"));
    }

    #[test]
    fn private_ranges_are_told_from_public_ones() {
        for private in [
            "10.0.0.1",
            "172.20.1.1",
            "192.168.0.9",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["203.0.113.7", "8.8.8.8", "2001:db8::1"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn denied_reads_are_refused_value_reads_only() {
        let mut read = event("GetSecretValue");
        read.error_code = Some("AccessDenied".into());
        assert!(read.is_denied_read());
        read.error_code = Some("ResourceNotFoundException".into());
        assert!(read.is_denied_read());
        read.error_code = Some("ThrottlingException".into());
        assert!(!read.is_denied_read());
        let mut describe = event("DescribeSecret");
        describe.error_code = Some("AccessDenied".into());
        assert!(!describe.is_denied_read());
    }

    #[test]
    fn people_are_told_from_workloads() {
        let mut call = event("GetSecretValue");
        call.principal_type = Some("IAMUser".into());
        assert!(call.is_human());
        call.principal_type = Some("AssumedRole".into());
        call.principal = Some("arn:aws:iam::1:role/payments-task".into());
        call.session_name = Some("i-0abc".into());
        assert!(!call.is_human());
        call.session_name = Some("alice@example.com".into());
        assert!(call.is_human());
        call.session_name = Some("alice".into());
        call.principal = Some(
            "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b".into(),
        );
        assert!(call.is_human());
    }

    #[test]
    fn names_come_out_of_arns() {
        assert_eq!(
            secret_name("arn:aws:secretsmanager:us-east-1:1:secret:prod/db-AbCdEf"),
            "prod/db"
        );
        assert_eq!(secret_name("prod/db"), "prod/db");
    }
}
