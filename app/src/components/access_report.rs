//! A secret's access report: who used it over a period, with their sources, clients and
//! errors. What an audit review of one secret asks for first.

use leptos::prelude::*;

use crate::AppError;
use crate::api::events::{AccessReport, EventQuery, TimeRange};
use crate::api::query;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

/// The period a report covers when the address names none.
const DEFAULT_RANGE: TimeRange = TimeRange::LastMonth;

/// The period from the page's URL query `search`: `range`, or `since`/`until`.
pub fn period(search: &str) -> EventQuery {
    let pairs: Vec<(String, String)> = query::pairs(search)
        .into_iter()
        .filter(|(name, _)| matches!(name.as_str(), "range" | "since" | "until"))
        .collect();
    let mut period = EventQuery::from_pairs(pairs.iter().map(query::as_strs)).unwrap_or_default();
    if period.range.is_none() && period.since.is_none() && period.until.is_none() {
        period.range = Some(DEFAULT_RANGE);
    }
    period
}

/// The report over `period`, read with the secret it is about.
#[component]
pub fn AccessSection(report: Result<AccessReport, AppError>, period: EventQuery) -> impl IntoView {
    let chosen = period.range.map(TimeRange::as_str).unwrap_or_default();
    view! {
        <section class="panel" id="access" aria-labelledby="access-heading" data-testid="access-report">
            <h2 id="access-heading">"Access"</h2>
            <form class="filters inline" method="get" action="#access">
                <label>
                    "Period"
                    <select name="range">
                        {TimeRange::ALL
                            .into_iter()
                            .map(|option| {
                                view! {
                                    <option value=option.as_str() selected=option.as_str() == chosen>
                                        {option.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit">"Show"</button>
            </form>
            {match report {
                Ok(report) => view! { <Report report period /> }.into_any(),
                Err(error) => view! { <LoadFailed what="access report" error /> }.into_any(),
            }}
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
