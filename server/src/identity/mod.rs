//! Teams sign-in: the SSO token (an Entra ID access token) that arrives in
//! `Join.token`, checked for real. RS256 only; the signature against the
//! token's tenant's keys ([`keys::KeyCache`]); the issuer for that tenant
//! (v1 `https://sts.windows.net/{tid}/` or v2 `{login_url}/{tid}/v2.0`); the
//! audience (`[auth] audiences`, else `[graph] client_id`); expiry and
//! not-before with `[auth] leeway_secs`. The user is `(tid, oid)`.
//!
//! Validation runs in the connection task (never on a tick); the only wait
//! is a key fetch for the same tenant.

pub mod keys;
pub mod membership;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::config::Config;
use crate::store::queries::User;

/// What clients are told whatever was wrong with the token: the reason goes
/// to the log, never to a possible attacker.
pub const REFUSED: &str = "the Teams token was not accepted; sign in again";

/// How often a tenant's keys may be fetched again for an unknown key id.
pub const REFETCH_FLOOR: Duration = Duration::from_secs(300);

/// Why a token was refused (logged; clients see [`REFUSED`]).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Not a JWT, or a header or claim that cannot be read.
    #[error("malformed token")]
    Malformed,
    /// Another algorithm than RS256.
    #[error("algorithm not accepted")]
    Algorithm,
    /// No `tid`, or one that is not a tenant id.
    #[error("no usable tenant id")]
    Tenant,
    /// The tenant publishes no key with the token's `kid`.
    #[error("unknown signing key")]
    UnknownKey,
    /// The tenant's keys could not be fetched.
    #[error("signing keys unavailable: {0}")]
    Keys(String),
    /// Signature, issuer, audience, expiry or not-before failed.
    #[error("token rejected: {0}")]
    Rejected(jsonwebtoken::errors::Error),
    /// A claim the server needs is missing.
    #[error("claim missing: {0}")]
    Missing(&'static str),
}

/// Checks Teams SSO tokens.
#[derive(Debug)]
pub struct SignIn {
    keys: keys::KeyCache,
    login_url: String,
    audiences: Vec<String>,
    leeway: u64,
}

#[derive(Deserialize)]
struct Peek {
    tid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    tid: Option<String>,
    oid: Option<String>,
    name: Option<String>,
    upn: Option<String>,
    preferred_username: Option<String>,
}

fn is_tenant_id(tid: &str) -> bool {
    (1..=64).contains(&tid.len()) && tid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl SignIn {
    /// Teams sign-in as `config` sets it up; `None` when no audience is
    /// configured (Teams sign-in is then off).
    pub fn from_config(config: &Config) -> Result<Option<SignIn>, SignInError> {
        let mut audiences = config.auth.audiences.clone();
        if audiences.is_empty()
            && let Some(client_id) = config.graph.client_id.as_ref().filter(|c| !c.is_empty())
        {
            audiences.push(client_id.clone());
        }
        if audiences.is_empty() {
            return Ok(None);
        }
        Ok(Some(SignIn::new(
            &config.graph.login_url,
            audiences,
            config.auth.leeway_secs,
            REFETCH_FLOOR,
        )?))
    }

    /// Sign-in against `login_url` for `audiences`.
    pub fn new(
        login_url: &str,
        audiences: Vec<String>,
        leeway_secs: u64,
        refetch_floor: Duration,
    ) -> Result<SignIn, SignInError> {
        Ok(SignIn {
            keys: keys::KeyCache::new(login_url, refetch_floor)?,
            login_url: login_url.trim_end_matches('/').to_owned(),
            audiences,
            leeway: leeway_secs,
        })
    }

    /// The user `token` signs in, or why not.
    pub async fn check(&self, token: &str) -> Result<User, SignInError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| SignInError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(SignInError::Algorithm);
        }
        let kid = header.kid.ok_or(SignInError::Malformed)?;
        // The tenant picks the keys and the issuer; the signature then
        // proves the claims, `tid` included.
        let payload = token.split('.').nth(1).ok_or(SignInError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SignInError::Malformed)?;
        let peek: Peek = serde_json::from_slice(&bytes).map_err(|_| SignInError::Malformed)?;
        let tid = peek
            .tid
            .filter(|t| is_tenant_id(t))
            .ok_or(SignInError::Tenant)?;
        let key = self.keys.key(&tid, &kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_audience(&self.audiences);
        validation.set_issuer(&[
            format!("https://sts.windows.net/{tid}/"),
            format!("{}/{tid}/v2.0", self.login_url),
        ]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(SignInError::Rejected)?;
        let claims = data.claims;
        if claims.tid.as_deref() != Some(tid.as_str()) {
            return Err(SignInError::Tenant);
        }
        let object_id = claims
            .oid
            .filter(|o| !o.is_empty())
            .ok_or(SignInError::Missing("oid"))?;
        let upn = claims
            .upn
            .or(claims.preferred_username)
            .filter(|u| !u.is_empty())
            .ok_or(SignInError::Missing("upn"))?;
        let display_name = claims
            .name
            .map(|n| {
                n.trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(64)
                    .collect::<String>()
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| upn.chars().take(64).collect());
        Ok(User {
            tenant_id: tid,
            object_id,
            upn,
            display_name,
        })
    }
}
