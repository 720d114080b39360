//! The server's side of the app's [`Backend`] port: what server functions call.

use async_trait::async_trait;
use leptos::prelude::ServerFnError;
use sqlx::PgPool;
use std::sync::Arc;
use trailkeeper_app::access::Caller;

use trailkeeper_app::api::alerts::{
    AlertsView, ChannelChange, DeliveryQuery, DeliveryStatus, NewAlertRule, NewChannel,
};
use trailkeeper_app::api::audit::{AuditFilter, AuditPage};
use trailkeeper_app::api::events::{AccessReport, EventListing, EventQuery, EventRecord};
use trailkeeper_app::api::findings::{
    FindingDetail, FindingListing, FindingQuery, NewSuppression, Suppression, TriageAction,
};
use trailkeeper_app::api::identity::SignInMethods;
use trailkeeper_app::api::overview::{AwsTarget, Overview};
use trailkeeper_app::api::secrets::{SecretListing, SecretLookup, SecretQuery};
use trailkeeper_app::api::settings::DetectionSettings;
use trailkeeper_app::api::{AlertsBackend, Backend};

use crate::alert::Alerting;
use crate::alert::log as delivery_log;
use crate::alert::setup::{self, SetupError};
use crate::detect::settings::{self, SettingsError};
use crate::events::read as events;
use crate::findings::read as findings;
use crate::findings::triage::{self, Actor, TriageError};
use crate::inventory::read::{self, ReadError};
use crate::web::findings_api::save_settings;
use crate::{audit, db};

/// How many audit entries the Overview lists.
const RECENT_ACTIVITY: i64 = 20;

pub struct ServerBackend {
    pub pool: PgPool,
    pub alerting: Arc<Alerting>,
    pub database_location: String,
    pub aws: AwsTarget,
    pub single_sign_on: bool,
}

#[async_trait]
impl Backend for ServerBackend {
    async fn overview(&self) -> Result<Overview, ServerFnError> {
        let database = db::status(&self.pool, &self.database_location)
            .await
            .map_err(|error| internal("reading the database status", error))?;
        let recent_activity = audit::recent(&self.pool, RECENT_ACTIVITY)
            .await
            .map_err(|error| internal("reading the audit log", error))?;
        let inventory = read::overview(&self.pool)
            .await
            .map_err(|error| internal("reading the inventory", error))?;
        let events = events::overview(&self.pool)
            .await
            .map_err(|error| internal("reading the events", error))?;
        let findings = findings::overview(&self.pool)
            .await
            .map_err(|error| internal("reading the findings", error))?;
        Ok(Overview {
            findings,
            database,
            aws: self.aws.clone(),
            inventory,
            events,
            recent_activity,
            generated_at: chrono::Utc::now(),
        })
    }

    async fn audit_log(&self, filter: AuditFilter) -> Result<AuditPage, ServerFnError> {
        audit::page(&self.pool, &filter)
            .await
            .map_err(|error| internal("reading the audit log", error))
    }

    async fn sign_in_methods(&self) -> Result<SignInMethods, ServerFnError> {
        Ok(SignInMethods {
            single_sign_on: self.single_sign_on,
        })
    }

    async fn secrets(&self, query: SecretQuery) -> Result<SecretListing, ServerFnError> {
        let (page, matching, facets) = tokio::try_join!(
            read::list(&self.pool, &query),
            async {
                read::count(&self.pool, &query)
                    .await
                    .map_err(ReadError::from)
            },
            async { read::facets(&self.pool).await.map_err(ReadError::from) },
        )
        .map_err(|error| match error {
            ReadError::InvalidCursor(message) => ServerFnError::new(message),
            ReadError::Store(error) => internal("reading the inventory", error),
        })?;
        Ok(SecretListing {
            page,
            matching,
            facets,
        })
    }

