use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::Role;
use crate::api::events::principal_name;
use crate::api::findings::{
    AddSuppression, Finding, FindingKind, FindingListing, FindingQuery, FindingStatus,
    RemoveSuppression, Severity, StatusFilter, Suppression, list_findings, list_suppressions,
};
use crate::api::identity::page_for;
use crate::api::query::{self, QueryError};
use crate::components::action_outcome::ActionOutcome;
use crate::components::badges::{FindingStatusBadge, SeverityBadge};
use crate::components::choice::Choice;
use crate::components::load_failed::LoadFailed;
use crate::components::time::{SpanInputs, Timestamp};

/// `/findings`: the queue — active findings by default, most recent activity first, filtered
/// by the URL, with how many there are of each severity.
#[component]
pub fn FindingsPage() -> impl IntoView {
    let params = use_query_map();
    let listing = query::list_resource(
        move || params.with(query_from).map(|query| query.to_query_string()),
        list_findings,
    );
    // Auditors change the rules: only theirs is an island, sent with the page's first part.
    let suppressions = if page_for(Role::Auditor) {
        view! { <ManagedSuppressions /> }.into_any()
    } else {
        view! { <Suppressions changes=None /> }.into_any()
    };

    view! {
        <Title text="Findings" />
        <div class="page-head">
            <h1>"Findings"</h1>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading the findings…"</p> }>
            {move || Suspend::new(async move {
                let query = params.with_untracked(query_from).unwrap_or_default();
                match listing.await {
                    Ok(listing) => view! { <Listing listing query /> }.into_any(),
                    Err(error) => {
                        view! {
                            <Filters query />
                            <LoadFailed what="findings" error />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
        {suppressions}
    }
}

fn query_from(params: &ParamsMap) -> Result<FindingQuery, QueryError> {
    FindingQuery::from_pairs(query::params_pairs(params).iter().map(query::as_strs))
}

pub fn href(query: &FindingQuery) -> String {
    match query.to_query_string() {
        text if text.is_empty() => "/findings".to_string(),
        text => format!("/findings?{text}"),
    }
}

#[component]
fn Listing(listing: FindingListing, query: FindingQuery) -> impl IntoView {
    let FindingListing { page, counts } = listing;
    let total: i64 = counts.iter().map(|(_, count)| count).sum();
    let chips = counts
        .into_iter()
        .map(|(severity, count)| {
            let current = query.severities == [severity];
            let target = FindingQuery {
                severities: if current { Vec::new() } else { vec![severity] },
                ..query.first_page()
            };
            view! {
                <a
                    class=format!("badge severity-{}", severity.as_str())
                    href=href(&target)
                    aria-current=current.then_some("true")
                    data-severity=severity.as_str()
                    data-count=count
                >
                    {format!("{count} {}", severity.label())}
                </a>
            }
        })
        .collect_view();
    let first = query.cursor.is_some().then(|| {
        view! { <a href=href(&query.first_page())>"Most recent"</a> }
    });
    let older = page.next.map(|cursor| {
        let next = FindingQuery {
            cursor: Some(cursor),
            ..query.clone()
        };
        view! {
            <a href=href(&next) rel="next" data-testid="next-page">
                "Older findings"
            </a>
        }
    });
    let table = if page.items.is_empty() {
        view! { <p data-testid="findings-empty">"No findings match."</p> }.into_any()
    } else {
        view! { <FindingsTable findings=page.items /> }.into_any()
    };
    view! {
        <Filters query=query.clone() />
        <p class="severity-counts" data-testid="severity-counts" aria-label="By severity">
            {chips}
            {(total == 0).then(|| view! { <span class="muted">"Nothing to look at."</span> })}
        </p>
        {table}
        <nav class="pager" aria-label="Pages">
            {first}
            {older}
        </nav>
    }
}

/// A plain GET form, so the filters land in the URL and a view can be shared.
#[component]
fn Filters(query: FindingQuery) -> impl IntoView {
    let status = query.status.as_str();
    let severity = match query.severities.as_slice() {
        [one] => one.as_str(),
        _ => "",
    };
    let kind = match query.kinds.as_slice() {
        [one] => one.as_str(),
        _ => "",
    };
    let statuses = [
        StatusFilter::Active,
        StatusFilter::All,
        StatusFilter::Only(FindingStatus::Open),
        StatusFilter::Only(FindingStatus::Acknowledged),
        StatusFilter::Only(FindingStatus::Resolved),
        StatusFilter::Only(FindingStatus::Suppressed),
    ];
    view! {
        <form class="filters panel" method="get" action="/findings" role="search">
            <label>
                "Status"
                <select name="status">
                    {statuses
                        .into_iter()
                        .map(|option| {
                            let label = match option {
                                StatusFilter::Active => "open or acknowledged",
                                StatusFilter::All => "all",
                                StatusFilter::Only(status) => status.as_str(),
                            };
                            view! {
                                <option value=option.as_str() selected=option.as_str() == status>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <Choice
                label="Severity"
                name="severity"
                selected=severity.to_string()
                options=Severity::ALL
                    .into_iter()
                    .rev()
                    .map(|option| (option.as_str().to_string(), option.label().to_string()))
                    .collect()
            />
            <Choice
                label="Kind"
                name="kind"
                selected=kind.to_string()
                options=FindingKind::ALL
                    .into_iter()
                    .map(|option| (option.as_str().to_string(), option.label().to_string()))
                    .collect()
            />
            <label>
                "Secret"
                <input type="text" name="secret" value=query.secret.clone().unwrap_or_default() placeholder="name or ARN" />
            </label>
            <label>
                "Principal"
                <input type="text" name="principal" value=query.principal.clone().unwrap_or_default() placeholder="role or user ARN, or part of it" />
            </label>
            <label>
                "Account"
                <input type="text" name="account" inputmode="numeric" pattern="[0-9]{12}" value=query.account.clone().unwrap_or_default() placeholder="111122223333" />
            </label>
            <SpanInputs from_label="Active from" since=query.since until=query.until />
            <button type="submit">"Filter"</button>
            <a href="/findings">"Clear"</a>
        </form>
    }
}

#[component]
pub fn FindingsTable(findings: Vec<Finding>) -> impl IntoView {
    view! {
        <table class="data findings" data-testid="findings">
            <thead>
                <tr>
                    <th scope="col">"Severity"</th>
                    <th scope="col">"Finding"</th>
                    <th scope="col">"Secret"</th>
                    <th scope="col">"Principal"</th>
                    <th scope="col">"Last seen"</th>
                    <th scope="col">"Events"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Account"</th>
                </tr>
            </thead>
            <tbody>
                {findings.into_iter().map(|finding| view! { <FindingRow finding /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn FindingRow(finding: Finding) -> impl IntoView {
    let secret = finding.secret_name.clone().map(|name| {
        let target = finding.secret_arn.clone().unwrap_or_else(|| name.clone());
        let others = finding.secrets.len().saturating_sub(1);
        view! {
            <a href=format!("/secrets/{target}")>{name}</a>
            {(others > 0)
                .then(|| {
                    view! {
                        <div class="muted small">
                            {format!("and {others} more")}
                        </div>
                    }
                })}
        }
    });
    let principal = finding.principal.clone().map(|principal| {
        view! { <span title=principal.clone()>{principal_name(&principal).to_string()}</span> }
    });
    view! {
        <tr data-finding-id=finding.id data-kind=finding.kind.as_str()>
            <td>
                <SeverityBadge severity=finding.severity />
            </td>
            <td>
                <a href=format!("/findings/{}", finding.id) data-testid="finding-link">
                    {finding.title.clone()}
                </a>
                <div class="muted small">{finding.kind.label()}</div>
            </td>
            <td>{secret}</td>
            <td>{principal}</td>
            <td class="nowrap">
                <Timestamp at=finding.last_seen />
            </td>
            <td class="number">{finding.count}</td>
            <td>
                <FindingStatusBadge status=finding.status />
            </td>
            <td class="nowrap mono small">{finding.account_id.clone()}</td>
        </tr>
    }
}

/// How auditors change the rules.
#[derive(Clone, Copy)]
struct RuleChanges {
    add: ServerAction<AddSuppression>,
    remove: ServerAction<RemoveSuppression>,
}

/// The rules for auditors, who may add and remove them.
#[island(lazy)]
fn ManagedSuppressions() -> impl IntoView {
    let changes = RuleChanges {
        add: ServerAction::new(),
        remove: ServerAction::new(),
    };
    view! { <Suppressions changes=Some(changes) /> }
}

/// The suppression rules in force, read again after each of the `changes`.
#[component]
fn Suppressions(changes: Option<RuleChanges>) -> impl IntoView {
    let rules = Resource::new(
        move || {
            changes.map(|changes| (changes.add.version().get(), changes.remove.version().get()))
        },
        |_| list_suppressions(),
    );
    let remove = changes.map(|changes| changes.remove);
    view! {
        <section class="panel" aria-labelledby="suppressions-heading" data-testid="suppressions">
            <h2 id="suppressions-heading">"Suppression rules"</h2>
            <p class="muted small">
                "Findings a rule matches are kept as suppressed until it expires. Suppress one finding from its page, or many with a rule."
            </p>
            {remove.map(|remove| view! { <ActionOutcome value=remove.value() testid="suppression-refused" /> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rules.await {
                        Ok(rules) if rules.is_empty() => {
                            view! { <p class="muted">"None in force."</p> }.into_any()
                        }
                        Ok(rules) => view! { <RulesTable rules remove /> }.into_any(),
                        Err(error) => view! { <LoadFailed what="suppression rules" error /> }.into_any(),
                    }
                })}
            </Suspense>
            {changes.map(|changes| view! { <NewRule add=changes.add /> })}
        </section>
    }
}

/// A rule over any kind, principal and secret: patterns match whole values, `*` standing
/// for any run of characters.
#[component]
fn NewRule(add: ServerAction<AddSuppression>) -> impl IntoView {
    view! {
        <h3>"Add a rule"</h3>
        <ActionForm action=add attr:class="filters" attr:data-testid="new-suppression">
            <label>
                "Kind"
                <select name="kind">
                    <option value="">"any"</option>
                    {FindingKind::ALL
                        .into_iter()
                        .map(|option| view! { <option value=option.as_str()>{option.label()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Principal pattern"
                <input type="text" name="principal_pattern" placeholder="arn:aws:iam::*:role/ci-*" />
            </label>
            <label>
                "Secret pattern"
                <input type="text" name="secret_pattern" placeholder="staging/*" />
            </label>
            <label>
                "Until"
                <input type="date" name="until" />
            </label>
            <label>
                "Reason"
                <input type="text" name="reason" />
            </label>
            <button type="submit">"Add rule"</button>
        </ActionForm>
        <p class="muted small">"Empty patterns match anything; * matches any run of characters."</p>
        <ActionOutcome
            value=add.value()
            done=|()| "Rule added."
            testid="rule-added"
            refused_testid="rule-refused"
        />
    }
}

#[component]
fn RulesTable(
    rules: Vec<Suppression>,
    remove: Option<ServerAction<RemoveSuppression>>,
) -> impl IntoView {
    view! {
        <table class="data">
            <thead>
                <tr>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Principal"</th>
                    <th scope="col">"Secret"</th>
                    <th scope="col">"Until"</th>
                    <th scope="col">"Reason"</th>
                    <th scope="col">"By"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>
                {rules
                    .into_iter()
                    .map(|rule| {
                        let id = rule.id;
                        let any = || "any".to_string();
                        view! {
                            <tr data-suppression-id=id>
                                <td>{rule.kind.map(|kind| kind.label().to_string()).unwrap_or_else(any)}</td>
                                <td class="mono">{rule.principal_pattern.unwrap_or_else(any)}</td>
                                <td class="mono">{rule.secret_pattern.unwrap_or_else(any)}</td>
                                <td class="nowrap">
                                    <Timestamp at=rule.until />
                                </td>
                                <td>{rule.reason}</td>
                                <td>{rule.created_by}</td>
                                <td>
                                    {remove
                                        .map(|remove| {
                                            view! {
                                                <button
                                                    type="button"
                                                    on:click=move |_| {
                                                        remove.dispatch(RemoveSuppression { id });
                                                    }
                                                >
                                                    "Remove"
                                                </button>
                                            }
                                        })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
