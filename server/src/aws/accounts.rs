//! The AWS accounts Trailkeeper covers: the credentials' own (the default), roles listed in
//! `TRAILKEEPER_ACCOUNTS`, or every active account of the Organization through a role of one
//! name (`TRAILKEEPER_ORG_ROLE_NAME`). Each assumed account gets an `SdkConfig` of its own,
//! whose credentials STS issues and the SDK's identity cache renews before they expire.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_organizations::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_organizations::types::AccountState;
use aws_sdk_sts::config::{ProvideCredentials, SharedCredentialsProvider};
use trailkeeper_app::api::query::is_account_id;

/// The session name of every assumed role: what the member accounts' CloudTrail shows.
const SESSION_NAME: &str = "trailkeeper";

/// How many accounts are synced at once when nothing else is set: each account has its own
/// Secrets Manager request quotas, so this bounds Trailkeeper's own load, not AWS's.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// A role to assume: `arn:<partition>:iam::<12-digit account>:role/<path and name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleArn {
    arn: String,
    account: String,
}

impl RoleArn {
    pub fn account(&self) -> &str {
        &self.account
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

impl FromStr for RoleArn {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let refused = || {
            format!(
                "{value:?} is not an IAM role ARN such as \
                 arn:aws:iam::111111111111:role/trailkeeper-read"
            )
        };
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let [arn, partition, "iam", "", account, resource] = parts[..] else {
            return Err(refused());
        };
        let name = resource.strip_prefix("role/").ok_or_else(refused)?;
        if arn != "arn"
            || !partition.starts_with("aws")
            || !is_account_id(account)
            || name.is_empty()
            || name.len() > 512
            || !name.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '+' | '=' | ',' | '.' | '@' | '_' | '-' | '/')
            })
        {
            return Err(refused());
        }
        Ok(RoleArn {
            arn: value.to_string(),
            account: account.to_string(),
        })
    }
}

/// An account, or an organisational unit (`ou-…`) or root (`r-…`) with every account under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgMember {
    Account(String),
    Unit(String),
}

impl FromStr for OrgMember {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let is_id = |rest: &str| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if is_account_id(value) {
            Ok(OrgMember::Account(value.to_string()))
        } else if value.strip_prefix("ou-").is_some_and(is_id)
            || value.strip_prefix("r-").is_some_and(is_id)
        {
            Ok(OrgMember::Unit(value.to_string()))
        } else {
            Err(format!(
                "{value:?} is neither a 12-digit account id nor an organisational unit \
                 (ou-…) or root (r-…) id"
            ))
        }
    }
}

