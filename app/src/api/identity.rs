use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::access::Identity;
use crate::{AppError, Role};

/// Who the browser is signed in as; an error for nobody (the sign-in page shows no
/// navigation then).
#[server(endpoint = "current_identity")]
pub async fn current_identity() -> Result<Identity, AppError> {
    super::authorize::<CurrentIdentity>()?;
    super::identity().ok_or_else(|| AppError::Unauthorized("sign in required".into()))
}

/// Whether the person a page is rendered for holds at least `role`, known at once on the
/// server (pages are rendered only there; islands do not ask it), so a page sends its island
/// in its first part, never in a later streamed one the browser might not hydrate.
pub fn page_for(role: Role) -> bool {
    #[cfg(feature = "ssr")]
    return super::identity().is_some_and(|identity| identity.role.includes(role));
    #[cfg(not(feature = "ssr"))]
    {
        let _ = role;
        false
    }
}

/// Whether the person signed in may change secrets in AWS: an admin, with administration on.
#[cfg(feature = "ssr")]
pub(crate) fn offers_changes() -> Result<bool, AppError> {
    let backend = super::backend_for::<super::admin::MayChangeSecrets>()?;
    let who = super::caller()?;
    Ok(who.identity.role.includes(Role::Admin) && backend.administration_offered())
}

/// [`offers_changes`] for the page the server is rendering, known at once like [`page_for`].
pub fn page_offers_changes() -> bool {
    #[cfg(feature = "ssr")]
    return offers_changes().unwrap_or(false);
    #[cfg(not(feature = "ssr"))]
    false
}

/// Whether the person signed in holds at least `role`: what a page offers them to do (the
/// server checks again when they do it).
pub fn holds_role(role: Role) -> Resource<bool> {
    Resource::new(
        || (),
        move |_| async move {
            current_identity()
                .await
                .is_ok_and(|identity| identity.role.includes(role))
        },
    )
}

/// How people can sign in here, for the sign-in page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMethods {
    /// An OpenID Connect provider is configured.
    pub single_sign_on: bool,
}

#[server(name = SignInMethodsFn, endpoint = "sign_in_methods")]
pub async fn sign_in_methods() -> Result<SignInMethods, AppError> {
    super::backend_for::<SignInMethodsFn>()?
        .sign_in_methods()
        .await
}
