//! `[graph]`: where Microsoft Graph and the identity platform are, the
//! application's credentials, the budgets the server keeps under, and how it
//! retries.

use serde::{Deserialize, Serialize};
use url::Url;

use super::Secret;
use crate::config::{ConfigError, invalid};

/// `[graph]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    /// Graph's base URL, version included.
    pub base_url: String,
    /// The identity platform's base URL; tokens come from
    /// `{login_url}/{tenant}/oauth2/v2.0/token`.
    pub login_url: String,
    /// The tenant used for offices that have none of their own.
    pub tenant_id: Option<String>,
    /// The application (client) id.
    pub client_id: Option<String>,
    /// The application's client secret (`METAOFFICE_GRAPH__CLIENT_SECRET`).
    pub client_secret: Option<Secret>,
    /// The object id of the user who organizes meeting-room meetings.
    pub room_organizer: Option<String>,
    /// The scope of app-only tokens.
    pub scope: String,
    /// Budgets (`[graph.budgets]`).
    pub budgets: BudgetConfig,
    /// Retries, backoff, circuit breaker (`[graph.retry]`).
    pub retry: RetryConfig,
}

impl Default for GraphConfig {
    fn default() -> GraphConfig {
        GraphConfig {
            base_url: "https://graph.microsoft.com/v1.0".to_owned(),
            login_url: "https://login.microsoftonline.com".to_owned(),
            tenant_id: None,
            client_id: None,
            client_secret: None,
            room_organizer: None,
            scope: "https://graph.microsoft.com/.default".to_owned(),
            budgets: BudgetConfig::default(),
            retry: RetryConfig::default(),
        }
    }
}

/// `[graph.budgets]`: the product's Graph budgets (DESIGN.md). Defaults are
/// the data sheet's; they are stricter than some of Microsoft's limits on
/// purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// All Graph calls per second, across all tenants.
    pub all_calls_per_second: u32,
    /// Meetings (createOrGet calls) per organizer per calendar month (UTC).
    pub meetings_per_user_per_month: u32,
    /// Presence reads, in user ids, per `presence_window_secs`, across all tenants.
    pub presence_users: u32,
    /// The presence window, seconds.
    pub presence_window_secs: u32,
    /// Activity notifications per second per tenant.
    pub notifications_per_second_per_tenant: u32,
    /// Activity notifications per second across all tenants.
    pub notifications_per_second: u32,
    /// "Teams of a user" reads per second per tenant.
    pub teams_of_user_per_second_per_tenant: u32,
    /// "Teams of a user" reads per second across all tenants.
    pub teams_of_user_per_second: u32,
    /// "Members of a team" reads per second per tenant.
    pub team_members_per_second_per_tenant: u32,
    /// "Members of a team" reads per second across all tenants.
    pub team_members_per_second: u32,
}

impl Default for BudgetConfig {
    fn default() -> BudgetConfig {
        BudgetConfig {
            all_calls_per_second: 2000,
            meetings_per_user_per_month: 2000,
            presence_users: 1500,
            presence_window_secs: 30,
            notifications_per_second_per_tenant: 5,
            notifications_per_second: 50,
            teams_of_user_per_second_per_tenant: 30,
            teams_of_user_per_second: 300,
            team_members_per_second_per_tenant: 60,
            team_members_per_second: 1200,
        }
    }
}

/// `[graph.retry]`: how calls to Microsoft are retried (Graph, the token
/// endpoint and ACS alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts at one call that fails (5xx, timeout, connection error)
    /// before giving up.
    pub max_attempts: u32,
    /// The first backoff's upper bound, milliseconds; it doubles per failure.
    pub backoff_base_ms: u64,
    /// The largest backoff, milliseconds.
    pub backoff_max_ms: u64,
    /// `429`s one call accepts before giving up.
    pub max_throttled: u32,
    /// The longest `Retry-After` honoured, seconds; a longer one fails the call.
    pub max_retry_after_secs: u64,
    /// Consecutive failures of an endpoint that open its circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one probe, seconds.
    pub breaker_cooldown_secs: u64,
    /// Timeout of one HTTP exchange, milliseconds (real time).
    pub request_timeout_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: 5,
            backoff_base_ms: 200,
            backoff_max_ms: 20_000,
            max_throttled: 10,
            max_retry_after_secs: 300,
            breaker_failures: 5,
            breaker_cooldown_secs: 30,
            request_timeout_ms: 10_000,
        }
    }
}

fn check_url(key: &'static str, value: &str) -> Result<(), ConfigError> {
    let url = Url::parse(value).map_err(|e| invalid(key, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(invalid(key, "must be an http(s) URL with a host"));
    }
    Ok(())
}

fn at_least_one(key: &'static str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(())
}

impl GraphConfig {
    /// Whether the application's credentials are given.
    pub fn has_credentials(&self) -> bool {
        self.client_id.as_deref().is_some_and(|s| !s.is_empty())
            && self.client_secret.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// Checks every value, naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_url("graph.base_url", &self.base_url)?;
        check_url("graph.login_url", &self.login_url)?;
        for (key, value) in [
            ("graph.tenant_id", &self.tenant_id),
            ("graph.client_id", &self.client_id),
            ("graph.room_organizer", &self.room_organizer),
        ] {
            if value.as_deref().is_some_and(str::is_empty) {
                return Err(invalid(key, "must not be empty when set"));
            }
        }
        if self.client_id.is_some() != self.client_secret.is_some() {
            return Err(invalid(
                "graph.client_secret",
                "graph.client_id and graph.client_secret go together",
            ));
        }
        if !self.scope.ends_with("/.default") {
            return Err(invalid(
                "graph.scope",
                "an app-only scope ends in /.default",
            ));
        }
        let b = &self.budgets;
        for (key, value) in [
            ("graph.budgets.all_calls_per_second", b.all_calls_per_second),
            (
                "graph.budgets.meetings_per_user_per_month",
                b.meetings_per_user_per_month,
            ),
            ("graph.budgets.presence_users", b.presence_users),
            ("graph.budgets.presence_window_secs", b.presence_window_secs),
            (
                "graph.budgets.notifications_per_second_per_tenant",
                b.notifications_per_second_per_tenant,
            ),
            (
                "graph.budgets.notifications_per_second",
                b.notifications_per_second,
            ),
            (
                "graph.budgets.teams_of_user_per_second_per_tenant",
                b.teams_of_user_per_second_per_tenant,
            ),
            (
                "graph.budgets.teams_of_user_per_second",
                b.teams_of_user_per_second,
            ),
            (
                "graph.budgets.team_members_per_second_per_tenant",
                b.team_members_per_second_per_tenant,
            ),
            (
                "graph.budgets.team_members_per_second",
                b.team_members_per_second,
            ),
        ] {
            at_least_one(key, u64::from(value))?;
        }
        let r = &self.retry;
        at_least_one("graph.retry.max_attempts", u64::from(r.max_attempts))?;
        at_least_one("graph.retry.backoff_base_ms", r.backoff_base_ms)?;
        if r.backoff_max_ms < r.backoff_base_ms {
            return Err(invalid(
                "graph.retry.backoff_max_ms",
                "must be at least graph.retry.backoff_base_ms",
            ));
        }
        at_least_one(
            "graph.retry.breaker_failures",
            u64::from(r.breaker_failures),
        )?;
        at_least_one("graph.retry.breaker_cooldown_secs", r.breaker_cooldown_secs)?;
        at_least_one("graph.retry.request_timeout_ms", r.request_timeout_ms)?;
        Ok(())
    }
}
