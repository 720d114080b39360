//! The delivery worker, in every `serve` process: woken by the outbox's NOTIFY (or by the
//! next retry falling due), it routes waiting alerts, claims due deliveries with
//! `FOR UPDATE SKIP LOCKED` (several servers never send the same one), sends them, and
//! records each attempt. A failure is retried with exponential backoff and jitter (or when
//! the receiver's `Retry-After` says) for up to a day, then the delivery dies with its last
//! error. A claim is a lease: a server that stops mid-send leaves the delivery due again a
//! minute later, so nothing is lost — at worst a message arrives twice with the same id.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use trailkeeper_app::api::alerts::{Delivery, DeliveryKind, DeliveryStatus};

use super::channels::{self, Failure, Receipt, Retry, Senders};
use super::message::{self, Message};
use super::route;
use super::sealing::SealingKey;
use super::{WAKE_CHANNEL, log, setup};
use crate::activity::ACTIVITY;
use crate::audit::{Action, Entry};
use crate::findings::triage::Actor;
use trailkeeper_app::AppError;

/// Deliveries claimed per round.
const CLAIM_BATCH: i64 = 50;
/// Deliveries sent at once.
const SENDING: usize = 8;

/// How delivery behaves; the defaults are the product's, tests shorten the waits.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// Where people reach Trailkeeper: messages link to findings under it.
    pub dashboard: String,
    pub first_retry: Duration,
    pub longest_retry: Duration,
    pub give_up_after: Duration,
    /// How long a claimed delivery is held before another sender may take it.
    pub lease: Duration,
    /// Per channel: at most this many messages per window; the rest fold into one.
    pub throttle_messages: i64,
    pub throttle_window: Duration,
}

impl DeliverySettings {
    pub fn new(dashboard: impl Into<String>) -> DeliverySettings {
        DeliverySettings {
            dashboard: dashboard.into().trim_end_matches('/').to_string(),
            first_retry: Duration::from_secs(10),
            longest_retry: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(60),
            throttle_messages: 30,
            throttle_window: Duration::from_secs(600),
        }
    }

    /// The wait before attempt `attempts + 1`: doubling from the first retry up to the
    /// longest, with jitter so a receiver coming back is not hit by every sender at once.
    pub fn backoff(&self, attempts: i32, jitter: f64) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .first_retry
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.longest_retry);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// What sending alerts needs, shared by the worker and the web layer (for test messages).
#[derive(Clone, Debug)]
pub struct Alerting {
    pub key: SealingKey,
    pub senders: Senders,
    pub settings: DeliverySettings,
}

