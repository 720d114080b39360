//! S3 object-created notifications through SQS (`TRAILKEEPER_SQS_QUEUE_URL`): each new trail
//! file is read as soon as it lands. A message is deleted only after its files' events are
//! committed, so a crash in between means the message comes back and its files are read
//! again, which stores nothing twice.
//!
//! Accepted bodies: S3 event notifications (keys URL-encoded, as S3 sends them), the same
//! inside an SNS envelope, and CloudTrail's own SNS delivery notices (`s3ObjectKey`). S3's
//! test event is deleted; any other body is quarantined and deleted, with the reason.
//!
//! Several servers reading one queue need no claim: SQS hands each message to one receiver
//! at a time (for its visibility timeout), which is the claim.
//!
//! A message names the objects to read, and anyone who can send to the queue can write one:
//! only objects under the configured trail buckets and prefixes are read. A notice for any
//! other object is quarantined with the reason and deleted unread.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgPool;

use super::s3::{S3Url, fetch};
use super::{EventSource, Report, SourceError};
use crate::ingest::formats;
use crate::ingest::load::{Totals, prepare, store_or_quarantine};
use crate::ingest::store::{self, EXCERPT_BYTES, Part, Rejection};

pub struct SqsNotices {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    queue_url: String,
    /// How long a receive waits for a message (SQS long polling, at most 20 s).
    wait: Duration,
    max_file_bytes: u64,
    /// The buckets and prefixes whose objects may be read.
    allowed: Vec<S3Url>,
}

/// What a message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Notice {
    /// Objects to read, as (bucket, key).
    Objects(Vec<(String, String)>),
    /// Nothing to read (S3's test event, a deletion).
    Nothing,
}

impl SqsNotices {
    /// Reads the notices on `queue_url` about objects under `allowed`.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        s3: aws_sdk_s3::Client,
        queue_url: &str,
        wait: Duration,
        allowed: Vec<S3Url>,
    ) -> Self {
        SqsNotices {
            sqs,
            s3,
            queue_url: queue_url.to_string(),
            wait,
            max_file_bytes: formats::DEFAULT_MAX_FILE_BYTES,
            allowed,
        }
    }

    fn allows(&self, bucket: &str, key: &str) -> bool {
        self.allowed
            .iter()
            .any(|url| url.bucket == bucket && key.starts_with(&url.prefix))
    }

    /// Sets a message (or one object it names) aside with the reason.
    async fn quarantine(
        &self,
        pool: &PgPool,
        message: &aws_sdk_sqs::types::Message,
        reason: String,
    ) -> Result<(), SourceError> {
        let rejection = Rejection {
            position: message.message_id().map(|id| format!("message {id}")),
            reason,
            excerpt: Some(
                message
                    .body()
                    .unwrap_or_default()
                    .chars()
                    .take(EXCERPT_BYTES)
                    .collect(),
            ),
        };
        let part = Part {
            source: &self.queue_url,
            events: &[],
            rejected: &[rejection],
        };
        store::store(pool, &[part], None).await?;
        Ok(())
    }

    /// Reads no object's content past `max_file_bytes` (see [`formats::read`]).
    pub fn with_max_file_bytes(self, max_file_bytes: u64) -> Self {
        SqsNotices {
            max_file_bytes,
            ..self
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), SourceError> {
        self.sqs
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|error| SourceError::aws("SQS", "DeleteMessage", &error))?;
        Ok(())
    }
}

#[async_trait]
impl EventSource for SqsNotices {
    fn name(&self) -> String {
        format!("S3 notifications from {}", self.queue_url)
    }

    /// Reads messages until the queue has none waiting.
    async fn poll(&self, pool: &PgPool, report: Report<'_>) -> Result<Totals, SourceError> {
        let mut totals = Totals::default();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(i32::try_from(self.wait.as_secs()).unwrap_or(20).min(20))
                .send()
                .await
                .map_err(|error| SourceError::aws("SQS", "ReceiveMessage", &error))?;
            let messages = received.messages();
            if messages.is_empty() {
                return Ok(totals);
            }
            for message in messages {
                let body = message.body().unwrap_or_default();
                match parse(body) {
                    Ok(Notice::Nothing) => {}
                    Ok(Notice::Objects(objects)) => {
                        for (bucket, key) in objects {
                            let origin = format!("s3://{bucket}/{key}");
                            if !self.allows(&bucket, &key) {
                                tracing::warn!(queue = %self.queue_url, object = %origin, "an SQS notice names an object outside the trails Trailkeeper reads; not read");
                                let reason = format!(
                                    "the notice names {origin}, outside the trail buckets \
                                     Trailkeeper reads (TRAILKEEPER_SQS_BUCKETS); not read"
                                );
                                self.quarantine(pool, message, reason).await?;
                                totals.quarantined += 1;
                                continue;
                            }
                            let contents =
                                fetch(&self.s3, &bucket, &key, self.max_file_bytes).await?;
                            let unit = prepare(&origin, contents);
                            let summary = store_or_quarantine(pool, unit, None).await?;
                            totals.add(&summary);
                            report(&summary);
                        }
                    }
                    Err(reason) => {
                        self.quarantine(pool, message, reason).await?;
                        totals.quarantined += 1;
                    }
                }
                if let Some(receipt) = message.receipt_handle() {
                    self.delete(receipt).await?;
                }
            }
        }
    }
}

