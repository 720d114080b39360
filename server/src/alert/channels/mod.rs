//! Channels: the ways an alert reaches people, one file each behind one trait. A channel
//! renders a [`Message`] and sends it once; the delivery worker decides when, and whether to
//! try again from how it failed.

pub mod email;
pub mod outbound;
pub mod slack;
pub mod sns;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use trailkeeper_app::api::alerts::ChannelKind;

use super::message::Message;
use outbound::{Destinations, GuardedResolver, ResolveError};

/// One attempt's failure, and what it says about trying again.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: String,
    /// The receiver's HTTP status or SMTP reply code, when it answered.
    pub response_code: Option<i32>,
    pub retry: Retry,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retry {
    /// Try again after the usual backoff (connection refused, timeout, 5xx).
    Backoff,
    /// The receiver said when (429 or 503 with `Retry-After`).
    After(Duration),
    /// Trying again cannot help until someone changes something (a 404, a refused
    /// address): the delivery dies at once, and can be retried by hand.
    Never,
}

/// What a successful attempt got back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Receipt {
    pub response_code: Option<i32>,
}

#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    async fn send(&self, message: &Message) -> Result<Receipt, Failure>;
}

/// A channel's settings that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// What channels send with: one HTTP client for all of them, the AWS configuration (the
/// SDK's standard chain) for SNS, and where they may connect.
#[derive(Clone, Debug)]
pub struct Senders {
    pub http: reqwest::Client,
    pub aws: Option<aws_config::SdkConfig>,
    pub destinations: Arc<Destinations>,
}

/// How long a receiver has to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

impl Senders {
    /// Senders that reach public addresses only.
    pub fn new() -> Senders {
        Senders::reaching(Destinations::public_only())
    }

    /// Senders that reach public addresses and `destinations`.
    pub fn reaching(destinations: Destinations) -> Senders {
        let destinations = Arc::new(destinations);
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                destinations: destinations.clone(),
            }))
            .timeout(SEND_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            // A webhook answering with a redirect is misconfigured: say so rather than
            // re-send an alert somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Trailkeeper/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Senders {
            http,
            aws: None,
            destinations,
        }
    }

    pub fn with_aws(self, aws: aws_config::SdkConfig) -> Senders {
        Senders {
            aws: Some(aws),
            ..self
        }
    }
}

impl Default for Senders {
    fn default() -> Self {
        Senders::new()
    }
}

/// Checks a channel's full settings (secrets included) and builds it.
pub fn open(
    kind: ChannelKind,
    config: &Value,
    senders: &Senders,
) -> Result<Box<dyn Channel>, ConfigError> {
    match kind {
        ChannelKind::Webhook => Ok(Box::new(webhook::Webhook::new(config, senders)?)),
        ChannelKind::Slack => Ok(Box::new(slack::Slack::new(config, senders)?)),
        ChannelKind::Sns => Ok(Box::new(sns::Sns::new(config, senders)?)),
        ChannelKind::Email => Ok(Box::new(email::Email::new(config, senders)?)),
    }
}

/// Splits settings as given into what may be shown again and the secrets to seal.
pub fn split_secrets(kind: ChannelKind, config: &Value) -> Result<(Value, Value), ConfigError> {
    let Value::Object(fields) = config else {
        return Err(ConfigError("config must be a JSON object".into()));
    };
    let (mut shown, mut secret) = (Map::new(), Map::new());
    for (name, value) in fields {
        if kind.secret_fields().contains(&name.as_str()) {
            secret.insert(name.clone(), value.clone());
        } else {
            shown.insert(name.clone(), value.clone());
        }
    }
    Ok((Value::Object(shown), Value::Object(secret)))
}

/// The full settings: what is shown with the secrets put back.
pub fn join_secrets(shown: &Value, secret: &Value) -> Value {
    let mut fields = shown.as_object().cloned().unwrap_or_default();
    if let Some(secret) = secret.as_object() {
        fields.extend(secret.clone());
    }
    Value::Object(fields)
}

/// Where a channel's messages (and with them its secrets) go, for a person: a webhook's
/// scheme, host and port, an SMTP server with its port and security, an SNS topic.
pub fn destination(kind: ChannelKind, config: &Value) -> String {
    let text = |field: &str| match config.get(field) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    match kind {
        ChannelKind::Webhook | ChannelKind::Slack => match reqwest::Url::parse(&text("url")) {
            Ok(url) => format!(
                "{}://{}:{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port_or_known_default().unwrap_or_default()
            ),
            Err(_) => text("url"),
        },
        ChannelKind::Email => {
            let or_default = |value: String| {
                if value.is_empty() {
                    "default".to_string()
                } else {
                    value
                }
            };
            format!(
                "smtp {} port {} security {}",
                text("host"),
                or_default(text("port")),
                or_default(text("security"))
            )
        }
        ChannelKind::Sns => text("topic_arn"),
    }
}

