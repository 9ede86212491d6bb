//! The [`MeetingProvider`] trait and the choice of provider per office.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use super::config::ProviderChoice;
use super::{
    AcsMeetings, GraphMeetings, LocalMeetings, MeetingFailure, MeetingInfo, MeetingKind,
    MeetingRequest, MeetingsError, ProviderKind, UserRef, ids,
};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::graph::{
    ACS_TEAMS_SCOPES, AcsClient, DEFAULT_OBO_CAPACITY, GraphClient, OboTokens, Transport,
};

/// What a provider's [`MeetingProvider::open`] returns.
pub type MeetingFuture =
    Pin<Box<dyn Future<Output = Result<MeetingInfo, MeetingFailure>> + Send + 'static>>;

/// What a provider decided about a request before any I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingPlan {
    /// Requests with the same identity get the same meeting: the desk makes
    /// one call for all of them.
    pub identity: String,
    /// The externalId (Graph) or key the meeting is derived from.
    pub external_id: String,
    /// The organizer, where there is one.
    pub organizer: Option<UserRef>,
    /// Whether the meeting can be handed out again later without a call.
    pub cacheable: bool,
}

/// Makes meetings. Object-safe: offices hold `Arc<dyn MeetingProvider>`.
pub trait MeetingProvider: Send + Sync + fmt::Debug {
    /// Which provider this is.
    fn kind(&self) -> ProviderKind;
    /// Decides organizer, externalId and identity (pure, no I/O).
    fn plan(&self, request: &MeetingRequest) -> Result<MeetingPlan, MeetingFailure>;
    /// Gets the meeting. The future owns what it needs.
    fn open(&self, plan: MeetingPlan, request: MeetingRequest) -> MeetingFuture;
}

/// The externalId a request's meeting is derived from.
pub(crate) fn external_id_of(request: &MeetingRequest) -> Result<String, MeetingFailure> {
    match &request.kind {
        MeetingKind::Room { room, .. } => Ok(ids::room_external_id(&request.office, room)),
        MeetingKind::Group { members } if members.is_empty() => {
            Err(MeetingFailure::Invalid("a group without members".into()))
        }
        MeetingKind::Group { members } => {
            Ok(ids::group_external_id(members.iter().map(|m| &m.user)))
        }
    }
}

/// The subject of a request's meeting.
pub(crate) fn subject_of(request: &MeetingRequest) -> String {
    if let Some(subject) = &request.subject {
        return subject.clone();
    }
    match &request.kind {
        MeetingKind::Room { room, .. } => format!("MetaOffice: {room}"),
        MeetingKind::Group { .. } => "MetaOffice conversation".to_owned(),
    }
}

/// The provider of each office: a stored office setting (admin API, see
/// [`Providers::set_office`]) first, then `[meetings.offices]`, then
/// `[meetings] provider`. Clones share the stored settings, so a change
/// reaches every office's desk for its next meetings.
#[derive(Debug, Clone)]
pub struct Providers {
    default: Arc<dyn MeetingProvider>,
    offices: HashMap<String, Arc<dyn MeetingProvider>>,
    /// Every provider this server can use (local always; Graph and ACS when
    /// configured).
    available: HashMap<ProviderKind, Arc<dyn MeetingProvider>>,
    /// Providers chosen by stored office settings, by office id.
    stored: Arc<RwLock<HashMap<String, Arc<dyn MeetingProvider>>>>,
}

/// A provider that is not configured on this server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{}\" is not configured on this server ({})", .0.as_str(), needs(*.0))]
pub struct ProviderUnavailable(pub ProviderKind);

fn needs(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Local => "always available",
        ProviderKind::Graph => "it needs graph.client_id and graph.client_secret",
        ProviderKind::Acs => {
            "it needs acs.endpoint, acs.access_key, graph.client_id and graph.client_secret (the Teams app, for on-behalf-of tokens)"
        }
    }
}

impl Providers {
    /// `default` for every office.
    pub fn new(default: Arc<dyn MeetingProvider>) -> Providers {
        let mut available: HashMap<ProviderKind, Arc<dyn MeetingProvider>> = HashMap::new();
        available.insert(ProviderKind::Local, Arc::new(LocalMeetings));
        available.insert(default.kind(), default.clone());
        Providers {
            default,
            offices: HashMap::new(),
            available,
            stored: Arc::default(),
        }
    }

    /// Local meetings everywhere.
    pub fn local() -> Providers {
        Providers::new(Arc::new(LocalMeetings))
    }

