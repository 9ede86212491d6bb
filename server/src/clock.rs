//! The injected clock. Rate limiters, backoff, circuit breakers and dwell
//! timers take their time from a [`Clock`] instead of asking the system, so
//! that tests step time by hand ([`ManualClock`]) while real HTTP clients run
//! (tokio's paused time does not mix with them: reqwest times out at once).
//!
//! A clock gives a monotonic [`Instant`] for measuring and a wall time
//! ([`SystemTime`]) for dates on the wire and calendar months, can sleep until
//! an instant, and can be *held*: work that must happen at one instant (a
//! request on the wire, from admission to answer) holds the clock, and a
//! manual clock does not advance while held. The system clock ignores holds.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A future that completes when a clock reaches a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where time comes from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Monotonic time, for durations and deadlines.
    fn now(&self) -> Instant;
    /// Wall time, for dates sent to services and calendar months.
    fn wall(&self) -> SystemTime;
    /// Completes once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Sleep;
    /// The time now, and a hold that keeps a manual clock at it until dropped.
    fn hold(&self) -> (Instant, ClockHold);
}

/// A clock shared by everything that needs one.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock: `Instant::now`, `SystemTime::now`, tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock, shared.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn hold(&self) -> (Instant, ClockHold) {
        (Instant::now(), ClockHold { clock: None })
    }
}

/// Keeps a [`ManualClock`] from advancing while alive (see [`Clock::hold`]).
#[must_use = "the hold ends when dropped"]
pub struct ClockHold {
    clock: Option<Arc<ManualInner>>,
}

impl fmt::Debug for ClockHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClockHold")
    }
}

impl Drop for ClockHold {
    fn drop(&mut self) {
        if let Some(inner) = &self.clock {
            inner.lock().holds -= 1;
        }
    }
}

/// A clock that only moves when told: [`ManualClock::advance`] moves it by a
/// duration; [`ManualClock::advance_to_next_deadline`] jumps to the earliest
/// deadline anything sleeps until, unless the clock is held. Clones share
/// the same time.
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    origin: Instant,
    wall_origin: SystemTime,
    state: Mutex<ManualState>,
    ticks: watch::Sender<Duration>,
}

#[derive(Default)]
struct ManualState {
    offset: Duration,
    holds: usize,
    sleepers: BTreeMap<u64, Instant>,
    next_sleeper: u64,
}

impl ManualInner {
    fn lock(&self) -> MutexGuard<'_, ManualState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> Instant {
        self.origin + self.lock().offset
    }

    fn set_offset(&self, state: &mut ManualState, offset: Duration) {
        state.offset = offset;
        self.ticks.send_replace(offset);
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A clock at the real time now, that moves only when told.
    pub fn new() -> ManualClock {
        ManualClock::starting_at(SystemTime::now())
    }

    /// A clock whose wall time starts at `wall`.
    pub fn starting_at(wall: SystemTime) -> ManualClock {
        ManualClock {
            inner: Arc::new(ManualInner {
                origin: Instant::now(),
                wall_origin: wall,
                state: Mutex::new(ManualState::default()),
                ticks: watch::channel(Duration::ZERO).0,
            }),
        }
    }

    /// This clock as a [`SharedClock`].
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }

    /// How far the clock has been advanced since it was made.
    pub fn elapsed(&self) -> Duration {
        self.inner.lock().offset
    }

    /// Moves the clock forward by `by`, held or not.
    pub fn advance(&self, by: Duration) {
        let mut state = self.inner.lock();
        let offset = state.offset + by;
        self.inner.set_offset(&mut state, offset);
    }

    /// Moves the clock to the earliest deadline something sleeps until, if
    /// nothing holds it and that deadline is ahead; `true` if it moved.
    pub fn advance_to_next_deadline(&self) -> bool {
        let mut state = self.inner.lock();
        if state.holds > 0 {
            return false;
        }
        let now = self.inner.origin + state.offset;
        let Some(next) = state.sleepers.values().min().copied() else {
            return false;
        };
        if next <= now {
            return false;
        }
        let offset = next - self.inner.origin;
        self.inner.set_offset(&mut state, offset);
        true
    }

    /// How many sleeps are waiting for this clock.
    pub fn sleepers(&self) -> usize {
        self.inner.lock().sleepers.len()
    }

    /// How many holds are alive.
    pub fn holds(&self) -> usize {
        self.inner.lock().holds
    }
}

struct SleeperGuard {
    inner: Arc<ManualInner>,
    id: u64,
}

impl Drop for SleeperGuard {
    fn drop(&mut self) {
        self.inner.lock().sleepers.remove(&self.id);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn wall(&self) -> SystemTime {
        self.inner.wall_origin + self.elapsed()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        let inner = self.inner.clone();
        Box::pin(async move {
            let mut ticks = inner.ticks.subscribe();
            let guard = {
                let mut state = inner.lock();
                if inner.origin + state.offset >= deadline {
                    return;
                }
                let id = state.next_sleeper;
                state.next_sleeper += 1;
                state.sleepers.insert(id, deadline);
                SleeperGuard {
                    inner: inner.clone(),
                    id,
                }
            };
            while inner.now() < deadline {
                if ticks.changed().await.is_err() {
                    break;
                }
            }
            drop(guard);
        })
    }

    fn hold(&self) -> (Instant, ClockHold) {
        let mut state = self.inner.lock();
        state.holds += 1;
        (
            self.inner.origin + state.offset,
            ClockHold {
                clock: Some(self.inner.clone()),
            },
        )
    }
}

/// The UTC calendar month of `t` as (year, month 1–12).
pub fn year_month(t: SystemTime) -> (i64, u32) {
    let days = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() / 86_400) as i64,
        Err(e) => -(e.duration().as_secs().div_ceil(86_400) as i64),
    };
    // Days to civil date (Howard Hinnant's algorithm), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_known_dates() {
        let at = |secs: u64| year_month(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), (1970, 1));
        assert_eq!(at(951_782_400), (2000, 2)); // 2000-02-29
        assert_eq!(at(951_868_800), (2000, 3)); // 2000-03-01
        assert_eq!(at(1_735_689_599), (2024, 12)); // 2024-12-31T23:59:59
        assert_eq!(at(1_735_689_600), (2025, 1));
    }

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_reaches_its_deadline() {
        let clock = ManualClock::new();
        let deadline = clock.now() + Duration::from_secs(5);
        let sleep = tokio::spawn(clock.sleep_until(deadline));
        while clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        clock.advance(Duration::from_secs(4));
        tokio::task::yield_now().await;
        assert!(!sleep.is_finished());
        assert!(clock.advance_to_next_deadline());
        sleep.await.expect("sleep");
        assert_eq!(clock.elapsed(), Duration::from_secs(5));
        assert_eq!(clock.sleepers(), 0);
    }

    #[test]
    fn a_held_clock_does_not_jump() {
        let clock = ManualClock::new();
        let (at, hold) = clock.hold();
        assert_eq!(at, clock.now());
        let _sleep = clock.sleep_until(at + Duration::from_secs(1));
        assert!(!clock.advance_to_next_deadline());
        drop(hold);
        assert_eq!(clock.holds(), 0);
        assert_eq!(clock.wall(), clock.inner.wall_origin);
    }
}
