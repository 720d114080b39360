use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::Role;
use crate::api::alerts::{
    AddAlertChannel, AddAlertRule, AlertRule, AlertsView, Channel, ChannelKind, Delivery,
    DeliveryQuery, DeliveryStatus, EnableAlertChannel, RemoveAlertRule, RetryAlertDelivery,
    TestAlertChannel, list_alerts,
};
use crate::api::findings::{FindingKind, Severity};
use crate::api::identity::current_identity;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

fn query_from(params: &ParamsMap) -> DeliveryQuery {
    DeliveryQuery {
        status: params.get("status").and_then(|s| DeliveryStatus::parse(&s)),
        channel: params.get("channel").and_then(|c| c.parse().ok()),
        cursor: params.get("cursor"),
    }
}

/// The outcome of a page action: what the server said, or why it refused.
fn said<T: Clone + Send + Sync + 'static>(
    value: Option<Result<Result<T, String>, ServerFnError>>,
    done: impl Fn(T) -> String,
    testid: &'static str,
) -> Option<AnyView> {
    value.map(|outcome| match outcome {
        Ok(Ok(value)) => {
            view! { <p class="notice" role="status" data-testid=testid>{done(value)}</p> }
                .into_any()
        }
        Ok(Err(reason)) => {
            view! { <p class="error" role="alert" data-testid=testid>{reason}</p> }.into_any()
        }
        Err(error) => {
            view! { <p class="error" role="alert" data-testid=testid>{error.to_string()}</p> }
                .into_any()
        }
    })
}

/// `/alerts`: where findings are sent (channels), which go where (rules), and every message
/// with every attempt at it (the delivery log). Auditors view; admins change.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let params = use_query_map();
    let add = ServerAction::<AddAlertChannel>::new();
    let test = ServerAction::<TestAlertChannel>::new();
    let enable = ServerAction::<EnableAlertChannel>::new();
    let retry = ServerAction::<RetryAlertDelivery>::new();
    let add_rule = ServerAction::<AddAlertRule>::new();
    let remove_rule = ServerAction::<RemoveAlertRule>::new();
    let view_data = Resource::new(
        move || {
            (
                params.with(query_from),
                add.version().get(),
                test.version().get(),
                enable.version().get(),
                retry.version().get(),
                add_rule.version().get(),
                remove_rule.version().get(),
            )
        },
        |(query, ..)| list_alerts(query),
    );
    let identity = Resource::new(|| (), |_| current_identity());
    let outcomes = move || {
        [
            said(test.value().get(), |text| text, "test-outcome"),
            said(
                enable.value().get(),
                |()| "Saved.".to_string(),
                "enable-outcome",
            ),
            said(
                retry.value().get(),
                |()| "Sent again.".to_string(),
                "retry-outcome",
            ),
        ]
        .into_iter()
        .flatten()
        .collect_view()
    };
    view! {
        <Title text="Alerts" />
        <div class="page-head">
            <h1>"Alerts"</h1>
        </div>
        {outcomes}
        <Suspense fallback=|| view! { <p class="muted">"Loading the alert settings…"</p> }>
            {move || Suspend::new(async move {
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
                            <Channels channels may_change test enable />
                            <Rules rules names=names.clone() may_change remove_rule />
                            {may_change.then(|| view! { <NewRuleForm add_rule names=names.clone() /> })}
                            <Deliveries deliveries=deliveries.items next=deliveries.next names may_change retry />
                        }
                            .into_any()
                    }
                    Err(error) => view! { <LoadFailed what="alert settings" error /> }.into_any(),
                }
            })}
        </Suspense>
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

