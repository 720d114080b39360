//! Rotation switched off: `CancelRotateSecret` stops a secret's automatic rotation (and any
//! rotation under way), so its value ages from now on.

use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{Detector, Known, Observed, draft, from_where, time, which_secret, who};
use crate::findings::Verdict;

pub struct RotationCancelled;

impl Detector for RotationCancelled {
    const NAME: &'static str = "rotation_cancelled";
    type State = ();

    fn key(&self, event: &Observed) -> Option<String> {
        (event.event_name == "CancelRotateSecret" && event.succeeded()).then(String::new)
    }

    fn observe(&self, event: &Observed, known: &Known, _: &mut (), verdicts: &mut Vec<Verdict>) {
        let secret = which_secret(event, known);
        verdicts.push(Verdict::Finding(draft(
            FindingKind::RotationCancelled,
            Severity::Medium,
            event,
            known,
            format!("Rotation of {secret} switched off"),
            format!(
                "{} called CancelRotateSecret on {secret} at {} from {}: the secret no longer \
                 rotates automatically, and a rotation under way was stopped.",
                who(event),
                time(event.event_time),
                from_where(event)
            ),
            json!({}),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    #[test]
    fn cancelling_rotation_is_a_finding_and_a_refused_cancel_is_not() {
        let mut cancel = read("c", at(3, 14, 0), "ops-admin", "prod/db");
        cancel.event_name = "CancelRotateSecret".into();
        let mut refused = cancel.clone();
        refused.event_id = "r".into();
        refused.error_code = Some("AccessDenied".into());
        let verdicts = run(
            &RotationCancelled,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &[refused, cancel],
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].evidence, ["c"]);
        assert!(found[0].explanation.contains("ops-admin"));
    }
}
