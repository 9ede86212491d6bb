//! Teams presence and knocks: what offices show on avatars, what the server
//! writes to Teams while people talk, and activity-feed notifications.
//!
//! Offices and connections reach this through a [`PresenceHub`] and never
//! wait on it: every call returns at once, and the work (Graph calls within
//! their budgets) happens on the hub's own tasks. Presence is held in memory
//! only, never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::meetings::UserRef;

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

/// Who is online where, per office, as the hub needs to know it.
#[derive(Debug, Default)]
struct Online {
    /// `office → user → sessions` (a user may be connected twice).
    offices: HashMap<String, HashMap<UserRef, u32>>,
    /// Queues into each office.
    queues: HashMap<String, mpsc::Sender<PresenceUpdate>>,
}

/// The presence service offices and connections share. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PresenceHub {
    online: Arc<Mutex<Online>>,
}

impl PresenceHub {
    /// A hub that knows no Graph: every avatar shows `Unknown`, nothing is
    /// written to Teams, and knocks stay in the office.
    pub fn local() -> PresenceHub {
        PresenceHub::default()
    }

    /// The queue of presence updates for `office` (bounded: [`OFFICE_QUEUE`]);
    /// a second call replaces the first queue.
    pub fn subscribe(&self, office: &str) -> mpsc::Receiver<PresenceUpdate> {
        let (tx, rx) = mpsc::channel(OFFICE_QUEUE);
        let mut online = self.online.lock().unwrap_or_else(|p| p.into_inner());
        online.queues.insert(office.to_owned(), tx);
        rx
    }

    /// `user` came into `office` (once per session).
    pub fn online(&self, office: &str, user: &UserRef) {
        let mut online = self.online.lock().unwrap_or_else(|p| p.into_inner());
        *online
            .offices
            .entry(office.to_owned())
            .or_default()
            .entry(user.clone())
            .or_default() += 1;
    }

    /// `user` left `office` (once per session).
    pub fn offline(&self, office: &str, user: &UserRef) {
        let mut online = self.online.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(users) = online.offices.get_mut(office) {
            if let Some(count) = users.get_mut(user) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    users.remove(user);
                }
            }
            if users.is_empty() {
                online.offices.remove(office);
            }
        }
    }

    /// Users in `office` whose avatars someone else can see now: they are
    /// refreshed first. Replaces what the office said last time.
    pub fn set_seen(&self, office: &str, seen: Vec<UserRef>) {
        let _ = (office, seen);
    }

    /// `user`'s conversation group has a meeting (`true`), or they left it
    /// (`false`): their Teams presence is set to Busy / InACall while it
    /// lasts.
    pub fn in_meeting(&self, user: &UserRef, meeting: bool) {
        let _ = (user, meeting);
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
        let _ = (from_name, office);
        if from == to {
            return Err(KnockError::Myself);
        }
        Ok(FeedStatus::NotConfigured)
    }

    /// How many users are online in `office`.
    pub fn online_in(&self, office: &str) -> usize {
        let online = self.online.lock().unwrap_or_else(|p| p.into_inner());
        online.offices.get(office).map_or(0, HashMap::len)
    }
}
