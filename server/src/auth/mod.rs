//! Who is asking: local users and their passwords, browser sessions, API tokens, and
//! signing in, with a password or through single sign-on.

pub mod oidc;
pub mod password;
pub mod secret;
pub mod sessions;
pub mod sign_in;
pub mod tokens;
pub mod users;
