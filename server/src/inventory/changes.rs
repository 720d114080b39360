//! Who changed a secret, and when exactly: joins the label moves syncs observed with the
//! CloudTrail events that made them. A sync sees that `AWSCURRENT` left one version for
//! another somewhere between two syncs; the `PutSecretValue` or `UpdateSecretVersionStage`
//! event says who did it, from where, to the second. Done when the page is read, so a
//! move is explained whichever arrived first, the sync or the event.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use trailkeeper_app::api::admin::TrailkeeperChange;
use trailkeeper_app::api::secrets::{LabelMove, SecretChange};

/// The events that change a secret rather than read it. The partial index
/// `events_changing_secrets` (migration 0018) lists the same names.
pub const CHANGE_EVENTS: [&str; 17] = [
    "CreateSecret",
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "RotateSecret",
    "RotationSucceeded",
    "RotationFailed",
    "RotationAbandoned",
    "CancelRotateSecret",
    "DeleteSecret",
    "RestoreSecret",
    "TagResource",
    "UntagResource",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
];

/// A stored event from `CHANGE_EVENTS`, with the parts of its record that name versions.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChangeEvent {
    pub event_id: String,
    pub event_name: String,
    pub event_time: DateTime<Utc>,
    pub principal: Option<String>,
    pub session_name: Option<String>,
    pub origin: Option<String>,
    pub message: Option<String>,
    pub request: Option<Value>,
    pub response: Option<Value>,
    /// The change through Trailkeeper that made it, from `trailkeeper_change_for_event`.
    pub audit_id: Option<i64>,
    pub person: Option<String>,
    pub reason: Option<String>,
}

/// A label move as a sync observed it (a `label_history` row).
#[derive(Clone, Debug)]
pub struct ObservedMove {
    pub label: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub observed_at: DateTime<Utc>,
}

/// A move an event made, as far as its record says.
#[derive(Clone, Debug, PartialEq)]
struct Implied {
    label: String,
    /// `None` when the record does not say where the label was.
    from: Option<String>,
    to: Option<String>,
}

fn text<'a>(object: &'a Option<Value>, key: &str) -> Option<&'a str> {
    object
        .as_ref()?
        .get(key)?
        .as_str()
        .filter(|text| !text.is_empty())
}

