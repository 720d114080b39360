//! The server's side of the app's [`Backend`] port: what server functions call.

use async_trait::async_trait;
use std::sync::Arc;
use trailkeeper_app::AppError;
use trailkeeper_app::access::Caller;

use trailkeeper_app::Role;
use trailkeeper_app::api::admin::{ChangeOutcome, ChangeRequest};
use trailkeeper_app::api::alerts::{
    AlertsView, ChannelChange, DeliveryQuery, DeliveryStatus, NewAlertRule, NewChannel,
};
use trailkeeper_app::api::audit::{AuditFilter, AuditPage};
use trailkeeper_app::api::changes::ChangeApproval;
use trailkeeper_app::api::events::{AccessReport, EventListing, EventQuery, EventRecord};
use trailkeeper_app::api::findings::{
    FindingDetail, FindingListing, FindingQuery, NewSuppression, Suppression, TriageAction,
};
use trailkeeper_app::api::grants::{PrincipalGrants, SecretReaders};
use trailkeeper_app::api::identity::SignInMethods;
use trailkeeper_app::api::overview::{AwsTarget, Overview};
use trailkeeper_app::api::rotations::RotationImpact;
use trailkeeper_app::api::secrets::{SecretListing, SecretLookup, SecretQuery};
use trailkeeper_app::api::settings::{DetectionSettings, WhatIf};
use trailkeeper_app::api::users::{UserChange, UserSummary};
use trailkeeper_app::api::{AlertsBackend, Backend, SharedBackend};
use trailkeeper_app::scope::Scope;

use super::replica;
use crate::admin::{Administration, approvals};
use crate::alert::Alerting;
use crate::alert::log as delivery_log;
use crate::alert::{deliver, setup};
use crate::auth::{password, users};
use crate::db::{ReadError, Reader};
use crate::detect::{settings, what_if};
use crate::events::read as events;
use crate::findings::read as findings;
use crate::findings::triage::{self, Actor};
use crate::inventory::grants::read as grants;
use crate::inventory::read;
use crate::{audit, db};

/// How many audit entries the Overview lists.
const RECENT_ACTIVITY: i64 = 20;

#[derive(Clone)]
pub struct ServerBackend {
    /// The store as the person asking may read it; writes go through its pool.
    pub reader: Reader,
    /// Where the changes admins make go.
    pub administration: Administration,
    pub alerting: Arc<Alerting>,
    pub database_location: String,
    pub aws: AwsTarget,
    pub single_sign_on: bool,
}

#[async_trait]
impl Backend for ServerBackend {
    async fn overview(&self) -> Result<Overview, AppError> {
        let database = db::status(self.reader.pool(), &self.database_location)
            .await
            .map_err(AppError::from)?;
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        let recent_activity = audit::recent(&mut *db, RECENT_ACTIVITY)
            .await
            .map_err(AppError::from)?;
        let inventory = read::overview(&mut db).await.map_err(AppError::from)?;
        let events = events::overview(&mut db).await.map_err(AppError::from)?;
        let findings = findings::overview(&mut db).await.map_err(AppError::from)?;
        let accounts = crate::inventory::accounts::overview(&mut db)
            .await
            .map_err(AppError::from)?;
        let coverage = crate::inventory::trails::coverage(&mut db)
            .await
            .map_err(AppError::from)?;
        Ok(Overview {
            findings,
            database,
            aws: self.aws.clone(),
            inventory,
            accounts,
            coverage,
            events,
            recent_activity,
            generated_at: chrono::Utc::now(),
            scoped: self.reader.scope().is_some(),
        })
    }

    async fn audit_log(&self, filter: AuditFilter) -> Result<AuditPage, AppError> {
        audit::page(self.reader.pool(), &filter)
            .await
            .map_err(AppError::from)
    }

    async fn sign_in_methods(&self) -> Result<SignInMethods, AppError> {
        Ok(SignInMethods {
            single_sign_on: self.single_sign_on,
        })
    }

    async fn secrets(&self, query: SecretQuery) -> Result<SecretListing, AppError> {
        // Each part on a connection of its own, taken only when it starts: none holds one
        // while waiting for another.
        let reader = &self.reader;
        let (page, matching, facets) = tokio::try_join!(
            async {
                let mut db = reader.read().await?;
                read::list(&mut db, &query).await
            },
            async {
                let mut db = reader.read().await?;
                Ok::<_, ReadError>(read::count(&mut db, &query).await?)
            },
            async {
                let mut db = reader.read().await?;
                Ok::<_, ReadError>(read::facets(&mut db).await?)
            },
        )
        .map_err(AppError::from)?;
        Ok(SecretListing {
            page,
            matching,
            facets,
        })
    }

