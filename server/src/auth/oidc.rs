//! Single sign-on with OpenID Connect: the authorization code flow with PKCE, a one-time
//! `state` and a `nonce` bound to the ID token. The provider is discovered on first use (so a
//! provider that is down at start does not stop Trailkeeper), the ID token's signature,
//! issuer, audience, expiry and nonce are checked by `openidconnect`, and the account's role
//! comes from one claim through the configured mapping. Users are created on first sign-in
//! and keep their role in step with the provider at every sign-in.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, reqwest,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::OnceCell;
use trailkeeper_app::Role;
use trailkeeper_app::scope::Scope as AccessScope;

use super::secret;
use super::sessions::{NewSession, SessionPolicy};
use super::sign_in::open_session;
use super::users::{self, User};
use crate::audit::{Action, Entry, Outcome};

/// How long a browser may take at the provider before the sign-in must start again.
const PENDING_LIFETIME_SECS: f64 = 600.0;

/// The provider and how its accounts map to roles.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// The ID token claim (a string or a list of strings) that decides the role.
    pub role_claim: String,
    /// Which claim value gives which role; `*` matches anyone the provider signed in. The
    /// highest role that matches wins.
    pub roles: Vec<(Role, String)>,
    /// Which claim value (of the same claim) limits people to which scope terms
    /// (`TRAILKEEPER_OIDC_SCOPES`); `None`: scopes are set in Trailkeeper, not by the provider.
    pub scopes: Option<Vec<(AccessScope, String)>>,
}

/// What the provider's claim says of a person's scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeGrant {
    /// No scope mapping: the scope admins gave the account stays.
    Kept,
    /// The terms of every matching entry together; `None` when one covers everything.
    Mapped(Option<AccessScope>),
    /// Scopes are mapped and no entry matches: no access.
    Unmatched,
}

