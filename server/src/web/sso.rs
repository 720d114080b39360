//! `GET /login/sso` and `GET /login/sso/callback`: single sign-on through the configured
//! OpenID Connect provider. Failures come back to the sign-in page as a fixed reason code;
//! the details go to the log and the audit log.

use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AppState;
use super::access::ClientAddress;
use super::sign_in::{end_previous_session, local_path};
use crate::auth::oidc::Returned;

#[derive(Deserialize)]
pub struct Begin {
    #[serde(default)]
    next: String,
}

pub async fn begin(State(state): State<AppState>, Query(begin): Query<Begin>) -> Response {
    let Some(sso) = &state.sso else {
        return Redirect::to("/login").into_response();
    };
    // The sign-in is bound to this browser: the callback must come with this cookie.
    let (browser, _) = crate::auth::secret::generate("tkb_");
    match sso
        .begin(&state.pool, local_path(&begin.next), &browser)
        .await
    {
        Ok(provider) => (
            [(header::SET_COOKIE, state.auth.sso_cookie(browser))],
            Redirect::to(&provider),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "single sign-on could not start");
            Redirect::to(&format!("/login?reason={}", error.reason())).into_response()
        }
    }
}

/// What the provider sends back: a code and the state, or an error.
#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(sso) = &state.sso else {
        return Redirect::to("/login").into_response();
    };
    let (Some(code), Some(sso_state)) = (callback.code, callback.state) else {
        tracing::warn!(
            error = callback.error.as_deref().unwrap_or("no code"),
            description = callback.error_description.as_deref().unwrap_or(""),
            "the identity provider sent the browser back without a sign-in"
        );
        return Redirect::to("/login?reason=sso-failed").into_response();
    };
    let settings = &state.auth;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok());
    match sso
        .complete(
            &state.pool,
            Returned {
                code: &code,
                state: &sso_state,
                browser: settings.sso_browser(&headers).as_deref(),
            },
            settings.sessions,
            &address,
            user_agent,
        )
        .await
    {
        Ok((_, session, next)) => {
            // Only now that this browser has signed in anew does its old session end.
            end_previous_session(&state, &headers).await;
            (
                AppendHeaders([
                    (header::SET_COOKIE, settings.session_cookie(session.secret)),
                    (header::SET_COOKIE, settings.sso_removal_cookie()),
                ]),
                Redirect::to(local_path(&next)),
            )
                .into_response()
        }
        Err(error) => {
            tracing::warn!(%error, %address, "single sign-on failed");
            Redirect::to(&format!("/login?reason={}", error.reason())).into_response()
        }
    }
}
