//! The [`MeetingProvider`] trait and the choice of provider per office.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::config::ProviderChoice;
use super::{
    AcsMeetings, GraphMeetings, LocalMeetings, MeetingFailure, MeetingInfo, MeetingKind,
    MeetingRequest, MeetingsError, ProviderKind, UserRef, ids,
};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::graph::{AcsClient, GraphClient, Transport};

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

/// The provider of each office.
#[derive(Debug, Clone)]
pub struct Providers {
    default: Arc<dyn MeetingProvider>,
    offices: HashMap<String, Arc<dyn MeetingProvider>>,
}

impl Providers {
    /// `default` for every office.
    pub fn new(default: Arc<dyn MeetingProvider>) -> Providers {
        Providers {
            default,
            offices: HashMap::new(),
        }
    }

    /// Local meetings everywhere.
    pub fn local() -> Providers {
        Providers::new(Arc::new(LocalMeetings))
    }

    /// `provider` for `office`.
    pub fn with_office(mut self, office: &str, provider: Arc<dyn MeetingProvider>) -> Providers {
        self.offices.insert(office.to_owned(), provider);
        self
    }

    /// The provider of `office`.
    pub fn for_office(&self, office: &str) -> &Arc<dyn MeetingProvider> {
        self.offices.get(office).unwrap_or(&self.default)
    }

    /// Providers as `[meetings]` says, sharing one transport (and so one
    /// set of Graph budgets). The configuration must be validated.
    pub fn from_config(config: &Config, clock: SharedClock) -> Result<Providers, MeetingsError> {
        let resolve = |choice: ProviderChoice| choice.resolve(&config.graph, &config.acs);
        let kinds: Vec<ProviderKind> = std::iter::once(config.meetings.provider)
            .chain(config.meetings.offices.values().copied())
            .map(resolve)
            .collect();
        let needs = |kind| kinds.contains(&kind);
        let transport = if needs(ProviderKind::Graph) || needs(ProviderKind::Acs) {
            Some(Arc::new(Transport::new(
                &config.graph.retry,
                config.graph.budgets.clone(),
                clock,
            )?))
        } else {
            None
        };
        let mut made: HashMap<ProviderKind, Arc<dyn MeetingProvider>> = HashMap::new();
        made.insert(ProviderKind::Local, Arc::new(LocalMeetings));
        if let (true, Some(t)) = (needs(ProviderKind::Graph), &transport) {
            let client = Arc::new(GraphClient::with_transport(&config.graph, t.clone())?);
            let provider = GraphMeetings::new(client, config.graph.room_organizer.clone())
                .with_default_tenant(config.graph.tenant_id.clone());
            made.insert(ProviderKind::Graph, Arc::new(provider));
        }
        if let (true, Some(t)) = (needs(ProviderKind::Acs), &transport) {
            let (Some(endpoint), Some(key)) = (&config.acs.endpoint, &config.acs.access_key) else {
                return Err(crate::graph::GraphError::NotConfigured(
                    "acs.endpoint and acs.access_key",
                )
                .into());
            };
            let client = Arc::new(AcsClient::new(t.clone(), endpoint, key)?);
            let app_id = config.graph.client_id.clone().unwrap_or_default();
            made.insert(
                ProviderKind::Acs,
                Arc::new(AcsMeetings::new(client, app_id)),
            );
        }
        let pick = |choice: ProviderChoice| made[&resolve(choice)].clone();
        let mut providers = Providers::new(pick(config.meetings.provider));
        for (office, choice) in &config.meetings.offices {
            providers = providers.with_office(office, pick(*choice));
        }
        Ok(providers)
    }
}
