//! `GET /metrics`: Prometheus text exposition of request counts and latencies, of what this
//! process's workers did (`crate::activity`), and of the pipeline's state as the store holds
//! it (see `pipeline_metrics`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sqlx::PgPool;

use crate::activity::ACTIVITY;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route pattern, never the raw path, so that label values stay few.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::default(),
            // 1 ms to about 33 s.
            durations: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 16))
            }),
        }
    }
}

impl HttpMetrics {
    fn observe(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        let (method, route) = (method.to_string(), route.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route: route.clone(),
                status: status.as_u16(),
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { method, route })
            .observe(seconds);
    }

    /// Adds the request series (shared with this process's counters) to `registry`.
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "HTTP requests answered",
            self.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            self.durations.clone(),
        );
    }
}

fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

/// The label value for a method or route outside the known set.
const OTHER: &str = "other";

/// Middleware: counts and times every request.
pub async fn track(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // Label values come from a fixed set: a request cannot make a new series with a made-up
    // method or path (each series is memory kept for the process's life).
    let method = match *request.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => request.method().as_str().to_string(),
        _ => OTHER.to_string(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| OTHER.to_string());
    let response = next.run(request).await;
    metrics.observe(
        &method,
        &route,
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub async fn exposition(
    State(metrics): State<Arc<HttpMetrics>>,
    State(pool): State<PgPool>,
) -> impl IntoResponse {
    let mut registry = Registry::with_prefix("trailkeeper");
    metrics.register(&mut registry);
    ACTIVITY.register(&mut registry);
    super::pipeline_metrics::register(&mut registry, &pool).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        encode(&registry),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_route_and_status_with_a_latency_histogram() {
        let metrics = HttpMetrics::default();
        metrics.observe("GET", "/healthz", StatusCode::OK, 0.004);
        metrics.observe("GET", "/healthz", StatusCode::OK, 0.002);
        metrics.observe("GET", "/healthz", StatusCode::SERVICE_UNAVAILABLE, 0.5);
        let mut registry = Registry::with_prefix("trailkeeper");
        metrics.register(&mut registry);
        let text = encode(&registry);
        assert!(
            text.contains(
                r#"trailkeeper_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"status="503"} 1"#), "{text}");
        assert!(
            text.contains(r#"trailkeeper_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"trailkeeper_http_request_duration_seconds_bucket{le="0.004",method="GET",route="/healthz"} 2"#),
            "{text}"
        );
    }
}
