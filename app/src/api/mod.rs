//! Server functions: the browser's only way to reach the server's data. Each one stays thin:
//! it finds the [`Backend`] the server provided through context and calls into it, so the
//! domain logic lives (and is tested) in the server crate.

pub mod overview;

#[cfg(feature = "ssr")]
pub use backend::{Backend, SharedBackend};

#[cfg(feature = "ssr")]
mod backend {
    use leptos::prelude::*;
    use std::sync::Arc;

    use super::overview::Overview;

    /// What the pages need from the server's store and configuration. The server crate
    /// implements it and provides an [`Arc`] of it as Leptos context for every request.
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn overview(&self) -> Result<Overview, ServerFnError>;
    }

    pub type SharedBackend = Arc<dyn Backend>;

    pub(crate) fn backend() -> Result<SharedBackend, ServerFnError> {
        use_context::<SharedBackend>()
            .ok_or_else(|| ServerFnError::new("the server did not provide its backend"))
    }
}
