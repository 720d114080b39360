use leptos::prelude::*;

use crate::AppError;

/// Says plainly that a page's data could not be loaded, and why; the server keeps internals
/// (SQL, paths) out of the message.
#[component]
pub fn LoadFailed(what: &'static str, error: AppError) -> impl IntoView {
    view! {
        <section class="panel error" role="alert">
            <h2>{format!("The {what} could not be loaded")}</h2>
            <p>{error.to_string()}</p>
        </section>
    }
}
