//! A secret's access report: who used it over a period, with their sources, clients and
//! errors. What an audit review of one secret asks for first.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::events::{AccessReport, EventQuery, TimeRange, secret_access};
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

/// The period a report covers when the address names none.
const DEFAULT_RANGE: TimeRange = TimeRange::LastMonth;

/// The period from the page's address: `range`, or `since`/`until`.
fn period() -> Memo<EventQuery> {
    let params = use_query_map();
    Memo::new(move |_| {
        params.with(|params| {
            let pairs: Vec<(String, String)> = params
                .into_iter()
                .filter(|(name, _)| matches!(name.as_ref(), "range" | "since" | "until"))
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
            let mut query =
                EventQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .unwrap_or_default();
            if query.range.is_none() && query.since.is_none() && query.until.is_none() {
                query.range = Some(DEFAULT_RANGE);
            }
            query
        })
    })
}

#[component]
pub fn AccessSection(arn: String) -> impl IntoView {
    let period = period();
    let report = Resource::new(
        {
            let arn = arn.clone();
            move || (arn.clone(), period.get().to_query_string())
        },
        |(arn, query)| secret_access(arn, query),
    );
    let chosen = move || {
        period
            .get()
            .range
            .map(TimeRange::as_str)
            .unwrap_or_default()
    };
    view! {
        <section class="panel" id="access" aria-labelledby="access-heading" data-testid="access-report">
            <h2 id="access-heading">"Access"</h2>
            <form class="filters inline" method="get" action="#access">
                <label>
                    "Period"
                    <select name="range">
                        {move || {
                            TimeRange::ALL
                                .into_iter()
                                .map(|option| {
                                    view! {
                                        <option value=option.as_str() selected=option.as_str() == chosen()>
                                            {option.label()}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
                <button type="submit">"Show"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading who used it…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <Report report period=period.get_untracked() /> }.into_any(),
                        Err(error) => view! { <LoadFailed what="access report" error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Report(report: AccessReport, period: EventQuery) -> impl IntoView {
    let events = format!(
        "/events?{}",
        EventQuery {
            secret: Some(report.secret_arn.clone()),
            ..period.clone()
        }
        .to_query_string()
    );
    let export = format!(
        "/api/v1/secrets/{}/access?format=csv&{}",
        report.secret_arn,
        period.to_query_string()
    );
    let links = view! {
        <p>
            <a href=events data-testid="access-events">"Its events in this period"</a>
            " · "
            <a href=export rel="external" download>"Export this report (CSV, auditors)"</a>
        </p>
    };
    if report.principals.is_empty() {
        return view! {
            {links}
            <p data-testid="access-empty">"No stored event names this secret in this period."</p>
        }
        .into_any();
    }
    let list = |items: Vec<String>| items.join(", ");
    view! {
        {links}
        <table class="data" data-testid="access-principals">
            <thead>
                <tr>
                    <th scope="col">"Principal"</th>
                    <th scope="col">"Reads"</th>
                    <th scope="col">"Writes"</th>
                    <th scope="col">"Errors"</th>
                    <th scope="col">"First"</th>
                    <th scope="col">"Last"</th>
                    <th scope="col">"From"</th>
                    <th scope="col">"Clients"</th>
                </tr>
            </thead>
            <tbody>
                {report
                    .principals
                    .into_iter()
                    .map(|access| {
                        let errors = if access.errors == 0 {
                            view! { <span class="muted">"0"</span> }.into_any()
                        } else {
                            view! {
                                <span class="badge status-stuck" title=list(access.error_codes.clone())>
                                    {access.errors}
                                </span>
                            }
                                .into_any()
                        };
                        view! {
                            <tr data-principal=access.principal.clone()>
                                <td class="wrap">
                                    {access.principal.clone()}
                                    {access
                                        .principal_account
                                        .clone()
                                        .map(|account| view! { <div class="muted small">"account " {account}</div> })}
                                </td>
                                <td>{access.reads}</td>
                                <td>{access.writes}</td>
                                <td>{errors}</td>
                                <td class="nowrap"><Timestamp at=access.first_at /></td>
                                <td class="nowrap"><Timestamp at=access.last_at /></td>
                                <td class="wrap">{list(access.sources)}</td>
                                <td>{list(access.user_agents)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