/// Reads a `Retry-After` header: seconds, or an HTTP date.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// How much of a receiver's answer is read: enough for its error message, never more (a
/// hostile receiver could otherwise stream without end).
pub const RESPONSE_READ_LIMIT: usize = 4 * 1024;

/// Sends an HTTP request and judges the answer.
pub async fn post(request: reqwest::RequestBuilder) -> Result<Receipt, Failure> {
    let mut response = request.send().await.map_err(|error| unanswered(&error))?;
    let (status, headers) = (response.status(), response.headers().clone());
    // A receiver's error message is worth keeping in the delivery log: its first few KiB.
    let mut body = Vec::new();
    while body.len() < RESPONSE_READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(RESPONSE_READ_LIMIT);
    judge_http(status, &headers, &String::from_utf8_lossy(&body))
}

/// How an HTTP answer counts: 2xx delivered; 408, 429 and 5xx worth another try (after
/// `Retry-After` when given); anything else needs a person.
fn judge_http(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Result<Receipt, Failure> {
    let code = Some(i32::from(status.as_u16()));
    if status.is_success() {
        return Ok(Receipt {
            response_code: code,
        });
    }
    let said = body
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect::<String>();
    let error = if said.is_empty() {
        format!("the receiver answered {status}")
    } else {
        format!("the receiver answered {status}: {said}")
    };
    let retry = if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
        headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry_after(value, chrono::Utc::now()))
            .map_or(Retry::Backoff, Retry::After)
    } else if status.is_redirection() {
        return Err(Failure {
            error: format!(
                "the receiver redirected to {}; set the channel to the final address",
                headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("another address")
            ),
            response_code: code,
            retry: Retry::Never,
        });
    } else {
        Retry::Never
    };
    Err(Failure {
        error,
        response_code: code,
        retry,
    })
}

/// A request that got no answer: worth another try, unless the address was refused.
fn unanswered(error: &reqwest::Error) -> Failure {
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(current) = cause {
        if let Some(ResolveError::Refused(refused)) = current.downcast_ref::<ResolveError>() {
            return Failure {
                error: refused.to_string(),
                response_code: None,
                retry: Retry::Never,
            };
        }
        cause = current.source();
    }
    let what = if error.is_timeout() {
        format!("no answer within {} seconds", SEND_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "cannot connect to the receiver".to_string()
    } else {
        "the request failed".to_string()
    };
    // reqwest's own message names the URL; its source says why.
    let cause = std::error::Error::source(error)
        .map(|source| format!(": {source}"))
        .unwrap_or_default();
    Failure {
        error: format!("{what}{cause}"),
        response_code: None,
        retry: Retry::Backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_split_from_what_may_be_shown_and_joined_back() {
        let config = json!({ "url": "https://example.test/hook", "signing_key": "k",
                             "headers": { "Authorization": "Bearer t" } });
        let (shown, secret) = split_secrets(ChannelKind::Webhook, &config).unwrap();
        assert_eq!(shown, json!({ "url": "https://example.test/hook" }));
        assert_eq!(
            secret,
            json!({ "signing_key": "k", "headers": { "Authorization": "Bearer t" } })
        );
        assert_eq!(join_secrets(&shown, &secret), config);
        assert!(split_secrets(ChannelKind::Slack, &json!("https://x")).is_err());
    }

    #[test]
    fn a_destination_is_where_messages_go_whatever_the_path() {
        let hook = |url: &str| destination(ChannelKind::Webhook, &json!({ "url": url }));
        assert_eq!(
            hook("https://hooks.example.test/a"),
            "https://hooks.example.test:443"
        );
        assert_eq!(
            hook("https://hooks.example.test/b?x=1"),
            hook("https://hooks.example.test:443/c")
        );
        assert_ne!(
            hook("https://hooks.example.test/a"),
            hook("http://hooks.example.test/a")
        );
        assert_ne!(
            hook("https://hooks.example.test/a"),
            hook("https://evil.test/a")
        );
        let mail = |config: Value| destination(ChannelKind::Email, &config);
        assert_eq!(
            mail(json!({ "host": "smtp.example.test", "port": 587 })),
            "smtp smtp.example.test port 587 security default"
        );
        assert_ne!(
            mail(json!({ "host": "smtp.example.test" })),
            mail(json!({ "host": "smtp.example.test", "security": "none" }))
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Tue, 24 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
