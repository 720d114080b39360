//! The rotation status and flags of a secret, drawn the same way on every page.

use leptos::prelude::*;

use crate::api::secrets::{RotationStatus, SecretFlag};

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
