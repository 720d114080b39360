//! Alerting as pages and the JSON API see it: channels (where alerts go), routing rules
//! (which findings go to which channels) and the delivery log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::findings::{FindingKind, Severity};
#[cfg(feature = "ssr")]
use super::given;
use super::query::{self, QueryError};
use crate::AppError;

/// How a channel reaches people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// An HTTP POST of a signed JSON body.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// Email over SMTP.
    Email,
    /// A message published to an AWS SNS topic.
    Sns,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Webhook,
        ChannelKind::Slack,
        ChannelKind::Email,
        ChannelKind::Sns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Email => "email",
            ChannelKind::Sns => "sns",
        }
    }

    pub fn parse(name: &str) -> Option<ChannelKind> {
        ChannelKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }

    /// The configuration fields that are secrets: stored sealed, never shown again.
    pub fn secret_fields(self) -> &'static [&'static str] {
        match self {
            // Header values often carry a receiver's credentials.
            ChannelKind::Webhook => &["signing_key", "headers"],
            // A Slack incoming webhook's URL is itself the credential.
            ChannelKind::Slack => &["url"],
            ChannelKind::Email => &["password"],
            ChannelKind::Sns => &[],
        }
    }
}

/// A channel as it is shown: its secrets are named, never given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Channel {
    pub id: i64,
    pub kind: ChannelKind,
    pub name: String,
    /// The settings that are not secrets (a webhook's URL, an SMTP server, a topic ARN).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config: Value,
    /// The secret settings it has saved (for example `signing_key`).
    pub secret_fields: Vec<String>,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A channel to add. For a webhook, `config` is
/// `{"url": …, "signing_key": …, "headers": {…}}` (a signing key is made when none is given);
/// for Slack `{"url": …}`; for email `{"host": …, "port": …, "security": "starttls" | "tls" |
/// "none", "username": …, "password": …, "from": …, "to": […]}`; for SNS
/// `{"topic_arn": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewChannel {
    pub kind: ChannelKind,
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config: Value,
    /// When given, a routing rule sending every finding at or above it to this channel is
    /// made with it.
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

/// What adding a channel made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelCreated {
    pub channel: Channel,
    /// The catch-all rule made for `min_severity`.
    pub rule_id: Option<i64>,
    /// A webhook signing key Trailkeeper made because none was given: shown only this once.
    pub signing_key: Option<String>,
}

/// Changes to a channel; what is left out stays. Secret settings left out of `config` keep
/// their saved values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChannelChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub config: Option<Value>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Which findings go to which channels, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRule {
    pub id: i64,
    pub min_severity: Severity,
    /// Empty: every kind.
    pub kinds: Vec<FindingKind>,
    /// A secret's name or ARN; `*` matches anything.
    pub secret_pattern: Option<String>,
    /// A tag on the secret: `key` or `key=value`.
    pub secret_tag: Option<String>,
    /// A principal's ARN; `*` matches anything.
    pub principal_pattern: Option<String>,
    pub channel_ids: Vec<i64>,
    /// `null`: each alert at once; otherwise one message every so many minutes.
    pub digest_minutes: Option<i32>,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A rule to add.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewAlertRule {
    pub min_severity: Severity,
    #[serde(default)]
    pub kinds: Vec<FindingKind>,
    #[serde(default)]
    pub secret_pattern: Option<String>,
    #[serde(default)]
    pub secret_tag: Option<String>,
    #[serde(default)]
    pub principal_pattern: Option<String>,
    pub channel_ids: Vec<i64>,
    #[serde(default)]
    pub digest_minutes: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// One finding.
    Alert,
    /// A period's findings for a digest rule.
    Digest,
    /// What throttling held back, in one message.
    Overflow,
    /// A test message someone asked for.
    Test,
}

impl DeliveryKind {
    pub const ALL: [DeliveryKind; 4] = [
        DeliveryKind::Alert,
        DeliveryKind::Digest,
        DeliveryKind::Overflow,
        DeliveryKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Alert => "alert",
            DeliveryKind::Digest => "digest",
            DeliveryKind::Overflow => "overflow",
            DeliveryKind::Test => "test",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryKind> {
        DeliveryKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// A digest still gathering its period's findings.
    Collecting,
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Given up on; it can be retried.
    Dead,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Collecting,
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Collecting => "collecting",
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}

/// One attempt at sending a delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    pub attempted_at: DateTime<Utc>,
    pub delivered: bool,
    /// The receiver's HTTP status or SMTP reply code, when it answered.
    pub response_code: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i32,
}

/// One message to one channel, with every attempt at it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// Sent in the message, the same on every attempt: receivers deduplicate by it.
    pub id: String,
    pub channel_id: i64,
    pub channel_name: String,
    pub kind: DeliveryKind,
    pub status: DeliveryStatus,
    pub finding_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
    /// When it is tried next (pending) or sent (collecting).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// One page of the delivery log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// What the Alerts page shows: channels, rules and one page of the delivery log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertsView {
    pub channels: Vec<Channel>,
    pub rules: Vec<AlertRule>,
    pub deliveries: DeliveryPage,
}

