//! The Alerts page's channels: listed, added, changed, tested.

use leptos::form::ActionForm;
use leptos::html;
use leptos::prelude::*;

use crate::api::alerts::{
    AddAlertChannel, ChangeAlertChannel, Channel, ChannelKind, DeliveryQuery, EnableAlertChannel,
    TestAlertChannel,
};
use crate::api::findings::Severity;
use crate::components::action_outcome::ActionOutcome;

fn secrets_note(channel: &Channel) -> String {
    if channel.secret_fields.is_empty() {
        "none".to_string()
    } else {
        format!("{} (saved, never shown)", channel.secret_fields.join(", "))
    }
}

#[component]
pub(super) fn Channels(
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
pub(super) fn NewChannelForm(add: ServerAction<AddAlertChannel>) -> impl IntoView {
    // Only the example follows the kind chosen; the form sends what is typed.
    let kind = RwSignal::new("webhook".to_string());
    let example = move || example_settings(ChannelKind::parse(&kind.get()));
    view! {
        <section class="panel" aria-labelledby="new-channel-heading">
            <h2 id="new-channel-heading">"Add a channel"</h2>
            <ActionForm action=add attr:class="filters" attr:data-testid="new-channel">
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
                    <input type="text" name="name" />
                </label>
                <label class="wide">
                    "Settings (JSON)"
                    <textarea name="config" rows="3" cols="60" placeholder=example></textarea>
                </label>
                <label>
                    "Send findings from"
                    <select name="min_severity">
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
            </ActionForm>
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
pub(super) fn EditChannelForm(
    channel: Channel,
    change: ServerAction<ChangeAlertChannel>,
    editing: RwSignal<Option<Channel>>,
) -> impl IntoView {
    let config = serde_json::to_string_pretty(&channel.config).unwrap_or_default();
    let name_input = NodeRef::<html::Input>::new();
    // Brings the form into view when a row's Edit button opens it.
    Effect::new(move || {
        if let Some(input) = name_input.get() {
            let _ = input.focus();
        }
    });
    let secrets = secrets_note(&channel);
    view! {
        <section class="panel" aria-labelledby="edit-channel-heading">
            <h2 id="edit-channel-heading">{format!("Edit the channel “{}”", channel.name)}</h2>
            <ActionForm action=change attr:class="filters" attr:data-testid="edit-channel">
                <input type="hidden" name="id" value=channel.id />
                <label>
                    "Name"
                    <input type="text" name="name" node_ref=name_input value=channel.name.clone() />
                </label>
                <label class="wide">
                    "Settings (JSON)"
                    <textarea name="config" rows="5" cols="60" prop:value=config></textarea>
                </label>
                <button type="submit">"Save channel"</button>
                <button type="button" on:click=move |_| editing.set(None)>
                    "Cancel"
                </button>
            </ActionForm>
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