    async fn events(&self, query: EventQuery) -> Result<EventListing, AppError> {
        let now = chrono::Utc::now();
        let reader = &self.reader;
        let (page, histogram) = tokio::try_join!(
            async {
                let mut db = reader.read().await?;
                events::list(&mut db, &query, now).await
            },
            async {
                let mut db = reader.read().await?;
                Ok::<_, ReadError>(events::histogram(&mut db, &query, now).await?)
            },
        )
        .map_err(AppError::from)?;
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
    ) -> Result<AccessReport, AppError> {
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        events::access_report(&mut db, &secret_arn, &query, chrono::Utc::now())
            .await
            .map_err(AppError::from)
    }

    async fn rotation_impact(&self, secret_arn: String) -> Result<Vec<RotationImpact>, AppError> {
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        crate::events::rotations::rotation_impact(&mut db, &secret_arn, chrono::Utc::now())
            .await
            .map_err(AppError::from)
    }

    async fn secret_readers(&self, secret_arn: String) -> Result<SecretReaders, AppError> {
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        let idle_days = settings::in_force(&mut *db)
            .await
            .map_err(AppError::from)?
            .unused_grant_days;
        grants::secret_readers(&mut db, &secret_arn, idle_days, chrono::Utc::now())
            .await
            .map_err(AppError::from)
    }

    async fn principal_grants(&self, principal: String) -> Result<PrincipalGrants, AppError> {
        let principal = grants::principal_named(&principal)?;
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        let idle_days = settings::in_force(&mut *db)
            .await
            .map_err(AppError::from)?
            .unused_grant_days;
        grants::principal_grants(&mut db, principal, idle_days, chrono::Utc::now())
            .await
            .map_err(AppError::from)
    }

    async fn event(&self, event_id: String) -> Result<Option<EventRecord>, AppError> {
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        events::event(&mut db, &event_id)
            .await
            .map_err(AppError::from)
    }

    async fn secret(&self, id: String) -> Result<SecretLookup, AppError> {
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        read::lookup(&mut db, &id).await.map_err(AppError::from)
    }

    async fn findings(&self, query: FindingQuery) -> Result<FindingListing, AppError> {
        let reader = &self.reader;
        let (page, counts) = tokio::try_join!(
            async {
                let mut db = reader.read().await?;
                findings::list(&mut db, &query).await
            },
            async {
                let mut db = reader.read().await?;
                Ok::<_, ReadError>(findings::counts(&mut db, &query).await?)
            }
        )
        .map_err(AppError::from)?;
        Ok(FindingListing { page, counts })
    }

    async fn finding(&self, id: i64) -> Result<Option<FindingDetail>, AppError> {
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        findings::get(&mut db, id).await.map_err(AppError::from)
    }

    async fn change_secret(
        &self,
        who: Caller,
        id: String,
        action: String,
        request: ChangeRequest,
    ) -> Result<ChangeOutcome, AppError> {
        self.administration
            .change_secret(&self.reader, &actor(&who), &id, &action, &request)
            .await
    }

    fn administration_offered(&self) -> bool {
        self.administration.offered()
    }

    async fn change_approvals(&self) -> Result<Vec<ChangeApproval>, AppError> {
        Ok(approvals::list(self.reader.pool()).await?)
    }

    async fn decide_change(
        &self,
        who: Caller,
        id: i64,
        approve: bool,
        comment: Option<String>,
    ) -> Result<ChangeApproval, AppError> {
        self.administration
            .decide_change(
                self.reader.pool(),
                &actor(&who),
                id,
                approve,
                comment.as_deref(),
            )
            .await
    }

    async fn triage(&self, who: Caller, id: i64, action: TriageAction) -> Result<(), AppError> {
        Ok(triage::triage_as(&self.reader, id, &actor(&who), action).await?)
    }

    async fn suppressions(&self) -> Result<Vec<Suppression>, AppError> {
        let mut db = self.reader.read().await.map_err(AppError::from)?;
        triage::suppressions(&mut *db).await.map_err(AppError::from)
    }

    async fn add_suppression(&self, who: Caller, rule: NewSuppression) -> Result<(), AppError> {
        triage::add_suppression(self.reader.pool(), &actor(&who), rule).await?;
        Ok(())
    }

    async fn remove_suppression(&self, who: Caller, id: i64) -> Result<(), AppError> {
        Ok(triage::remove_suppression(self.reader.pool(), &actor(&who), id).await?)
    }

    async fn detection_settings(&self) -> Result<DetectionSettings, AppError> {
        settings::load(self.reader.pool())
            .await
            .map_err(AppError::from)
    }

