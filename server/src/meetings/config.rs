//! `[meetings]` (which provider offices use, and the desk's bounds) and
//! `[acs]` (the Azure Communication Services resource).

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::ProviderKind;
use crate::config::{ConfigError, invalid};
use crate::graph::{GraphConfig, Secret};

/// Which provider makes meetings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderChoice {
    /// Graph when `[graph]` has credentials, else local. (ACS needs the
    /// same credentials, for its on-behalf-of tokens, so it is chosen by
    /// name.)
    #[default]
    Auto,
    /// Local meeting ids, no Azure (development).
    Local,
    /// Teams meetings through Graph `onlineMeetings/createOrGet`.
    Graph,
    /// ACS group calls, with on-behalf-of tokens for ACS's scopes and the
    /// Teams user token exchange.
    Acs,
}

/// `[meetings]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeetingsConfig {
    /// The provider of every office not listed in `offices`.
    pub provider: ProviderChoice,
    /// Providers of particular offices, by office id (`[meetings.offices]`).
    pub offices: BTreeMap<String, ProviderChoice>,
    /// Meeting requests a desk holds (queued, running, or with an outcome
    /// not yet taken) before refusing more.
    pub queue: usize,
    /// Outcomes waiting in a desk's channel.
    pub outcomes: usize,
    /// Meetings a desk asks providers for at once.
    pub max_in_flight: usize,
    /// Meetings a desk remembers, so the same room or people reuse theirs
    /// without a call.
    pub cache: usize,
}

impl Default for MeetingsConfig {
    fn default() -> MeetingsConfig {
        MeetingsConfig {
            provider: ProviderChoice::Auto,
            offices: BTreeMap::new(),
            queue: 1024,
            outcomes: 256,
            max_in_flight: 32,
            cache: 10_000,
        }
    }
}

/// `[acs]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcsConfig {
    /// The resource endpoint, e.g. `https://my-resource.communication.azure.com`.
    pub endpoint: Option<String>,
    /// The resource's access key, base64 (`METAOFFICE_ACS__ACCESS_KEY`).
    pub access_key: Option<Secret>,
}

impl AcsConfig {
    /// Whether the resource is given.
    pub fn is_configured(&self) -> bool {
        self.endpoint.is_some() && self.access_key.is_some()
    }

    /// Checks every value, naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(endpoint) = &self.endpoint {
            let url = url::Url::parse(endpoint)
                .map_err(|e| invalid("acs.endpoint", format!("not a URL: {e}")))?;
            if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
                return Err(invalid(
                    "acs.endpoint",
                    "must be an http(s) URL with a host",
                ));
            }
        }
        if let Some(key) = &self.access_key {
            let decoded = base64::engine::general_purpose::STANDARD.decode(key.expose());
            if decoded.map_or(true, |k| k.is_empty()) {
                return Err(invalid("acs.access_key", "must be the base64 access key"));
            }
        }
        if self.endpoint.is_some() != self.access_key.is_some() {
            return Err(invalid(
                "acs.access_key",
                "acs.endpoint and acs.access_key go together",
            ));
        }
        Ok(())
    }
}

impl ProviderChoice {
    /// The provider this choice means under these settings.
    pub fn resolve(self, graph: &GraphConfig, _acs: &AcsConfig) -> ProviderKind {
        match self {
            ProviderChoice::Local => ProviderKind::Local,
            ProviderChoice::Graph => ProviderKind::Graph,
            ProviderChoice::Acs => ProviderKind::Acs,
            ProviderChoice::Auto if graph.has_credentials() => ProviderKind::Graph,
            ProviderChoice::Auto => ProviderKind::Local,
        }
    }
}

fn check_choice(
    key: &'static str,
    choice: ProviderChoice,
    graph: &GraphConfig,
    acs: &AcsConfig,
) -> Result<(), ConfigError> {
    match choice {
        ProviderChoice::Graph if !graph.has_credentials() => Err(invalid(
            key,
            "\"graph\" needs graph.client_id and graph.client_secret",
        )),
        ProviderChoice::Acs if !acs.is_configured() || !graph.has_credentials() => Err(invalid(
            key,
            "\"acs\" needs acs.endpoint, acs.access_key, graph.client_id and graph.client_secret (the Teams app, which gets on-behalf-of tokens for ACS)",
        )),
        _ => Ok(()),
    }
}

impl MeetingsConfig {
    /// Checks every value, naming the first bad key.
    pub fn validate(&self, graph: &GraphConfig, acs: &AcsConfig) -> Result<(), ConfigError> {
        for (key, value) in [
            ("meetings.queue", self.queue),
            ("meetings.outcomes", self.outcomes),
            ("meetings.max_in_flight", self.max_in_flight),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        check_choice("meetings.provider", self.provider, graph, acs)?;
        for choice in self.offices.values() {
            check_choice("meetings.offices", *choice, graph, acs)?;
        }
        Ok(())
    }
}
