//! `/alerts`: channels, routing rules and the delivery log, each in its own module.

mod channels;
mod deliveries;
mod rules;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::AppError;
use crate::Role;
use crate::api::alerts::{
    AddAlertChannel, AddAlertRule, AlertsView, ChangeAlertChannel, Channel, DeliveryQuery,
    EnableAlertChannel, RemoveAlertRule, RetryAlertDelivery, TestAlertChannel, list_alerts,
};
use crate::api::identity::holds_role;
use crate::api::query;
use crate::components::action_outcome::ActionOutcome;
use crate::components::load_failed::LoadFailed;
use channels::{Channels, EditChannelForm, NewChannelForm};
use deliveries::{Deliveries, DeliveryFilters};
use rules::{NewRuleForm, RuleDraft, Rules};

/// `/alerts`: where findings are sent (channels), which go where (rules), and every message
/// with every attempt at it (the delivery log). Auditors view; admins change.
#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <Title text="Alerts" />
        <div class="page-head">
            <h1>"Alerts"</h1>
        </div>
        <Alerts search=query::page_query() />
    }
}

/// Everything on the page for the URL's query `search`, read again after each change.
#[island(lazy)]
fn Alerts(search: String) -> impl IntoView {
    let query = DeliveryQuery::parse(&search);
    let asked = query.clone();
    let add = ServerAction::<AddAlertChannel>::new();
    let change = ServerAction::<ChangeAlertChannel>::new();
    let test = ServerAction::<TestAlertChannel>::new();
    let enable = ServerAction::<EnableAlertChannel>::new();
    let retry = ServerAction::<RetryAlertDelivery>::new();
    let add_rule = ServerAction::<AddAlertRule>::new();
    let remove_rule = ServerAction::<RemoveAlertRule>::new();
    let editing = RwSignal::new(None::<Channel>);
    let draft = RuleDraft::new();
    Effect::new(move || {
        if add_rule.value().with(|value| matches!(value, Some(Ok(_)))) {
            draft.clear();
        }
    });
    Effect::new(move || {
        if change.value().with(|value| matches!(value, Some(Ok(_)))) {
            editing.set(None);
        }
    });
    let view_data = Resource::new(
        move || {
            (
                asked.clone().map(|query| query.to_query_string()),
                add.version().get(),
                change.version().get(),
                test.version().get(),
                enable.version().get(),
                retry.version().get(),
                add_rule.version().get(),
                remove_rule.version().get(),
            )
        },
        |(query, ..)| async move {
            match query.map(|text| DeliveryQuery::parse(&text)) {
                Ok(Ok(query)) => list_alerts(query).await,
                Ok(Err(error)) | Err(error) => Err(AppError::from(error)),
            }
        },
    );
    let may_change = holds_role(Role::Admin);
    let outcomes = view! {
        <ActionOutcome value=test.value() done=|text: String| text testid="test-outcome" />
        <ActionOutcome value=enable.value() done=|()| "Saved." testid="enable-outcome" />
        <ActionOutcome
            value=change.value()
            done=|()| "Channel saved."
            testid="change-outcome"
        />
        <ActionOutcome
            value=retry.value()
            done=|()| "Sent again."
            testid="retry-outcome"
        />
        <ActionOutcome
            value=add_rule.value()
            done=|()| "Rule added."
            testid="rule-add-outcome"
        />
        <ActionOutcome
            value=remove_rule.value()
            done=|()| "Rule removed."
            testid="rule-remove-outcome"
        />
    };
    view! {
        {outcomes}
        <Suspense fallback=|| view! { <p class="muted">"Loading the alert settings…"</p> }>
            {move || {
                let query = query.clone().unwrap_or_default();
                Suspend::new(async move {
                    let may_change = may_change.await;
                    match view_data.await {
                        Ok(AlertsView { channels, rules, deliveries }) => {
                            let names: Vec<(i64, String)> = channels
                                .iter()
                                .map(|channel| (channel.id, channel.name.clone()))
                                .collect();
                            view! {
                                <Channels channels may_change test enable editing />
                                <Rules rules names=names.clone() may_change remove_rule />
                                {may_change
                                    .then(|| view! { <NewRuleForm add_rule draft names=names.clone() /> })}
                                <Deliveries
                                    deliveries=deliveries.items
                                    next=deliveries.next
                                    query
                                    names
                                    may_change
                                    retry
                                />
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! {
                                <DeliveryFilters query names=Vec::new() />
                                <LoadFailed what="alert settings" error />
                            }
                                .into_any()
                        }
                    }
                })
            }}
        </Suspense>
        {move || editing.get().map(|channel| view! { <EditChannelForm channel change editing /> })}
        // Outside the listing, so refreshing it after a refusal keeps what was typed.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                may_change.await.then(|| view! { <NewChannelForm add /> })
            })}
        </Suspense>
    }
}
