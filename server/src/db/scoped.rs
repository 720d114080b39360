//! Reads on someone's behalf. A scoped person's reads run in a read-only transaction as
//! `trailkeeper_scoped` with their scope in `trailkeeper.scope`, where migration 0023's
//! policies decide which rows exist for them: every query, count, chart and export sees the
//! same part of the store, whichever page or route asked.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use trailkeeper_app::scope::Scope;

/// The store as one person may read it.
#[derive(Clone, Debug)]
pub struct Reader {
    /// The primary: writes go here.
    pool: PgPool,
    /// Where reads go: a read replica (`TRAILKEEPER_READ_DATABASE_URL`), or the primary.
    reads: PgPool,
    scope: Option<Arc<Scope>>,
}

/// A connection to read through; as a [`PgConnection`] it runs any read query.
pub enum Reading {
    Everything(PoolConnection<Postgres>),
    Scoped(Transaction<'static, Postgres>),
}

impl Reader {
    /// For someone limited to `scope`, or (`None`) for someone who sees everything.
    pub fn within(pool: PgPool, scope: Option<Scope>) -> Reader {
        Reader {
            reads: pool.clone(),
            pool,
            scope: scope.map(Arc::new),
        }
    }

    /// The same reader, reading from `reads` (a replica of its pool's database).
    pub fn reading_from(self, reads: PgPool) -> Reader {
        Reader { reads, ..self }
    }

    /// The same reader (and the same place to read from), limited to `scope` instead.
    pub fn limited_to(&self, scope: Option<Scope>) -> Reader {
        Reader {
            scope: scope.map(Arc::new),
            ..self.clone()
        }
    }

    pub fn everything(pool: PgPool) -> Reader {
        Reader::within(pool, None)
    }

    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_deref()
    }

    /// The pool itself, for writes (which check what they touch through a read first).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection whose reads see what this reader may see.
    pub async fn read(&self) -> Result<Reading, sqlx::Error> {
        let Some(scope) = &self.scope else {
            return Ok(Reading::Everything(self.reads.acquire().await?));
        };
        let mut transaction = self.reads.begin().await?;
        // For this transaction only: read-only, as the scoped role, with the scope set.
        sqlx::query(
            "SELECT set_config('transaction_read_only', 'on', true), \
                    set_config('role', 'trailkeeper_scoped', true), \
                    set_config('trailkeeper.scope', $1, true)",
        )
        .bind(policy_terms(scope).to_string())
        .execute(&mut *transaction)
        .await?;
        Ok(Reading::Scoped(transaction))
    }
}

/// The scope as the policies read it: tags as one-pair objects, so `tags @> term` matches.
fn policy_terms(scope: &Scope) -> Value {
    json!({
        "accounts": scope.accounts,
        "tags": scope
            .tags
            .iter()
            .map(|(key, value)| json!({ key: value }))
            .collect::<Vec<_>>(),
        "prefixes": scope.prefixes,
    })
}

impl Deref for Reading {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Reading::Everything(connection) => connection,
            Reading::Scoped(transaction) => transaction,
        }
    }
}

impl DerefMut for Reading {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Reading::Everything(connection) => connection,
            Reading::Scoped(transaction) => transaction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_reach_the_policies_as_objects_a_secrets_tags_can_contain() {
        let scope: Scope = "team=payments,111111111111,payments/*".parse().unwrap();
        assert_eq!(
            policy_terms(&scope),
            json!({
                "accounts": ["111111111111"],
                "tags": [{ "team": "payments" }],
                "prefixes": ["payments/"],
            })
        );
    }
}
