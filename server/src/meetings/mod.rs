//! Meetings for conversation groups and meeting rooms, without ever blocking
//! a tick.
//!
//! # How an office uses it
//!
//! An office owns a [`MeetingDesk`] (started with [`MeetingDesk::start`],
//! cheap: one task; all desks share the providers, and so the Graph budgets)
//! and drains the desk's outcome receiver with `try_recv` in its receive
//! phase. In its proximity phase, once a group has stood together for the
//! dwell time (or someone enters a meeting room), it calls
//! [`MeetingDesk::request`] with a [`MeetingRequest`]: a [`MeetingKey`] of
//! its choice ([`MeetingKey::group`], [`MeetingKey::room`]), the office, the
//! tenant and a [`MeetingKind`] (`Room` or `Group` with its members). The
//! call returns at once: `Ok`, or [`QueueFull`] when the desk holds
//! `[meetings] queue` requests (try again on a later tick). When a group
//! dissolves before its meeting came, the office calls
//! [`MeetingDesk::cancel`]: a request still queued is dropped and never
//! sent; one already on its way finishes (so the meeting is remembered for
//! reuse) but its outcome is not delivered. Each request gets exactly one
//! [`MeetingOutcome`] `{ key, office, result }` unless cancelled or
//! superseded: asking again for a key that is still pending replaces the
//! request, and only the latest one is answered. The result is a
//! [`MeetingInfo`] (provider, meeting id, join URL, ACS join data) or a
//! [`MeetingFailure`] to show the group ("meetings are unavailable").
//!
//! ```text
//! office tick ──request/cancel (non-blocking)──▶ MeetingDesk task ──▶ provider.open()
//!      ▲                                          (queue, dedup,       (Graph / ACS / Local,
//!      └──────── bounded mpsc of MeetingOutcome ◀──  cache)             budgets, retries)
//! ```
//!
//! # Providers and the rules they follow
//!
//! A [`MeetingProvider`] is chosen per office ([`Providers`], from
//! `[meetings] provider` and `[meetings.offices]`):
//! - **Graph** ([`GraphMeetings`]): a Teams meeting through
//!   `onlineMeetings/createOrGet`. The organizer is, for a meeting room,
//!   `[graph] room_organizer` in the request's tenant; for a group, the
//!   member with the smallest (tenant, object id). The `externalId` is a hash
//!   of the office and room id, or of the sorted member set ([`ids`]), at
//!   most 64 characters, so the same room or the same people get the same
//!   meeting back. Each organizer may create at most
//!   `[graph.budgets] meetings_per_user_per_month` (2,000) a month; past
//!   that the request fails with [`MeetingFailure::OverBudget`].
//! - **ACS** ([`AcsMeetings`]): a group call whose id is derived from the
//!   same key, plus, for each member that came with their Teams sign-in
//!   token ([`Member::teams_token`]), an ACS token so the client can join:
//!   the sign-in token is exchanged on the member's behalf (on-behalf-of,
//!   cached per user in memory, [`crate::graph::OboTokens`]) for an Entra
//!   token for ACS's Teams user scopes, which ACS's Teams user token
//!   exchange turns into the ACS token.
//! - **Local** ([`LocalMeetings`], the default with no Azure settings):
//!   `local://metaoffice/<office>/<key>` ids that say `provider: local`.
//!
//! The desk coalesces: one pending request per key, one provider call per
//! meeting (requests with different keys for the same meeting wait on the
//! same call), and meetings it has seen are answered from memory.

pub mod acs;
pub mod config;
pub mod desk;
pub mod graph;
pub mod ids;
pub mod local;
pub mod provider;

use std::fmt;

pub use acs::AcsMeetings;
pub use config::{AcsConfig, MeetingsConfig, ProviderChoice};
pub use desk::{DeskStats, MeetingDesk};
pub use graph::GraphMeetings;
pub use local::LocalMeetings;
pub use provider::{MeetingPlan, MeetingProvider, ProviderUnavailable, Providers};

use crate::graph::{GraphError, Secret};

/// The office's name for a meeting it asked for: unique within a desk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeetingKey(pub String);

impl MeetingKey {
    /// The key of conversation group `group` in `office`.
    pub fn group(office: &str, group: u64) -> MeetingKey {
        MeetingKey(format!("{office}/group/{group}"))
    }

    /// The key of meeting room `room` in `office`.
    pub fn room(office: &str, room: &str) -> MeetingKey {
        MeetingKey(format!("{office}/room/{room}"))
    }
}

impl fmt::Display for MeetingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user: Entra ID tenant and object id. Ordered by (tenant, oid).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserRef {
    /// The tenant id (`tid`).
    pub tenant: String,
    /// The object id (`oid`).
    pub oid: String,
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.oid)
    }
}

/// Someone in a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Who.
    pub user: UserRef,
    /// The member's Teams sign-in (SSO) token, whose audience is this
    /// application, if the ACS provider should get them an ACS token (it
    /// exchanges it on their behalf for ACS's scopes first).
    pub teams_token: Option<Secret>,
}

