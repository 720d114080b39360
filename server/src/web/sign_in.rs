//! `POST /login` and `POST /logout`: plain form posts answered with redirects, so signing in
//! and out are full page loads that work before (and without) the wasm bundle.

use axum::Form;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use trailkeeper_app::access::Identity;

use super::AppState;
use super::access::ClientAddress;
use crate::auth::sign_in::{self, Attempt, SignInError};

#[derive(Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    /// Where to go after signing in: a path on this server.
    #[serde(default)]
    next: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let settings = &state.auth;
    end_previous_session(&state, &headers).await;
    let attempt = Attempt {
        name: &form.username,
        password: &form.password,
        address: &address,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|agent| agent.to_str().ok()),
    };
    let next = local_path(&form.next);
    match sign_in::sign_in(&state.pool, attempt, settings.sessions, settings.limits).await {
        Ok((_, session)) => (
            [(header::SET_COOKIE, settings.session_cookie(session.secret))],
            Redirect::to(next),
        )
            .into_response(),
        Err(error) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            match &error {
                SignInError::Invalid => {
                    query.append_pair("reason", "invalid");
                }
                SignInError::Throttled { retry_after } => {
                    let minutes = retry_after.as_secs().div_ceil(60).max(1);
                    query
                        .append_pair("reason", "throttled")
                        .append_pair("retry", &minutes.to_string());
                }
                SignInError::Store(cause) => {
                    tracing::error!(error = ?cause, "sign-in failed in the store");
                    query.append_pair("reason", "unavailable");
                }
            }
            if next != "/" {
                query.append_pair("next", next);
            }
            Redirect::to(&format!("/login?{}", query.finish())).into_response()
        }
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    identity: Option<Extension<Identity>>,
    headers: HeaderMap,
) -> Response {
    let settings = &state.auth;
    let session = settings.session_secret(&headers).zip(identity);
    if let Some((secret, Extension(identity))) = session
        && let Err(error) = sign_in::sign_out(&state.pool, &secret, &identity.name, &address).await
    {
        tracing::error!(error = ?error, "could not end the session at sign-out");
    }
    (
        [
            (header::SET_COOKIE, settings.removal_cookie()),
            // Pages the browser kept must not be shown from its cache after signing out.
            (
                header::HeaderName::from_static("clear-site-data"),
                HeaderValue::from_static("\"cache\""),
            ),
        ],
        Redirect::to("/login?reason=signed-out"),
    )
        .into_response()
}

/// A new session id at every sign-in: whatever session the browser had ends now.
pub(super) async fn end_previous_session(state: &AppState, headers: &HeaderMap) {
    if let Some(previous) = state.auth.session_secret(headers)
        && let Err(error) = crate::auth::sessions::revoke(&state.pool, &previous).await
    {
        tracing::error!(error = ?error, "could not end the previous session");
    }
}

/// `next` if it is a path on this server, else the overview: a sign-in link must not send
/// people to another site.
pub(super) fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    if local { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/audit?actor=alice"), "/audit?actor=alice");
        for hostile in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "",
            "audit",
            "/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(local_path(hostile), "/", "{hostile:?}");
        }
    }
}
