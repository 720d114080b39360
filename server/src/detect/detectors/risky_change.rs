//! Risky changes: a resource policy that lets anyone or another account in without a
//! narrowing condition, a policy removed, a secret deleted (critical without a recovery
//! window), replication removed, the encryption key changed, and anything the account's root
//! user does.

use serde_json::{Value, json};
use trailkeeper_app::api::findings::{FindingKind, Severity};
use trailkeeper_app::api::secrets::PolicyExposure;

use crate::detect::{Detector, Known, Observed, draft, from_where, time, which_secret, who};
use crate::findings::Verdict;
use crate::inventory::policy;

pub struct RiskyChange;

impl Detector for RiskyChange {
    const NAME: &'static str = "risky_change";
    type State = ();

    fn key(&self, event: &Observed) -> Option<String> {
        let risky = event.principal_type.as_deref() == Some("Root")
            || matches!(
                event.event_name.as_str(),
                "PutResourcePolicy"
                    | "DeleteResourcePolicy"
                    | "DeleteSecret"
                    | "RemoveRegionsFromReplication"
                    | "StopReplicationToReplica"
                    | "UpdateSecret"
            );
        (risky && event.succeeded()).then(String::new)
    }

    fn observe(&self, event: &Observed, known: &Known, _: &mut (), verdicts: &mut Vec<Verdict>) {
        let secret = which_secret(event, known);
        let by = format!(
            "{} at {} from {}",
            who(event),
            time(event.event_time),
            from_where(event)
        );
        let request = event.request.as_ref();
        let field = |name: &str| request.and_then(|request| request.get(name));
        let mut found = |kind, severity, title: String, explanation: String, detail: Value| {
            verdicts.push(Verdict::Finding(draft(
                kind,
                severity,
                event,
                known,
                title,
                explanation,
                detail,
            )));
        };
        match event.event_name.as_str() {
            "PutResourcePolicy" => {
                let text = field("resourcePolicy")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let own = event.account_id.as_deref().unwrap_or("");
                let flags = policy::analyse(text, own).unwrap_or_default();
                let public = flags
                    .iter()
                    .any(|flag| flag.exposure == PolicyExposure::Public);
                if !flags.is_empty() {
                    let reasons: Vec<&str> =
                        flags.iter().map(|flag| flag.reason.as_str()).collect();
                    found(
                        FindingKind::PolicyOpened,
                        if public {
                            Severity::Critical
                        } else {
                            Severity::High
                        },
                        format!(
                            "Policy of {secret} opened to {}",
                            if public { "anyone" } else { "another account" }
                        ),
                        format!(
                            "{by} set a resource policy on {secret} that {}. {}",
                            if public {
                                "lets anyone in"
                            } else {
                                "lets another account in"
                            },
                            reasons.join(" ")
                        ),
                        json!({ "flags": flags }),
                    );
                }
            }
            "DeleteResourcePolicy" => found(
                FindingKind::PolicyDeleted,
                Severity::Medium,
                format!("Policy of {secret} deleted"),
                format!(
                    "{by} deleted the resource policy of {secret}; access now rests on \
                     identity policies alone, and any deny it held is gone."
                ),
                json!({}),
            ),
            "DeleteSecret" => {
                let at_once =
                    field("forceDeleteWithoutRecovery").and_then(Value::as_bool) == Some(true);
                let window = field("recoveryWindowInDays").and_then(Value::as_i64);
                let (severity, consequence) = if at_once {
                    (
                        Severity::Critical,
                        "at once, without a recovery window: it cannot be restored".to_string(),
                    )
                } else {
                    (
                        Severity::High,
                        format!(
                            "with a recovery window of {} days: it can be restored until then",
                            window.unwrap_or(30)
                        ),
                    )
                };
                found(
                    FindingKind::SecretDeleted,
                    severity,
                    format!("{secret} deleted"),
                    format!("{by} deleted {secret} {consequence}."),
                    json!({ "force_delete_without_recovery": at_once, "recovery_window_days": window }),
                )
            }
            "RemoveRegionsFromReplication" | "StopReplicationToReplica" => found(
                FindingKind::ReplicationRemoved,
                Severity::Medium,
                format!("Replication of {secret} removed"),
                format!(
                    "{by} called {} on {secret}: a replica no longer follows the primary.",
                    event.event_name
                ),
                json!({}),
            ),
            "UpdateSecret" => {
                if let Some(key) = field("kmsKeyId").and_then(Value::as_str) {
                    found(
                        FindingKind::KmsKeyChanged,
                        Severity::High,
                        format!("Encryption key of {secret} changed"),
                        format!(
                            "{by} changed the KMS key of {secret} to {key}: whoever may use \
                             that key may now decrypt new versions."
                        ),
                        json!({ "kms_key_id": key }),
                    );
                }
            }
            _ => {}
        }
        if event.principal_type.as_deref() == Some("Root") {
            found(
                FindingKind::RootUsed,
                Severity::Critical,
                format!("Root user called {}", event.event_name),
                format!(
                    "The account's root user called {} on {secret} at {} from {}. The root \
                     user should not be used for everyday work.",
                    event.event_name,
                    time(event.event_time),
                    from_where(event)
                ),
                json!({ "event": event.event_name }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{ACCOUNT, at, findings, read, run};

    fn change(id: &str, name: &str, request: Value) -> Observed {
        let mut event = read(id, at(4, 11, 0), "ops-admin", "prod/db");
        event.event_name = name.into();
        event.request = Some(request);
        event
    }

    fn kinds(events: &[Observed]) -> Vec<(FindingKind, Severity)> {
        let verdicts = run(
            &RiskyChange,
            &DetectionSettings::default(),
            at(1, 0, 0),
            events,
        );
        findings(&verdicts)
            .iter()
            .map(|draft| (draft.kind, draft.severity))
            .collect()
    }

    #[test]
    fn a_public_policy_is_critical_and_a_narrowed_one_is_nothing() {
        let public = json!({ "resourcePolicy": r#"{"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue",
            "Resource": "*"}]}"# });
        let narrowed = json!({ "resourcePolicy": format!(r#"{{"Statement": [{{"Effect": "Allow",
            "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:role/app"}},
            "Action": "secretsmanager:GetSecretValue", "Resource": "*"}}]}}"#) });
        assert_eq!(
            kinds(&[
                change("p", "PutResourcePolicy", public),
                change("n", "PutResourcePolicy", narrowed)
            ]),
            [(FindingKind::PolicyOpened, Severity::Critical)]
        );
    }

    #[test]
    fn deleting_without_recovery_is_critical() {
        assert_eq!(
            kinds(&[
                change("d", "DeleteSecret", json!({ "recoveryWindowInDays": 7 })),
                change(
                    "f",
                    "DeleteSecret",
                    json!({ "forceDeleteWithoutRecovery": true })
                ),
            ]),
            [
                (FindingKind::SecretDeleted, Severity::High),
                (FindingKind::SecretDeleted, Severity::Critical)
            ]
        );
    }

    #[test]
    fn a_key_change_counts_and_a_description_change_does_not() {
        assert_eq!(
            kinds(&[
                change("k", "UpdateSecret", json!({ "kmsKeyId": "alias/other" })),
                change("u", "UpdateSecret", json!({ "description": "new words" })),
            ]),
            [(FindingKind::KmsKeyChanged, Severity::High)]
        );
    }

    #[test]
    fn the_root_user_is_always_a_finding() {
        let mut root = read("r", at(4, 11, 0), "x", "prod/db");
        root.principal_type = Some("Root".into());
        root.principal = Some(format!("arn:aws:iam::{ACCOUNT}:root"));
        assert_eq!(
            kinds(&[root]),
            [(FindingKind::RootUsed, Severity::Critical)]
        );
    }
}
