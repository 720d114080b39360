//! Whether a rotation landed: for each of a secret's recent rotations, who read the secret in
//! the days before it and after it, and what each consumer did once the value changed.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// One rotation, from `RotationStarted` to its end, and its consumers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RotationImpact {
    /// `None` when the trail holds the end but not the start.
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub outcome: RotationOutcome,
    /// AWS's message when it failed.
    pub message: Option<String>,
    /// The version `AWSCURRENT` moved to, and the one it left (now `AWSPREVIOUS`).
    pub new_version: Option<String>,
    pub superseded_version: Option<String>,
    /// The reads compared: from `before_since` to the start, and from the end to `after_until`
    /// (the next rotation or now, at most the same number of days).
    pub before_since: DateTime<Utc>,
    pub after_until: DateTime<Utc>,
    /// Consumers needing attention first.
    pub consumers: Vec<RotationConsumer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RotationOutcome {
    Succeeded,
    Failed,
    Abandoned,
}

impl RotationOutcome {
    pub fn parse_event(name: &str) -> Option<RotationOutcome> {
        match name {
            "RotationSucceeded" => Some(RotationOutcome::Succeeded),
            "RotationFailed" => Some(RotationOutcome::Failed),
            "RotationAbandoned" => Some(RotationOutcome::Abandoned),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RotationOutcome::Succeeded => "succeeded",
            RotationOutcome::Failed => "failed",
            RotationOutcome::Abandoned => "abandoned",
        }
    }
}

/// One principal's value reads around a rotation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RotationConsumer {
    pub principal: String,
    /// Successful reads before the rotation.
    pub reads_before: i64,
    /// Successful reads after it, of the current value.
    pub current_reads_after: i64,
    /// Reads after it that asked for `AWSPREVIOUS` or for the superseded version's ID.
    pub stale_reads_after: i64,
    /// Refused or failed reads after it.
    pub failures_after: i64,
    pub error_codes_after: Vec<String>,
    /// Its last read of any kind in the two periods.
    pub last_read_at: DateTime<Utc>,
    pub verdict: ConsumerVerdict,
}

/// What a consumer did once the value changed, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsumerVerdict {
    /// Still asks for the old version.
    StaleVersion,
    /// Failing since the rotation, without one good read.
    Failing,
    /// Read before, not since: it may hold the old value in a cache that breaks at its next
    /// restart.
    StoppedReading,
    /// Reads the new value.
    MovedOn,
    /// Began reading after the rotation.
    New,
}

impl ConsumerVerdict {
    /// The verdict on counts of reads around one rotation.
    pub fn of(
        reads_before: i64,
        current_reads_after: i64,
        stale_reads_after: i64,
        failures_after: i64,
    ) -> ConsumerVerdict {
        if stale_reads_after > 0 {
            ConsumerVerdict::StaleVersion
        } else if current_reads_after > 0 {
            if reads_before > 0 {
                ConsumerVerdict::MovedOn
            } else {
                ConsumerVerdict::New
            }
        } else if failures_after > 0 {
            ConsumerVerdict::Failing
        } else {
            ConsumerVerdict::StoppedReading
        }
    }

    /// Worth a look.
    pub fn is_concern(self) -> bool {
        matches!(
            self,
            ConsumerVerdict::StaleVersion
                | ConsumerVerdict::Failing
                | ConsumerVerdict::StoppedReading
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            ConsumerVerdict::StaleVersion => "reads the old version",
            ConsumerVerdict::Failing => "failing since",
            ConsumerVerdict::StoppedReading => "stopped reading",
            ConsumerVerdict::MovedOn => "moved on",
            ConsumerVerdict::New => "new reader",
        }
    }
}

/// The recent rotations of the secret with this ARN, newest first.
#[server(endpoint = "secret_rotations")]
pub async fn secret_rotations(
    #[server(default)] secret_arn: String,
) -> Result<Vec<RotationImpact>, AppError> {
    super::backend_for::<SecretRotations>()?
        .rotation_impact(secret_arn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_is_judged_by_what_it_read_after_the_rotation() {
        use ConsumerVerdict::*;
        assert_eq!(ConsumerVerdict::of(40, 38, 2, 0), StaleVersion);
        assert_eq!(ConsumerVerdict::of(40, 38, 0, 5), MovedOn);
        assert_eq!(ConsumerVerdict::of(0, 3, 0, 0), New);
        assert_eq!(ConsumerVerdict::of(40, 0, 0, 9), Failing);
        assert_eq!(ConsumerVerdict::of(40, 0, 0, 0), StoppedReading);
        assert!(StoppedReading.is_concern() && !MovedOn.is_concern());
    }
}
