use leptos::prelude::*;
use leptos_router::components::A;

use super::time::DisplayZoneToggle;

const SECTIONS: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/secrets", "Secrets"),
    ("/events", "Events"),
    ("/findings", "Findings"),
    ("/alerts", "Alerts"),
    ("/settings", "Settings"),
];

/// The frame around every page: brand, navigation, display settings.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                "Trailkeeper"
            </a>
            <nav aria-label="Sections">
                <ul>
                    {SECTIONS
                        .into_iter()
                        .map(|(href, label)| {
                            view! {
                                <li>
                                    <A href=href exact=true>
                                        {label}
                                    </A>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <DisplayZoneToggle />
        </header>
        <main>{children()}</main>
    }
}
