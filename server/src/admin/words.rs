//! A change in words: what it will do (for the audit log and the confirmation), what it did,
//! and whether it needs the secret's name typed (it destroys, takes protection away, or
//! widens who may use the secret).

use std::collections::BTreeSet;

use trailkeeper_app::api::admin::{RotationPlan, RotationSchedule, SecretAction};
use trailkeeper_app::api::secrets::{PolicyExposure, PolicyFlag, SecretDetail};

use crate::inventory::policy;

/// What the person confirms by typing the secret's name, for a change that destroys, takes
/// protection away, or (a policy) widens who can use the secret; `None` for others.
pub(super) fn consequence(change: &SecretAction, secret: &SecretDetail) -> Option<String> {
    let name = &secret.summary.name;
    if change.needs_confirmation() {
        return Some(what(change, name));
    }
    let SecretAction::SetPolicy { policy: text } = change else {
        return None;
    };
    let flags = policy::analyse(text, &secret.summary.account_id).unwrap_or_default();
    let opened = widened(&secret.policy_flags, &flags);
    (!opened.is_empty()).then(|| format!("{}, which opens it to {}", what(change, name), opened))
}

/// Whom `new` lets use the secret that `old` did not: "anyone" and/or the new accounts, in
/// words, naming the statements; empty when it does not widen.
fn widened(old: &[PolicyFlag], new: &[PolicyFlag]) -> String {
    let was_public = old
        .iter()
        .any(|flag| flag.exposure == PolicyExposure::Public);
    let old_accounts: BTreeSet<&str> = old
        .iter()
        .filter_map(|flag| match &flag.exposure {
            PolicyExposure::CrossAccount { accounts } => Some(accounts),
            PolicyExposure::Public => None,
        })
        .flatten()
        .map(String::as_str)
        .collect();
    let mut opened = Vec::new();
    for flag in new {
        match &flag.exposure {
            PolicyExposure::Public if !was_public => {
                opened.push(format!("anyone (statement {})", flag.statement));
            }
            PolicyExposure::CrossAccount { accounts } => {
                let added: Vec<&str> = accounts
                    .iter()
                    .map(String::as_str)
                    .filter(|account| !old_accounts.contains(account))
                    .collect();
                if !added.is_empty() {
                    opened.push(format!(
                        "account {} (statement {})",
                        added.join(", "),
                        flag.statement
                    ));
                }
            }
            PolicyExposure::Public => {}
        }
    }
    opened.join(" and ")
}

