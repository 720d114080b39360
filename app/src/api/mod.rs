//! Server functions: the browser's only way to reach the server's data. Each one stays thin:
//! it asks [`backend_for`] for the [`Backend`] the server provided through context, which
//! first checks the caller against the access table, and calls into it, so the domain logic
//! lives (and is tested) in the server crate.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod changes;
pub mod events;
pub mod findings;
pub mod grants;
pub mod identity;
pub mod overview;
pub mod query;
pub mod rotations;
pub mod secrets;
pub mod settings;
pub mod users;

#[cfg(feature = "ssr")]
pub use backend::{AlertsBackend, Backend, SharedBackend};

#[cfg(feature = "ssr")]
mod backend {
    use leptos::prelude::*;
    use leptos::server_fn::ServerFn;
    use std::sync::Arc;

    use super::admin::{ChangeOutcome, ChangeRequest};
    use super::alerts::{AlertsView, ChannelChange, DeliveryQuery, NewAlertRule, NewChannel};
    use super::audit::{AuditFilter, AuditPage};
    use super::changes::ChangeApproval;
    use super::events::{AccessReport, EventListing, EventQuery, EventRecord};
    use super::findings::{
        FindingDetail, FindingListing, FindingQuery, NewSuppression, Suppression, TriageAction,
    };
    use super::grants::{PrincipalGrants, SecretReaders};
    use super::identity::SignInMethods;
    use super::overview::Overview;
    use super::rotations::RotationImpact;
    use super::secrets::{SecretListing, SecretLookup, SecretQuery};
    use super::settings::{DetectionSettings, WhatIf};
    use super::users::{UserChange, UserSummary};
    use crate::access::{self, Caller, ClientAddress, Decision, Identity};
    use crate::scope::Scope;
    use crate::{AppError, Role};

