//! Teams presence and knocks: what offices show on avatars, what the server
//! writes to Teams while people talk, and activity-feed notifications.
//!
//! Offices and connections reach this through a [`PresenceHub`] and never
//! wait on it: every call returns at once, and the work (Graph calls within
//! their budgets) happens on the hub's own tasks. Presence is held in memory
//! only, never stored.
//!
//! ```text
//! offices ── online/offline/set_seen/in_meeting/knock ──► State (one mutex, no I/O)
//!                                                          │
//!   reader task, every tick: expire stale presence, deliver coalesced updates,
//!     read the due users (seen first, stalest first) in batches of ≤ 650 ids
//!     sized to what the presence budget has left ──► getPresencesByUserId
//!   writer task, every tick: setPresence Busy/InACall for people in a meeting,
//!     renewed before it lapses; clearPresence when they leave or disconnect
//!   feed task: sendActivityNotification for accepted knocks (bounded queue)
//! ```
//!
//! Rules the office can rely on:
//! - Presence shown is what Graph answered at most `[presence]
//!   stale_after_secs` ago; older (an outage, a long throttle), or an id
//!   Graph does not know (absent from the answer, `PresenceUnknown`), is
//!   `Unknown`. A user's presence is not read again within `refresh_secs`.
//! - Updates go to the queue [`PresenceHub::subscribe`] returned, only for
//!   users online in that office; a full queue is never waited on: updates
//!   wait in the hub, the latest per user winning, and are delivered later.
//! - Users of the tenant [`LOCAL_TENANT`] (dev login) never reach Graph.
//! - Knocks: the same person on the same person within `knock_merge_secs`
//!   is [`FeedStatus::Merged`]; more than `knocks_per_minute` from one
//!   person (merged ones included) is [`KnockError::TooOften`]; a knock
//!   beyond the notification budgets (`[graph.budgets]`, per tenant and
//!   overall, per second) or a full queue is [`FeedStatus::OverBudget`]:
//!   not sent later, since a late knock is worse than none.

mod config;
mod knock;
mod reader;
mod state;
mod writer;

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::PresenceConfig;
pub use knock::Knock;

use crate::clock::{SharedClock, SystemClock};
use crate::graph::{BudgetConfig, GraphClient, GraphError};
use crate::meetings::UserRef;
use state::State;

/// The tenant the office side gives users without a Teams identity (dev
/// login): the hub never calls Graph for them.
pub const LOCAL_TENANT: &str = "local";

/// Presence updates an office's queue holds before the hub coalesces.
pub const OFFICE_QUEUE: usize = 1024;

/// A Teams availability, as shown on an avatar. The wire code is stable
/// (`PROTOCOL.md`, "Presence").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Availability {
    /// Not known (no Graph, an unknown id, or too stale to show): code 0.
    #[default]
    Unknown = 0,
    /// Code 1.
    Available = 1,
    /// Code 2.
    AvailableIdle = 2,
    /// Code 3.
    Away = 3,
    /// Code 4.
    BeRightBack = 4,
    /// Code 5.
    Busy = 5,
    /// Code 6.
    BusyIdle = 6,
    /// Code 7.
    DoNotDisturb = 7,
    /// Code 8.
    Offline = 8,
}

impl Availability {
    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Graph's `availability` string; anything else is `Unknown`.
    pub fn from_graph(s: &str) -> Availability {
        match s {
            "Available" => Availability::Available,
            "AvailableIdle" => Availability::AvailableIdle,
            "Away" => Availability::Away,
            "BeRightBack" => Availability::BeRightBack,
            "Busy" => Availability::Busy,
            "BusyIdle" => Availability::BusyIdle,
            "DoNotDisturb" => Availability::DoNotDisturb,
            "Offline" => Availability::Offline,
            _ => Availability::Unknown,
        }
    }
}

/// A Teams activity, as shown on an avatar. The wire code is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Activity {
    /// Not known, or one this server does not name: code 0.
    #[default]
    Unknown = 0,
    /// Code 1.
    Available = 1,
    /// Code 2.
    Away = 2,
    /// Code 3.
    BeRightBack = 3,
    /// Code 4.
    Busy = 4,
    /// Code 5.
    DoNotDisturb = 5,
    /// Code 6.
    InACall = 6,
    /// Code 7.
    InAConferenceCall = 7,
    /// Code 8.
    InAMeeting = 8,
    /// Code 9.
    Presenting = 9,
    /// Code 10.
    Inactive = 10,
    /// Code 11.
    Offline = 11,
    /// Code 12.
    OffWork = 12,
    /// Code 13.
    OutOfOffice = 13,
    /// Code 14.
    UrgentInterruptionsOnly = 14,
}

