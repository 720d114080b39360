use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::Role;
use crate::api::events::{
    AccessKind, ErrorFilter, EventListing, EventQuery, EventSummary, TimeRange, list_events,
    principal_name,
};
use crate::api::identity::page_for;
use crate::api::query::{self, QueryError};
use crate::components::histogram::EventHistogram;
use crate::components::load_failed::LoadFailed;
use crate::components::time::{SpanInputs, Timestamp};

/// What the explorer shows when the URL names no time at all.
const DEFAULT_RANGE: TimeRange = TimeRange::LastMonth;

/// Secrets Manager's API calls and service events, offered as event names.
const EVENT_NAMES: [&str; 27] = [
    "GetSecretValue",
    "BatchGetSecretValue",
    "DescribeSecret",
    "ListSecrets",
    "ListSecretVersionIds",
    "GetResourcePolicy",
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "CreateSecret",
    "DeleteSecret",
    "RestoreSecret",
    "RotateSecret",
    "CancelRotateSecret",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "TagResource",
    "UntagResource",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
    "GetRandomPassword",
    "RotationStarted",
    "RotationSucceeded",
    "RotationFailed",
    "RotationAbandoned",
    "StartSecretVersionDelete",
    "EndSecretVersionDelete",
];

/// `/events`: every stored CloudTrail event about Secrets Manager, filtered by the URL.
#[component]
pub fn EventsPage() -> impl IntoView {
    let params = use_query_map();
    let listing = query::list_resource(
        move || params.with(query_from).map(|query| query.to_query_string()),
        list_events,
    );
    let may_export = page_for(Role::Auditor);

    view! {
        <Title text="Events" />
        <div class="page-head">
            <h1>"Events"</h1>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading the events…"</p> }>
            {move || Suspend::new(async move {
                let query = params.with_untracked(query_from).unwrap_or_default();
                match listing.await {
                    Ok(listing) => view! { <Listing listing query may_export /> }.into_any(),
                    Err(error) => {
                        view! {
                            <Filters query />
                            <LoadFailed what="events" error />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

fn query_from(params: &ParamsMap) -> Result<EventQuery, QueryError> {
    let mut query = EventQuery::from_pairs(query::params_pairs(params).iter().map(query::as_strs))?;
    if query.range.is_none() && query.since.is_none() && query.until.is_none() {
        query.range = Some(DEFAULT_RANGE);
    }
    Ok(query)
}

fn href(path: &str, query: &EventQuery) -> String {
    match query.to_query_string() {
        text if text.is_empty() => path.to_string(),
        text => format!("{path}?{text}"),
    }
}

#[component]
fn Listing(listing: EventListing, query: EventQuery, may_export: bool) -> impl IntoView {
    let EventListing {
        items,
        next,
        histogram,
    } = listing;
    let chart = histogram.map(|histogram| {
        let base = query.first_page();
        let narrow = Callback::new(move |(since, until): (DateTime<Utc>, DateTime<Utc>)| {
            href(
                "/events",
                &EventQuery {
                    range: None,
                    since: Some(since),
                    until: Some(until),
                    ..base.clone()
                },
            )
        });
        view! { <EventHistogram histogram href=narrow /> }
    });
    let exports = if may_export {
        let filter = EventQuery {
            cursor: None,
            limit: None,
            ..query.clone()
        };
        view! {
            <p class="exports">
                "Export this filter: "
                <a href=href("/api/v1/events/export.csv", &filter) data-testid="export-csv" rel="external" download>
                    "CSV"
                </a>
                " · "
                <a href=href("/api/v1/events/export.jsonl", &filter) data-testid="export-jsonl" rel="external" download>
                    "JSON Lines"
                </a>
            </p>
        }
        .into_any()
    } else {
        view! { <p class="muted small">"Exports need the auditor role."</p> }.into_any()
    };
    let first = query.cursor.is_some().then(|| {
        view! { <a href=href("/events", &query.first_page())>"Newest"</a> }
    });
    let older = next.map(|cursor| {
        let next = EventQuery {
            cursor: Some(cursor),
            ..query.clone()
        };
        view! {
            <a href=href("/events", &next) rel="next" data-testid="next-page">
                "Older events"
            </a>
        }
    });
    let table = if items.is_empty() {
        view! { <p data-testid="events-empty">"No events match."</p> }.into_any()
    } else {
        view! { <EventsTable events=items /> }.into_any()
    };
    view! {
        <Filters query=query.clone() />
        {chart}
        {exports}
        {table}
        <nav class="pager" aria-label="Pages">
            {first}
            {older}
        </nav>
    }
}

/// A plain GET form, so the filters land in the URL and a view can be shared.
#[component]
fn Filters(query: EventQuery) -> impl IntoView {
    let custom = query.since.is_some() || query.until.is_some();
    let range = if custom {
        ""
    } else {
        query.range.map(TimeRange::as_str).unwrap_or_default()
    };
    let error = match &query.error {
        None => String::new(),
        Some(ErrorFilter::Any) => "any".into(),
        Some(ErrorFilter::None) => "none".into(),
        Some(ErrorFilter::Code(code)) => code.clone(),
    };
    let access = match query.access {
        None => "",
        Some(AccessKind::Read) => "read",
        Some(AccessKind::Write) => "write",
    };
    let text = |name: &'static str,
                label: &'static str,
                value: &Option<String>,
                hint: &'static str| {
        view! {
            <label>
                {label}
                <input type="text" name=name value=value.clone().unwrap_or_default() placeholder=hint />
            </label>
        }
    };
    view! {
        <form class="filters panel" method="get" action="/events" role="search">
            <label>
                "Time"
                <select name="range">
                    <option value="" selected=custom>
                        "custom"
                    </option>
                    {TimeRange::ALL
                        .into_iter()
                        .map(|option| {
                            view! {
                                <option value=option.as_str() selected=option.as_str() == range>
                                    {option.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <SpanInputs from_label="From" since=query.since until=query.until />
            {text("secret", "Secret", &query.secret, "name or ARN")}
            {text("principal", "Principal", &query.principal, "role or user ARN, or part of it")}
            <label>
                "Event"
                <input
                    type="text"
                    name="event_name"
                    list="event-names"
                    value=query.event_name.clone().unwrap_or_default()
                    placeholder="GetSecretValue"
                />
                <datalist id="event-names">
                    {EVENT_NAMES.map(|name| view! { <option value=name></option> }).collect_view()}
                </datalist>
            </label>
            {text("source_ip", "Source IP", &query.source_ip, "10.0.0.0/8")}
            <label>
                "Error"
                <input type="text" name="error_code" list="error-codes" value=error placeholder="any, none or a code" />
                <datalist id="error-codes">
                    <option value="any"></option>
                    <option value="none"></option>
                    <option value="AccessDenied"></option>
                    <option value="AccessDeniedException"></option>
                    <option value="ResourceNotFoundException"></option>
                    <option value="DecryptionFailure"></option>
                    <option value="ThrottlingException"></option>
                </datalist>
            </label>
            <label>
                "Access"
                <select name="access">
                    <option value="" selected=access.is_empty()>
                        "reads and writes"
                    </option>
                    <option value="read" selected=access == "read">
                        "reads"
                    </option>
                    <option value="write" selected=access == "write">
                        "writes"
                    </option>
                </select>
            </label>
            {text("user_agent", "User agent", &query.user_agent, "contains")}
            {text("account", "Account", &query.account, "111122223333")}
            {text("region", "Region", &query.region, "eu-west-1")}
            <button type="submit">"Filter"</button>
            <a href="/events">"Clear"</a>
        </form>
    }
}

#[component]
pub fn EventsTable(events: Vec<EventSummary>) -> impl IntoView {
    view! {
        <table class="data events" data-testid="events">
            <thead>
                <tr>
                    <th scope="col">"Time"</th>
                    <th scope="col">"Event"</th>
                    <th scope="col">"Secret"</th>
                    <th scope="col">"Principal"</th>
                    <th scope="col">"Source"</th>
                    <th scope="col">"Client"</th>
                    <th scope="col">"Outcome"</th>
                    <th scope="col">"Account"</th>
                </tr>
            </thead>
            <tbody>
                {events.into_iter().map(|event| view! { <EventRow event /> }).collect_view()}
            </tbody>
        </table>
    }
}

/// The secret's short name from an ARN (`…:secret:prod/db-AbCdEf` → `prod/db`), else as is.
pub fn secret_label(event: &EventSummary) -> Option<String> {
    let reference = event.secret_arn.as_ref().or(event.secret_ref.as_ref())?;
    Some(match reference.split_once(":secret:") {
        Some((_, name)) if event.secret_arn.is_some() => name
            .rsplit_once('-')
            .filter(|(_, suffix)| suffix.len() == 6)
            .map(|(name, _)| name.to_string())
            .unwrap_or_else(|| name.to_string()),
        Some((_, name)) => name.to_string(),
        None => reference.clone(),
    })
}

#[component]
fn EventRow(event: EventSummary) -> impl IntoView {
    let secret = secret_label(&event).map(|label| {
        let target = event
            .secret_arn
            .clone()
            .or(event.secret_ref.clone())
            .unwrap_or_default();
        view! { <a href=format!("/secrets/{target}")>{label}</a> }
    });
    let principal = event.principal.clone().map(|principal| {
        let short = principal_name(&principal).to_string();
        let filter = format!(
            "/events?{}",
            EventQuery {
                principal: Some(principal.clone()),
                range: Some(DEFAULT_RANGE),
                ..EventQuery::default()
            }
            .to_query_string()
        );
        view! {
            <a href=filter title=principal.clone()>{short}</a>
        }
    });
    let session = event
        .session_name
        .clone()
        .map(|session| view! { <div class="muted small">{session}</div> });
    let source = event
        .source_ip
        .clone()
        .or(event.source_service.clone())
        .unwrap_or_default();
    let outcome = match &event.error_code {
        Some(code) => view! {
            <span class="badge status-stuck" title=event.error_message.clone().unwrap_or_default()>
                {code.clone()}
            </span>
        }
        .into_any(),
        None => view! { <span class="muted">"ok"</span> }.into_any(),
    };
    view! {
        <tr data-event-id=event.event_id.clone()>
            <td class="nowrap">
                <a href=format!("/events/{}", event.event_id) data-testid="event-link">
                    <Timestamp at=event.event_time />
                </a>
            </td>
            <td>
                {event.event_name.clone()}
                {(event.read_only == Some(false)).then(|| view! { <span class="tag">"write"</span> })}
            </td>
            <td>{secret}</td>
            <td>{principal} {session}</td>
            <td class="nowrap">{source}</td>
            <td>{event.user_agent_family.clone()}</td>
            <td>{outcome}</td>
            <td class="nowrap mono small">{event.account_id.clone()}</td>
        </tr>
    }
}