    /// `provider` for `office`.
    pub fn with_office(mut self, office: &str, provider: Arc<dyn MeetingProvider>) -> Providers {
        self.available.insert(provider.kind(), provider.clone());
        self.offices.insert(office.to_owned(), provider);
        self
    }

    /// The provider of `office`.
    pub fn for_office(&self, office: &str) -> Arc<dyn MeetingProvider> {
        let stored = self.stored.read().unwrap_or_else(|e| e.into_inner());
        stored
            .get(office)
            .or_else(|| self.offices.get(office))
            .unwrap_or(&self.default)
            .clone()
    }

    /// Whether meetings of `kind` can be made here.
    pub fn is_available(&self, kind: ProviderKind) -> bool {
        self.available.contains_key(&kind)
    }

    /// Sets the provider of `office`'s next meetings from its stored
    /// settings; `None` goes back to the configuration file's choice.
    /// Returns the provider the office now uses.
    pub fn set_office(
        &self,
        office: &str,
        kind: Option<ProviderKind>,
    ) -> Result<ProviderKind, ProviderUnavailable> {
        let mut stored = self.stored.write().unwrap_or_else(|e| e.into_inner());
        match kind {
            None => {
                stored.remove(office);
            }
            Some(kind) => {
                let provider = self.available.get(&kind).ok_or(ProviderUnavailable(kind))?;
                stored.insert(office.to_owned(), provider.clone());
            }
        }
        drop(stored);
        Ok(self.for_office(office).kind())
    }

    /// Providers as `[meetings]` says, with a transport of their own.
    /// The configuration must be validated.
    pub fn from_config(config: &Config, clock: SharedClock) -> Result<Providers, MeetingsError> {
        let transport = Arc::new(Transport::new(
            &config.graph.retry,
            config.graph.budgets.clone(),
            clock,
        )?);
        Providers::with_transport(config, transport)
    }

    /// Providers as `[meetings]` says, sending through `transport` (the
    /// server's one transport, and so its Graph budgets). Every provider
    /// the configuration allows is made, so that stored office settings can
    /// switch to it. The configuration must be validated.
    pub fn with_transport(
        config: &Config,
        transport: Arc<Transport>,
    ) -> Result<Providers, MeetingsError> {
        let resolve = |choice: ProviderChoice| choice.resolve(&config.graph, &config.acs);
        let kinds: Vec<ProviderKind> = std::iter::once(config.meetings.provider)
            .chain(config.meetings.offices.values().copied())
            .map(resolve)
            .collect();
        let needs = |kind| kinds.contains(&kind);
        let mut made: HashMap<ProviderKind, Arc<dyn MeetingProvider>> = HashMap::new();
        made.insert(ProviderKind::Local, Arc::new(LocalMeetings));
        let acs_usable = config.acs.is_configured() && config.graph.has_credentials();
        let acs = needs(ProviderKind::Acs) || acs_usable;
        // One Graph client, and so one token source, for Graph meetings and
        // for ACS's on-behalf-of tokens (ACS needs the credentials too).
        let graph = if needs(ProviderKind::Graph) || config.graph.has_credentials() || acs {
            let client = Arc::new(GraphClient::with_transport(
                &config.graph,
                transport.clone(),
            )?);
            let provider = GraphMeetings::new(client.clone(), config.graph.room_organizer.clone())
                .with_default_tenant(config.graph.tenant_id.clone());
            made.insert(ProviderKind::Graph, Arc::new(provider));
            Some(client)
        } else {
            None
        };
        if let (true, Some(graph)) = (acs, &graph) {
            let (Some(endpoint), Some(key)) = (&config.acs.endpoint, &config.acs.access_key) else {
                return Err(crate::graph::GraphError::NotConfigured(
                    "acs.endpoint and acs.access_key",
                )
                .into());
            };
            let client = Arc::new(AcsClient::new(transport.clone(), endpoint, key)?);
            let obo = Arc::new(OboTokens::new(
                graph.tokens().clone(),
                ACS_TEAMS_SCOPES,
                DEFAULT_OBO_CAPACITY,
            ));
            made.insert(ProviderKind::Acs, Arc::new(AcsMeetings::new(client, obo)));
        }
        let pick = |choice: ProviderChoice| made[&resolve(choice)].clone();
        let mut providers = Providers::new(pick(config.meetings.provider));
        for (office, choice) in &config.meetings.offices {
            providers = providers.with_office(office, pick(*choice));
        }
        providers.available.extend(made);
        Ok(providers)
    }
}
