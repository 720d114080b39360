use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::AppError;
use crate::Role;
use crate::api::alerts::{
    AddAlertChannel, AddAlertRule, AlertRule, AlertsView, ChangeAlertChannel, Channel, ChannelKind,
    Delivery, DeliveryQuery, DeliveryStatus, EnableAlertChannel, RemoveAlertRule,
    RetryAlertDelivery, TestAlertChannel, list_alerts,
};
use crate::api::findings::{FindingKind, Severity};
use crate::api::identity::current_identity;
use crate::api::query::{self, QueryError};
use crate::components::action_outcome::ActionOutcome;
use crate::components::load_failed::LoadFailed;
use crate::components::time::{SpanInputs, Timestamp};

fn query_from(params: &ParamsMap) -> Result<DeliveryQuery, QueryError> {
    DeliveryQuery::from_pairs(query::params_pairs(params).iter().map(query::as_strs))
}

/// What is typed into the rule form. It lives with the page, not the form, so refreshing the
/// listing after a refusal keeps it.
#[derive(Clone, Copy)]
struct RuleDraft {
    severity: RwSignal<String>,
    kinds: RwSignal<Vec<FindingKind>>,
    secret_pattern: RwSignal<String>,
    secret_tag: RwSignal<String>,
    principal_pattern: RwSignal<String>,
    channels: RwSignal<Vec<i64>>,
    digest_minutes: RwSignal<String>,
}

impl RuleDraft {
    fn new() -> RuleDraft {
        RuleDraft {
            severity: RwSignal::new(Severity::High.as_str().to_string()),
            kinds: RwSignal::new(Vec::new()),
            secret_pattern: RwSignal::new(String::new()),
            secret_tag: RwSignal::new(String::new()),
            principal_pattern: RwSignal::new(String::new()),
            channels: RwSignal::new(Vec::new()),
            digest_minutes: RwSignal::new(String::new()),
        }
    }

    fn clear(self) {
        self.severity.set(Severity::High.as_str().to_string());
        self.kinds.set(Vec::new());
        self.secret_pattern.set(String::new());
        self.secret_tag.set(String::new());
        self.principal_pattern.set(String::new());
        self.channels.set(Vec::new());
        self.digest_minutes.set(String::new());
    }

    fn to_action(self) -> AddAlertRule {
        let joined = |items: Vec<String>| items.join(",");
        let mut kinds = self.kinds.get_untracked();
        kinds.sort();
        AddAlertRule {
            min_severity: self.severity.get_untracked(),
            kinds: joined(
                kinds
                    .into_iter()
                    .map(|kind| kind.as_str().to_string())
                    .collect(),
            ),
            secret_pattern: self.secret_pattern.get_untracked(),
            secret_tag: self.secret_tag.get_untracked(),
            principal_pattern: self.principal_pattern.get_untracked(),
            channels: joined(
                self.channels
                    .get_untracked()
                    .into_iter()
                    .map(|id| id.to_string())
                    .collect(),
            ),
            digest_minutes: self.digest_minutes.get_untracked(),
        }
    }
}

fn toggle<T: PartialEq + Send + Sync + 'static>(list: RwSignal<Vec<T>>, item: T, on: bool) {
    list.update(|items| {
        items.retain(|known| *known != item);
        if on {
            items.push(item);
        }
    });
}

/// `/alerts`: where findings are sent (channels), which go where (rules), and every message
/// with every attempt at it (the delivery log). Auditors view; admins change.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let params = use_query_map();
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
                params.with(query_from).map(|query| query.to_query_string()),
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
    let identity = Resource::new(|| (), |_| current_identity());
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
        <Title text="Alerts" />
        <div class="page-head">
            <h1>"Alerts"</h1>
        </div>
        {outcomes}
        <Suspense fallback=|| view! { <p class="muted">"Loading the alert settings…"</p> }>
            {move || Suspend::new(async move {
                let query = params.with_untracked(query_from).unwrap_or_default();
                let may_change = identity
                    .await
                    .is_ok_and(|identity| identity.role.includes(Role::Admin));
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
            })}
        </Suspense>
        {move || editing.get().map(|channel| view! { <EditChannelForm channel change editing /> })}
        // Outside the listing, so refreshing it after a refusal keeps what was typed.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                identity
                    .await
                    .is_ok_and(|identity| identity.role.includes(Role::Admin))
                    .then(|| view! { <NewChannelForm add /> })
            })}
        </Suspense>
    }
}

