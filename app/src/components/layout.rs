use leptos::prelude::*;
use leptos_router::components::A;

use super::time::DisplayZoneToggle;
use crate::access::{Identity, SECTIONS};
use crate::api::identity::current_identity;

/// The frame around every page: brand, the navigation the viewer's role may use, who is
/// signed in with a sign-out control, and display settings.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let identity = Resource::new(|| (), |_| current_identity());
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                "Trailkeeper"
            </a>
            <Suspense fallback=|| view! { <div class="spacer"></div> }>
                {move || Suspend::new(async move {
                    match identity.await.ok() {
                        Some(identity) => view! { <SignedIn identity /> }.into_any(),
                        None => view! { <div class="spacer"></div> }.into_any(),
                    }
                })}
            </Suspense>
            <DisplayZoneToggle />
        </header>
        <main>{children()}</main>
    }
}

#[component]
fn SignedIn(identity: Identity) -> impl IntoView {
    let role = identity.role;
    view! {
        <nav aria-label="Sections">
            <ul>
                {SECTIONS
                    .into_iter()
                    .filter(|section| role.includes(section.role))
                    .map(|section| {
                        view! {
                            <li>
                                <A href=section.path exact=true>
                                    {section.label}
                                </A>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
        // A plain form: signing out is a full page load, so no page stays in memory after it.
        <form class="account" method="post" action="/logout">
            <span class="who" data-testid="signed-in-as">
                {identity.name}
                " "
                <span class="role">{role.as_str()}</span>
            </span>
            <button type="submit" class="secondary">
                "Sign out"
            </button>
        </form>
    }
}
