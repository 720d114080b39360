//! Local user accounts in the store. Every change is recorded in the audit log in the same
//! transaction; a change that affects what a user may do (disable, role, password) also ends
//! their sessions in it.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::api::users::UserSummary;
use trailkeeper_app::scope::Scope;
use trailkeeper_app::{AppError, Role};

use super::password::{self, PasswordError};
use super::sessions;
use crate::audit::{self, Action, Entry};

/// The account created on first start when there are no users.
pub const INITIAL_ADMIN: &str = "admin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// What they may see; `None`: everything.
    pub scope: Option<Scope>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(
        "{0:?} is not a valid user name: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("a user named {0:?} already exists")]
    NameTaken(String),
    #[error("there is no user named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("the user store failed")]
    Store(#[from] sqlx::Error),
}

impl From<UserError> for AppError {
    fn from(error: UserError) -> AppError {
        match error {
            UserError::InvalidName(_) => AppError::Invalid {
                parameter: Some("name".into()),
                message: error.to_string(),
            },
            UserError::NameTaken(_) => AppError::Conflict(error.to_string()),
            UserError::NotFound(_) => AppError::NotFound(error.to_string()),
            UserError::Password(_) => AppError::invalid(error.to_string()),
            UserError::Store(error) => AppError::store(error),
        }
    }
}

/// User and token names: short plain identifiers, safe in any log line.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(allowed)
}