    async fn events(&self, query: EventQuery) -> Result<EventListing, ServerFnError> {
        let now = chrono::Utc::now();
        let (page, histogram) = tokio::try_join!(events::list(&self.pool, &query, now), async {
            events::histogram(&self.pool, &query, now)
                .await
                .map_err(events::ReadError::from)
        },)
        .map_err(|error| match error {
            events::ReadError::InvalidCursor(message) => ServerFnError::new(message),
            events::ReadError::Store(error) => internal("reading the events", error),
        })?;
        let (items, next) = page;
        Ok(EventListing {
            items: items.into_iter().map(|record| record.event).collect(),
            next,
            histogram,
        })
    }

    async fn access_report(
        &self,
        secret_arn: String,
        query: EventQuery,
    ) -> Result<AccessReport, ServerFnError> {
        events::access_report(&self.pool, &secret_arn, &query, chrono::Utc::now())
            .await
            .map_err(|error| internal("reading the secret's access", error))
    }

    async fn event(&self, event_id: String) -> Result<Option<EventRecord>, ServerFnError> {
        events::event(&self.pool, &event_id)
            .await
            .map_err(|error| internal("reading the event", error))
    }

    async fn secret(&self, id: String) -> Result<SecretLookup, ServerFnError> {
        read::lookup(&self.pool, &id)
            .await
            .map_err(|error| internal("reading the secret", error))
    }

    async fn findings(&self, query: FindingQuery) -> Result<FindingListing, ServerFnError> {
        let (page, counts) = tokio::try_join!(findings::list(&self.pool, &query), async {
            findings::counts(&self.pool, &query)
                .await
                .map_err(findings::ReadError::from)
        })
        .map_err(|error| match error {
            findings::ReadError::InvalidCursor(message) => ServerFnError::new(message),
            findings::ReadError::Store(error) => internal("reading the findings", error),
        })?;
        Ok(FindingListing { page, counts })
    }

    async fn finding(&self, id: i64) -> Result<Option<FindingDetail>, ServerFnError> {
        findings::get(&self.pool, id)
            .await
            .map_err(|error| internal("reading the finding", error))
    }

    async fn triage(
        &self,
        who: Caller,
        id: i64,
        action: TriageAction,
    ) -> Result<Result<(), String>, ServerFnError> {
        refused(triage::triage(&self.pool, id, &actor(&who), action).await)
    }

    async fn suppressions(&self) -> Result<Vec<Suppression>, ServerFnError> {
        triage::suppressions(&self.pool)
            .await
            .map_err(|error| internal("reading the suppression rules", error))
    }

    async fn add_suppression(
        &self,
        who: Caller,
        rule: NewSuppression,
    ) -> Result<Result<(), String>, ServerFnError> {
        refused(
            triage::add_suppression(&self.pool, &actor(&who), rule)
                .await
                .map(|_| ()),
        )
    }

    async fn remove_suppression(
        &self,
        who: Caller,
        id: i64,
    ) -> Result<Result<(), String>, ServerFnError> {
        refused(triage::remove_suppression(&self.pool, &actor(&who), id).await)
    }

    async fn detection_settings(&self) -> Result<DetectionSettings, ServerFnError> {
        settings::load(&self.pool)
            .await
            .map_err(|error| internal("reading the detection settings", error))
    }

    async fn save_detection_settings(
        &self,
        who: Caller,
        new: DetectionSettings,
    ) -> Result<Result<(), String>, ServerFnError> {
        settings_refused(
            save_settings(&self.pool, &new, &who.identity.name, who.address.as_deref()).await,
        )
    }
}

/// A refused setting is an answer for the person; a store failure is the server's.
fn settings_refused(
    outcome: Result<(), SettingsError>,
) -> Result<Result<(), String>, ServerFnError> {
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(SettingsError::Database(error)) => Err(internal("saving the settings", error)),
        Err(SettingsError::Invalid(reason)) => Ok(Err(reason)),
    }
}

/// The caller as the audit log names them.
fn actor(who: &Caller) -> Actor<'_> {
    Actor {
        name: &who.identity.name,
        address: who.address.as_deref(),
    }
}

