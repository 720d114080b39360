use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::identity::sign_in_methods;

/// `/login`: a plain form posted to the server, which signs in and redirects (so it works
/// before, and without, the wasm bundle). Failures come back as a reason in the URL.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.with_untracked(|query| query.get(name));
    let next = param("next").unwrap_or_default();
    let methods = Resource::new(|| (), |_| sign_in_methods());
    let sso_href = if next.is_empty() {
        "/login/sso".to_string()
    } else {
        format!(
            "/login/sso?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &next)
                .finish()
        )
    };
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
            <Suspense>
                {move || {
                    let sso_href = sso_href.clone();
                    Suspend::new(async move {
                        methods
                            .await
                            .ok()
                            .filter(|methods| methods.single_sign_on)
                            .map(|_| {
                                view! {
                                    <p class="or">"or"</p>
                                    <a class="button" href=sso_href rel="external">
                                        "Sign in with single sign-on"
                                    </a>
                                }
                            })
                    })
                }}
            </Suspense>
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
        "sso-expired" => "The single sign-on took too long or was already used. Try again.".to_string(),
        "sso-no-role" => {
            "Your account at the identity provider has no Trailkeeper role. Ask an administrator for access.".to_string()
        }
        "sso-no-scope" => {
            "Your account at the identity provider is not mapped to any part of the estate here. Ask an administrator for access.".to_string()
        }
        "sso-disabled" => "Your Trailkeeper account is disabled.".to_string(),
        "sso-name" => {
            "Your account name at the identity provider cannot be used here. Ask an administrator.".to_string()
        }
        "sso-failed" => "Single sign-on failed. Try again, or ask an administrator.".to_string(),
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
