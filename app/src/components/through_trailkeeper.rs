//! Who made a change through Trailkeeper: CloudTrail names Trailkeeper's shared AWS role for
//! it; the audit log knows the person and why.

use leptos::prelude::*;

use crate::api::admin::TrailkeeperChange;

#[component]
pub fn ThroughTrailkeeper(change: TrailkeeperChange) -> impl IntoView {
    view! {
        <span class="through-trailkeeper" data-testid="through-trailkeeper">
            "made by "
            <strong>{change.person}</strong>
            " through Trailkeeper: "
            {change.reason}
        </span>
    }
}
