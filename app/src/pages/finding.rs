use chrono::{DateTime, Duration, Utc};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::Role;
use crate::api::events::{Bucket, EventQuery, Histogram, principal_name};
use crate::api::findings::{FindingDetail, FindingStatus, TriageFinding, get_finding};
use crate::api::identity::page_for;
use crate::components::action_outcome::ActionOutcome;
use crate::components::badges::{FindingStatusBadge, SeverityBadge};
use crate::components::histogram::EventHistogram;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;
use crate::pages::events::EventsTable;

/// `/findings/<id>`: one finding — its explanation with the detector's numbers, the evidence
/// events, the principal's activity around it, its history, and triage for auditors.
#[component]
pub fn FindingPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|params| {
        params
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or_default()
    });
    // Only auditors and admins triage, so only their page is an island run in the browser.
    if page_for(Role::Auditor) {
        view! { <TriagedFinding id /> }.into_any()
    } else {
        view! { <Finding id triage=None /> }.into_any()
    }
}

/// The finding with its triage, read again after each.
#[island(lazy)]
fn TriagedFinding(id: i64) -> impl IntoView {
    let triage = ServerAction::<TriageFinding>::new();
    view! { <Finding id triage=Some(triage) /> }
}

/// Finding `id`, read again after each `triage`.
#[component]
fn Finding(id: i64, triage: Option<ServerAction<TriageFinding>>) -> impl IntoView {
    let finding = Resource::new(
        move || (id, triage.map(|triage| triage.version().get())),
        |(id, _)| get_finding(id),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the finding…"</p> }>
            {move || Suspend::new(async move {
                match finding.await {
                    Ok(Some(detail)) => view! { <Detail detail triage /> }.into_any(),
                    Ok(None) => {
                        view! {
                            <Title text="No such finding" />
                            <h1>"No such finding"</h1>
                            <p data-testid="finding-not-found">
                                "There is no finding with this number. "
                                <a href="/findings">"All findings"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <LoadFailed what="finding" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn explorer(query: EventQuery) -> String {
    format!("/events?{}", query.to_query_string())
}

/// A detector's number as people read it.
fn number(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Number(number) => match number.as_f64() {
            Some(float) if float.fract() != 0.0 => format!("{float:.1}"),
            _ => number.to_string(),
        },
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "—".into(),
        serde_json::Value::Array(items) if items.is_empty() => "none".into(),
        serde_json::Value::Array(items) => items.iter().map(number).collect::<Vec<_>>().join("; "),
        // A policy flag (and anything else that explains itself) reads as its reason.
        serde_json::Value::Object(object) if object.contains_key("reason") => {
            number(&object["reason"])
        }
        other => other.to_string(),
    }
}

#[component]
fn Detail(detail: FindingDetail, triage: Option<ServerAction<TriageFinding>>) -> impl IntoView {
    let finding = detail.finding.clone();
    let (from, to) = (
        finding.first_seen - Duration::days(1),
        finding.last_seen + Duration::days(1),
    );
    let incident = finding.secrets.len() > 1;
    let secret = finding
        .secret_name
        .clone()
        .filter(|_| !incident)
        .map(|name| {
            let target = finding.secret_arn.clone().unwrap_or_else(|| name.clone());
            let events = explorer(EventQuery {
                secret: Some(target.clone()),
                since: Some(from),
                until: Some(to),
                ..EventQuery::default()
            });
            view! {
                <dt>"Secret"</dt>
                <dd>
                    <a href=format!("/secrets/{target}")>{name}</a>
                    " · "
                    <a href=events>"its events around it"</a>
                </dd>
            }
        });
    let touched = incident.then(|| {
        view! {
            <section class="panel" aria-labelledby="secrets-heading">
                <h2 id="secrets-heading">
                    {format!("The {} secrets of this incident", finding.secrets.len())}
                </h2>
                <table class="data" data-testid="finding-secrets">
                    <thead>
                        <tr>
                            <th scope="col">"Secret"</th>
                            <th scope="col">"Events"</th>
                            <th scope="col">"First"</th>
                            <th scope="col">"Last"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {finding
                            .secrets
                            .iter()
                            .map(|secret| {
                                let name = secret.name.clone().unwrap_or_else(|| secret.arn.clone());
                                view! {
                                    <tr>
                                        <td>
                                            <a href=format!("/secrets/{}", secret.arn)>{name}</a>
                                        </td>
                                        <td class="number">{secret.count}</td>
                                        <td>
                                            <Timestamp at=secret.first_seen />
                                        </td>
                                        <td>
                                            <Timestamp at=secret.last_seen />
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </section>
        }
    });
    let principal_events = finding.principal.clone().map(|principal| {
        explorer(EventQuery {
            principal: Some(principal),
            since: Some(from),
            until: Some(to),
            ..EventQuery::default()
        })
    });
    let principal = finding.principal.clone().map(|principal| {
        view! {
            <dt>"Principal"</dt>
            <dd>
                <span title=principal.clone()>{principal_name(&principal).to_string()}</span>
                " "
                <span class="muted small mono">{principal.clone()}</span>
                " · "
                <a href=principal_events.clone().unwrap_or_default() data-testid="principal-events">
                    "its events around it"
                </a>
            </dd>
        }
    });
    let numbers: Vec<(String, String)> = detail
        .detail
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter(|(name, _)| name.as_str() != "settings")
                .map(|(name, value)| (name.replace('_', " "), number(value)))
                .collect()
        })
        .unwrap_or_default();
    let thresholds: Vec<(String, String)> = detail
        .detail
        .get("settings")
        .and_then(|settings| settings.as_object())
        .map(|object| {
            object
                .iter()
                .map(|(name, value)| (name.clone(), number(value)))
                .collect()
        })
        .unwrap_or_default();
    let activity = finding.principal.clone().map(|principal| {
        let histogram = Histogram {
            bucket: Bucket::Hour,
            from,
            to,
            bars: detail.activity.clone(),
        };
        let narrow = Callback::new(move |(since, until): (DateTime<Utc>, DateTime<Utc>)| {
            explorer(EventQuery {
                principal: Some(principal.clone()),
                since: Some(since),
                until: Some(until),
                ..EventQuery::default()
            })
        });
        view! {
            <section class="panel" aria-labelledby="activity-heading">
                <h2 id="activity-heading">"The principal's activity around it"</h2>
                <EventHistogram histogram href=narrow />
            </section>
        }
    });
    let evidence_note = (finding.count > finding.evidence_event_ids.len() as i64).then(|| {
        view! {
            <p class="muted small">
                {format!(
                    "The first {} of {} events; ",
                    finding.evidence_event_ids.len(),
                    finding.count,
                )}
                {principal_events
                    .clone()
                    .map(|href| view! { <a href=href>"the explorer has them all"</a> })}
            </p>
        }
    });
    let evidence = if detail.evidence.is_empty() {
        view! {
            <p class="muted">
                "This finding comes from the inventory, or its events are no longer stored."
            </p>
        }
        .into_any()
    } else {
        view! { <EventsTable events=detail.evidence.clone() /> }.into_any()
    };
    let history = if detail.history.is_empty() {
        view! { <p class="muted">"Nobody has acted on it yet."</p> }.into_any()
    } else {
        view! {
            <ol class="history" data-testid="finding-history">
                {detail
                    .history
                    .iter()
                    .map(|entry| {
                        view! {
                            <li data-action=entry.action.clone()>
                                <Timestamp at=entry.at />
                                " "
                                <strong>{entry.actor.clone()}</strong>
                                " "
                                {entry.summary.clone()}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <Title text=finding.title.clone() />
        <div class="page-head">
            <h1 data-testid="finding-title">{finding.title.clone()}</h1>
            <p>
                <SeverityBadge severity=finding.severity />
                " "
                <FindingStatusBadge status=finding.status />
                " "
                <span class="muted">{finding.kind.label()}</span>
            </p>
        </div>
        <section class="panel">
            <p class="explanation" data-testid="finding-explanation">
                {finding.explanation.clone()}
            </p>
            <dl class="facts">
                {secret}
                {principal}
                <dt>"First seen"</dt>
                <dd>
                    <Timestamp at=finding.first_seen />
                </dd>
                <dt>"Last seen"</dt>
                <dd>
                    <Timestamp at=finding.last_seen />
                </dd>
                <dt>"Events"</dt>
                <dd data-testid="finding-count">{finding.count}</dd>
                <dt>"Assigned to"</dt>
                <dd data-testid="finding-assignee">
                    {detail.assignee.clone().unwrap_or_else(|| "nobody".into())}
                </dd>
                {detail.finding.account_id.clone().map(|account| view! { <dt>"Account"</dt> <dd>{account}</dd> })}
                {detail.region.clone().map(|region| view! { <dt>"Region"</dt> <dd>{region}</dd> })}
            </dl>
        </section>
        {touched}
        <section class="panel" aria-labelledby="numbers-heading">
            <h2 id="numbers-heading">"What the detector measured"</h2>
            <dl class="numbers" data-testid="finding-numbers">
                {numbers
                    .into_iter()
                    .map(|(name, value)| view! { <dt>{name}</dt> <dd>{value}</dd> })
                    .collect_view()}
            </dl>
            {(!thresholds.is_empty())
                .then(|| {
                    view! {
                        <h3>"Settings it used"</h3>
                        <dl class="numbers" data-testid="finding-settings">
                            {thresholds
                                .into_iter()
                                .map(|(name, value)| view! { <dt class="mono">{name}</dt> <dd>{value}</dd> })
                                .collect_view()}
                        </dl>
                    }
                })}
        </section>
        <section class="panel" aria-labelledby="evidence-heading">
            <h2 id="evidence-heading">"Evidence"</h2>
            {evidence_note}
            {evidence}
        </section>
        {activity}
        <section class="panel" aria-labelledby="history-heading">
            <h2 id="history-heading">"History"</h2>
            {history}
            {triage.map(|triage| view! { <Triage id=finding.id status=finding.status triage /> })}
        </section>
    }
}

/// Triage for auditors: one form, each button sending its action with the comment, the
/// assignee or the day the suppression lasts until.
#[component]
fn Triage(id: i64, status: FindingStatus, triage: ServerAction<TriageFinding>) -> impl IntoView {
    let button = |action: &'static str, label: &'static str| {
        view! {
            <button type="submit" name="action" value=action>
                {label}
            </button>
        }
    };
    view! {
        <ActionForm action=triage attr:class="triage" attr:data-testid="triage">
            <input type="hidden" name="id" value=id />
            <label>
                "Comment or reason"
                <textarea name="comment"></textarea>
            </label>
            {(status == FindingStatus::Open).then(|| button("acknowledge", "Acknowledge"))}
            {(status != FindingStatus::Resolved).then(|| button("resolve", "Resolve"))}
            {(status != FindingStatus::Open).then(|| button("reopen", "Reopen"))}
            {button("comment", "Comment")}
            <label>
                "Assign to"
                <input type="text" name="assignee" placeholder="user name" />
            </label>
            {button("assign", "Assign")}
            <label>
                "Suppress until"
                <input type="date" name="until" />
            </label>
            {button("suppress", "Suppress")}
        </ActionForm>
        <ActionOutcome value=triage.value() testid="triage-refused" />
    }
}
