//! Slack incoming webhook: a message in Block Kit, in an attachment coloured by severity, so
//! a channel full of alerts can be scanned by colour; each alert's title links to its
//! finding.

use serde::Deserialize;
use serde_json::{Value, json};
use trailkeeper_app::api::findings::Severity;

use super::webhook::http_url;
use super::{Channel, ConfigError, Failure, Receipt, Senders, post};
use crate::alert::message::{Alert, Message};

/// Slack allows 50 blocks in a message; a digest lists this many alerts and counts the rest.
const MOST_ALERTS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
}

pub struct Slack {
    url: reqwest::Url,
    http: reqwest::Client,
}

impl Slack {
    pub fn new(config: &Value, senders: &Senders) -> Result<Slack, ConfigError> {
        let config: Config = serde_json::from_value(config.clone())
            .map_err(|error| ConfigError(format!("slack config: {error}")))?;
        Ok(Slack {
            url: http_url(&config.url, senders)?,
            http: senders.http.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Channel for Slack {
    async fn send(&self, message: &Message) -> Result<Receipt, Failure> {
        post(self.http.post(self.url.clone()).json(&blocks(message))).await
    }
}

fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#7a0019",
        Severity::High => "#d93f0b",
        Severity::Medium => "#e99d1a",
        Severity::Low => "#2b7bb9",
        Severity::Info => "#8a8f98",
    }
}

/// Slack's mrkdwn treats these three as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn alert_blocks(alert: &Alert) -> [Value; 2] {
    let mut context = vec![
        format!("*{}*", alert.severity.as_str()),
        escape(&alert.kind),
    ];
    if let Some(name) = alert
        .secret
        .as_ref()
        .and_then(|secret| secret.name.as_ref())
    {
        context.push(format!("secret `{}`", escape(name)));
    }
    if let Some(principal) = &alert.principal {
        context.push(format!("by `{}`", escape(principal)));
    }
    [
        json!({ "type": "section", "text": { "type": "mrkdwn",
            "text": format!("*<{}|{}>*\n{}", alert.url, escape(&alert.title),
                            escape(&alert.explanation)) } }),
        json!({ "type": "context", "elements": [
            { "type": "mrkdwn", "text": context.join(" · ") } ] }),
    ]
}

/// The Slack message for `message`.
pub fn blocks(message: &Message) -> Value {
    let mut blocks = vec![json!({ "type": "section", "text": { "type": "mrkdwn",
        "text": format!("*{}*", escape(&message.headline())) } })];
    for alert in message.alerts.iter().take(MOST_ALERTS) {
        blocks.extend(alert_blocks(alert));
    }
    if message.alerts.len() > MOST_ALERTS {
        blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn",
            "text": format!("…and {} more", message.alerts.len() - MOST_ALERTS) }] }));
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn",
        "text": format!("Trailkeeper delivery `{}`", message.delivery_id) }] }));
    json!({
        "text": message.headline(),
        "attachments": [{ "color": colour(message.severity()), "blocks": blocks }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::message::SecretRef;
    use chrono::Utc;
    use trailkeeper_app::api::alerts::DeliveryKind;

    fn alert(severity: Severity, title: &str) -> Alert {
        Alert {
            finding_id: 7,
            reason: "opened".into(),
            kind: "secret_deleted".into(),
            severity,
            title: title.into(),
            explanation: "bob scheduled <prod/db> for deletion".into(),
            secret: Some(SecretRef {
                arn: None,
                name: Some("prod/db".into()),
            }),
            principal: Some("arn:aws:iam::111122223333:user/bob".into()),
            first_seen: Utc::now(),
            last_seen: Utc::now(),
            count: 1,
            url: "http://127.0.0.1:3000/findings/7".into(),
        }
    }

    #[test]
    fn an_alert_reads_as_a_coloured_linked_message_with_markup_escaped() {
        let message = Message {
            delivery_id: "d-1".into(),
            kind: DeliveryKind::Alert,
            sent_at: Utc::now(),
            alerts: vec![alert(Severity::Critical, "prod/db deleted")],
            digest_minutes: None,
        };
        let body = blocks(&message);
        assert_eq!(body["text"], "[CRITICAL] prod/db deleted");
        let attachment = &body["attachments"][0];
        assert_eq!(attachment["color"], "#7a0019");
        let text = attachment["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(text.starts_with("*<http://127.0.0.1:3000/findings/7|prod/db deleted>*"));
        assert!(text.contains("&lt;prod/db&gt;"), "{text}");
        assert!(body.to_string().contains("d-1"));
    }

    #[test]
    fn a_long_digest_stays_within_slacks_block_limit() {
        let message = Message {
            delivery_id: "d-2".into(),
            kind: DeliveryKind::Digest,
            sent_at: Utc::now(),
            alerts: (0..60).map(|_| alert(Severity::Low, "x")).collect(),
            digest_minutes: Some(60),
        };
        let body = blocks(&message);
        let count = body["attachments"][0]["blocks"].as_array().unwrap().len();
        assert!(count <= 50, "{count} blocks");
        assert!(body.to_string().contains("and 40 more"));
    }
}