/// "roll back prod/db", for the audit log and the confirmation.
pub(super) fn what(change: &SecretAction, name: &str) -> String {
    match change {
        SecretAction::Rotate { immediately: true } => format!("rotate {name} now"),
        SecretAction::Rotate { immediately: false } => {
            format!("test the rotation function of {name}")
        }
        SecretAction::ConfigureRotation(plan) => {
            format!("rotate {name} {}", schedule_words(plan))
        }
        SecretAction::StopRotation => format!("turn rotation off for {name}"),
        SecretAction::Rollback => format!("roll {name} back to its previous version"),
        SecretAction::ClearPending => format!("clear the stuck rotation of {name}"),
        SecretAction::Delete { recovery_days } => {
            format!("schedule {name} for deletion, restorable for {recovery_days} days")
        }
        SecretAction::Restore => format!("restore {name}"),
        SecretAction::Tags { set, remove } => format!("{} on {name}", tag_words(set, remove)),
        SecretAction::Update {
            description,
            kms_key_id,
        } => format!("{} of {name}", update_words(description, kms_key_id)),
        SecretAction::Replicate { regions } => format!(
            "replicate {name} to {}",
            regions
                .iter()
                .map(|replica| replica.region.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        SecretAction::RemoveReplica { region } => {
            format!("delete the replica of {name} in {region}")
        }
        SecretAction::SetPolicy { .. } => format!("replace the resource policy of {name}"),
        SecretAction::DeletePolicy => {
            format!("delete the resource policy of {name}, with whatever it allows and denies")
        }
    }
}

/// "rolled back prod/db", once AWS did it.
pub(super) fn done(change: &SecretAction, name: &str) -> String {
    match change {
        SecretAction::Rotate { immediately: true } => format!("rotated {name}"),
        SecretAction::Rotate { immediately: false } => {
            format!("tested the rotation function of {name}")
        }
        SecretAction::ConfigureRotation(plan) => {
            format!("set {name} to rotate {}", schedule_words(plan))
        }
        SecretAction::StopRotation => format!("turned rotation off for {name}"),
        SecretAction::Rollback => format!("rolled {name} back to its previous version"),
        SecretAction::ClearPending => format!("cleared the stuck rotation of {name}"),
        SecretAction::Delete { recovery_days } => {
            format!("scheduled {name} for deletion, restorable for {recovery_days} days")
        }
        SecretAction::Restore => format!("restored {name}"),
        SecretAction::Tags { .. }
        | SecretAction::Update { .. }
        | SecretAction::Replicate { .. }
        | SecretAction::RemoveReplica { .. }
        | SecretAction::SetPolicy { .. }
        | SecretAction::DeletePolicy => format!("did {}", what(change, name)),
    }
}

fn schedule_words(plan: &RotationPlan) -> String {
    let mut words = match &plan.schedule {
        RotationSchedule::EveryDays(days) => format!("every {days} days"),
        RotationSchedule::Expression(expression) => format!("on {expression}"),
    };
    if let Some(window) = &plan.window {
        words.push_str(&format!(" within {window}"));
    }
    if let Some(function) = &plan.function_arn {
        words.push_str(&format!(" with {function}"));
    }
    if plan.immediately {
        words.push_str(", starting now");
    }
    words
}

fn tag_words(set: &std::collections::BTreeMap<String, String>, remove: &[String]) -> String {
    let mut parts = Vec::new();
    if !set.is_empty() {
        let tags: Vec<String> = set
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        parts.push(format!("set tags {}", tags.join(", ")));
    }
    if !remove.is_empty() {
        parts.push(format!("remove tags {}", remove.join(", ")));
    }
    parts.join(" and ")
}

fn update_words(description: &Option<String>, kms_key_id: &Option<String>) -> String {
    let mut parts = Vec::new();
    match description.as_deref() {
        Some("") => parts.push("clear the description".to_string()),
        Some(description) => parts.push(format!("set the description to {description:?}")),
        None => {}
    }
    if let Some(key) = kms_key_id {
        parts.push(format!("encrypt with KMS key {key}"));
    }
    parts.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(statement: &str, exposure: PolicyExposure) -> PolicyFlag {
        PolicyFlag {
            statement: statement.into(),
            exposure,
            reason: String::new(),
        }
    }

    #[test]
    fn a_policy_widens_when_it_lets_in_anyone_or_an_account_not_let_in_before() {
        let partner = |accounts: &[&str]| PolicyExposure::CrossAccount {
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
        };
        let before = [flag("\"Partner\"", partner(&["222222222222"]))];
        assert_eq!(
            widened(&before, &[flag("\"Partner\"", partner(&["222222222222"]))]),
            ""
        );
        assert_eq!(widened(&before, &[]), "");
        assert_eq!(
            widened(
                &before,
                &[flag(
                    "\"Partner\"",
                    partner(&["222222222222", "333333333333"])
                )]
            ),
            "account 333333333333 (statement \"Partner\")"
        );
        assert_eq!(
            widened(&before, &[flag("#2", PolicyExposure::Public)]),
            "anyone (statement #2)"
        );
        assert_eq!(
            widened(
                &[flag("#1", PolicyExposure::Public)],
                &[flag("#1", PolicyExposure::Public)]
            ),
            ""
        );
    }
}
