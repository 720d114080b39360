//! Generic webhook: an HTTP POST of the message as JSON, signed so receivers can check it came
//! from Trailkeeper and is fresh. `Trailkeeper-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is
//! HMAC-SHA256 under the channel's signing key of `UNIX_SECONDS.BODY`; a receiver recomputes
//! it, compares in constant time, and rejects a `t` more than a few minutes old (a replay).
//! `Trailkeeper-Delivery` carries the delivery id, the same on every attempt.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use super::{Channel, ConfigError, Failure, Receipt, Retry, Senders, post};
use crate::alert::message::Message;

pub const SIGNATURE_HEADER: &str = "Trailkeeper-Signature";
pub const DELIVERY_HEADER: &str = "Trailkeeper-Delivery";
/// Headers a channel's own may not replace: they are what the receiver checks.
const RESERVED: [&str; 4] = [
    "content-type",
    "trailkeeper-signature",
    "trailkeeper-delivery",
    "host",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    signing_key: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

pub struct Webhook {
    url: reqwest::Url,
    key: hmac::Key,
    headers: HeaderMap,
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(config: &Value, senders: &Senders) -> Result<Webhook, ConfigError> {
        let config: Config = serde_json::from_value(config.clone())
            .map_err(|error| ConfigError(format!("webhook config: {error}")))?;
        let url = http_url(&config.url, senders)?;
        if config.signing_key.trim().len() < 16 {
            return Err(ConfigError(
                "webhook config: signing_key must be at least 16 characters (leave it out and \
                 Trailkeeper makes one)"
                    .into(),
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError(format!("webhook config: {name:?} is not a header name"))
            })?;
            if RESERVED.contains(&header.as_str()) {
                return Err(ConfigError(format!(
                    "webhook config: the {name} header is Trailkeeper's own and cannot be set"
                )));
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                ConfigError(format!(
                    "webhook config: the {name} header's value is not valid"
                ))
            })?;
            headers.insert(header, value);
        }
        Ok(Webhook {
            url,
            key: hmac::Key::new(hmac::HMAC_SHA256, config.signing_key.as_bytes()),
            headers,
            http: senders.http.clone(),
        })
    }
}

/// An http(s) URL a channel may send to. A host given as an address is checked here; a
/// name is checked when it is resolved, at each connection.
pub fn http_url(text: &str, senders: &Senders) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|error| ConfigError(format!("{text:?} is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError(format!("{text:?} is not an http or https URL")));
    }
    senders
        .destinations
        .check_literal(url.host_str().unwrap_or_default())
        .map_err(|refused| ConfigError(refused.to_string()))?;
    Ok(url)
}

/// The `Trailkeeper-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(key: &hmac::Key, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = hmac::sign(key, &signed);
    let hex: String = tag
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

#[async_trait::async_trait]
impl Channel for Webhook {
    async fn send(&self, message: &Message) -> Result<Receipt, Failure> {
        let body = serde_json::to_vec(message).map_err(|error| Failure {
            error: format!("cannot write the message: {error}"),
            response_code: None,
            retry: Retry::Never,
        })?;
        let signed = signature(&self.key, chrono::Utc::now().timestamp(), &body);
        let request = self
            .http
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signed)
            .header(DELIVERY_HEADER, &message.delivery_id)
            .body(body);
        post(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_signature_covers_the_timestamp_and_body() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef");
        let signed = signature(&key, 1_700_000_000, b"{}");
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac 0123456789abcdef
        assert_eq!(
            signed,
            "t=1700000000,v1=e4f8e2ecae2295b2ddb2f0b5584c8275e226c0ebe9b3b819e70156bb67122e3e"
        );
        assert_ne!(signed, signature(&key, 1_700_000_001, b"{}"));
    }

    #[test]
    fn settings_that_cannot_work_are_refused_by_name() {
        let senders = Senders::new();
        let refused = |config: Value| match Webhook::new(&config, &senders) {
            Ok(_) => panic!("accepted {config}"),
            Err(error) => error.0,
        };
        let key = "0123456789abcdef";
        assert!(refused(json!({ "url": "ftp://x", "signing_key": key })).contains("http"));
        assert!(
            refused(json!({ "url": "https://x.test", "signing_key": "short" }))
                .contains("signing_key")
        );
        assert!(
            refused(json!({ "url": "https://x.test", "signing_key": key,
                                "headers": { "Trailkeeper-Signature": "forged" } }))
            .contains("Trailkeeper-Signature")
        );
        assert!(
            refused(json!({ "url": "https://x.test", "signing_key": key, "extra": 1 }))
                .contains("extra")
        );
        assert!(
            refused(
                json!({ "url": "http://169.254.169.254/latest/meta-data/", "signing_key": key })
            )
            .contains("link-local")
        );
        assert!(
            refused(json!({ "url": "http://[::1]:8080/hook", "signing_key": key }))
                .contains("loopback")
        );
        assert!(
            Webhook::new(
                &json!({ "url": "https://x.test/hook", "signing_key": key,
                         "headers": { "Authorization": "Bearer t" } }),
                &senders
            )
            .is_ok()
        );
    }
}
