//! What the hub knows, behind one mutex: who is online where, the offices'
//! queues and the updates waiting for room in them, who is seen, the
//! presence shown and when it was read, the presence written, knocks.
//! Nothing here waits or does I/O.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::knock::Knocks;
use super::writer::Written;
use super::{Presence, PresenceUpdate};
use crate::graph::BudgetConfig;
use crate::meetings::UserRef;

/// A user whose presence is read from Graph (online somewhere, with a
/// Teams identity).
#[derive(Debug, Clone)]
pub(super) struct Tracked {
    /// What the offices were told.
    pub shown: Presence,
    /// When Graph last answered with a known presence.
    pub read_at: Option<Instant>,
    /// Not read again before this.
    pub due_at: Instant,
    /// A read is on its way.
    pub reading: bool,
}

#[derive(Debug)]
pub(super) struct State {
    /// `office → user → sessions` (a user may be connected twice).
    offices: HashMap<String, HashMap<UserRef, u32>>,
    /// Queues into each office.
    queues: HashMap<String, mpsc::Sender<PresenceUpdate>>,
    /// Updates waiting for room in an office's queue, the latest per user.
    pending: HashMap<String, HashMap<UserRef, Presence>>,
    /// Users each office says others can see.
    seen: HashMap<String, HashSet<UserRef>>,
    /// Users whose presence is read.
    pub users: HashMap<UserRef, Tracked>,
    /// Presence written to Teams while in a meeting.
    pub written: HashMap<UserRef, Written>,
    /// Knock limits.
    pub knocks: Knocks,
}

impl State {
    pub fn new(budgets: &BudgetConfig) -> State {
        State {
            offices: HashMap::new(),
            queues: HashMap::new(),
            pending: HashMap::new(),
            seen: HashMap::new(),
            users: HashMap::new(),
            written: HashMap::new(),
            knocks: Knocks::new(budgets),
        }
    }

    pub fn subscribe(&mut self, office: &str, tx: mpsc::Sender<PresenceUpdate>) {
        self.queues.insert(office.to_owned(), tx);
        // The new queue starts with what is known of the people there.
        let known: HashMap<UserRef, Presence> = self
            .offices
            .get(office)
            .into_iter()
            .flat_map(HashMap::keys)
            .filter_map(|u| Some((u.clone(), self.users.get(u)?.shown)))
            .filter(|(_, p)| *p != Presence::default())
            .collect();
        self.pending.insert(office.to_owned(), known);
        self.flush_office(office);
    }

    pub fn online(&mut self, office: &str, user: &UserRef, graph_user: bool, now: Instant) {
        let sessions = self
            .offices
            .entry(office.to_owned())
            .or_default()
            .entry(user.clone())
            .or_default();
        *sessions += 1;
        let first_here = *sessions == 1;
        if !graph_user {
            return;
        }
        let tracked = self.users.entry(user.clone()).or_insert(Tracked {
            shown: Presence::default(),
            read_at: None,
            due_at: now,
            reading: false,
        });
        let shown = tracked.shown;
        if first_here && shown != Presence::default() {
            self.push(office, user, shown);
        }
    }

