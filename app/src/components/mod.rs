pub mod audit_table;
pub mod badges;
pub mod column_heads;
pub mod histogram;
pub mod layout;
pub mod load_failed;
pub mod time;
pub mod version_timeline;
