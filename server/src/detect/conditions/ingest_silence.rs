//! Silence: an account × region whose events usually arrive steadily has sent none for longer
//! than its own rhythm allows — a trail stopped or redirected, a delivery broken, a source
//! of Trailkeeper's that stopped reading. Each region is judged against itself: the hours its
//! events arrived in over the two weeks before its newest one (`arrival_hours`, kept by
//! ingest), and the longest quiet spell between them.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use trailkeeper_app::api::findings::{FindingKind, Severity};

use super::trail_health::place_subject;
use crate::detect::DetectionSettings;
use crate::findings::store::{self, About, Condition};

/// The span a region's rhythm is taken from, before its newest event.
pub const BASELINE: Duration = Duration::days(14);
/// A region with less history than this has no rhythm yet.
const LEAST_HISTORY: Duration = Duration::days(7);
/// Steady: events in at least this share of the baseline's hours.
const STEADY_SHARE: f64 = 0.25;

/// When events arrived in one account × region, hour by hour.
#[derive(Clone, Debug, PartialEq)]
pub struct Rhythm {
    /// Hours with events, of the hours from the first of them to the newest.
    pub active_hours: usize,
    pub hours: usize,
    /// The longest wait from one hour with events to the next, in hours (1: every hour).
    pub longest_quiet_hours: i64,
}

/// The rhythm of `active` (the hours with events, in order, the newest event's last), or
/// `None` when it is too short or too sparse to be a rhythm.
pub fn rhythm(active: &[DateTime<Utc>]) -> Option<Rhythm> {
    let (first, newest) = (*active.first()?, *active.last()?);
    if newest - first < LEAST_HISTORY {
        return None;
    }
    let hours = ((newest - first).num_hours() + 1) as usize;
    let longest_quiet_hours = active
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).num_hours())
        .max()
        .unwrap_or(1)
        .max(1);
    let steady = active.len() as f64 >= hours as f64 * STEADY_SHARE;
    steady.then_some(Rhythm {
        active_hours: active.len(),
        hours,
        longest_quiet_hours,
    })
}

/// How long past its rhythm a region has been silent at `now`, if it has.
pub fn silent_for(
    rhythm: &Rhythm,
    newest: DateTime<Utc>,
    now: DateTime<Utc>,
    multiple: i64,
) -> Option<Duration> {
    let silence = now - newest;
    (silence > Duration::hours(rhythm.longest_quiet_hours * multiple)).then_some(silence)
}

struct Place {
    account_id: String,
    region: String,
    newest: DateTime<Utc>,
    active: Vec<DateTime<Utc>>,
}