/// The delivery log's filters, as the page's URL and the API's query string carry them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    /// A channel's id.
    pub channel: Option<i64>,
    /// Deliveries about this finding.
    pub finding: Option<i64>,
    /// Made at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Made before this time.
    pub until: Option<DateTime<Utc>>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl DeliveryQuery {
    /// Reads URL query parameters: `status`, `channel`, `finding`, `since`, `until` (RFC 3339),
    /// `cursor`, `limit`. Empty values are ignored; a value a parameter does not accept is an
    /// error that names it.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<DeliveryQuery, QueryError> {
        let mut query = DeliveryQuery::default();
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let invalid = |accepted: &str| query::invalid(name, value, accepted);
            let id = || value.parse().map_err(|_| invalid("a number"));
            match name {
                "status" => {
                    query.status = Some(
                        DeliveryStatus::parse(value)
                            .ok_or_else(|| invalid("collecting, pending, delivered, dead"))?,
                    )
                }
                "channel" => query.channel = Some(id()?),
                "finding" => query.finding = Some(id()?),
                "since" => query.since = Some(query::time(name, value)?),
                "until" => query.until = Some(query::time(name, value)?),
                "cursor" => query.cursor = Some(value.to_string()),
                "limit" => query.limit = Some(query::limit(name, value)?),
                _ => {}
            }
        }
        query::in_order(query.since, query.until)?;
        Ok(query)
    }

    /// Reads a URL query string (without the `?`), as [`DeliveryQuery::from_pairs`] does.
    pub fn parse(text: &str) -> Result<DeliveryQuery, QueryError> {
        DeliveryQuery::from_pairs(query::pairs(text).iter().map(query::as_strs))
    }

    /// The URL query that [`DeliveryQuery::parse`] reads back into this query.
    pub fn to_query_string(&self) -> String {
        let channel = self.channel.map(|id| id.to_string());
        let finding = self.finding.map(|id| id.to_string());
        let since = self.since.map(|time| time.to_rfc3339());
        let until = self.until.map(|time| time.to_rfc3339());
        let limit = self.limit.map(|limit| limit.to_string());
        query::write([
            ("status", self.status.map(DeliveryStatus::as_str)),
            ("channel", channel.as_deref()),
            ("finding", finding.as_deref()),
            ("since", since.as_deref()),
            ("until", until.as_deref()),
            ("cursor", self.cursor.as_deref()),
            ("limit", limit.as_deref()),
        ])
    }

    /// The page's address for this query.
    pub fn href(&self) -> String {
        match self.to_query_string() {
            text if text.is_empty() => "/alerts".to_string(),
            text => format!("/alerts?{text}"),
        }
    }
}

/// Channels, rules and the delivery log filtered by `query`.
#[leptos::server(endpoint = "alerts")]
pub async fn list_alerts(#[server(default)] query: DeliveryQuery) -> Result<AlertsView, AppError> {
    super::backend_for::<ListAlerts>()?.alerts(query).await
}

/// Adds a channel as the caller; refused (as [`AppError`]) when its settings cannot work. On
/// success, what to tell the person (a generated signing key, shown this once).
#[leptos::server(endpoint = "add_alert_channel")]
pub async fn add_alert_channel(
    #[server(default)] kind: String,
    #[server(default)] name: String,
    #[server(default)] config: String,
    #[server(default)] min_severity: String,
) -> Result<String, AppError> {
    let backend = super::backend_for::<AddAlertChannel>()?;
    let who = super::caller()?;
    let Some(kind) = ChannelKind::parse(&kind) else {
        return Err(AppError::invalid(format!(
            "{kind:?} is not a kind of channel"
        )));
    };
    let config = match serde_json::from_str(&config) {
        Ok(config) => config,
        Err(error) => {
            return Err(AppError::invalid(format!(
                "the settings are not JSON: {error}"
            )));
        }
    };
    let new = NewChannel {
        kind,
        name,
        config,
        min_severity: Severity::parse(&min_severity),
    };
    backend.add_channel(who, new).await
}

/// Sends a test message to a channel now; how it went.
#[leptos::server(endpoint = "test_alert_channel")]
pub async fn test_alert_channel(#[server(default)] id: i64) -> Result<String, AppError> {
    let backend = super::backend_for::<TestAlertChannel>()?;
    let who = super::caller()?;
    backend.test_channel(who, id).await
}

