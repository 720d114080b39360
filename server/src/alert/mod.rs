//! Alerting, the pipeline's last stage: findings → outbox (written by the database in the
//! transaction that opened or escalated a finding) → routing rules → deliveries → channels.
//! Delivery is at-least-once and survives dead receivers and restarts; every message carries
//! a stable delivery id so receivers can drop repeats.

pub mod channels;
pub mod deliver;
pub mod log;
pub mod message;
pub mod route;
pub mod sealing;
pub mod setup;

pub use deliver::{Alerting, DeliverySettings};

/// The channel the outbox's trigger notifies.
pub const WAKE_CHANNEL: &str = "trailkeeper_alerts";
