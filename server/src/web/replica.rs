//! Reads from a streaming read replica (`TRAILKEEPER_READ_DATABASE_URL`), everything else on
//! the primary. Someone who just changed something must see it: each request that may have
//! written (any but GET and HEAD) leaves a cookie with the primary's WAL position after it,
//! and until the replica has replayed that far, that person's reads go to the primary.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use cookie::{Cookie, SameSite};
use sqlx::PgPool;

use super::AppState;
use super::access::cookie_value;
use crate::db::Reader;

/// The primary's WAL position after the request's writes (`0/16B3748`).
pub const WROTE_COOKIE: &str = "trailkeeper_wrote";

/// How long the cookie asks for fresh reads: far longer than a healthy replica lags.
const WROTE_FOR: Duration = Duration::from_secs(600);

/// A streaming replica of the primary's database.
pub struct Replica {
    pub pool: PgPool,
    /// How far behind it may fall before this server is not ready.
    pub max_lag: Duration,
}

/// Where this request's reads go.
#[derive(Clone)]
pub struct ReadPool(pub PgPool);

/// `reader`, reading from where `choose` sent this request's reads (when there is a replica).
pub fn for_request(reader: Reader, parts: &Parts) -> Reader {
    match parts.extensions.get::<ReadPool>() {
        Some(ReadPool(reads)) => reader.reading_from(reads.clone()),
        None => reader,
    }
}

/// Chooses the request's [`ReadPool`], and after a request that may have written, sets the
/// cookie that keeps this person's reads on the primary until the replica has caught up.
pub async fn choose(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(replica) = &state.replica else {
        return next.run(request).await;
    };
    let reads = match wrote_at(request.headers()) {
        Some(position) if !replayed(&replica.pool, &position).await => state.pool.clone(),
        _ => replica.pool.clone(),
    };
    request.extensions_mut().insert(ReadPool(reads));
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let mut response = next.run(request).await;
    let done = response.status().is_success() || response.status().is_redirection();
    if writes
        && done
        && let Ok(position) = written(&state.pool).await
    {
        let cookie = Cookie::build((WROTE_COOKIE, position))
            .path("/")
            .http_only(true)
            .secure(state.auth.tls)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(WROTE_FOR.as_secs() as i64));
        if let Ok(value) = cookie.to_string().parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The WAL position a request's cookie names, if it names one (anything else is ignored).
fn wrote_at(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, WROTE_COOKIE).filter(|position| is_wal_position(position))
}

/// `X/Y`, each one to eight hexadecimal digits: PostgreSQL's `pg_lsn` text form.
fn is_wal_position(text: &str) -> bool {
    let hex =
        |part: &str| (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_hexdigit());
    text.split_once('/')
        .is_some_and(|(high, low)| hex(high) && hex(low))
}

/// Whether the replica has replayed the primary's WAL up to `position` (if it cannot say, it
/// has not).
async fn replayed(replica: &PgPool, position: &str) -> bool {
    sqlx::query_scalar::<_, Option<bool>>("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
        .bind(position)
        .fetch_one(replica)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The primary's WAL position now: everything committed so far is before it.
async fn written(primary: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(primary)
        .await
}

/// How far the replica is behind the primary: zero when it has replayed all the primary has
/// written, else the time since the last transaction it replayed.
pub async fn lag(primary: &PgPool, replica: &PgPool) -> Result<Duration, sqlx::Error> {
    let written = written(primary).await?;
    let (caught_up, behind): (Option<bool>, Option<f64>) = sqlx::query_as(
        "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn, \
                extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8",
    )
    .bind(&written)
    .fetch_one(replica)
    .await?;
    Ok(match (caught_up, behind) {
        (Some(true), _) => Duration::ZERO,
        (_, Some(seconds)) => Duration::from_secs_f64(seconds.max(0.0)),
        // Not a replica, or one that has replayed nothing yet.
        (_, None) => Duration::MAX,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_wal_position_is_taken_from_the_cookie() {
        let position = |cookie: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, cookie.parse().unwrap());
            wrote_at(&headers)
        };
        assert_eq!(
            position("trailkeeper_session=abc; trailkeeper_wrote=0/16B3748"),
            Some("0/16B3748".into())
        );
        assert_eq!(position("trailkeeper_wrote=A1/0"), Some("A1/0".into()));
        for hostile in [
            "trailkeeper_wrote=0/16B3748'; DROP TABLE events; --",
            "trailkeeper_wrote=",
            "trailkeeper_wrote=16B3748",
            "trailkeeper_wrote=123456789/0",
            "trailkeeper_wrote=0/zz",
            "trailkeeper_session=0/1",
        ] {
            assert_eq!(position(hostile), None, "{hostile}");
        }
    }
}
