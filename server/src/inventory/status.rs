//! Rotation status: computed here and nowhere else, so the list, the detail page, the API and
//! detection always agree, and each status comes with a one-line reason a person can act on.

use chrono::{DateTime, Duration, Utc};
use trailkeeper_app::api::secrets::{RotationStatus, short_version_id};

/// What the inventory knows about a secret's rotation.
#[derive(Clone, Debug, Default)]
pub struct RotationFacts<'a> {
    pub enabled: bool,
    pub last_rotated: Option<DateTime<Utc>>,
    /// AWS's own `NextRotationDate`.
    pub next_rotation: Option<DateTime<Utc>>,
    pub automatically_after_days: Option<i64>,
    /// `rate(…)` or `cron(…)`.
    pub schedule_expression: Option<&'a str>,
    /// The version `AWSPENDING` sits on (when that is not the `AWSCURRENT` version) and since
    /// when it has been seen there.
    pub pending: Option<(&'a str, DateTime<Utc>)>,
    /// The newest rotation outcome CloudTrail reported, when it is a failure with nothing
    /// rotated since: when, and AWS's message (`None` for an abandoned rotation).
    pub failure: Option<(DateTime<Utc>, Option<&'a str>)>,
}

/// How long a pending rotation may take, and how near a rotation counts as due soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusThresholds {
    pub stuck_after: Duration,
    pub due_soon_within: Duration,
}

