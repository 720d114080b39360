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
use trailkeeper_app::AppError;

/// The channel the outbox's trigger notifies.
pub const WAKE_CHANNEL: &str = "trailkeeper_alerts";

/// Why a change to alerting was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Key(#[from] sealing::KeyError),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

impl From<SetupError> for AppError {
    fn from(error: SetupError) -> AppError {
        match error {
            SetupError::NotFound(message) => AppError::NotFound(message),
            SetupError::Invalid(message) => AppError::invalid(message),
            SetupError::Conflict(message) => AppError::Conflict(message),
            SetupError::Key(error) => AppError::internal("opening alert channel secrets", error),
            SetupError::Store(error) => AppError::store(error),
        }
    }
}
