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

/// A role as the store keeps it; the schema's CHECK makes anything else a corrupt row.
pub(crate) fn stored_role(text: &str) -> Result<Role, sqlx::Error> {
    text.parse()
        .map_err(|_| sqlx::Error::Decode(format!("unknown role {text:?}").into()))
}
