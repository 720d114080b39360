//! HTTP: the Leptos pages and server functions, sign-in, the JSON API, `/healthz` and
//! `/metrics`, all behind one request path that decides who may reach what.

pub mod access;
mod admin_api;
pub mod alerts_api;
pub mod api;
mod backend;
mod export;
pub mod findings_api;
pub mod health;
pub mod metrics;
mod pipeline_metrics;
pub mod replica;
mod sign_in;
mod sso;

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{MethodFilter, MethodRouter, on};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use trailkeeper_app::access::{Access, Identity};
use trailkeeper_app::api::SharedBackend;
use trailkeeper_app::{App, AppError, Role, shell};
use utoipa::OpenApi;
use utoipa::openapi::path::Paths;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::admin::Administration;
use crate::admin::approvals::ApprovalPolicy;
use crate::alert::Alerting;
use crate::auth::oidc::Oidc;
use access::Answer;
pub use access::AuthSettings;
pub use backend::ServerBackend;
use metrics::HttpMetrics;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub metrics: Arc<HttpMetrics>,
    pub auth: Arc<AuthSettings>,
    /// Single sign-on, when configured.
    pub sso: Option<Arc<Oidc>>,
    pub alerting: Arc<Alerting>,
    pub ingest: Arc<api::IngestLimits>,
    /// Where the changes admins make go.
    pub administration: Administration,
    /// The read replica pages read from, when there is one.
    pub replica: Option<Arc<replica::Replica>>,
}

/// No request Trailkeeper serves needs a larger body, but `POST /api/v1/ingest`; a bigger
/// one is refused with 413 before it is read.
pub const MAX_REQUEST_BODY: usize = 256 * 1024;
/// A CloudTrail file posted to `/api/v1/ingest` (a day of a busy trail, gzip or not).
pub const MAX_INGEST_BODY: usize = 256 * 1024 * 1024;

/// What the web layer needs to serve.
pub struct WebContext {
    pub pool: PgPool,
    pub database_location: String,
    /// AWS as `serve` reaches it: the Overview names it, admins' changes go to it.
    pub aws_config: aws_config::SdkConfig,
    pub listen: SocketAddr,
    pub auth: AuthSettings,
    pub sso: Option<Oidc>,
    /// Channels' key and senders, for changing channels and sending test messages.
    pub alerting: Alerting,
    /// The most content one posted file may expand to (see `ingest::formats::read`).
    pub max_file_bytes: u64,
    /// Change nothing in AWS (`TRAILKEEPER_READ_ONLY`).
    pub read_only: bool,
    /// What the member accounts' roles require, for changes made in them.
    pub org_external_id: Option<String>,
    /// Which changes wait for a second admin (`TRAILKEEPER_APPROVALS`).
    pub approvals: ApprovalPolicy,
    /// A streaming read replica (`TRAILKEEPER_READ_DATABASE_URL`).
    pub replica: Option<replica::Replica>,
}

/// A route the server itself defines (the Leptos pages and server functions have theirs in
/// the app's access table), with who may reach it. Each answers a refusal with JSON.
pub struct ServerRoute {
    pub path: String,
    pub method: Method,
    pub access: Access,
    /// The largest request body it reads.
    pub body_limit: usize,
    handler: MethodRouter<AppState>,
    /// Its OpenAPI description, for the JSON API's routes.
    documentation: Option<Paths>,
}

impl ServerRoute {
    /// A route outside the JSON API.
    fn new<H, T>(method: Method, path: &str, access: Access, handler: H) -> ServerRoute
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method routes can take");
        ServerRoute {
            path: path.to_string(),
            method,
            access,
            body_limit: MAX_REQUEST_BODY,
            handler: on(filter, handler),
            documentation: None,
        }
    }

    /// A JSON API route: its handler's `#[utoipa::path]` gives its address, its method and
    /// its OpenAPI entry (`routes!(handler)`), so one line declares all of it with its rule.
    fn api(
        (_, documentation, handler): UtoipaMethodRouter<AppState>,
        access: Access,
    ) -> ServerRoute {
        let (path, item) = documentation
            .paths
            .iter()
            .next()
            .expect("routes! documents one path");
        let method = [
            (&item.get, Method::GET),
            (&item.post, Method::POST),
            (&item.put, Method::PUT),
            (&item.patch, Method::PATCH),
            (&item.delete, Method::DELETE),
        ]
        .into_iter()
        .find_map(|(operation, method)| operation.is_some().then_some(method))
        .expect("an API handler documents its method");
        ServerRoute {
            path: path.clone(),
            method,
            access,
            body_limit: MAX_REQUEST_BODY,
            handler,
            documentation: Some(documentation),
        }
    }

    /// Served at `path` instead of the documented address.
    fn at(self, path: &str) -> ServerRoute {
        ServerRoute {
            path: path.to_string(),
            ..self
        }
    }

    fn taking(self, body_limit: usize) -> ServerRoute {
        ServerRoute { body_limit, ..self }
    }
}

