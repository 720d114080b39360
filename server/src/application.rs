//! `trailkeeper serve` as one value the binary and the tests both start: the web router over
//! the store, the workers that feed it (inventory sync, CloudTrail sources, alert delivery,
//! housekeeping) and the listener.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use serde_json::json;
use sqlx::PgPool;

use crate::admin::approvals;
use crate::alert::channels::Senders;
use crate::alert::sealing::{KeyError, SealingKey};
use crate::alert::{Alerting, DeliverySettings};
use crate::audit::{Action, Entry, SYSTEM_ACTOR};
use crate::auth::oidc::Oidc;
use crate::auth::sign_in::{self, SignInLimits};
use crate::aws::accounts::AccountSettings;
use crate::config::{ServeSettings, Settings};
use crate::db::Database;
use crate::db::claims::Claims;
use crate::detect::{self, conditions};
use crate::ingest::after_ingest;
use crate::ingest::partitions;
use crate::ingest::sources::lookup::Lookup;
use crate::ingest::sources::s3::S3Trail;
use crate::ingest::sources::sqs::SqsNotices;
use crate::ingest::sources::{EventSource, poll_and_record};
use crate::inventory::sync::{self, sync_regions};
use crate::{aws, web};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot use {} and {} for TLS (set by TRAILKEEPER_TLS_CERT and TRAILKEEPER_TLS_KEY)",
        cert.display(),
        key.display()
    )]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        source: std::io::Error,
    },
    #[error("alert channels' secrets need a key (TRAILKEEPER_SECRET_KEY)")]
    SealingKey(#[source] KeyError),
    #[error("cannot listen on {listen} (set by TRAILKEEPER_LISTEN or --listen)")]
    Listen {
        listen: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    NoRegion(#[from] aws::NoRegion),
    #[error("the store failed")]
    Store(#[from] sqlx::Error),
}

/// The server, built and listening, with its workers running; [`Application::run`] serves.
pub struct Application {
    listener: TcpListener,
    tls: Option<RustlsConfig>,
    router: Router,
    url: String,
}

impl Application {
    /// Builds the server on a migrated `database`: binds the listener (port 0 picks a free
    /// one), starts the workers and records the start in the audit log.
    pub async fn build(
        database: &Database,
        settings: &Settings,
        serve: ServeSettings,
    ) -> Result<Application, StartError> {
        let tls = match &serve.tls {
            Some(files) => Some(
                RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|source| StartError::Tls {
                        cert: files.cert.clone(),
                        key: files.key.clone(),
                        source,
                    })?,
            ),
            None => None,
        };
        let key = settings.sealing_key().map_err(StartError::SealingKey)?;
        let aws_config = aws::load_config().await;
        let pool = database.pool();
        // Shared with the other servers on this database, so no two do the same work.
        let claims = Claims::shared(pool);
        spawn_inventory_sync(
            pool.clone(),
            claims.clone(),
            aws_config.clone(),
            serve.accounts.clone(),
            serve.regions.clone(),
            serve.sync_interval,
        );
        spawn_ingest(
            pool.clone(),
            &claims,
            &aws_config,
            &serve,
            settings.max_file_bytes,
        )?;
        spawn_housekeeping(
            pool.clone(),
            claims,
            serve.retention_days,
            SignInLimits::default(),
        );

        let listener = TcpListener::bind(serve.listen)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|source| StartError::Listen {
                listen: serve.listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartError::Listen {
            listen: serve.listen,
            source,
        })?;
        let url = served_url(tls.is_some(), address);
        Entry::new(
            SYSTEM_ACTOR,
            Action::ServiceStarted,
            format!("Trailkeeper {VERSION} started, serving {url}"),
        )
        .detail(json!({ "version": VERSION, "listen": address.to_string(), "tls": tls.is_some() }))
        .record(pool)
        .await?;

        let context = web_context(database, settings, serve, &aws_config, key, address, &url);
        tokio::spawn(context.alerting.clone().supervise(pool.clone()));
        let router = web::router(context);
        Ok(Application {
            listener,
            tls,
            router,
            url,
        })
    }

    /// What the router of [`Application::build`] serves with, from the same settings, without
    /// listening, starting workers or recording a start: for tests of the web layer, which
    /// drive `web::router(context)` in-process.
    pub async fn web_context(
        database: &Database,
        settings: &Settings,
        serve: ServeSettings,
    ) -> Result<web::WebContext, StartError> {
        let key = settings.sealing_key().map_err(StartError::SealingKey)?;
        let aws_config = aws::load_config().await;
        let url = served_url(serve.tls.is_some(), serve.listen);
        let address = serve.listen;
        Ok(web_context(
            database,
            settings,
            serve,
            &aws_config,
            key,
            address,
            &url,
        ))
    }

    /// Where it serves, such as `http://127.0.0.1:3000`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish (up to 10 s).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let handle = axum_server::Handle::new();
        tokio::spawn({
            let handle = handle.clone();
            async move {
                shutdown.await;
                handle.graceful_shutdown(Some(Duration::from_secs(10)));
            }
        });
        match self.tls {
            Some(tls) => {
                axum_server::from_tcp_rustls(self.listener, tls)
                    .handle(handle)
                    .serve(app)
                    .await
            }
            None => {
                axum_server::from_tcp(self.listener)
                    .handle(handle)
                    .serve(app)
                    .await
            }
        }
    }
}

/// Where a server listening on `address` is reached.
fn served_url(tls: bool, address: SocketAddr) -> String {
    format!("{}://{address}", if tls { "https" } else { "http" })
}

/// The router's context for a server reached at `url` (listening on `address`).
fn web_context(
    database: &Database,
    settings: &Settings,
    serve: ServeSettings,
    aws_config: &SdkConfig,
    key: SealingKey,
    address: SocketAddr,
    url: &str,
) -> web::WebContext {
    let public_url = serve.public_url.clone().unwrap_or_else(|| url.to_string());
    web::WebContext {
        pool: database.pool().clone(),
        database_location: database.location().to_string(),
        aws_config: aws_config.clone(),
        listen: address,
        auth: web::AuthSettings {
            sessions: serve.sessions,
            limits: SignInLimits::default(),
            // Behind a proxy that terminates TLS, people still reach us over HTTPS.
            tls: url.starts_with("https://") || public_url.starts_with("https://"),
            trusted_proxies: serve.trusted_proxies.clone(),
        },
        alerting: Alerting {
            key,
            senders: Senders::reaching(settings.alert_destinations.clone())
                .with_aws(aws_config.clone()),
            settings: DeliverySettings::new(public_url.clone()),
        },
        max_file_bytes: settings.max_file_bytes,
        read_only: serve.read_only,
        org_external_id: serve.accounts.external_id.clone(),
        approvals: serve.approvals,
        replica: serve.read_replica.map(|replica| web::replica::Replica {
            pool: crate::db::replica_pool(replica.database),
            max_lag: replica.max_lag,
        }),
        sso: serve
            .oidc
            .map(|oidc| Oidc::new(oidc, format!("{public_url}/login/sso/callback"))),
    }
}

/// Syncs at once, then every `interval`, and re-evaluates the inventory's conditions after
/// each run. Each run is stored in `sync_runs`; a failing run is logged and the next one
/// tries again. Among several servers one syncs at a time, and a sync another server started
/// within half an interval counts as this one's.
fn spawn_inventory_sync(
    pool: PgPool,
    claims: Claims,
    config: aws_config::SdkConfig,
    accounts: AccountSettings,
    regions: Vec<String>,
    interval: Duration,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let sync = async {
                if sync::started_within(&pool, interval / 2).await? {
                    return Ok(Vec::new());
                }
                sync_regions(&pool, &config, &accounts, &regions).await
            };
            match claims.run("inventory sync", sync).await {
                Ok(None) => {}
                Ok(Some(summaries)) => {
                    if let Err(error) = conditions::after_sync(&pool, &summaries).await {
                        tracing::error!(%error, "inventory findings not re-evaluated");
                    }
                    for summary in summaries {
                        if summary.errors.is_empty() {
                            tracing::info!("inventory sync: {}", summary.describe());
                        } else {
                            tracing::warn!(errors = ?summary.errors, "inventory sync: {}", summary.describe());
                        }
                    }
                }
                Err(error) => tracing::error!(%error, "inventory sync failed"),
            }
        }
    });
}

