use leptos::prelude::*;

use crate::AppError;

/// What a page action came to: the server's answer when it succeeded (when `done` says what
/// to tell), or why it was refused. Nothing until the action has run.
#[component]
pub fn ActionOutcome<T>(
    #[prop(into)] value: Signal<Option<Result<T, AppError>>>,
    /// What to say when it succeeded; without it, success says nothing.
    #[prop(optional, into)]
    done: Option<Callback<T, String>>,
    testid: &'static str,
    /// The refusal's own test id, where it differs from `testid`.
    #[prop(optional)]
    refused_testid: Option<&'static str>,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    move || match value.get()? {
        Ok(answer) => {
            let said = done?.run(answer);
            Some(view! { <p class="notice" role="status" data-testid=testid>{said}</p> }.into_any())
        }
        Err(error) => {
            let testid = refused_testid.unwrap_or(testid);
            Some(
                view! { <p class="error" role="alert" data-testid=testid>{error.to_string()}</p> }
                    .into_any(),
            )
        }
    }
}
