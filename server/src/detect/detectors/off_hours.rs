//! Off-hours human access: a person (IAM user, console or SSO session) reads a secret in an
//! hour of the week in which they were not active at all over the last weeks — outside their
//! own usual hours, whatever those are.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{Detector, Known, Observed, draft, from_where, time, which_secret, who};
use crate::findings::Verdict;

pub struct OffHours;

/// For each hour of the week (0 is Monday 00:00 UTC), the last hour the person was active in.
#[derive(Default, Serialize, Deserialize)]
pub struct UsualHours {
    active: BTreeMap<u32, DateTime<Utc>>,
}

impl Detector for OffHours {
    const NAME: &'static str = "off_hours";
    type State = UsualHours;

    fn key(&self, event: &Observed) -> Option<String> {
        event
            .principal
            .clone()
            .filter(|_| event.succeeded() && event.is_human())
    }

    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        usual: &mut UsualHours,
        verdicts: &mut Vec<Verdict>,
    ) {
        let at = event.event_time;
        let hour = at.duration_trunc(Duration::hours(1)).unwrap_or(at);
        let hour_of_week = at.weekday().num_days_from_monday() * 24 + at.hour();
        let days = known.settings.usual_hours_days;
        let span = Duration::days(days);
        let judged = event.is_secret_read()
            && known.account_learned(at)
            && known
                .principal_since
                .is_some_and(|since| at - since >= span);
        let last = usual.active.insert(hour_of_week, hour);
        if !judged || last.is_some_and(|last| hour - last <= span) {
            return;
        }
        let mut hours: Vec<u32> = usual
            .active
            .iter()
            .filter(|(_, last)| hour - **last <= span)
            .map(|(hour_of_week, _)| *hour_of_week)
            .filter(|other| *other != hour_of_week)
            .collect();
        hours.sort();
        let secret = which_secret(event, known);
        verdicts.push(Verdict::Finding(draft(
            FindingKind::OffHoursAccess,
            Severity::Medium,
            event,
            known,
            format!("{} read {secret} outside their usual hours", who(event)),
            format!(
                "{} read {secret} at {} from {}: a {} in the {}:00 hour, in which they were not \
                 active at all over the last {days} days. They were active in {} hours of the \
                 week in that time{}.",
                who(event),
                time(at),
                from_where(event),
                at.format("%A"),
                at.format("%H"),
                hours.len(),
                usual_range(&hours)
            ),
            json!({ "hour_of_week": hour_of_week, "active_hours_of_week": hours,
                    "settings": { "usual_hours_days": days } }),
        )));
    }
}

/// ", mostly between 09:00 and 18:00 UTC": the hours of the day most of the activity fell in.
fn usual_range(hours_of_week: &[u32]) -> String {
    let mut hours: Vec<u32> = hours_of_week.iter().map(|how| how % 24).collect();
    if hours.is_empty() {
        return String::new();
    }
    hours.sort();
    let low = hours[hours.len() / 10];
    let high = hours[(hours.len() * 9) / 10];
    format!(", mostly between {low:02}:00 and {:02}:00 UTC", high + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectionSettings;
    use crate::detect::testing::{at, findings, read, run};

    fn person(id: &str, when: DateTime<Utc>) -> Observed {
        let mut event = read(id, when, "Admin", "prod/db");
        event.session_name = Some("alice@example.com".into());
        event
    }

    /// Alice works weekdays 09:00–17:00 for five weeks.
    fn working_weeks() -> Vec<Observed> {
        let mut events = Vec::new();
        for day in 1..=35 {
            let date = at(day, 0, 0);
            if date.weekday().number_from_monday() > 5 {
                continue;
            }
            for hour in 9..17 {
                events.push(person(&format!("{day}-{hour}"), at(day, hour, 10)));
            }
        }
        events
    }

    #[test]
    fn a_read_at_3am_is_found_and_working_hours_are_not() {
        let mut events = working_weeks();
        events.push(person("night", at(37, 3, 0)));
        events.push(person("day", at(37, 10, 0)));
        let verdicts = run(
            &OffHours,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].evidence, ["night"]);
        assert!(
            found[0]
                .explanation
                .contains("mostly between 09:00 and 17:00 UTC")
        );
    }

    #[test]
    fn workloads_have_no_hours() {
        let mut events = working_weeks();
        let mut job = read("job", at(37, 3, 0), "nightly-job", "prod/db");
        job.session_name = Some("i-0abc".into());
        events.push(job);
        let verdicts = run(
            &OffHours,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        assert!(findings(&verdicts).is_empty());
    }
}
