//! Granted versus used: who the account's policies let read a secret's value, and whether
//! each did within the idle period; and the reverse, per principal.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// How sure the answer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GrantReach {
    /// The policies grant it.
    Yes,
    /// A condition that depends on the request (a VPC endpoint, an address, the caller's
    /// organisation) decides.
    Possibly,
}

impl GrantReach {
    pub fn parse(text: &str) -> Option<GrantReach> {
        match text {
            "yes" => Some(GrantReach::Yes),
            "possibly" => Some(GrantReach::Possibly),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GrantReach::Yes => "can read",
            GrantReach::Possibly => "possibly",
        }
    }
}

/// When the account's grants were last read, and what AWS refused then.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GrantCheck {
    pub account_id: String,
    pub checked_at: DateTime<Utc>,
    /// The account's users and roles evaluated.
    pub principals: i32,
    /// What AWS refused: the readers shown are from the check before.
    pub error: Option<String>,
}

/// One principal the policies let read the secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Grant {
    /// The IAM user or role (for a secret page), or the secret (for a principal page).
    pub principal: String,
    pub secret_arn: String,
    pub secret_name: String,
    pub reach: GrantReach,
    /// The statements that grant it, each with the policy and the user, group or role it
    /// comes through.
    pub granted_by: Vec<String>,
    /// Why it is only possible.
    pub reasons: Vec<String>,
    /// Its last successful read of the value within the idle period.
    pub last_read_at: Option<DateTime<Utc>>,
    /// Successful reads within the idle period.
    pub reads: i64,
}

impl Grant {
    /// Granted, and not used within the idle period.
    pub fn unused(&self) -> bool {
        self.reads == 0
    }

    /// Where to narrow an unused grant: the first statement that grants it.
    pub fn narrowing(&self) -> Option<&str> {
        self.granted_by.first().map(String::as_str)
    }
}

/// Who can read one secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretReaders {
    /// `None` when the secret's account's grants were never read.
    pub check: Option<GrantCheck>,
    /// Reads count from this many days back (the `unused_grant_days` setting).
    pub idle_days: i64,
    /// Unused grants first, then by principal.
    pub grants: Vec<Grant>,
}

/// One secret a principal read that no stored grant explains (another account's principal,
/// a grant since removed, a policy Trailkeeper could not read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UngrantedRead {
    pub secret_arn: String,
    pub secret_name: Option<String>,
    pub reads: i64,
    pub last_read_at: DateTime<Utc>,
}

/// What one principal can read and what it did read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PrincipalGrants {
    pub principal: String,
    /// The check of the principal's account, when it is one Trailkeeper reads.
    pub check: Option<GrantCheck>,
    pub idle_days: i64,
    /// The secrets it can read: unused first, then by name.
    pub grants: Vec<Grant>,
    /// The secrets it read within the idle period that no grant explains.
    pub other_reads: Vec<UngrantedRead>,
}

/// "1 secret", "3 secrets": how the pages and the findings count grants.
pub fn counted(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        count => format!("{count} {noun}s"),
    }
}

/// Unused grants first, then in `key`'s order.
pub fn unused_first<K: Ord>(grants: &mut [Grant], key: impl Fn(&Grant) -> K) {
    grants.sort_by_key(|grant| (!grant.unused(), key(grant)));
}

/// Who can read the secret with this ARN.
#[server(name = SecretReadersFn, endpoint = "secret_readers")]
pub async fn secret_readers(
    #[server(default)] secret_arn: String,
) -> Result<SecretReaders, AppError> {
    super::backend_for::<SecretReadersFn>()?
        .secret_readers(secret_arn)
        .await
}

/// What the principal with this ARN can read, and did.
#[server(name = PrincipalGrantsFn, endpoint = "principal_grants")]
pub async fn principal_grants(
    #[server(default)] principal: String,
) -> Result<PrincipalGrants, AppError> {
    super::backend_for::<PrincipalGrantsFn>()?
        .principal_grants(principal)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(principal: &str, reads: i64) -> Grant {
        Grant {
            principal: principal.into(),
            secret_arn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf".into(),
            secret_name: "db".into(),
            reach: GrantReach::Yes,
            granted_by: vec!["statement \"Read\" of inline policy app of role app".into()],
            reasons: Vec::new(),
            last_read_at: None,
            reads,
        }
    }

    #[test]
    fn unused_grants_come_first_with_the_statement_to_narrow() {
        let mut grants = vec![grant("b", 3), grant("c", 0), grant("a", 1)];
        unused_first(&mut grants, |grant| grant.principal.clone());
        let order: Vec<&str> = grants.iter().map(|g| g.principal.as_str()).collect();
        assert_eq!(order, ["c", "a", "b"]);
        assert!(grants[0].unused() && !grants[1].unused());
        assert_eq!(
            grants[0].narrowing(),
            Some("statement \"Read\" of inline policy app of role app")
        );
    }
}
