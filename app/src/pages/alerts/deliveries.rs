//! The Alerts page's delivery log: filtered, paged, a dead delivery retried.

use leptos::prelude::*;

use crate::api::alerts::{Delivery, DeliveryQuery, DeliveryStatus, RetryAlertDelivery};
use crate::components::choice::Choice;
use crate::components::time::{SpanInputs, Timestamp};

/// The delivery log's filters, as a search form the URL keeps.
#[component]
pub(super) fn DeliveryFilters(query: DeliveryQuery, names: Vec<(i64, String)>) -> impl IntoView {
    let status = query.status.map(DeliveryStatus::as_str).unwrap_or_default();
    view! {
        <form class="filters" method="get" action="/alerts" role="search" data-testid="delivery-filters">
            <Choice
                label="Status"
                name="status"
                selected=status.to_string()
                options=DeliveryStatus::ALL
                    .into_iter()
                    .map(|option| (option.as_str().to_string(), option.as_str().to_string()))
                    .collect()
            />
            <Choice
                label="Channel"
                name="channel"
                selected=query.channel.map(|id| id.to_string()).unwrap_or_default()
                options=names.into_iter().map(|(id, name)| (id.to_string(), name)).collect()
            />
            <label>
                "Finding"
                <input type="text" name="finding" inputmode="numeric" value=query.finding.map(|id| id.to_string()).unwrap_or_default() placeholder="#" />
            </label>
            <SpanInputs from_label="Made from" since=query.since until=query.until />
            <button type="submit">"Filter"</button>
            <a href="/alerts">"Clear"</a>
        </form>
    }
}

#[component]
pub(super) fn Deliveries(
    deliveries: Vec<Delivery>,
    next: Option<String>,
    query: DeliveryQuery,
    names: Vec<(i64, String)>,
    may_change: bool,
    retry: ServerAction<RetryAlertDelivery>,
) -> impl IntoView {
    let rows = deliveries
        .into_iter()
        .map(|delivery| {
            let last = delivery.attempts.last().cloned();
            let id = delivery.id.clone();
            let dead = delivery.status == DeliveryStatus::Dead;
            view! {
                <tr data-testid="delivery-row">
                    <td class="nowrap"><Timestamp at=delivery.created_at /></td>
                    <td>{delivery.channel_name.clone()}</td>
                    <td>{delivery.kind.as_str()}</td>
                    <td data-testid="delivery-status">{delivery.status.as_str()}</td>
                    <td>
                        {delivery
                            .finding_ids
                            .iter()
                            .map(|finding| view! { <a href=format!("/findings/{finding}")>{format!("#{finding}")}</a> " " })
                            .collect_view()}
                    </td>
                    <td class="number">{delivery.attempts.len()}</td>
                    <td>
                        {last
                            .map(|attempt| {
                                format!(
                                    "{} in {} ms",
                                    attempt.response_code.map_or("no answer".to_string(), |code| code.to_string()),
                                    attempt.latency_ms
                                )
                            })}
                    </td>
                    <td class="small">{delivery.last_error.clone()}</td>
                    <td class="small"><code>{delivery.id.clone()}</code></td>
                    {may_change
                        .then(|| {
                            view! {
                                <td>
                                    {dead
                                        .then(|| {
                                            view! {
                                                <button type="button" on:click=move |_| { retry.dispatch(RetryAlertDelivery { id: id.clone() }); }>
                                                    "Retry"
                                                </button>
                                            }
                                        })}
                                </td>
                            }
                        })}
                </tr>
            }
        })
        .collect_view();
    let first = query.cursor.is_some().then(|| {
        let first = DeliveryQuery {
            cursor: None,
            ..query.clone()
        };
        view! { <a href=first.href()>"Most recent"</a> }
    });
    let older = next.map(|cursor| {
        let next = DeliveryQuery {
            cursor: Some(cursor),
            ..query.clone()
        };
        view! { <a href=next.href() rel="next">"Older deliveries"</a> }
    });
    view! {
        <section class="panel" aria-labelledby="deliveries-heading" data-testid="deliveries">
            <h2 id="deliveries-heading">"Delivery log"</h2>
            <DeliveryFilters query names />
            <table>
                <thead>
                    <tr>
                        <th>"Made"</th>
                        <th>"Channel"</th>
                        <th>"Type"</th>
                        <th>"Status"</th>
                        <th>"Findings"</th>
                        <th>"Attempts"</th>
                        <th>"Last answer"</th>
                        <th>"Last error"</th>
                        <th>"Delivery id"</th>
                        {may_change.then(|| view! { <th>"Actions"</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <nav class="pager" aria-label="Pages">
                {first}
                {older}
            </nav>
        </section>
    }
}
