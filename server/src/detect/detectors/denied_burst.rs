//! Denied burst: many refused reads (access denied, no such secret, undecryptable) by one
//! principal within an hour — enumeration, or a deploy that broke its permissions; worth a
//! look either way.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{Detector, Known, Observed, draft, from_where, time, who};
use crate::findings::Verdict;

pub struct DeniedBurst;

/// The principal's latest refused reads, as many as the threshold: enough to tell whether
/// that many fell within the window; and whether the latest already made a finding.
#[derive(Default, Serialize, Deserialize)]
pub struct Refusals {
    latest: VecDeque<(DateTime<Utc>, String, Option<String>)>,
    in_burst: bool,
}

impl Detector for DeniedBurst {
    const NAME: &'static str = "denied_burst";
    type State = Refusals;

    fn key(&self, event: &Observed) -> Option<String> {
        event.principal.clone().filter(|_| event.is_denied_read())
    }

    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        refusals: &mut Refusals,
        verdicts: &mut Vec<Verdict>,
    ) {
        let settings = known.settings;
        let at = event.event_time;
        let window = Duration::minutes(settings.denied_window_minutes);
        let threshold = settings.denied_reads as usize;
        refusals
            .latest
            .retain(|(refused, _, _)| at - *refused < window);
        refusals.latest.push_back((
            at,
            event.event_id.clone(),
            event.secret().map(str::to_string),
        ));
        while refusals.latest.len() > threshold {
            refusals.latest.pop_front();
        }
        if refusals.latest.len() < threshold {
            refusals.in_burst = false;
            return;
        }
        let secrets: BTreeSet<&str> = refusals
            .latest
            .iter()
            .filter_map(|(_, _, secret)| secret.as_deref())
            .collect();
        let codes = event.error_code.as_deref().unwrap_or("an error");
        let mut finding = draft(
            FindingKind::DeniedBurst,
            Severity::Medium,
            event,
            known,
            format!("Burst of refused reads by {}", who(event)),
            format!(
                "{} was refused at least {threshold} reads of secret values within {} minutes \
                 ({} different secrets among the latest; the latest at {} from {}, {codes}). \
                 That is enumeration, or a deploy that lost its permissions.",
                who(event),
                settings.denied_window_minutes,
                secrets.len(),
                time(at),
                from_where(event)
            ),
            json!({ "distinct_secrets": secrets.len(),
                    "settings": { "denied_reads": settings.denied_reads,
                                  "denied_window_minutes": settings.denied_window_minutes } }),
        );
        finding.secret_arn = None;
        finding.secret_name = None;
        // The refusal that fills the window stands for every refusal in it.
        if !refusals.in_burst {
            refusals.in_burst = true;
            finding.count = refusals.latest.len() as i64;
            finding.first_seen = refusals.latest.front().map_or(at, |(first, _, _)| *first);
            finding.evidence = refusals
                .latest
                .iter()
                .map(|(_, id, _)| id.clone())
                .collect();
        }
        verdicts.push(Verdict::Finding(finding));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    fn refused(n: i64, minutes_apart: i64) -> Observed {
        let mut event = read(
            &format!("d{n}"),
            at(3, 0, 0) + Duration::minutes(n * minutes_apart),
            "contractor",
            &format!("app/{n}"),
        );
        event.error_code = Some("AccessDenied".into());
        event
    }

    #[test]
    fn twenty_refusals_in_an_hour_make_one_burst_counting_them_all() {
        let events: Vec<Observed> = (0..25).map(|n| refused(n, 1)).collect();
        let verdicts = run(
            &DeniedBurst,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found[0].count, 20);
        assert_eq!(found[0].evidence.len(), 20);
        assert_eq!(found.iter().map(|draft| draft.count).sum::<i64>(), 25);
        assert!(found[0].explanation.contains("20 different secrets"));
    }

    #[test]
    fn refusals_spread_over_a_day_are_no_burst() {
        let events: Vec<Observed> = (0..25).map(|n| refused(n, 10)).collect();
        let verdicts = run(
            &DeniedBurst,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        assert!(findings(&verdicts).is_empty());
    }
}
