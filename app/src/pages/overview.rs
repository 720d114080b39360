use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::overview::{InventoryOverview, Overview, get_overview};
use crate::components::audit_table::AuditTable;
use crate::components::badges::StatusBadge;
use crate::components::column_heads::ColumnHeads;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());

    view! {
        <Title text="Overview" />
        <div class="page-head">
            <h1>"Overview"</h1>
            <button type="button" class="secondary" on:click=move |_| overview.refetch()>
                "Refresh"
            </button>
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
        database,
        aws,
        inventory,
        recent_activity,
        generated_at,
    } = overview;
    view! {
        <Inventory inventory />
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
                <ColumnHeads names=&["Region", "Started", "Outcome", "Secrets", "Errors"] />
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
