//! One CloudTrail record, typed: the fields Trailkeeper reads, tolerant of fields it does not
//! know and of optional ones that are missing. The raw record is kept beside it, whole.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub event_version: Option<String>,
    pub event_time: DateTime<Utc>,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// As written, `null` included (`None`: absent), as the stored record's
    /// `raw -> 'requestParameters'` reads.
    #[serde(default, deserialize_with = "present")]
    pub request_parameters: Option<Value>,
    pub response_elements: Option<Value>,
    pub additional_event_data: Option<Value>,
    pub service_event_details: Option<Value>,
    #[serde(rename = "requestID")]
    pub request_id: Option<String>,
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(default, deserialize_with = "flexible_bool")]
    pub read_only: Option<bool>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    pub event_type: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    pub management_event: Option<bool>,
    pub recipient_account_id: Option<String>,
    pub event_category: Option<String>,
    pub user_identity: Option<UserIdentity>,
    pub tls_details: Option<Value>,
    #[serde(default, deserialize_with = "flexible_bool")]
    pub session_credential_from_console: Option<bool>,
    pub vpc_endpoint_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Records before February 2024 sometimes spell it `aRN`.
    #[serde(rename = "ARN", alias = "aRN")]
    pub arn: Option<String>,
    pub account_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub access_key_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
    pub session_context: Option<SessionContext>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    pub session_issuer: Option<SessionIssuer>,
    pub attributes: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub user_name: Option<String>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// CloudTrail writes booleans; some exports write them as `"true"` and `"false"`.
fn flexible_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(value)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected true or false, found {other}"
        ))),
    }
}

impl Record {
    /// Types a raw record, taking its parts rather than copying them; the error names what
    /// is missing or malformed, for the quarantine.
    pub fn parse(raw: Value) -> Result<Record, String> {
        if !raw.is_object() {
            return Err("a record must be a JSON object".into());
        }
        Record::deserialize(raw).map_err(|error| format!("not a CloudTrail record: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_ignored_and_missing_optional_ones_are_none() {
        let record = Record::parse(json!({
            "eventID": "e-1",
            "eventTime": "2026-10-03T08:12:41Z",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "readOnly": "true",
            "somethingNew": {"nested": 1},
            "resources": [{"aRN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"}]
        }))
        .unwrap();
        assert_eq!(record.read_only, Some(true));
        assert_eq!(record.user_identity, None);
        assert_eq!(
            record.resources[0].arn.as_deref(),
            Some("arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf")
        );
    }

    #[test]
    fn a_record_without_its_identity_or_with_a_wrong_type_says_which() {
        let missing = Record::parse(json!({
            "eventTime": "2026-10-03T08:12:41Z",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue"
        }))
        .unwrap_err();
        assert!(missing.contains("eventID"), "{missing}");
        let bad_time = Record::parse(json!({
            "eventID": "e-1",
            "eventTime": "yesterday",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue"
        }))
        .unwrap_err();
        assert!(
            bad_time.starts_with("not a CloudTrail record"),
            "{bad_time}"
        );
        assert_eq!(
            Record::parse(json!([1, 2])).unwrap_err(),
            "a record must be a JSON object"
        );
    }
}
