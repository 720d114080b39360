//! Access scopes: what part of the estate a user or API token may see and act on. A scope is
//! a set of terms; a secret is in scope when any term matches it, and everything else (its
//! versions, events, findings, account) is in scope through its secret. The server's store
//! enforces it; this is its one written form, shared by the CLI, the Users page, single
//! sign-on's mapping and the database.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The terms of a scope, each kind in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// 12-digit AWS account ids: every secret in the account.
    pub accounts: BTreeSet<String>,
    /// Tag key and value: every secret carrying exactly that tag.
    pub tags: BTreeSet<(String, String)>,
    /// Name prefixes: every secret whose name starts so.
    pub prefixes: BTreeSet<String>,
}

/// A term that is not one a scope can hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{term:?} is not a scope term: {reason} (use a 12-digit account id, a tag as key=value, \
     or a name prefix ending in *)"
)]
pub struct ScopeError {
    pub term: String,
    pub reason: &'static str,
}

/// AWS's longest tag key and value, and a generous bound on a name prefix.
const TAG_KEY_MAX: usize = 128;
const TAG_VALUE_MAX: usize = 256;
const PREFIX_MAX: usize = 512;

impl Scope {
    /// Whether it covers every secret (the term `*`): the same as no scope at all.
    pub fn covers_everything(&self) -> bool {
        self.prefixes.contains("")
    }

    /// The limit it sets: none when it covers everything.
    pub fn limit(self) -> Option<Scope> {
        (!self.covers_everything()).then_some(self)
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.tags.is_empty() && self.prefixes.is_empty()
    }

    /// Adds the terms of `other`: a person in two teams sees both.
    pub fn extend(&mut self, other: Scope) {
        self.accounts.extend(other.accounts);
        self.tags.extend(other.tags);
        self.prefixes.extend(other.prefixes);
    }

    /// Its terms as written, accounts first.
    pub fn terms(&self) -> Vec<String> {
        let accounts = self.accounts.iter().cloned();
        let tags = self
            .tags
            .iter()
            .map(|(key, value)| format!("{key}={value}"));
        let prefixes = self.prefixes.iter().map(|prefix| format!("{prefix}*"));
        accounts.chain(tags).chain(prefixes).collect()
    }

    /// Reads terms one by one (as the database keeps them).
    pub fn from_terms<S: AsRef<str>>(terms: &[S]) -> Result<Scope, ScopeError> {
        let mut scope = Scope::default();
        for term in terms {
            scope.add(term.as_ref())?;
        }
        Ok(scope)
    }

    fn add(&mut self, term: &str) -> Result<(), ScopeError> {
        let refuse = |reason| {
            Err(ScopeError {
                term: term.to_string(),
                reason,
            })
        };
        if term.chars().any(char::is_control) {
            return refuse("it holds a control character");
        }
        if term.trim() != term || term.is_empty() {
            return refuse("it is empty or has spaces around it");
        }
        if let Some(prefix) = term.strip_suffix('*') {
            if prefix.contains('*') {
                return refuse("only the last character may be *");
            }
            if prefix.len() > PREFIX_MAX {
                return refuse("the prefix is longer than 512 characters");
            }
            self.prefixes.insert(prefix.to_string());
        } else if let Some((key, value)) = term.split_once('=') {
            if key.is_empty() || key.len() > TAG_KEY_MAX {
                return refuse("a tag key is 1 to 128 characters");
            }
            if value.len() > TAG_VALUE_MAX {
                return refuse("a tag value is at most 256 characters");
            }
            self.tags.insert((key.to_string(), value.to_string()));
        } else if term.len() == 12 && term.bytes().all(|byte| byte.is_ascii_digit()) {
            self.accounts.insert(term.to_string());
        } else {
            return refuse("it is neither an account id, a tag nor a prefix");
        }
        Ok(())
    }
}

/// Terms separated by commas: `111111111111,team=payments,payments/*`.
impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Scope, ScopeError> {
        let terms: Vec<&str> = text.split(',').map(str::trim).collect();
        let scope = Scope::from_terms(&terms)?;
        if scope.is_empty() {
            return Err(ScopeError {
                term: text.to_string(),
                reason: "a scope needs at least one term",
            });
        }
        Ok(scope)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.terms().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_accounts_tags_and_prefixes_and_read_back_as_written() {
        let scope: Scope = "team=payments, 111111111111,payments/*".parse().unwrap();
        assert!(scope.accounts.contains("111111111111"));
        assert!(
            scope
                .tags
                .contains(&("team".to_string(), "payments".to_string()))
        );
        assert!(scope.prefixes.contains("payments/"));
        assert_eq!(scope.to_string(), "111111111111,team=payments,payments/*");
        assert_eq!(Scope::from_terms(&scope.terms()).unwrap(), scope);
        assert!(!scope.covers_everything());
        assert!("*".parse::<Scope>().unwrap().covers_everything());
    }

    #[test]
    fn a_tag_value_may_hold_what_aws_allows_in_it() {
        let scope: Scope = "cost-centre=a:b/c=d+e@f".parse().unwrap();
        assert!(
            scope
                .tags
                .contains(&("cost-centre".to_string(), "a:b/c=d+e@f".to_string()))
        );
    }

    #[test]
    fn hostile_or_mistyped_terms_are_refused_naming_the_term() {
        for (text, reason) in [
            ("", "empty"),
            ("team=payments,,x*", "empty"),
            ("11111111111", "neither"),
            ("payments", "neither"),
            ("=payments", "tag key"),
            ("pay*ments*", "last character"),
            ("team=pay\u{7}ments", "control character"),
        ] {
            let error = text.parse::<Scope>().unwrap_err();
            assert!(error.to_string().contains(reason), "{text:?}: {error}");
        }
        let long_key = format!("{}=x", "k".repeat(129));
        assert!(long_key.parse::<Scope>().is_err());
    }

    #[test]
    fn two_teams_together_see_both() {
        let mut scope: Scope = "team=payments".parse().unwrap();
        scope.extend("team=identity,222222222222".parse().unwrap());
        assert_eq!(
            scope.to_string(),
            "222222222222,team=identity,team=payments"
        );
    }
}
