use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::settings::{
    KindChange, PreviewDetectionSettings, SaveDetectionSettings, WhatIf, get_detection_settings,
};
use crate::components::action_outcome::ActionOutcome;
use crate::components::load_failed::LoadFailed;

/// Each threshold: its name in the settings, what it is called here, and what it does, with
/// the reference its default comes from.
const THRESHOLDS: [(&str, &str, &str); 26] = [
    (
        "learning_days",
        "Learning period (days)",
        "Behaviour detectors learn an account's and a principal's first days of history before they judge it (Elastic's new-terms rules).",
    ),
    (
        "unfamiliar_after_days",
        "Unfamiliar after (days)",
        "A network or client not used for this long is unfamiliar again.",
    ),
    (
        "spike_baseline_weeks",
        "Spike baseline (weeks)",
        "A read spike compares an hour with the same hour of the week over this many weeks…",
    ),
    (
        "spike_history_days",
        "Spike history needed (days)",
        "…once this much of the principal's history with the secret exists.",
    ),
    (
        "spike_sigmas",
        "Spike: standard deviations",
        "Fires above mean + this many standard deviations…",
    ),
    (
        "spike_factor",
        "Spike: times the mean",
        "…and above this many times the mean…",
    ),
    (
        "spike_minimum_reads",
        "Spike: minimum reads",
        "…and above this many reads in the hour.",
    ),
    (
        "bulk_secrets",
        "Bulk: distinct secrets",
        "One principal reading this many different secrets… (Elastic's rapid secret retrieval)",
    ),
    (
        "bulk_window_minutes",
        "Bulk: within (minutes)",
        "…within this many minutes.",
    ),
    (
        "list_then_read_secrets",
        "List then read: more than",
        "ListSecrets followed by reads of more than this many secrets… (Stratus Red Team)",
    ),
    (
        "list_then_read_minutes",
        "List then read: within (minutes)",
        "…within this many minutes.",
    ),
    (
        "batch_calls_per_day",
        "BatchGetSecretValue calls a day",
        "This many batch reads by one principal in 24 hours (Panther).",
    ),
    (
        "denied_reads",
        "Denied burst: refusals",
        "This many refused reads by one principal…",
    ),
    (
        "denied_window_minutes",
        "Denied burst: within (minutes)",
        "…within this many minutes.",
    ),
    (
        "usual_hours_days",
        "Usual hours from (days)",
        "A person's usual hours are the hours of the week they were active in over this many days.",
    ),
    (
        "rotation_max_age_days",
        "Maximum age without rotation (days)",
        "A secret with rotation off and not rotated for this long is a finding (Prowler, AWS Config).",
    ),
    (
        "unused_after_days",
        "Unused after (days)",
        "A secret nobody read for this long, by AWS's last access date and CloudTrail, is a finding (AWS Config's secretsmanager-secret-unused).",
    ),
    (
        "trail_stale_hours",
        "Trail silent after (hours)",
        "A logging trail whose newest log file is older than this has stopped delivering: a finding.",
    ),
    (
        "silence_multiple",
        "Events silent after (× usual longest wait)",
        "An account × region whose events arrive steadily is silent once none has come for this many times its longest wait between events over the two weeks before: a finding.",
    ),
    (
        "readback_minutes",
        "Reading back one's own write within (minutes)",
        "A principal reading a secret whose value it set itself this recently (infrastructure as code reading back what it wrote) is neither a first-time reader nor part of a bulk retrieval.",
    ),
    (
        "stale_consumer_hours",
        "Stale consumer after a rotation (hours)",
        "A principal still reading the version a rotation superseded (AWSPREVIOUS, or its version ID), or failing without one good read, this long after the rotation ended is a finding.",
    ),
    (
        "unused_grant_days",
        "Unused grant after (days)",
        "A principal the account's policies let read a secret it has not read for this long holds an unused grant (least privilege: IAM Access Analyzer's unused access defaults to 90 days). Judged once the stored CloudTrail reaches back this far.",
    ),
    (
        "broad_grant_secrets",
        "Broad grant above (secrets)",
        "A principal the policies let read more secrets than this, or every secret through secretsmanager:* on *, holds a broad grant.",
    ),
    (
        "what_if_days",
        "What-if over (days)",
        "Preview (and `trailkeeper detect --what-if`) runs detection over this many days of events with the proposed values beside the stored ones.",
    ),
    (
        "incident_minutes",
        "One incident within (minutes)",
        "Findings of one kind by one principal, each within this many minutes of the one before, are one finding that lists every secret touched (a teardown deleting 17 secrets is one critical finding, not 17 alerts).",
    ),
    (
        "live",
        "Detect while ingesting",
        "Off: events are stored, and `trailkeeper detect --backfill` detects later.",
    ),
];

