//! API tokens for automation: each has a name, its own role and an optional expiry. The
//! token is shown once when created; the store keeps its digest.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::Role;
use trailkeeper_app::access::{Credential, Identity};
use trailkeeper_app::scope::Scope;

use super::secret;
use crate::audit::{Action, Entry};

/// Tokens start with this, so a leaked one is recognisable in a scan of code or logs.
const PREFIX: &str = "tkp_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub role: Role,
    /// What it may see; `None`: everything.
    pub scope: Option<Scope>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "{0:?} is not a valid token name: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("an active token named {0:?} already exists; revoke it first")]
    NameTaken(String),
    #[error("there is no active token named {0:?}")]
    NotFound(String),
    #[error("the token store failed")]
    Store(#[from] sqlx::Error),
}

struct TokenRow {
    name: String,
    role: String,
    scope: Option<Vec<String>>,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

fn from_row(row: TokenRow) -> Result<ApiToken, TokenError> {
    Ok(ApiToken {
        role: super::stored_role(&row.role)?,
        scope: super::stored_scope(row.scope)?,
        name: row.name,
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
    })
}

/// Creates a token and returns it with its secret, which is not kept anywhere.
pub async fn create(
    pool: &PgPool,
    actor: &str,
    name: &str,
    role: Role,
    scope: Option<&Scope>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(ApiToken, String), TokenError> {
    if !super::users::valid_name(name) {
        return Err(TokenError::InvalidName(name.to_string()));
    }
    let (secret, digest) = secret::generate(PREFIX);
    let mut tx = pool.begin().await?;
    let row = sqlx::query_as!(
        TokenRow,
        "INSERT INTO api_tokens (name, role, scope, token_hash, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING name, role, scope, created_by, created_at, expires_at, last_used_at",
        name,
        role.as_str(),
        scope.map(Scope::terms) as Option<Vec<String>>,
        digest,
        actor,
        expires_at,
    )
    .fetch_one(&mut *tx)
    .await;
    let token = match row {
        Ok(row) => from_row(row)?,
        Err(sqlx::Error::Database(error))
            if error.constraint() == Some("api_tokens_active_name") =>
        {
            return Err(TokenError::NameTaken(name.to_string()));
        }
        Err(error) => return Err(error.into()),
    };
    let expiry = match expires_at {
        Some(at) => format!("expiring {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => "without expiry".to_string(),
    };
    let limited = match scope {
        Some(scope) => format!(" limited to {scope}"),
        None => String::new(),
    };
    Entry::new(
        actor,
        Action::TokenCreated,
        format!("created API token {name} with role {role}{limited}, {expiry}"),
    )
    .detail(json!({
        "token": name,
        "role": role,
        "scope": scope.map(Scope::terms),
        "expires_at": expires_at,
    }))
    .record(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((token, secret))
}

/// Active tokens (not revoked), expired ones included so they can be cleaned up.
pub async fn list(pool: &PgPool) -> Result<Vec<ApiToken>, TokenError> {
    let rows = sqlx::query_as!(
        TokenRow,
        "SELECT name, role, scope, created_by, created_at, expires_at, last_used_at \
         FROM api_tokens \
         WHERE revoked_at IS NULL ORDER BY lower(name)",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn revoke(pool: &PgPool, actor: &str, name: &str) -> Result<(), TokenError> {
    let mut tx = pool.begin().await?;
    let revoked = sqlx::query_scalar!(
        "UPDATE api_tokens SET revoked_at = now() \
         WHERE lower(name) = lower($1) AND revoked_at IS NULL RETURNING name",
        name,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(revoked) = revoked else {
        return Err(TokenError::NotFound(name.to_string()));
    };
    Entry::new(
        actor,
        Action::TokenRevoked,
        format!("revoked API token {revoked}"),
    )
    .detail(json!({ "token": revoked }))
    .record(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who a bearer token speaks for, if it is active and unexpired.
pub async fn resolve(pool: &PgPool, secret: &str) -> Result<Option<Identity>, sqlx::Error> {
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    // Its use is written down at most once a minute: a read stays a read.
    let row = sqlx::query!(
        r#"WITH live AS (
               SELECT id, name, role, scope, last_used_at FROM api_tokens
               WHERE token_hash = $1 AND revoked_at IS NULL
                 AND (expires_at IS NULL OR expires_at > now())),
           noted AS (
               UPDATE api_tokens SET last_used_at = now()
               WHERE id IN (SELECT id FROM live
                            WHERE last_used_at IS NULL
                               OR last_used_at < now() - interval '1 minute'))
           SELECT name AS "name!", role AS "role!", scope FROM live"#,
        secret::digest(secret),
    )
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Identity {
            role: super::stored_role(&row.role)?,
            name: row.name,
            credential: Credential::Token,
            scope: super::stored_scope(row.scope)?,
        })
    })
    .transpose()
}
