//! Who is asking: local users and their passwords.

pub mod password;
pub mod users;
