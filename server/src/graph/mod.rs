//! Everything that talks to Microsoft: the identity platform (tokens),
//! Microsoft Graph, and Azure Communication Services.
//!
//! ```text
//! GraphClient ──┐            ┌─ Budgets: token buckets per tenant and global, one
//! TokenSource ──┼─ Transport ┤   per kind of call; per-tenant pause after 429;
//! AcsClient ────┘  (reqwest, ├─ Breakers: a circuit breaker per endpoint
//!                   rustls)  └─ RetryPolicy: backoff with full jitter
//! ```
//!
//! One [`Transport`] per server, shared by every office, so the budgets are
//! the server's ([`config::BudgetConfig`], the product's data sheet by
//! default). A Graph call first waits, on the injected [`crate::clock`], until
//! every budget it spends has room and its tenant is not paused (it is
//! queued, never sent over budget); then the endpoint's circuit breaker must
//! be closed (or let it through as the half-open probe); then it is sent.
//! `429` (or `503` with `Retry-After`) pauses every Graph call of the tenant
//! for `Retry-After`; `5xx`, `408`, timeouts and connection errors are
//! retried with exponential backoff and full jitter up to
//! `[graph.retry] max_attempts`, then fail with [`GraphError::GaveUp`]. A
//! circuit that opened fails calls at once with [`GraphError::CircuitOpen`].
//! Unexpected answers become [`GraphError::Malformed`], never a panic.
//! Every request sent (each attempt) is counted by endpoint and status, and
//! every wait for a budget by endpoint, in the transport's
//! [`crate::metrics::GraphMetrics`] (the server's `/metrics`).
//!
//! Secrets (client secret, access key, tokens) are [`Secret`]s: in memory
//! only, `<redacted>` whenever printed. Tokens obtained on a user's behalf
//! (on-behalf-of, for ACS) are cached per user by [`OboTokens`], bounded and
//! in memory only.
//!
//! Several nodes do not share these budgets yet (a Redis-backed bucket is
//! for later).

pub mod acs;
pub mod auth;
pub mod breaker;
pub mod budget;
pub mod client;
pub mod config;
pub mod obo;
pub mod presence;
pub mod retry;
mod secret;
pub mod transport;

use std::time::Duration;

use serde::Deserialize;

pub use acs::{AcsClient, AcsToken};
pub use auth::{AccessToken, TokenSource};
pub use budget::{BudgetError, BudgetKind, Budgets};
pub use client::{CreateOrGet, GraphClient, OnlineMeeting};
pub use config::{BudgetConfig, GraphConfig, RetryConfig};
pub use obo::{ACS_TEAMS_SCOPES, DEFAULT_OBO_CAPACITY, OboTokens};
pub use presence::{ActivityNotification, GraphPresence, MAX_PRESENCE_IDS};
pub use secret::Secret;
pub use transport::{Answer, Call, Transport};

/// A call to Microsoft that did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Failures (5xx, timeouts, connection errors) or `429`s until the
    /// retry limit.
    #[error("{endpoint}: gave up after {attempts} attempts; last: {last}")]
    GaveUp {
        /// The endpoint.
        endpoint: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The endpoint's circuit is open after repeated failures.
    #[error(
        "{endpoint}: not called, its circuit is open after repeated failures (retry in {retry_in:?})"
    )]
    CircuitOpen {
        /// The endpoint.
        endpoint: &'static str,
        /// Until the next probe.
        retry_in: Duration,
    },
    /// `Retry-After` asked for longer than `[graph.retry] max_retry_after_secs`.
    #[error("{endpoint}: throttled for {retry_after:?}, longer than the server waits")]
    ThrottledTooLong {
        /// The endpoint.
        endpoint: &'static str,
        /// What `Retry-After` asked for.
        retry_after: Duration,
    },
    /// A refusal that retrying will not change (4xx).
    #[error("{endpoint}: refused with HTTP {status} {code}: {message}")]
    Rejected {
        /// The endpoint.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// An answer not in the documented shape.
    #[error("{endpoint}: unexpected answer: {reason}")]
    Malformed {
        /// The endpoint.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A budget refuses the call.
    #[error("budget: {0}")]
    Budget(#[from] BudgetError),
    /// Settings are missing.
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// The request could not be built (a bad URL in the configuration).
    #[error("cannot build the request: {0}")]
    Request(String),
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphErrorDetail,
}

#[derive(Deserialize)]
struct GraphErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct AadErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
    /// `consent_required`, `interaction_required`…: what the user must do.
    #[serde(default)]
    suberror: String,
}

fn truncated(s: &str) -> String {
    s.chars().take(300).collect()
}

/// A Graph or ACS refusal, from `{"error": {"code", "message", …}}`.
pub(crate) fn error_of_graph(endpoint: &'static str, answer: &Answer) -> GraphError {
    match serde_json::from_slice::<GraphErrorBody>(&answer.body) {
        Ok(body) => GraphError::Rejected {
            endpoint,
            status: answer.status,
            code: truncated(&body.error.code),
            message: truncated(&body.error.message),
        },
        Err(_) => GraphError::Malformed {
            endpoint,
            reason: format!("HTTP {} without an error body", answer.status),
        },
    }
}

/// An identity platform refusal, from `{error, error_description, …}`; a
/// `suberror` (`consent_required`) leads the message.
pub(crate) fn error_of_aad(endpoint: &'static str, answer: &Answer) -> GraphError {
    match serde_json::from_slice::<AadErrorBody>(&answer.body) {
        Ok(body) if (400..500).contains(&answer.status) => GraphError::Rejected {
            endpoint,
            status: answer.status,
            code: truncated(&body.error),
            message: truncated(&if body.suberror.is_empty() {
                body.error_description
            } else {
                format!("{}: {}", body.suberror, body.error_description)
            }),
        },
        _ => GraphError::Malformed {
            endpoint,
            reason: format!("HTTP {} without an error body", answer.status),
        },
    }
}