struct UserRow {
    id: i64,
    name: String,
    role: String,
    scope: Option<Vec<String>>,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

fn from_row(row: UserRow) -> Result<User, UserError> {
    Ok(User {
        id: row.id,
        name: row.name,
        role: super::stored_role(&row.role)?,
        scope: super::stored_scope(row.scope)?,
        disabled_at: row.disabled_at,
        created_at: row.created_at,
    })
}

pub async fn add(
    pool: &PgPool,
    actor: &str,
    name: &str,
    role: Role,
    password: &str,
) -> Result<User, UserError> {
    add_scoped(pool, actor, name, role, None, password).await
}

/// Adds a user limited to `scope` (`None`: unscoped).
pub async fn add_scoped(
    pool: &PgPool,
    actor: &str,
    name: &str,
    role: Role,
    scope: Option<&Scope>,
    password: &str,
) -> Result<User, UserError> {
    if !valid_name(name) {
        return Err(UserError::InvalidName(name.to_string()));
    }
    let hash = password::hash(password)?;
    insert(pool, actor, name, role, scope, Some(&hash), None).await
}

/// Adds a user who signs in through single sign-on only, known to the provider by
/// `external_id` (its issuer and subject).
pub async fn add_external(
    pool: &PgPool,
    actor: &str,
    name: &str,
    role: Role,
    scope: Option<&Scope>,
    external_id: &str,
) -> Result<User, UserError> {
    if !valid_name(name) {
        return Err(UserError::InvalidName(name.to_string()));
    }
    insert(pool, actor, name, role, scope, None, Some(external_id)).await
}

async fn insert(
    pool: &PgPool,
    actor: &str,
    name: &str,
    role: Role,
    scope: Option<&Scope>,
    password_hash: Option<&str>,
    external_id: Option<&str>,
) -> Result<User, UserError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query_as!(
        UserRow,
        "INSERT INTO users (name, role, scope, password_hash, external_id) \
         VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, name, role, scope, disabled_at, created_at",
        name,
        role.as_str(),
        scope.map(Scope::terms) as Option<Vec<String>>,
        password_hash,
        external_id,
    )
    .fetch_one(&mut *tx)
    .await;
    let user = match row {
        Ok(row) => from_row(row)?,
        Err(sqlx::Error::Database(error)) if error.constraint() == Some("users_name_unique") => {
            return Err(UserError::NameTaken(name.to_string()));
        }
        Err(error) => return Err(error.into()),
    };
    let how = if external_id.is_some() {
        " (single sign-on)"
    } else {
        ""
    };
    let limited = match scope {
        Some(scope) => format!(", limited to {scope}"),
        None => String::new(),
    };
    Entry::new(
        actor,
        Action::UserCreated,
        format!("created user {name} with role {role}{limited}{how}"),
    )
    .detail(json!({
        "user": name,
        "role": role,
        "scope": scope.map(Scope::terms),
        "external_id": external_id,
    }))
    .record(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// On a store without users, creates the `admin` account with a generated password and
/// returns that password, to be shown once. Several processes starting at once create it once.
pub async fn ensure_initial_admin(pool: &PgPool) -> Result<Option<String>, UserError> {
    let any = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM users) AS "any!""#)
        .fetch_one(pool)
        .await?;
    if any {
        return Ok(None);
    }
    let generated = password::generate();
    match add(
        pool,
        audit::SYSTEM_ACTOR,
        INITIAL_ADMIN,
        Role::Admin,
        &generated,
    )
    .await
    {
        Ok(_) => Ok(Some(generated)),
        Err(UserError::NameTaken(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

pub async fn list(pool: &PgPool) -> Result<Vec<User>, UserError> {
    let rows = sqlx::query_as!(
        UserRow,
        "SELECT id, name, role, scope, disabled_at, created_at FROM users ORDER BY lower(name)",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn disable(pool: &PgPool, actor: &str, name: &str) -> Result<User, UserError> {
    change(
        pool,
        actor,
        name,
        Change {
            disable: true,
            ..Change::default()
        },
        |user| {
            (
                Action::UserDisabled,
                format!("disabled user {}", user.name),
                json!({ "user": user.name }),
            )
        },
    )
    .await
}

pub async fn set_role(
    pool: &PgPool,
    actor: &str,
    name: &str,
    role: Role,
) -> Result<User, UserError> {
    change(
        pool,
        actor,
        name,
        Change {
            role: Some(role.as_str()),
            ..Change::default()
        },
        |user| {
            (
                Action::UserRoleChanged,
                format!("set the role of user {} to {}", user.name, user.role),
                json!({ "user": user.name, "role": user.role }),
            )
        },
    )
    .await
}

/// Limits what a user may see to `scope`, or (`None`) lifts the limit.
pub async fn set_scope(
    pool: &PgPool,
    actor: &str,
    name: &str,
    scope: Option<&Scope>,
) -> Result<User, UserError> {
    change(
        pool,
        actor,
        name,
        Change {
            scope: Some(scope.map(Scope::terms)),
            ..Change::default()
        },
        |user| match &user.scope {
            Some(scope) => (
                Action::UserScopeChanged,
                format!("limited user {} to {scope}", user.name),
                json!({ "user": user.name, "scope": scope.terms() }),
            ),
            None => (
                Action::UserScopeChanged,
                format!("lifted the scope of user {}", user.name),
                json!({ "user": user.name, "scope": null }),
            ),
        },
    )
    .await
}

/// Signs a user out everywhere: ends all their live sessions.
pub async fn end_sessions(pool: &PgPool, actor: &str, name: &str) -> Result<User, UserError> {
    change(pool, actor, name, Change::default(), |user| {
        (
            Action::UserSessionsEnded,
            format!("signed user {} out everywhere", user.name),
            json!({ "user": user.name }),
        )
    })
    .await
}

/// Every user as the Users page lists them, with their live sessions.
pub async fn summaries(pool: &PgPool) -> Result<Vec<UserSummary>, UserError> {
    let rows = sqlx::query!(
        r#"SELECT u.name, u.role, u.scope, u.external_id IS NOT NULL AS "single_sign_on!",
                  u.disabled_at, u.created_at,
                  count(s.id) AS "live_sessions!", max(s.last_seen_at) AS last_seen_at
           FROM users u
           LEFT JOIN sessions s ON s.user_id = u.id AND s.revoked_at IS NULL
                AND s.expires_at > now()
           GROUP BY u.id ORDER BY lower(u.name)"#
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(UserSummary {
                role: super::stored_role(&row.role)?,
                scope: super::stored_scope(row.scope)?,
                name: row.name,
                single_sign_on: row.single_sign_on,
                disabled_at: row.disabled_at,
                created_at: row.created_at,
                live_sessions: row.live_sessions,
                last_seen_at: row.last_seen_at,
            })
        })
        .collect()
}

/// Gives a user a new password.
pub async fn set_password(
    pool: &PgPool,
    actor: &str,
    name: &str,
    new_password: &str,
) -> Result<User, UserError> {
    let hash = password::hash(new_password)?;
    change(
        pool,
        actor,
        name,
        Change {
            password_hash: Some(&hash),
            ..Change::default()
        },
        |user| {
            (
                Action::UserPasswordChanged,
                format!("set a new password for user {}", user.name),
                json!({ "user": user.name }),
            )
        },
    )
    .await
}

/// The account single sign-on created for a provider's subject (`issuer subject`).
pub async fn by_external_id(pool: &PgPool, external_id: &str) -> Result<Option<User>, UserError> {
    let row = sqlx::query_as!(
        UserRow,
        "SELECT id, name, role, scope, disabled_at, created_at FROM users WHERE external_id = $1",
        external_id,
    )
    .fetch_optional(pool)
    .await?;
    row.map(from_row).transpose()
}

/// What sign-in needs to know of an account.
#[derive(Debug)]
pub struct Credentials {
    pub user: User,
    /// `None` for an account that signs in through single sign-on only.
    pub password_hash: Option<String>,
}

/// The account a sign-in names, found case-insensitively.
pub async fn credentials(pool: &PgPool, name: &str) -> Result<Option<Credentials>, UserError> {
    let row = sqlx::query!(
        "SELECT id, name, role, scope, disabled_at, created_at, password_hash FROM users \
         WHERE lower(name) = lower($1)",
        name,
    )
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Credentials {
            user: from_row(UserRow {
                id: row.id,
                name: row.name,
                role: row.role,
                scope: row.scope,
                disabled_at: row.disabled_at,
                created_at: row.created_at,
            })?,
            password_hash: row.password_hash,
        })
    })
    .transpose()
}

/// What [`change`] sets on a user; what is left out stays as it is.
#[derive(Default)]
struct Change<'a> {
    disable: bool,
    role: Option<&'a str>,
    password_hash: Option<&'a str>,
    /// `Some(None)`: unscoped.
    scope: Option<Option<Vec<String>>>,
}

/// Updates one user (found case-insensitively), ends their sessions and records what
/// changed, in one transaction.
async fn change(
    pool: &PgPool,
    actor: &str,
    name: &str,
    change: Change<'_>,
    describe: impl FnOnce(&User) -> (Action, String, serde_json::Value),
) -> Result<User, UserError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query_as!(
        UserRow,
        "UPDATE users SET \
           disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) ELSE disabled_at END, \
           role = coalesce($3, role), \
           password_hash = coalesce($4, password_hash), \
           scope = CASE WHEN $5 THEN $6 ELSE scope END, \
           updated_at = now() \
         WHERE lower(name) = lower($1) \
         RETURNING id, name, role, scope, disabled_at, created_at",
        name,
        change.disable,
        change.role,
        change.password_hash,
        change.scope.is_some(),
        change.scope.clone().flatten() as Option<Vec<String>>,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let user = match row {
        Some(row) => from_row(row)?,
        None => return Err(UserError::NotFound(name.to_string())),
    };
    let ended = sessions::revoke_all_of_user(&mut *tx, user.id).await?;
    let (action, summary, mut detail) = describe(&user);
    detail["sessions_ended"] = ended.into();
    Entry::new(actor, action, summary)
        .detail(detail)
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn user_names_are_short_plain_identifiers() {
        for name in ["alice", "bob.smith", "ops@example.com", "a", "x-1_2"] {
            assert!(valid_name(name), "{name}");
        }
        for name in [
            "",
            "-alice",
            "alice smith",
            "al<script>",
            "ålice",
            &"a".repeat(65),
        ] {
            assert!(!valid_name(name), "{name}");
        }
    }
}