    /// `true` when `user` has no session left anywhere.
    pub fn offline(&mut self, office: &str, user: &UserRef) -> bool {
        if let Some(users) = self.offices.get_mut(office) {
            if let Some(count) = users.get_mut(user) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    users.remove(user);
                    if let Some(pending) = self.pending.get_mut(office) {
                        pending.remove(user);
                    }
                }
            }
            if users.is_empty() {
                self.offices.remove(office);
            }
        }
        let gone = !self.offices.values().any(|users| users.contains_key(user));
        if gone {
            // Shown, never kept: forgotten once they are nowhere.
            self.users.remove(user);
            if let Some(written) = self.written.get_mut(user) {
                written.wanted = false;
            }
        }
        gone && self.written.contains_key(user)
    }

    pub fn set_seen(&mut self, office: &str, seen: Vec<UserRef>) {
        if seen.is_empty() {
            self.seen.remove(office);
        } else {
            self.seen
                .insert(office.to_owned(), seen.into_iter().collect());
        }
    }

    /// Users someone can see, in any office.
    pub fn seen(&self) -> HashSet<&UserRef> {
        self.seen.values().flatten().collect()
    }

    pub fn online_in(&self, office: &str) -> usize {
        self.offices.get(office).map_or(0, HashMap::len)
    }

    pub fn shown(&self, user: &UserRef) -> Presence {
        self.users.get(user).map(|t| t.shown).unwrap_or_default()
    }

    /// Shows `presence` for `user` in every office they are in, if it
    /// changed.
    pub fn show(&mut self, user: &UserRef, presence: Presence) {
        let Some(tracked) = self.users.get_mut(user) else {
            return;
        };
        if tracked.shown == presence {
            return;
        }
        tracked.shown = presence;
        let offices: Vec<String> = self
            .offices
            .iter()
            .filter(|(_, users)| users.contains_key(user))
            .map(|(office, _)| office.clone())
            .collect();
        for office in offices {
            self.push(&office, user, presence);
        }
    }

    /// Puts an update in `office`'s queue, or among its pending ones when
    /// the queue is full or others already wait (the latest per user wins).
    fn push(&mut self, office: &str, user: &UserRef, presence: Presence) {
        let Some(tx) = self.queues.get(office) else {
            return;
        };
        let pending = self.pending.entry(office.to_owned()).or_default();
        if !pending.is_empty() {
            pending.insert(user.clone(), presence);
            return;
        }
        let update = PresenceUpdate {
            user: user.clone(),
            presence,
        };
        match tx.try_send(update) {
            Ok(()) => {}
            Err(TrySendError::Full(update)) => {
                pending.insert(update.user, update.presence);
            }
            Err(TrySendError::Closed(_)) => {
                self.queues.remove(office);
                self.pending.remove(office);
            }
        }
    }

    /// Moves pending updates into every office's queue while there is room.
    pub fn flush(&mut self) {
        let offices: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(o, _)| o.clone())
            .collect();
        for office in offices {
            self.flush_office(&office);
        }
    }

    fn flush_office(&mut self, office: &str) {
        let Some(tx) = self.queues.get(office).cloned() else {
            self.pending.remove(office);
            return;
        };
        let Some(pending) = self.pending.get_mut(office) else {
            return;
        };
        let users: Vec<UserRef> = pending.keys().cloned().collect();
        let mut closed = false;
        for user in users {
            let permit = match tx.try_reserve() {
                Ok(permit) => permit,
                Err(TrySendError::Full(())) => break,
                Err(TrySendError::Closed(())) => {
                    closed = true;
                    break;
                }
            };
            if let Some(presence) = pending.remove(&user) {
                permit.send(PresenceUpdate { user, presence });
            }
        }
        if closed {
            self.queues.remove(office);
            self.pending.remove(office);
        }
    }

    /// Shows `Unknown` for users last read at or before `before`.
    pub fn expire(&mut self, before: Instant) {
        let stale: Vec<UserRef> = self
            .users
            .iter()
            .filter(|(_, t)| t.shown != Presence::default())
            .filter(|(_, t)| t.read_at.is_none_or(|at| at <= before))
            .map(|(u, _)| u.clone())
            .collect();
        for user in stale {
            self.show(&user, Presence::default());
        }
    }

    /// Marks `user` as wanting (or no longer wanting) Busy / InACall
    /// written; `true` if the writer has something to do.
    pub fn want_meeting(&mut self, user: &UserRef, meeting: bool) -> bool {
        if meeting {
            self.written.entry(user.clone()).or_default().wanted = true;
            true
        } else if let Some(written) = self.written.get_mut(user) {
            written.wanted = false;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::{Activity, Availability};

    fn user(oid: &str) -> UserRef {
        UserRef {
            tenant: "t1".to_owned(),
            oid: oid.to_owned(),
        }
    }

    #[test]
    fn a_full_office_queue_coalesces_the_latest_per_user_and_delivers_later() {
        let now = Instant::now();
        let mut state = State::new(&BudgetConfig::default());
        let (tx, mut rx) = mpsc::channel(2);
        state.subscribe("o", tx);
        let (a, b, c, elsewhere) = (user("a"), user("b"), user("c"), user("d"));
        for u in [&a, &b, &c] {
            state.online("o", u, true, now);
        }
        state.online("p", &elsewhere, true, now);
        let busy = Presence {
            availability: Availability::Busy,
            activity: Activity::InACall,
        };
        let away = Presence {
            availability: Availability::Away,
            activity: Activity::Away,
        };
        for u in [&a, &b, &c, &elsewhere] {
            state.show(u, busy);
        }
        state.show(&a, away);
        let mut got = Vec::new();
        while let Ok(update) = rx.try_recv() {
            got.push((update.user.oid, update.presence));
        }
        assert_eq!(got, [("a".into(), busy), ("b".into(), busy)]);
        state.flush();
        let mut later = HashMap::new();
        while let Ok(update) = rx.try_recv() {
            later.insert(update.user.oid, update.presence);
        }
        assert_eq!(
            later,
            HashMap::from([("a".into(), away), ("c".into(), busy)])
        );
        // A closed queue is dropped, nothing breaks.
        drop(rx);
        state.show(&b, away);
        state.flush();
        assert!(state.queues.is_empty());
        assert_eq!(state.shown(&b), away);
    }
}