/// A claim's value or values.
fn claim_values(claim: Option<&Value>) -> Vec<&str> {
    match claim {
        Some(Value::String(value)) => vec![value.as_str()],
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl OidcSettings {
    /// The role the claim's value(s) give, if any.
    pub fn role_for(&self, claim: Option<&Value>) -> Option<Role> {
        let values = claim_values(claim);
        self.roles
            .iter()
            .filter(|(_, wanted)| wanted == "*" || values.contains(&wanted.as_str()))
            .map(|(role, _)| *role)
            .max()
    }

    /// The scope the claim's value(s) give: a person in two teams sees both.
    pub fn scope_for(&self, claim: Option<&Value>) -> ScopeGrant {
        let Some(mapping) = &self.scopes else {
            return ScopeGrant::Kept;
        };
        let values = claim_values(claim);
        let mut granted: Option<AccessScope> = None;
        for (scope, wanted) in mapping {
            if wanted == "*" || values.contains(&wanted.as_str()) {
                granted.get_or_insert_default().extend(scope.clone());
            }
        }
        match granted {
            None => ScopeGrant::Unmatched,
            Some(scope) => ScopeGrant::Mapped(scope.limit()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider at {issuer} cannot be used: {problem}")]
    Provider { issuer: String, problem: String },
    #[error("the sign-in is unknown, was already used or took longer than 10 minutes")]
    UnknownState,
    #[error("the sign-in was started in another browser")]
    OtherBrowser,
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the identity provider's answer could not be verified: {0}")]
    Unverified(String),
    #[error("{name} has no Trailkeeper role: claim {claim:?} matches no role mapping")]
    NoRole { name: String, claim: String },
    #[error("{name} has no Trailkeeper scope: claim {claim:?} matches no scope mapping")]
    NoScope { name: String, claim: String },
    #[error("the account name {0:?} from the identity provider is not a valid user name")]
    InvalidName(String),
    #[error("the name {0:?} belongs to another Trailkeeper account")]
    NameTaken(String),
    #[error("the user {0} is disabled")]
    Disabled(String),
    #[error("the user store failed")]
    Store(#[from] sqlx::Error),
}

impl OidcError {
    /// What the sign-in page says about it (a fixed code, never provider text).
    pub fn reason(&self) -> &'static str {
        match self {
            OidcError::UnknownState | OidcError::OtherBrowser => "sso-expired",
            OidcError::NoRole { .. } => "sso-no-role",
            OidcError::NoScope { .. } => "sso-no-scope",
            OidcError::Disabled(_) => "sso-disabled",
            OidcError::NameTaken(_) | OidcError::InvalidName(_) => "sso-name",
            _ => "sso-failed",
        }
    }
}

/// What the provider's redirect brought back to a browser.
pub struct Returned<'a> {
    pub code: &'a str,
    pub state: &'a str,
    /// The single sign-on binding the browser's cookie carries, if any.
    pub browser: Option<&'a str>,
}

pub struct Oidc {
    settings: OidcSettings,
    /// Where the provider sends the browser back: `<public URL>/login/sso/callback`.
    redirect_url: String,
    http: reqwest::Client,
    provider: OnceCell<CoreProviderMetadata>,
}

impl Oidc {
    pub fn new(settings: OidcSettings, redirect_url: String) -> Self {
        let http = reqwest::ClientBuilder::new()
            // Following redirects would let a provider's answer send us anywhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with rustls builds");
        Oidc {
            settings,
            redirect_url,
            http,
            provider: OnceCell::new(),
        }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    fn provider_error(&self, problem: impl std::fmt::Display) -> OidcError {
        OidcError::Provider {
            issuer: self.settings.issuer.clone(),
            problem: problem.to_string(),
        }
    }

    async fn client(
        &self,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let metadata = self
            .provider
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.settings.issuer.clone())
                    .map_err(|error| self.provider_error(error))?;
                CoreProviderMetadata::discover_async(issuer, &self.http)
                    .await
                    .map_err(|error| self.provider_error(format!("discovery failed: {error}")))
            })
            .await?
            .clone();
        let redirect = RedirectUrl::new(self.redirect_url.clone())
            .map_err(|error| self.provider_error(error))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: remembers its one-time state, PKCE verifier and nonce, bound to
    /// the browser by `browser` (a secret the browser keeps in a cookie), and returns the
    /// provider's address to send the browser to.
    pub async fn begin(
        &self,
        pool: &PgPool,
        next: &str,
        browser: &str,
    ) -> Result<String, OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let mut tx = pool.begin().await?;
        sqlx::query!(
            "DELETE FROM sso_logins WHERE created_at < now() - make_interval(secs => $1)",
            PENDING_LIFETIME_SECS,
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO sso_logins (state_hash, pkce_verifier, nonce, next, browser_hash) \
             VALUES ($1, $2, $3, $4, $5)",
            secret::digest(state.secret()),
            verifier.secret(),
            nonce.secret(),
            next,
            secret::digest(browser),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(url.to_string())
    }

    /// Finishes a sign-in the provider sent back: checks the state and that this is the
    /// browser that started it, exchanges the code with the PKCE verifier, verifies the ID
    /// token, maps the role, and opens a session. Returns the user, the session and where the
    /// browser was going.
    pub async fn complete(
        &self,
        pool: &PgPool,
        returned: Returned<'_>,
        policy: SessionPolicy,
        address: &str,
        user_agent: Option<&str>,
    ) -> Result<(User, NewSession, String), OidcError> {
        let Returned {
            code,
            state,
            browser,
        } = returned;
        let Some(browser) = browser else {
            return Err(OidcError::OtherBrowser);
        };
        // Only the browser that started the sign-in consumes it: another one (a victim sent
        // an attacker's callback URL) neither signs in nor spends the state.
        let pending = sqlx::query!(
            "DELETE FROM sso_logins WHERE state_hash = $1 AND browser_hash = $3 \
               AND created_at > now() - make_interval(secs => $2) \
             RETURNING pkce_verifier, nonce, next",
            secret::digest(state),
            PENDING_LIFETIME_SECS,
            secret::digest(browser),
        )
        .fetch_optional(pool)
        .await?;
        let Some(pending) = pending else {
            let started = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM sso_logins WHERE state_hash = $1) AS "started!""#,
                secret::digest(state),
            )
            .fetch_one(pool)
            .await?;
            return Err(if started {
                OidcError::OtherBrowser
            } else {
                OidcError::UnknownState
            });
        };

        let client = self.client().await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|error| self.provider_error(error))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| OidcError::Refused(error.to_string()))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::Unverified("the answer has no ID token".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
            .map_err(|error| OidcError::Unverified(error.to_string()))?;

        let subject = claims.subject().as_str().to_string();
        let name = claims
            .preferred_username()
            .map(|name| name.as_str().to_string())
            .or_else(|| claims.email().map(|email| email.as_str().to_string()))
            .unwrap_or_else(|| subject.clone());
        // The signature is verified above; the role claim is read from the same token.
        let payload = verified_payload(&id_token.to_string())
            .map_err(|problem| OidcError::Unverified(problem.into()))?;
        let claim = payload.get(&self.settings.role_claim);
        let Some(role) = self.settings.role_for(claim) else {
            let error = OidcError::NoRole {
                name: name.clone(),
                claim: self.settings.role_claim.clone(),
            };
            self.record_failure(pool, &name, address, &error).await?;
            return Err(error);
        };
        let scope = self.settings.scope_for(claim);
        if scope == ScopeGrant::Unmatched {
            let error = OidcError::NoScope {
                name: name.clone(),
                claim: self.settings.role_claim.clone(),
            };
            self.record_failure(pool, &name, address, &error).await?;
            return Err(error);
        }

        let external_id = format!("{} {subject}", self.settings.issuer);
        let user = match provision(pool, &external_id, &name, role, scope).await {
            Ok(user) => user,
            Err(error) => {
                self.record_failure(pool, &name, address, &error).await?;
                return Err(error);
            }
        };
        let mut tx = pool.begin().await?;
        let session = open_session(
            &mut tx,
            &user,
            policy,
            address,
            user_agent,
            " through single sign-on",
            json!({ "issuer": self.settings.issuer, "subject": subject }),
        )
        .await?;
        tx.commit().await?;
        Ok((user, session, pending.next))
    }

    async fn record_failure(
        &self,
        pool: &PgPool,
        name: &str,
        address: &str,
        error: &OidcError,
    ) -> Result<(), sqlx::Error> {
        tracing::warn!(user = %name, address, %error, "single sign-on refused");
        Entry::new(
            name,
            Action::SignIn,
            format!("single sign-on as {name} refused: {error}"),
        )
        .from_address(Some(address))
        .outcome(Outcome::Denied)
        .record(pool)
        .await
        .map(drop)
    }
}

