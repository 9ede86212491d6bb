//! A circuit breaker per endpoint: after `failures` consecutive failures the
//! circuit opens and calls fail at once, without touching the network; after
//! the cool-down one call goes through as a probe (half-open): its success
//! closes the circuit, its failure opens it for another cool-down.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_since: Instant },
}

/// Whether a call may go, and as what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// The circuit is closed.
    Normal,
    /// The circuit is half-open and this call is its probe.
    Probe,
}

/// Circuit breakers by endpoint name.
#[derive(Debug)]
pub struct Breakers {
    failures_to_open: u32,
    cooldown: Duration,
    states: Mutex<HashMap<&'static str, State>>,
}

impl Breakers {
    /// Breakers that open after `failures_to_open` consecutive failures
    /// and probe after `cooldown`.
    pub fn new(failures_to_open: u32, cooldown: Duration) -> Breakers {
        Breakers {
            failures_to_open,
            cooldown,
            states: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, State>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permit for a call to `endpoint`, or how long until the circuit
    /// lets one through.
    pub fn allow(&self, endpoint: &'static str, now: Instant) -> Result<Permit, Duration> {
        let mut states = self.lock();
        let state = states
            .entry(endpoint)
            .or_insert(State::Closed { failures: 0 });
        match *state {
            State::Closed { .. } => Ok(Permit::Normal),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_since: now };
                tracing::info!(endpoint, "circuit half-open: probing");
                Ok(Permit::Probe)
            }
            State::Open { until } => Err(until - now),
            // A probe that never reported (its caller went away) is replaced
            // after a cool-down.
            State::HalfOpen { probe_since } if now >= probe_since + self.cooldown => {
                *state = State::HalfOpen { probe_since: now };
                Ok(Permit::Probe)
            }
            State::HalfOpen { probe_since } => Err(probe_since + self.cooldown - now),
        }
    }

    /// The endpoint answered (any status that shows it is up).
    pub fn success(&self, endpoint: &'static str) {
        let mut states = self.lock();
        let state = states
            .entry(endpoint)
            .or_insert(State::Closed { failures: 0 });
        if !matches!(state, State::Closed { .. }) {
            tracing::info!(endpoint, "circuit closed");
        }
        *state = State::Closed { failures: 0 };
    }

    /// The endpoint failed (5xx, timeout, connection error).
    pub fn failure(&self, endpoint: &'static str, permit: Permit, now: Instant) {
        let mut states = self.lock();
        let state = states
            .entry(endpoint)
            .or_insert(State::Closed { failures: 0 });
        let open = match (*state, permit) {
            (_, Permit::Probe) => true,
            (State::Closed { failures }, Permit::Normal) => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                failures + 1 >= self.failures_to_open
            }
            // Already open or probing: a late failure changes nothing.
            _ => false,
        };
        if open {
            *state = State::Open {
                until: now + self.cooldown,
            };
            tracing::warn!(
                endpoint,
                cooldown_secs = self.cooldown.as_secs_f64(),
                "circuit open"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_probes_after_the_cooldown() {
        let t0 = Instant::now();
        let cooldown = Duration::from_secs(30);
        let b = Breakers::new(3, cooldown);
        for _ in 0..2 {
            assert_eq!(b.allow("x", t0), Ok(Permit::Normal));
            b.failure("x", Permit::Normal, t0);
        }
        // A success in between starts the count again.
        b.success("x");
        for _ in 0..3 {
            assert_eq!(b.allow("x", t0), Ok(Permit::Normal));
            b.failure("x", Permit::Normal, t0);
        }
        assert_eq!(b.allow("x", t0), Err(cooldown));
        assert_eq!(b.allow("other", t0), Ok(Permit::Normal));
        let t1 = t0 + cooldown;
        assert_eq!(b.allow("x", t1), Ok(Permit::Probe));
        // Only one probe at a time.
        assert!(b.allow("x", t1).is_err());
        b.failure("x", Permit::Probe, t1);
        assert_eq!(b.allow("x", t1), Err(cooldown));
        let t2 = t1 + cooldown;
        assert_eq!(b.allow("x", t2), Ok(Permit::Probe));
        b.success("x");
        assert_eq!(b.allow("x", t2), Ok(Permit::Normal));
    }
}
