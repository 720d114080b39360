//! Detection's thresholds (`DetectionSettings`, shared with the Settings page) as stored:
//! the `detection` area of `settings`. A setting left out of the stored document keeps its
//! default, so new settings need no migration.

use serde_json::json;
use sqlx::{PgExecutor, PgPool};
use trailkeeper_app::AppError;
pub use trailkeeper_app::api::settings::DetectionSettings;

use crate::audit::{Action, Entry};

const AREA: &str = "detection";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<SettingsError> for AppError {
    fn from(error: SettingsError) -> AppError {
        match error {
            SettingsError::Invalid(message) => AppError::invalid(message),
            SettingsError::Database(error) => AppError::store(error),
        }
    }
}

/// The stored settings, or the defaults when none were saved.
pub async fn load(db: impl PgExecutor<'_>) -> Result<DetectionSettings, SettingsError> {
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar!("SELECT value FROM settings WHERE area = $1", AREA)
            .fetch_optional(db)
            .await?;
    match stored {
        None => Ok(DetectionSettings::default()),
        Some(value) => parse(value),
    }
}

/// The settings in force: the stored ones, or — when they no longer read — the defaults,
/// which keep detection (and what reads its settings) running rather than stopping it.
pub async fn in_force(db: impl PgExecutor<'_>) -> Result<DetectionSettings, sqlx::Error> {
    match load(db).await {
        Ok(settings) => Ok(settings),
        Err(SettingsError::Database(error)) => Err(error),
        Err(SettingsError::Invalid(error)) => {
            tracing::warn!(%error, "detection settings unreadable; using the defaults");
            Ok(DetectionSettings::default())
        }
    }
}

/// Settings as stored (`null`: none were saved).
pub fn parse(value: serde_json::Value) -> Result<DetectionSettings, SettingsError> {
    if value.is_null() {
        return Ok(DetectionSettings::default());
    }
    serde_json::from_value(value)
        .map_err(|error| SettingsError::Invalid(format!("the stored detection settings: {error}")))
}

/// Saves `settings` by `who`, if they are valid, with the audit entry naming what changed.
pub async fn save(
    pool: &PgPool,
    settings: &DetectionSettings,
    who: &str,
    address: Option<&str>,
) -> Result<(), SettingsError> {
    let before = load(pool).await?;
    let mut tx = pool.begin().await?;
    write(&mut *tx, settings, who).await?;
    let (before, after) = (json!(before), json!(settings));
    let changed: Vec<String> = after
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, value)| before.get(name.as_str()) != Some(value))
        .map(|(name, value)| format!("{name} = {value}"))
        .collect();
    let summary = if changed.is_empty() {
        "saved the detection settings unchanged".to_string()
    } else {
        format!("changed detection settings: {}", changed.join(", "))
    };
    Entry::new(who, Action::SettingsChanged, summary)
        .detail(json!({ "area": "detection", "before": before, "after": after }))
        .from_address(address)
        .record(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn write(
    db: impl PgExecutor<'_>,
    settings: &DetectionSettings,
    by: &str,
) -> Result<(), SettingsError> {
    settings.validate().map_err(SettingsError::Invalid)?;
    sqlx::query!(
        "INSERT INTO settings (area, value, updated_by) VALUES ($1, $2, $3) \
         ON CONFLICT (area) DO UPDATE SET value = EXCLUDED.value, \
             updated_by = EXCLUDED.updated_by, updated_at = now()",
        AREA,
        serde_json::to_value(settings).expect("settings serialise"),
        by
    )
    .execute(db)
    .await?;
    Ok(())
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
            settings.validate().unwrap_err(),
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
