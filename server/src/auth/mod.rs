//! Who is asking: local users and their passwords, browser sessions, API tokens, and
//! signing in, with a password or through single sign-on.

pub mod oidc;
pub mod password;
pub mod secret;
pub mod sessions;
pub mod sign_in;
pub mod tokens;
pub mod users;

use trailkeeper_app::Role;
use trailkeeper_app::scope::Scope;

/// A scope as the store keeps it (its terms; NULL: unscoped). Terms that no longer read are
/// a corrupt row, refused rather than read as no limit.
pub(crate) fn stored_scope(terms: Option<Vec<String>>) -> Result<Option<Scope>, sqlx::Error> {
    let Some(terms) = terms else {
        return Ok(None);
    };
    let scope = Scope::from_terms(&terms)
        .map_err(|error| sqlx::Error::Decode(format!("stored scope: {error}").into()))?;
    Ok(scope.limit())
}

/// A role as the store keeps it; the schema's CHECK makes anything else a corrupt row.
pub(crate) fn stored_role(text: &str) -> Result<Role, sqlx::Error> {
    text.parse()
        .map_err(|_| sqlx::Error::Decode(format!("unknown role {text:?}").into()))
}
