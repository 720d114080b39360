pub mod not_built;
pub mod not_found;
pub mod overview;