/// Reads each configured CloudTrail source at its interval (the SQS queue continuously). A
/// failing poll is logged and recorded, and the next one tries again.
fn spawn_ingest(
    pool: PgPool,
    claims: &Claims,
    config: &aws_config::SdkConfig,
    serve: &ServeSettings,
    max_file_bytes: u64,
) -> Result<(), aws::NoRegion> {
    if let Some(interval) = serve.lookup_interval {
        let regions = aws::regions(config, &serve.regions)?;
        let (pool, claims, config, accounts) = (
            pool.clone(),
            claims.clone(),
            config.clone(),
            serve.accounts.clone(),
        );
        tokio::spawn(async move {
            // The Organization may not answer at once: asked again at each interval.
            let accounts = loop {
                match aws::accounts::discover(&config, &accounts).await {
                    Ok(accounts) => break accounts,
                    Err(error) => {
                        tracing::error!(%error, "LookupEvents waits for the accounts");
                        tokio::time::sleep(interval).await;
                    }
                }
            };
            for source in Lookup::everywhere(&accounts, &regions, None) {
                let source = source.with_claims(claims.clone());
                spawn_source(pool.clone(), Box::new(source), interval);
            }
        });
    }
    for url in &serve.s3_trails {
        let source = S3Trail::new(aws::s3(config), url.clone())
            .with_max_file_bytes(max_file_bytes)
            .with_claims(claims.clone());
        spawn_source(pool.clone(), Box::new(source), serve.s3_interval);
    }
    if let Some(queue_url) = &serve.sqs_queue_url {
        let source = SqsNotices::new(
            aws::sqs(config),
            aws::s3(config),
            queue_url,
            Duration::from_secs(20),
            serve.sqs_buckets.clone(),
        )
        .with_max_file_bytes(max_file_bytes);
        spawn_source(pool, Box::new(source), Duration::from_secs(1));
    }
    Ok(())
}

