//! Stale consumer after a rotation: a principal that, longer than `stale_consumer_hours`
//! after a rotation succeeded, still reads the version it superseded (`AWSPREVIOUS`, or that
//! version's ID) — it runs on the old value, which breaks at the next rotation — or that
//! read the secret before the rotation and has failed every read since. A good read of the
//! current value resolves it.
//!
//! The superseded version is the one the rotation's `UpdateSecretVersionStage` moved
//! `AWSCURRENT` from (its `removeFromVersionId`, else the version the move before made
//! current).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{Detector, Known, Observed, draft, time, which_secret, who};
use crate::findings::Verdict;

pub struct RotationStaleConsumer;

/// What the detector remembers of one secret's versions.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SecretVersions {
    /// The version `AWSCURRENT` was last moved to.
    current: Option<String>,
    /// The rotation under way.
    rotating: Option<Rotating>,
    /// The last rotation that succeeded.
    last: Option<Rotated>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Rotating {
    started: DateTime<Utc>,
    superseded: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Rotated {
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
    superseded: Option<String>,
    /// Principals that read the current value since.
    moved_on: BTreeSet<String>,
    /// Principals found stale since, and not resolved.
    reported: BTreeSet<String>,
}

const PREVIOUS: &str = "AWSPREVIOUS";

impl Detector for RotationStaleConsumer {
    const NAME: &'static str = "rotation_stale_consumer";
    type State = SecretVersions;

    fn key(&self, event: &Observed) -> Option<String> {
        matches!(
            event.event_name.as_str(),
            "RotationStarted"
                | "RotationSucceeded"
                | "RotationFailed"
                | "RotationAbandoned"
                | "UpdateSecretVersionStage"
                | "GetSecretValue"
        )
        .then(|| event.secret().map(str::to_string))
        .flatten()
    }

    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        state: &mut SecretVersions,
        verdicts: &mut Vec<Verdict>,
    ) {
        let at = event.event_time;
        match event.event_name.as_str() {
            "RotationStarted" => {
                state.rotating = Some(Rotating {
                    started: at,
                    superseded: None,
                });
            }
            "RotationSucceeded" => {
                let rotating = state.rotating.take();
                state.last = Some(Rotated {
                    started: rotating.as_ref().map_or(at, |rotating| rotating.started),
                    ended: at,
                    superseded: rotating.and_then(|rotating| rotating.superseded),
                    moved_on: BTreeSet::new(),
                    reported: BTreeSet::new(),
                });
            }
            "RotationFailed" | "RotationAbandoned" => state.rotating = None,
            "UpdateSecretVersionStage" => moved_current(event, state),
            _ => read(event, known, state, verdicts),
        }
    }
}

/// A successful move of `AWSCURRENT`: the version it left is superseded.
fn moved_current(event: &Observed, state: &mut SecretVersions) {
    let Some(request) = event.request.as_ref().filter(|_| event.succeeded()) else {
        return;
    };
    let text = |name: &str| request.get(name).and_then(|value| value.as_str());
    if text("versionStage") != Some("AWSCURRENT") {
        return;
    }
    let left = text("removeFromVersionId")
        .map(str::to_string)
        .or_else(|| state.current.clone());
    state.current = text("moveToVersionId").map(str::to_string);
    if let Some(rotating) = &mut state.rotating {
        rotating.superseded = left;
    }
}

