//! Work one process does at a time when several `trailkeeper serve` share a primary: each S3
//! trail stream, each LookupEvents account × region, the inventory sync, housekeeping.
//!
//! A claim is a PostgreSQL session advisory lock, taken on a connection of the claims' own
//! (not the pool pages and ingest use) and held while the work runs. PostgreSQL lets go of it
//! the moment that connection ends, so a server killed mid-work (kill -9, a lost host) frees
//! its claims at once: no lease to wait out, no claim row to clean up. Whoever claims next
//! starts from the stored checkpoint, which moves only in the transaction of the events it
//! covers.

use std::future::Future;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

/// The first key of claims' two-key advisory locks ("clai" in ASCII); the second is the
/// hash of the claim's name.
const CLAIM_LOCK: i32 = 0x636c_6169;
/// How many claims one process holds at once; further work waits its turn.
const HELD_AT_ONCE: u32 = 16;

/// How a process's workers claim their work. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct Claims {
    connections: Option<PgPool>,
}

impl Claims {
    /// Claims shared with every other process on the store `pool` reaches.
    pub fn shared(pool: &PgPool) -> Self {
        let connections = PgPoolOptions::new()
            .max_connections(HELD_AT_ONCE)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(60))
            // Waiting for a turn is waiting for other work to end, which may take hours
            // (a 90-day LookupEvents backfill).
            .acquire_timeout(Duration::from_secs(24 * 3600))
            .connect_lazy_with((*pool.connect_options()).clone());
        Claims {
            connections: Some(connections),
        }
    }

    /// No claims: a one-off command (`trailkeeper ingest`) does everything it is asked to.
    /// Work done twice stores nothing twice (events are keyed by their id, checkpoints only
    /// move forward); claims save the double reading.
    pub fn unshared() -> Self {
        Claims { connections: None }
    }

    /// Runs `work` while holding the claim `name`, unless another process holds it: then
    /// `Ok(None)` and `work` is not run.
    pub async fn run<T, E>(
        &self,
        name: &str,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<Option<T>, E>
    where
        E: From<sqlx::Error>,
    {
        let Some(connections) = &self.connections else {
            return work.await.map(Some);
        };
        let Some(held) = Held::take(connections.acquire().await?, name).await? else {
            return Ok(None);
        };
        let outcome = work.await;
        held.release().await;
        outcome.map(Some)
    }
}

/// A claim taken. Dropped without [`Held::release`] (its work cancelled), its connection is
/// closed rather than pooled, which lets go of the claim.
struct Held<'a> {
    connection: PoolConnection<Postgres>,
    name: &'a str,
    released: bool,
}

impl<'a> Held<'a> {
    async fn take(
        mut connection: PoolConnection<Postgres>,
        name: &'a str,
    ) -> Result<Option<Held<'a>>, sqlx::Error> {
        let taken = sqlx::query_scalar!(
            r#"SELECT pg_try_advisory_lock($1, hashtext($2)) AS "taken!""#,
            CLAIM_LOCK,
            name,
        )
        .fetch_one(&mut *connection)
        .await;
        match taken {
            Ok(true) => Ok(Some(Held {
                connection,
                name,
                released: false,
            })),
            Ok(false) => Ok(None),
            Err(error) => {
                connection.close_on_drop();
                Err(error)
            }
        }
    }

    async fn release(mut self) {
        let unlocked = sqlx::query_scalar!(
            "SELECT pg_advisory_unlock($1, hashtext($2))",
            CLAIM_LOCK,
            self.name,
        )
        .fetch_one(&mut *self.connection)
        .await;
        // A claim that cannot be let go of goes with its connection.
        self.released = matches!(unlocked, Ok(Some(true)));
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.released {
            self.connection.close_on_drop();
        }
    }
}
