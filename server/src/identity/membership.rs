//! Access to an office: a signed-in user may enter an office whose stored
//! configuration names a team only if Graph lists them among that team's
//! members (`GET /teams/{id}/members`, app-only, within the team-members
//! budgets). Answers are cached: yes for 10 minutes, no for 1 minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::graph::{GraphClient, GraphError, Transport};

/// How long a "member" answer is trusted.
const MEMBER_TTL: Duration = Duration::from_secs(600);
/// How long a "not a member" answer is trusted.
const NOT_MEMBER_TTL: Duration = Duration::from_secs(60);
/// Most answers cached; past it the cache starts again.
const MAX_CACHED: usize = 100_000;

type Key = (String, String, String);

/// Team membership checks through Graph.
pub struct Membership {
    client: Arc<GraphClient>,
    cache: DashMap<Key, (bool, Instant)>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl Membership {
    /// Checks through Graph when `[graph]` has credentials; `None` otherwise.
    pub fn from_config(config: &Config, clock: SharedClock) -> Option<Membership> {
        match GraphClient::new(&config.graph, clock) {
            Ok(client) => Some(Membership::new(Arc::new(client))),
            Err(GraphError::NotConfigured(_)) => None,
            Err(e) => {
                tracing::warn!(cause = %e, "team membership is not checked");
                None
            }
        }
    }

    /// Checks through Graph, sending through `transport` (the server's one
    /// transport: its budgets and metrics), when `[graph]` has credentials.
    pub fn with_transport(config: &Config, transport: Arc<Transport>) -> Option<Membership> {
        match GraphClient::with_transport(&config.graph, transport) {
            Ok(client) => Some(Membership::new(Arc::new(client))),
            Err(GraphError::NotConfigured(_)) => None,
            Err(e) => {
                tracing::warn!(cause = %e, "team membership is not checked");
                None
            }
        }
    }

    /// Checks through `client`.
    pub fn new(client: Arc<GraphClient>) -> Membership {
        Membership {
            client,
            cache: DashMap::new(),
        }
    }

    /// Whether `user` is a member of `team` in `tenant`.
    pub async fn is_member(
        &self,
        tenant: &str,
        team: &str,
        user: &str,
    ) -> Result<bool, GraphError> {
        let key = (tenant.to_owned(), team.to_owned(), user.to_owned());
        if let Some(entry) = self.cache.get(&key) {
            let (member, at) = *entry;
            let ttl = if member { MEMBER_TTL } else { NOT_MEMBER_TTL };
            if at.elapsed() < ttl {
                return Ok(member);
            }
        }
        let member = self.client.is_team_member(tenant, team, user).await?;
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(key, (member, Instant::now()));
        Ok(member)
    }
}
