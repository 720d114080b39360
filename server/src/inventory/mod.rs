//! The inventory: what AWS Secrets Manager holds about each secret, and what it means for
//! the people who look after it: how its rotation stands and whom its resource policy lets
//! in. Values are never part of it.

pub mod accounts;
pub mod assess;
pub mod changes;
pub mod grants;
pub mod labels;
pub mod policy;
pub mod read;
pub mod references;
pub mod status;
pub mod sync;
pub mod trails;
