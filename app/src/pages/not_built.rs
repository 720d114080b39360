use leptos::prelude::*;
use leptos_meta::Title;

/// Placeholder for a section whose capability has not been built yet; says so plainly.
#[component]
pub fn NotBuilt(title: &'static str, purpose: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <h1>{title}</h1>
        <section class="panel not-built">
            <p>
                <strong>"This page is not built yet."</strong>
            </p>
            <p>"When it is, it will show " {purpose} "."</p>
        </section>
    }
}
