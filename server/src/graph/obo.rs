//! On-behalf-of tokens for one downstream API, kept in memory per user.
//!
//! A Teams user's sign-in (SSO) token has this application as its audience;
//! a token for another API on their behalf comes from the identity
//! platform's on-behalf-of grant ([`TokenSource::on_behalf_of`], through the
//! shared [`super::Transport`], so the server's retries, breakers and
//! metrics apply). [`OboTokens`] keeps each user's result until shortly
//! before it expires (the same margin as app tokens), at most `capacity`
//! users at a time, forgetting the user added longest ago when full. An entry
//! is reused only for the sign-in token it was obtained from (it remembers
//! the SHA-256 digest of that token, never the token): a user who signs in
//! again gets a fresh exchange, and so does a user whose token the API
//! refused ([`OboTokens::forget`]). One exchange at a time per user. Nothing is
//! ever written anywhere; tokens stay [`Secret`]s.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::auth::{AccessToken, TokenSource};
use super::{GraphError, Secret};

/// The delegated scopes ACS's Teams user token exchange needs (space
/// separated, as the `scope` parameter takes them).
pub const ACS_TEAMS_SCOPES: &str =
    "https://auth.msft.net/Teams.ManageCalls https://auth.msft.net/Teams.ManageChats";

/// How many users' on-behalf-of tokens are kept by default.
pub const DEFAULT_OBO_CAPACITY: usize = 4096;

/// A user, by tenant and object id.
type UserKey = (String, String);

struct Held {
    /// SHA-256 of the sign-in token this was obtained from.
    assertion: [u8; 32],
    token: AccessToken,
}

type Slot = Arc<tokio::sync::Mutex<Option<Held>>>;

#[derive(Default)]
struct Cache {
    slots: HashMap<UserKey, (u64, Slot)>,
    added: u64,
}

/// On-behalf-of tokens for `scope`, cached per user in memory.
pub struct OboTokens {
    source: Arc<TokenSource>,
    scope: String,
    capacity: usize,
    cache: Mutex<Cache>,
}

impl fmt::Debug for OboTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OboTokens")
            .field("scope", &self.scope)
            .field("capacity", &self.capacity)
            .field("users", &self.len())
            .finish_non_exhaustive()
    }
}

impl OboTokens {
    /// Tokens for `scope` from `source`, for at most `capacity` users (at
    /// least one).
    pub fn new(source: Arc<TokenSource>, scope: &str, capacity: usize) -> OboTokens {
        OboTokens {
            source,
            scope: scope.to_owned(),
            capacity: capacity.max(1),
            cache: Mutex::default(),
        }
    }

    /// The application the tokens are obtained by (and so issued to).
    pub fn client_id(&self) -> &str {
        self.source.client_id()
    }

    /// The scope asked for.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// How many users have an entry now.
    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// Whether no user has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, tenant: &str, oid: &str) -> Slot {
        let mut cache = self.lock();
        let key = (tenant.to_owned(), oid.to_owned());
        if let Some((_, slot)) = cache.slots.get(&key) {
            return slot.clone();
        }
        while cache.slots.len() >= self.capacity {
            let oldest = cache
                .slots
                .iter()
                .min_by_key(|(_, (added, _))| *added)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => cache.slots.remove(&k),
                None => break,
            };
        }
        cache.added += 1;
        let added = cache.added;
        let slot = Slot::default();
        cache.slots.insert(key, (added, slot.clone()));
        slot
    }

    /// Forgets `oid`'s token (the API it is for refused it), so that the
    /// next [`OboTokens::token`] exchanges afresh.
    pub fn forget(&self, tenant: &str, oid: &str) {
        self.lock()
            .slots
            .remove(&(tenant.to_owned(), oid.to_owned()));
    }

    /// A token for the scope on behalf of user `oid` of `tenant`, whose
    /// sign-in token is `assertion`: the cached one while it is fresh and
    /// was obtained from the same sign-in token, else a new exchange.
    /// Refusals (`invalid_grant`, `consent_required`, …) and failures come
    /// back as the [`GraphError`] the token endpoint gave; nothing is cached
    /// then.
    pub async fn token(
        &self,
        tenant: &str,
        oid: &str,
        assertion: &Secret,
    ) -> Result<Secret, GraphError> {
        let digest: [u8; 32] = Sha256::digest(assertion.expose().as_bytes()).into();
        let slot = self.slot(tenant, oid);
        let mut held = slot.lock().await;
        let now = self.source.clock().now();
        if let Some(h) = held
            .as_ref()
            .filter(|h| h.assertion == digest && now < h.token.renew_at)
        {
            return Ok(h.token.secret.clone());
        }
        *held = None;
        let token = self
            .source
            .on_behalf_of(tenant, assertion, &self.scope)
            .await?;
        tracing::debug!(
            tenant,
            user = oid,
            scope = %self.scope,
            expires_in_secs = token.expires_at.saturating_duration_since(now).as_secs(),
            "on-behalf-of token acquired"
        );
        let secret = token.secret.clone();
        *held = Some(Held {
            assertion: digest,
            token,
        });
        Ok(secret)
    }
}