/// Every route the server defines besides the app's pages and server functions.
pub fn server_routes() -> Vec<ServerRoute> {
    let public = Access::Public;
    let viewer = Access::Role(Role::Viewer);
    let auditor = Access::Role(Role::Auditor);
    let admin = Access::Role(Role::Admin);
    // What covers the whole estate is not for people scoped to part of it.
    let estate_viewer = Access::Estate(Role::Viewer);
    let estate_auditor = Access::Estate(Role::Auditor);
    let estate_admin = Access::Estate(Role::Admin);
    vec![
        ServerRoute::new(Method::GET, "/healthz", public, health::healthz),
        ServerRoute::new(Method::GET, "/healthz/live", public, health::live),
        ServerRoute::new(Method::GET, "/healthz/ready", public, health::ready),
        ServerRoute::new(Method::GET, "/metrics", estate_viewer, metrics::exposition),
        ServerRoute::new(Method::POST, "/login", public, sign_in::sign_in),
        ServerRoute::new(Method::POST, "/logout", public, sign_in::sign_out),
        ServerRoute::new(Method::GET, "/login/sso", public, sso::begin),
        ServerRoute::new(Method::GET, "/login/sso/callback", public, sso::callback),
        ServerRoute::api(routes!(api::me), viewer),
        ServerRoute::api(routes!(api::list_secrets), viewer),
        // A secret's name may hold slashes; the same route serves its access report.
        ServerRoute::api(routes!(api::secret), viewer).at("/api/v1/secrets/{*id}"),
        ServerRoute::api(routes!(admin_api::change_secret), admin).at("/api/v1/secrets/{*id}"),
        // A principal's ARN holds slashes too.
        ServerRoute::api(routes!(api::principal), viewer).at("/api/v1/principals/{*arn}"),
        ServerRoute::api(routes!(admin_api::changes), estate_admin),
        ServerRoute::api(routes!(admin_api::decide_change), estate_admin),
        ServerRoute::api(routes!(api::ingest), estate_admin).taking(MAX_INGEST_BODY),
        ServerRoute::api(routes!(api::list_events), viewer),
        ServerRoute::api(routes!(export::csv), auditor),
        ServerRoute::api(routes!(export::json_lines), auditor),
        ServerRoute::api(routes!(findings_api::list), viewer),
        ServerRoute::api(routes!(findings_api::get), viewer),
        ServerRoute::api(routes!(findings_api::triage), auditor),
        ServerRoute::api(routes!(findings_api::suppressions), viewer),
        ServerRoute::api(routes!(findings_api::add_suppression), estate_auditor),
        ServerRoute::api(routes!(findings_api::remove_suppression), estate_auditor),
        ServerRoute::api(routes!(findings_api::detection_settings), viewer),
        ServerRoute::api(routes!(findings_api::put_detection_settings), estate_admin),
        ServerRoute::api(routes!(alerts_api::channels), estate_auditor),
        ServerRoute::api(routes!(alerts_api::add_channel), estate_admin),
        ServerRoute::api(routes!(alerts_api::change_channel), estate_admin),
        ServerRoute::api(routes!(alerts_api::remove_channel), estate_admin),
        ServerRoute::api(routes!(alerts_api::test_channel), estate_admin),
        ServerRoute::api(routes!(alerts_api::rules), estate_auditor),
        ServerRoute::api(routes!(alerts_api::add_rule), estate_admin),
        ServerRoute::api(routes!(alerts_api::remove_rule), estate_admin),
        ServerRoute::api(routes!(alerts_api::deliveries), estate_auditor),
        ServerRoute::api(routes!(alerts_api::retry_delivery), estate_admin),
        ServerRoute::api(routes!(api::openapi_document), viewer),
    ]
}

/// The OpenAPI document: the API's description, with each route's own entry.
pub fn api_document() -> utoipa::openapi::OpenApi {
    let mut document = api::ApiDocument::openapi();
    for documentation in server_routes()
        .into_iter()
        .filter_map(|route| route.documentation)
    {
        document.paths.merge(documentation);
    }
    api::describe_event_filters(&mut document);
    document
}

/// Leptos settings: the site files come from `LEPTOS_SITE_ROOT` (default `target/site`, where
/// `cargo leptos build` puts them), the address from Trailkeeper's own setting. A release
/// build names the CSS, JS and wasm by their content's hash and leaves the hashes beside the
/// binary (`hash.txt`): where they are, pages link the hashed names, which may be cached
/// for good.
fn leptos_options(listen: SocketAddr) -> LeptosOptions {
    let mut options = get_configuration(None)
        .expect("Leptos reads its settings from LEPTOS_* variables with defaults")
        .leptos_options;
    options.site_addr = listen;
    options.hash_files |= std::env::current_exe()
        .ok()
        .and_then(|binary| Some(binary.parent()?.join(options.hash_file.as_ref())))
        .is_some_and(|hashes| hashes.exists());
    options
}

