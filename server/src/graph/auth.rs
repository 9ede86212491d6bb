//! Access tokens from the Microsoft identity platform
//! (`POST {login_url}/{tenant}/oauth2/v2.0/token`, form-encoded):
//! app-only tokens by client credentials, cached per tenant in memory until
//! shortly before they expire (one request at a time per tenant), and the
//! on-behalf-of exchange of a user's token for a token to another API
//! (cached per user by [`super::OboTokens`]).
//! Tokens and the client secret are [`Secret`]s: never logged, never written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use super::transport::{Answer, Call, Transport};
use super::{GraphError, Secret, error_of_aad};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// A token is renewed this long before it expires (or at half its life).
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// An access token and when it expires.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token, for an `Authorization: Bearer` header.
    pub secret: Secret,
    /// When it expires, on the transport's clock.
    pub expires_at: Instant,
    /// When to get a new one instead of using it.
    pub renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    token_type: String,
    expires_in: serde_json::Value,
    access_token: String,
}

type Slot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

/// Gets tokens for one application.
#[derive(Debug)]
pub struct TokenSource {
    transport: Arc<Transport>,
    login_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
    cache: Mutex<HashMap<String, Slot>>,
}

impl TokenSource {
    /// A token source for the application `client_id`.
    pub fn new(
        transport: Arc<Transport>,
        login_url: &str,
        client_id: &str,
        client_secret: Secret,
        scope: &str,
    ) -> Result<TokenSource, GraphError> {
        let login_url =
            Url::parse(login_url).map_err(|e| GraphError::Request(format!("login_url: {e}")))?;
        Ok(TokenSource {
            transport,
            login_url,
            client_id: client_id.to_owned(),
            client_secret,
            scope: scope.to_owned(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The clock token lifetimes are measured on (the transport's).
    pub fn clock(&self) -> &crate::clock::SharedClock {
        self.transport.clock()
    }

    fn slot(&self, tenant: &str) -> Slot {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.entry(tenant.to_owned()).or_default().clone()
    }

    /// An app-only token for `tenant`, from the cache while it is fresh.
    pub async fn app_token(&self, tenant: &str) -> Result<Secret, GraphError> {
        let slot = self.slot(tenant);
        let mut cached = slot.lock().await;
        let now = self.transport.clock().now();
        if let Some(token) = cached.as_ref().filter(|t| now < t.renew_at) {
            return Ok(token.secret.clone());
        }
        let token = self
            .request(
                tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &self.client_id),
                    ("client_secret", self.client_secret.expose()),
                    ("scope", &self.scope),
                ],
            )
            .await?;
        tracing::debug!(
            tenant,
            expires_in_secs = (token.expires_at - now).as_secs(),
            "app token acquired"
        );
        let secret = token.secret.clone();
        *cached = Some(token);
        Ok(secret)
    }

    /// Forgets `tenant`'s cached app token (Graph said it was not valid).
    pub async fn invalidate(&self, tenant: &str) {
        *self.slot(tenant).lock().await = None;
    }

    /// Exchanges a user's access token (`assertion`, whose audience is this
    /// application) for a token to `scope` on the user's behalf. Not cached
    /// here: [`super::OboTokens`] keeps results per user.
    pub async fn on_behalf_of(
        &self,
        tenant: &str,
        assertion: &Secret,
        scope: &str,
    ) -> Result<AccessToken, GraphError> {
        self.request(
            tenant,
            &[
                ("grant_type", JWT_BEARER),
                ("client_id", &self.client_id),
                ("client_secret", self.client_secret.expose()),
                ("assertion", assertion.expose()),
                ("scope", scope),
                ("requested_token_use", "on_behalf_of"),
            ],
        )
        .await
    }

    async fn request(
        &self,
        tenant: &str,
        form: &[(&str, &str)],
    ) -> Result<AccessToken, GraphError> {
        let mut url = self.login_url.clone();
        url.path_segments_mut()
            .map_err(|()| GraphError::Request("login_url cannot be a base".into()))?
            .pop_if_empty()
            .extend([tenant, "oauth2", "v2.0", "token"]);
        let body =
            serde_urlencoded::to_string(form).map_err(|e| GraphError::Request(e.to_string()))?;
        let started = self.transport.clock().now();
        let call = Call {
            endpoint: "token",
            tenant,
            budget: None,
        };
        let answer = self
            .transport
            .send(&call, |http| {
                http.post(url.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.clone())
            })
            .await?;
        parse_token(&answer, started)
    }
}

fn parse_token(answer: &Answer, started: Instant) -> Result<AccessToken, GraphError> {
    if answer.status != 200 {
        return Err(error_of_aad("token", answer));
    }
    let malformed = |reason: String| GraphError::Malformed {
        endpoint: "token",
        reason,
    };
    let parsed: TokenAnswer = serde_json::from_slice(&answer.body)
        .map_err(|e| malformed(format!("not a token answer: {e}")))?;
    if !parsed.token_type.eq_ignore_ascii_case("bearer") || parsed.access_token.is_empty() {
        return Err(malformed("not a bearer token".into()));
    }
    // The identity platform sends a number; older endpoints a string.
    let expires_in = match &parsed.expires_in {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|&s| s > 0)
    .ok_or_else(|| malformed("expires_in is not a positive number".into()))?;
    let lifetime = Duration::from_secs(expires_in);
    Ok(AccessToken {
        secret: Secret::new(parsed.access_token),
        expires_at: started + lifetime,
        renew_at: started + lifetime - RENEW_BEFORE.min(lifetime / 2),
    })
}