/// `/settings`: what administrators change at run time — detection's thresholds.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings" />
        <div class="page-head">
            <h1>"Settings"</h1>
        </div>
        <DetectionSettings />
    }
}

/// Detection's thresholds as a form, read again once saved.
#[island(lazy)]
fn DetectionSettings() -> impl IntoView {
    let save = ServerAction::<SaveDetectionSettings>::new();
    let preview = ServerAction::<PreviewDetectionSettings>::new();
    let form = NodeRef::<leptos::html::Form>::new();
    let settings = Resource::new(move || save.version().get(), |_| get_detection_settings());
    // The values in the form, not yet saved, as the preview's input.
    let preview_form = move |_| {
        use leptos::form::FromFormData;
        let input = form.get().and_then(|form| {
            let data = leptos::web_sys::FormData::new_with_form(&form).ok()?;
            PreviewDetectionSettings::from_form_data(&data).ok()
        });
        if let Some(input) = input {
            preview.dispatch(input);
        }
    };
    view! {
        <section class="panel" aria-labelledby="detection-heading">
            <h2 id="detection-heading">"Detection"</h2>
            <p class="muted">
                "Each finding records the values it was made with. Changes apply to events detected from now on, and to a backfill."
            </p>
            <ActionOutcome
                value=save.value()
                done=|()| "Saved."
                testid="settings-saved"
                refused_testid="settings-refused"
            />
            <Suspense fallback=|| view! { <p class="muted">"Loading the settings…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(current) => {
                            let values = serde_json::to_value(&current).unwrap_or_default();
                            view! {
                                <ActionForm action=save node_ref=form attr:class="settings" attr:data-testid="detection-settings">
                                    <dl class="numbers">
                                        {THRESHOLDS
                                            .into_iter()
                                            .map(|(name, label, help)| {
                                                let field = format!("settings[{name}]");
                                                let input = match &values[name] {
                                                    serde_json::Value::Bool(on) => {
                                                        view! {
                                                            <select name=field id=name>
                                                                <option value="true" selected=*on>"on"</option>
                                                                <option value="false" selected=!on>"off"</option>
                                                            </select>
                                                        }
                                                            .into_any()
                                                    }
                                                    value => {
                                                        view! {
                                                            <input type="number" step="any" min="0" name=field id=name value=value.to_string() />
                                                        }
                                                            .into_any()
                                                    }
                                                };
                                                view! {
                                                    <dt>
                                                        <label for=name>{label}</label>
                                                    </dt>
                                                    <dd>
                                                        {input}
                                                        <div class="muted small">{help}</div>
                                                    </dd>
                                                }
                                            })
                                            .collect_view()}
                                    </dl>
                                    <button type="submit">"Save"</button>
                                    " "
                                    <button type="button" on:click=preview_form>
                                        "Preview"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <LoadFailed what="settings" error /> }.into_any(),
                    }
                })}
            </Suspense>
            <Show when=move || preview.pending().get()>
                <p class="muted">"Running detection with these values…"</p>
            </Show>
            {move || {
                preview
                    .value()
                    .get()
                    .map(|outcome| match outcome {
                        Ok(compared) => view! { <Preview compared /> }.into_any(),
                        Err(error) => {
                            view! {
                                <p class="error" role="alert" data-testid="preview-refused">
                                    {error.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                    })
            }}
        </section>
    }
}

/// What the values in the form would change, before saving them.
#[component]
fn Preview(compared: WhatIf) -> impl IntoView {
    let since = compared.since.format("%Y-%m-%d %H:%M UTC").to_string();
    let changes = |heading: &'static str, sign: &'static str, changes: Vec<KindChange>, testid| {
        view! {
            <h4>{heading}</h4>
            {if changes.is_empty() {
                view! { <p class="muted" data-testid=testid>"Nothing."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid=testid>
                        {changes
                            .into_iter()
                            .map(|change| {
                                view! {
                                    <li>
                                        <strong>{format!("{sign}{} {}", change.findings, change.kind.label())}</strong>
                                        " — "
                                        {change.examples.join("; ")}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        }
    };
    view! {
        <div class="panel" data-testid="settings-preview">
            <h3>"Preview"</h3>
            <p class="muted">
                {format!(
                    "Detection over the {} events since {since}, with the stored settings and with the values above: nothing was saved.",
                    compared.events,
                )}
            </p>
            {changes("Would add", "+", compared.added, "preview-added")}
            {changes("Would drop", "−", compared.dropped, "preview-dropped")}
        </div>
    }
}