    async fn preview_detection_settings(
        &self,
        proposed: DetectionSettings,
    ) -> Result<WhatIf, AppError> {
        proposed.validate().map_err(AppError::invalid)?;
        Ok(what_if::what_if(self.reader.pool(), &proposed, None).await?)
    }

    async fn users(&self) -> Result<Vec<UserSummary>, AppError> {
        Ok(users::summaries(self.reader.pool()).await?)
    }

    async fn add_user(
        &self,
        who: Caller,
        name: String,
        role: Role,
        scope: Option<Scope>,
    ) -> Result<String, AppError> {
        let password = password::generate();
        let pool = self.reader.pool();
        users::add_scoped(
            pool,
            &who.identity.name,
            &name,
            role,
            scope.as_ref(),
            &password,
        )
        .await?;
        Ok(password)
    }

    async fn change_user(
        &self,
        who: Caller,
        name: String,
        change: UserChange,
    ) -> Result<String, AppError> {
        let (pool, actor) = (self.reader.pool(), who.identity.name.as_str());
        Ok(match change {
            UserChange::Role(role) => {
                let user = users::set_role(pool, actor, &name, role).await?;
                format!("{} now has the {} role.", user.name, user.role)
            }
            UserChange::Scope(scope) => {
                let user = users::set_scope(pool, actor, &name, scope.as_ref()).await?;
                match user.scope {
                    Some(scope) => format!("{} now sees only {scope}.", user.name),
                    None => format!("{} now sees everything their role allows.", user.name),
                }
            }
            UserChange::Disable => {
                let user = users::disable(pool, actor, &name).await?;
                format!("{} is disabled and signed out.", user.name)
            }
            UserChange::EndSessions => {
                let user = users::end_sessions(pool, actor, &name).await?;
                format!("{} is signed out everywhere.", user.name)
            }
        })
    }

    fn within(&self, scope: Option<Scope>) -> SharedBackend {
        let mut reader = self.reader.limited_to(scope);
        if let Some(parts) = leptos::prelude::use_context::<axum::http::request::Parts>() {
            reader = replica::for_request(reader, &parts);
        }
        Arc::new(ServerBackend {
            reader,
            ..self.clone()
        })
    }

    async fn save_detection_settings(
        &self,
        who: Caller,
        new: DetectionSettings,
    ) -> Result<(), AppError> {
        Ok(settings::save(
            self.reader.pool(),
            &new,
            &who.identity.name,
            who.address.as_deref(),
        )
        .await?)
    }
}

/// The caller as the audit log names them.
fn actor(who: &Caller) -> Actor<'_> {
    Actor {
        name: &who.identity.name,
        address: who.address.as_deref(),
    }
}

#[async_trait]
impl AlertsBackend for ServerBackend {
    async fn alerts(&self, query: DeliveryQuery) -> Result<AlertsView, AppError> {
        let channels = setup::list_channels(self.reader.pool()).await?;
        let rules = setup::list_rules(self.reader.pool()).await?;
        let deliveries = delivery_log::list(self.reader.pool(), &query).await?;
        Ok(AlertsView {
            channels,
            rules,
            deliveries,
        })
    }

    async fn add_channel(&self, who: Caller, new: NewChannel) -> Result<String, AppError> {
        let alerting = &self.alerting;
        Ok(setup::add_channel(
            self.reader.pool(),
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
        })?)
    }

    async fn test_channel(&self, who: Caller, id: i64) -> Result<String, AppError> {
        Ok(
            deliver::test_channel(self.reader.pool(), &self.alerting, &actor(&who), id)
                .await
                .map(|delivery| match delivery.status {
                    DeliveryStatus::Delivered => "Test message delivered.".to_string(),
                    _ => format!(
                        "The test message failed: {}",
                        delivery.last_error.unwrap_or_default()
                    ),
                })?,
        )
    }

    async fn change_channel(
        &self,
        who: Caller,
        id: i64,
        change: ChannelChange,
    ) -> Result<(), AppError> {
        let alerting = &self.alerting;
        setup::change_channel(
            self.reader.pool(),
            &alerting.key,
            &alerting.senders,
            &actor(&who),
            id,
            change,
        )
        .await?;
        Ok(())
    }

    async fn retry_delivery(&self, who: Caller, id: String) -> Result<(), AppError> {
        Ok(delivery_log::retry(self.reader.pool(), &actor(&who), &id).await?)
    }

    async fn add_rule(&self, who: Caller, rule: NewAlertRule) -> Result<(), AppError> {
        setup::add_rule(self.reader.pool(), &actor(&who), rule).await?;
        Ok(())
    }

    async fn remove_rule(&self, who: Caller, id: i64) -> Result<(), AppError> {
        Ok(setup::remove_rule(self.reader.pool(), &actor(&who), id).await?)
    }
}
