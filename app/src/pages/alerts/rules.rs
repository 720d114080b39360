//! The Alerts page's routing rules: listed, added, removed.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::alerts::{AddAlertRule, AlertRule, RemoveAlertRule};
use crate::api::findings::{FindingKind, Severity};

/// What is typed into the rule form (which sends its own fields). It lives with the page, not
/// the form, so refreshing the listing after a refusal keeps it.
#[derive(Clone, Copy)]
pub(super) struct RuleDraft {
    severity: RwSignal<String>,
    kinds: RwSignal<Vec<FindingKind>>,
    secret_pattern: RwSignal<String>,
    secret_tag: RwSignal<String>,
    principal_pattern: RwSignal<String>,
    channels: RwSignal<Vec<i64>>,
    digest_minutes: RwSignal<String>,
}

impl RuleDraft {
    pub(super) fn new() -> RuleDraft {
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

    pub(super) fn clear(self) {
        self.severity.set(Severity::High.as_str().to_string());
        self.kinds.set(Vec::new());
        self.secret_pattern.set(String::new());
        self.secret_tag.set(String::new());
        self.principal_pattern.set(String::new());
        self.channels.set(Vec::new());
        self.digest_minutes.set(String::new());
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
pub(super) fn Rules(
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
pub(super) fn NewRuleForm(
    add_rule: ServerAction<AddAlertRule>,
    draft: RuleDraft,
    names: Vec<(i64, String)>,
) -> impl IntoView {
    let kinds = FindingKind::ALL
        .into_iter()
        .map(|kind| {
            view! {
                <label>
                    <input
                        type="checkbox"
                        name="kinds[]"
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
                        name="channels[]"
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
            <ActionForm action=add_rule attr:class="filters" attr:data-testid="new-alert-rule">
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
            </ActionForm>
        </section>
    }
}
