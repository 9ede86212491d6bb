//! How tests steer the fake: faults for the next calls, and limits it
//! enforces by itself.

use std::time::Duration;

use crate::state::Endpoint;

/// A way for an endpoint to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `429 Too Many Requests` with `Retry-After: secs` (and the endpoint's
    /// documented error body).
    Throttle {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
    /// This status with the endpoint's documented error body (`500`, `503`…).
    Status(u16),
    /// The success status with a body that is not the documented shape.
    Malformed(MalformedBody),
    /// Wait this long (real time) before answering normally.
    Delay(Duration),
    /// Cut the connection off before an answer.
    Disconnect,
}

/// What a malformed answer looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedBody {
    /// JSON cut off in the middle.
    Truncated,
    /// Valid JSON of the wrong shape (required fields missing or mistyped).
    WrongShape,
    /// Not JSON at all.
    NotJson,
}

/// For how many calls a fault lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// The next `n` calls to the endpoint.
    Next(u32),
    /// Every call until [`crate::FakeMicrosoft::clear_faults`].
    UntilCleared,
}

/// Which calls a [`Limit`] counts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// All calls to the endpoint, whatever the tenant.
    Global,
    /// Calls to the endpoint from one tenant (as the token says).
    PerTenant,
}

/// A limit the fake enforces: more than `max` calls within any `window`
/// (the window ending at the call, excluding its start) answer `429` with a
/// `Retry-After` saying when the window frees up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The endpoint counted; `None` counts every Graph call.
    pub endpoint: Option<Endpoint>,
    /// Counted across tenants or per tenant.
    pub scope: LimitScope,
    /// Most calls in a window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

impl Limit {
    /// Whether a call to `endpoint` counts against this limit.
    pub(crate) fn counts(&self, endpoint: Endpoint) -> bool {
        match self.endpoint {
            Some(e) => e == endpoint,
            None => endpoint.is_graph(),
        }
    }
}

/// A fault with the calls it has left.
#[derive(Debug, Clone)]
pub(crate) struct ScheduledFault {
    pub fault: Fault,
    pub times: Times,
}

impl ScheduledFault {
    /// Uses the fault once; `None` once it is used up.
    pub fn take(&mut self) -> Option<Fault> {
        match &mut self.times {
            Times::UntilCleared => Some(self.fault.clone()),
            Times::Next(0) => None,
            Times::Next(n) => {
                *n -= 1;
                Some(self.fault.clone())
            }
        }
    }
}
