//! Signing in with a user name and password: throttled per account and per client address,
//! verified off the async threads, and recorded in the audit log whatever the outcome. The
//! password itself is never logged or stored.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Semaphore;

use super::password;
use super::sessions::{self, NewSession, SessionPolicy};
use super::users::{self, User, UserError};
use crate::audit::{Action, Entry, Outcome};

/// How many failed sign-ins are allowed within a window before more are refused unchecked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInLimits {
    pub per_account: i64,
    pub per_address: i64,
    pub window: Duration,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            per_account: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// One attempt, as the browser sent it.
pub struct Attempt<'a> {
    pub name: &'a str,
    pub password: &'a str,
    /// The client's address; `unknown` when the server could not tell.
    pub address: &'a str,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong password, unknown or disabled user: the browser is not told which.
    #[error("the user name or password is wrong")]
    Invalid,
    #[error("too many failed sign-ins; try again in {} s", retry_after.as_secs())]
    Throttled { retry_after: Duration },
    #[error("the user store failed")]
    Store(#[from] sqlx::Error),
}

impl From<UserError> for SignInError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::Store(error) => SignInError::Store(error),
            _ => SignInError::Invalid,
        }
    }
}

/// Argon2id takes 19 MiB and tens of milliseconds per verification; a flood of sign-ins must
/// not take all the memory or every blocking thread.
static VERIFICATIONS: Semaphore = Semaphore::const_new(4);

/// Checks the attempt and, when it is right, opens a session for the user.
pub async fn sign_in(
    pool: &PgPool,
    attempt: Attempt<'_>,
    policy: SessionPolicy,
    limits: SignInLimits,
) -> Result<(User, NewSession), SignInError> {
    // Hostile input is cut to what a real name can be before it is stored anywhere.
    let name: String = attempt.name.trim().chars().take(64).collect();
    let audit = |outcome: Outcome, summary: String| {
        Entry::new(&name, Action::SignIn, summary)
            .from_address(Some(attempt.address))
            .outcome(outcome)
    };

    // The attempt is counted as a failure before the password is checked, under a lock on
    // the account and the address: concurrent attempts cannot all pass the limit together.
    // A right password takes its reservation back.
    if let Err(retry_after) = reserve_attempt(pool, &name, attempt.address, limits).await? {
        tracing::warn!(user = %name, address = attempt.address, "sign-in refused: too many failures");
        audit(
            Outcome::Denied,
            format!("sign-in as {name} refused: too many failed attempts"),
        )
        .record(pool)
        .await?;
        return Err(SignInError::Throttled { retry_after });
    }

    let credentials = users::credentials(pool, &name).await?;
    let stored_hash = credentials
        .as_ref()
        .and_then(|found| found.password_hash.clone());
    let password = attempt.password.to_string();
    let matches = {
        let _permit = VERIFICATIONS
            .acquire()
            .await
            .expect("the semaphore is never closed");
        tokio::task::spawn_blocking(move || match stored_hash {
            Some(stored) => password::verify(&password, &stored),
            None => {
                password::verify_against_nothing(&password);
                false
            }
        })
        .await
        .expect("password verification panicked")
    };

    let why_not = match &credentials {
        None => Some("no such user"),
        Some(found) if found.user.disabled_at.is_some() => Some("the user is disabled"),
        Some(_) if !matches => Some("wrong password"),
        Some(_) => None,
    };
    if let Some(reason) = why_not {
        tracing::warn!(user = %name, address = attempt.address, reason, "sign-in failed");
        // The reservation made above stays: it is this failure.
        audit(
            Outcome::Failure,
            format!("sign-in as {name} failed: {reason}"),
        )
        .detail(json!({ "reason": reason }))
        .record(pool)
        .await?;
        return Err(SignInError::Invalid);
    }

    let user = credentials.expect("checked above").user;
    let mut tx = pool.begin().await?;
    let session = open_session(
        &mut tx,
        &user,
        policy,
        attempt.address,
        attempt.user_agent,
        "",
        json!({}),
    )
    .await?;
    // A success clears the account's failures (its own reservation among them); the audit
    // log keeps them.
    sqlx::query!(
        "DELETE FROM sign_in_failures WHERE lower(account) = lower($1)",
        user.name,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.name, address = attempt.address, "signed in");
    Ok((user, session))
}