impl Activity {
    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Graph's `activity` string; anything else is `Unknown`.
    pub fn from_graph(s: &str) -> Activity {
        match s {
            "Available" => Activity::Available,
            "Away" => Activity::Away,
            "BeRightBack" => Activity::BeRightBack,
            "Busy" => Activity::Busy,
            "DoNotDisturb" => Activity::DoNotDisturb,
            "InACall" => Activity::InACall,
            "InAConferenceCall" => Activity::InAConferenceCall,
            "InAMeeting" => Activity::InAMeeting,
            "Presenting" => Activity::Presenting,
            "Inactive" => Activity::Inactive,
            "Offline" => Activity::Offline,
            "OffWork" => Activity::OffWork,
            "OutOfOffice" => Activity::OutOfOffice,
            "UrgentInterruptionsOnly" => Activity::UrgentInterruptionsOnly,
            _ => Activity::Unknown,
        }
    }
}

/// What an avatar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Presence {
    /// Availability.
    pub availability: Availability,
    /// Activity.
    pub activity: Activity,
}

/// A user's presence changed (or became unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceUpdate {
    /// Whose.
    pub user: UserRef,
    /// What it is now.
    pub presence: Presence,
}

/// How a knock's Teams activity-feed notification fared when it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStatus {
    /// Queued for `sendActivityNotification`.
    Queued,
    /// Merged into a knock from the same person to the same person a moment ago.
    Merged,
    /// Over the notification budget: not sent to Teams (the in-office
    /// notification still goes).
    OverBudget,
    /// No Graph is configured, or the sender or target has no Teams identity.
    NotConfigured,
}

/// A knock that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnockError {
    /// Knocking oneself.
    #[error("you cannot knock on yourself")]
    Myself,
    /// The same person knocked too often.
    #[error("too many knocks; wait a moment")]
    TooOften,
}

/// What the hub's tasks and the offices' calls share.
struct Shared {
    state: Mutex<State>,
    clock: SharedClock,
    config: PresenceConfig,
    /// `None`: no Graph (a local hub).
    graph: Option<Arc<GraphClient>>,
    /// Wakes the writer when someone's meeting starts or ends.
    writer_wake: Notify,
    /// Accepted knocks for the feed task.
    feed: Option<mpsc::Sender<Knock>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the state: it names every user online.
        f.debug_struct("PresenceHub")
            .field("graph", &self.graph.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `user` is one the hub calls Graph about.
    fn graph_user(&self, user: &UserRef) -> bool {
        self.graph.is_some() && user.tenant != LOCAL_TENANT && !user.tenant.is_empty()
    }
}

/// The presence service offices and connections share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PresenceHub {
    shared: Arc<Shared>,
}

impl Default for PresenceHub {
    fn default() -> PresenceHub {
        PresenceHub::local()
    }
}

impl PresenceHub {
    /// A hub that knows no Graph: every avatar shows `Unknown`, nothing is
    /// written to Teams, and knocks stay in the office (merged and limited
    /// as `[presence]` defaults say, on the system clock).
    pub fn local() -> PresenceHub {
        PresenceHub::local_with(
            &PresenceConfig::default(),
            &BudgetConfig::default(),
            SystemClock::shared(),
        )
    }

    /// A hub without Graph under `config`, on `clock`.
    pub fn local_with(
        config: &PresenceConfig,
        budgets: &BudgetConfig,
        clock: SharedClock,
    ) -> PresenceHub {
        PresenceHub::build(config, budgets, None, clock, None)
    }