/// The label moves an event's record states. A new value (`PutSecretValue`, or
/// `CreateSecret`/`UpdateSecret` with one, which AWS answers with the new version's id)
/// gets the stages the call named, `AWSCURRENT` when it named none; the version is the
/// call's `clientRequestToken` when the response leaves it out. `UpdateSecretVersionStage`
/// names its label and both ends.
fn implied_moves(event: &ChangeEvent) -> Vec<Implied> {
    let new_version = match event.event_name.as_str() {
        "PutSecretValue" => text(&event.response, "versionId")
            .or_else(|| text(&event.request, "clientRequestToken")),
        "CreateSecret" | "UpdateSecret" => text(&event.response, "versionId"),
        "UpdateSecretVersionStage" => {
            let Some(label) = text(&event.request, "versionStage") else {
                return Vec::new();
            };
            let from = text(&event.request, "removeFromVersionId").map(str::to_string);
            let to = text(&event.request, "moveToVersionId").map(str::to_string);
            if from.is_none() && to.is_none() {
                return Vec::new();
            }
            return vec![Implied {
                label: label.into(),
                from,
                to,
            }];
        }
        _ => None,
    };
    let Some(version) = new_version else {
        return Vec::new();
    };
    let stages: Vec<String> = event
        .request
        .as_ref()
        .and_then(|request| request.get("versionStages"))
        .and_then(Value::as_array)
        .map(|stages| {
            stages
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .filter(|stages: &Vec<String>| !stages.is_empty())
        .unwrap_or_else(|| vec!["AWSCURRENT".into()]);
    stages
        .into_iter()
        .map(|label| Implied {
            label,
            from: None,
            to: Some(version.to_string()),
        })
        .collect()
}

fn change(event: &ChangeEvent) -> SecretChange {
    SecretChange {
        event_id: event.event_id.clone(),
        event_name: event.event_name.clone(),
        event_time: event.event_time,
        principal: event.principal.clone(),
        session_name: event.session_name.clone(),
        origin: event.origin.clone(),
        message: event.message.clone(),
        through_trailkeeper: TrailkeeperChange::from_parts(
            event.audit_id,
            event.person.clone(),
            event.reason.clone(),
        ),
    }
}

/// The secret's label history with each move's cause, and the changes that moved no
/// label. `observed` and `events` are oldest first; so is what comes back.
///
/// Each observed move takes the newest event not yet used that made that move and
/// happened no later than the sync that saw it; going oldest first, a label moved back to
/// a version it held before takes the later event. `AWSPREVIOUS` follows `AWSCURRENT` by
/// itself, so its move takes the event that moved `AWSCURRENT` off that version in the
/// same sync; `AWSPENDING` leaving a version is the end of the rotation that put it there.
/// Moves that only CloudTrail knows (the label moved again before a sync looked) are
/// listed with no observation.
pub fn explain(
    observed: &[ObservedMove],
    events: &[ChangeEvent],
) -> (Vec<LabelMove>, Vec<SecretChange>) {
    let implied: Vec<Vec<Implied>> = events.iter().map(implied_moves).collect();
    let mut used: HashSet<(usize, usize)> = HashSet::new();
    let mut causes: Vec<Option<usize>> = vec![None; observed.len()];
    for (index, seen) in observed.iter().enumerate() {
        let cause = (0..events.len()).rev().find_map(|event| {
            if events[event].event_time > seen.observed_at {
                return None;
            }
            implied[event]
                .iter()
                .position(|made| {
                    made.label == seen.label
                        && made.to == seen.to_version
                        && (made.from.is_none()
                            || seen.from_version.is_none()
                            || made.from == seen.from_version)
                })
                .filter(|made| !used.contains(&(event, *made)))
                .map(|made| (event, made))
        });
        if let Some((event, made)) = cause {
            used.insert((event, made));
            causes[index] = Some(event);
        }
    }
    for index in 0..observed.len() {
        if causes[index].is_none() {
            causes[index] = automatic_cause(index, observed, events, &causes);
        }
    }

    let mut moves: Vec<LabelMove> = observed
        .iter()
        .zip(&causes)
        .map(|(seen, cause)| {
            let by = cause.map(|event| change(&events[event]));
            LabelMove {
                label: seen.label.clone(),
                from_version: seen.from_version.clone(),
                to_version: seen.to_version.clone(),
                at: by.as_ref().map_or(seen.observed_at, |by| by.event_time),
                observed_at: Some(seen.observed_at),
                by,
            }
        })
        .collect();
    for (event, made) in implied.iter().enumerate() {
        for (position, made) in made.iter().enumerate() {
            if !used.contains(&(event, position)) {
                moves.push(LabelMove {
                    label: made.label.clone(),
                    from_version: made.from.clone(),
                    to_version: made.to.clone(),
                    at: events[event].event_time,
                    observed_at: None,
                    by: Some(change(&events[event])),
                });
            }
        }
    }
    moves.sort_by_key(|change| change.at);
    let changes = events
        .iter()
        .zip(&implied)
        .filter(|(_, made)| made.is_empty())
        .map(|(event, _)| change(event))
        .collect();
    (moves, changes)
}

/// The cause of a move AWS makes by itself: `AWSPREVIOUS` arriving on the version
/// `AWSCURRENT` left in the same sync, or `AWSPENDING` leaving a version when the rotation
/// that put it there ended.
fn automatic_cause(
    index: usize,
    observed: &[ObservedMove],
    events: &[ChangeEvent],
    causes: &[Option<usize>],
) -> Option<usize> {
    let seen = &observed[index];
    match (seen.label.as_str(), &seen.from_version, &seen.to_version) {
        ("AWSPREVIOUS", _, Some(version)) => {
            observed.iter().zip(causes).find_map(|(other, cause)| {
                (other.label == "AWSCURRENT"
                    && other.observed_at == seen.observed_at
                    && other.from_version.as_ref() == Some(version))
                .then_some(*cause)
                .flatten()
            })
        }
        ("AWSPENDING", Some(version), None) => {
            let arrived = observed[..index]
                .iter()
                .zip(causes)
                .rev()
                .find(|(other, _)| {
                    other.label == "AWSPENDING" && other.to_version.as_ref() == Some(version)
                })
                .map(|(other, cause)| {
                    cause.map_or(other.observed_at, |event| events[event].event_time)
                });
            (0..events.len()).rev().find(|&event| {
                events[event].event_name == "RotationSucceeded"
                    && events[event].event_time <= seen.observed_at
                    && arrived.is_none_or(|arrived| events[event].event_time >= arrived)
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2026-11-03T08:{minute:02}:00Z").parse().unwrap()
    }

    fn seen(label: &str, from: Option<&str>, to: Option<&str>, minute: u32) -> ObservedMove {
        ObservedMove {
            label: label.into(),
            from_version: from.map(Into::into),
            to_version: to.map(Into::into),
            observed_at: at(minute),
        }
    }

    fn event(id: &str, name: &str, minute: u32, request: Value, response: Value) -> ChangeEvent {
        ChangeEvent {
            event_id: id.into(),
            event_name: name.into(),
            event_time: at(minute),
            principal: Some("arn:aws:iam::111122223333:role/rotation".into()),
            session_name: None,
            origin: Some("lambda.amazonaws.com".into()),
            message: None,
            request: Some(request),
            response: Some(response),
            audit_id: None,
            person: None,
            reason: None,
        }
    }

    fn put(id: &str, minute: u32, version: &str, stages: &[&str]) -> ChangeEvent {
        event(
            id,
            "PutSecretValue",
            minute,
            json!({"secretId": "prod/db", "clientRequestToken": version, "versionStages": stages}),
            json!({"arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf"}),
        )
    }

    fn stage(id: &str, minute: u32, label: &str, from: &str, to: &str) -> ChangeEvent {
        event(
            id,
            "UpdateSecretVersionStage",
            minute,
            json!({"secretId": "prod/db", "versionStage": label, "removeFromVersionId": from, "moveToVersionId": to}),
            json!({}),
        )
    }

    fn causes(moves: &[LabelMove]) -> Vec<(String, Option<String>, Option<DateTime<Utc>>)> {
        moves
            .iter()
            .map(|change| {
                (
                    change.label.clone(),
                    change.by.as_ref().map(|by| by.event_id.clone()),
                    change.observed_at,
                )
            })
            .collect()
    }

    #[test]
    fn a_rotation_seen_by_a_sync_is_explained_by_its_events_to_the_second() {
        let observed = [
            seen("AWSCURRENT", None, Some("v1"), 0),
            seen("AWSPENDING", None, Some("v2"), 10),
            seen("AWSCURRENT", Some("v1"), Some("v2"), 20),
            seen("AWSPENDING", Some("v2"), None, 20),
            seen("AWSPREVIOUS", None, Some("v1"), 20),
        ];
        let mut succeeded = event("ok", "RotationSucceeded", 15, json!(null), json!(null));
        succeeded.request = None;
        let events = [
            event(
                "rotate",
                "RotateSecret",
                5,
                json!({"secretId": "prod/db"}),
                json!({"versionId": "v2"}),
            ),
            put("pending", 6, "v2", &["AWSPENDING"]),
            stage("finish", 14, "AWSCURRENT", "v1", "v2"),
            succeeded,
        ];
        let (moves, changes) = explain(&observed, &events);
        assert_eq!(
            causes(&moves),
            [
                ("AWSCURRENT".into(), None, Some(at(0))),
                ("AWSPENDING".into(), Some("pending".into()), Some(at(10))),
                ("AWSCURRENT".into(), Some("finish".into()), Some(at(20))),
                ("AWSPREVIOUS".into(), Some("finish".into()), Some(at(20))),
                ("AWSPENDING".into(), Some("ok".into()), Some(at(20))),
            ]
        );
        let finish = &moves[2];
        assert_eq!(finish.at, at(14), "the move happened when the event says");
        assert_eq!(
            finish.by.as_ref().unwrap().principal.as_deref(),
            Some("arn:aws:iam::111122223333:role/rotation")
        );
        let names: Vec<&str> = changes
            .iter()
            .map(|change| change.event_name.as_str())
            .collect();
        assert_eq!(names, ["RotateSecret", "RotationSucceeded"]);
    }

    #[test]
    fn a_move_the_sync_missed_is_listed_from_cloudtrail_alone() {
        // v1 → v2 → v3 between two syncs: the sync saw v1 → v3.
        let observed = [
            seen("AWSCURRENT", None, Some("v1"), 0),
            seen("AWSCURRENT", Some("v1"), Some("v3"), 30),
        ];
        let events = [put("second", 10, "v2", &[]), put("third", 20, "v3", &[])];
        let (moves, _) = explain(&observed, &events);
        assert_eq!(
            causes(&moves),
            [
                ("AWSCURRENT".into(), None, Some(at(0))),
                ("AWSCURRENT".into(), Some("second".into()), None),
                ("AWSCURRENT".into(), Some("third".into()), Some(at(30))),
            ]
        );
        assert_eq!(moves[1].to_version.as_deref(), Some("v2"));
    }

    #[test]
    fn an_event_after_the_sync_does_not_explain_it_and_a_rollback_takes_the_later_event() {
        let observed = [
            seen("AWSCURRENT", Some("v1"), Some("v2"), 10),
            seen("AWSCURRENT", Some("v2"), Some("v1"), 30),
        ];
        let events = [
            stage("forward", 5, "AWSCURRENT", "v1", "v2"),
            stage("back", 25, "AWSCURRENT", "v2", "v1"),
            stage("later", 40, "AWSCURRENT", "v1", "v2"),
        ];
        let (moves, _) = explain(&observed, &events);
        assert_eq!(
            causes(&moves),
            [
                ("AWSCURRENT".into(), Some("forward".into()), Some(at(10))),
                ("AWSCURRENT".into(), Some("back".into()), Some(at(30))),
                ("AWSCURRENT".into(), Some("later".into()), None),
            ]
        );
    }

    #[test]
    fn a_new_value_names_its_version_and_stages_and_metadata_updates_move_nothing() {
        let created = event(
            "create",
            "CreateSecret",
            1,
            json!({"name": "prod/db", "clientRequestToken": "v1"}),
            json!({"versionId": "v1"}),
        );
        assert_eq!(
            implied_moves(&created),
            [Implied {
                label: "AWSCURRENT".into(),
                from: None,
                to: Some("v1".into())
            }]
        );
        // SDKs send a token with every UpdateSecret; only a new value makes a version.
        let described = event(
            "describe",
            "UpdateSecret",
            2,
            json!({"secretId": "prod/db", "description": "new", "clientRequestToken": "t"}),
            json!({"arn": "…"}),
        );
        assert_eq!(implied_moves(&described), []);
        let custom = put("custom", 3, "v2", &["blue", "green"]);
        let labels: Vec<String> = implied_moves(&custom)
            .into_iter()
            .map(|made| made.label)
            .collect();
        assert_eq!(labels, ["blue", "green"]);
        let (_, changes) = explain(&[], &[described]);
        assert_eq!(changes.len(), 1, "a metadata update is a change of its own");
    }
}
