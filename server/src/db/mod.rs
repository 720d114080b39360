//! The store: one PostgreSQL database, either the operator's (`DATABASE_URL`) or Trailkeeper's
//! private cluster under the data directory.

pub mod claims;
pub mod embedded;
mod scoped;

use std::path::PathBuf;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use trailkeeper_app::AppError;
use trailkeeper_app::api::overview::DatabaseStatus;

use embedded::{EmbeddedError, EmbeddedPostgres};
pub use scoped::{Reader, Reading};

pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Where the database is, as configured.
#[derive(Debug, Clone)]
pub enum DatabaseSource {
    /// The operator's database, served through `serving` (`DATABASE_URL`) and migrated
    /// through `migrating` (`TRAILKEEPER_MIGRATE_DATABASE_URL`, the schema's owner) when
    /// given, else through `serving` too.
    External {
        serving: Box<PgConnectOptions>,
        migrating: Option<Box<PgConnectOptions>>,
    },
    Embedded {
        data_dir: PathBuf,
    },
}

/// The group role migration 0017 grants what serving needs; nothing more.
pub const SERVING_ROLE: &str = "trailkeeper_serving";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("private PostgreSQL")]
    Embedded(#[from] EmbeddedError),
    #[error("cannot connect to PostgreSQL at {location}")]
    Connect {
        location: String,
        source: sqlx::Error,
    },
    #[error("cannot create the database `trailkeeper` or its serving role in the private cluster")]
    CreateDatabase(#[source] sqlx::Error),
    #[error("cannot apply the database migrations")]
    Migrate(#[from] MigrateError),
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
}

/// An open connection pool, plus the private cluster behind it when there is one.
#[derive(Debug)]
pub struct Database {
    pool: PgPool,
    location: String,
    /// How to reach the database as the schema's owner, when serving is another role.
    migrating: Option<PgConnectOptions>,
    embedded: Option<EmbeddedPostgres>,
}

/// A migration that `Database::migrate` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

impl Database {
    /// Connects, starting (and on first use creating) the private cluster when configured.
    pub async fn open(source: &DatabaseSource) -> Result<Self, DbError> {
        match source {
            DatabaseSource::External { serving, migrating } => {
                let location = describe_external(serving);
                let pool = connect(serving.as_ref().clone(), &location).await?;
                Ok(Database {
                    pool,
                    location,
                    migrating: migrating.as_deref().cloned(),
                    embedded: None,
                })
            }
            DatabaseSource::Embedded { data_dir } => {
                let data_dir = data_dir.clone();
                let cluster =
                    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir))
                        .await
                        .expect("starting the private PostgreSQL panicked")?;
                let location = format!("private cluster in {}", cluster.cluster_dir().display());
                let pool = match open_embedded_pool(&cluster, &location).await {
                    Ok(pool) => pool,
                    Err(error) => {
                        release(cluster).await;
                        return Err(error);
                    }
                };
                Ok(Database {
                    pool,
                    location,
                    migrating: Some(cluster.connect_options()),
                    embedded: Some(cluster),
                })
            }
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Where the database is, without credentials, for people to read.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Options for another program to reach the same database (`trailkeeper db run`, an
    /// operator's tool): as the schema's owner where that is another role.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.migrating
            .clone()
            .unwrap_or_else(|| self.pool.connect_options().as_ref().clone())
    }

    /// A short-lived pool as the schema's owner, or the serving pool when they are one.
    async fn owner_pool(&self) -> Result<PgPool, DbError> {
        match &self.migrating {
            Some(options) => PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await
                .map_err(|source| DbError::Connect {
                    location: format!("{} (as the schema's owner)", self.location),
                    source,
                }),
            None => Ok(self.pool.clone()),
        }
    }

    /// Applies pending migrations as the schema's owner; returns those it applied, oldest
    /// first.
    pub async fn migrate(&self) -> Result<Vec<AppliedMigration>, DbError> {
        let owner = self.owner_pool().await?;
        let before = applied_versions(&owner).await?;
        let ran = MIGRATOR.run(&owner).await;
        if self.migrating.is_some() {
            owner.close().await;
        }
        ran?;
        Ok(MIGRATOR
            .iter()
            .filter(|migration| {
                migration.migration_type.is_up_migration() && !before.contains(&migration.version)
            })
            .map(|migration| AppliedMigration {
                version: migration.version,
                description: migration.description.to_string(),
            })
            .collect())
    }

    /// Migrations this binary knows that the database has not applied yet.
    pub async fn pending_migrations(&self) -> Result<usize, DbError> {
        let owner = self.owner_pool().await?;
        let applied = applied_versions(&owner).await;
        if self.migrating.is_some() {
            owner.close().await;
        }
        Ok(apart(&applied?).0)
    }

    /// Closes the pool, then leaves the private cluster (stopping it if no other process uses it).
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(cluster) = self.embedded {
            release(cluster).await;
        }
    }
}

async fn release(cluster: EmbeddedPostgres) {
    let released = tokio::task::spawn_blocking(move || cluster.release())
        .await
        .expect("stopping the private PostgreSQL panicked");
    if let Err(error) = released {
        tracing::error!(%error, "could not stop the private PostgreSQL");
    }
}

/// Reads what the Overview shows about the database.
pub async fn status(pool: &PgPool, location: &str) -> Result<DatabaseStatus, sqlx::Error> {
    let server = sqlx::query!(
        r#"SELECT current_setting('server_version') AS "version!",
                  pg_database_size(current_database()) AS "size_bytes!""#
    )
    .fetch_one(pool)
    .await?;
    let schema = sqlx::query!(
        "SELECT version, description FROM _sqlx_migrations WHERE success \
         ORDER BY version DESC LIMIT 1"
    )
    .fetch_one(pool)
    .await?;
    Ok(DatabaseStatus {
        server_version: format!("PostgreSQL {}", server.version),
        location: location.to_string(),
        schema_version: schema.version,
        schema_description: schema.description,
        size_bytes: server.size_bytes,
    })
}

/// How this binary's migrations and `pool`'s database differ: how many this binary knows
/// that the database has not applied, and how many the database has that it does not know.
pub async fn migrations_apart(pool: &PgPool) -> Result<(usize, usize), sqlx::Error> {
    Ok(apart(&applied_versions(pool).await?))
}

fn apart(applied: &[i64]) -> (usize, usize) {
    let pending = MIGRATOR
        .iter()
        .filter(|migration| !applied.contains(&migration.version))
        .count();
    let unknown = applied
        .iter()
        .filter(|version| {
            !MIGRATOR
                .iter()
                .any(|migration| migration.version == **version)
        })
        .count();
    (pending, unknown)
}

async fn applied_versions(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    let table_exists =
        sqlx::query_scalar!(r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "exists!""#)
            .fetch_one(pool)
            .await?;
    if !table_exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await
}

/// A pool on a read replica, connecting as it is first used: a replica that is down stops
/// only the reads that need it (and readiness says so), not the server from starting.
pub fn replica_pool(options: PgConnectOptions) -> PgPool {
    pool_options().connect_lazy_with(options)
}

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
}

async fn connect(options: PgConnectOptions, location: &str) -> Result<PgPool, DbError> {
    pool_options()
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect {
            location: location.to_string(),
            source,
        })
}

