use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::events::{EventQuery, EventRecord, TimeRange, get_event};
use crate::components::load_failed::LoadFailed;
use crate::components::through_trailkeeper::ThroughTrailkeeper;
use crate::components::time::Timestamp;
use crate::pages::events::secret_label;

/// `/events/<eventID>`: one event, its derived fields and its whole record. The record is
/// shown as text (formatted JSON), never as markup, whatever its fields hold.
#[component]
pub fn EventPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|params| params.get("id").unwrap_or_default());
    let event = Resource::new(id, get_event);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the event…"</p> }>
            {move || Suspend::new(async move {
                match event.await {
                    Ok(Some(record)) => view! { <Detail record /> }.into_any(),
                    Ok(None) => {
                        view! {
                            <Title text="No such event" />
                            <h1>"No such event"</h1>
                            <p data-testid="event-not-found">
                                {format!("No stored event has the id {:?}. ", id())}
                                <a href="/events">"All events"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <LoadFailed what="event" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn explorer(query: EventQuery) -> String {
    format!(
        "/events?{}",
        EventQuery {
            range: Some(TimeRange::All),
            ..query
        }
        .to_query_string()
    )
}

#[component]
fn Detail(record: EventRecord) -> impl IntoView {
    let EventRecord {
        event,
        raw,
        through_trailkeeper,
    } = record;
    let formatted = serde_json::to_string_pretty(&raw).unwrap_or_default();
    let row = |label: &'static str, value: Option<String>| {
        value.map(|value| {
            view! {
                <dt>{label}</dt>
                <dd>{value}</dd>
            }
        })
    };
    let secret = secret_label(&event).map(|label| {
        let target = event
            .secret_arn
            .clone()
            .or(event.secret_ref.clone())
            .unwrap_or_default();
        let events = explorer(EventQuery {
            secret: Some(target.clone()),
            ..EventQuery::default()
        });
        view! {
            <dt>"Secret"</dt>
            <dd>
                    <a href=format!("/secrets/{target}")>{label}</a>
                    " · "
                    <a href=events>"its events"</a>
                    {event
                        .secret_arn
                        .is_none()
                        .then(|| view! { <span class="muted">" (not in the inventory)"</span> })}
            </dd>
        }
    });
    let principal = event.principal.clone().map(|principal| {
        let events = explorer(EventQuery {
            principal: Some(principal.clone()),
            ..EventQuery::default()
        });
        view! {
            <dt>"Principal"</dt>
            <dd>
                {principal.clone()}
                " · "
                <a href=events>"its events"</a>
            </dd>
        }
    });
    let outcome = match (&event.error_code, &event.error_message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => "succeeded".to_string(),
    };
    view! {
        <Title text=format!("{} event", event.event_name) />
        <div class="page-head">
            <h1>{event.event_name.clone()}</h1>
            <p class="muted">
                <Timestamp at=event.event_time />
            </p>
        </div>
        <section class="panel">
            <dl class="facts" data-testid="event-facts">
                    {row("Event ID", Some(event.event_id.clone()))}
                    {row("Type", event.event_type.clone())}
                    {row(
                        "Access",
                        event.read_only.map(|read| if read { "read" } else { "write" }.to_string()),
                    )}
                    {row("Outcome", Some(outcome))}
                    {secret}
                    {principal}
                    {through_trailkeeper
                        .map(|change| {
                            view! {
                                <dt>"Through Trailkeeper"</dt>
                                <dd>
                                    <ThroughTrailkeeper change />
                                </dd>
                            }
                        })}
                    {row("Session", event.session_name.clone())}
                    {row("Principal type", event.principal_type.clone())}
                    {row("Caller's account", event.principal_account.clone())}
                    {row("Source", event.source_ip.clone().or(event.source_service.clone()))}
                    {row("Client", event.user_agent_family.clone())}
                    {row("User agent", event.user_agent.clone())}
                    {row("Region", event.region.clone())}
                    {row("Account", event.account_id.clone())}
                    {row("Ingested from", Some(event.ingested_from.clone()))}
            </dl>
        </section>
        <section class="panel">
            <h2>"CloudTrail record"</h2>
            <pre class="policy" data-testid="event-record">{formatted}</pre>
        </section>
    }
}