/// The claims of a JWT whose signature has already been verified.
fn verified_payload(jwt: &str) -> Result<serde_json::Map<String, Value>, &'static str> {
    let payload = jwt.split('.').nth(1).ok_or("the ID token is not a JWT")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "the ID token's claims are not base64url")?;
    serde_json::from_slice(&bytes).map_err(|_| "the ID token's claims are not a JSON object")
}

/// The account for a provider's subject: created on first sign-in, its role (and its scope,
/// when the provider decides scopes) kept in step with the provider's mapping.
async fn provision(
    pool: &PgPool,
    external_id: &str,
    name: &str,
    role: Role,
    scope: ScopeGrant,
) -> Result<User, OidcError> {
    const ACTOR: &str = "single sign-on";
    let existing = users::by_external_id(pool, external_id)
        .await
        .map_err(store_error)?;
    let user = match existing {
        Some(found) => {
            if found.disabled_at.is_some() {
                return Err(OidcError::Disabled(found.name));
            }
            let found = if found.role != role {
                users::set_role(pool, ACTOR, &found.name, role)
                    .await
                    .map_err(store_error)?
            } else {
                found
            };
            match scope {
                ScopeGrant::Mapped(scope) if found.scope != scope => {
                    users::set_scope(pool, ACTOR, &found.name, scope.as_ref())
                        .await
                        .map_err(store_error)?
                }
                _ => found,
            }
        }
        None => {
            let scope = match &scope {
                ScopeGrant::Mapped(scope) => scope.as_ref(),
                ScopeGrant::Kept | ScopeGrant::Unmatched => None,
            };
            users::add_external(pool, ACTOR, name, role, scope, external_id)
                .await
                .map_err(|error| match error {
                    users::UserError::InvalidName(name) => OidcError::InvalidName(name),
                    users::UserError::NameTaken(name) => OidcError::NameTaken(name),
                    other => store_error(other),
                })?
        }
    };
    Ok(user)
}

