//! Server functions: the browser's only way to reach the server's data. Each one stays thin:
//! it asks [`backend_for`] for the [`Backend`] the server provided through context, which
//! first checks the caller against the access table, and calls into it, so the domain logic
//! lives (and is tested) in the server crate.

pub mod alerts;
pub mod audit;
pub mod events;
pub mod findings;
pub mod identity;
pub mod overview;
pub mod query;
pub mod secrets;
pub mod settings;

#[cfg(feature = "ssr")]
pub use backend::{AlertsBackend, Backend, SharedBackend};

#[cfg(feature = "ssr")]
mod backend {
    use leptos::prelude::*;
    use leptos::server_fn::ServerFn;
    use std::sync::Arc;

    use super::alerts::{AlertsView, ChannelChange, DeliveryQuery, NewAlertRule, NewChannel};
    use super::audit::{AuditFilter, AuditPage};
    use super::events::{AccessReport, EventListing, EventQuery, EventRecord};
    use super::findings::{
        FindingDetail, FindingListing, FindingQuery, NewSuppression, Suppression, TriageAction,
    };
    use super::identity::SignInMethods;
    use super::overview::Overview;
    use super::secrets::{SecretListing, SecretLookup, SecretQuery};
    use super::settings::DetectionSettings;
    use crate::access::{self, Caller, ClientAddress, Decision, Identity};

    /// What the pages need from the server's store and configuration. The server crate
    /// implements it and provides an [`Arc`] of it as Leptos context for every request.
    #[async_trait::async_trait]
    pub trait Backend: AlertsBackend + Send + Sync + 'static {
        async fn overview(&self) -> Result<Overview, ServerFnError>;
        async fn audit_log(&self, filter: AuditFilter) -> Result<AuditPage, ServerFnError>;
        async fn sign_in_methods(&self) -> Result<SignInMethods, ServerFnError>;
        async fn secrets(&self, query: SecretQuery) -> Result<SecretListing, ServerFnError>;
        async fn events(&self, query: EventQuery) -> Result<EventListing, ServerFnError>;
        /// Who used the secret with this ARN over the query's period.
        async fn access_report(
            &self,
            secret_arn: String,
            query: EventQuery,
        ) -> Result<AccessReport, ServerFnError>;
        /// One event by its CloudTrail id.
        async fn event(&self, event_id: String) -> Result<Option<EventRecord>, ServerFnError>;
        /// One secret by name or ARN.
        async fn secret(&self, id: String) -> Result<SecretLookup, ServerFnError>;
        async fn findings(&self, query: FindingQuery) -> Result<FindingListing, ServerFnError>;
        async fn finding(&self, id: i64) -> Result<Option<FindingDetail>, ServerFnError>;
        /// A triage action by `who`; `Ok(Err(reason))` when it is refused.
        async fn triage(
            &self,
            who: Caller,
            id: i64,
            action: TriageAction,
        ) -> Result<Result<(), String>, ServerFnError>;
        async fn suppressions(&self) -> Result<Vec<Suppression>, ServerFnError>;
        /// A suppression rule by `who`; `Ok(Err(reason))` when a value is not valid.
        async fn add_suppression(
            &self,
            who: Caller,
            rule: NewSuppression,
        ) -> Result<Result<(), String>, ServerFnError>;
        async fn remove_suppression(
            &self,
            who: Caller,
            id: i64,
        ) -> Result<Result<(), String>, ServerFnError>;
        async fn detection_settings(&self) -> Result<DetectionSettings, ServerFnError>;
        /// Saves detection settings by `who`; `Ok(Err(reason))` when one is not valid.
        async fn save_detection_settings(
            &self,
            who: Caller,
            settings: DetectionSettings,
        ) -> Result<Result<(), String>, ServerFnError>;
    }

    /// What the Alerts page asks of the server.
    #[async_trait::async_trait]
    pub trait AlertsBackend {
        async fn alerts(&self, query: DeliveryQuery) -> Result<AlertsView, ServerFnError>;
        /// A channel by `who`; `Ok(Err(reason))` when it cannot work, else what to tell them.
        async fn add_channel(
            &self,
            who: Caller,
            new: NewChannel,
        ) -> Result<Result<String, String>, ServerFnError>;
        /// A test message now; `Ok(Ok(how it went))`.
        async fn test_channel(
            &self,
            who: Caller,
            id: i64,
        ) -> Result<Result<String, String>, ServerFnError>;
        /// A change to a channel by `who`; `Ok(Err(reason))` when it cannot work.
        async fn change_channel(
            &self,
            who: Caller,
            id: i64,
            change: ChannelChange,
        ) -> Result<Result<(), String>, ServerFnError>;
        async fn retry_delivery(
            &self,
            who: Caller,
            id: String,
        ) -> Result<Result<(), String>, ServerFnError>;
        async fn add_rule(
            &self,
            who: Caller,
            rule: NewAlertRule,
        ) -> Result<Result<(), String>, ServerFnError>;
        async fn remove_rule(
            &self,
            who: Caller,
            id: i64,
        ) -> Result<Result<(), String>, ServerFnError>;
    }

    pub type SharedBackend = Arc<dyn Backend>;

    /// The identity the server's request path established for this request, if any.
    pub(crate) fn identity() -> Option<Identity> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Identity>().cloned())
    }

    /// The signed-in caller and their address, for a change the audit log records.
    pub(crate) fn caller() -> Result<Caller, ServerFnError> {
        let identity = identity().ok_or_else(|| ServerFnError::new("sign in required"))?;
        let address = use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<ClientAddress>().cloned())
            .map(|ClientAddress(address)| address);
        Ok(Caller { identity, address })
    }

    /// Checks the caller against the access table's rule for the server function `F`.
    /// Requests over HTTP were already checked on the way in; this also covers a page
    /// calling a server function in-process while it renders.
    pub(crate) fn authorize<F: ServerFn>() -> Result<(), ServerFnError> {
        let Some(required) = access::required(F::PATH) else {
            return Err(ServerFnError::new(format!(
                "{} has no access rule; it is refused",
                F::PATH
            )));
        };
        match access::decide(required, identity().as_ref()) {
            Decision::Allow => Ok(()),
            Decision::SignInRequired => Err(ServerFnError::new("sign in required")),
            Decision::Forbidden { needed } => {
                Err(ServerFnError::new(format!("this needs the {needed} role")))
            }
        }
    }

    /// The backend, for a caller allowed to call the server function `F`.
    pub(crate) fn backend_for<F: ServerFn>() -> Result<SharedBackend, ServerFnError> {
        authorize::<F>()?;
        use_context::<SharedBackend>()
            .ok_or_else(|| ServerFnError::new("the server did not provide its backend"))
    }
}

#[cfg(feature = "ssr")]
pub(crate) use backend::{authorize, backend_for, caller, identity};
