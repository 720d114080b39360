use leptos::prelude::*;

/// A table's header row: one column heading per name, in order.
#[component]
pub fn ColumnHeads(names: &'static [&'static str]) -> impl IntoView {
    view! {
        <thead>
            <tr>{names.iter().map(|name| view! { <th scope="col">{*name}</th> }).collect_view()}</tr>
        </thead>
    }
}
