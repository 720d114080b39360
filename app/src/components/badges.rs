//! The rotation status and flags of a secret, and findings' severities and statuses, drawn
//! the same way on every page.

use leptos::prelude::*;

use crate::api::findings::{FindingStatus, Severity};
use crate::api::secrets::{RotationStatus, SecretFlag};

#[component]
pub fn SeverityBadge(severity: Severity) -> impl IntoView {
    view! {
        <span class=format!("badge severity-{}", severity.as_str()) data-severity=severity.as_str()>
            {severity.label()}
        </span>
    }
}

#[component]
pub fn FindingStatusBadge(status: FindingStatus) -> impl IntoView {
    view! {
        <span class=format!("badge finding-{}", status.as_str()) data-finding-status=status.as_str()>
            {status.as_str()}
        </span>
    }
}

/// A secret's active findings: how many, coloured by the most severe, linking to them;
/// nothing when it has none.
#[component]
pub fn FindingsBadge(secret: crate::api::secrets::SecretSummary) -> impl IntoView {
    let (count, worst) = (secret.active_findings, secret.worst_finding?);
    let href = format!(
        "/findings?{}",
        crate::api::findings::FindingQuery {
            secret: Some(secret.arn.clone()),
            ..Default::default()
        }
        .to_query_string()
    );
    let noun = if count == 1 { "finding" } else { "findings" };
    Some(view! {
        <a
            class=format!("badge severity-{}", worst.as_str())
            href=href
            data-testid="findings-badge"
            data-count=count
            title=format!("{count} active {noun}, the most severe {}", worst.as_str())
        >
            {format!("{count} {noun}")}
        </a>
    })
}

/// The status as a coloured badge; the reason, when given, is its tooltip.
#[component]
pub fn StatusBadge(
    status: RotationStatus,
    #[prop(optional)] reason: Option<String>,
) -> impl IntoView {
    view! {
        <span class=format!("badge status-{}", status.as_str()) title=reason data-status=status.as_str()>
            {status.label()}
        </span>
    }
}

#[component]
pub fn FlagBadges(flags: Vec<SecretFlag>) -> impl IntoView {
    flags
        .into_iter()
        .map(|flag| {
            view! {
                <span class=format!("badge flag flag-{}", flag.as_str()) data-flag=flag.as_str()>
                    {flag.label()}
                </span>
            }
        })
        .collect_view()
}