impl Member {
    /// A member with no token.
    pub fn new(tenant: &str, oid: &str) -> Member {
        Member {
            user: UserRef {
                tenant: tenant.to_owned(),
                oid: oid.to_owned(),
            },
            teams_token: None,
        }
    }
}

/// What the meeting is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingKind {
    /// A meeting-room zone: one standing meeting for everyone inside.
    Room {
        /// The room's id within the office.
        room: String,
        /// Who is inside now (ACS tokens; Graph does not need them).
        members: Vec<Member>,
    },
    /// A conversation group.
    Group {
        /// Its members.
        members: Vec<Member>,
    },
}

impl MeetingKind {
    /// The members.
    pub fn members(&self) -> &[Member] {
        match self {
            MeetingKind::Room { members, .. } | MeetingKind::Group { members } => members,
        }
    }
}

/// A request from an office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRequest {
    /// The office's key for it; the outcome carries it back.
    pub key: MeetingKey,
    /// The office id.
    pub office: String,
    /// The office's tenant (a room's organizer is in it).
    pub tenant: String,
    /// Room or group.
    pub kind: MeetingKind,
    /// The subject; a default is made when `None`.
    pub subject: Option<String>,
}

/// Which provider made a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Local ids, no Azure.
    Local,
    /// A Teams meeting through Graph.
    Graph,
    /// An ACS group call.
    Acs,
}

impl ProviderKind {
    /// The provider named `"local"`, `"graph"` or `"acs"`.
    pub fn parse(name: &str) -> Option<ProviderKind> {
        match name {
            "local" => Some(ProviderKind::Local),
            "graph" => Some(ProviderKind::Graph),
            "acs" => Some(ProviderKind::Acs),
            _ => None,
        }
    }

    /// `"local"`, `"graph"` or `"acs"`, as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Local => "local",
            ProviderKind::Graph => "graph",
            ProviderKind::Acs => "acs",
        }
    }
}

/// An ACS token for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberToken {
    /// Whose.
    pub user: UserRef,
    /// The ACS token (give it to that member only).
    pub token: Secret,
    /// When it expires (RFC 3339, as ACS wrote it).
    pub expires_on: String,
}

/// How to join an ACS group call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsJoin {
    /// The group call id (a UUID derived from the meeting's key).
    pub group_call_id: String,
    /// Tokens for the members that came with a Teams token.
    pub tokens: Vec<MemberToken>,
}

/// A meeting to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingInfo {
    /// Who made it.
    pub provider: ProviderKind,
    /// Its id at the provider.
    pub meeting_id: String,
    /// The externalId (Graph) or key it was derived from.
    pub external_id: String,
    /// The URL to join by (Teams, or `local://…`); `None` for ACS.
    pub join_url: Option<String>,
    /// The organizer (Graph).
    pub organizer: Option<UserRef>,
    /// ACS join data.
    pub acs: Option<AcsJoin>,
}

/// Why an office did not get its meeting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeetingFailure {
    /// The service is down, throttling for too long, or answered nonsense.
    #[error("meetings are unavailable: {0}")]
    Unavailable(String),
    /// The organizer has used this month's meetings.
    #[error("{organizer} has organized {limit} meetings this month, the most allowed")]
    OverBudget {
        /// The organizer.
        organizer: UserRef,
        /// The monthly budget.
        limit: u32,
    },
    /// The service refused (permissions, policy).
    #[error("the meeting service refused: {0}")]
    Refused(String),
    /// The request cannot be met as configured (no members, no room organizer).
    #[error("cannot make this meeting: {0}")]
    Invalid(String),
}

impl From<GraphError> for MeetingFailure {
    fn from(e: GraphError) -> MeetingFailure {
        match e {
            GraphError::Budget(crate::graph::BudgetError::MonthlyMeetings {
                tenant,
                organizer,
                limit,
            }) => MeetingFailure::OverBudget {
                organizer: UserRef {
                    tenant,
                    oid: organizer,
                },
                limit,
            },
            GraphError::Rejected { .. } => MeetingFailure::Refused(e.to_string()),
            GraphError::NotConfigured(_) => MeetingFailure::Invalid(e.to_string()),
            _ => MeetingFailure::Unavailable(e.to_string()),
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingOutcome {
    /// The request's key.
    pub key: MeetingKey,
    /// The request's office.
    pub office: String,
    /// The meeting, or why not.
    pub result: Result<MeetingInfo, MeetingFailure>,
}

/// The desk holds as many requests as it may: try again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the meeting desk is full ({capacity} requests)")]
pub struct QueueFull {
    /// The desk's capacity.
    pub capacity: usize,
}

/// Providers could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum MeetingsError {
    /// A Graph or ACS client could not be made.
    #[error("meeting provider: {0}")]
    Client(#[from] GraphError),
}