impl Default for StatusThresholds {
    fn default() -> Self {
        StatusThresholds {
            stuck_after: Duration::hours(24),
            due_soon_within: Duration::hours(24),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub status: RotationStatus,
    pub reason: String,
}

fn assessment(status: RotationStatus, reason: String) -> Assessment {
    Assessment { status, reason }
}

/// The status of one secret's rotation at `now`. A stuck rotation outranks everything: it is
/// the state that needs a person soonest, whether or not rotation is still enabled.
pub fn assess(
    facts: &RotationFacts,
    now: DateTime<Utc>,
    thresholds: StatusThresholds,
) -> Assessment {
    if let Some((version, since)) = facts.pending
        && now - since > thresholds.stuck_after
    {
        return assessment(
            RotationStatus::Stuck,
            format!(
                "AWSPENDING has been on version {} for {}",
                short_version_id(version),
                span(now - since)
            ),
        );
    }
    if let Some((at, message)) = facts.failure {
        let reason = match message {
            Some(message) => format!(
                "The last rotation failed {} ago: {}",
                span(now - at),
                message.chars().take(300).collect::<String>()
            ),
            None => format!("The last rotation was abandoned {} ago", span(now - at)),
        };
        return assessment(RotationStatus::Failing, reason);
    }
    if !facts.enabled {
        let reason = match facts.last_rotated {
            Some(last) => format!(
                "Rotation is not enabled; last rotated {} ago",
                span(now - last)
            ),
            None => "Rotation is not enabled, and the secret has never been rotated".into(),
        };
        return assessment(RotationStatus::Disabled, reason);
    }
    let Some(last) = facts.last_rotated else {
        return assessment(
            RotationStatus::NeverRotated,
            "Rotation is enabled but has never run".into(),
        );
    };
    let by_interval = interval(facts).map(|interval| last + interval);
    // The earlier of AWS's date and the one the interval gives is when it was due.
    let due = match (facts.next_rotation, by_interval) {
        (Some(next), Some(interval)) => Some(next.min(interval)),
        (next, interval) => next.or(interval),
    };
    match due {
        Some(due) if due < now => assessment(
            RotationStatus::Overdue,
            format!(
                "Rotation was due {} ago (last rotated {} ago)",
                span(now - due),
                span(now - last)
            ),
        ),
        Some(due) if due - now <= thresholds.due_soon_within => assessment(
            RotationStatus::DueSoon,
            format!("Rotation is due in {}", span(due - now)),
        ),
        Some(due) => assessment(
            RotationStatus::Healthy,
            format!(
                "Last rotated {} ago; next rotation in {}",
                span(now - last),
                span(due - now)
            ),
        ),
        None => assessment(
            RotationStatus::Healthy,
            format!("Last rotated {} ago", span(now - last)),
        ),
    }
}

/// The schedule as people say it: "every 30 days", "every 12 hours", or for a `cron(…)`
/// schedule, the expression itself.
pub fn schedule_in_words(
    automatically_after_days: Option<i64>,
    schedule_expression: Option<&str>,
) -> Option<String> {
    let facts = RotationFacts {
        automatically_after_days,
        schedule_expression,
        ..RotationFacts::default()
    };
    match interval(&facts) {
        Some(interval) => Some(format!("every {}", span(interval))),
        None => schedule_expression.map(|expression| format!("on the schedule {expression}")),
    }
}

/// The rotation interval from the rules: `AutomaticallyAfterDays`, or a `rate(…)`
/// expression. A `cron(…)` schedule has no fixed interval; AWS's next date stands for it.
fn interval(facts: &RotationFacts) -> Option<Duration> {
    if let Some(days) = facts.automatically_after_days.filter(|days| *days > 0) {
        return Some(Duration::days(days));
    }
    let rate = facts
        .schedule_expression?
        .trim()
        .strip_prefix("rate(")?
        .strip_suffix(')')?;
    let (count, unit) = rate.trim().split_once(' ')?;
    let count: i64 = count.parse().ok().filter(|count| *count > 0)?;
    match unit.trim().trim_end_matches('s') {
        "day" => Some(Duration::days(count)),
        "hour" => Some(Duration::hours(count)),
        "minute" => Some(Duration::minutes(count)),
        _ => None,
    }
}

/// A span as people say it: `2 days`, `5 hours`, `1 minute`.
fn span(span: Duration) -> String {
    let plural = |count: i64, unit: &str| {
        if count == 1 {
            format!("1 {unit}")
        } else {
            format!("{count} {unit}s")
        }
    };
    let seconds = span.num_seconds().max(0);
    if seconds >= 86_400 {
        plural(seconds / 86_400, "day")
    } else if seconds >= 3_600 {
        plural(seconds / 3_600, "hour")
    } else if seconds >= 60 {
        plural(seconds / 60, "minute")
    } else {
        "less than a minute".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn days_ago(days: i64) -> Option<DateTime<Utc>> {
        Some(now() - Duration::days(days))
    }

    fn check(facts: RotationFacts) -> (RotationStatus, String) {
        let Assessment { status, reason } = assess(&facts, now(), StatusThresholds::default());
        (status, reason)
    }

    fn enabled(last_rotated: Option<DateTime<Utc>>, days: i64) -> RotationFacts<'static> {
        RotationFacts {
            enabled: true,
            last_rotated,
            automatically_after_days: Some(days),
            ..RotationFacts::default()
        }
    }

    #[test]
    fn every_status_with_its_reason() {
        assert_eq!(
            check(RotationFacts::default()),
            (
                RotationStatus::Disabled,
                "Rotation is not enabled, and the secret has never been rotated".into()
            )
        );
        let switched_off = RotationFacts {
            enabled: false,
            ..enabled(days_ago(40), 30)
        };
        assert_eq!(
            check(switched_off).1,
            "Rotation is not enabled; last rotated 40 days ago"
        );
        assert_eq!(
            check(enabled(None, 30)),
            (
                RotationStatus::NeverRotated,
                "Rotation is enabled but has never run".into()
            )
        );
        assert_eq!(
            check(enabled(days_ago(12), 30)),
            (
                RotationStatus::Healthy,
                "Last rotated 12 days ago; next rotation in 18 days".into()
            )
        );
        let due_soon = RotationFacts {
            next_rotation: Some(now() + Duration::hours(5)),
            ..enabled(days_ago(29), 30)
        };
        assert_eq!(
            check(due_soon),
            (RotationStatus::DueSoon, "Rotation is due in 5 hours".into())
        );
        assert_eq!(
            check(enabled(days_ago(33), 30)),
            (
                RotationStatus::Overdue,
                "Rotation was due 3 days ago (last rotated 33 days ago)".into()
            )
        );
        let stuck = RotationFacts {
            pending: Some((
                "3f2a9c1e-0b7d-4c55-9e0a-6f1d2b3c4d5e",
                now() - Duration::days(2),
            )),
            ..enabled(days_ago(1), 30)
        };
        assert_eq!(
            check(stuck),
            (
                RotationStatus::Stuck,
                "AWSPENDING has been on version 3f2a9c1e… for 2 days".into()
            )
        );
    }

    #[test]
    fn a_failed_rotation_is_failing_with_aws_message_until_one_succeeds() {
        let failed = RotationFacts {
            failure: Some((
                now() - Duration::days(3),
                Some("Error when executing lambda during setSecret step"),
            )),
            ..enabled(days_ago(40), 30)
        };
        assert_eq!(
            check(failed),
            (
                RotationStatus::Failing,
                "The last rotation failed 3 days ago: Error when executing lambda during setSecret step".into()
            )
        );
        let abandoned = RotationFacts {
            failure: Some((now() - Duration::hours(2), None)),
            ..RotationFacts::default()
        };
        assert_eq!(
            check(abandoned).1,
            "The last rotation was abandoned 2 hours ago"
        );
    }

    #[test]
    fn a_passed_next_rotation_date_is_overdue_even_within_the_interval() {
        let facts = RotationFacts {
            next_rotation: Some(now() - Duration::hours(2)),
            ..enabled(days_ago(10), 30)
        };
        assert_eq!(check(facts).0, RotationStatus::Overdue);
    }

    #[test]
    fn a_fresh_pending_label_is_a_rotation_in_progress_not_stuck() {
        let facts = RotationFacts {
            pending: Some(("v2", now() - Duration::minutes(3))),
            ..enabled(days_ago(1), 30)
        };
        assert_eq!(check(facts).0, RotationStatus::Healthy);
    }

    #[test]
    fn rate_schedules_give_the_interval_and_cron_schedules_rely_on_the_next_date() {
        let rate = RotationFacts {
            enabled: true,
            last_rotated: Some(now() - Duration::hours(13)),
            schedule_expression: Some("rate(12 hours)"),
            ..RotationFacts::default()
        };
        assert_eq!(check(rate).0, RotationStatus::Overdue);

        let cron = RotationFacts {
            enabled: true,
            last_rotated: days_ago(40),
            schedule_expression: Some("cron(0 16 1,15 * ? *)"),
            next_rotation: Some(now() + Duration::days(3)),
            ..RotationFacts::default()
        };
        assert_eq!(check(cron).0, RotationStatus::Healthy);
    }

    #[test]
    fn schedules_read_as_people_say_them() {
        assert_eq!(
            schedule_in_words(Some(30), None).as_deref(),
            Some("every 30 days")
        );
        assert_eq!(
            schedule_in_words(None, Some("rate(12 hours)")).as_deref(),
            Some("every 12 hours")
        );
        assert_eq!(
            schedule_in_words(None, Some("cron(0 16 1,15 * ? *)")).as_deref(),
            Some("on the schedule cron(0 16 1,15 * ? *)")
        );
        assert_eq!(schedule_in_words(None, None), None);
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(Duration::seconds(30)), "less than a minute");
        assert_eq!(span(Duration::minutes(1)), "1 minute");
        assert_eq!(span(Duration::hours(49)), "2 days");
    }
}