fn spawn_source(pool: PgPool, source: Box<dyn EventSource>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let name = source.name();
        loop {
            ticks.tick().await;
            match poll_and_record(source.as_ref(), &pool, &|_| {}).await {
                Ok(totals) if totals.new > 0 => {
                    tracing::info!(
                        source = %name,
                        new = totals.new,
                        duplicates = totals.duplicates,
                        quarantined = totals.quarantined,
                        "ingested CloudTrail events"
                    );
                    if let Err(error) = after_ingest(&pool).await {
                        tracing::error!(%error, "re-assessing secrets after an ingest failed");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(source = %name, %error, "reading CloudTrail failed"),
            }
        }
    });
}

/// At start and every hour: drops the months of events that fell out of the retention
/// period (when there is one), forgets detector memories past their use and failed sign-ins
/// too old to count. Among several servers, the one holding the claim does it.
fn spawn_housekeeping(
    pool: PgPool,
    claims: Claims,
    retention_days: Option<u32>,
    limits: SignInLimits,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(3600));
        loop {
            ticks.tick().await;
            let kept = claims.run("housekeeping", housekeeping(&pool, retention_days, limits));
            if let Err(error) = kept.await {
                tracing::error!(%error, "housekeeping could not claim its turn");
            }
        }
    });
}

async fn forget_detector_memories(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let settings = detect::settings::in_force(pool).await?;
    detect::engine::forget(&mut *pool.acquire().await?, &settings).await
}

async fn housekeeping(
    pool: &PgPool,
    retention_days: Option<u32>,
    limits: SignInLimits,
) -> Result<(), sqlx::Error> {
    if let Some(days) = retention_days {
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        match partitions::drop_before(pool, cutoff).await {
            Ok(dropped) if dropped.is_empty() => {}
            Ok(dropped) => tracing::info!(
                ?dropped,
                "dropped events older than the {days}-day retention period"
            ),
            Err(error) => tracing::error!(%error, "dropping expired events failed"),
        }
    }
    match forget_detector_memories(pool).await {
        Ok(0) => {}
        Ok(forgotten) => tracing::info!(forgotten, "forgot detector memories past their use"),
        Err(error) => tracing::error!(%error, "forgetting old detector memories failed"),
    }
    if let Err(error) = sign_in::purge_old_failures(pool, limits).await {
        tracing::error!(%error, "forgetting old failed sign-ins failed");
    }
    if let Err(error) = approvals::resolve_expired(pool).await {
        tracing::error!(%error, "resolving expired change requests' findings failed");
    }
    Ok(())
}
