//! Secret values in records. AWS hides a secret's value in the CloudTrail records it writes,
//! but records also arrive from files, S3 buckets and the API, which anyone with access could
//! have written: before a record is stored (or quarantined with an excerpt), the values of
//! the fields that carry secret material are replaced, wherever they sit inside
//! `requestParameters` or `responseElements`.

use serde_json::Value;

/// What a hidden value reads as in the stored record.
pub const HIDDEN: &str = "HIDDEN_BY_TRAILKEEPER";
/// What AWS writes in their place itself: left as it is.
const HIDDEN_BY_AWS: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Fields whose values are secret material.
const SECRET_FIELDS: [&str; 6] = [
    "secretString",
    "secretBinary",
    "SecretString",
    "SecretBinary",
    "randomPassword",
    "password",
];

/// Replaces secret values inside a record's request and response.
pub fn hide_secret_values(record: &mut Value) {
    for part in ["requestParameters", "responseElements"] {
        if let Some(value) = record.get_mut(part) {
            hide_within(value);
        }
    }
}

fn hide_within(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if SECRET_FIELDS.contains(&name.as_str()) {
                    if !field.is_null() && field.as_str() != Some(HIDDEN_BY_AWS) {
                        *field = Value::from(HIDDEN);
                    }
                } else {
                    hide_within(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_within),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_are_hidden_wherever_they_sit_and_awss_own_mark_stays() {
        let mut record = json!({
            "eventName": "PutSecretValue",
            "userAgent": "secretString",
            "requestParameters": {
                "secretId": "prod/db",
                "secretString": "canary-1",
                "nested": [{ "SecretBinary": "canary-2" }, { "password": { "deep": 1 } }],
                "secretBinary": "HIDDEN_DUE_TO_SECURITY_REASONS"
            },
            "responseElements": { "randomPassword": "canary-3", "SecretString": null }
        });
        hide_secret_values(&mut record);
        assert_eq!(
            record,
            json!({
                "eventName": "PutSecretValue",
                "userAgent": "secretString",
                "requestParameters": {
                    "secretId": "prod/db",
                    "secretString": HIDDEN,
                    "nested": [{ "SecretBinary": HIDDEN }, { "password": HIDDEN }],
                    "secretBinary": "HIDDEN_DUE_TO_SECURITY_REASONS"
                },
                "responseElements": { "randomPassword": HIDDEN, "SecretString": null }
            })
        );
    }
}
