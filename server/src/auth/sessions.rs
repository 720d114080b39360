//! Browser sessions in the store. The cookie holds a random 256-bit id; the store holds its
//! digest. A session ends when it has been idle too long, at its absolute lifetime, or when
//! it is revoked: at sign-out, and for all of a user's sessions when the user is disabled,
//! changes role or gets a new password.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use trailkeeper_app::access::{Credential, Identity};

use super::secret;

/// The cookie's value starts with this, so a leaked one is recognisable in a scan.
const PREFIX: &str = "tks_";

/// How long sessions last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub lifetime: Duration,
}

impl Default for SessionPolicy {
    /// OWASP's guidance for applications that hold sensitive data: a short idle timeout and
    /// a working day at most.
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// A session just created: the secret goes into the cookie, and nowhere else.
#[derive(Debug)]
pub struct NewSession {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

/// A live session and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub identity: Identity,
}

pub async fn create(
    executor: impl PgExecutor<'_>,
    user_id: i64,
    policy: SessionPolicy,
    address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<NewSession, sqlx::Error> {
    let (secret, digest) = secret::generate(PREFIX);
    let expires_at = sqlx::query_scalar!(
        "INSERT INTO sessions (token_hash, user_id, expires_at, address, user_agent) \
         VALUES ($1, $2, now() + make_interval(secs => $3), $4, $5) RETURNING expires_at",
        digest,
        user_id,
        policy.lifetime.as_secs_f64(),
        address,
        user_agent.map(|agent| agent.chars().take(256).collect::<String>()),
    )
    .fetch_one(executor)
    .await?;
    Ok(NewSession { secret, expires_at })
}

/// The session a cookie names, if it is still live; using it counts as activity. Activity
/// is written down at most every tenth of the idle timeout (a minute at most), not on every
/// request: a page view stays a read, with no commit to wait for.
pub async fn resolve(
    pool: &PgPool,
    secret: &str,
    policy: SessionPolicy,
) -> Result<Option<Session>, sqlx::Error> {
    if !secret.starts_with(PREFIX) {
        return Ok(None);
    }
    let noted_every = (policy.idle_timeout / 10).min(Duration::from_secs(60));
    let row = sqlx::query!(
        r#"WITH live AS (
               SELECT s.id, s.last_seen_at, u.id AS user_id, u.name, u.role, u.scope
               FROM sessions AS s JOIN users AS u ON u.id = s.user_id
               WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
                 AND s.last_seen_at > now() - make_interval(secs => $2)
                 AND u.disabled_at IS NULL),
           noted AS (
               UPDATE sessions SET last_seen_at = now()
               WHERE id IN (SELECT id FROM live
                            WHERE last_seen_at < now() - make_interval(secs => $3)))
           SELECT id AS "id!", user_id AS "user_id!", name AS "name!", role AS "role!", scope
           FROM live"#,
        secret::digest(secret),
        policy.idle_timeout.as_secs_f64(),
        noted_every.as_secs_f64(),
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Session {
        id: row.id,
        user_id: row.user_id,
        identity: Identity {
            role: super::stored_role(&row.role)?,
            name: row.name,
            credential: Credential::Session,
            scope: super::stored_scope(row.scope)?,
        },
    }))
}

/// Ends the session a cookie names; true when it was live.
pub async fn revoke(executor: impl PgExecutor<'_>, secret: &str) -> Result<bool, sqlx::Error> {
    let ended = sqlx::query!(
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        secret::digest(secret),
    )
    .execute(executor)
    .await?;
    Ok(ended.rows_affected() > 0)
}

/// Ends every session of a user; returns how many were live.
pub async fn revoke_all_of_user(
    executor: impl PgExecutor<'_>,
    user_id: i64,
) -> Result<u64, sqlx::Error> {
    let ended = sqlx::query!(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )
    .execute(executor)
    .await?;
    Ok(ended.rows_affected())
}