/// What a message body asks to be read, or why it is not a notice Trailkeeper understands.
pub fn parse(body: &str) -> Result<Notice, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|error| format!("the message is not JSON: {error}"))?;
    // SNS delivers the notice as a JSON string in `Message`.
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let inner = value
            .get("Message")
            .and_then(Value::as_str)
            .ok_or("an SNS notification without a Message")?;
        return parse(inner);
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notice::Nothing);
    }
    if let (Some(bucket), Some(keys)) = (
        value.get("s3Bucket").and_then(Value::as_str),
        value.get("s3ObjectKey").and_then(Value::as_array),
    ) {
        return Ok(Notice::Objects(
            keys.iter()
                .filter_map(Value::as_str)
                .map(|key| (bucket.to_string(), key.to_string()))
                .collect(),
        ));
    }
    let records = value
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("neither an S3 event notification (\"Records\") nor a CloudTrail delivery notice (\"s3ObjectKey\")")?;
    let mut objects = Vec::new();
    for record in records {
        let created = record
            .get("eventName")
            .and_then(Value::as_str)
            .is_some_and(|name| name.starts_with("ObjectCreated:"));
        if !created {
            continue;
        }
        let s3 = record.get("s3");
        let bucket = s3
            .and_then(|s3| s3.pointer("/bucket/name"))
            .and_then(Value::as_str);
        let key = s3
            .and_then(|s3| s3.pointer("/object/key"))
            .and_then(Value::as_str);
        match (bucket, key) {
            (Some(bucket), Some(key)) => objects.push((bucket.to_string(), decode_key(key)?)),
            _ => return Err("an S3 event record without s3.bucket.name and s3.object.key".into()),
        }
    }
    Ok(if objects.is_empty() {
        Notice::Nothing
    } else {
        Notice::Objects(objects)
    })
}

/// S3 writes keys in notifications form-encoded: `+` for a space, `%XX` for other bytes.
fn decode_key(key: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| format!("the object key {key:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_notifications_name_the_new_objects_with_their_keys_decoded() {
        let body = r#"{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "trails"},
                   "object": {"key": "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/03/a%3Ab+c.json.gz"}}}]}"#;
        assert_eq!(
            parse(body),
            Ok(Notice::Objects(vec![(
                "trails".into(),
                "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/03/a:b c.json.gz".into()
            )]))
        );
        let wrapped = serde_json::json!({"Type": "Notification", "Message": body}).to_string();
        assert_eq!(parse(&wrapped), parse(body));
    }

    #[test]
    fn cloudtrail_delivery_notices_and_test_events_are_understood() {
        assert_eq!(
            parse(r#"{"s3Bucket": "trails", "s3ObjectKey": ["AWSLogs/1/a.json.gz"]}"#),
            Ok(Notice::Objects(vec![(
                "trails".into(),
                "AWSLogs/1/a.json.gz".into()
            )]))
        );
        assert_eq!(
            parse(r#"{"Service": "Amazon S3", "Event": "s3:TestEvent"}"#),
            Ok(Notice::Nothing)
        );
        assert_eq!(
            parse(r#"{"Records": [{"eventName": "ObjectRemoved:Delete"}]}"#),
            Ok(Notice::Nothing)
        );
    }

    #[test]
    fn other_messages_say_what_they_are_not() {
        assert!(parse("hello").unwrap_err().contains("not JSON"));
        assert!(
            parse(r#"{"a": 1}"#)
                .unwrap_err()
                .contains("S3 event notification")
        );
        assert!(
            parse(r#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]}"#)
                .unwrap_err()
                .contains("s3.object.key")
        );
    }
}
