//! Cross-account reader: a principal of another AWS account reads a secret (the caller's
//! account is not the account the event was delivered to), the first time for that account
//! and secret after the learning period.

use serde::{Deserialize, Serialize};
use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{
    Detector, Known, Observed, draft, from_where, time, which_account, which_secret, who,
};
use crate::findings::Verdict;

pub struct CrossAccount;

#[derive(Default, Serialize, Deserialize)]
pub struct Seen {
    first: Option<chrono::DateTime<chrono::Utc>>,
}

impl Detector for CrossAccount {
    const NAME: &'static str = "cross_account";
    type State = Seen;

    fn key(&self, event: &Observed) -> Option<String> {
        let caller = event.principal_account.as_deref()?;
        let owner = event.account_id.as_deref()?;
        (event.is_secret_read() && caller != owner)
            .then(|| format!("{caller}\u{1f}{}", event.secret().unwrap_or_default()))
    }

    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        seen: &mut Seen,
        verdicts: &mut Vec<Verdict>,
    ) {
        if known.by_rotation || seen.first.is_some() {
            return;
        }
        seen.first = Some(event.event_time);
        if !known.account_learned(event.event_time) {
            return;
        }
        let secret = which_secret(event, known);
        let caller = event.principal_account.as_deref().unwrap_or_default();
        let owner = event.account_id.as_deref().unwrap_or_default();
        verdicts.push(Verdict::Finding(draft(
            FindingKind::CrossAccountReader,
            Severity::High,
            event,
            known,
            format!("Account {} read {secret}", which_account(caller, known)),
            format!(
                "{} of account {} read {secret}, a secret of account {}, at {} from {}. No \
                 principal of account {} had read it before.",
                who(event),
                which_account(caller, known),
                which_account(owner, known),
                time(event.event_time),
                from_where(event),
                which_account(caller, known),
            ),
            json!({ "caller_account": caller, "owner_account": owner }),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    #[test]
    fn another_accounts_first_read_of_a_secret_is_found_once() {
        let partner = |id: &str, day, role: &str| {
            let mut event = read(id, at(day, 10, 0), role, "prod/db");
            event.principal_account = Some("444455556666".into());
            event.principal = Some(format!("arn:aws:iam::444455556666:role/{role}"));
            event
        };
        let events = [
            read("own", at(7, 9, 0), "payments-task", "prod/db"),
            partner("1", 8, "partner-sync"),
            partner("2", 9, "partner-other"),
        ];
        let verdicts = run(
            &CrossAccount,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].evidence, ["1"]);
        assert_eq!(found[0].detail["caller_account"], "444455556666");
        assert_eq!(found[0].title, "Account 444455556666 read prod/db");
        assert!(
            found[0]
                .explanation
                .contains("a secret of account prod (111122223333)"),
            "{}",
            found[0].explanation
        );
    }
}
