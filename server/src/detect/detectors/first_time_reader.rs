//! First-time reader: after the account's learning period, a principal successfully reads a
//! secret it has never read before (Elastic's new-terms rule over account × user, here per
//! secret). The secret's own rotation function at work is not a reader, nor is a principal
//! reading back a value it set itself moments before (infrastructure as code).

use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{Detector, Known, Observed, draft, from_where, time, which_secret, who};
use crate::findings::Verdict;

pub struct FirstTimeReader;

impl Detector for FirstTimeReader {
    const NAME: &'static str = "first_time_reader";
    type State = ();

    fn key(&self, event: &Observed) -> Option<String> {
        (event.is_secret_read() && event.principal.is_some()).then(String::new)
    }

    fn observe(&self, event: &Observed, known: &Known, _: &mut (), verdicts: &mut Vec<Verdict>) {
        if known.by_rotation
            || known.first_read.is_some()
            || known.reads_back_own_value(event.event_time)
            || !known.account_learned(event.event_time)
        {
            return;
        }
        let secret = which_secret(event, known);
        let since = known.account_since.map(time).unwrap_or_default();
        verdicts.push(Verdict::Finding(draft(
            FindingKind::FirstTimeReader,
            Severity::Medium,
            event,
            known,
            format!("{} read {secret} for the first time", who(event)),
            format!(
                "{} read {secret} at {} from {}. It had not read this secret before in the \
                 account's history, which Trailkeeper has since {since} (the first {} days of \
                 it were for learning).",
                who(event),
                time(event.event_time),
                from_where(event),
                known.settings.learning_days
            ),
            json!({ "history_since": known.account_since,
                    "settings": { "learning_days": known.settings.learning_days } }),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    #[test]
    fn a_new_reader_after_learning_is_found_once_and_known_readers_are_not() {
        let events = [
            read("1", at(1, 9, 0), "payments-task", "prod/db"),
            // Still learning: a new reader then is part of the baseline.
            read("2", at(3, 9, 0), "reports-task", "prod/db"),
            read("3", at(8, 9, 0), "payments-task", "prod/db"),
            read("4", at(8, 9, 5), "reports-task", "prod/db"),
            read("5", at(9, 2, 0), "intruder", "prod/db"),
            read("6", at(9, 2, 1), "intruder", "prod/db"),
        ];
        let verdicts = run(
            &FirstTimeReader,
            &DetectionSettings::default(),
            at(1, 9, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].evidence, ["5"]);
        assert!(
            found[0]
                .principal
                .as_deref()
                .unwrap()
                .ends_with(":role/intruder")
        );
        assert!(
            found[0]
                .title
                .starts_with("intruder (session intruder-1) read prod/db")
        );
    }

    #[test]
    fn a_refused_read_does_not_make_a_reader() {
        let mut refused = read("1", at(8, 9, 0), "intruder", "prod/db");
        refused.error_code = Some("AccessDenied".into());
        let events = [refused, read("2", at(8, 9, 1), "intruder", "prod/db")];
        let verdicts = run(
            &FirstTimeReader,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        assert_eq!(findings(&verdicts)[0].evidence, ["2"]);
    }
}
