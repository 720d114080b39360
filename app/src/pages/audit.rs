use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::audit::{AuditFilter, AuditPage, OUTCOMES, get_audit_log};
use crate::api::query;
use crate::components::audit_table::AuditTable;
use crate::components::choice::Choice;
use crate::components::load_failed::LoadFailed;

/// `/audit`: Trailkeeper's own audit log for administrators, filtered by what the URL says.
#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(move || query.with(filter_from), get_audit_log);

    view! {
        <Title text="Audit log" />
        <div class="page-head">
            <h1>"Audit log"</h1>
        </div>
        <p class="muted">
            "Everything Trailkeeper and its users did: sign-ins, user and token changes, settings, exports and admin actions. Entries cannot be changed or removed."
        </p>
        {move || query.with(|query| view! { <Filters filter=filter_from(query) /> })}
        <Suspense fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => {
                        let filter = query.with_untracked(filter_from);
                        view! { <Entries page filter /> }.into_any()
                    }
                    Err(error) => view! { <LoadFailed what="audit log" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A plain GET form, so the filters land in the URL and a view can be shared.
#[component]
fn Filters(filter: AuditFilter) -> impl IntoView {
    let day = |at: Option<DateTime<Utc>>| at.map(|at| at.format("%Y-%m-%d").to_string());
    let outcome = filter.outcome.clone().unwrap_or_default();
    view! {
        <form class="filters panel" method="get" action="/audit">
            <label>
                "Who" <input type="search" name="actor" value=filter.actor.unwrap_or_default() />
            </label>
            <label>
                "Action"
                <input
                    type="search"
                    name="action"
                    placeholder="user. or user.created"
                    value=filter.action.unwrap_or_default()
                />
            </label>
            <Choice
                label="Outcome"
                name="outcome"
                selected=outcome
                options=OUTCOMES.into_iter().map(|name| (name.to_string(), name.to_string())).collect()
            />
            <label>
                "From (UTC)"
                <input type="date" name="since" value=day(filter.since).unwrap_or_default() />
            </label>
            <label>
                "To (UTC)"
                <input
                    type="date"
                    name="until"
                    value=day(filter.until.map(|until| until - chrono::Duration::days(1)))
                        .unwrap_or_default()
                />
            </label>
            <button type="submit">"Filter"</button>
            <a href="/audit">"Clear"</a>
        </form>
    }
}

#[component]
fn Entries(page: AuditPage, filter: AuditFilter) -> impl IntoView {
    let AuditPage {
        entries,
        next_before,
    } = page;
    if entries.is_empty() {
        return view! { <p data-testid="audit-empty">"No entries match."</p> }.into_any();
    }
    let older = next_before.map(|before| {
        let href = format!(
            "/audit?{}",
            to_query(&AuditFilter {
                before: Some(before),
                ..filter
            })
        );
        view! {
            <p>
                <a href=href rel="next">
                    "Older entries"
                </a>
            </p>
        }
    });
    view! {
        <AuditTable entries testid="audit-log" />
        {older}
    }
    .into_any()
}

/// The filter the URL describes; values that do not parse are ignored.
fn filter_from(query: &ParamsMap) -> AuditFilter {
    let text = |name: &str| {
        query
            .get(name)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    };
    let day = |name: &str| {
        text(name)
            .and_then(|value| NaiveDate::parse_from_str(&value, "%Y-%m-%d").ok())
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|midnight| midnight.and_utc())
    };
    AuditFilter {
        actor: text("actor"),
        action: text("action"),
        outcome: text("outcome").filter(|outcome| OUTCOMES.contains(&outcome.as_str())),
        since: day("since"),
        // The whole of the last day counts.
        until: day("until").map(|start| start + chrono::Duration::days(1)),
        before: text("before").and_then(|before| before.parse().ok()),
    }
}

/// The URL query that [`filter_from`] reads back into the same filter.
fn to_query(filter: &AuditFilter) -> String {
    let day = |at: DateTime<Utc>| at.format("%Y-%m-%d").to_string();
    let since = filter.since.map(day);
    let until = filter
        .until
        .map(|until| day(until - chrono::Duration::days(1)));
    let before = filter.before.map(|before| before.to_string());
    query::write([
        ("actor", filter.actor.as_deref()),
        ("action", filter.action.as_deref()),
        ("outcome", filter.outcome.as_deref()),
        ("since", since.as_deref()),
        ("until", until.as_deref()),
        ("before", before.as_deref()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ParamsMap {
        let mut map = ParamsMap::new();
        for (name, value) in pairs {
            map.insert(name.to_string(), value.to_string());
        }
        map
    }

    #[test]
    fn a_filter_survives_the_round_trip_through_the_url() {
        let filter = filter_from(&params(&[
            ("actor", " Alice & Bob "),
            ("action", "user."),
            ("outcome", "failure"),
            ("since", "2026-11-01"),
            ("until", "2026-11-02"),
            ("before", "42"),
        ]));
        assert_eq!(filter.actor.as_deref(), Some("Alice & Bob"));
        assert_eq!(
            filter.until.unwrap().to_rfc3339(),
            "2026-11-03T00:00:00+00:00",
            "the last day is included"
        );
        let query = to_query(&filter);
        let reparsed = query::pairs(&query);
        let map = params(&reparsed.iter().map(query::as_strs).collect::<Vec<_>>());
        assert_eq!(filter_from(&map), filter);
    }

    #[test]
    fn values_that_do_not_parse_are_ignored() {
        let filter = filter_from(&params(&[
            ("outcome", "maybe"),
            ("since", "yesterday"),
            ("before", "x"),
            ("actor", "   "),
        ]));
        assert_eq!(filter, AuditFilter::default());
    }
}