    /// What the pages need from the server's store and configuration. The server crate
    /// implements it and provides an [`Arc`] of it as Leptos context for every request.
    #[async_trait::async_trait]
    pub trait Backend: AlertsBackend + Send + Sync + 'static {
        async fn overview(&self) -> Result<Overview, AppError>;
        async fn audit_log(&self, filter: AuditFilter) -> Result<AuditPage, AppError>;
        async fn sign_in_methods(&self) -> Result<SignInMethods, AppError>;
        async fn secrets(&self, query: SecretQuery) -> Result<SecretListing, AppError>;
        async fn events(&self, query: EventQuery) -> Result<EventListing, AppError>;
        /// Who used the secret with this ARN over the query's period.
        async fn access_report(
            &self,
            secret_arn: String,
            query: EventQuery,
        ) -> Result<AccessReport, AppError>;
        /// The recent rotations of the secret with this ARN and their consumers, newest first.
        async fn rotation_impact(
            &self,
            secret_arn: String,
        ) -> Result<Vec<RotationImpact>, AppError>;
        /// Who the policies let read the secret with this ARN, and whether each did.
        async fn secret_readers(&self, secret_arn: String) -> Result<SecretReaders, AppError>;
        /// What the principal with this ARN can read, and what it did read.
        async fn principal_grants(&self, principal: String) -> Result<PrincipalGrants, AppError>;
        /// One event by its CloudTrail id.
        async fn event(&self, event_id: String) -> Result<Option<EventRecord>, AppError>;
        /// One secret by name or ARN.
        async fn secret(&self, id: String) -> Result<SecretLookup, AppError>;
        async fn findings(&self, query: FindingQuery) -> Result<FindingListing, AppError>;
        async fn finding(&self, id: i64) -> Result<Option<FindingDetail>, AppError>;
        /// A triage action by `who`; refused (as [`AppError`]) when it is refused.
        async fn triage(&self, who: Caller, id: i64, action: TriageAction) -> Result<(), AppError>;
        async fn suppressions(&self) -> Result<Vec<Suppression>, AppError>;
        /// A suppression rule by `who`; refused (as [`AppError`]) when a value is not valid.
        async fn add_suppression(&self, who: Caller, rule: NewSuppression) -> Result<(), AppError>;
        async fn remove_suppression(&self, who: Caller, id: i64) -> Result<(), AppError>;
        /// The change `action` (one of `SecretAction::NAMES`) to the secret `id` (name or
        /// ARN) by `who`, for `request.reason`.
        async fn change_secret(
            &self,
            who: Caller,
            id: String,
            action: String,
            request: ChangeRequest,
        ) -> Result<ChangeOutcome, AppError>;
        /// Whether changes to AWS are offered at all (not when Trailkeeper runs read-only).
        fn administration_offered(&self) -> bool;
        /// Change requests waiting for (or decided by) a second admin, newest first.
        async fn change_approvals(&self) -> Result<Vec<ChangeApproval>, AppError>;
        /// Approves (and then makes) or rejects the change request `id`, as `who`.
        async fn decide_change(
            &self,
            who: Caller,
            id: i64,
            approve: bool,
            comment: Option<String>,
        ) -> Result<ChangeApproval, AppError>;
        async fn detection_settings(&self) -> Result<DetectionSettings, AppError>;
        /// What `settings` would add and drop, detected over recent events; refused (as
        /// [`AppError`]) when one is not valid. Nothing is stored.
        async fn preview_detection_settings(
            &self,
            settings: DetectionSettings,
        ) -> Result<WhatIf, AppError>;
        /// Saves detection settings by `who`; refused (as [`AppError`]) when one is not valid.
        async fn save_detection_settings(
            &self,
            who: Caller,
            settings: DetectionSettings,
        ) -> Result<(), AppError>;
        async fn users(&self) -> Result<Vec<UserSummary>, AppError>;
        /// Adds a user by `who` with a generated password, which it returns.
        async fn add_user(
            &self,
            who: Caller,
            name: String,
            role: Role,
            scope: Option<Scope>,
        ) -> Result<String, AppError>;
        /// Changes the user `name` by `who`; says what was done.
        async fn change_user(
            &self,
            who: Caller,
            name: String,
            change: UserChange,
        ) -> Result<String, AppError>;
        /// The same backend, reading only what `scope` covers (`None`: everything).
        fn within(&self, scope: Option<Scope>) -> SharedBackend;
    }

    /// What the Alerts page asks of the server.
    #[async_trait::async_trait]
    pub trait AlertsBackend {
        async fn alerts(&self, query: DeliveryQuery) -> Result<AlertsView, AppError>;
        /// A channel by `who`; refused (as [`AppError`]) when it cannot work, else what to tell them.
        async fn add_channel(&self, who: Caller, new: NewChannel) -> Result<String, AppError>;
        /// A test message now; how it went.
        async fn test_channel(&self, who: Caller, id: i64) -> Result<String, AppError>;
        /// A change to a channel by `who`; refused (as [`AppError`]) when it cannot work.
        async fn change_channel(
            &self,
            who: Caller,
            id: i64,
            change: ChannelChange,
        ) -> Result<(), AppError>;
        async fn retry_delivery(&self, who: Caller, id: String) -> Result<(), AppError>;
        async fn add_rule(&self, who: Caller, rule: NewAlertRule) -> Result<(), AppError>;
        async fn remove_rule(&self, who: Caller, id: i64) -> Result<(), AppError>;
    }

    pub type SharedBackend = Arc<dyn Backend>;

    /// The identity the server's request path established for this request, if any.
    pub(crate) fn identity() -> Option<Identity> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Identity>().cloned())
    }

    /// The signed-in caller and their address, for a change the audit log records.
    pub(crate) fn caller() -> Result<Caller, AppError> {
        let identity =
            identity().ok_or_else(|| AppError::Unauthorized("sign in required".into()))?;
        let address = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<ClientAddress>().cloned())
            .map(|ClientAddress(address)| address);
        Ok(Caller { identity, address })
    }

    /// Checks the caller against the access table's rule for the server function `F`.
    /// Requests over HTTP were already checked on the way in; this also covers a page
    /// calling a server function in-process while it renders.
    pub(crate) fn authorize<F: ServerFn>() -> Result<(), AppError> {
        let Some(required) = access::required(F::PATH) else {
            return Err(AppError::Forbidden(format!(
                "{} has no access rule; it is refused",
                F::PATH
            )));
        };
        match access::decide(required, identity().as_ref()) {
            Decision::Allow => Ok(()),
            Decision::SignInRequired => Err(AppError::Unauthorized("sign in required".into())),
            refused => Err(AppError::Forbidden(refused.refusal().unwrap_or_default())),
        }
    }

    /// A form's text field as given: trimmed, and `None` when left empty.
    pub(crate) fn given(text: String) -> Option<String> {
        Some(text.trim().to_string()).filter(|text| !text.is_empty())
    }

    /// The backend, for a caller allowed to call the server function `F`, reading only
    /// what their scope covers.
    pub(crate) fn backend_for<F: ServerFn>() -> Result<SharedBackend, AppError> {
        authorize::<F>()?;
        let backend = use_context::<SharedBackend>().ok_or_else(|| {
            AppError::internal("serving a page", "the server did not provide its backend")
        })?;
        Ok(backend.within(identity().and_then(|identity| identity.scope)))
    }
}

#[cfg(feature = "ssr")]
pub(crate) use backend::{authorize, backend_for, caller, given, identity};
