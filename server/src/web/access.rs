//! The request path every request takes: who is asking ([`identify`]: a session cookie or
//! a bearer token), whether a state-changing request came from our own pages ([`identify`]
//! refuses cross-site ones), and whether the asker may reach the route ([`authorize`], from
//! the one access table). A route the table does not know is refused.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use ipnet::IpNet;
use sqlx::PgPool;
use trailkeeper_app::AppError;
use trailkeeper_app::access::{self, Access, Decision, Identity};

use crate::auth::sessions::{self, SessionPolicy};
use crate::auth::sign_in::SignInLimits;
use crate::auth::tokens;

/// How sign-in and sessions behave on this server.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub sessions: SessionPolicy,
    pub limits: SignInLimits,
    /// Reached over HTTPS (served with TLS, or behind a proxy that terminates it):
    /// cookies are `Secure` and `__Host-` prefixed, and HSTS is sent.
    pub tls: bool,
    /// Proxies whose `X-Forwarded-For` names the client, for throttling and the audit log.
    pub trusted_proxies: Vec<IpNet>,
}

impl AuthSettings {
    pub fn cookie_name(&self) -> &'static str {
        if self.tls {
            "__Host-trailkeeper_session"
        } else {
            "trailkeeper_session"
        }
    }

    /// Trailkeeper's cookies' attributes, whatever they carry: `HttpOnly`, `SameSite=Lax`
    /// (sent on top-level navigations, such as the identity provider's redirect back), and
    /// `Secure` over HTTPS.
    fn cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .secure(self.tls)
            .same_site(SameSite::Lax)
            .build()
    }

    /// A cookie `name` carrying `value` for `lifetime`.
    fn setting(
        &self,
        name: &'static str,
        value: String,
        lifetime: cookie::time::Duration,
    ) -> HeaderValue {
        let mut cookie = self.cookie(name, value);
        cookie.set_max_age(lifetime);
        HeaderValue::from_str(&cookie.to_string()).expect("Trailkeeper's cookies are plain ASCII")
    }

    /// Tells the browser to forget the cookie `name`.
    fn removal(&self, name: &'static str) -> HeaderValue {
        let mut cookie = self.cookie(name, String::new());
        cookie.make_removal();
        HeaderValue::from_str(&cookie.to_string()).expect("a removal cookie is plain ASCII")
    }

    /// The cookie that carries a new session's secret.
    pub fn session_cookie(&self, secret: String) -> HeaderValue {
        self.setting(
            self.cookie_name(),
            secret,
            cookie::time::Duration::seconds(self.sessions.lifetime.as_secs() as i64),
        )
    }

    /// Tells the browser to forget the session cookie.
    pub fn removal_cookie(&self) -> HeaderValue {
        self.removal(self.cookie_name())
    }

    /// The session secret the request's cookie carries, if any.
    pub fn session_secret(&self, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, self.cookie_name())
    }

    fn sso_cookie_name(&self) -> &'static str {
        if self.tls {
            "__Host-trailkeeper_sso"
        } else {
            "trailkeeper_sso"
        }
    }

    /// The cookie that binds a single sign-on under way to this browser, for as long as the
    /// provider may take.
    pub fn sso_cookie(&self, browser: String) -> HeaderValue {
        self.setting(
            self.sso_cookie_name(),
            browser,
            cookie::time::Duration::minutes(10),
        )
    }

    /// Forgets the single sign-on binding once it is used.
    pub fn sso_removal_cookie(&self) -> HeaderValue {
        self.removal(self.sso_cookie_name())
    }

    /// The single sign-on binding the request's cookie carries, if any.
    pub fn sso_browser(&self, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, self.sso_cookie_name())
    }
}

/// The value of the request's cookie `name`, if it sent one.
pub(super) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
}

pub use trailkeeper_app::access::ClientAddress;

/// Who the client is: the connection's peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not one of the trusted proxies (what lies
/// further left was written by the client itself and proves nothing).
fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> String {
    let Some(peer) = peer else {
        return "unknown".to_string();
    };
    let is_trusted = |address: &IpAddr| trusted.iter().any(|network| network.contains(address));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) => {
                client = address;
                if !is_trusted(&address) {
                    break;
                }
            }
            // A hop that is not an address ends what can be believed.
            Err(_) => break,
        }
    }
    client.to_string()
}

/// Set when the request carried a session cookie that is no longer valid, so the sign-in
/// page can say the session ended.
#[derive(Clone, Copy, Debug)]
struct EndedSession;

#[derive(Clone)]
pub struct AccessState {
    pub pool: PgPool,
    pub settings: Arc<AuthSettings>,
}

/// Establishes who is asking and refuses cross-site state changes; runs before routing.
pub async fn identify(
    State(state): State<AccessState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let address = client_address(peer, request.headers(), &state.settings.trusted_proxies);
    request
        .extensions_mut()
        .insert(ClientAddress(address.clone()));

    let bearer = bearer_token(request.headers());
    let identity = if let Some(token) = &bearer {
        match tokens::resolve(&state.pool, token).await {
            Ok(Some(identity)) => Some(identity),
            Ok(None) => {
                tracing::warn!(%address, "refused an unknown, revoked or expired API token");
                return AppError::Unauthorized(
                    "the bearer token is unknown, revoked or expired".into(),
                )
                .into_response();
            }
            Err(error) => return AppError::from(error).into_response(),
        }
    } else if let Some(secret) = state.settings.session_secret(request.headers()) {
        match sessions::resolve(&state.pool, &secret, state.settings.sessions).await {
            Ok(Some(session)) => Some(session.identity),
            Ok(None) => {
                request.extensions_mut().insert(EndedSession);
                None
            }
            Err(error) => return AppError::from(error).into_response(),
        }
    } else {
        None
    };

    // A bearer token is never sent by a browser on its own, so it cannot be forged across
    // sites; anything else that changes state must come from our own pages.
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && bearer.is_none() && !same_origin(request.headers()) {
        tracing::warn!(%address, path = request.uri().path(), "refused a cross-site request");
        return AppError::Forbidden(
            "cross-site request refused: state-changing requests must come from Trailkeeper's own pages"
                .into(),
        )
        .into_response();
    }

    if let Some(identity) = identity {
        request.extensions_mut().insert(identity);
    }
    next.run(request).await
}