/// A refused action is an answer for the person; a store failure is the server's.
#[async_trait]
impl AlertsBackend for ServerBackend {
    async fn alerts(&self, query: DeliveryQuery) -> Result<AlertsView, ServerFnError> {
        let channels = setup::list_channels(&self.pool)
            .await
            .map_err(|error| internal("reading the alert channels", error))?;
        let rules = setup::list_rules(&self.pool)
            .await
            .map_err(|error| internal("reading the alert rules", error))?;
        let deliveries = match delivery_log::list(&self.pool, &query).await {
            Ok(page) => page,
            Err(SetupError::Invalid(message)) => return Err(ServerFnError::new(message)),
            Err(error) => return Err(internal("reading the delivery log", error)),
        };
        Ok(AlertsView {
            channels,
            rules,
            deliveries,
        })
    }

    async fn add_channel(
        &self,
        who: Caller,
        new: NewChannel,
    ) -> Result<Result<String, String>, ServerFnError> {
        let alerting = &self.alerting;
        set_up(
            setup::add_channel(
                &self.pool,
                &alerting.key,
                &alerting.senders,
                &actor(&who),
                new,
            )
            .await
            .map(|created| match created.signing_key {
                Some(key) => {
                    format!("Channel added. Its signing key is shown only this once: {key}")
                }
                None => "Channel added.".to_string(),
            }),
        )
    }

    async fn test_channel(
        &self,
        who: Caller,
        id: i64,
    ) -> Result<Result<String, String>, ServerFnError> {
        set_up(
            setup::test_channel(&self.pool, &self.alerting, &actor(&who), id)
                .await
                .map(|delivery| match delivery.status {
                    DeliveryStatus::Delivered => "Test message delivered.".to_string(),
                    _ => format!(
                        "The test message failed: {}",
                        delivery.last_error.unwrap_or_default()
                    ),
                }),
        )
    }

    async fn change_channel(
        &self,
        who: Caller,
        id: i64,
        change: ChannelChange,
    ) -> Result<Result<(), String>, ServerFnError> {
        let alerting = &self.alerting;
        set_up(
            setup::change_channel(
                &self.pool,
                &alerting.key,
                &alerting.senders,
                &actor(&who),
                id,
                change,
            )
            .await
            .map(|_| ()),
        )
    }

    async fn retry_delivery(
        &self,
        who: Caller,
        id: String,
    ) -> Result<Result<(), String>, ServerFnError> {
        set_up(delivery_log::retry(&self.pool, &actor(&who), &id).await)
    }

    async fn add_rule(
        &self,
        who: Caller,
        rule: NewAlertRule,
    ) -> Result<Result<(), String>, ServerFnError> {
        set_up(
            setup::add_rule(&self.pool, &actor(&who), rule)
                .await
                .map(|_| ()),
        )
    }

    async fn remove_rule(&self, who: Caller, id: i64) -> Result<Result<(), String>, ServerFnError> {
        set_up(setup::remove_rule(&self.pool, &actor(&who), id).await)
    }
}

/// An alert setup's outcome for a page: refusals are the person's to read, the store's
/// failures the log's.
fn set_up<T>(outcome: Result<T, SetupError>) -> Result<Result<T, String>, ServerFnError> {
    match outcome {
        Ok(value) => Ok(Ok(value)),
        Err(SetupError::Store(error)) => Err(internal("alert setup", error)),
        Err(SetupError::Key(error)) => Err(internal("opening alert channel secrets", error)),
        Err(refusal) => Ok(Err(refusal.to_string())),
    }
}

fn refused(outcome: Result<(), TriageError>) -> Result<Result<(), String>, ServerFnError> {
    match outcome {
        Ok(()) => Ok(Ok(())),
        Err(TriageError::Store(error)) => Err(internal("triage", error)),
        Err(refusal) => Ok(Err(refusal.to_string())),
    }
}

/// Logs the cause and gives the browser a message without internals.
fn internal(what: &str, error: impl std::error::Error) -> ServerFnError {
    tracing::error!(error = ?error, "{what} failed");
    ServerFnError::new(format!("{what} failed; the server log has the details"))
}
