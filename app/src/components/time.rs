//! Instants are stored in UTC and shown in the viewer's zone, always with the offset, so two
//! reviewers comparing screenshots from different zones can line events up.

use chrono::{DateTime, FixedOffset, Local, Offset, TimeZone, Utc};
use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayZone {
    Utc,
    /// The browser's own zone.
    Local,
}

impl DisplayZone {
    fn other(self) -> Self {
        match self {
            DisplayZone::Utc => DisplayZone::Local,
            DisplayZone::Local => DisplayZone::Utc,
        }
    }
}

#[derive(Clone, Copy)]
struct DisplayZoneSetting(RwSignal<DisplayZone>);

/// Shares the zone setting with every [`Timestamp`] on the page (each is an island hydrated
/// under the root owner this is provided on): the viewer's saved choice, by default their
/// local zone.
#[cfg(feature = "hydrate")]
pub fn provide_display_zone() {
    let chosen = saved_choice::load().unwrap_or(DisplayZone::Local);
    provide_context(DisplayZoneSetting(RwSignal::new(chosen)));
}

fn display_zone() -> RwSignal<DisplayZone> {
    use_context::<DisplayZoneSetting>()
        .map(|setting| setting.0)
        .unwrap_or_else(|| RwSignal::new(DisplayZone::Utc))
}

/// The zone an island shows: UTC as the server rendered it (it cannot know the viewer's
/// zone), then the chosen one once the island is hydrated, and every later choice.
fn shown_zone() -> ReadSignal<DisplayZone> {
    let chosen = display_zone();
    let (shown, show) = signal(DisplayZone::Utc);
    Effect::new(move |_| show.set(chosen.get()));
    shown
}

/// `2026-10-03 08:15:00 UTC` or `2026-10-03 13:45:00 +05:30`.
pub fn format_instant(at: DateTime<Utc>, zone: DisplayZone) -> String {
    match zone {
        DisplayZone::Utc => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        DisplayZone::Local => {
            format_with_offset(at, Local.offset_from_utc_datetime(&at.naive_utc()).fix())
        }
    }
}

fn format_with_offset(at: DateTime<Utc>, offset: FixedOffset) -> String {
    at.with_timezone(&offset)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// An instant in the chosen display zone, machine-readable in `datetime`.
#[island]
pub fn Timestamp(at: DateTime<Utc>) -> impl IntoView {
    let zone = shown_zone();
    view! {
        <time datetime=at.to_rfc3339() title=at.format("%Y-%m-%dT%H:%M:%SZ").to_string()>
            {move || format_instant(at, zone.get())}
        </time>
    }
}

/// Switches every timestamp on the page between UTC and the viewer's zone.
#[island]
pub fn DisplayZoneToggle() -> impl IntoView {
    let zone = display_zone();
    let shown = shown_zone();
    let label = move || match shown.get() {
        DisplayZone::Utc => "Times: UTC".to_string(),
        DisplayZone::Local => format!("Times: local ({})", Local::now().offset().fix()),
    };
    let switch = move |_| {
        let next = zone.get_untracked().other();
        saved_choice::save(next);
        zone.set(next);
    };
    view! {
        <button
            type="button"
            class="zone-toggle"
            title="Switch timestamps between UTC and your local time zone"
            on:click=switch
        >
            {label}
        </button>
    }
}

/// The viewer's choice, remembered in the browser.
mod saved_choice {
    use super::DisplayZone;

    #[cfg(feature = "hydrate")]
    const KEY: &str = "trailkeeper.display-zone";

    #[cfg(feature = "hydrate")]
    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    #[cfg(feature = "hydrate")]
    pub fn load() -> Option<DisplayZone> {
        match storage()?.get_item(KEY).ok().flatten()?.as_str() {
            "utc" => Some(DisplayZone::Utc),
            "local" => Some(DisplayZone::Local),
            _ => None,
        }
    }

    #[cfg(feature = "hydrate")]
    pub fn save(zone: DisplayZone) {
        let value = match zone {
            DisplayZone::Utc => "utc",
            DisplayZone::Local => "local",
        };
        if let Some(storage) = storage() {
            // A browser that refuses storage only loses the preference, not the switch.
            let _ = storage.set_item(KEY, value);
        }
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn save(_zone: DisplayZone) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant() -> DateTime<Utc> {
        "2026-10-03T08:15:00Z".parse().unwrap()
    }

    #[test]
    fn utc_is_labelled_utc() {
        assert_eq!(
            format_instant(instant(), DisplayZone::Utc),
            "2026-10-03 08:15:00 UTC"
        );
    }

    #[test]
    fn other_zones_show_their_offset_and_shifted_wall_clock() {
        let kolkata = FixedOffset::east_opt(5 * 3600 + 30 * 60).unwrap();
        assert_eq!(
            format_with_offset(instant(), kolkata),
            "2026-10-03 13:45:00 +05:30"
        );
        let new_york = FixedOffset::west_opt(4 * 3600).unwrap();
        assert_eq!(
            format_with_offset(instant(), new_york),
            "2026-10-03 04:15:00 -04:00"
        );
    }
}

/// A filter form's span: two RFC 3339 fields named `since` and `until`, as the lists' URL
/// queries read them.
#[component]
pub fn SpanInputs(
    /// What the start field is called on this page ("From", "Active from", …).
    from_label: &'static str,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> impl IntoView {
    let text = |at: Option<DateTime<Utc>>| {
        at.map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    view! {
        <label>
            {from_label}
            <input type="text" name="since" value=text(since) placeholder="2026-10-01T00:00:00Z" />
        </label>
        <label>
            "Until"
            <input type="text" name="until" value=text(until) placeholder="2026-10-02T00:00:00Z" />
        </label>
    }
}
