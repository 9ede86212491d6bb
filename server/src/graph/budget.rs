//! Keeping under the Graph budgets: token buckets per tenant and across all
//! tenants, one budget per kind of call, a pause per tenant after a `429`,
//! and a count of meetings per organizer per calendar month.
//!
//! A bucket holds `capacity` tokens; a token spent returns exactly one
//! window later. So no window of that length (ending at a call, excluding
//! its start) ever holds more than `capacity` calls: "2,000 per second"
//! means that in *any* second, not on average. A call that would overdraw a
//! bucket waits (on the injected clock) until every bucket it needs has the
//! tokens, then takes them all at once and holds the clock while it is on
//! the wire ([`Admission`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::config::BudgetConfig;
use crate::clock::{ClockHold, SharedClock, year_month};

/// The kinds of Graph call with budgets of their own. Every kind also
/// counts against "all calls".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetKind {
    /// `onlineMeetings/createOrGet` (also counted per organizer per month).
    Meetings,
    /// `getPresencesByUserId`; the cost is the number of user ids.
    Presence,
    /// `sendActivityNotification`.
    Notifications,
    /// The teams a user belongs to.
    TeamsOfUser,
    /// The members of a team.
    TeamMembers,
    /// Anything else: only "all calls".
    Other,
}

/// A budget that cannot be met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// One call costs more than a whole window allows.
    #[error("a call costing {cost} can never fit a budget of {capacity}")]
    TooLarge {
        /// What the call costs.
        cost: u32,
        /// The budget's capacity.
        capacity: u32,
    },
    /// The organizer has used this month's meetings.
    #[error("{tenant}/{organizer} has organized {limit} meetings this month, the monthly budget")]
    MonthlyMeetings {
        /// The organizer's tenant.
        tenant: String,
        /// The organizer's object id.
        organizer: String,
        /// The monthly budget.
        limit: u32,
    },
}

/// At most `capacity` tokens spent within any `window`.
#[derive(Debug, Clone)]
pub struct WindowBucket {
    capacity: u32,
    window: Duration,
    spent: VecDeque<(Instant, u32)>,
    used: u32,
}

impl WindowBucket {
    /// A full bucket.
    pub fn new(capacity: u32, window: Duration) -> WindowBucket {
        WindowBucket {
            capacity,
            window,
            spent: VecDeque::new(),
            used: 0,
        }
    }

    fn refill(&mut self, now: Instant) {
        while let Some(&(at, cost)) = self.spent.front() {
            if at + self.window > now {
                break;
            }
            self.spent.pop_front();
            self.used -= cost;
        }
    }

    /// When `cost` tokens will be there (`now` if they are).
    pub fn ready_at(&mut self, now: Instant, cost: u32) -> Result<Instant, BudgetError> {
        if cost > self.capacity {
            return Err(BudgetError::TooLarge {
                cost,
                capacity: self.capacity,
            });
        }
        self.refill(now);
        let mut free = self.capacity - self.used;
        if free >= cost {
            return Ok(now);
        }
        for &(at, spent) in &self.spent {
            free += spent;
            if free >= cost {
                return Ok(at + self.window);
            }
        }
        Ok(now + self.window)
    }

    /// Spends `cost` tokens at `now` (after [`WindowBucket::ready_at`] said so).
    pub fn take(&mut self, now: Instant, cost: u32) {
        self.spent.push_back((now, cost));
        self.used += cost;
    }

    /// Tokens that could be spent at `now` without waiting.
    pub fn free(&mut self, now: Instant) -> u32 {
        self.refill(now);
        self.capacity - self.used
    }

    fn is_idle(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.spent.is_empty()
    }
}

/// Permission to send one call now: holds the clock until dropped, so a
/// manual clock stays at the admission instant while the call is on the wire.
#[derive(Debug)]
pub struct Admission {
    /// When the call was admitted.
    pub at: Instant,
    _hold: ClockHold,
}

struct Limits {
    global: Option<(u32, Duration)>,
    tenant: Option<(u32, Duration)>,
}

