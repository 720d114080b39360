//! Event counts over time as an SVG bar chart, drawn on the server: no chart library, no
//! script. Each bar is a link that narrows the explorer to its hour or day.

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, Utc};
use leptos::prelude::*;

use crate::api::events::{Bucket, Histogram};

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 120.0;
/// More bars than this would be thinner than a pixel.
const MOST_BARS: i64 = 800;

/// Every bucket from `from` to `to`, the empty ones with zero.
pub fn bars(histogram: &Histogram) -> Vec<(DateTime<Utc>, i64)> {
    let step = histogram.bucket.step();
    let counts: HashMap<DateTime<Utc>, i64> = histogram.bars.iter().copied().collect();
    let mut at = histogram
        .from
        .duration_trunc(step)
        .unwrap_or(histogram.from);
    let mut all = Vec::new();
    while at < histogram.to && (all.len() as i64) < MOST_BARS {
        all.push((at, counts.get(&at).copied().unwrap_or(0)));
        at += step;
    }
    all
}

/// `href` for the explorer narrowed to `[start, end)`, keeping the other filters.
#[component]
pub fn EventHistogram(
    histogram: Histogram,
    href: Callback<(DateTime<Utc>, DateTime<Utc>), String>,
) -> impl IntoView {
    let all = bars(&histogram);
    let step = histogram.bucket.step();
    let highest = all
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1);
    let width = WIDTH / all.len().max(1) as f64;
    let label = |at: DateTime<Utc>| match histogram.bucket {
        Bucket::Hour => at.format("%Y-%m-%d %H:00 UTC").to_string(),
        Bucket::Day => at.format("%Y-%m-%d UTC").to_string(),
    };
    let first = all.first().map(|(at, _)| label(*at)).unwrap_or_default();
    let last = all.last().map(|(at, _)| label(*at)).unwrap_or_default();
    let summary = format!(
        "{} events per {}, from {first} to {last}; the busiest {} had {highest}",
        histogram.total(),
        histogram.bucket,
        histogram.bucket
    );
    view! {
        <figure class="histogram panel" data-testid="event-histogram">
            <svg
                viewBox=format!("0 0 {WIDTH} {}", HEIGHT + 2.0)
                preserveAspectRatio="none"
                role="img"
                aria-label=summary.clone()
            >
                {all
                    .into_iter()
                    .enumerate()
                    .filter(|(_, (_, count))| *count > 0)
                    .map(|(index, (at, count))| {
                        let height = (count as f64 / highest as f64 * HEIGHT).max(1.0);
                        let title = format!("{}: {count} events", label(at));
                        view! {
                            <a href=href.run((at, at + step))>
                                <rect
                                    x=format!("{:.2}", index as f64 * width)
                                    y=format!("{:.2}", HEIGHT - height)
                                    width=format!("{:.2}", (width - 1.0).max(0.5))
                                    height=format!("{height:.2}")
                                    data-count=count
                                >
                                    <title>{title}</title>
                                </rect>
                            </a>
                        }
                    })
                    .collect_view()}
                <line x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT class="axis" />
            </svg>
            <figcaption class="muted small">
                <span>{first}</span>
                <span>{format!("{} events, per {}", histogram.total(), histogram.bucket)}</span>
                <span>{last}</span>
            </figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_buckets_are_filled_with_zero_between_the_bounds() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let histogram = Histogram {
            bucket: Bucket::Hour,
            from: at("2026-10-03T08:20:00Z"),
            to: at("2026-10-03T12:00:00Z"),
            bars: vec![
                (at("2026-10-03T09:00:00Z"), 5),
                (at("2026-10-03T11:00:00Z"), 2),
            ],
        };
        assert_eq!(
            bars(&histogram),
            [
                (at("2026-10-03T08:00:00Z"), 0),
                (at("2026-10-03T09:00:00Z"), 5),
                (at("2026-10-03T10:00:00Z"), 0),
                (at("2026-10-03T11:00:00Z"), 2),
            ]
        );
    }
}