/// Lets the request through to a page or server function only if the access table allows
/// its route for the requester. Registered as a route layer, so the route is known.
pub async fn authorize(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let Some(required) = access::required(&route) else {
        tracing::error!(%route, "refused a route that has no access rule");
        return AppError::Forbidden("this route has no access rule".into()).into_response();
    };
    // The app's routes are its pages and, under /api, its server functions.
    let answer = if route.starts_with("/api/") {
        Answer::Json
    } else {
        Answer::Page
    };
    enforce(required, answer, request, next).await
}

/// How a route answers a refusal: pages send people to sign in or show a page; everything
/// else answers JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Page,
    Json,
}

/// Lets the request through only if `required` allows the requester; every response that
/// depends on who asked is kept out of caches.
pub async fn enforce(required: Access, answer: Answer, request: Request, next: Next) -> Response {
    let identity = request.extensions().get::<Identity>();
    let mut response = match (access::decide(required, identity), answer) {
        (Decision::Allow, _) => next.run(request).await,
        (Decision::SignInRequired, Answer::Json) => {
            AppError::Unauthorized("sign in required".into()).into_response()
        }
        (Decision::SignInRequired, Answer::Page) => sign_in_required(&request),
        (refused, Answer::Json) => {
            AppError::Forbidden(refused.refusal().unwrap_or_default()).into_response()
        }
        (refused, Answer::Page) => forbidden_page(refused),
    };
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Sends people to the sign-in page, and back here after it.
fn sign_in_required(request: &Request) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let target = request
        .uri()
        .path_and_query()
        .map(|target| target.as_str())
        .unwrap_or("/");
    if target != "/" {
        query.append_pair("next", target);
    }
    if request.extensions().get::<EndedSession>().is_some() {
        query.append_pair("reason", "expired");
    }
    let query = query.finish();
    if query.is_empty() {
        Redirect::to("/login").into_response()
    } else {
        Redirect::to(&format!("/login?{query}")).into_response()
    }
}

/// A page of its own: the route exists, but this person may not see it.
fn forbidden_page(refused: Decision) -> Response {
    let why = match refused {
        Decision::Forbidden { needed } => {
            format!("This page needs the <strong>{needed}</strong> role.")
        }
        _ => "This page covers the whole estate, and your access is scoped to part of it."
            .to_string(),
    };
    let stylesheet = super::stylesheet_link();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Not allowed · Trailkeeper</title>{stylesheet}</head>\
         <body><main><h1>Not allowed</h1><section class=\"panel\">\
         <p>{why}</p>\
         <p><a href=\"/\">Go to the overview</a></p></section></main></body></html>"
    );
    (
        StatusCode::FORBIDDEN,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; frame-ancestors 'none'",
                ),
            ),
        ],
        html,
    )
        .into_response()
}

/// The browser's own word that the request comes from this origin: the Fetch Metadata
/// header where the browser sends it, else the `Origin` header against `Host`. A request
/// with neither is refused.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site == "same-origin";
    }
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
    else {
        return false;
    };
    let (Ok(origin), Ok(host)) = (origin.to_str(), host.to_str()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn only_requests_from_our_own_origin_may_change_state() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ])));
        assert!(same_origin(&headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000"),
        ])));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:3000")])));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer tkp_abc")])).as_deref(),
            Some("tkp_abc")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Basic dXNlcg==")])),
            None
        );
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_names_it() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy = Some("10.0.0.5".parse().unwrap());
        let forwarded = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.7")]);
        assert_eq!(client_address(proxy, &forwarded, &trusted), "203.0.113.9");
        let stranger = Some("198.51.100.1".parse().unwrap());
        assert_eq!(
            client_address(stranger, &forwarded, &trusted),
            "198.51.100.1"
        );
        assert_eq!(client_address(proxy, &forwarded, &[]), "10.0.0.5");
        assert_eq!(client_address(proxy, &headers(&[]), &trusted), "10.0.0.5");
        let garbled = headers(&[("x-forwarded-for", "203.0.113.9, <script>")]);
        assert_eq!(client_address(proxy, &garbled, &trusted), "10.0.0.5");
        assert_eq!(client_address(None, &forwarded, &trusted), "unknown");
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_under_tls() {
        let mut settings = AuthSettings {
            sessions: SessionPolicy::default(),
            limits: SignInLimits::default(),
            tls: false,
            trusted_proxies: Vec::new(),
        };
        let plain = settings.session_cookie("tks_x".into());
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with("trailkeeper_session=tks_x"), "{plain}");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));

        settings.tls = true;
        let secure = settings.session_cookie("tks_x".into());
        let secure = secure.to_str().unwrap();
        assert!(
            secure.starts_with("__Host-trailkeeper_session="),
            "{secure}"
        );
        assert!(secure.contains("Secure") && secure.contains("Path=/"));

        let cookies = headers(&[("cookie", "a=b; __Host-trailkeeper_session=tks_y")]);
        assert_eq!(settings.session_secret(&cookies).as_deref(), Some("tks_y"));
    }
}