/// A sign-in that succeeded, however it was proven: opens the session and records it in the
/// audit log, in the caller's transaction. `how` ends the audit summary (" through single
/// sign-on"); `detail` says more.
pub(crate) async fn open_session(
    tx: &mut PgConnection,
    user: &User,
    policy: SessionPolicy,
    address: &str,
    user_agent: Option<&str>,
    how: &str,
    detail: Value,
) -> Result<NewSession, sqlx::Error> {
    let session = sessions::create(&mut *tx, user.id, policy, Some(address), user_agent).await?;
    Entry::new(
        &user.name,
        Action::SignIn,
        format!("{} signed in with role {}{how}", user.name, user.role),
    )
    .detail(detail)
    .from_address(Some(address))
    .record(&mut *tx)
    .await?;
    Ok(session)
}

/// Lock namespaces (the first key of PostgreSQL's two-key advisory locks) for sign-ins.
const ACCOUNT_LOCK: i32 = 0x5349_4e41;
const ADDRESS_LOCK: i32 = 0x5349_4e42;

/// Counts one attempt against the account and the address, unless either is over its limit:
/// then how long until the oldest counted failure leaves the window. Concurrent attempts on
/// one account or address take turns here, so each sees the others' reservations.
async fn reserve_attempt(
    pool: &PgPool,
    name: &str,
    address: &str,
    limits: SignInLimits,
) -> Result<Result<(), Duration>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Always the account first, then the address: two attempts never wait on each other in a
    // circle.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock($1, hashtext(lower($2)))",
        ACCOUNT_LOCK,
        name,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        ADDRESS_LOCK,
        address,
    )
    .execute(&mut *tx)
    .await?;
    if let Some(retry_after) = throttled(&mut tx, name, address, limits).await? {
        return Ok(Err(retry_after));
    }
    sqlx::query!(
        "INSERT INTO sign_in_failures (account, address) VALUES ($1, $2)",
        name,
        address,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// When the account or the address has failed too often within the window: how long until
/// the oldest counted failure leaves it.
async fn throttled(
    connection: &mut PgConnection,
    name: &str,
    address: &str,
    limits: SignInLimits,
) -> Result<Option<Duration>, sqlx::Error> {
    let window = limits.window.as_secs_f64();
    let failures = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE lower(account) = lower($1)) AS "by_account!",
                  min(failed_at) FILTER (WHERE lower(account) = lower($1)) AS oldest_account,
                  count(*) FILTER (WHERE address = $2) AS "by_address!",
                  min(failed_at) FILTER (WHERE address = $2) AS oldest_address
           FROM sign_in_failures
           WHERE failed_at > now() - make_interval(secs => $3)
             AND (lower(account) = lower($1) OR address = $2)"#,
        name,
        address,
        window,
    )
    .fetch_one(connection)
    .await?;
    let oldest = if failures.by_account >= limits.per_account {
        failures.oldest_account
    } else if failures.by_address >= limits.per_address {
        failures.oldest_address
    } else {
        return Ok(None);
    };
    let frees_at = oldest.unwrap_or_else(Utc::now)
        + chrono::Duration::from_std(limits.window).unwrap_or_default();
    Ok(Some(
        (frees_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::from_secs(1)),
    ))
}

/// Forgets failed sign-ins old enough to count for nothing (they arrive with anonymous
/// traffic, so they would grow without end); the audit log keeps every attempt.
pub async fn purge_old_failures(pool: &PgPool, limits: SignInLimits) -> Result<u64, sqlx::Error> {
    let kept = limits.window.max(Duration::from_secs(24 * 3600));
    let purged = sqlx::query!(
        "DELETE FROM sign_in_failures WHERE failed_at < now() - make_interval(secs => $1)",
        kept.as_secs_f64(),
    )
    .execute(pool)
    .await?;
    Ok(purged.rows_affected())
}

/// Ends the session a cookie names and records who signed out.
pub async fn sign_out(
    pool: &PgPool,
    session_secret: &str,
    name: &str,
    address: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if sessions::revoke(&mut *tx, session_secret).await? {
        Entry::new(name, Action::SignOut, format!("{name} signed out"))
            .from_address(Some(address))
            .record(&mut *tx)
            .await?;
    }
    tx.commit().await
}
