use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }

    view! {
        <Title text="Not found" />
        <h1>"Not found"</h1>
        <section class="panel">
            <p>"There is no page at this address."</p>
            <p>
                <A href="/">"Go to the overview"</A>
            </p>
        </section>
    }
}
