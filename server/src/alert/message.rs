//! What a delivery says: the alerts it carries, read from the store when it is sent, in the
//! one shape every channel renders. The webhook sends it as JSON exactly as serialised here
//! (README: "Alerts").

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use trailkeeper_app::api::alerts::DeliveryKind;
use trailkeeper_app::api::findings::Severity;

use crate::findings::read;

/// One finding's alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub finding_id: i64,
    /// `opened`, `escalated` or `reopened`.
    pub reason: String,
    pub kind: String,
    /// The severity it alerted at.
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub secret: Option<SecretRef>,
    pub principal: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: i64,
    /// The finding's page.
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecretRef {
    pub arn: Option<String>,
    pub name: Option<String>,
}

/// A message to one channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// The same on every attempt: receivers deduplicate by it.
    pub delivery_id: String,
    #[serde(rename = "type")]
    pub kind: DeliveryKind,
    pub sent_at: DateTime<Utc>,
    pub alerts: Vec<Alert>,
    /// For a digest: the period's length in minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_minutes: Option<i32>,
}

impl Message {
    /// The most severe alert's severity (`info` for a test).
    pub fn severity(&self) -> Severity {
        self.alerts
            .iter()
            .map(|alert| alert.severity)
            .max()
            .unwrap_or(Severity::Info)
    }

    /// One line for a subject or a notification.
    pub fn headline(&self) -> String {
        match (self.kind, self.alerts.as_slice()) {
            (DeliveryKind::Test, _) => {
                "Trailkeeper test message: this channel is set up".to_string()
            }
            (DeliveryKind::Alert, [alert]) => format!(
                "[{}] {}{}",
                alert.severity.as_str().to_uppercase(),
                alert.title,
                match alert.reason.as_str() {
                    "escalated" => " (severity raised)",
                    "reopened" => " (reopened)",
                    _ => "",
                }
            ),
            (DeliveryKind::Digest, alerts) => format!(
                "Trailkeeper digest: {} finding{} in the last {} minutes",
                alerts.len(),
                plural(alerts.len()),
                self.digest_minutes.unwrap_or_default()
            ),
            (_, alerts) => format!(
                "Trailkeeper: {} more finding{} held back by throttling",
                alerts.len(),
                plural(alerts.len())
            ),
        }
    }

    /// A test message, with a made-up finding so receivers see the real shape.
    pub fn test(delivery_id: String, dashboard: &str) -> Message {
        let now = Utc::now();
        Message {
            delivery_id,
            kind: DeliveryKind::Test,
            sent_at: now,
            alerts: vec![Alert {
                finding_id: 0,
                reason: "opened".into(),
                kind: "test".into(),
                severity: Severity::Info,
                title: "Test message from Trailkeeper".into(),
                explanation: "Someone sent a test message to check this channel. No finding \
                              is behind it."
                    .into(),
                secret: None,
                principal: None,
                first_seen: now,
                last_seen: now,
                count: 0,
                url: format!("{dashboard}/alerts"),
            }],
            digest_minutes: None,
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// The alerts a delivery carries, oldest first, as the findings stand now (an incident with
/// every secret it has touched since it alerted).
pub async fn alerts(
    pool: &PgPool,
    delivery_id: &str,
    dashboard: &str,
) -> Result<Vec<Alert>, sqlx::Error> {
    let outbox: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT o.finding_id, o.reason, o.severity \
         FROM alert_delivery_items i \
         JOIN alert_outbox o ON o.id = i.outbox_id \
         WHERE i.delivery_id = $1::text::uuid ORDER BY o.id",
    )
    .bind(delivery_id)
    .fetch_all(pool)
    .await?;
    let ids: Vec<i64> = outbox.iter().map(|(finding_id, ..)| *finding_id).collect();
    let findings = read::by_ids(&mut *pool.acquire().await?, &ids).await?;
    Ok(outbox
        .into_iter()
        .filter_map(|(finding_id, reason, severity)| {
            let finding = findings.iter().find(|finding| finding.id == finding_id)?;
            Some(Alert {
                url: format!("{dashboard}/findings/{}", finding.id),
                finding_id: finding.id,
                reason,
                kind: finding.kind.as_str().to_string(),
                severity: Severity::parse(&severity).unwrap_or(Severity::Info),
                title: finding.title.clone(),
                explanation: finding.explanation.clone(),
                secret: (finding.secret_arn.is_some() || finding.secret_name.is_some()).then(
                    || SecretRef {
                        arn: finding.secret_arn.clone(),
                        name: finding.secret_name.clone(),
                    },
                ),
                principal: finding.principal.clone(),
                first_seen: finding.first_seen,
                last_seen: finding.last_seen,
                count: finding.count,
            })
        })
        .collect())
}
