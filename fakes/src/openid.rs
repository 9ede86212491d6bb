//! The identity platform's OpenID Connect metadata and signing keys, as a
//! tenant's tokens are checked against them:
//! `GET {login}/{tenant}/v2.0/.well-known/openid-configuration` names
//! `jwks_uri`, `GET {login}/{tenant}/discovery/v2.0/keys` serves the JWKS.
//! The test sets the keys (made by the test) and counts the fetches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};

/// The keys the fake publishes, and how often they were fetched.
pub(crate) struct OpenId {
    base: String,
    jwks: Mutex<Value>,
    fetches: AtomicU64,
}

impl OpenId {
    pub(crate) fn new(base: String) -> Arc<OpenId> {
        Arc::new(OpenId {
            base,
            jwks: Mutex::new(json!({ "keys": [] })),
            fetches: AtomicU64::new(0),
        })
    }

    pub(crate) fn set_jwks(&self, jwks: Value) {
        *self.jwks.lock().unwrap_or_else(|e| e.into_inner()) = jwks;
    }

    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

/// The two routes, with their own state.
pub(crate) fn router(openid: Arc<OpenId>) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .with_state(openid)
}

async fn configuration(
    State(openid): State<Arc<OpenId>>,
    Path(tenant): Path<String>,
) -> Json<Value> {
    let base = &openid.base;
    Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn keys(State(openid): State<Arc<OpenId>>, Path(_tenant): Path<String>) -> Json<Value> {
    openid.fetches.fetch_add(1, Ordering::Relaxed);
    Json(
        openid
            .jwks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    )
}