fn secrets_note(channel: &Channel) -> String {
    if channel.secret_fields.is_empty() {
        "none".to_string()
    } else {
        format!("{} (saved, never shown)", channel.secret_fields.join(", "))
    }
}

#[component]
fn Channels(
    channels: Vec<Channel>,
    may_change: bool,
    test: ServerAction<TestAlertChannel>,
    enable: ServerAction<EnableAlertChannel>,
    editing: RwSignal<Option<Channel>>,
) -> impl IntoView {
    let rows = channels
        .into_iter()
        .map(|channel| {
            let id = channel.id;
            let enabled = channel.enabled;
            let log = DeliveryQuery {
                channel: Some(id),
                ..DeliveryQuery::default()
            };
            let actions = may_change.then(|| {
                let channel = channel.clone();
                view! {
                    <td class="nowrap">
                        <button type="button" on:click=move |_| { test.dispatch(TestAlertChannel { id }); }>
                            "Send test"
                        </button>
                        " "
                        <button type="button" on:click=move |_| editing.set(Some(channel.clone()))>
                            "Edit"
                        </button>
                        " "
                        <button
                            type="button"
                            on:click=move |_| {
                                enable.dispatch(EnableAlertChannel { id, enabled: !enabled });
                            }
                        >
                            {if enabled { "Disable" } else { "Enable" }}
                        </button>
                    </td>
                }
            });
            view! {
                <tr data-testid="channel-row">
                    <td>
                        <a href=log.href() title="Its deliveries">{channel.name.clone()}</a>
                    </td>
                    <td>{channel.kind.as_str()}</td>
                    <td>
                        <code class="small">{channel.config.to_string()}</code>
                    </td>
                    <td class="small">{secrets_note(&channel)}</td>
                    <td data-testid="channel-state">{if enabled { "enabled" } else { "disabled" }}</td>
                    {actions}
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="channels-heading" data-testid="channels">
            <h2 id="channels-heading">"Channels"</h2>
            <table>
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"Kind"</th>
                        <th>"Settings"</th>
                        <th>"Secrets"</th>
                        <th>"State"</th>
                        {may_change.then(|| view! { <th>"Actions"</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

fn example_settings(kind: Option<ChannelKind>) -> &'static str {
    match kind {
        Some(ChannelKind::Slack) => r#"{"url": "https://hooks.slack.com/services/…"}"#,
        Some(ChannelKind::Email) => {
            r#"{"host": "smtp.example.com", "security": "starttls", "username": "…", "password": "…", "from": "trailkeeper@example.com", "to": ["secops@example.com"]}"#
        }
        Some(ChannelKind::Sns) => r#"{"topic_arn": "arn:aws:sns:us-east-1:111122223333:alerts"}"#,
        _ => {
            r#"{"url": "https://receiver.example.com/hook", "headers": {"Authorization": "Bearer …"}}"#
        }
    }
}

/// Adds a channel: its settings as JSON, as the API takes them.
#[component]
fn NewChannelForm(add: ServerAction<AddAlertChannel>) -> impl IntoView {
    let kind = RwSignal::new("webhook".to_string());
    let name = RwSignal::new(String::new());
    let config = RwSignal::new(String::new());
    let min_severity = RwSignal::new("high".to_string());
    let example = move || example_settings(ChannelKind::parse(&kind.get()));
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        add.dispatch(AddAlertChannel {
            kind: kind.get_untracked(),
            name: name.get_untracked(),
            config: config.get_untracked(),
            min_severity: min_severity.get_untracked(),
        });
    };
    view! {
        <section class="panel" aria-labelledby="new-channel-heading">
            <h2 id="new-channel-heading">"Add a channel"</h2>
            <form class="filters" data-testid="new-channel" on:submit=submit>
                <label>
                    "Kind"
                    <select name="kind" on:change=move |event| kind.set(event_target_value(&event))>
                        {ChannelKind::ALL
                            .into_iter()
                            .map(|option| view! { <option value=option.as_str()>{option.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Name"
                    <input type="text" name="name" on:input=move |event| name.set(event_target_value(&event)) />
                </label>
                <label class="wide">
                    "Settings (JSON)"
                    <textarea
                        name="config"
                        rows="3"
                        cols="60"
                        placeholder=example
                        on:input=move |event| config.set(event_target_value(&event))
                    ></textarea>
                </label>
                <label>
                    "Send findings from"
                    <select name="min_severity" on:change=move |event| min_severity.set(event_target_value(&event))>
                        <option value="">"no rule yet"</option>
                        {Severity::ALL
                            .into_iter()
                            .map(|option| {
                                view! {
                                    <option value=option.as_str() selected=option == Severity::High>
                                        {option.as_str()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit">"Add channel"</button>
            </form>
            <p class="muted small">
                "Secrets (a signing key, header values, Slack's URL, an SMTP password) are sealed and never shown again. A webhook without a signing_key gets one, shown once."
            </p>
            <ActionOutcome value=add.value() done=|text: String| text testid="channel-outcome" />
        </section>
    }
}

/// Renames a channel or changes its settings. The saved secrets are not shown: left out of
/// the settings they stay; given, they replace the saved ones.
#[component]
fn EditChannelForm(
    channel: Channel,
    change: ServerAction<ChangeAlertChannel>,
    editing: RwSignal<Option<Channel>>,
) -> impl IntoView {
    let id = channel.id;
    let name = RwSignal::new(channel.name.clone());
    let config = RwSignal::new(serde_json::to_string_pretty(&channel.config).unwrap_or_default());
    let name_input = NodeRef::<html::Input>::new();
    // Brings the form into view when a row's Edit button opens it.
    Effect::new(move || {
        if let Some(input) = name_input.get() {
            let _ = input.focus();
        }
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        change.dispatch(ChangeAlertChannel {
            id,
            name: name.get_untracked(),
            config: config.get_untracked(),
        });
    };
    let secrets = secrets_note(&channel);
    view! {
        <section class="panel" aria-labelledby="edit-channel-heading">
            <h2 id="edit-channel-heading">{format!("Edit the channel “{}”", channel.name)}</h2>
            <form class="filters" data-testid="edit-channel" on:submit=submit>
                <label>
                    "Name"
                    <input type="text" name="name" node_ref=name_input bind:value=name />
                </label>
                <label class="wide">
                    "Settings (JSON)"
                    <textarea name="config" rows="5" cols="60" bind:value=config></textarea>
                </label>
                <button type="submit">"Save channel"</button>
                <button type="button" on:click=move |_| editing.set(None)>
                    "Cancel"
                </button>
            </form>
            <p class="muted small">
                {format!(
                    "Saved secrets: {secrets}. Left out of the settings, they stay as saved; given, they replace them. Example for a {}: {}",
                    channel.kind.as_str(),
                    example_settings(Some(channel.kind)),
                )}
            </p>
        </section>
    }
}

fn channel_names(ids: &[i64], names: &[(i64, String)]) -> String {
    ids.iter()
        .map(|id| {
            names
                .iter()
                .find(|(known, _)| known == id)
                .map_or_else(|| id.to_string(), |(_, name)| name.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn Rules(
    rules: Vec<AlertRule>,
    names: Vec<(i64, String)>,
    may_change: bool,
    remove_rule: ServerAction<RemoveAlertRule>,
) -> impl IntoView {
    let rows = rules
        .into_iter()
        .map(|rule| {
            let conditions = [
                (!rule.kinds.is_empty()).then(|| {
                    rule.kinds.iter().map(|kind| kind.label()).collect::<Vec<_>>().join(", ")
                }),
                rule.secret_pattern.clone().map(|p| format!("secret {p}")),
                rule.secret_tag.clone().map(|t| format!("tag {t}")),
                rule.principal_pattern.clone().map(|p| format!("principal {p}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
            let id = rule.id;
            view! {
                <tr data-testid="rule-row">
                    <td>{format!("{} and up", rule.min_severity.as_str())}</td>
                    <td>{if conditions.is_empty() { "every finding".to_string() } else { conditions.join("; ") }}</td>
                    <td>{channel_names(&rule.channel_ids, &names)}</td>
                    <td>
                        {match rule.digest_minutes {
                            Some(minutes) => format!("digest every {minutes} min"),
                            None => "at once".to_string(),
                        }}
                    </td>
                    {may_change
                        .then(|| {
                            view! {
                                <td>
                                    <button type="button" on:click=move |_| { remove_rule.dispatch(RemoveAlertRule { id }); }>
                                        "Remove"
                                    </button>
                                </td>
                            }
                        })}
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="rules-heading" data-testid="alert-rules">
            <h2 id="rules-heading">"Routing rules"</h2>
            <p class="muted small">
                "A finding alerts when it opens, when its severity rises and when it re-opens. Each channel takes at most 30 messages per 10 minutes; the rest follow in one message."
            </p>
            <table>
                <thead>
                    <tr>
                        <th>"Severity"</th>
                        <th>"Findings"</th>
                        <th>"Channels"</th>
                        <th>"When"</th>
                        {may_change.then(|| view! { <th>"Actions"</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

/// Adds a rule: findings of a severity and up, of some kinds or any, matching patterns or a
/// tag, to channels at once or as a digest.
#[component]
fn NewRuleForm(
    add_rule: ServerAction<AddAlertRule>,
    draft: RuleDraft,
    names: Vec<(i64, String)>,
) -> impl IntoView {
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        add_rule.dispatch(draft.to_action());
    };
    let kinds = FindingKind::ALL
        .into_iter()
        .map(|kind| {
            view! {
                <label>
                    <input
                        type="checkbox"
                        value=kind.as_str()
                        prop:checked=move || draft.kinds.with(|kinds| kinds.contains(&kind))
                        on:change=move |event| toggle(draft.kinds, kind, event_target_checked(&event))
                    />
                    {kind.label()}
                </label>
            }
        })
        .collect_view();
    let channels = names
        .into_iter()
        .map(|(id, name)| {
            view! {
                <label>
                    <input
                        type="checkbox"
                        value=id.to_string()
                        prop:checked=move || draft.channels.with(|ids| ids.contains(&id))
                        on:change=move |event| toggle(draft.channels, id, event_target_checked(&event))
                    />
                    {name}
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="new-rule-heading">
            <h2 id="new-rule-heading">"Add a routing rule"</h2>
            <form class="filters" data-testid="new-alert-rule" on:submit=submit>
                <label>
                    "Severity and up"
                    <select name="min_severity" on:change=move |event| draft.severity.set(event_target_value(&event))>
                        {Severity::ALL
                            .into_iter()
                            .map(|option| {
                                view! {
                                    <option
                                        value=option.as_str()
                                        selected=move || draft.severity.with(|chosen| chosen == option.as_str())
                                    >
                                        {option.as_str()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Secret pattern"
                    <input type="text" name="secret_pattern" placeholder="prod/*" bind:value=draft.secret_pattern />
                </label>
                <label>
                    "Secret tag"
                    <input type="text" name="secret_tag" placeholder="team=payments" bind:value=draft.secret_tag />
                </label>
                <label>
                    "Principal pattern"
                    <input type="text" name="principal_pattern" placeholder="arn:aws:iam::*:user/*" bind:value=draft.principal_pattern />
                </label>
                <label>
                    "Digest every (minutes)"
                    <input type="text" name="digest_minutes" placeholder="at once" bind:value=draft.digest_minutes />
                </label>
                <fieldset class="choices" data-testid="rule-kinds">
                    <legend>"Kinds (none ticked: every kind)"</legend>
                    {kinds}
                </fieldset>
                <fieldset class="choices" data-testid="rule-channels">
                    <legend>"Channels"</legend>
                    {channels}
                </fieldset>
                <button type="submit">"Add rule"</button>
            </form>
        </section>
    }
}

/// The delivery log's filters, as a search form the URL keeps.
#[component]
fn DeliveryFilters(query: DeliveryQuery, names: Vec<(i64, String)>) -> impl IntoView {
    let status = query.status.map(DeliveryStatus::as_str).unwrap_or_default();
    view! {
        <form class="filters" method="get" action="/alerts" role="search" data-testid="delivery-filters">
            <label>
                "Status"
                <select name="status">
                    <option value="" selected=status.is_empty()>"any"</option>
                    {DeliveryStatus::ALL
                        .into_iter()
                        .map(|option| {
                            view! {
                                <option value=option.as_str() selected=option.as_str() == status>
                                    {option.as_str()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Channel"
                <select name="channel">
                    <option value="" selected=query.channel.is_none()>"any"</option>
                    {names
                        .into_iter()
                        .map(|(id, name)| {
                            view! {
                                <option value=id.to_string() selected=query.channel == Some(id)>
                                    {name}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
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
fn Deliveries(
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
                    {(may_change && dead)
                        .then(|| {
                            view! {
                                <td>
                                    <button type="button" on:click=move |_| { retry.dispatch(RetryAlertDelivery { id: id.clone() }); }>
                                        "Retry"
                                    </button>
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
