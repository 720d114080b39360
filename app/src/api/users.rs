//! The people who may sign in: listed, added and changed by admins on the Users page, as
//! `trailkeeper user` does from the command line.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::scope::Scope;
use crate::{AppError, Role};

/// A user as the Users page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub name: String,
    pub role: Role,
    /// What they may see; `None`: everything their role allows.
    pub scope: Option<Scope>,
    /// Signs in through the identity provider, not with a password.
    pub single_sign_on: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Sessions still live, and the last activity in any of them.
    pub live_sessions: i64,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// One change to a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserChange {
    Role(Role),
    /// `None` lifts the limit.
    Scope(Option<Scope>),
    Disable,
    /// Signs them out everywhere.
    EndSessions,
}

impl UserChange {
    /// The change a form names (`role`, `scope`, `disable` or `end-sessions`), with its value.
    pub fn from_form(change: &str, value: &str) -> Result<UserChange, AppError> {
        let invalid = |parameter: &str, message: String| AppError::Invalid {
            parameter: Some(parameter.into()),
            message,
        };
        match change {
            "role" => value
                .parse()
                .map(UserChange::Role)
                .map_err(|why| invalid("value", why)),
            "scope" => scope_from_form(value).map(UserChange::Scope),
            "disable" => Ok(UserChange::Disable),
            "end-sessions" => Ok(UserChange::EndSessions),
            other => Err(invalid(
                "change",
                format!("{other:?} is not a change; use role, scope, disable or end-sessions"),
            )),
        }
    }

    /// Whether it takes away what a person may do; nobody does that to themselves here.
    pub fn locks_out(&self) -> bool {
        !matches!(self, UserChange::EndSessions)
    }
}

/// A scope as a form gives it: empty or `*` is everything.
pub fn scope_from_form(text: &str) -> Result<Option<Scope>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let scope: Scope =
        text.parse()
            .map_err(|error: crate::scope::ScopeError| AppError::Invalid {
                parameter: Some("scope".into()),
                message: error.to_string(),
            })?;
    Ok(scope.limit())
}

#[server(endpoint = "users")]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    super::backend_for::<ListUsers>()?.users().await
}

/// Adds a user with a generated password, returned to be shown to the admin once.
#[server(endpoint = "add_user")]
pub async fn add_user(
    #[server(default)] name: String,
    #[server(default)] role: String,
    #[server(default)] scope: String,
) -> Result<String, AppError> {
    let backend = super::backend_for::<AddUser>()?;
    let who = super::caller()?;
    let role: Role = role.parse().map_err(|why| AppError::Invalid {
        parameter: Some("role".into()),
        message: why,
    })?;
    let scope = scope_from_form(&scope)?;
    backend
        .add_user(who, name.trim().to_string(), role, scope)
        .await
}

/// Changes a user (`change`: role, scope, disable or end-sessions); says what was done.
#[server(endpoint = "change_user")]
pub async fn change_user(
    #[server(default)] name: String,
    #[server(default)] change: String,
    #[server(default)] value: String,
) -> Result<String, AppError> {
    let backend = super::backend_for::<ChangeUser>()?;
    let who = super::caller()?;
    let change = UserChange::from_form(&change, &value)?;
    if change.locks_out() && who.identity.name.eq_ignore_ascii_case(&name) {
        return Err(AppError::Conflict(
            "you cannot change your own role, scope or access; ask another admin".into(),
        ));
    }
    backend.change_user(who, name, change).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_name_a_change_and_its_value() {
        assert_eq!(
            UserChange::from_form("role", "auditor").unwrap(),
            UserChange::Role(Role::Auditor)
        );
        assert_eq!(
            UserChange::from_form("scope", " * ").unwrap(),
            UserChange::Scope(None)
        );
        assert_eq!(
            UserChange::from_form("scope", "team=payments").unwrap(),
            UserChange::Scope(Some("team=payments".parse().unwrap()))
        );
        for (change, value) in [("role", "root"), ("scope", "pay*ments"), ("drop", "")] {
            assert!(
                UserChange::from_form(change, value).is_err(),
                "{change} {value}"
            );
        }
        assert!(!UserChange::EndSessions.locks_out());
        assert!(UserChange::Disable.locks_out());
    }
}
