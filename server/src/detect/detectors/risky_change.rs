//! Risky changes: a resource policy that lets anyone or another account in without a
//! narrowing condition, a policy removed, a secret deleted (critical without a recovery
//! window), replication removed, the encryption key changed, anything the account's root
//! user does — and a trail stopped, deleted or narrowed so that Secrets Manager's events go
//! unrecorded (defence evasion: what comes before reading secrets unseen).

use serde_json::{Value, json};
use trailkeeper_app::api::findings::{FindingKind, Severity};
use trailkeeper_app::api::overview::Logged;
use trailkeeper_app::api::secrets::PolicyExposure;

use crate::detect::{Detector, Known, Observed, draft, from_where, time, which_secret, who};
use crate::findings::Verdict;
use crate::inventory::policy;
use crate::inventory::trails::selectors::Selectors;

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
                    | "StopLogging"
                    | "DeleteTrail"
                    | "UpdateTrail"
                    | "PutEventSelectors"
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
            "StopLogging" | "DeleteTrail" => {
                let trail = trail_name(request, "name");
                let (title, done) = if event.event_name == "StopLogging" {
                    (format!("Trail {trail} stopped"), "stopped trail")
                } else {
                    (format!("Trail {trail} deleted"), "deleted trail")
                };
                found(
                    FindingKind::LoggingStopped,
                    Severity::High,
                    title,
                    format!(
                        "{by} {done} {trail}: what it recorded — Secrets Manager's reads and \
                         changes among them — is no longer written, unless another trail \
                         records it (see Trail coverage on the Overview)."
                    ),
                    json!({ "trail": trail, "call": event.event_name }),
                )
            }
            "PutEventSelectors" => {
                let trail = trail_name(request, "trailName");
                let selectors = request
                    .and_then(|request| serde_json::from_value::<Selectors>(request.clone()).ok())
                    .unwrap_or_default();
                let logging = selectors.secrets_manager();
                if logging.reads != Logged::All || logging.writes != Logged::All {
                    found(
                        FindingKind::LoggingNarrowed,
                        if logging.reads == Logged::None {
                            Severity::High
                        } else {
                            Severity::Medium
                        },
                        format!("Trail {trail} narrowed"),
                        format!(
                            "{by} set the event selectors of trail {trail}: it now records {} \
                             of Secrets Manager's reads and {} of its changes.",
                            logged_words(logging.reads),
                            logged_words(logging.writes)
                        ),
                        json!({ "trail": trail, "reads": logging.reads, "writes": logging.writes }),
                    );
                }
            }
            "UpdateTrail"
                if field("isMultiRegionTrail").and_then(Value::as_bool) == Some(false) =>
            {
                let trail = trail_name(request, "name");
                let home = event.region.as_deref().unwrap_or("its home region");
                found(
                    FindingKind::LoggingNarrowed,
                    Severity::Medium,
                    format!("Trail {trail} narrowed to one region"),
                    format!(
                        "{by} set trail {trail} to record only {home}: the other regions' \
                         events, Secrets Manager's among them, are no longer recorded by it."
                    ),
                    json!({ "trail": trail, "multi_region": false }),
                );
            }
            _ => {}
        }
        if event.principal_type.as_deref() == Some("Root") {
            let on = if event.secret().is_some() {
                format!(" on {secret}")
            } else {
                String::new()
            };
            found(
                FindingKind::RootUsed,
                Severity::Critical,
                format!("Root user called {}", event.event_name),
                format!(
                    "The account's root user called {}{on} at {} from {}. The root user \
                     should not be used for everyday work.",
                    event.event_name,
                    time(event.event_time),
                    from_where(event)
                ),
                json!({ "event": event.event_name }),
            );
        }
    }
}

/// The trail a change names: its name, or its ARN's name part.
fn trail_name(request: Option<&Value>, field: &str) -> String {
    let named = request
        .and_then(|request| request.get(field))
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)");
    named
        .rsplit_once(":trail/")
        .map_or(named, |(_, name)| name)
        .to_string()
}

fn logged_words(logged: Logged) -> &'static str {
    match logged {
        Logged::All => "all",
        Logged::Partly => "only some",
        Logged::None => "none",
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

    fn trail_change(id: &str, name: &str, request: Value) -> Observed {
        let mut event = change(id, name, request);
        event.secret_ref = None;
        event.secret_arn = None;
        event
    }

    #[test]
    fn stopping_or_deleting_a_trail_is_high() {
        let trail = format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-audit");
        let verdicts = run(
            &RiskyChange,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &[
                trail_change("s", "StopLogging", json!({ "name": trail })),
                trail_change("d", "DeleteTrail", json!({ "name": "old-trail" })),
            ],
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 2);
        assert!(
            found.iter().all(|draft| (draft.kind, draft.severity)
                == (FindingKind::LoggingStopped, Severity::High))
        );
        assert_eq!(found[0].title, "Trail org-audit stopped");
        assert_eq!(found[1].title, "Trail old-trail deleted");
        assert!(
            found[0].explanation.contains("ops-admin"),
            "{}",
            found[0].explanation
        );
    }

    #[test]
    fn selectors_that_drop_secrets_managers_reads_are_high_and_complete_ones_nothing() {
        let write_only = json!({ "trailName": "org-audit", "eventSelectors": [
            { "readWriteType": "WriteOnly", "includeManagementEvents": true } ] });
        let excluded = json!({ "trailName": "org-audit", "advancedEventSelectors": [
            { "name": "all but Secrets Manager", "fieldSelectors": [
                { "field": "eventCategory", "equals": ["Management"] },
                { "field": "eventSource", "notEquals": ["secretsmanager.amazonaws.com"] } ] } ] });
        let everything = json!({ "trailName": "org-audit", "eventSelectors": [
            { "readWriteType": "All", "includeManagementEvents": true } ] });
        let some_reads = json!({ "trailName": "org-audit", "advancedEventSelectors": [
            { "fieldSelectors": [
                { "field": "eventCategory", "equals": ["Management"] },
                { "field": "eventName", "notEquals": ["ListSecrets"] } ] } ] });
        assert_eq!(
            kinds(&[
                trail_change("w", "PutEventSelectors", write_only),
                trail_change("x", "PutEventSelectors", excluded),
                trail_change("e", "PutEventSelectors", everything),
                trail_change("p", "PutEventSelectors", some_reads),
            ]),
            [
                (FindingKind::LoggingNarrowed, Severity::High),
                (FindingKind::LoggingNarrowed, Severity::High),
                (FindingKind::LoggingNarrowed, Severity::Medium),
            ]
        );
    }

    #[test]
    fn a_trail_narrowed_to_its_home_region_is_medium_and_other_updates_nothing() {
        assert_eq!(
            kinds(&[
                trail_change(
                    "r",
                    "UpdateTrail",
                    json!({ "name": "org-audit", "isMultiRegionTrail": false })
                ),
                trail_change(
                    "v",
                    "UpdateTrail",
                    json!({ "name": "org-audit", "enableLogFileValidation": true })
                ),
            ]),
            [(FindingKind::LoggingNarrowed, Severity::Medium)]
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
