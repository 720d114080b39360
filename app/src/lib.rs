//! Trailkeeper's user interface: the HTML shell, the routes, the pages and the server
//! function declarations they call. Built twice: with `ssr` into the server binary and with
//! `hydrate` into the browser's wasm bundle.

pub mod access;
pub mod api;
mod components;
pub mod error;
mod pages;
mod roles;
pub mod scope;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

pub use error::AppError;
pub use roles::Role;

use components::layout::Layout;
#[cfg(feature = "hydrate")]
use components::time::show_timestamps_in_chosen_zone;
use pages::{
    alerts::AlertsPage, audit::AuditLogPage, changes::ChangesPage, event::EventPage,
    events::EventsPage, finding::FindingPage, findings::FindingsPage, login::LoginPage,
    not_found::NotFound, overview::OverviewPage, principal::PrincipalPage, secret::SecretPage,
    secrets::SecretsPage, settings::SettingsPage, users::UsersPage,
};

/// The document around every page; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The site's stylesheet link, for pages the server writes without the app: under the
/// hashed name a release build gives it.
#[cfg(feature = "ssr")]
pub fn stylesheet_link(options: LeptosOptions) -> String {
    view! { <HashedStylesheet options id="leptos" /> }.to_html()
}

/// Pages may run only our own code: the hydration script carries this response's nonce, and
/// nothing inline runs without it. Other responses get the server's stricter default.
#[cfg(feature = "ssr")]
fn set_page_security_policy() {
    use http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Title formatter=|page: String| format!("{page} · Trailkeeper") />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/") view=OverviewPage />
                    <Route path=path!("/audit") view=AuditLogPage />
                    <Route path=path!("/changes") view=ChangesPage />
                    <Route path=path!("/secrets") view=SecretsPage />
                    <Route path=path!("/secrets/*id") view=SecretPage />
                    <Route path=path!("/principals/*arn") view=PrincipalPage />
                    <Route path=path!("/events") view=EventsPage />
                    <Route path=path!("/events/:id") view=EventPage />
                    <Route path=path!("/findings") view=FindingsPage />
                    <Route path=path!("/findings/:id") view=FindingPage />
                    <Route path=path!("/alerts") view=AlertsPage />
                    <Route path=path!("/settings") view=SettingsPage />
                    <Route path=path!("/users") view=UsersPage />
                </Routes>
            </Layout>
        </Router>
    }
}

/// Entry point of the wasm bundle, run before the page's islands hydrate (each under the root
/// owner set here); from here on the page shows its timestamps in the viewer's zone.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    provide_meta_context();
    show_timestamps_in_chosen_zone();
}
