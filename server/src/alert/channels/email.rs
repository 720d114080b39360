//! Email over SMTP: a plain-text and an HTML part, the headline as subject, sent with
//! STARTTLS (the default), implicit TLS or none, with optional authentication. The message id
//! is made from the delivery id, so a retried message is the same message to mail systems.

use std::sync::Arc;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use serde_json::Value;

use super::outbound::{Destinations, ResolveError};
use super::{Channel, ConfigError, Failure, Receipt, Retry, SEND_TIMEOUT, Senders};
use crate::alert::message::{Alert, Message};

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Security {
    #[default]
    Starttls,
    Tls,
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    security: Security,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    from: String,
    to: Vec<String>,
}

pub struct Email {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    destinations: Arc<Destinations>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

fn mailbox(what: &str, text: &str) -> Result<Mailbox, ConfigError> {
    text.parse()
        .map_err(|_| ConfigError(format!("email config: {what} {text:?} is not an address")))
}

impl Email {
    pub fn new(config: &Value, senders: &Senders) -> Result<Email, ConfigError> {
        let config: Config = serde_json::from_value(config.clone())
            .map_err(|error| ConfigError(format!("email config: {error}")))?;
        let host = config.host.trim();
        if host.is_empty() {
            return Err(ConfigError("email config: host is empty".into()));
        }
        senders
            .destinations
            .check_literal(host)
            .map_err(|refused| ConfigError(format!("email config: {refused}")))?;
        if config.to.is_empty() {
            return Err(ConfigError(
                "email config: to needs at least one address".into(),
            ));
        }
        let credentials = match (config.username, config.password) {
            (Some(username), Some(password)) => Some(Credentials::new(username, password)),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "email config: username and password go together".into(),
                ));
            }
        };
        Ok(Email {
            host: host.to_string(),
            port: config.port.unwrap_or(match config.security {
                Security::Starttls => SUBMISSION_PORT,
                Security::Tls => SUBMISSIONS_PORT,
                Security::None => SMTP_PORT,
            }),
            security: config.security,
            credentials,
            destinations: senders.destinations.clone(),
            from: mailbox("from", &config.from)?,
            to: config
                .to
                .iter()
                .map(|to| mailbox("to", to))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A transport to an address the host resolved to and that was checked, with TLS
    /// checked against the host's name.
    async fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
        let addresses = self
            .destinations
            .resolve(&self.host, self.port)
            .await
            .map_err(|error| Failure {
                retry: match error {
                    ResolveError::Refused(_) => Retry::Never,
                    ResolveError::Lookup(_) => Retry::Backoff,
                },
                error: error.to_string(),
                response_code: None,
            })?;
        let address = addresses.first().ok_or_else(|| Failure {
            error: format!("{} has no address", self.host),
            response_code: None,
            retry: Retry::Backoff,
        })?;
        let tls = |parameters: fn(TlsParameters) -> Tls| {
            TlsParameters::new(self.host.clone())
                .map(parameters)
                .map_err(|error| Failure {
                    error: format!("cannot use TLS with {}: {error}", self.host),
                    response_code: None,
                    retry: Retry::Never,
                })
        };
        let tls = match self.security {
            Security::Starttls => tls(Tls::Required)?,
            Security::Tls => tls(Tls::Wrapper)?,
            Security::None => Tls::None,
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
                .port(address.port())
                .tls(tls)
                .timeout(Some(SEND_TIMEOUT));
        if let Some(credentials) = &self.credentials {
            builder = builder.credentials(credentials.clone());
        }
        Ok(builder.build())
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn plain_alert(alert: &Alert) -> String {
    let mut lines = vec![
        format!(
            "[{}] {}",
            alert.severity.as_str().to_uppercase(),
            alert.title
        ),
        alert.explanation.clone(),
    ];
    if let Some(name) = alert
        .secret
        .as_ref()
        .and_then(|secret| secret.name.as_ref())
    {
        lines.push(format!("Secret: {name}"));
    }
    if let Some(principal) = &alert.principal {
        lines.push(format!("Principal: {principal}"));
    }
    lines.push(format!(
        "Seen: {} to {}, {} events",
        alert.first_seen.to_rfc3339(),
        alert.last_seen.to_rfc3339(),
        alert.count
    ));
    lines.push(alert.url.clone());
    lines.join("\n")
}

fn html_alert(alert: &Alert) -> String {
    let mut details = Vec::new();
    if let Some(name) = alert
        .secret
        .as_ref()
        .and_then(|secret| secret.name.as_ref())
    {
        details.push(format!("secret <code>{}</code>", escape(name)));
    }
    if let Some(principal) = &alert.principal {
        details.push(format!("by <code>{}</code>", escape(principal)));
    }
    details.push(format!("{} events", alert.count));
    format!(
        "<h3><a href=\"{}\">{}</a></h3><p><b>{}</b> · {}</p><p>{}</p>",
        escape(&alert.url),
        escape(&alert.title),
        alert.severity.as_str(),
        details.join(" · "),
        escape(&alert.explanation)
    )
}

/// The text and HTML bodies of `message`.
fn bodies(message: &Message) -> (String, String) {
    let footer = format!("Trailkeeper delivery {}", message.delivery_id);
    let plain = message
        .alerts
        .iter()
        .map(plain_alert)
        .chain([footer.clone()])
        .collect::<Vec<_>>()
        .join("\n\n");
    let html = format!(
        "<!doctype html><html><body><h2>{}</h2>{}<p><small>{}</small></p></body></html>",
        escape(&message.headline()),
        message.alerts.iter().map(html_alert).collect::<String>(),
        escape(&footer)
    );
    (plain, html)
}

fn reply_code(text: impl std::fmt::Display) -> Option<i32> {
    text.to_string().get(..3)?.parse().ok()
}

#[async_trait::async_trait]
impl Channel for Email {
    async fn send(&self, message: &Message) -> Result<Receipt, Failure> {
        let (plain, html) = bodies(message);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(message.headline())
            .message_id(Some(format!("<{}@trailkeeper>", message.delivery_id)));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(plain, html))
            .map_err(|error| Failure {
                error: format!("cannot write the email: {error}"),
                response_code: None,
                retry: Retry::Never,
            })?;
        match self.transport().await?.send(email).await {
            Ok(response) => Ok(Receipt {
                response_code: reply_code(response.code()),
            }),
            Err(error) => Err(Failure {
                response_code: error.status().and_then(reply_code),
                // 5xx replies are final; 4xx and no answer at all are worth another try.
                retry: if error.is_permanent() {
                    Retry::Never
                } else {
                    Retry::Backoff
                },
                error: format!(
                    "the SMTP server refused or did not answer: {error}{}",
                    std::error::Error::source(&error)
                        .map(|source| format!(" ({source})"))
                        .unwrap_or_default()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_that_cannot_work_are_refused_by_name() {
        let refused = |config: Value| match Email::new(&config, &Senders::new()) {
            Ok(_) => panic!("accepted {config}"),
            Err(error) => error.0,
        };
        assert!(
            refused(json!({ "host": "smtp.test", "from": "tk@x.test", "to": [] }))
                .contains("at least one")
        );
        assert!(
            refused(json!({ "host": "smtp.test", "from": "nobody", "to": ["a@x.test"] }))
                .contains("from")
        );
        assert!(
            refused(json!({ "host": "smtp.test", "from": "tk@x.test",
                                "to": ["a@x.test"], "username": "u" }))
            .contains("username and password")
        );
        assert!(
            refused(json!({ "host": "smtp.test", "from": "tk@x.test",
                                "to": ["a@x.test"], "security": "ssl3" }))
            .contains("`ssl3`, expected one of `starttls`, `tls`, `none`")
        );
        assert!(
            Email::new(
                &json!({ "host": "smtp.test", "port": 2525, "security": "none",
                                "from": "Trailkeeper <tk@x.test>", "to": ["secops@x.test"] }),
                &Senders::new()
            )
            .is_ok()
        );
        assert!(
            refused(json!({ "host": "127.0.0.1", "from": "tk@x.test", "to": ["a@x.test"] }))
                .contains("loopback")
        );
    }
}
