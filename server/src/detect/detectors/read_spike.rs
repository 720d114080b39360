//! Read-volume spike: a principal reads a secret far more often in an hour than it does in
//! that hour of the week — its baseline is the same hour over the last weeks, once enough of
//! its history exists. A weekly batch job is in its own baseline, so it does not fire.

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use crate::detect::{DetectionSettings, Detector, Known, Observed, draft, which_secret, who};
use crate::findings::Verdict;

pub struct ReadSpike;

/// Reads per hour for one principal, secret and hour of the week: the current hour and the
/// same hour of the weeks the baseline covers.
#[derive(Default, Serialize, Deserialize)]
pub struct Hours {
    counts: Vec<(DateTime<Utc>, i64)>,
}

impl Detector for ReadSpike {
    const NAME: &'static str = "read_spike";
    type State = Hours;

    fn key(&self, event: &Observed) -> Option<String> {
        if !event.is_secret_read() {
            return None;
        }
        let at = event.event_time;
        let hour_of_week = at.weekday().num_days_from_monday() * 24 + at.hour();
        Some(format!(
            "{}\u{1f}{}\u{1f}{hour_of_week}",
            event.principal.as_deref()?,
            event.secret()?
        ))
    }

    fn observe(
        &self,
        event: &Observed,
        known: &Known,
        hours: &mut Hours,
        verdicts: &mut Vec<Verdict>,
    ) {
        if known.by_rotation {
            return;
        }
        let settings = known.settings;
        let hour = start_of_hour(event.event_time);
        let weeks = settings.spike_baseline_weeks;
        hours
            .counts
            .retain(|(start, _)| *start >= hour - Duration::weeks(weeks));
        let index = match hours.counts.iter().position(|(start, _)| *start == hour) {
            Some(index) => index,
            None => {
                hours.counts.push((hour, 0));
                hours.counts.len() - 1
            }
        };
        let before = hours.counts[index].1;
        let observed = before + 1;
        hours.counts[index].1 = observed;

        let Some(first_read) = known.first_read else {
            return;
        };
        if event.event_time - first_read < Duration::days(settings.spike_history_days) {
            return;
        }
        // The weeks of the baseline that the principal's reads of the secret cover.
        let history_from = start_of_hour(first_read);
        let baseline: Vec<f64> = (1..=weeks)
            .map(|week| hour - Duration::weeks(week))
            .filter(|start| *start >= history_from)
            .map(|start| {
                hours
                    .counts
                    .iter()
                    .find(|(at, _)| *at == start)
                    .map_or(0.0, |(_, count)| *count as f64)
            })
            .collect();
        if baseline.is_empty() {
            return;
        }
        let mean = baseline.iter().sum::<f64>() / baseline.len() as f64;
        let deviation = (baseline
            .iter()
            .map(|count| (count - mean).powi(2))
            .sum::<f64>()
            / baseline.len() as f64)
            .sqrt();
        let threshold = (mean + settings.spike_sigmas * deviation)
            .max(settings.spike_factor * mean)
            .max(settings.spike_minimum_reads as f64);
        if (observed as f64) <= threshold {
            return;
        }
        let secret = which_secret(event, known);
        let factor = if mean > 0.0 {
            format!("{:.0}× its usual rate", observed as f64 / mean)
        } else {
            "where it usually reads nothing".to_string()
        };
        let when = format!(
            "between {} and {} UTC on {}",
            hour.format("%H:%M"),
            (hour + Duration::hours(1)).format("%H:%M"),
            hour.format("%A %Y-%m-%d")
        );
        let mut finding = draft(
            FindingKind::ReadSpike,
            if mean > 0.0 && (observed as f64) < 100.0 * mean {
                Severity::Medium
            } else {
                Severity::High
            },
            event,
            known,
            format!("{} read {secret} {observed} times in an hour", who(event)),
            format!(
                "{} read {secret} {observed} times {when}; its usual rate for {} {} is \
                 {mean:.0} ± {deviation:.0} (the same hour over the last {} weeks): {factor}. \
                 A spike is more than {threshold:.0} reads: the largest of mean + {} σ, {} × \
                 mean and {}.",
                who(event),
                hour.format("%A"),
                hour.format("%H:00"),
                baseline.len(),
                settings.spike_sigmas,
                settings.spike_factor,
                settings.spike_minimum_reads
            ),
            json!({ "hour": hour, "observed": observed, "baseline_mean": mean,
                    "baseline_deviation": deviation, "baseline_weeks": baseline,
                    "threshold": threshold,
                    "settings": { "spike_baseline_weeks": weeks,
                                  "spike_history_days": settings.spike_history_days,
                                  "spike_sigmas": settings.spike_sigmas,
                                  "spike_factor": settings.spike_factor,
                                  "spike_minimum_reads": settings.spike_minimum_reads } }),
        );
        // The read that crossed the line stands for the hour's reads so far.
        if (before as f64) <= threshold {
            finding.count = observed;
        }
        verdicts.push(Verdict::Finding(finding));
    }

    /// Once a memory's newest hour is more than the baseline's weeks behind, `observe`
    /// keeps none of its hours: the memory is as good as new. A week more allows for
    /// events that arrive late.
    fn forget_after(&self, settings: &DetectionSettings) -> Option<Duration> {
        Some(Duration::weeks(settings.spike_baseline_weeks + 1))
    }
}

fn start_of_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{at, findings, read, run};

    /// `per_hour` reads of prod/db by payments-task at 16:00 on each of `days`.
    fn reads(days: impl IntoIterator<Item = u32>, per_hour: u32) -> Vec<Observed> {
        days.into_iter()
            .flat_map(|day| {
                (0..per_hour).map(move |n| {
                    read(
                        &format!("{day}-{n}"),
                        at(day, 16, 0) + Duration::seconds(i64::from(n)),
                        "payments-task",
                        "prod/db",
                    )
                })
            })
            .collect()
    }

    #[test]
    fn a_spike_over_the_weekly_baseline_fires_once_with_the_hours_count() {
        // Every day at 16:00 for four weeks, 30 reads; then one Sunday, 2 000.
        let mut events = reads(1..=28, 30);
        events.extend(reads([29], 2000));
        let verdicts = run(
            &ReadSpike,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        let found = findings(&verdicts);
        assert!(!found.is_empty());
        let total: i64 = found.iter().map(|draft| draft.count).sum();
        // It fires above 10 × 30 = 300 and counts every read of the hour from there.
        assert_eq!(found[0].count, 301);
        assert_eq!(total, 2000);
        assert!(
            found[0]
                .explanation
                .contains("its usual rate for Sunday 16:00 is 30 ± 0")
        );
    }

    #[test]
    fn a_weekly_job_is_its_own_baseline() {
        // Every day 5 reads; every Sunday (days 1, 8, 15, 22, 29) a batch job of 3 000.
        let mut events = Vec::new();
        for day in 1..=29 {
            events.extend(reads([day], if day % 7 == 1 { 3000 } else { 5 }));
        }
        let verdicts = run(
            &ReadSpike,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        assert!(findings(&verdicts).is_empty());
    }

    #[test]
    fn nothing_is_judged_before_two_weeks_of_history() {
        let mut events = reads(1..=10, 10);
        events.extend(reads([12], 5000));
        let verdicts = run(
            &ReadSpike,
            &DetectionSettings::default(),
            at(1, 0, 0),
            &events,
        );
        assert!(findings(&verdicts).is_empty());
    }
}