fn read(event: &Observed, known: &Known, state: &mut SecretVersions, verdicts: &mut Vec<Verdict>) {
    let (Some(principal), Some(last)) = (&event.principal, &mut state.last) else {
        return;
    };
    let at = event.event_time;
    if known.by_rotation || at < last.ended {
        return;
    }
    let asked_previous = event.version_stage.as_deref() == Some(PREVIOUS);
    let asked_superseded = event.version_id.is_some() && event.version_id == last.superseded;
    let late = at - last.ended >= Duration::hours(known.settings.stale_consumer_hours);
    let secret = which_secret(event, known);
    let after = format!(
        "the rotation of {secret} that ended at {}",
        time(last.ended)
    );
    let hours = (at - last.ended).num_hours();
    let finding = |title: String, explanation: String, detail| {
        Verdict::Finding(draft(
            FindingKind::RotationStaleConsumer,
            Severity::Medium,
            event,
            known,
            title,
            explanation,
            detail,
        ))
    };
    if asked_previous || asked_superseded {
        if late && last.reported.insert(principal.clone()) {
            let asked = if asked_previous {
                format!("the {PREVIOUS} stage")
            } else {
                format!("version {}", last.superseded.as_deref().unwrap_or_default())
            };
            verdicts.push(finding(
                format!("{} still reads the old version of {secret}", who(event)),
                format!(
                    "{} asked for {asked} of {secret} at {}, {hours} hours after {after} \
                     replaced it: it runs on the old value, which the next rotation takes \
                     away. Point it at AWSCURRENT (or at no stage). If it reads both on \
                     purpose while a change-over lasts, suppress this.",
                    who(event),
                    time(at)
                ),
                json!({
                    "rotation_ended": last.ended,
                    "superseded_version": last.superseded,
                    "asked_stage": event.version_stage,
                    "asked_version": event.version_id,
                }),
            ));
        }
    } else if event.succeeded() {
        last.moved_on.insert(principal.clone());
        if last.reported.remove(principal) {
            verdicts.push(Verdict::Resolve {
                kind: FindingKind::RotationStaleConsumer,
                principal: Some(principal.clone()),
                secret_arn: event.secret().map(str::to_string),
                at,
                reason: format!("{} read the current value at {}", who(event), time(at)),
            });
        }
    } else if event.is_denied_read()
        && late
        && !last.moved_on.contains(principal)
        && known.first_read.is_some_and(|first| first < last.started)
        && last.reported.insert(principal.clone())
    {
        let code = event.error_code.as_deref().unwrap_or_default();
        verdicts.push(finding(
            format!(
                "{} has failed to read {secret} since its rotation",
                who(event)
            ),
            format!(
                "{} read {secret} before {after}, and has not read it once since: at {}, \
                 {hours} hours later, it was still refused ({code}). It cannot use the new \
                 value — often a permission or KMS key the new version needs — and keeps the \
                 old one only until it restarts.",
                who(event),
                time(at)
            ),
            json!({
                "rotation_ended": last.ended,
                "error_code": code,
            }),
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    fn service_event(id: &str, when: DateTime<Utc>, name: &str) -> Observed {
        let mut event = read(id, when, "none", "prod/db");
        event.event_name = name.into();
        event.principal = Some("secretsmanager.amazonaws.com".into());
        event
    }

    /// A rotation on day 10 that moves AWSCURRENT from `v1` to `v2`, after the app read it
    /// on day 9.
    fn rotation() -> Vec<Observed> {
        let mut moved = read("move", at(10, 3, 1), "rotation", "prod/db");
        moved.event_name = "UpdateSecretVersionStage".into();
        moved.request = Some(json!({
            "versionStage": "AWSCURRENT", "moveToVersionId": "v2", "removeFromVersionId": "v1"
        }));
        vec![
            read("before", at(9, 12, 0), "app", "prod/db"),
            service_event("start", at(10, 3, 0), "RotationStarted"),
            moved,
            service_event("end", at(10, 3, 2), "RotationSucceeded"),
        ]
    }

    fn verdicts(after: Vec<Observed>) -> Vec<Verdict> {
        let mut events = rotation();
        events.extend(after);
        run(
            &RotationStaleConsumer,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        )
    }

    fn asking(
        id: &str,
        when: DateTime<Utc>,
        stage: Option<&str>,
        version: Option<&str>,
    ) -> Observed {
        let mut event = read(id, when, "app", "prod/db");
        event.version_stage = stage.map(str::to_string);
        event.version_id = version.map(str::to_string);
        event
    }

    #[test]
    fn reading_the_superseded_version_past_the_grace_period_is_found_once_and_resolved() {
        let found = verdicts(vec![
            // Within the day after the rotation: a change-over, not yet stale.
            asking("early", at(10, 12, 0), Some("AWSPREVIOUS"), None),
            asking("late", at(11, 4, 0), None, Some("v1")),
            asking("later", at(11, 5, 0), Some("AWSPREVIOUS"), None),
            asking("current", at(11, 6, 0), None, None),
        ]);
        let drafts = findings(&found);
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].evidence, ["late"]);
        assert_eq!(drafts[0].detail["superseded_version"], "v1");
        assert!(drafts[0].explanation.contains("version v1 of prod/db"));
        assert!(matches!(
            found.last(),
            Some(Verdict::Resolve { kind: FindingKind::RotationStaleConsumer, principal: Some(p), .. })
                if p.ends_with("role/app")
        ));
    }

    #[test]
    fn a_former_reader_refused_ever_since_is_failing_but_one_that_moved_on_is_not() {
        let mut refused = asking("refused", at(11, 4, 0), None, None);
        refused.error_code = Some("AccessDeniedException".into());
        let failing = verdicts(vec![refused.clone()]);
        assert_eq!(
            findings(&failing)[0].title,
            "app (session app-1) has failed to read prod/db since its rotation"
        );
        let recovered = verdicts(vec![asking("ok", at(10, 5, 0), None, None), refused]);
        assert!(findings(&recovered).is_empty());
    }

    #[test]
    fn a_pinned_version_that_is_still_current_and_readers_never_granted_are_fine() {
        let mut stranger = read("stranger", at(11, 4, 0), "notify", "prod/db");
        stranger.error_code = Some("AccessDeniedException".into());
        let found = verdicts(vec![
            asking("pinned-new", at(11, 4, 0), None, Some("v2")),
            stranger,
        ]);
        assert!(findings(&found).is_empty());
    }
}
