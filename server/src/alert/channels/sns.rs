//! AWS SNS: the message published to a topic as the webhook's JSON, with a subject and
//! message attributes `severity`, `kind` and `type` so subscriptions can filter (for example
//! an SQS queue taking only critical alerts). The topic's region comes from its ARN; the
//! credentials from the SDK's standard chain.

use aws_sdk_sns::types::MessageAttributeValue;
use serde::Deserialize;
use serde_json::Value;

use super::{Channel, ConfigError, Failure, Receipt, Retry, Senders};
use crate::alert::message::Message;

/// SNS refuses a longer subject.
const MOST_SUBJECT: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    topic_arn: String,
}

pub struct Sns {
    topic_arn: String,
    client: aws_sdk_sns::Client,
}

impl Sns {
    pub fn new(config: &Value, senders: &Senders) -> Result<Sns, ConfigError> {
        let config: Config = serde_json::from_value(config.clone())
            .map_err(|error| ConfigError(format!("sns config: {error}")))?;
        let parts: Vec<&str> = config.topic_arn.split(':').collect();
        let region = match parts.as_slice() {
            ["arn", _, "sns", region, account, name]
                if !region.is_empty() && !account.is_empty() && !name.is_empty() =>
            {
                region.to_string()
            }
            _ => {
                return Err(ConfigError(format!(
                    "sns config: {:?} is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                    config.topic_arn
                )));
            }
        };
        let aws = senders.aws.as_ref().ok_or_else(|| {
            ConfigError("sns channels need AWS credentials, which this process has not".into())
        })?;
        let client = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(aws)
                .region(aws_sdk_sns::config::Region::new(region))
                .build(),
        );
        Ok(Sns {
            topic_arn: config.topic_arn,
            client,
        })
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("a string attribute has its type and value")
}

#[async_trait::async_trait]
impl Channel for Sns {
    async fn send(&self, message: &Message) -> Result<Receipt, Failure> {
        let body = serde_json::to_string(message).map_err(|error| Failure {
            error: format!("cannot write the message: {error}"),
            response_code: None,
            retry: Retry::Never,
        })?;
        let kind = match message.alerts.as_slice() {
            [alert] => alert.kind.clone(),
            _ => "several".to_string(),
        };
        let subject: String = message.headline().chars().take(MOST_SUBJECT).collect();
        let published = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(body)
            .message_attributes("severity", attribute(message.severity().as_str()))
            .message_attributes("kind", attribute(&kind))
            .message_attributes("type", attribute(message.kind.as_str()))
            .send()
            .await;
        match published {
            Ok(_) => Ok(Receipt {
                response_code: None,
            }),
            Err(error) => Err(published_failed(&error)),
        }
    }
}

/// An SNS error: throttling and AWS's own failures are worth another try, a missing topic
/// or refused credentials need a person.
fn published_failed<R>(
    error: &aws_sdk_sns::error::SdkError<aws_sdk_sns::operation::publish::PublishError, R>,
) -> Failure
where
    R: std::fmt::Debug,
{
    use aws_sdk_sns::error::ProvideErrorMetadata;
    use aws_sdk_sns::error::SdkError;
    let (retry, code) = match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown").to_string();
            let retry = match code.as_str() {
                "Throttled"
                | "ThrottlingException"
                | "InternalError"
                | "InternalFailure"
                | "ServiceUnavailable"
                | "KMSThrottling" => Retry::Backoff,
                _ => Retry::Never,
            };
            (retry, code)
        }
        _ => (Retry::Backoff, "no answer".to_string()),
    };
    let said = error
        .as_service_error()
        .and_then(|service| service.message().map(String::from))
        .unwrap_or_else(|| {
            std::error::Error::source(error)
                .map(|source| source.to_string())
                .unwrap_or_else(|| error.to_string())
        });
    Failure {
        error: format!("SNS refused the message ({code}): {said}"),
        response_code: None,
        retry,
    }
}