#[derive(Default)]
struct MonthlyCounts {
    month: (i64, u32),
    counts: HashMap<(String, String), u32>,
}

struct State {
    all_calls: WindowBucket,
    global: HashMap<BudgetKind, WindowBucket>,
    tenant: HashMap<(BudgetKind, String), WindowBucket>,
    paused: HashMap<String, Instant>,
    monthly: MonthlyCounts,
}

/// Every Graph budget of one server (shared by all its offices).
pub struct Budgets {
    clock: SharedClock,
    config: BudgetConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets")
            .field("config", &self.config)
            .finish()
    }
}

const SECOND: Duration = Duration::from_secs(1);
/// Per-tenant buckets kept before idle ones are dropped.
const TENANT_BUCKETS_SWEEP: usize = 4096;

impl Budgets {
    /// Full budgets under `config`.
    pub fn new(config: BudgetConfig, clock: SharedClock) -> Budgets {
        Budgets {
            state: Mutex::new(State {
                all_calls: WindowBucket::new(config.all_calls_per_second, SECOND),
                global: HashMap::new(),
                tenant: HashMap::new(),
                paused: HashMap::new(),
                monthly: MonthlyCounts::default(),
            }),
            clock,
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn limits(&self, kind: BudgetKind) -> Limits {
        let c = &self.config;
        let per_second = |n: u32| Some((n, SECOND));
        match kind {
            BudgetKind::Meetings | BudgetKind::Other => Limits {
                global: None,
                tenant: None,
            },
            BudgetKind::Presence => Limits {
                global: Some((
                    c.presence_users,
                    Duration::from_secs(u64::from(c.presence_window_secs)),
                )),
                tenant: None,
            },
            BudgetKind::Notifications => Limits {
                global: per_second(c.notifications_per_second),
                tenant: per_second(c.notifications_per_second_per_tenant),
            },
            BudgetKind::TeamsOfUser => Limits {
                global: per_second(c.teams_of_user_per_second),
                tenant: per_second(c.teams_of_user_per_second_per_tenant),
            },
            BudgetKind::TeamMembers => Limits {
                global: per_second(c.team_members_per_second),
                tenant: per_second(c.team_members_per_second_per_tenant),
            },
        }
    }

    /// Waits until a Graph call of `kind` costing `cost` (1, or the number
    /// of user ids for presence) fits every budget and `tenant` is not
    /// paused, then spends it.
    pub async fn acquire(
        &self,
        tenant: &str,
        kind: BudgetKind,
        cost: u32,
    ) -> Result<Admission, BudgetError> {
        let limits = self.limits(kind);
        loop {
            let (now, hold) = self.clock.hold();
            let ready = {
                let mut state = self.lock();
                let state = &mut *state;
                let mut ready = state.all_calls.ready_at(now, 1)?;
                if let Some((capacity, window)) = limits.global {
                    let bucket = state
                        .global
                        .entry(kind)
                        .or_insert_with(|| WindowBucket::new(capacity, window));
                    ready = ready.max(bucket.ready_at(now, cost)?);
                }
                if let Some((capacity, window)) = limits.tenant {
                    let bucket = state
                        .tenant
                        .entry((kind, tenant.to_owned()))
                        .or_insert_with(|| WindowBucket::new(capacity, window));
                    ready = ready.max(bucket.ready_at(now, cost)?);
                }
                if let Some(&until) = state.paused.get(tenant) {
                    if until > now {
                        ready = ready.max(until);
                    } else {
                        state.paused.remove(tenant);
                    }
                }
                if ready <= now {
                    state.all_calls.take(now, 1);
                    if let Some(bucket) = state.global.get_mut(&kind) {
                        bucket.take(now, cost);
                    }
                    if let Some(bucket) = state.tenant.get_mut(&(kind, tenant.to_owned())) {
                        bucket.take(now, cost);
                    }
                    if state.tenant.len() > TENANT_BUCKETS_SWEEP {
                        state.tenant.retain(|_, b| !b.is_idle(now));
                    }
                    return Ok(Admission {
                        at: now,
                        _hold: hold,
                    });
                }
                ready
            };
            drop(hold);
            self.clock.sleep_until(ready).await;
        }
    }

    /// How much a call of `kind` for `tenant` could cost now without
    /// waiting: what its buckets have left (the largest capacity when it has
    /// none), 0 while the tenant is paused or "all calls" is spent.
    pub fn room(&self, tenant: &str, kind: BudgetKind) -> u32 {
        let limits = self.limits(kind);
        let now = self.clock.now();
        let mut state = self.lock();
        let state = &mut *state;
        if state.paused.get(tenant).is_some_and(|&until| until > now)
            || state.all_calls.free(now) == 0
        {
            return 0;
        }
        let mut room = u32::MAX;
        if let Some((capacity, _)) = limits.global {
            room = room.min(
                state
                    .global
                    .get_mut(&kind)
                    .map_or(capacity, |b| b.free(now)),
            );
        }
        if let Some((capacity, _)) = limits.tenant {
            let bucket = state.tenant.get_mut(&(kind, tenant.to_owned()));
            room = room.min(bucket.map_or(capacity, |b| b.free(now)));
        }
        room
    }

    /// Sends nothing for `tenant` before `until` (a `429`'s `Retry-After`).
    pub fn pause(&self, tenant: &str, until: Instant) {
        let mut state = self.lock();
        let entry = state.paused.entry(tenant.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Until when `tenant` is paused, if it is.
    pub fn paused_until(&self, tenant: &str) -> Option<Instant> {
        let now = self.clock.now();
        self.lock()
            .paused
            .get(tenant)
            .copied()
            .filter(|&until| until > now)
    }

    /// Counts one createOrGet for `organizer` this month, or refuses once
    /// the monthly budget is used. Counted before the call and not given
    /// back when it fails (Graph may have created the meeting anyway).
    pub fn take_meeting(&self, tenant: &str, organizer: &str) -> Result<u32, BudgetError> {
        let month = year_month(self.clock.wall());
        let limit = self.config.meetings_per_user_per_month;
        let mut state = self.lock();
        let monthly = &mut state.monthly;
        if monthly.month != month {
            monthly.month = month;
            monthly.counts.clear();
        }
        let count = monthly
            .counts
            .entry((tenant.to_owned(), organizer.to_owned()))
            .or_insert(0);
        if *count >= limit {
            return Err(BudgetError::MonthlyMeetings {
                tenant: tenant.to_owned(),
                organizer: organizer.to_owned(),
                limit,
            });
        }
        *count += 1;
        Ok(*count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_never_holds_more_than_its_capacity_in_any_window() {
        let t0 = Instant::now();
        let w = Duration::from_secs(1);
        let mut bucket = WindowBucket::new(3, w);
        for _ in 0..3 {
            assert_eq!(bucket.ready_at(t0, 1), Ok(t0));
            bucket.take(t0, 1);
        }
        // Full: the next token comes back exactly one window after it went.
        assert_eq!(bucket.ready_at(t0, 1), Ok(t0 + w));
        let t1 = t0 + Duration::from_millis(400);
        assert_eq!(bucket.ready_at(t1, 1), Ok(t0 + w));
        assert_eq!(bucket.ready_at(t0 + w, 3), Ok(t0 + w));
        assert_eq!(
            bucket.ready_at(t0, 4),
            Err(BudgetError::TooLarge {
                cost: 4,
                capacity: 3
            })
        );
    }

    #[test]
    fn costs_wait_for_enough_tokens_to_return() {
        let t0 = Instant::now();
        let mut bucket = WindowBucket::new(10, Duration::from_secs(30));
        bucket.take(t0, 4);
        bucket.take(t0 + Duration::from_secs(10), 6);
        let t = t0 + Duration::from_secs(20);
        assert_eq!(bucket.ready_at(t, 4), Ok(t0 + Duration::from_secs(30)));
        assert_eq!(bucket.ready_at(t, 5), Ok(t0 + Duration::from_secs(40)));
    }
}