/// A delivery this sender holds.
struct Claimed {
    id: String,
    channel_id: i64,
    kind: String,
    attempts: i32,
    /// When the give-up clock started: made, or last retried by a person.
    since: DateTime<Utc>,
    digest_minutes: Option<i32>,
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source works");
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

impl Alerting {
    /// Runs the worker for as long as the process lives: should it ever end (a bug that
    /// panicked outside any one delivery), it is logged and started again, waiting a little
    /// longer each time so a crash loop does not spin.
    pub async fn supervise(self, pool: PgPool) {
        let mut wait = Duration::from_secs(1);
        loop {
            let started = Instant::now();
            let ended = tokio::spawn(self.clone().run(pool.clone())).await;
            match ended {
                Err(error) if error.is_panic() => {
                    let reason = panic_message(error.into_panic().as_ref());
                    tracing::error!(%reason, "the alert delivery worker panicked; restarting it");
                }
                _ => tracing::error!("the alert delivery worker stopped; restarting it"),
            }
            ACTIVITY.worker_restarted("alert_delivery");
            if started.elapsed() > Duration::from_secs(300) {
                wait = Duration::from_secs(1);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    }

    /// Runs until the process ends: a pass at start (whatever waited across a restart), then
    /// one whenever woken or a retry falls due.
    pub async fn run(self, pool: PgPool) {
        let mut listener = loop {
            match listen(&pool).await {
                Ok(listener) => break listener,
                Err(error) => {
                    tracing::warn!(%error, "alert delivery cannot listen for new alerts; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        };
        loop {
            let wait = match self.pass(&pool).await {
                Ok(()) => self
                    .until_next_due(&pool)
                    .await
                    .unwrap_or(Duration::from_secs(5)),
                Err(error) => {
                    tracing::warn!(%error, "alert delivery failed a round; trying again shortly");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                woken = listener.recv() => {
                    if let Err(error) = woken {
                        tracing::warn!(%error, "alert delivery lost its wake-up connection");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Routes what waits, then sends everything due.
    pub async fn pass(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        route::route_waiting(pool).await?;
        loop {
            let claimed = self.claim(pool).await?;
            if claimed.is_empty() {
                return Ok(());
            }
            let results: Vec<Result<(), sqlx::Error>> = futures::stream::iter(claimed)
                .map(|delivery| self.attempt(pool, delivery))
                .buffer_unordered(SENDING)
                .collect()
                .await;
            results.into_iter().collect::<Result<(), _>>()?;
        }
    }

    async fn until_next_due(&self, pool: &PgPool) -> Result<Duration, sqlx::Error> {
        let next: Option<DateTime<Utc>> = sqlx::query_scalar!(
            "SELECT min(next_attempt_at) FROM alert_deliveries d \
             JOIN alert_channels c ON c.id = d.channel_id AND c.enabled \
             WHERE d.status IN ('collecting', 'pending')"
        )
        .fetch_one(pool)
        .await?;
        // A disabled channel's deliveries wait for it; look again now and then.
        let most = Duration::from_secs(60);
        Ok(next.map_or(most, |at| {
            (at - Utc::now()).to_std().unwrap_or_default().min(most)
        }))
    }

    /// Claims due deliveries of enabled channels, folding alerts over a channel's throttle
    /// into its overflow message.
    async fn claim(&self, pool: &PgPool) -> Result<Vec<Claimed>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let claimed: Vec<Claimed> = sqlx::query_as!(
            Claimed,
            r#"WITH due AS (
                 SELECT d.id FROM alert_deliveries d
                 JOIN alert_channels c ON c.id = d.channel_id AND c.enabled
                 WHERE d.status IN ('collecting', 'pending') AND d.next_attempt_at <= now()
                 ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED)
             UPDATE alert_deliveries d SET status = 'pending', attempts = d.attempts + 1,
                 next_attempt_at = now() + make_interval(secs => $2)
             FROM due WHERE d.id = due.id
             RETURNING d.id::text AS "id!", d.channel_id, d.kind, d.attempts,
                 COALESCE(d.retried_at, d.created_at) AS "since!",
                 (SELECT digest_minutes FROM alert_rules r WHERE r.id = d.rule_id)
                     AS digest_minutes"#,
            CLAIM_BATCH,
            self.settings.lease.as_secs_f64()
        )
        .fetch_all(&mut *tx)
        .await?;
        let claimed_ids: Vec<String> = claimed.iter().map(|d| d.id.clone()).collect();
        let mut sending = Vec::new();
        let mut sent_in_window: std::collections::HashMap<i64, i64> = Default::default();
        for delivery in claimed {
            if delivery.kind == "alert" {
                let window = match sent_in_window.get(&delivery.channel_id) {
                    Some(count) => *count,
                    None => {
                        self.sent_in_window(&mut tx, delivery.channel_id, &claimed_ids)
                            .await?
                    }
                };
                if window >= self.settings.throttle_messages {
                    self.fold(&mut tx, &delivery).await?;
                    continue;
                }
                sent_in_window.insert(delivery.channel_id, window + 1);
            }
            sending.push(delivery);
        }
        tx.commit().await?;
        Ok(sending)
    }

    /// Messages a channel has had in the throttle window, or has on their way from other
    /// claims than this one.
    async fn sent_in_window(
        &self,
        tx: &mut sqlx::PgConnection,
        channel_id: i64,
        claiming: &[String],
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM alert_deliveries
             WHERE channel_id = $1 AND kind = 'alert' AND (
                 (status = 'delivered' AND delivered_at > now() - make_interval(secs => $2))
                 OR (status = 'pending' AND attempts > 0 AND next_attempt_at > now()
                     AND id::text <> ALL ($3)))"#,
            channel_id,
            self.settings.throttle_window.as_secs_f64(),
            claiming
        )
        .fetch_one(&mut *tx)
        .await
    }

    /// Moves an alert over the throttle into the channel's overflow message, which goes when
    /// the window has room again.
    async fn fold(
        &self,
        tx: &mut sqlx::PgConnection,
        delivery: &Claimed,
    ) -> Result<(), sqlx::Error> {
        let overflow: String = sqlx::query_scalar!(
            r#"WITH existing AS (
                 SELECT id FROM alert_deliveries WHERE channel_id = $1 AND kind = 'overflow'
                 AND status = 'collecting' LIMIT 1),
             made AS (
                 INSERT INTO alert_deliveries (channel_id, kind, status, next_attempt_at)
                 SELECT $1, 'overflow', 'collecting',
                     COALESCE((SELECT min(delivered_at) FROM alert_deliveries
                               WHERE channel_id = $1 AND status = 'delivered'
                               AND delivered_at > now() - make_interval(secs => $2)), now())
                     + make_interval(secs => $2)
                 WHERE NOT EXISTS (SELECT 1 FROM existing) RETURNING id)
             SELECT id::text AS "id!" FROM existing UNION ALL SELECT id::text FROM made"#,
            delivery.channel_id,
            self.settings.throttle_window.as_secs_f64()
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!("UPDATE alert_delivery_items SET delivery_id = $1::text::uuid WHERE delivery_id = $2::text::uuid", overflow, delivery.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM alert_deliveries WHERE id = $1::text::uuid",
            delivery.id
        )
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    async fn message(&self, pool: &PgPool, delivery: &Claimed) -> Result<Message, Failure> {
        let kind = DeliveryKind::parse(&delivery.kind).unwrap_or(DeliveryKind::Alert);
        if kind == DeliveryKind::Test {
            return Ok(Message::test(delivery.id.clone(), &self.settings.dashboard));
        }
        let alerts = message::alerts(pool, &delivery.id, &self.settings.dashboard)
            .await
            .map_err(|error| Failure {
                error: format!("cannot read the alerts to send: {error}"),
                response_code: None,
                retry: Retry::Backoff,
            })?;
        if alerts.is_empty() {
            return Err(Failure {
                error: "the findings it was about no longer exist".into(),
                response_code: None,
                retry: Retry::Never,
            });
        }
        Ok(Message {
            delivery_id: delivery.id.clone(),
            kind,
            sent_at: Utc::now(),
            alerts,
            digest_minutes: delivery.digest_minutes,
        })
    }

    async fn send(&self, pool: &PgPool, delivery: &Claimed) -> Result<Receipt, Failure> {
        let channel = setup::openable(pool, &self.key, delivery.channel_id)
            .await
            .map_err(|error| Failure {
                error: format!("the channel cannot be used: {error}"),
                response_code: None,
                retry: Retry::Never,
            })?;
        let sender =
            channels::open(channel.kind, &channel.config, &self.senders).map_err(|error| {
                Failure {
                    error: format!("the channel {:?} cannot be used: {error}", channel.name),
                    response_code: None,
                    retry: Retry::Never,
                }
            })?;
        let message = self.message(pool, delivery).await?;
        sender.send(&message).await
    }

    /// Sends a delivery; a panic while sending (a bug, or a hostile answer that found one)
    /// fails this delivery with the reason instead of taking the worker down with it.
    async fn send_guarded(&self, pool: &PgPool, delivery: &Claimed) -> Result<Receipt, Failure> {
        AssertUnwindSafe(self.send(pool, delivery))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let reason = panic_message(panic.as_ref());
                tracing::error!(delivery = %delivery.id, %reason, "sending an alert panicked");
                Err(Failure {
                    error: format!("Trailkeeper failed while sending this message: {reason}"),
                    response_code: None,
                    retry: Retry::Never,
                })
            })
    }

    /// Sends one claimed delivery and records how it went.
    async fn attempt(&self, pool: &PgPool, delivery: Claimed) -> Result<(), sqlx::Error> {
        let started = Instant::now();
        let outcome = self.send_guarded(pool, &delivery).await;
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        self.record(pool, &delivery, outcome, latency_ms).await
    }

    async fn record(
        &self,
        pool: &PgPool,
        delivery: &Claimed,
        outcome: Result<Receipt, Failure>,
        latency_ms: i32,
    ) -> Result<(), sqlx::Error> {
        let (outcome, retry_at) = match outcome {
            Ok(receipt) => (Ok(receipt), None),
            Err(mut failure) => {
                let retry_at =
                    self.retry_at(delivery.since, delivery.attempts, failure.retry, Utc::now());
                if let Err(GiveUp::AskedTooLong(asked)) = retry_at {
                    failure.error = format!(
                        "{}; it asked to be retried after {}, later than alerts are kept \
                         trying ({}), so this delivery was given up",
                        failure.error,
                        humantime::format_duration(asked),
                        humantime::format_duration(self.settings.give_up_after)
                    );
                }
                (Err(failure), retry_at.ok())
            }
        };
        let mut tx = pool.begin().await?;
        let (delivered, code, error) = match &outcome {
            Ok(receipt) => (true, receipt.response_code, None),
            Err(failure) => (false, failure.response_code, Some(failure.error.clone())),
        };
        sqlx::query!(
            "INSERT INTO alert_attempts (delivery_id, delivered, response_code, error, latency_ms) \
             VALUES ($1::text::uuid, $2, $3, $4, $5)",
            delivery.id,
            delivered,
            code,
            error,
            latency_ms
        )
        .execute(&mut *tx)
        .await?;
        // Only the holder of this attempt's claim settles it.
        let claim = "id = $1::text::uuid AND attempts = $2 AND status = 'pending'";
        match outcome {
            Ok(_) => {
                let waited = (Utc::now() - delivery.since).to_std().unwrap_or_default();
                ACTIVITY.delivered(&delivery.kind, waited);
                sqlx::query(&format!(
                    "UPDATE alert_deliveries SET status = 'delivered', delivered_at = now(), \
                     last_error = NULL WHERE {claim}"
                ))
                .bind(&delivery.id)
                .bind(delivery.attempts)
                .execute(&mut *tx)
                .await?;
            }
            Err(failure) => {
                if retry_at.is_none() {
                    tracing::warn!(delivery = %delivery.id, error = %failure.error, "alert delivery gave up");
                }
                sqlx::query(&format!(
                    "UPDATE alert_deliveries SET status = $3, \
                     next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5 \
                     WHERE {claim}"
                ))
                .bind(&delivery.id)
                .bind(delivery.attempts)
                .bind(if retry_at.is_some() {
                    "pending"
                } else {
                    "dead"
                })
                .bind(retry_at)
                .bind(&failure.error)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await
    }

    /// When to try a failed delivery again, or why not: never past the give-up horizon, and
    /// with checked arithmetic, since a receiver's `Retry-After` can ask for any time at all.
    fn retry_at(
        &self,
        since: DateTime<Utc>,
        attempts: i32,
        retry: Retry,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, GiveUp> {
        let wait = match retry {
            Retry::Never => return Err(GiveUp::Refused),
            Retry::After(asked) if asked > self.settings.give_up_after => {
                return Err(GiveUp::AskedTooLong(asked));
            }
            Retry::After(asked) => asked.max(Duration::from_secs(1)),
            Retry::Backoff => self.settings.backoff(attempts, jitter()),
        };
        let deadline = chrono::Duration::from_std(self.settings.give_up_after)
            .ok()
            .and_then(|horizon| since.checked_add_signed(horizon))
            .ok_or(GiveUp::Expired)?;
        chrono::Duration::from_std(wait)
            .ok()
            .and_then(|wait| now.checked_add_signed(wait))
            .filter(|at| *at <= deadline)
            .ok_or(GiveUp::Expired)
    }

    /// Sends a test message to a channel now and says how it went; a failed test is not
    /// retried.
    pub async fn send_test(
        &self,
        pool: &PgPool,
        channel_id: i64,
        requested_by: &str,
    ) -> Result<String, sqlx::Error> {
        let delivery: Claimed = sqlx::query_as!(
            Claimed,
            r#"INSERT INTO alert_deliveries (channel_id, kind, attempts, requested_by,
                 next_attempt_at) VALUES ($1, 'test', 1, $2, now() + make_interval(secs => $3))
             RETURNING id::text AS "id!", channel_id, kind, attempts, created_at AS since,
                 NULL::integer AS digest_minutes"#,
            channel_id,
            requested_by,
            self.settings.lease.as_secs_f64()
        )
        .fetch_one(pool)
        .await?;
        let started = Instant::now();
        let outcome = self
            .send_guarded(pool, &delivery)
            .await
            .map_err(|failure| Failure {
                retry: Retry::Never,
                ..failure
            });
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        self.record(pool, &delivery, outcome, latency_ms).await?;
        Ok(delivery.id)
    }
}

/// Why a failed delivery is not tried again.
#[derive(Debug, PartialEq)]
enum GiveUp {
    /// The failure needs a person (a 404, a refused address).
    Refused,
    /// The next try would fall after the give-up horizon.
    Expired,
    /// The receiver asked for a wait longer than the whole horizon.
    AskedTooLong(Duration),
}

/// What a panic said, for the log.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|said| (*said).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(WAKE_CHANNEL).await?;
    Ok(listener)
}

/// Sends a test message to channel `id` now and returns how it went.
pub async fn test_channel(
    pool: &PgPool,
    alerting: &Alerting,
    actor: &Actor<'_>,
    id: i64,
) -> Result<Delivery, AppError> {
    let channel = setup::channel(pool, id).await?;
    let delivery_id = alerting.send_test(pool, id, actor.name).await?;
    let delivery = log::get(pool, &delivery_id).await?;
    let outcome = match delivery.status {
        DeliveryStatus::Delivered => "delivered".to_string(),
        _ => format!(
            "failed: {}",
            delivery.last_error.as_deref().unwrap_or("no answer")
        ),
    };
    Entry::new(
        actor.name,
        Action::AlertTestSent,
        format!(
            "sent a test message to the alert channel {:?}: {outcome}",
            channel.name
        ),
    )
    .detail(json!({ "channel_id": id, "delivery_id": delivery_id,
                    "delivered": delivery.status == DeliveryStatus::Delivered }))
    .from_address(actor.address)
    .record(pool)
    .await?;
    Ok(delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_longest_wait_with_jitter_below_it() {
        let settings = DeliverySettings::new("http://127.0.0.1:3000");
        assert_eq!(settings.backoff(1, 1.0), Duration::from_secs(10));
        assert_eq!(settings.backoff(2, 1.0), Duration::from_secs(20));
        assert_eq!(settings.backoff(4, 1.0), Duration::from_secs(80));
        assert_eq!(settings.backoff(40, 1.0), Duration::from_secs(3600));
        assert_eq!(settings.backoff(1, 0.0), Duration::from_secs(5));
        let jittered = settings.backoff(3, 0.3);
        assert!(jittered > Duration::from_secs(20) && jittered < Duration::from_secs(40));
    }

    #[test]
    fn a_receivers_wait_never_overflows_and_never_passes_the_give_up_horizon() {
        let alerting = Alerting {
            key: SealingKey::generate(),
            senders: channels::Senders::new(),
            settings: DeliverySettings::new("http://127.0.0.1:3000"),
        };
        let now = Utc::now();
        let absurd = Retry::After(Duration::from_secs(100_000_000_000_000));
        assert_eq!(
            alerting.retry_at(now, 1, absurd, now),
            Err(GiveUp::AskedTooLong(Duration::from_secs(
                100_000_000_000_000
            )))
        );
        let most = Retry::After(Duration::MAX);
        assert!(matches!(
            alerting.retry_at(now, 1, most, now),
            Err(GiveUp::AskedTooLong(_))
        ));
        let in_a_minute = alerting.retry_at(now, 1, Retry::After(Duration::from_secs(60)), now);
        assert_eq!(in_a_minute, Ok(now + chrono::Duration::seconds(60)));
        // A delivery made near the end of time gives up instead of overflowing.
        let late = DateTime::<Utc>::MAX_UTC - chrono::Duration::seconds(5);
        assert_eq!(
            alerting.retry_at(late, 1, Retry::Backoff, late),
            Err(GiveUp::Expired)
        );
        assert_eq!(
            alerting.retry_at(now, 1, Retry::Never, now),
            Err(GiveUp::Refused)
        );
        let started_yesterday = now - chrono::Duration::hours(25);
        assert_eq!(
            alerting.retry_at(started_yesterday, 9, Retry::Backoff, now),
            Err(GiveUp::Expired)
        );
    }
}