async fn open_embedded_pool(cluster: &EmbeddedPostgres, location: &str) -> Result<PgPool, DbError> {
    let maintenance = connect(cluster.connect_options().database("postgres"), location).await?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        embedded::DATABASE,
    )
    .fetch_one(&maintenance)
    .await
    .map_err(DbError::CreateDatabase)?;
    if !exists {
        let created = sqlx::query(&format!("CREATE DATABASE {}", embedded::DATABASE))
            .execute(&maintenance)
            .await;
        match created {
            Ok(_) => {}
            // Another trailkeeper process created it a moment ago.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => {}
            Err(error) => return Err(DbError::CreateDatabase(error)),
        }
    }
    // The login role Trailkeeper serves as: in the group migration 0017 grants to, owning
    // nothing. Roles belong to the cluster, so this is done once for all its databases.
    for role in [
        format!("CREATE ROLE {SERVING_ROLE} NOLOGIN"),
        format!(
            "CREATE ROLE {} LOGIN IN ROLE {SERVING_ROLE}",
            embedded::SERVING_LOGIN
        ),
    ] {
        sqlx::query(&format!(
            "DO $$ BEGIN {role}; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .execute(&maintenance)
        .await
        .map_err(DbError::CreateDatabase)?;
    }
    maintenance.close().await;
    connect(
        cluster.connect_options().username(embedded::SERVING_LOGIN),
        location,
    )
    .await
}

fn describe_external(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or("(default database)");
    match options.get_socket() {
        Some(socket) => format!("database {database} via socket {}", socket.display()),
        None => format!(
            "database {database} on {}:{}",
            options.get_host(),
            options.get_port()
        ),
    }
}

/// Where a page of a newest-first list ended: its last row's time and id. Clients get it
/// as an opaque token and hand it back for the next page.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cursor<Id> {
    pub time: chrono::DateTime<chrono::Utc>,
    pub id: Id,
}

/// What a list says of a cursor it did not give out.
pub const FOREIGN_CURSOR: &str = "the cursor is not one this list gave out; start again without it";

impl<Id: serde::Serialize + serde::de::DeserializeOwned> Cursor<Id> {
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// `None` for a cursor this list did not give out.
    pub fn decode(text: &str) -> Option<Cursor<Id>> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    }
}

/// Why a page of a list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    InvalidCursor(&'static str),
    #[error("the store failed")]
    Store(#[from] sqlx::Error),
}

impl From<ReadError> for AppError {
    fn from(error: ReadError) -> AppError {
        match error {
            ReadError::InvalidCursor(message) => AppError::Invalid {
                parameter: Some("cursor".into()),
                message: message.into(),
            },
            ReadError::Store(error) => AppError::store(error),
        }
    }
}

/// `LIKE` treats `%` and `_` as wildcards; a search means them literally.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_in_searches_match_themselves() {
        assert_eq!(escape_like("user_1%"), "user\\_1\\%");
        assert_eq!(escape_like("a\\b"), "a\\\\b");
    }
}
