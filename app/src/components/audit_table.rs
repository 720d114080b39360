use leptos::prelude::*;

use super::column_heads::ColumnHeads;
use super::time::Timestamp;
use crate::api::audit::AuditEntry;

/// Entries of Trailkeeper's own audit log, newest first: when, who, from where, what, and
/// how it ended.
#[component]
pub fn AuditTable(entries: Vec<AuditEntry>, testid: &'static str) -> impl IntoView {
    view! {
        <table class="data" data-testid=testid>
            <ColumnHeads names=&["When", "Who", "From", "What", "Outcome"] />
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
