use serde::{Deserialize, Serialize};

/// How a secret's rotation stands, computed in one place on the server and shown the same
/// way everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStatus {
    /// Rotation is not enabled.
    Disabled,
    /// Rotation is enabled and has never run.
    NeverRotated,
    /// Rotated on schedule, next rotation more than a day away.
    Healthy,
    /// The next rotation is within a day.
    DueSoon,
    /// The next rotation date has passed, or the last rotation is older than the interval.
    Overdue,
    /// A rotation started and did not finish: `AWSPENDING` sits on a version that is not
    /// `AWSCURRENT` for longer than the grace period.
    Stuck,
}

/// A resource policy statement that opens a secret beyond its own account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFlag {
    /// The statement's `Sid` in quotes, or `#N` for the N-th statement without one.
    pub statement: String,
    pub exposure: PolicyExposure,
    /// One sentence naming the statement, whom it lets in, to do what.
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PolicyExposure {
    /// Anyone: `"Principal": "*"` (or `NotPrincipal`) without a narrowing condition.
    Public,
    /// Principals of these other accounts.
    CrossAccount { accounts: Vec<String> },
}
