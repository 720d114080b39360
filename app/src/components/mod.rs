pub mod audit_table;
pub mod layout;
pub mod load_failed;
pub mod time;
