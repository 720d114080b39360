pub mod audit;
pub mod login;
pub mod not_built;
pub mod not_found;
pub mod overview;
pub mod secret;
pub mod secrets;
