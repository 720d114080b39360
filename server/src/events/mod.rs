//! The stored CloudTrail events, read: the explorer's and the API's queries, and exports.

pub mod export;
pub mod read;
pub mod rotations;
