//! What the store says about the pipeline, read at each scrape: how far behind each source
//! is, whether syncs succeed, the active findings, the alert deliveries waiting or dead.
//! Read from the database, so every server sharing it reports the same values, whichever
//! of them did the work.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sqlx::{PgConnection, PgPool};
use std::sync::atomic::AtomicU64;
use std::time::Instant;

type Value = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    account: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    kind: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

fn set<L: Clone + std::hash::Hash + Eq>(family: &Family<L, Value>, labels: L, value: f64) {
    family.get_or_create(&labels).set(value);
}

/// Registers the pipeline's gauges with their values now. When the store cannot be read,
/// `trailkeeper_store_up` is 0 and the other series are left out.
pub async fn register(registry: &mut Registry, pool: &PgPool) {
    let up = Value::default();
    registry.register("store_up", "1 when the store could be read", up.clone());
    let pool_connections = Family::<PoolLabels, Value>::default();
    registry.register(
        "db_pool_connections",
        "This server's connections to the database, in use or idle",
        pool_connections.clone(),
    );
    let idle = pool.num_idle() as f64;
    set(
        &pool_connections,
        PoolLabels {
            state: "idle".into(),
        },
        idle,
    );
    set(
        &pool_connections,
        PoolLabels {
            state: "in_use".into(),
        },
        f64::from(pool.size()) - idle,
    );
    // sqlx does not count the requests queued for a connection; how long this scrape
    // queued for one says the same: zero until every connection is in use.
    let waited = Value::default();
    registry.register(
        "db_pool_wait_seconds",
        "How long this scrape waited for one of this server's database connections",
        waited.clone(),
    );
    let asked = Instant::now();
    let connection = pool.acquire().await;
    waited.set(asked.elapsed().as_secs_f64());
    let outcome = match connection {
        Ok(mut db) => read(registry, &mut db).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => {
            up.set(1.0);
        }
        Err(error) => tracing::warn!(%error, "metrics: the store could not be read"),
    }
}

async fn read(registry: &mut Registry, db: &mut PgConnection) -> Result<(), sqlx::Error> {
    let newest = Family::<SourceLabels, Value>::default();
    let lag = Family::<SourceLabels, Value>::default();
    for row in sqlx::query!(
        r#"SELECT source, extract(epoch FROM newest_event_time)::float8 AS "newest!",
                  extract(epoch FROM now() - newest_event_time)::float8 AS "lag!"
           FROM ingest_checkpoints WHERE newest_event_time IS NOT NULL"#
    )
    .fetch_all(&mut *db)
    .await?
    {
        let labels = SourceLabels { source: row.source };
        set(&newest, labels.clone(), row.newest);
        set(&lag, labels, row.lag);
    }
    let polled = Family::<SourceLabels, Value>::default();
    let failing = Family::<SourceLabels, Value>::default();
    for row in sqlx::query!(
        r#"SELECT source, extract(epoch FROM polled_at)::float8 AS "polled!",
                  error IS NOT NULL AS "failing!"
           FROM ingest_polls"#
    )
    .fetch_all(&mut *db)
    .await?
    {
        let labels = SourceLabels { source: row.source };
        set(&polled, labels.clone(), row.polled);
        set(&failing, labels, if row.failing { 1.0 } else { 0.0 });
    }
    let quarantined: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM quarantine"#)
        .fetch_one(&mut *db)
        .await?;

    let synced = Family::<SyncLabels, Value>::default();
    let sync_failing = Family::<SyncLabels, Value>::default();
    for row in sqlx::query!(
        r#"SELECT account_id AS "account!", region,
                  extract(epoch FROM max(finished_at) FILTER (WHERE outcome = 'succeeded'))::float8
                      AS last_success,
                  count(*) FILTER (WHERE outcome IN ('failed', 'partial') AND started_at >
                      COALESCE((SELECT max(s.started_at) FROM sync_runs s
                                WHERE s.account_id = r.account_id AND s.region = r.region
                                  AND s.outcome = 'succeeded'), '-infinity')) AS "failures!"
           FROM sync_runs r WHERE account_id IS NOT NULL GROUP BY account_id, region"#
    )
    .fetch_all(&mut *db)
    .await?
    {
        let labels = SyncLabels {
            account: row.account,
            region: row.region,
        };
        if let Some(at) = row.last_success {
            set(&synced, labels.clone(), at);
        }
        set(&sync_failing, labels, row.failures as f64);
    }

    // Opened findings are counted from the store, so the total is the same on every server
    // and a finding opened in a transaction that rolled back is not counted.
    let findings = Family::<FindingLabels, Value>::default();
    let opened = Family::<FindingLabels, Counter>::default();
    for row in sqlx::query!(
        r#"SELECT kind, severity, count(*) AS "opened!",
                  count(*) FILTER (WHERE status IN ('open', 'acknowledged')) AS "active!"
           FROM findings GROUP BY kind, severity"#
    )
    .fetch_all(&mut *db)
    .await?
    {
        let labels = FindingLabels {
            kind: row.kind,
            severity: row.severity,
        };
        if row.active > 0 {
            set(&findings, labels.clone(), row.active as f64);
        }
        opened
            .get_or_create(&labels)
            .inc_by(u64::try_from(row.opened).unwrap_or(0));
    }

    let deliveries = Family::<DeliveryLabels, Value>::default();
    for row in sqlx::query!(
        r#"SELECT c.name AS channel, d.status, count(*) AS "count!"
           FROM alert_deliveries d JOIN alert_channels c ON c.id = d.channel_id
           WHERE d.status IN ('pending', 'dead') GROUP BY c.name, d.status"#
    )
    .fetch_all(&mut *db)
    .await?
    {
        let labels = DeliveryLabels {
            channel: row.channel,
            status: row.status,
        };
        set(&deliveries, labels, row.count as f64);
    }

    registry.register(
        "source_newest_event_timestamp_seconds",
        "The newest event time a source (S3 prefix, LookupEvents region) has delivered",
        newest,
    );
    registry.register(
        "source_lag_seconds",
        "How far behind now a source's newest delivered event is",
        lag,
    );
    registry.register(
        "source_last_poll_timestamp_seconds",
        "When a configured source was last read",
        polled,
    );
    registry.register(
        "source_failing",
        "1 when a configured source's last read failed",
        failing,
    );
    let quarantine = Value::default();
    quarantine.set(quarantined as f64);
    registry.register(
        "quarantined_records",
        "Records and files set aside because they could not be read",
        quarantine,
    );
    registry.register(
        "sync_last_success_timestamp_seconds",
        "When an account × region's inventory sync last succeeded",
        synced,
    );
    registry.register(
        "sync_failures",
        "An account × region's failed or partial syncs since its last success",
        sync_failing,
    );
    registry.register(
        "findings_active",
        "Open and acknowledged findings, by kind and severity",
        findings,
    );
    registry.register(
        "findings_opened",
        "Findings ever opened, by kind and severity",
        opened,
    );
    registry.register(
        "alert_deliveries",
        "Alert deliveries waiting to be sent (pending) or given up on (dead), by channel",
        deliveries,
    );
    Ok(())
}
