use leptos::prelude::*;
use leptos_router::components::A;

use super::time::DisplayZoneToggle;
use crate::access::{Decision, Identity, SECTIONS, decide};
use crate::api::identity::current_identity;

/// The frame around every page: brand, the navigation the viewer's role may use, who is
/// signed in with a sign-out control, and display settings. On a narrow screen all but the
/// brand fold into a menu that opens from a button and closes when a section is chosen.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let identity = Resource::new(|| (), |_| current_identity());
    let menu_open = RwSignal::new(false);
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                "Trailkeeper"
            </a>
            <button
                type="button"
                class="menu-toggle secondary"
                aria-controls="site-menu"
                aria-expanded=move || menu_open.get().to_string()
                on:click=move |_| menu_open.update(|open| *open = !*open)
            >
                "Menu"
            </button>
            <div id="site-menu" class="site-menu" class:open=move || menu_open.get()>
                <Suspense fallback=|| view! { <div class="spacer"></div> }>
                    {move || Suspend::new(async move {
                        match identity.await.ok() {
                            Some(identity) => view! { <SignedIn identity menu_open /> }.into_any(),
                            None => view! { <div class="spacer"></div> }.into_any(),
                        }
                    })}
                </Suspense>
                <DisplayZoneToggle />
            </div>
        </header>
        <main>{children()}</main>
    }
}

/// The sections and the account; following a link closes the menu it was opened from.
#[component]
fn SignedIn(identity: Identity, menu_open: RwSignal<bool>) -> impl IntoView {
    let role = identity.role;
    view! {
        <nav aria-label="Sections">
            <ul>
                {SECTIONS
                    .into_iter()
                    .filter(|section| decide(section.access, Some(&identity)) == Decision::Allow)
                    .map(|section| {
                        view! {
                            <li on:click=move |_| menu_open.set(false)>
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
                {identity
                    .scope
                    .map(|scope| {
                        view! {
                            " "
                            <span
                                class="scope"
                                data-testid="signed-in-scope"
                                title="What you may see: these accounts, tags and name prefixes"
                            >
                                {scope.to_string()}
                            </span>
                        }
                    })}
            </span>
            <button type="submit" class="secondary">
                "Sign out"
            </button>
        </form>
    }
}
