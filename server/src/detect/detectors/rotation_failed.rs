//! Rotation failed: CloudTrail's `RotationFailed` or `RotationAbandoned` for a secret, with
//! AWS's message and the rotation step it names. A later `RotationSucceeded` for the same
//! secret resolves it.

use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{Detector, Known, Observed, draft, time, which_secret};
use crate::findings::Verdict;

/// The steps of a rotation function, as AWS names them in its messages.
const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

pub struct RotationFailed;

impl Detector for RotationFailed {
    const NAME: &'static str = "rotation_failed";
    type State = ();

    fn key(&self, event: &Observed) -> Option<String> {
        matches!(
            event.event_name.as_str(),
            "RotationFailed" | "RotationAbandoned" | "RotationSucceeded"
        )
        .then(String::new)
    }

    fn observe(&self, event: &Observed, known: &Known, _: &mut (), verdicts: &mut Vec<Verdict>) {
        let secret = which_secret(event, known);
        if event.event_name == "RotationSucceeded" {
            verdicts.push(Verdict::Resolve {
                kind: FindingKind::RotationFailed,
                principal: None,
                secret_arn: event.secret().map(str::to_string),
                at: event.event_time,
                reason: format!(
                    "{secret} rotated successfully at {}",
                    time(event.event_time)
                ),
            });
            return;
        }
        let message = event.error_message.as_deref();
        let step = message.and_then(step);
        let abandoned = event.event_name == "RotationAbandoned";
        let what = if abandoned { "was abandoned" } else { "failed" };
        let mut explanation = format!(
            "The rotation of {secret} {what} at {}",
            time(event.event_time)
        );
        if let Some(step) = step {
            explanation.push_str(&format!(" in its {step} step"));
        }
        explanation.push('.');
        match message {
            Some(message) => explanation.push_str(&format!(" AWS said: {message}")),
            None => explanation.push_str(" AWS gave no message."),
        }
        explanation.push_str(
            " Until a rotation succeeds, the secret keeps its old value and AWSPENDING may be \
             left on an unfinished version.",
        );
        let mut finding = draft(
            FindingKind::RotationFailed,
            Severity::High,
            event,
            known,
            format!("Rotation of {secret} {what}"),
            explanation,
            json!({ "event": event.event_name, "message": message, "step": step }),
        );
        finding.principal = None;
        verdicts.push(Verdict::Finding(finding));
    }
}

/// The rotation step a message names ("… during setSecret step").
fn step(message: &str) -> Option<&'static str> {
    STEPS.into_iter().find(|step| message.contains(step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    fn service_event(id: &str, minute: u32, name: &str) -> Observed {
        let mut event = read(id, at(10, 3, minute), "none", "prod/db");
        event.event_name = name.into();
        event.principal = Some("secretsmanager.amazonaws.com".into());
        event
    }

    #[test]
    fn a_failure_names_its_step_and_a_later_success_resolves_it() {
        let mut failed = service_event("f", 0, "RotationFailed");
        failed.error_message = Some(
            "Error when executing lambda arn:aws:lambda:us-east-1:1:function:rotate during \
             setSecret step"
                .into(),
        );
        let verdicts = run(
            &RotationFailed,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &[failed, service_event("s", 30, "RotationSucceeded")],
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].detail["step"], "setSecret");
        assert!(found[0].explanation.contains("in its setSecret step"));
        assert_eq!(found[0].principal, None);
        assert!(matches!(
            &verdicts[1],
            Verdict::Resolve { kind: FindingKind::RotationFailed, secret_arn: Some(arn), .. }
                if arn.ends_with("prod/db-AbCdEf")
        ));
    }

    #[test]
    fn an_abandoned_rotation_says_so() {
        let verdicts = run(
            &RotationFailed,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &[service_event("a", 0, "RotationAbandoned")],
        );
        assert_eq!(
            findings(&verdicts)[0].title,
            "Rotation of prod/db was abandoned"
        );
    }
}
