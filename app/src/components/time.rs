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

/// Starts showing every timestamp on the page in the viewer's saved zone (by default their
/// local one), the ones the page is still receiving and the ones islands render later too.
#[cfg(feature = "hydrate")]
pub fn show_timestamps_in_chosen_zone() {
    page_timestamps::follow(saved_choice::load().unwrap_or(DisplayZone::Local));
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

/// An instant, machine-readable in `datetime`. The server writes it in UTC (it cannot know
/// the viewer's zone); the page shows it in the chosen zone once its script runs.
#[component]
pub fn Timestamp(at: DateTime<Utc>) -> impl IntoView {
    view! {
        <time datetime=at.to_rfc3339() title=at.format("%Y-%m-%dT%H:%M:%SZ").to_string()>
            {format_instant(at, DisplayZone::Utc)}
        </time>
    }
}

/// Switches every timestamp on the page between UTC and the viewer's zone.
#[island]
pub fn DisplayZoneToggle() -> impl IntoView {
    // UTC as the server rendered it, then the zone the page shows once hydrated.
    let (shown, show) = signal(DisplayZone::Utc);
    Effect::new(move |_| show.set(page_timestamps::shown()));
    let label = move || match shown.get() {
        DisplayZone::Utc => "Times: UTC".to_string(),
        DisplayZone::Local => format!("Times: local ({})", Local::now().offset().fix()),
    };
    let switch = move |_| {
        let next = shown.get_untracked().other();
        saved_choice::save(next);
        page_timestamps::show_in(next);
        show.set(next);
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

/// The page's timestamps in one zone: every `<time datetime>` element, rewritten when the zone
/// changes and as elements arrive — a streamed section resolving after the script ran, an
/// island rendering anew. One pass over the page, not an island per timestamp.
#[cfg(feature = "hydrate")]
mod page_timestamps {
    use std::cell::Cell;

    use chrono::{DateTime, Utc};
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{Element, MutationObserver, MutationObserverInit, MutationRecord, Node};

    use super::{DisplayZone, format_instant};

    thread_local! {
        static SHOWN: Cell<DisplayZone> = const { Cell::new(DisplayZone::Utc) };
    }

    pub fn shown() -> DisplayZone {
        SHOWN.get()
    }

    fn body() -> Option<web_sys::HtmlElement> {
        web_sys::window()?.document()?.body()
    }

    pub fn show_in(zone: DisplayZone) {
        SHOWN.set(zone);
        if let Some(body) = body() {
            rewrite_under(&body, zone);
        }
    }

    /// Shows the page in `zone` and keeps what is added later in it.
    pub fn follow(zone: DisplayZone) {
        show_in(zone);
        let Some(body) = body() else {
            return;
        };
        let added = Closure::<dyn FnMut(js_sys::Array)>::new(|records: js_sys::Array| {
            for record in records.iter() {
                let record: MutationRecord = record.unchecked_into();
                let nodes = record.added_nodes();
                for index in 0..nodes.length() {
                    if let Some(element) = nodes
                        .item(index)
                        .and_then(|node| node.dyn_into::<Element>().ok())
                    {
                        rewrite_under(&element, SHOWN.get());
                    }
                }
            }
        });
        let Ok(observer) = MutationObserver::new(added.as_ref().unchecked_ref()) else {
            return;
        };
        let options = MutationObserverInit::new();
        options.set_child_list(true);
        options.set_subtree(true);
        // Without an observer the page keeps the zone it was shown in: nothing to report.
        let _ = observer.observe_with_options(&body, &options);
        // The body keeps its observer; the callback lives as long as the page.
        added.forget();
    }

    fn rewrite_under(root: &Element, zone: DisplayZone) {
        if root.tag_name().eq_ignore_ascii_case("time") {
            rewrite(root, zone);
        }
        let Ok(found) = root.query_selector_all("time[datetime]") else {
            return;
        };
        for index in 0..found.length() {
            if let Some(element) = found
                .item(index)
                .and_then(|node| node.dyn_into::<Element>().ok())
            {
                rewrite(&element, zone);
            }
        }
    }

    fn rewrite(element: &Element, zone: DisplayZone) {
        let Some(at) = element
            .get_attribute("datetime")
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        else {
            return;
        };
        // Only the text node's words: the nodes beside it are the renderer's markers, which
        // an island hydrating here later expects to find.
        let Some(words) = element
            .first_child()
            .filter(|node| node.node_type() == Node::TEXT_NODE)
        else {
            return;
        };
        let text = format_instant(at.with_timezone(&Utc), zone);
        if words.node_value().as_deref() != Some(text.as_str()) {
            words.set_node_value(Some(&text));
        }
    }
}

/// On the server the page is written in UTC.
#[cfg(not(feature = "hydrate"))]
mod page_timestamps {
    use super::DisplayZone;

    pub fn shown() -> DisplayZone {
        DisplayZone::Utc
    }

    pub fn show_in(_zone: DisplayZone) {}
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
