use leptos::prelude::*;
use leptos_router::components::A;

use super::time::DisplayZoneToggle;
use crate::access::{Decision, Identity, SECTIONS, decide};
use crate::api::identity::current_identity;

/// The frame around every page: brand, the navigation the viewer's role may use, who is
/// signed in with a sign-out control, and display settings. On a narrow screen all but the
/// brand fold into a menu that opens from a button; following a link loads the next page
/// with the menu folded again.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let identity = Resource::new(|| (), |_| current_identity());
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                "Trailkeeper"
            </a>
            <SiteMenu>
                <Suspense fallback=|| view! { <div class="spacer"></div> }>
                    {move || Suspend::new(async move {
                        match identity.await.ok() {
                            Some(identity) => view! { <SignedIn identity /> }.into_any(),
                            None => view! { <div class="spacer"></div> }.into_any(),
                        }
                    })}
                </Suspense>
                <DisplayZoneToggle />
            </SiteMenu>
        </header>
        <main>{children()}</main>
    }
}

/// The button that unfolds the menu on a narrow screen, around the menu itself.
#[island]
fn SiteMenu(children: Children) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button
            type="button"
            class="menu-toggle secondary"
            aria-controls="site-menu"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|open| *open = !*open)
        >
            "Menu"
        </button>
        <div id="site-menu" class="site-menu" class:open=move || open.get()>
            {children()}
        </div>
    }
}

/// The sections and the account.
#[component]
fn SignedIn(identity: Identity) -> impl IntoView {
    let role = identity.role;
    view! {
        <nav aria-label="Sections">
            <ul>
                {SECTIONS
                    .into_iter()
                    .filter(|section| decide(section.access, Some(&identity)) == Decision::Allow)
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
