use leptos::prelude::*;

use super::time::Timestamp;
use crate::api::audit::AuditEntry;

/// Entries of Trailkeeper's own audit log, newest first: when, who, from where, what, and
/// how it ended.
#[component]
pub fn AuditTable(entries: Vec<AuditEntry>, testid: &'static str) -> impl IntoView {
    view! {
        <table class="data" data-testid=testid>
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Who"</th>
                    <th scope="col">"From"</th>
                    <th scope="col">"What"</th>
                    <th scope="col">"Outcome"</th>
                </tr>
            </thead>
            <tbody>
                {entries.into_iter().map(|entry| view! { <EntryRow entry /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn EntryRow(entry: AuditEntry) -> impl IntoView {
    let outcome_class = format!("badge outcome-{}", entry.outcome);
    view! {
        <tr>
            <td class="nowrap">
                <Timestamp at=entry.occurred_at />
            </td>
            <td>{entry.actor}</td>
            <td class="nowrap">{entry.address.unwrap_or_else(|| "—".into())}</td>
            <td>
                <code class="action">{entry.action}</code>
                " "
                {entry.summary}
            </td>
            <td>
                <span class=outcome_class>{entry.outcome}</span>
            </td>
        </tr>
    }
}