#[component]
fn Channels(
    channels: Vec<Channel>,
    may_change: bool,
    test: ServerAction<TestAlertChannel>,
    enable: ServerAction<EnableAlertChannel>,
) -> impl IntoView {
    let rows = channels
        .into_iter()
        .map(|channel| {
            let id = channel.id;
            let enabled = channel.enabled;
            let secrets = if channel.secret_fields.is_empty() {
                "none".to_string()
            } else {
                format!("{} (saved, never shown)", channel.secret_fields.join(", "))
            };
            view! {
                <tr data-testid="channel-row">
                    <td>
                        <a href=format!("/alerts?channel={id}")>{channel.name.clone()}</a>
                    </td>
                    <td>{channel.kind.as_str()}</td>
                    <td>
                        <code class="small">{channel.config.to_string()}</code>
                    </td>
                    <td class="small">{secrets}</td>
                    <td data-testid="channel-state">{if enabled { "enabled" } else { "disabled" }}</td>
                    {may_change
                        .then(|| {
                            view! {
                                <td class="nowrap">
                                    <button type="button" on:click=move |_| { test.dispatch(TestAlertChannel { id }); }>
                                        "Send test"
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
                        })}
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

/// Adds a channel: its settings as JSON, as the API takes them.
#[component]
fn NewChannelForm(add: ServerAction<AddAlertChannel>) -> impl IntoView {
    let kind = RwSignal::new("webhook".to_string());
    let name = RwSignal::new(String::new());
    let config = RwSignal::new(String::new());
    let min_severity = RwSignal::new("high".to_string());
    let example = move || match ChannelKind::parse(&kind.get()) {
        Some(ChannelKind::Slack) => r#"{"url": "https://hooks.slack.com/services/…"}"#,
        Some(ChannelKind::Email) => {
            r#"{"host": "smtp.example.com", "security": "starttls", "username": "…", "password": "…", "from": "trailkeeper@example.com", "to": ["secops@example.com"]}"#
        }
        Some(ChannelKind::Sns) => r#"{"topic_arn": "arn:aws:sns:us-east-1:111122223333:alerts"}"#,
        _ => {
            r#"{"url": "https://receiver.example.com/hook", "headers": {"Authorization": "Bearer …"}}"#
        }
    };
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
            {move || said(add.value().get(), |text| text, "channel-outcome")}
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

/// Adds a rule: findings of a severity and up, of one kind or any, matching patterns, to a
/// channel at once or as a digest.
#[component]
fn NewRuleForm(add_rule: ServerAction<AddAlertRule>, names: Vec<(i64, String)>) -> impl IntoView {
    let first = names.first().map(|(id, _)| *id).unwrap_or_default();
    let severity = RwSignal::new("high".to_string());
    let kind = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let principal = RwSignal::new(String::new());
    let channel = RwSignal::new(first);
    let digest = RwSignal::new(String::new());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        add_rule.dispatch(AddAlertRule {
            min_severity: severity.get_untracked(),
            kind: kind.get_untracked(),
            secret_pattern: secret.get_untracked(),
            principal_pattern: principal.get_untracked(),
            channel_id: channel.get_untracked(),
            digest_minutes: digest.get_untracked(),
        });
    };
    view! {
        <section class="panel" aria-labelledby="new-rule-heading">
            <h2 id="new-rule-heading">"Add a routing rule"</h2>
            <form class="filters" data-testid="new-alert-rule" on:submit=submit>
                <label>
                    "Severity and up"
                    <select name="min_severity" on:change=move |event| severity.set(event_target_value(&event))>
                        {Severity::ALL
                            .into_iter()
                            .map(|option| view! { <option value=option.as_str() selected=option == Severity::High>{option.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Kind"
                    <select name="kind" on:change=move |event| kind.set(event_target_value(&event))>
                        <option value="">"any"</option>
                        {FindingKind::ALL
                            .into_iter()
                            .map(|option| view! { <option value=option.as_str()>{option.label()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Secret pattern"
                    <input type="text" name="secret_pattern" placeholder="prod/*" on:input=move |event| secret.set(event_target_value(&event)) />
                </label>
                <label>
                    "Principal pattern"
                    <input type="text" name="principal_pattern" placeholder="arn:aws:iam::*:user/*" on:input=move |event| principal.set(event_target_value(&event)) />
                </label>
                <label>
                    "Channel"
                    <select
                        name="channel_id"
                        on:change=move |event| channel.set(event_target_value(&event).parse().unwrap_or_default())
                    >
                        {names
                            .into_iter()
                            .map(|(id, name)| view! { <option value=id.to_string()>{name}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Digest every (minutes)"
                    <input type="text" name="digest_minutes" placeholder="at once" on:input=move |event| digest.set(event_target_value(&event)) />
                </label>
                <button type="submit">"Add rule"</button>
            </form>
        </section>
    }
}

#[component]
fn Deliveries(
    deliveries: Vec<Delivery>,
    next: Option<String>,
    names: Vec<(i64, String)>,
    may_change: bool,
    retry: ServerAction<RetryAlertDelivery>,
) -> impl IntoView {
    let params = use_query_map();
    let link = move |status: Option<DeliveryStatus>| {
        let channel = params.with_untracked(|p| p.get("channel"));
        let mut parts = Vec::new();
        if let Some(status) = status {
            parts.push(format!("status={}", status.as_str()));
        }
        if let Some(channel) = channel {
            parts.push(format!("channel={channel}"));
        }
        if parts.is_empty() {
            "/alerts".to_string()
        } else {
            format!("/alerts?{}", parts.join("&"))
        }
    };
    let filters = std::iter::once((None, "all"))
        .chain(
            DeliveryStatus::ALL
                .into_iter()
                .map(|status| (Some(status), status.as_str())),
        )
        .map(|(status, label)| view! { <a href=link(status)>{label}</a> " " })
        .collect_view();
    let rows = deliveries
        .into_iter()
        .map(|delivery| {
            let last = delivery.attempts.last().cloned();
            let id = delivery.id.clone();
            let dead = delivery.status == DeliveryStatus::Dead;
            view! {
                <tr data-testid="delivery-row">
                    <td class="nowrap"><Timestamp at=delivery.created_at /></td>
                    <td>{channel_names(&[delivery.channel_id], &names)}</td>
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
    let more = next.map(|cursor| {
        let base = link(
            params
                .with_untracked(|p| p.get("status"))
                .and_then(|s| DeliveryStatus::parse(&s)),
        );
        let joiner = if base.contains('?') { '&' } else { '?' };
        view! { <a href=format!("{base}{joiner}cursor={cursor}")>"Older deliveries"</a> }
    });
    view! {
        <section class="panel" aria-labelledby="deliveries-heading" data-testid="deliveries">
            <h2 id="deliveries-heading">"Delivery log"</h2>
            <p class="filters small">"Status: " {filters}</p>
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
            {more}
        </section>
    }
}