/// Turns a channel on or off as the caller.
#[leptos::server(endpoint = "enable_alert_channel")]
pub async fn enable_alert_channel(
    #[server(default)] id: i64,
    #[server(default)] enabled: bool,
) -> Result<(), AppError> {
    let backend = super::backend_for::<EnableAlertChannel>()?;
    let who = super::caller()?;
    let change = ChannelChange {
        enabled: Some(enabled),
        ..ChannelChange::default()
    };
    backend.change_channel(who, id, change).await
}

/// Renames a channel or changes its settings as the caller; refused (as [`AppError`]) when they
/// cannot work. Secret settings left out of `config` keep their saved values; an empty
/// `config` changes no setting.
#[leptos::server(endpoint = "change_alert_channel")]
pub async fn change_alert_channel(
    #[server(default)] id: i64,
    #[server(default)] name: String,
    #[server(default)] config: String,
) -> Result<(), AppError> {
    let backend = super::backend_for::<ChangeAlertChannel>()?;
    let who = super::caller()?;
    let config = match config.trim() {
        "" => None,
        text => match serde_json::from_str(text) {
            Ok(config) => Some(config),
            Err(error) => {
                return Err(AppError::invalid(format!(
                    "the settings are not JSON: {error}"
                )));
            }
        },
    };
    let change = ChannelChange {
        name: given(name),
        config,
        enabled: None,
    };
    backend.change_channel(who, id, change).await
}

/// Sends a dead delivery again as the caller.
#[leptos::server(endpoint = "retry_alert_delivery")]
pub async fn retry_alert_delivery(#[server(default)] id: String) -> Result<(), AppError> {
    let backend = super::backend_for::<RetryAlertDelivery>()?;
    let who = super::caller()?;
    backend.retry_delivery(who, id).await
}

/// Adds a routing rule as the caller; refused (as [`AppError`]) when a value is not valid.
/// Empty `kinds` and patterns mean "any"; an empty `digest_minutes` means "at once".
#[leptos::server(endpoint = "add_alert_rule")]
pub async fn add_alert_rule(
    #[server(default)] min_severity: String,
    #[server(default)] kinds: Vec<FindingKind>,
    #[server(default)] secret_pattern: String,
    #[server(default)] secret_tag: String,
    #[server(default)] principal_pattern: String,
    #[server(default)] channels: Vec<i64>,
    #[server(default)] digest_minutes: String,
) -> Result<(), AppError> {
    let backend = super::backend_for::<AddAlertRule>()?;
    let who = super::caller()?;
    let Some(min_severity) = Severity::parse(&min_severity) else {
        return Err(AppError::invalid(format!(
            "{min_severity:?} is not a severity"
        )));
    };
    let digest_minutes = match digest_minutes.trim() {
        "" => None,
        minutes => match minutes.parse() {
            Ok(minutes) => Some(minutes),
            Err(_) => {
                return Err(AppError::invalid(format!(
                    "{minutes:?} is not a number of minutes"
                )));
            }
        },
    };
    let rule = NewAlertRule {
        min_severity,
        kinds,
        secret_pattern: given(secret_pattern),
        secret_tag: given(secret_tag),
        principal_pattern: given(principal_pattern),
        channel_ids: channels,
        digest_minutes,
    };
    backend.add_rule(who, rule).await
}

/// Removes a routing rule as the caller.
#[leptos::server(endpoint = "remove_alert_rule")]
pub async fn remove_alert_rule(#[server(default)] id: i64) -> Result<(), AppError> {
    let backend = super::backend_for::<RemoveAlertRule>()?;
    let who = super::caller()?;
    backend.remove_rule(who, id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_delivery_query_survives_its_own_url() {
        let query = DeliveryQuery {
            status: Some(DeliveryStatus::Dead),
            channel: Some(3),
            finding: Some(42),
            since: Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()),
            until: Some(Utc.with_ymd_and_hms(2026, 11, 2, 12, 30, 0).unwrap()),
            cursor: Some("abc".into()),
            limit: Some(20),
        };
        assert_eq!(DeliveryQuery::parse(&query.to_query_string()), Ok(query));
        assert_eq!(DeliveryQuery::default().href(), "/alerts");
    }

    #[test]
    fn a_filter_form_s_empty_fields_mean_any() {
        let query = DeliveryQuery::parse("status=&channel=&finding=&since=&until=7");
        assert!(query.is_err(), "until=7 is not a time");
        assert_eq!(
            DeliveryQuery::parse("status=&channel=&finding=&since=&until="),
            Ok(DeliveryQuery::default())
        );
    }

    #[test]
    fn a_value_a_filter_does_not_take_is_named() {
        for (text, named) in [
            ("status=lost", "status=\"lost\""),
            ("channel=webhook", "channel=\"webhook\""),
            ("finding=%2342", "finding=\"#42\""),
            ("since=yesterday", "since=\"yesterday\""),
            ("limit=0", "limit=\"0\""),
        ] {
            let error = DeliveryQuery::parse(text).expect_err(text);
            assert!(error.0.starts_with(named), "{text}: {}", error.0);
        }
    }
}
