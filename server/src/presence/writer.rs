//! The presence writer: while someone's conversation group has a meeting,
//! their Teams presence shows Busy / InACall (`setPresence` with this
//! application's session, lasting `[presence] expiration_secs`), renewed
//! `renew_margin_secs` before it lapses; when they leave the group or
//! disconnect, `clearPresence`. A write that fails is tried again after
//! [`RETRY`]; a clear that keeps failing is given up once what was written
//! has lapsed by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::meetings::UserRef;

/// How long after a failed write or clear it is tried again.
pub(super) const RETRY: Duration = Duration::from_secs(30);
/// Writes made at once per tick.
const PER_TICK: usize = 64;

/// What is written for one user.
#[derive(Debug, Clone, Default)]
pub(super) struct Written {
    /// Their group has a meeting.
    pub wanted: bool,
    /// Until when what was written lasts (`None`: nothing written).
    pub until: Option<Instant>,
    /// When to renew it.
    pub renew_at: Option<Instant>,
    /// Not tried again before this (after a failure).
    pub next_try: Option<Instant>,
    /// A call is on its way.
    pub busy: bool,
}

enum Op {
    Set,
    Clear,
}

pub(super) async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    let Some(graph) = shared.graph.clone() else {
        return;
    };
    let tick = Duration::from_millis(shared.config.tick_ms);
    let expiration = Duration::from_secs(shared.config.expiration_secs);
    let margin = Duration::from_secs(shared.config.renew_margin_secs);
    loop {
        let now = shared.clock.now();
        let ops = due(&shared, now);
        if !ops.is_empty() {
            let calls = ops.iter().map(|(user, op)| {
                let graph = graph.clone();
                async move {
                    match op {
                        Op::Set => graph
                            .set_presence(&user.tenant, &user.oid, "Busy", "InACall", expiration)
                            .await
                            .map(|()| true),
                        Op::Clear => graph.clear_presence(&user.tenant, &user.oid).await,
                    }
                }
            });
            let results = tokio::select! {
                results = join_all(calls) => results,
                () = shutdown.cancelled() => return,
            };
            let mut state = shared.lock();
            for ((user, op), result) in ops.into_iter().zip(results) {
                let Some(written) = state.written.get_mut(&user) else {
                    continue;
                };
                written.busy = false;
                match (op, result) {
                    (Op::Set, Ok(_)) => {
                        written.until = Some(now + expiration);
                        written.renew_at = Some(now + expiration - margin);
                        written.next_try = None;
                    }
                    (Op::Clear, Ok(_)) => {
                        written.until = None;
                        written.renew_at = None;
                        written.next_try = None;
                        if !written.wanted {
                            state.written.remove(&user);
                        }
                    }
                    (_, Err(e)) => {
                        tracing::warn!(user = %user, cause = %e, "Teams presence not written");
                        written.next_try = Some(now + RETRY);
                    }
                }
            }
            // Calls took time: look again at once.
            continue;
        }
        tokio::select! {
            () = shared.clock.sleep_until(now + tick) => {}
            () = shared.writer_wake.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// The writes and clears to make now, marked as on their way.
fn due(shared: &Shared, now: Instant) -> Vec<(UserRef, Op)> {
    let mut state = shared.lock();
    let mut ops = Vec::new();
    let mut forget = Vec::new();
    for (user, written) in &mut state.written {
        if ops.len() >= PER_TICK {
            break;
        }
        if written.busy || written.next_try.is_some_and(|t| t > now) {
            continue;
        }
        let lasting = written.until.is_some_and(|until| until > now);
        let op = if written.wanted {
            let renew = written.renew_at.is_none_or(|at| at <= now);
            (!lasting || renew).then_some(Op::Set)
        } else if lasting {
            Some(Op::Clear)
        } else {
            // Nothing written any more (or it lapsed by itself).
            forget.push(user.clone());
            None
        };
        if let Some(op) = op {
            written.busy = true;
            ops.push((user.clone(), op));
        }
    }
    for user in forget {
        state.written.remove(&user);
    }
    ops
}
