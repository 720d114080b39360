//! Detection's thresholds: defaults from the references each detector follows, changed by
//! admins at run time (stored in `settings` as the `detection` area). A setting left out of
//! the stored document keeps its default, so new settings need no migration.

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

const AREA: &str = "detection";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionSettings {
    /// Detect as events are ingested. Off, events are stored and a backfill detects later.
    pub live: bool,
    /// Behaviour detectors learn for this many days of an account's (and a principal's)
    /// event history before they judge it.
    pub learning_days: i64,
    /// A network or client not used for this many days is unfamiliar again.
    pub unfamiliar_after_days: i64,
    /// A read spike compares an hour with the same hour of the week over this many weeks…
    pub spike_baseline_weeks: i64,
    /// …once this many days of the principal's reads of the secret exist…
    pub spike_history_days: i64,
    /// …and fires above the largest of mean + this many standard deviations,
    pub spike_sigmas: f64,
    /// this many times the mean,
    pub spike_factor: f64,
    /// and this many reads.
    pub spike_minimum_reads: i64,
    /// Bulk retrieval: this many distinct secrets read by one principal…
    pub bulk_secrets: i64,
    /// …within this many minutes.
    pub bulk_window_minutes: i64,
    /// After `ListSecrets`: more than this many distinct secrets read…
    pub list_then_read_secrets: i64,
    /// …within this many minutes.
    pub list_then_read_minutes: i64,
    /// `BatchGetSecretValue` calls by one principal in a day that make a finding.
    pub batch_calls_per_day: i64,
    /// Refused reads by one principal…
    pub denied_reads: i64,
    /// …within this many minutes.
    pub denied_window_minutes: i64,
    /// A person's usual hours: the hours of the week they were active in over this many days.
    pub usual_hours_days: i64,
    /// A secret never rotated (or not for this many days), with rotation off, is neglected.
    pub rotation_max_age_days: i64,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        DetectionSettings {
            live: true,
            learning_days: 5,
            unfamiliar_after_days: 14,
            spike_baseline_weeks: 4,
            spike_history_days: 14,
            spike_sigmas: 6.0,
            spike_factor: 10.0,
            spike_minimum_reads: 50,
            bulk_secrets: 20,
            bulk_window_minutes: 6,
            list_then_read_secrets: 5,
            list_then_read_minutes: 10,
            batch_calls_per_day: 5,
            denied_reads: 20,
            denied_window_minutes: 60,
            usual_hours_days: 28,
            rotation_max_age_days: 90,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl DetectionSettings {
    /// The stored settings, or the defaults when none were saved.
    pub async fn load(db: impl PgExecutor<'_>) -> Result<DetectionSettings, SettingsError> {
        let stored: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT value FROM settings WHERE area = $1")
                .bind(AREA)
                .fetch_optional(db)
                .await?;
        match stored {
            None => Ok(DetectionSettings::default()),
            Some(value) => serde_json::from_value(value).map_err(|error| {
                SettingsError::Invalid(format!("the stored detection settings: {error}"))
            }),
        }
    }

    pub async fn save(&self, db: impl PgExecutor<'_>, by: &str) -> Result<(), SettingsError> {
        self.validate()?;
        sqlx::query(
            "INSERT INTO settings (area, value, updated_by) VALUES ($1, $2, $3) \
             ON CONFLICT (area) DO UPDATE SET value = EXCLUDED.value, \
                 updated_by = EXCLUDED.updated_by, updated_at = now()",
        )
        .bind(AREA)
        .bind(serde_json::to_value(self).expect("settings serialise"))
        .bind(by)
        .execute(db)
        .await?;
        Ok(())
    }

    /// Every count, span and factor must be positive (a zero window or threshold would make
    /// every event a finding or none).
    pub fn validate(&self) -> Result<(), SettingsError> {
        let whole = [
            ("learning_days", self.learning_days),
            ("unfamiliar_after_days", self.unfamiliar_after_days),
            ("spike_baseline_weeks", self.spike_baseline_weeks),
            ("spike_history_days", self.spike_history_days),
            ("spike_minimum_reads", self.spike_minimum_reads),
            ("bulk_secrets", self.bulk_secrets),
            ("bulk_window_minutes", self.bulk_window_minutes),
            ("list_then_read_secrets", self.list_then_read_secrets),
            ("list_then_read_minutes", self.list_then_read_minutes),
            ("batch_calls_per_day", self.batch_calls_per_day),
            ("denied_reads", self.denied_reads),
            ("denied_window_minutes", self.denied_window_minutes),
            ("usual_hours_days", self.usual_hours_days),
            ("rotation_max_age_days", self.rotation_max_age_days),
        ];
        if let Some((name, value)) = whole.iter().find(|(_, value)| *value < 1) {
            return Err(SettingsError::Invalid(format!(
                "{name} must be at least 1, not {value}"
            )));
        }
        if let Some((name, value)) = [
            ("spike_sigmas", self.spike_sigmas),
            ("spike_factor", self.spike_factor),
        ]
        .iter()
        .find(|(_, value)| !(value.is_finite() && *value > 0.0))
        {
            return Err(SettingsError::Invalid(format!(
                "{name} must be a positive number, not {value}"
            )));
        }
        if self.spike_baseline_weeks > 52 {
            return Err(SettingsError::Invalid(format!(
                "spike_baseline_weeks must be at most 52, not {}",
                self.spike_baseline_weeks
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_document_keeps_the_other_defaults() {
        let settings: DetectionSettings =
            serde_json::from_value(serde_json::json!({ "bulk_secrets": 30 })).unwrap();
        assert_eq!(settings.bulk_secrets, 30);
        assert_eq!(settings.denied_reads, 20);
    }

    #[test]
    fn zero_or_negative_thresholds_are_refused_by_name() {
        let settings = DetectionSettings {
            denied_reads: 0,
            ..DetectionSettings::default()
        };
        assert_eq!(
            settings.validate().unwrap_err().to_string(),
            "denied_reads must be at least 1, not 0"
        );
        let settings = DetectionSettings {
            spike_factor: f64::NAN,
            ..DetectionSettings::default()
        };
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("spike_factor")
        );
    }

    #[test]
    fn misspelt_settings_are_refused() {
        assert!(
            serde_json::from_value::<DetectionSettings>(serde_json::json!({ "bulk_secret": 3 }))
                .is_err()
        );
    }
}
