use leptos::prelude::*;
use leptos_meta::Title;

use chrono::{DateTime, Utc};

use crate::api::events::{ErrorFilter, EventQuery, TimeRange};
use crate::api::findings::{FindingQuery, Severity};
use crate::api::overview::{
    AccountOverview, EventsOverview, FindingsOverview, InventoryOverview, Logged, Overview,
    RegionCoverage, TrailCheck, get_overview,
};
use crate::api::secrets::{SecretQuery, account_label};
use crate::components::audit_table::AuditTable;
use crate::components::badges::StatusBadge;
use crate::components::column_heads::ColumnHeads;
use crate::components::histogram::EventHistogram;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;
use crate::pages::findings::{FindingsTable, href as findings_href};

#[component]
pub fn OverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());

    view! {
        <Title text="Overview" />
        <div class="page-head">
            <h1>"Overview"</h1>
            <a class="button" href="/">
                "Refresh"
            </a>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading the overview…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <OverviewPanels overview /> }.into_any(),
                    Err(error) => view! { <LoadFailed what="overview" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OverviewPanels(overview: Overview) -> impl IntoView {
    let Overview {
        findings,
        database,
        aws,
        inventory,
        accounts,
        coverage,
        events,
        recent_activity,
        generated_at,
        scoped,
    } = overview;
    view! {
        <Findings findings />
        <Inventory inventory />
        <Accounts accounts now=generated_at />
        <Coverage coverage />
        <Events events now=generated_at scoped />
        <div class="cards">
            <section class="panel" aria-labelledby="database-heading">
                <h2 id="database-heading">"Database"</h2>
                <dl class="facts">
                    <dt>"Server"</dt>
                    <dd data-testid="database-version">{database.server_version}</dd>
                    <dt>"Location"</dt>
                    <dd>{database.location}</dd>
                    <dt>"Schema"</dt>
                    <dd data-testid="schema-version">
                        {format!(
                            "version {} ({})",
                            database.schema_version,
                            database.schema_description,
                        )}
                    </dd>
                    <dt>"Size"</dt>
                    <dd>{human_bytes(database.size_bytes)}</dd>
                </dl>
            </section>
            <section class="panel" aria-labelledby="aws-heading">
                <h2 id="aws-heading">"AWS"</h2>
                <dl class="facts">
                    <dt>"Region"</dt>
                    <dd>{aws.region.unwrap_or_else(|| "not configured".into())}</dd>
                    <dt>"Endpoint"</dt>
                    <dd data-testid="aws-endpoint">
                        {aws.endpoint.unwrap_or_else(|| "AWS's public endpoints".into())}
                    </dd>
                </dl>
            </section>
        </div>
        <section class="panel" aria-labelledby="activity-heading">
            <h2 id="activity-heading">"Recent activity"</h2>
            <p class="muted">"Trailkeeper's own audit log: what it and its users did."</p>
            {if recent_activity.is_empty() {
                view! { <p>"Nothing recorded yet."</p> }.into_any()
            } else {
                view! { <AuditTable entries=recent_activity testid="recent-activity" /> }.into_any()
            }}
        </section>
        <p class="muted generated">"Read from the database at " <Timestamp at=generated_at /></p>
    }
}

/// Each account: its secrets and their rotation, its open findings, its last sync, and
/// whether its CloudTrail is arriving. Shown once Trailkeeper knows more than one account.
#[component]
fn Accounts(accounts: Vec<AccountOverview>, now: DateTime<Utc>) -> impl IntoView {
    (accounts.len() > 1).then(|| {
        let rows = accounts
            .into_iter()
            .map(|account| {
                let secrets = crate::pages::secrets::href(&SecretQuery {
                    account: Some(account.id.clone()),
                    ..SecretQuery::default()
                });
                let findings = findings_href(&FindingQuery {
                    account: Some(account.id.clone()),
                    ..FindingQuery::default()
                });
                let sync = match account.last_sync {
                    Some(at) => view! { <Timestamp at /> }.into_any(),
                    None => view! { <span class="muted">"never"</span> }.into_any(),
                };
                let trail = match account.newest_event {
                    Some(at) => {
                        let stale = (now - at > chrono::Duration::hours(24)).then_some("stale");
                        view! {
                            <span class=stale>"newest event " <Timestamp at /></span>
                        }
                        .into_any()
                    }
                    None => view! { <span class="error-text">"no CloudTrail events"</span> }
                        .into_any(),
                };
                view! {
                    <tr data-account=account.id.clone()>
                        <td>{account_label(&account.id, account.name.as_deref())}</td>
                        <td><a href=secrets data-testid="account-secrets">{account.secrets}</a></td>
                        <td data-testid="account-rotation">
                            {format!(
                                "{} healthy · {} need attention",
                                account.rotation_healthy,
                                account.rotation_problems,
                            )}
                        </td>
                        <td><a href=findings data-testid="account-findings">{account.open_findings}</a></td>
                        <td class="nowrap">
                            {sync}
                            {account
                                .sync_errors
                                .into_iter()
                                .map(|error| view! { <div class="error-text">{error}</div> })
                                .collect_view()}
                        </td>
                        <td class="nowrap" data-testid="account-trail">{trail}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="accounts-heading">
                <h2 id="accounts-heading">"Accounts"</h2>
                <table class="data" data-testid="accounts">
                    <ColumnHeads names=&[
                        "Account",
                        "Secrets",
                        "Rotation",
                        "Open findings",
                        "Last sync",
                        "CloudTrail",
                    ] />
                    <tbody>{rows}</tbody>
                </table>
            </section>
        }
    })
}

/// Whether CloudTrail records what detection needs where the secrets are: per account ×
/// region, what its logging trails record of Secrets Manager's reads and changes, its trails,
/// and its newest stored event. A region whose reads no trail records is a blind spot.
#[component]
fn Coverage(coverage: Vec<RegionCoverage>) -> impl IntoView {
    (!coverage.is_empty()).then(|| {
        let rows = coverage
            .into_iter()
            .map(|place| {
                let (reads, writes, trails) = match place.trails {
                    None => (
                        view! { <span class="muted">"not checked yet"</span> }.into_any(),
                        view! { <span class="muted">"not checked yet"</span> }.into_any(),
                        ().into_any(),
                    ),
                    Some(check) => {
                        let TrailCheck { reads, writes, error, trails, .. } = check;
                        let listed = trails
                            .into_iter()
                            .map(|trail| {
                                let mut notes = Vec::new();
                                if trail.organization {
                                    notes.push("organisation");
                                } else if trail.multi_region {
                                    notes.push("all regions");
                                }
                                if trail.logging == Some(false) {
                                    notes.push("stopped");
                                }
                                let notes = (!notes.is_empty())
                                    .then(|| format!(" ({})", notes.join(", ")));
                                view! {
                                    <div title=trail.arn>
                                        {trail.name}
                                        <span class=if trail.logging == Some(false) {
                                            "error-text"
                                        } else {
                                            "muted"
                                        }>{notes}</span>
                                    </div>
                                }
                            })
                            .collect_view();
                        (
                            logged(reads).into_any(),
                            logged(writes).into_any(),
                            view! {
                                {listed}
                                {error.map(|error| view! { <div class="error-text">{error}</div> })}
                            }
                                .into_any(),
                        )
                    }
                };
                view! {
                    <tr data-account=place.account_id.clone() data-region=place.region.clone()>
                        <td>{account_label(&place.account_id, place.account_name.as_deref())}</td>
                        <td>{place.region.clone()}</td>
                        <td>{place.secrets}</td>
                        <td data-testid="coverage-reads">{reads}</td>
                        <td data-testid="coverage-writes">{writes}</td>
                        <td data-testid="coverage-trails">{trails}</td>
                        <td class="nowrap">
                            {match place.newest_event {
                                Some(at) => view! { <Timestamp at /> }.into_any(),
                                None => view! { <span class="muted">"none"</span> }.into_any(),
                            }}
                        </td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="coverage-heading">
                <h2 id="coverage-heading">"Trail coverage"</h2>
                <p class="muted">
                    "What the trails logging in each account and region record of Secrets Manager: its reads are what detection watches."
                </p>
                <table class="data" data-testid="coverage">
                    <ColumnHeads names=&[
                        "Account",
                        "Region",
                        "Secrets",
                        "Reads logged",
                        "Changes logged",
                        "Trails",
                        "Newest event",
                    ] />
                    <tbody>{rows}</tbody>
                </table>
            </section>
        }
    })
}

/// How much a trail records, or that it could not be told.
fn logged(logged: Option<Logged>) -> impl IntoView {
    match logged {
        Some(Logged::All) => view! { <span>"all"</span> }.into_any(),
        Some(Logged::Partly) => view! { <span class="warning-text">"partly"</span> }.into_any(),
        Some(Logged::None) => view! { <span class="error-text">"none"</span> }.into_any(),
        None => view! { <span class="muted">"unknown"</span> }.into_any(),
    }
}

/// What needs a person first: active findings by severity (each a link to the queue so
/// filtered) and the most severe of them.
#[component]
fn Findings(findings: FindingsOverview) -> impl IntoView {
    let queue = |severities: Vec<Severity>| {
        findings_href(&FindingQuery {
            severities,
            ..FindingQuery::default()
        })
    };
    let chips = if findings.by_severity.is_empty() {
        view! { <p data-testid="no-findings">"No open findings."</p> }.into_any()
    } else {
        view! {
            <p class="severity-counts" data-testid="findings-by-severity">
                {findings
                    .by_severity
                    .into_iter()
                    .map(|(severity, count)| {
                        view! {
                            <a
                                class=format!("badge severity-{}", severity.as_str())
                                href=queue(vec![severity])
                                data-severity=severity.as_str()
                                data-count=count
                            >
                                {format!("{count} {}", severity.label())}
                            </a>
                        }
                    })
                    .collect_view()}
            </p>
        }
        .into_any()
    };
    let top = (!findings.top.is_empty()).then(|| view! { <FindingsTable findings=findings.top /> });
    view! {
        <section class="panel" aria-labelledby="findings-heading">
            <h2 id="findings-heading">
                <a href="/findings">"Open findings"</a>
            </h2>
            {chips}
            {top}
        </section>
    }
}

/// The inventory at a glance; each figure links to the list it counts.
#[component]
fn Inventory(inventory: InventoryOverview) -> impl IntoView {
    let InventoryOverview {
        secrets,
        by_status,
        flagged,
        last_syncs,
    } = inventory;
    let syncs = if last_syncs.is_empty() {
        view! { <p>"No sync has run yet."</p> }.into_any()
    } else {
        view! {
            <table class="data" data-testid="last-syncs">
                <ColumnHeads names=&["Region", "Started", "Outcome", "Secrets", "Errors", "Account"] />
                <tbody>
                    {last_syncs
                        .into_iter()
                        .map(|run| {
                            view! {
                                <tr>
                                    <td>{run.region}</td>
                                    <td class="nowrap">
                                        <Timestamp at=run.started_at />
                                    </td>
                                    <td>
                                        <span class=format!(
                                            "badge outcome-{}",
                                            run.outcome,
                                        )>{run.outcome.clone()}</span>
                                    </td>
                                    <td>{run.secrets_seen}</td>
                                    <td>
                                        {run
                                            .errors
                                            .into_iter()
                                            .map(|error| view! { <div class="error-text">{error}</div> })
                                            .collect_view()}
                                    </td>
                                    <td class="nowrap mono small">{run.account_id}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
            .into_any()
    };
    view! {
        <section class="panel" aria-labelledby="inventory-heading">
            <h2 id="inventory-heading">"Secrets"</h2>
            <p class="headline">
                <a href="/secrets" data-testid="secrets-count">
                    {format!("{secrets} secrets")}
                </a>
                " · "
                <a href="/secrets?flag=any" data-testid="flagged-count">
                    {format!("{flagged} flagged")}
                </a>
            </p>
            <ul class="status-counts" data-testid="status-counts">
                {by_status
                    .into_iter()
                    .map(|(status, count)| {
                        view! {
                            <li>
                                <a href=format!("/secrets?status={}", status.as_str())>
                                    <StatusBadge status />
                                    " "
                                    <strong>{count}</strong>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <h3>"Last sync"</h3>
            {syncs}
        </section>
    }
}

/// CloudTrail at a glance; each figure links to the events it counts.
#[component]
fn Events(events: EventsOverview, now: DateTime<Utc>, scoped: bool) -> impl IntoView {
    let explorer = |query: EventQuery| format!("/events?{}", query.to_query_string());
    let last_day = EventQuery {
        range: Some(TimeRange::LastDay),
        ..EventQuery::default()
    };
    let principals = if events.top_principals.is_empty() {
        view! { <p class="muted">"No events in the last 24 hours."</p> }.into_any()
    } else {
        view! {
            <ol class="top-principals" data-testid="top-principals">
                {events
                    .top_principals
                    .into_iter()
                    .map(|(principal, count)| {
                        let href = explorer(EventQuery {
                            principal: Some(principal.clone()),
                            ..last_day.clone()
                        });
                        view! {
                            <li>
                                <a href=href>{principal}</a>
                                " "
                                <span class="muted">{format!("{count} events")}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
        .into_any()
    };
    let lag = move |newest: Option<DateTime<Utc>>| match newest {
        None => "no events yet".to_string(),
        Some(newest) => {
            let behind = now - newest;
            if behind.num_days() > 0 {
                format!("{} days behind", behind.num_days())
            } else if behind.num_hours() > 0 {
                format!("{} hours behind", behind.num_hours())
            } else {
                format!("{} minutes behind", behind.num_minutes().max(0))
            }
        }
    };
    let sources = if events.polls.is_empty() && events.checkpoints.is_empty() {
        view! {
            <p class="muted">
                "No continuing source is configured (TRAILKEEPER_S3_TRAILS, TRAILKEEPER_SQS_QUEUE_URL,                  TRAILKEEPER_LOOKUP_INTERVAL); events come from trailkeeper ingest."
            </p>
        }
            .into_any()
    } else {
        view! {
            <table class="data" data-testid="ingest-sources">
                <ColumnHeads names=&["Source", "Last read", "Position", "Lag", "Quarantined", "Problem"] />
                <tbody>
                    {events
                        .polls
                        .into_iter()
                        .map(|poll| {
                            view! {
                                <tr>
                                    <td class="wrap">{poll.source}</td>
                                    <td class="nowrap"><Timestamp at=poll.polled_at /></td>
                                    <td class="muted">{format!("{} new events", poll.new_events)}</td>
                                    <td></td>
                                    <td></td>
                                    <td>{poll.error.map(|error| view! { <div class="error-text">{error}</div> })}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                    {events
                        .checkpoints
                        .into_iter()
                        .map(|checkpoint| {
                            view! {
                                <tr>
                                    <td class="wrap">{checkpoint.source}</td>
                                    <td class="nowrap"><Timestamp at=checkpoint.advanced_at /></td>
                                    <td class="wrap muted small">{checkpoint.position}</td>
                                    <td class="nowrap">{lag(checkpoint.newest_event_time)}</td>
                                    <td>{checkpoint.quarantined}</td>
                                    <td></td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
            .into_any()
    };
    view! {
        <section class="panel" aria-labelledby="events-heading">
            <h2 id="events-heading">"CloudTrail"</h2>
            <p class="headline">
                <a href=explorer(last_day.clone()) data-testid="events-last-day">
                    {format!("{} events in the last 24 hours", events.last_day)}
                </a>
                " · "
                <a href=explorer(EventQuery { error: Some(ErrorFilter::Any), ..last_day.clone() })>
                    {format!("{} failed", events.errors_last_day)}
                </a>
                {(!scoped)
                    .then(|| {
                        view! {
                            " · "
                            <span data-testid="quarantined-count">
                                {format!("{} quarantined", events.quarantined)}
                            </span>
                        }
                    })}
            </p>
            {events
                .newest_event
                .map(|at| view! { <p class="muted">"Newest event: " <Timestamp at /></p> })}
            {events
                .last_day_by_hour
                .map(|histogram| {
                    let narrow = Callback::new(move |(since, until): (DateTime<Utc>, DateTime<Utc>)| {
                        explorer(EventQuery {
                            since: Some(since),
                            until: Some(until),
                            ..EventQuery::default()
                        })
                    });
                    view! { <EventHistogram histogram href=narrow /> }
                })}
            <h3>"Busiest principals, last 24 hours"</h3>
            {principals}
            // Sources read every account's trail: for those who see all of it.
            {(!scoped).then(|| view! { <h3>"Sources"</h3> {sources} })}
        </section>
    }
}

/// Sizes as people read them: `7.6 MiB`.
fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_use_binary_units_with_one_decimal() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(7_969_177), "7.6 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
