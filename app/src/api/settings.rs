//! Settings admins change at run time: detection's thresholds, with the defaults taken from
//! the references each detector follows.

use crate::AppError;
use crate::api::findings::FindingKind;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
    /// A secret nobody read for this many days (by AWS's last access date and CloudTrail) is
    /// unused.
    pub unused_after_days: i64,
    /// A logging trail whose last delivery is older than this many hours has stopped
    /// delivering.
    pub trail_stale_hours: i64,
    /// An account × region whose events arrive steadily is silent once none has come for
    /// this many times its longest wait between events over the two weeks before.
    pub silence_multiple: i64,
    /// A principal reading a secret whose value it set itself within this many minutes is
    /// reading back its own write (infrastructure as code), not reaching for another's secret.
    pub readback_minutes: i64,
    /// A principal still reading the superseded version, or failing, this many hours after a
    /// rotation is a stale consumer.
    pub stale_consumer_hours: i64,
    /// A principal the policies let read a secret it has not read for this many days holds
    /// an unused grant (judged once the stored CloudTrail reaches back that far).
    pub unused_grant_days: i64,
    /// A principal the policies let read more than this many secrets holds a broad grant.
    pub broad_grant_secrets: i64,
    /// A what-if preview of new settings runs detection over this many days of events.
    pub what_if_days: i64,
    /// Findings of one kind by one principal, each within this many minutes of the one
    /// before, are one incident: one finding listing every secret it touched.
    pub incident_minutes: i64,
}

/// What other settings would change: detection run over the same recent events with the
/// stored settings and with the proposed ones, neither run stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WhatIf {
    /// The events judged: from this time to now.
    pub since: DateTime<Utc>,
    pub events: u64,
    /// Findings the proposed settings would make that the stored ones do not, by kind.
    pub added: Vec<KindChange>,
    /// Findings the stored settings make that the proposed ones would not, by kind.
    pub dropped: Vec<KindChange>,
}

/// One kind's findings added or dropped (a finding: kind × principal × secret), with a few
/// of their titles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KindChange {
    pub kind: FindingKind,
    pub findings: u64,
    pub examples: Vec<String>,
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
            unused_after_days: 90,
            trail_stale_hours: 24,
            silence_multiple: 3,
            readback_minutes: 15,
            stale_consumer_hours: 24,
            unused_grant_days: 90,
            broad_grant_secrets: 20,
            what_if_days: 30,
            incident_minutes: 15,
        }
    }
}

impl DetectionSettings {
    /// Every count, span and factor must be positive (a zero window or threshold would make
    /// every event a finding or none).
    pub fn validate(&self) -> Result<(), String> {
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
            ("unused_after_days", self.unused_after_days),
            ("trail_stale_hours", self.trail_stale_hours),
            ("silence_multiple", self.silence_multiple),
            ("readback_minutes", self.readback_minutes),
            ("stale_consumer_hours", self.stale_consumer_hours),
            ("unused_grant_days", self.unused_grant_days),
            ("broad_grant_secrets", self.broad_grant_secrets),
            ("what_if_days", self.what_if_days),
            ("incident_minutes", self.incident_minutes),
        ];
        if let Some((name, value)) = whole.iter().find(|(_, value)| *value < 1) {
            return Err(format!("{name} must be at least 1, not {value}"));
        }
        if let Some((name, value)) = [
            ("spike_sigmas", self.spike_sigmas),
            ("spike_factor", self.spike_factor),
        ]
        .iter()
        .find(|(_, value)| !(value.is_finite() && *value > 0.0))
        {
            return Err(format!("{name} must be a positive number, not {value}"));
        }
        if self.spike_baseline_weeks > 52 {
            return Err(format!(
                "spike_baseline_weeks must be at most 52, not {}",
                self.spike_baseline_weeks
            ));
        }
        Ok(())
    }
}

/// The settings detection runs with now.
#[server(endpoint = "detection_settings")]
pub async fn get_detection_settings() -> Result<DetectionSettings, AppError> {
    super::backend_for::<GetDetectionSettings>()?
        .detection_settings()
        .await
}

/// What `settings` would change before they are saved: detection over recent events with
/// them beside the stored settings ([`WhatIf`]). Nothing is stored.
#[server(endpoint = "preview_detection_settings")]
pub async fn preview_detection_settings(
    #[server(default)] settings: DetectionSettings,
) -> Result<WhatIf, AppError> {
    super::backend_for::<PreviewDetectionSettings>()?
        .preview_detection_settings(settings)
        .await
}

/// Saves detection settings as the caller; refused (as [`AppError`]) when one is not valid (and
/// nothing was changed).
#[server(endpoint = "save_detection_settings")]
pub async fn save_detection_settings(
    #[server(default)] settings: DetectionSettings,
) -> Result<(), AppError> {
    let backend = super::backend_for::<SaveDetectionSettings>()?;
    let who = super::caller()?;
    backend.save_detection_settings(who, settings).await
}
