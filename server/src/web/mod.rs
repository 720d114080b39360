//! HTTP: the Leptos pages and server functions, plus `/healthz` and `/metrics`.

mod backend;
pub mod health;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use sqlx::PgPool;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use trailkeeper_app::api::SharedBackend;
use trailkeeper_app::api::overview::AwsTarget;
use trailkeeper_app::{App, shell};

pub use backend::ServerBackend;
use metrics::HttpMetrics;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub metrics: Arc<HttpMetrics>,
}

/// No request Trailkeeper serves needs a larger body; a bigger one is refused with 413
/// before it is read.
pub const MAX_REQUEST_BODY: usize = 256 * 1024;

/// What the web layer needs to serve.
pub struct WebContext {
    pub pool: PgPool,
    pub database_location: String,
    pub aws: AwsTarget,
    pub listen: SocketAddr,
}

/// Leptos settings: the site files come from `LEPTOS_SITE_ROOT` (default `target/site`, where
/// `cargo leptos build` puts them), the address from Trailkeeper's own setting.
fn leptos_options(listen: SocketAddr) -> LeptosOptions {
    let mut options = get_configuration(None)
        .expect("Leptos reads its settings from LEPTOS_* variables with defaults")
        .leptos_options;
    options.site_addr = listen;
    options
}

pub fn router(context: WebContext) -> Router {
    let options = leptos_options(context.listen);
    let backend: SharedBackend = Arc::new(ServerBackend {
        pool: context.pool.clone(),
        database_location: context.database_location,
        aws: context.aws,
    });
    let state = AppState {
        leptos_options: options,
        pool: context.pool,
        metrics: Arc::new(HttpMetrics::default()),
    };
    let provide_backend = move || provide_context(backend.clone());

    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::exposition))
        .leptos_routes_with_context(&state, generate_route_list(App), provide_backend.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(provide_backend, shell))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        );
    with_security_headers(routes).with_state(state)
}

/// Sent with every response, whatever produced it.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

fn with_security_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    // Pages set their own policy (with the hydration script's nonce); everything else (JSON,
    // metrics, static files) needs to run nothing at all.
    let router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ));
    SECURITY_HEADERS
        .into_iter()
        .fold(router, |router, (name, value)| {
            router.layer(SetResponseHeaderLayer::overriding(
                name,
                HeaderValue::from_static(value),
            ))
        })
}
