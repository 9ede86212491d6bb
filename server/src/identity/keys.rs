//! Signing keys per tenant: the JWKS named by the tenant's OpenID
//! configuration, fetched on first use, cached, and fetched again when a
//! token names a key id the cache lacks, at most once per `refetch_floor`
//! per tenant (so garbage key ids cannot make the server hammer the
//! identity platform). At most [`MAX_TENANTS`] tenants are cached; a failed
//! fetch counts as a fetch, so a tenant that does not exist is asked about
//! once per floor too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::SignInError;

/// Most tenants whose keys are cached: a token may name any tenant, so
/// without a bound random tenant ids would grow the cache (and the fetches)
/// without end.
pub const MAX_TENANTS: usize = 10_000;

#[derive(Deserialize)]
struct OpenIdConfiguration {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    usage: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Default)]
struct TenantKeys {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched: Option<Instant>,
}

/// The key cache.
pub struct KeyCache {
    http: reqwest::Client,
    login_url: String,
    refetch_floor: Duration,
    tenants: DashMap<String, Arc<tokio::sync::Mutex<TenantKeys>>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("login_url", &self.login_url)
            .field("tenants", &self.tenants.len())
            .finish()
    }
}

impl KeyCache {
    /// A cache that fetches from `login_url` (e.g.
    /// `https://login.microsoftonline.com`).
    pub fn new(login_url: &str, refetch_floor: Duration) -> Result<KeyCache, SignInError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SignInError::Keys(e.to_string()))?;
        Ok(KeyCache {
            http,
            login_url: login_url.trim_end_matches('/').to_owned(),
            refetch_floor,
            tenants: DashMap::new(),
        })
    }

    /// The key `kid` of `tenant`; fetches the tenant's keys when they are
    /// not cached or lack `kid` (within the refetch floor).
    pub async fn key(&self, tenant: &str, kid: &str) -> Result<Arc<DecodingKey>, SignInError> {
        if self.tenants.len() >= MAX_TENANTS && !self.tenants.contains_key(tenant) {
            return Err(SignInError::UnknownKey);
        }
        let entry = self.tenants.entry(tenant.to_owned()).or_default().clone();
        // Only this tenant's sign-ins wait while its keys are fetched.
        let mut keys = entry.lock().await;
        if let Some(key) = keys.keys.get(kid) {
            return Ok(key.clone());
        }
        if keys
            .fetched
            .is_some_and(|at| at.elapsed() < self.refetch_floor)
        {
            return Err(SignInError::UnknownKey);
        }
        keys.fetched = Some(Instant::now());
        keys.keys = self.fetch(tenant).await?;
        keys.keys.get(kid).cloned().ok_or(SignInError::UnknownKey)
    }

    async fn fetch(&self, tenant: &str) -> Result<HashMap<String, Arc<DecodingKey>>, SignInError> {
        let fail = |e: reqwest::Error| SignInError::Keys(e.without_url().to_string());
        let url = format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            self.login_url
        );
        let config: OpenIdConfiguration = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(fail)?
            .json()
            .await
            .map_err(fail)?;
        let jwks: Jwks = self
            .http
            .get(&config.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(fail)?
            .json()
            .await
            .map_err(fail)?;
        let mut keys = HashMap::new();
        for jwk in jwks.keys {
            let usable = jwk.kty == "RSA"
                && jwk.alg.as_deref().is_none_or(|a| a == "RS256")
                && jwk.usage.as_deref().is_none_or(|u| u == "sig");
            let (Some(kid), Some(n), Some(e), true) = (jwk.kid, jwk.n, jwk.e, usable) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_rsa_components(&n, &e) {
                keys.insert(kid, Arc::new(key));
            }
        }
        tracing::debug!(tenant, keys = keys.len(), "signing keys fetched");
        Ok(keys)
    }
}