fn store_error(error: users::UserError) -> OidcError {
    match error {
        users::UserError::Store(error) => OidcError::Store(error),
        other => OidcError::Unverified(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(roles: &[(Role, &str)]) -> OidcSettings {
        OidcSettings {
            issuer: "https://id.example".into(),
            client_id: "trailkeeper".into(),
            client_secret: None,
            role_claim: "groups".into(),
            roles: roles
                .iter()
                .map(|(role, value)| (*role, value.to_string()))
                .collect(),
            scopes: None,
        }
    }

    #[test]
    fn each_matching_claim_value_adds_its_scope_and_none_matching_means_no_access() {
        let mapping = OidcSettings {
            scopes: Some(vec![
                (
                    "team=payments".parse().unwrap(),
                    "payments-engineers".into(),
                ),
                ("111111111111".parse().unwrap(), "payments-engineers".into()),
                ("identity/*".parse().unwrap(), "identity-engineers".into()),
                ("*".parse().unwrap(), "secops-admins".into()),
            ]),
            ..settings(&[(Role::Viewer, "*")])
        };
        assert_eq!(
            mapping.scope_for(Some(&json!(["payments-engineers"]))),
            ScopeGrant::Mapped(Some("team=payments,111111111111".parse().unwrap()))
        );
        assert_eq!(
            mapping.scope_for(Some(&json!(["payments-engineers", "identity-engineers"]))),
            ScopeGrant::Mapped(Some(
                "team=payments,111111111111,identity/*".parse().unwrap()
            ))
        );
        assert_eq!(
            mapping.scope_for(Some(&json!(["secops-admins", "payments-engineers"]))),
            ScopeGrant::Mapped(None),
            "* covers everything"
        );
        assert_eq!(
            mapping.scope_for(Some(&json!("engineering"))),
            ScopeGrant::Unmatched
        );
        assert_eq!(
            settings(&[(Role::Viewer, "*")]).scope_for(None),
            ScopeGrant::Kept
        );
    }

    #[test]
    fn the_highest_matching_role_wins_and_no_match_means_no_access() {
        let mapping = settings(&[
            (Role::Admin, "secops-admins"),
            (Role::Auditor, "audit"),
            (Role::Viewer, "*"),
        ]);
        assert_eq!(
            mapping.role_for(Some(&json!(["audit", "secops-admins"]))),
            Some(Role::Admin)
        );
        assert_eq!(mapping.role_for(Some(&json!("audit"))), Some(Role::Auditor));
        assert_eq!(
            mapping.role_for(None),
            Some(Role::Viewer),
            "* matches anyone"
        );

        let strict = settings(&[(Role::Auditor, "audit")]);
        assert_eq!(strict.role_for(Some(&json!(["engineering"]))), None);
        assert_eq!(strict.role_for(Some(&json!(42))), None);
    }

    #[test]
    fn claims_are_read_from_the_token_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","groups":["audit"]}"#);
        let claims = verified_payload(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(claims["groups"], json!(["audit"]));
        assert!(verified_payload("not a jwt").is_err());
    }
}