/// The stylesheet's `<link>` for pages written without the app: the same for the process's
/// life, so made once.
fn stylesheet_link() -> &'static str {
    static LINK: LazyLock<String> = LazyLock::new(|| {
        trailkeeper_app::stylesheet_link(leptos_options(SocketAddr::from(([127, 0, 0, 1], 0))))
    });
    &LINK
}

pub fn router(context: WebContext) -> Router {
    let options = leptos_options(context.listen);
    let alerting = Arc::new(context.alerting);
    let administration = Administration::new(
        context.aws_config.clone(),
        context.org_external_id.clone(),
        context.read_only,
        context.approvals,
    );
    let backend: SharedBackend = Arc::new(ServerBackend {
        reader: crate::db::Reader::everything(context.pool.clone()),
        administration: administration.clone(),
        alerting: alerting.clone(),
        database_location: context.database_location,
        aws: crate::aws::target(&context.aws_config),
        single_sign_on: context.sso.is_some(),
    });
    let tls = context.auth.tls;
    let auth = Arc::new(context.auth);
    let state = AppState {
        leptos_options: options,
        pool: context.pool.clone(),
        metrics: Arc::new(HttpMetrics::default()),
        auth: auth.clone(),
        sso: context.sso.map(Arc::new),
        alerting,
        ingest: Arc::new(api::IngestLimits::new(context.max_file_bytes)),
        administration,
        replica: context.replica.map(Arc::new),
    };
    let provide_backend = move || provide_context(backend.clone());

    // Pages and server functions: each checked against the app's access table.
    let app_routes = Router::new()
        .leptos_routes_with_context(&state, generate_route_list(App), provide_backend.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .route_layer(middleware::from_fn(access::authorize))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY));
    let routes = server_routes()
        .into_iter()
        .fold(app_routes, |router, route| {
            let access = route.access;
            router.route(
                &route.path,
                route
                    .handler
                    .route_layer(middleware::from_fn(move |request: Request, next: Next| {
                        access::enforce(access, Answer::Json, request, next)
                    }))
                    .layer(RequestBodyLimitLayer::new(route.body_limit)),
            )
        });

    // Static files are public; any other unknown address is a 404 page for people signed
    // in, and the sign-in page for everyone else.
    let files_and_errors =
        leptos_axum::file_and_error_handler_with_context::<AppState, _>(provide_backend, shell);
    let hashed_names = state.leptos_options.hash_files;
    let fallback = move |uri: Uri, state: State<AppState>, request: Request| {
        let files_and_errors = files_and_errors.clone();
        async move {
            let signed_in = request.extensions().get::<Identity>().is_some();
            let immutable = hashed_names && uri.path().starts_with("/pkg/");
            let mut response = files_and_errors(uri, state, request).await;
            if response.status() == StatusCode::NOT_FOUND && !signed_in {
                return Redirect::to("/login").into_response();
            }
            if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, static_file_caching(immutable));
            }
            response
        }
    };

    let access_state = access::AccessState {
        pool: context.pool,
        settings: auth,
    };
    let routes = routes
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            replica::choose,
        ))
        .layer(middleware::from_fn_with_state(
            access_state,
            access::identify,
        ))
        // A bug must not show people a stack trace or drop their connection: the panic goes
        // to the log, the browser gets a plain 500.
        .layer(CatchPanicLayer::custom(|_| {
            AppError::internal("answering a request", "a panic").into_response()
        }))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        uri = %logged_uri(request.uri()),
                        version = ?request.version(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        );
    with_security_headers(routes, tls).with_state(state)
}

/// A file named by its content's hash never changes: browsers keep it a year without
/// asking. Any other file they keep but check first (the server answers 304 while it is
/// unchanged).
fn static_file_caching(hashed: bool) -> HeaderValue {
    HeaderValue::from_static(if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    })
}

/// A request's address as the log keeps it: single sign-on's callback carries a one-time
/// code and state in its query, which have no place in a log.
fn logged_uri(uri: &Uri) -> String {
    match uri.query() {
        Some(_) if uri.path() == "/login/sso/callback" => format!("{}?[redacted]", uri.path()),
        _ => uri.to_string(),
    }
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

/// Over TLS, browsers are told to use nothing else for two years.
const HSTS: &str = "max-age=63072000; includeSubDomains";

fn with_security_headers<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    tls: bool,
) -> Router<S> {
    // Pages set their own policy (with the hydration script's nonce); everything else (JSON,
    // metrics, static files) needs to run nothing at all.
    let router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ));
    let router = if tls {
        router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ))
    } else {
        router
    };
    SECURITY_HEADERS
        .into_iter()
        .fold(router, |router, (name, value)| {
            router.layer(SetResponseHeaderLayer::overriding(
                name,
                HeaderValue::from_static(value),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_sign_ons_code_and_state_never_reach_the_log() {
        let callback: Uri = "/login/sso/callback?code=abc123&state=xyz".parse().unwrap();
        assert_eq!(logged_uri(&callback), "/login/sso/callback?[redacted]");
        let events: Uri = "/events?principal=bob".parse().unwrap();
        assert_eq!(logged_uri(&events), "/events?principal=bob");
    }
}
