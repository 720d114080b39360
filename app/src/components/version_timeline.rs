//! The version timeline: a row for the secret itself (made, last changed, last and next
//! rotation), then one row per version along time, a dot where the version was made, and a
//! bar for each staging label over the span it sat on that version. Drawn as SVG on the
//! server, so it needs no script; every mark has a tooltip and the tables beside it say the
//! same in words.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::api::events::principal_name;
use crate::api::secrets::{LabelMove, SecretChange, SecretVersion, short_version_id};

const WIDTH: f64 = 900.0;
const GUTTER: f64 = 120.0;
const ROW: f64 = 34.0;
const AXIS: f64 = 28.0;
const LANE: f64 = 5.0;

/// The lane (and colour) of each AWS label; every custom label shares the last.
const LANES: [&str; 3] = ["AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"];

fn lane(label: &str) -> usize {
    LANES
        .iter()
        .position(|known| *known == label)
        .unwrap_or(LANES.len())
}

/// A label's stay on a version.
#[derive(Clone, Debug, PartialEq)]
pub struct Stay {
    pub label: String,
    pub version: String,
    pub from: DateTime<Utc>,
    /// `None`: still there.
    pub until: Option<DateTime<Utc>>,
}

/// Each label's stays, from the moves in time order. AWS keeps a label on one version at a
/// time, so a label arriving somewhere ends its stay wherever it was, even when the move
/// does not say where that was (one CloudTrail alone reported).
pub fn stays(moves: &[LabelMove]) -> Vec<Stay> {
    let mut open: Vec<Stay> = Vec::new();
    let mut closed = Vec::new();
    for change in moves {
        if change.to_version.is_some()
            && open.iter().any(|stay| {
                stay.label == change.label && Some(&stay.version) == change.to_version.as_ref()
            })
        {
            continue;
        }
        let (ending, staying): (Vec<Stay>, Vec<Stay>) = open.into_iter().partition(|stay| {
            stay.label == change.label
                && (change.to_version.is_some()
                    || change.from_version.is_none()
                    || change.from_version.as_ref() == Some(&stay.version))
        });
        open = staying;
        closed.extend(ending.into_iter().map(|stay| Stay {
            until: Some(change.at),
            ..stay
        }));
        if let Some(to) = &change.to_version {
            open.push(Stay {
                label: change.label.clone(),
                version: to.clone(),
                from: change.at,
                until: None,
            });
        }
    }
    closed.extend(open);
    closed
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Something that happened to the secret as a whole, with its name: "created",
/// "next rotation".
pub type Milestone = (&'static str, DateTime<Utc>);

#[component]
pub fn VersionTimeline(
    versions: Vec<SecretVersion>,
    moves: Vec<LabelMove>,
    changes: Vec<SecretChange>,
    milestones: Vec<Milestone>,
    now: DateTime<Utc>,
) -> impl IntoView {
    if versions.is_empty() {
        return view! { <p class="muted">"No versions are known."</p> }.into_any();
    }
    let stays = stays(&moves);
    let instants: Vec<DateTime<Utc>> = versions
        .iter()
        .map(|version| version.created_at.unwrap_or(version.first_seen_at))
        .chain(moves.iter().map(|change| change.at))
        .chain(changes.iter().map(|change| change.event_time))
        .chain(milestones.iter().map(|(_, at)| *at))
        .chain([now])
        .collect();
    let start = instants.iter().min().copied().unwrap_or(now);
    let end = instants.iter().max().copied().unwrap_or(now);
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x = move |at: DateTime<Utc>| {
        GUTTER + 10.0 + (at - start).num_milliseconds() as f64 / span * (WIDTH - GUTTER - 30.0)
    };
    // The secret's own row first, then the newest version on top, as in the versions table.
    let row_of = |version: &str| {
        versions
            .iter()
            .position(|known| known.version_id == version)
            .map(|index| index + 1)
    };
    let height = AXIS + ROW * (versions.len() + 1) as f64 + 10.0;

    let secret_row = {
        let middle = AXIS + ROW / 2.0;
        let marks = milestones
            .iter()
            .map(|(what, at)| {
                let (cx, cy) = (x(*at), middle);
                let diamond = format!(
                    "{},{} {},{} {},{} {},{}",
                    cx,
                    cy - 6.0,
                    cx + 6.0,
                    cy,
                    cx,
                    cy + 6.0,
                    cx - 6.0,
                    cy
                );
                let class = if *at > now {
                    "timeline-milestone upcoming"
                } else {
                    "timeline-milestone"
                };
                view! {
                    <polygon points=diamond class=class data-milestone=*what>
                        <title>{format!("{what}: {}", stamp(*at))}</title>
                    </polygon>
                }
            })
            .collect_view();
        let events = changes
            .iter()
            .map(|change| {
                let failed = matches!(
                    change.event_name.as_str(),
                    "RotationFailed" | "RotationAbandoned" | "DeleteSecret" | "CancelRotateSecret"
                );
                let by = change
                    .principal
                    .as_deref()
                    .map(|principal| format!(" by {}", principal_name(principal)))
                    .unwrap_or_default();
                let message = change
                    .message
                    .as_deref()
                    .map(|message| format!(": {message}"))
                    .unwrap_or_default();
                view! {
                    <circle
                        cx=x(change.event_time)
                        cy=middle
                        r="4"
                        class=if failed { "timeline-change warning" } else { "timeline-change" }
                        data-event=change.event_name.clone()
                    >
                        <title>
                            {format!(
                                "{} {}{by}{message}",
                                change.event_name,
                                stamp(change.event_time),
                            )}
                        </title>
                    </circle>
                }
            })
            .collect_view();
        view! {
            <g class="timeline-row secret-row">
                <text x="4" y=middle + 4.0 class="timeline-version">
                    "secret"
                </text>
                <line x1=GUTTER x2=WIDTH - 10.0 y1=middle y2=middle class="timeline-track" />
                <line x1=x(now) x2=x(now) y1=AXIS y2=height - 10.0 class="timeline-now">
                    <title>{format!("last synced {}", stamp(now))}</title>
                </line>
                {marks}
                {events}
            </g>
        }
    };

    let rows = versions
        .iter()
        .enumerate()
        .map(|(index, version)| {
            let y = AXIS + ROW * (index + 1) as f64;
            let made = version.created_at.unwrap_or(version.first_seen_at);
            let what = if version.created_at.is_some() {
                "created"
            } else {
                "first seen"
            };
            view! {
                <g class="timeline-row" data-version=version.version_id.clone()>
                    <text x="4" y=y + ROW / 2.0 + 4.0 class="timeline-version">
                        {short_version_id(&version.version_id)}
                    </text>
                    <line x1=GUTTER x2=WIDTH - 10.0 y1=y + ROW / 2.0 y2=y + ROW / 2.0 class="timeline-track" />
                    <circle cx=x(made) cy=y + ROW / 2.0 r="5" class="timeline-made">
                        <title>
                            {format!("Version {} {what} {}", version.version_id, stamp(made))}
                        </title>
                    </circle>
                </g>
            }
        })
        .collect_view();

    let bars = stays
        .iter()
        .filter_map(|stay| {
            let row = row_of(&stay.version)?;
            let lane = lane(&stay.label);
            let y = AXIS + ROW * row as f64 + 4.0 + LANE * lane as f64 * 1.2;
            let until = stay.until.unwrap_or(now);
            let (x1, x2) = (x(stay.from), x(until).max(x(stay.from) + 3.0));
            let words = match stay.until {
                Some(until) => format!(
                    "{} on {} from {} until {}",
                    stay.label,
                    short_version_id(&stay.version),
                    stamp(stay.from),
                    stamp(until)
                ),
                None => format!(
                    "{} on {} since {}",
                    stay.label,
                    short_version_id(&stay.version),
                    stamp(stay.from)
                ),
            };
            Some(view! {
                <rect
                    x=x1
                    y=y
                    width=x2 - x1
                    height=LANE
                    rx="2"
                    class=format!("timeline-label lane-{lane}")
                    data-label=stay.label.clone()
                >
                    <title>{words}</title>
                </rect>
            })
        })
        .collect_view();

    let ticks = [start, start + (end - start) / 2, end]
        .into_iter()
        .enumerate()
        .map(|(index, at)| {
            let anchor = ["start", "middle", "end"][index];
            view! {
                <text x=x(at) y="14" text-anchor=anchor class="timeline-tick">
                    {stamp(at)}
                </text>
            }
        })
        .collect_view();

    view! {
        <figure class="timeline" data-testid="version-timeline">
            <svg
                viewBox=format!("0 0 {WIDTH} {height}")
                role="img"
                aria-label="Versions along time, with the staging labels each one carried"
            >
                {ticks}
                {secret_row}
                {rows}
                {bars}
            </svg>
            <figcaption class="legend">
                <span class="swatch lane-0"></span>
                "AWSCURRENT"
                <span class="swatch lane-1"></span>
                "AWSPREVIOUS"
                <span class="swatch lane-2"></span>
                "AWSPENDING"
                <span class="swatch lane-3"></span>
                "custom labels"
                <span class="swatch made"></span>
                "version made"
                <span class="swatch milestone"></span>
                "secret made, changed, rotated (hollow: next rotation)"
                <span class="swatch change"></span>
                "CloudTrail: rotation, deletion, restore"
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        format!("2026-11-01T{hour:02}:00:00Z").parse().unwrap()
    }

    fn moved(label: &str, from: Option<&str>, to: Option<&str>, hour: u32) -> LabelMove {
        LabelMove {
            label: label.into(),
            from_version: from.map(Into::into),
            to_version: to.map(Into::into),
            at: at(hour),
            observed_at: Some(at(hour)),
            by: None,
        }
    }

    #[test]
    fn each_move_ends_one_stay_and_starts_the_next() {
        let stays = stays(&[
            moved("AWSCURRENT", None, Some("v1"), 1),
            moved("AWSCURRENT", Some("v1"), Some("v2"), 5),
            moved("AWSPREVIOUS", None, Some("v1"), 5),
            moved("AWSPREVIOUS", Some("v1"), None, 9),
        ]);
        assert_eq!(
            stays,
            [
                Stay {
                    label: "AWSCURRENT".into(),
                    version: "v1".into(),
                    from: at(1),
                    until: Some(at(5)),
                },
                Stay {
                    label: "AWSPREVIOUS".into(),
                    version: "v1".into(),
                    from: at(5),
                    until: Some(at(9)),
                },
                Stay {
                    label: "AWSCURRENT".into(),
                    version: "v2".into(),
                    from: at(5),
                    until: None,
                },
            ]
        );
    }

    #[test]
    fn a_label_arriving_elsewhere_ends_its_stay_even_when_the_move_does_not_say_where_from() {
        // CloudTrail alone saw v2; the sync saw v1 → v3.
        let stays = stays(&[
            moved("AWSCURRENT", None, Some("v1"), 1),
            moved("AWSCURRENT", None, Some("v2"), 3),
            moved("AWSCURRENT", Some("v1"), Some("v3"), 5),
            moved("AWSCURRENT", Some("v2"), Some("v3"), 6),
        ]);
        let spans: Vec<(&str, Option<DateTime<Utc>>)> = stays
            .iter()
            .map(|stay| (stay.version.as_str(), stay.until))
            .collect();
        assert_eq!(
            spans,
            [("v1", Some(at(3))), ("v2", Some(at(5))), ("v3", None)]
        );
    }

    #[test]
    fn custom_labels_share_the_last_lane() {
        assert_eq!(lane("AWSPENDING"), 2);
        assert_eq!(lane("blue"), 3);
        assert_eq!(lane("green"), 3);
    }
}
