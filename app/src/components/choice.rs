use leptos::prelude::*;

/// A select whose first option, "any", leaves the filter off.
#[component]
pub fn Choice(
    label: &'static str,
    name: &'static str,
    selected: String,
    options: Vec<(String, String)>,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <select name=name>
                <option value="" selected=selected.is_empty()>
                    "any"
                </option>
                {options
                    .into_iter()
                    .map(|(value, text)| {
                        let chosen = value == selected;
                        view! {
                            <option value=value selected=chosen>
                                {text}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}