/// Which accounts to cover, as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Coverage {
    /// The credentials' own account.
    #[default]
    Own,
    /// These roles, one per account.
    Roles(Vec<RoleArn>),
    /// The Organization's active accounts, through this role name in each.
    Organization {
        role_name: String,
        include: Vec<OrgMember>,
        exclude: Vec<OrgMember>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSettings {
    pub coverage: Coverage,
    pub external_id: Option<String>,
    /// How many accounts are synced at once.
    pub concurrency: usize,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            coverage: Coverage::Own,
            external_id: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// One account and the AWS configuration that acts in it.
#[derive(Clone, Debug)]
pub struct Account {
    /// `None` only for the credentials' own account in the default coverage, whose id the
    /// secrets' ARNs carry.
    pub id: Option<String>,
    /// The Organization's name for it.
    pub name: Option<String>,
    /// The role assumed in it; `None` for the credentials' own account.
    pub role: Option<RoleArn>,
    pub config: SdkConfig,
}

/// Why an account could not be acted in: what STS said when asked for the role.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AssumeRole of {role} failed{}: {message}", code.as_ref().map(|code| format!(" with {code}")).unwrap_or_default())]
pub struct AssumeRoleFailed {
    pub role: String,
    pub code: Option<String>,
    pub message: String,
}

impl Account {
    /// The credentials' own account, as configured.
    pub fn own(config: &SdkConfig) -> Account {
        Account {
            id: None,
            name: None,
            role: None,
            config: config.clone(),
        }
    }

    /// The account of `role`, acting through it. Nothing is asked of STS until the first call.
    pub async fn assumed(
        base: &SdkConfig,
        role: RoleArn,
        name: Option<String>,
        external_id: Option<&str>,
    ) -> Account {
        let mut provider = AssumeRoleProvider::builder(role.to_string())
            .session_name(SESSION_NAME)
            .configure(base);
        if let Some(external_id) = external_id {
            provider = provider.external_id(external_id);
        }
        let provider = provider.build().await;
        let config = base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            // One cache per account, shared by all of its clients: STS is asked once an hour.
            .identity_cache(IdentityCache::lazy().build())
            .build();
        Account {
            id: Some(role.account().to_string()),
            name,
            role: Some(role),
            config,
        }
    }

    /// Asks STS for the role's credentials now, so that a refusal is recorded as the
    /// account's, in STS's words, instead of as each call's.
    pub async fn check_role(&self) -> Result<(), AssumeRoleFailed> {
        let (Some(role), Some(provider)) = (&self.role, self.config.credentials_provider()) else {
            return Ok(());
        };
        provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|error| {
                use std::error::Error;
                let refused = error.source().and_then(|source| {
                    source.downcast_ref::<aws_sdk_sts::error::SdkError<
                        aws_sdk_sts::operation::assume_role::AssumeRoleError,
                        aws_sdk_sts::config::http::HttpResponse,
                    >>()
                });
                // Not STS's answer (no credentials to ask with, say): the whole chain.
                let (code, message) = refused
                    .map(super::said)
                    .unwrap_or_else(|| (None, DisplayErrorContext(&error).to_string()));
                AssumeRoleFailed {
                    role: role.to_string(),
                    code,
                    message,
                }
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("Organizations {operation} failed{}: {message}", code.as_ref().map(|code| format!(" with {code}")).unwrap_or_default())]
    Organizations {
        operation: &'static str,
        code: Option<String>,
        message: String,
    },
    #[error("STS GetCallerIdentity failed: {0}")]
    CallerIdentity(String),
}

fn organizations_error<E>(
    operation: &'static str,
) -> impl FnOnce(
    aws_sdk_organizations::error::SdkError<E, aws_sdk_organizations::config::http::HttpResponse>,
) -> DiscoveryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    move |error| {
        let (code, message) = super::said(&error);
        DiscoveryError::Organizations {
            operation,
            code,
            message,
        }
    }
}

/// The accounts `settings` cover. For an Organization: its active accounts (less those
/// excluded, or only those included), each through the role; the caller's own account
/// through its own credentials, since an Organization's management account rarely has the
/// member role.
pub async fn discover(
    base: &SdkConfig,
    settings: &AccountSettings,
) -> Result<Vec<Account>, DiscoveryError> {
    let external_id = settings.external_id.as_deref();
    match &settings.coverage {
        Coverage::Own => Ok(vec![Account::own(base)]),
        Coverage::Roles(roles) => {
            let mut accounts = Vec::with_capacity(roles.len());
            for role in roles {
                accounts.push(Account::assumed(base, role.clone(), None, external_id).await);
            }
            Ok(accounts)
        }
        Coverage::Organization {
            role_name,
            include,
            exclude,
        } => {
            let client = aws_sdk_organizations::Client::new(base);
            let pages: Vec<_> = client
                .list_accounts()
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(organizations_error("ListAccounts"))?;
            let listed = pages
                .into_iter()
                .flat_map(|page| page.accounts.unwrap_or_default());
            let included = members(&client, include).await?;
            let excluded = members(&client, exclude).await?;
            let own = aws_sdk_sts::Client::new(base)
                .get_caller_identity()
                .send()
                .await
                .map_err(|error| DiscoveryError::CallerIdentity(super::said(&error).1))?
                .account
                .unwrap_or_default();
            let mut accounts = Vec::new();
            for listed in listed {
                let (Some(id), Some(AccountState::Active)) = (listed.id(), listed.state()) else {
                    continue;
                };
                if !include.is_empty() && !included.contains(id) || excluded.contains(id) {
                    continue;
                }
                let name = listed.name().map(str::to_string);
                if id == own {
                    accounts.push(Account {
                        id: Some(own.clone()),
                        name,
                        role: None,
                        config: base.clone(),
                    });
                    continue;
                }
                let partition = listed
                    .arn()
                    .and_then(|arn| arn.split(':').nth(1))
                    .unwrap_or("aws");
                let role: RoleArn = format!("arn:{partition}:iam::{id}:role/{role_name}")
                    .parse()
                    .map_err(|message| DiscoveryError::Organizations {
                        operation: "ListAccounts",
                        code: None,
                        message,
                    })?;
                accounts.push(Account::assumed(base, role, name, external_id).await);
            }
            Ok(accounts)
        }
    }
}

/// The account ids `members` name: accounts as they are, units with every account under
/// them, however deep.
async fn members(
    client: &aws_sdk_organizations::Client,
    members: &[OrgMember],
) -> Result<HashSet<String>, DiscoveryError> {
    let mut ids = HashSet::new();
    let mut units = Vec::new();
    for member in members {
        match member {
            OrgMember::Account(id) => {
                ids.insert(id.clone());
            }
            OrgMember::Unit(unit) => units.push(unit.clone()),
        }
    }
    while let Some(unit) = units.pop() {
        let pages: Vec<_> = client
            .list_accounts_for_parent()
            .parent_id(&unit)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(organizations_error("ListAccountsForParent"))?;
        ids.extend(
            pages
                .into_iter()
                .flat_map(|page| page.accounts.unwrap_or_default())
                .filter_map(|account| account.id),
        );
        let pages: Vec<_> = client
            .list_organizational_units_for_parent()
            .parent_id(&unit)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(organizations_error("ListOrganizationalUnitsForParent"))?;
        units.extend(
            pages
                .into_iter()
                .flat_map(|page| page.organizational_units.unwrap_or_default())
                .filter_map(|unit| unit.id),
        );
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_name_an_account_and_a_role() {
        let role: RoleArn = "arn:aws:iam::111111111111:role/teams/trailkeeper-read"
            .parse()
            .unwrap();
        assert_eq!(role.account(), "111111111111");
        assert!(
            "arn:aws-us-gov:iam::111111111111:role/read"
                .parse::<RoleArn>()
                .is_ok()
        );
        for hostile in [
            "arn:aws:iam::11111111111:role/read",
            "arn:aws:iam::111111111111:user/read",
            "arn:aws:iam::111111111111:role/",
            "arn:aws:sts::111111111111:role/read",
            "arn:aws:iam::111111111111:role/read\nx",
            "111111111111",
        ] {
            let error = hostile.parse::<RoleArn>().unwrap_err();
            assert!(
                error.contains("is not an IAM role ARN"),
                "{hostile:?}: {error}"
            );
        }
    }

    #[test]
    fn organisation_members_are_accounts_or_units() {
        assert_eq!(
            "222222222222".parse::<OrgMember>(),
            Ok(OrgMember::Account("222222222222".into()))
        );
        assert_eq!(
            "ou-ab12-cd34ef56".parse::<OrgMember>(),
            Ok(OrgMember::Unit("ou-ab12-cd34ef56".into()))
        );
        assert_eq!(
            "r-ab12".parse::<OrgMember>(),
            Ok(OrgMember::Unit("r-ab12".into()))
        );
        assert!("payments".parse::<OrgMember>().is_err());
        assert!("ou-".parse::<OrgMember>().is_err());
    }
}