/// Re-evaluates every account × region events have come from, at `now`.
pub async fn reassess(
    pool: &PgPool,
    settings: &DetectionSettings,
    now: DateTime<Utc>,
) -> Result<store::Recorded, sqlx::Error> {
    // Hours before a region's baseline are never read again.
    sqlx::query!(
        "DELETE FROM arrival_hours a USING trail_coverage c \
         WHERE a.account_id = c.account_id AND a.region = c.region \
           AND a.hour < c.newest_event_at - make_interval(days => $1)",
        BASELINE.num_days() as i32 + 1
    )
    .execute(pool)
    .await?;
    let places = sqlx::query_as!(
        Place,
        r#"SELECT c.account_id, c.region, c.newest_event_at AS newest,
               COALESCE(array_agg(a.hour ORDER BY a.hour) FILTER (WHERE a.hour IS NOT NULL),
                        '{}') AS "active!"
           FROM trail_coverage c
           LEFT JOIN arrival_hours a ON a.account_id = c.account_id AND a.region = c.region
               AND a.hour >= c.newest_event_at - make_interval(days => $1) AND a.events > 0
           GROUP BY c.account_id, c.region, c.newest_event_at
           ORDER BY c.account_id, c.region"#,
        BASELINE.num_days() as i32
    )
    .fetch_all(pool)
    .await?;
    // Judged as of the last time a source of Trailkeeper's looked for events (failing or
    // not): right after a restart, before the sources have read the backlog, a region is
    // unread, not silent. With no source polling (files ingested by hand), as of now.
    let looked: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT max(polled_at) FROM ingest_polls")
            .fetch_one(pool)
            .await?;
    let as_of = looked.map_or(now, |looked| looked.min(now));
    let multiple = settings.silence_multiple;
    let assessed: Vec<String> = places
        .iter()
        .map(|place| place_subject(&place.account_id, &place.region))
        .collect();
    let conditions = places
        .iter()
        .filter_map(|place| {
            let rhythm = rhythm(&place.active)?;
            let silence = silent_for(&rhythm, place.newest, as_of, multiple)?;
            let newest = place.newest.format("%Y-%m-%d %H:%M UTC");
            Some(Condition {
                kind: FindingKind::IngestSilence,
                severity: Severity::Medium,
                title: format!(
                    "No events from {} {} for {} hours",
                    place.account_id,
                    place.region,
                    silence.num_hours()
                ),
                explanation: format!(
                    "The newest event stored from {} {} is from {newest}, {} hours ago. In the \
                     {} hours before it, events arrived in {} of them, and the longest wait \
                     between two was {} hours; the setting allows {multiple} times that. A trail \
                     stopped, narrowed or redirected, a broken delivery to its bucket, or a \
                     source of Trailkeeper's that stopped reading would look like this: see \
                     Trail coverage and the ingest sources on the Overview.",
                    place.account_id,
                    place.region,
                    silence.num_hours(),
                    rhythm.hours,
                    rhythm.active_hours,
                    rhythm.longest_quiet_hours
                ),
                about: About::Subject(place_subject(&place.account_id, &place.region)),
                account_id: place.account_id.clone(),
                region: place.region.clone(),
                detail: json!({
                    "newest_event_at": place.newest,
                    "silent_hours": silence.num_hours(),
                    "active_hours": rhythm.active_hours,
                    "baseline_hours": rhythm.hours,
                    "longest_quiet_hours": rhythm.longest_quiet_hours,
                    "settings": { "silence_multiple": multiple },
                }),
            })
        })
        .collect();
    let assessed: Vec<&str> = assessed.iter().map(String::as_str).collect();
    store::hold(
        pool,
        &[FindingKind::IngestSilence],
        &assessed,
        conditions,
        now,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours(from: DateTime<Utc>, count: i64, every: i64) -> Vec<DateTime<Utc>> {
        (0..count)
            .map(|n| from + Duration::hours(n * every))
            .collect()
    }

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_steady_region_is_silent_after_a_few_hours_and_not_before() {
        let active = hours(start(), 14 * 24, 1);
        let rhythm = rhythm(&active).unwrap();
        assert_eq!(rhythm.longest_quiet_hours, 1);
        assert_eq!(rhythm.active_hours, rhythm.hours);
        let newest = *active.last().unwrap() + Duration::minutes(50);
        assert_eq!(
            silent_for(&rhythm, newest, newest + Duration::hours(2), 3),
            None
        );
        assert_eq!(
            silent_for(&rhythm, newest, newest + Duration::hours(4), 3),
            Some(Duration::hours(4))
        );
    }

    #[test]
    fn a_region_quiet_every_night_is_allowed_its_nights() {
        // Events from 08:00 to 19:00 every day: thirteen hours from one evening's last to the
        // next morning's first.
        let active: Vec<DateTime<Utc>> = (0..14)
            .flat_map(|day| hours(start() + Duration::days(day) + Duration::hours(8), 12, 1))
            .collect();
        let rhythm = rhythm(&active).unwrap();
        assert_eq!(rhythm.longest_quiet_hours, 13);
        let newest = *active.last().unwrap();
        assert_eq!(
            silent_for(&rhythm, newest, newest + Duration::hours(30), 3),
            None
        );
        assert!(silent_for(&rhythm, newest, newest + Duration::hours(40), 3).is_some());
    }

    #[test]
    fn sparse_or_young_regions_have_no_rhythm_to_break() {
        // One hour in six: under a quarter of the hours.
        assert_eq!(rhythm(&hours(start(), 14 * 4, 6)), None);
        // Every hour, but for three days only.
        assert_eq!(rhythm(&hours(start(), 3 * 24, 1)), None);
        assert_eq!(rhythm(&[]), None);
    }
}
