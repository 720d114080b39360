//! What a delivery says: the alerts it carries, read from the store when it is sent, in the
//! one shape every channel renders. The webhook sends it as JSON exactly as serialised here
//! (README: "Alerts").

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use trailkeeper_app::api::alerts::DeliveryKind;
use trailkeeper_app::api::findings::Severity;

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

struct AlertRow {
    finding_id: i64,
    reason: String,
    kind: String,
    severity: String,
    title: String,
    explanation: String,
    secret_arn: Option<String>,
    secret_name: Option<String>,
    principal: Option<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: i64,
}

/// The alerts a delivery carries, oldest first, as the findings stand now.
pub async fn alerts(
    pool: &PgPool,
    delivery_id: &str,
    dashboard: &str,
) -> Result<Vec<Alert>, sqlx::Error> {
    let rows: Vec<AlertRow> = sqlx::query_as!(
        AlertRow,
        "SELECT f.id AS finding_id, o.reason, f.kind, o.severity, f.title, f.explanation, \
                f.secret_arn, f.secret_name, f.principal, f.first_seen, f.last_seen, f.count \
         FROM alert_delivery_items i \
         JOIN alert_outbox o ON o.id = i.outbox_id \
         JOIN findings f ON f.id = o.finding_id \
         WHERE i.delivery_id = $1::text::uuid ORDER BY o.id",
        delivery_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Alert {
            url: format!("{dashboard}/findings/{}", row.finding_id),
            finding_id: row.finding_id,
            reason: row.reason,
            kind: row.kind,
            severity: Severity::parse(&row.severity).unwrap_or(Severity::Info),
            title: row.title,
            explanation: row.explanation,
            secret: (row.secret_arn.is_some() || row.secret_name.is_some()).then_some(SecretRef {
                arn: row.secret_arn,
                name: row.secret_name,
            }),
            principal: row.principal,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            count: row.count,
        })
        .collect())
}
