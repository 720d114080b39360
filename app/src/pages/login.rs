use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// `/login`: a plain form posted to the server, which signs in and redirects (so it works
/// before, and without, the wasm bundle). Failures come back as a reason in the URL.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.with_untracked(|query| query.get(name));
    let next = param("next").unwrap_or_default();
    let notice = notice(
        param("reason").as_deref(),
        param("retry").and_then(|retry| retry.parse::<u64>().ok()),
    );

    view! {
        <Title text="Sign in" />
        <section class="panel sign-in">
            <h1>"Sign in"</h1>
            {notice
                .map(|(class, text)| {
                    view! {
                        <p class=class role="alert" data-testid="sign-in-notice">
                            {text}
                        </p>
                    }
                })}
            <form method="post" action="/login">
                <input type="hidden" name="next" value=next />
                <label>
                    "User name"
                    <input
                        type="text"
                        name="username"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        required
                        autofocus
                    />
                </label>
                <label>
                    "Password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                    />
                </label>
                <button type="submit" class="primary">
                    "Sign in"
                </button>
            </form>
        </section>
    }
}

/// What the page says for the reason the server put in the URL.
fn notice(reason: Option<&str>, retry_minutes: Option<u64>) -> Option<(&'static str, String)> {
    let text = match reason? {
        "invalid" => "The user name or password is wrong.".to_string(),
        "throttled" => format!(
            "Too many failed sign-ins. Try again in {} minute(s).",
            retry_minutes.unwrap_or(15).max(1)
        ),
        "signed-out" => return Some(("notice", "You have signed out.".to_string())),
        "expired" => "Your session has ended. Sign in again.".to_string(),
        _ => "Signing in failed. Try again.".to_string(),
    };
    Some(("notice error", text))
}

#[cfg(test)]
mod tests {
    use super::notice;

    #[test]
    fn failures_are_explained_without_saying_which_field_was_wrong() {
        let (_, text) = notice(Some("invalid"), None).unwrap();
        assert_eq!(text, "The user name or password is wrong.");
        let (_, text) = notice(Some("throttled"), Some(7)).unwrap();
        assert_eq!(text, "Too many failed sign-ins. Try again in 7 minute(s).");
        assert_eq!(notice(None, None), None);
    }
}