    fn build(
        config: &PresenceConfig,
        budgets: &BudgetConfig,
        graph: Option<Arc<GraphClient>>,
        clock: SharedClock,
        feed: Option<mpsc::Sender<Knock>>,
    ) -> PresenceHub {
        PresenceHub {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(budgets)),
                clock,
                config: config.clone(),
                graph,
                writer_wake: Notify::new(),
                feed,
            }),
        }
    }

    /// The hub for `config`: with `[graph]` credentials and `[presence]
    /// enabled`, a hub that reads and writes Teams presence and sends knock
    /// notifications through its own Graph client; otherwise a local one.
    pub fn from_config(
        config: &crate::Config,
        clock: SharedClock,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> PresenceHub {
        let client = GraphClient::new(&config.graph, clock.clone());
        PresenceHub::with_client(config, client, clock, shutdown, tasks)
    }

    /// [`PresenceHub::from_config`] with Graph calls through `transport`
    /// (shared with the server's other Graph users: one set of budgets, and
    /// every call counted on `/metrics`).
    pub fn with_transport(
        config: &crate::Config,
        transport: Arc<crate::graph::Transport>,
        clock: SharedClock,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> PresenceHub {
        let client = GraphClient::with_transport(&config.graph, transport);
        PresenceHub::with_client(config, client, clock, shutdown, tasks)
    }

    fn with_client(
        config: &crate::Config,
        client: Result<GraphClient, GraphError>,
        clock: SharedClock,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> PresenceHub {
        let graph = if config.presence.enabled {
            match client {
                Ok(client) => Some(Arc::new(client)),
                Err(GraphError::NotConfigured(_)) => None,
                Err(e) => {
                    tracing::warn!(cause = %e, "Teams presence is off");
                    None
                }
            }
        } else {
            None
        };
        if graph.is_none() {
            tracing::info!("Teams presence is off: avatars show no presence");
        }
        PresenceHub::start(config, graph, clock, shutdown, tasks)
    }

    /// Starts the hub's tasks on `graph` (reads, writes, notifications)
    /// until `shutdown`. Without `graph`, or with `[presence] enabled =
    /// false`, the hub is local and starts nothing.
    pub fn start(
        config: &crate::Config,
        graph: Option<Arc<GraphClient>>,
        clock: SharedClock,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> PresenceHub {
        let budgets = &config.graph.budgets;
        let Some(graph) = graph.filter(|_| config.presence.enabled) else {
            return PresenceHub::local_with(&config.presence, budgets, clock);
        };
        let (feed, knocks) = mpsc::channel(config.presence.knock_queue);
        let hub = PresenceHub::build(
            &config.presence,
            budgets,
            Some(graph.clone()),
            clock,
            Some(feed),
        );
        tasks.spawn(reader::run(
            hub.shared.clone(),
            shutdown.clone(),
            tasks.clone(),
        ));
        tasks.spawn(writer::run(hub.shared.clone(), shutdown.clone()));
        tasks.spawn(knock::run_feed(graph, knocks, shutdown, tasks.clone()));
        hub
    }

    /// The queue of presence updates for `office` (bounded: [`OFFICE_QUEUE`]);
    /// a second call replaces the first queue (and what the first had not
    /// taken is sent again to the new one).
    pub fn subscribe(&self, office: &str) -> mpsc::Receiver<PresenceUpdate> {
        let (tx, rx) = mpsc::channel(OFFICE_QUEUE);
        self.shared.lock().subscribe(office, tx);
        rx
    }

    /// `user` came into `office` (once per session).
    pub fn online(&self, office: &str, user: &UserRef) {
        let graph_user = self.shared.graph_user(user);
        let now = self.shared.clock.now();
        self.shared.lock().online(office, user, graph_user, now);
    }

    /// `user` left `office` (once per session). When it was their last
    /// session anywhere, the presence written for them is cleared.
    pub fn offline(&self, office: &str, user: &UserRef) {
        let gone = self.shared.lock().offline(office, user);
        if gone {
            self.shared.writer_wake.notify_one();
        }
    }

    /// Users in `office` whose avatars someone else can see now: they are
    /// refreshed first. Replaces what the office said last time.
    pub fn set_seen(&self, office: &str, seen: Vec<UserRef>) {
        self.shared.lock().set_seen(office, seen);
    }

    /// `user`'s conversation group has a meeting (`true`), or they left it
    /// (`false`): their Teams presence is set to Busy / InACall while it
    /// lasts.
    pub fn in_meeting(&self, user: &UserRef, meeting: bool) {
        if !self.shared.config.write_presence || !self.shared.graph_user(user) {
            return;
        }
        if self.shared.lock().want_meeting(user, meeting) {
            self.shared.writer_wake.notify_one();
        }
    }

    /// Asks for a Teams activity-feed notification from `from` (shown as
    /// `from_name`) to `to`, naming `office` when the knock came from one.
    pub fn knock(
        &self,
        from: &UserRef,
        from_name: &str,
        to: &UserRef,
        office: Option<&str>,
    ) -> Result<FeedStatus, KnockError> {
        knock::knock(&self.shared, from, from_name, to, office)
    }

    /// How many users are online in `office`.
    pub fn online_in(&self, office: &str) -> usize {
        self.shared.lock().online_in(office)
    }

    /// Whether an office said lately that someone else can see `user`.
    pub fn is_seen(&self, user: &UserRef) -> bool {
        self.shared.lock().seen().contains(user)
    }

    /// The presence the offices were last told for `user` (`Unknown` when
    /// nothing is known).
    pub fn shown(&self, user: &UserRef) -> Presence {
        self.shared.lock().shown(user)
    }
}
