//! What this process has done, counted as it does it, for `/metrics`: per source the units
//! read, events stored, records quarantined and failed reads; detection's batch latency;
//! alert delivery's latency and the delivery worker's restarts. Each server counts its own
//! (Prometheus sums them); what every server reports alike is read from the store at each
//! scrape (`web::pipeline_metrics`).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// This process's counters, from its start.
pub static ACTIVITY: LazyLock<Activity> = LazyLock::new(Activity::default);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
}

pub struct Activity {
    units_read: Family<SourceLabels, Counter>,
    events_stored: Family<SourceLabels, Counter>,
    quarantined: Family<SourceLabels, Counter>,
    read_errors: Family<SourceLabels, Counter>,
    detection_batches: Histogram,
    deliveries: Family<DeliveryLabels, Histogram>,
    worker_restarts: Family<WorkerLabels, Counter>,
}

/// The workers supervised and restarted when they end.
const WORKERS: [&str; 1] = ["alert_delivery"];

/// The kinds of delivery (the `alert_delivery.kind` column's own check).
const DELIVERY_KINDS: [&str; 4] = ["alert", "digest", "overflow", "test"];

impl Default for Activity {
    fn default() -> Self {
        let activity = Activity {
            units_read: Family::default(),
            events_stored: Family::default(),
            quarantined: Family::default(),
            read_errors: Family::default(),
            // 1 ms to about 33 s.
            detection_batches: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            // 100 ms to about 15 hours: a delivery may wait out a receiver's long outage.
            deliveries: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.1, 2.0, 20))
            }),
            worker_restarts: Family::default(),
        };
        // At zero from the start, so the first restart or delivery is an increase Prometheus
        // sees, and the shipped rules read series that exist.
        for kind in DELIVERY_KINDS {
            drop(activity.deliveries.get_or_create(&DeliveryLabels {
                kind: kind.to_string(),
            }));
        }
        for worker in WORKERS {
            activity
                .worker_restarts
                .get_or_create(&WorkerLabels {
                    worker: worker.to_string(),
                })
                .inc_by(0);
        }
        activity
    }
}

impl Activity {
    /// A poll of `source` read `units` (files, objects, pages) holding `new` events to store
    /// and `quarantined` records set aside.
    pub fn polled(&self, source: &str, units: u64, new: u64, quarantined: u64) {
        let labels = SourceLabels {
            source: source.to_string(),
        };
        self.units_read.get_or_create(&labels).inc_by(units);
        self.events_stored.get_or_create(&labels).inc_by(new);
        self.quarantined.get_or_create(&labels).inc_by(quarantined);
    }

    /// A poll of `source` failed.
    pub fn poll_failed(&self, source: &str) {
        self.read_errors
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .inc();
    }

    /// A batch of stored events went through detection in `took`.
    pub fn detected(&self, took: Duration) {
        self.detection_batches.observe(took.as_secs_f64());
    }

    /// A delivery of `kind` (`alert`, `digest`, `overflow`, `test`) reached its channel
    /// `waited` after it was made.
    pub fn delivered(&self, kind: &str, waited: Duration) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                kind: kind.to_string(),
            })
            .observe(waited.as_secs_f64());
    }

    /// A worker (`alert_delivery`) ended and was started again.
    pub fn worker_restarted(&self, worker: &str) {
        self.worker_restarts
            .get_or_create(&WorkerLabels {
                worker: worker.to_string(),
            })
            .inc();
    }

    /// Adds this process's series (shared with its counters) to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "source_units_read",
            "Trail files, objects and LookupEvents pages this server read, by source",
            self.units_read.clone(),
        );
        registry.register(
            "source_events_stored",
            "New events this server stored, by source",
            self.events_stored.clone(),
        );
        registry.register(
            "source_records_quarantined",
            "Records and files this server set aside, by source",
            self.quarantined.clone(),
        );
        registry.register(
            "source_read_errors",
            "Reads of a source that failed on this server",
            self.read_errors.clone(),
        );
        registry.register(
            "detection_batch_duration_seconds",
            "Time to run detection over one stored batch of events",
            self.detection_batches.clone(),
        );
        registry.register(
            "alert_delivery_latency_seconds",
            "Time from a delivery being made to its channel accepting it, by delivery kind",
            self.deliveries.clone(),
        );
        registry.register(
            "worker_restarts",
            "Times a background worker ended and was started again",
            self.worker_restarts.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_count_per_source_and_failures_apart() {
        let activity = Activity::default();
        activity.polled("s3://trails/AWSLogs/", 2, 700, 1);
        activity.polled("s3://trails/AWSLogs/", 2, 700, 1);
        activity.poll_failed("LookupEvents in us-east-1");
        activity.delivered("alert", Duration::from_millis(250));
        let mut registry = Registry::with_prefix("trailkeeper");
        activity.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            r#"trailkeeper_source_events_stored_total{source="s3://trails/AWSLogs/"} 1400"#,
            r#"trailkeeper_source_units_read_total{source="s3://trails/AWSLogs/"} 4"#,
            r#"trailkeeper_source_records_quarantined_total{source="s3://trails/AWSLogs/"} 2"#,
            r#"trailkeeper_source_read_errors_total{source="LookupEvents in us-east-1"} 1"#,
            r#"trailkeeper_alert_delivery_latency_seconds_bucket{le="0.4",kind="alert"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains(r#"read_errors_total{source="s3"#), "{text}");
        for line in [
            r#"trailkeeper_worker_restarts_total{worker="alert_delivery"} 0"#,
            r#"trailkeeper_alert_delivery_latency_seconds_count{kind="digest"} 0"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
