//! The presence reader: every tick it shows `Unknown` for presence too
//! stale to show, delivers updates that waited for room in an office's
//! queue, and reads the presence of the users that are due, seen ones
//! first and the stalest first, in batches of one tenant of at most 650 ids
//! sized to what the presence budget has left now (so a batch never waits
//! for the budget and the order is kept). A tenant paused after a `429` is
//! skipped until its pause ends; a user is in one read at a time.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Activity, Availability, Presence, Shared};
use crate::graph::{BudgetKind, GraphClient, GraphError, MAX_PRESENCE_IDS};
use crate::meetings::UserRef;

pub(super) async fn run(shared: Arc<Shared>, shutdown: CancellationToken, tasks: TaskTracker) {
    let Some(graph) = shared.graph.clone() else {
        return;
    };
    let tick = Duration::from_millis(shared.config.tick_ms);
    loop {
        let now = shared.clock.now();
        for (tenant, ids) in tick_once(&shared, &graph, now) {
            let read = read(shared.clone(), graph.clone(), tenant, ids);
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                tokio::select! {
                    () = read => {}
                    () = shutdown.cancelled() => {}
                }
            });
        }
        tokio::select! {
            () = shared.clock.sleep_until(now + tick) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// One tick: expire, flush, and pick the batches to read now.
fn tick_once(shared: &Shared, graph: &GraphClient, now: Instant) -> Vec<(String, Vec<String>)> {
    let stale_after = Duration::from_secs(shared.config.stale_after_secs);
    let mut state = shared.lock();
    if let Some(before) = now.checked_sub(stale_after) {
        state.expire(before);
    }
    state.flush();
    let seen = state.seen();
    // Due users, best first: seen, never read, read longest ago.
    let mut due: Vec<(bool, Option<Instant>, &UserRef)> = state
        .users
        .iter()
        .filter(|(_, t)| !t.reading && t.due_at <= now)
        .map(|(u, t)| (seen.contains(u), t.read_at, u))
        .collect();
    if due.is_empty() {
        return Vec::new();
    }
    due.sort_unstable_by_key(|&(seen, read_at, user)| (Reverse(seen), read_at, user));
    // The best ones the budget has room for now, in batches of one tenant;
    // a paused tenant's users wait.
    let mut batches: Vec<(String, Vec<String>)> = Vec::new();
    let mut open: HashMap<&str, Option<usize>> = HashMap::new();
    let mut room: Option<u32> = None;
    for &(_, _, user) in &due {
        let tenant = user.tenant.as_str();
        let slot = open.entry(tenant).or_insert_with(|| {
            let tenant_room = graph.budgets().room(tenant, BudgetKind::Presence);
            (tenant_room > 0).then_some(usize::MAX)
        });
        let Some(batch) = slot else {
            continue; // paused
        };
        let left = room.get_or_insert_with(|| graph.budgets().room(tenant, BudgetKind::Presence));
        if *left == 0 {
            break;
        }
        *left -= 1;
        if *batch == usize::MAX || batches[*batch].1.len() >= MAX_PRESENCE_IDS {
            *batch = batches.len();
            batches.push((tenant.to_owned(), Vec::new()));
        }
        batches[*batch].1.push(user.oid.clone());
    }
    drop(due);
    drop(seen);
    for (tenant, ids) in &batches {
        for oid in ids {
            let user = UserRef {
                tenant: tenant.clone(),
                oid: oid.clone(),
            };
            if let Some(t) = state.users.get_mut(&user) {
                t.reading = true;
            }
        }
    }
    batches
}

/// Reads one batch and shows what Graph answered.
async fn read(shared: Arc<Shared>, graph: Arc<GraphClient>, tenant: String, ids: Vec<String>) {
    let answer = graph.presences_by_user_id(&tenant, &ids).await;
    let now = shared.clock.now();
    let refresh = Duration::from_secs(shared.config.refresh_secs);
    let stale_after = Duration::from_secs(shared.config.stale_after_secs);
    let mut state = shared.lock();
    let mut retry_in = refresh;
    let answered = match answer {
        Ok(presences) => Some(presences),
        Err(e) => {
            tracing::warn!(%tenant, ids = ids.len(), cause = %e, "presence not read");
            if matches!(
                e,
                GraphError::Rejected {
                    status: 400..=404,
                    ..
                }
            ) {
                // Refused as asked (a bad id, no permission in the tenant):
                // asking again soon would only spend the budget.
                retry_in = stale_after;
            }
            None
        }
    };
    let mut by_id: HashMap<String, Presence> = answered
        .iter()
        .flatten()
        .map(|p| {
            let presence = Presence {
                availability: Availability::from_graph(&p.availability),
                activity: Activity::from_graph(&p.activity),
            };
            (p.id.clone(), presence)
        })
        .collect();
    for oid in ids {
        let user = UserRef {
            tenant: tenant.clone(),
            oid,
        };
        let Some(tracked) = state.users.get_mut(&user) else {
            continue; // gone meanwhile
        };
        tracked.reading = false;
        if answered.is_none() {
            // Shown until it is too stale; tried again later.
            tracked.due_at = now + retry_in;
            continue;
        }
        let presence = by_id.remove(&user.oid).unwrap_or_default();
        if presence.availability == Availability::Unknown {
            // Not known to Graph (left the tenant, a bad id): read again
            // only once presence would be stale anyway.
            tracked.due_at = now + stale_after;
            tracked.read_at = None;
        } else {
            tracked.due_at = now + refresh;
            tracked.read_at = Some(now);
        }
        state.show(&user, presence);
    }
}
