//! Offices: each owns a bevy_ecs world ([`sim::OfficeSim`]) and advances it
//! on a fixed tick in its own task. Connection tasks reach an office through
//! its [`OfficeHandle`]: a bounded inbox for joins and leaves, and one
//! [`input::InputSlot`] per avatar for held directions.

pub mod conversations;
#[cfg(test)]
mod conversations_tests;
pub mod emit;
pub mod groups;
#[cfg(test)]
mod groups_tests;
pub mod input;
pub mod interest;
pub mod network;
pub mod outbox;
pub mod people;
pub mod proximity;
pub mod settings;
pub mod sim;
#[cfg(test)]
mod tests;
pub mod thread;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bevy_ecs::prelude::*;
use bytes::Bytes;
use metaoffice_protocol::{ErrorCode, MapRef};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::map::OfficeMap;
use crate::meetings::{MeetingDesk, Providers};
use crate::metrics::Metrics;
use crate::movement::Rules;
use conversations::{
    ConversationZones, Conversations, GroupMail, OfficeMeetings, receive_meetings, send_group_mail,
    track_groups,
};
use emit::emit_frames;
use interest::CellIndex;
use network::{
    Arrivals, Departures, Inbox, OfficeCommand, OfficeInfo, OfficeMetrics, OfficeView,
    PublishedTick, SendPolicy, ServerClock, SpawnPoints, close_all, read_inputs, receive_commands,
};
use people::{NamedZones, OfficePresence, Walks, guide_walks, receive_presence, send_presence};
use sim::{JoinOrder, OfficeSet, OfficeSim};

use crate::presence::PresenceHub;

/// How connection tasks reach a running office.
#[derive(Debug, Clone)]
pub struct OfficeHandle {
    /// The office id.
    pub id: String,
    /// The map it runs: a map file's name without extension (its own id,
    /// unless stored settings name another).
    pub map: String,
    /// Cancelled to close this office alone (the server's shutdown closes it too).
    pub closing: CancellationToken,
    /// Joins and leaves.
    pub inbox: mpsc::Sender<OfficeCommand>,
    /// The tick the office is at.
    pub tick: Arc<AtomicU64>,
    /// Avatars in the office after the last tick.
    pub population: Arc<AtomicUsize>,
    /// The map as clients load it.
    pub client_map: Bytes,
    /// The images the map's tilesets use, served at `/maps/{id}/{file}`:
    /// `{file}` → the file on disk.
    pub map_images: Arc<BTreeMap<String, PathBuf>>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Builds the world of an office on `map`, ready to tick, and the handle
/// through which connections reach it. It has conversation groups but no
/// meeting desk: [`attach_meetings`] gives it one.
pub fn build_office(
    id: &str,
    map: &OfficeMap,
    config: &Config,
    metrics: Arc<Metrics>,
) -> (OfficeSim, OfficeHandle) {
    let o = &config.office;
    let rules = Rules {
        directions: o.directions,
        strategy: o.collision_strategy,
        tick_hz: f64::from(o.tick_hz),
    };
    let mut sim = OfficeSim::new(Arc::new(map.grid.clone()), rules);
    let (inbox_tx, inbox_rx) = mpsc::channel(config.limits.office_inbox);
    let published = PublishedTick::default();
    let info = OfficeInfo {
        map: MapRef {
            id: id.to_owned(),
            url: format!("/maps/{id}"),
            version: 1,
        },
        tick_hz: o.tick_hz,
        directions: o.directions,
        speed: o.speed,
        avatars_collide: o.avatars_collide,
        max_avatars: o.max_avatars,
        max_resyncs: config.limits.max_resyncs,
        resync_window_ticks: config.limits.resync_window_ticks,
    };
    sim.world.insert_resource(Inbox(inbox_rx));
    sim.world.insert_resource(info);
    sim.world.insert_resource(SpawnPoints {
        tiles: map.spawns.clone(),
        next: 0,
    });
    sim.world.insert_resource(ServerClock(unix_ms()));
    sim.world.insert_resource(published.clone());
    sim.world.insert_resource(Arrivals::default());
    sim.world.insert_resource(Departures::default());
    sim.world.insert_resource(OfficeView(config.view.clone()));
    sim.world.insert_resource(CellIndex::new(
        map.grid.width(),
        map.grid.height(),
        &config.view,
    ));
    sim.world.insert_resource(OfficeMetrics {
        label: Metrics::office(id),
        metrics,
    });
    sim.world
        .insert_resource(SendPolicy::new(config.limits.batch_above_clients));
    let mut zones = ConversationZones::default();
    zones.update(map);
    sim.world.insert_resource(zones);
    sim.world.insert_resource(Conversations {
        book: Default::default(),
        config: config.conversations.clone(),
        dwell_ticks: config.conversations.dwell_ticks(o.tick_hz),
    });
    sim.world.insert_resource(GroupMail::default());
    sim.world.insert_resource(Walks::default());
    sim.world.insert_resource(NamedZones::of(map));
    sim.schedule_mut().add_systems(
        (
            receive_commands,
            read_inputs,
            guide_walks,
            receive_meetings,
            receive_presence,
        )
            .chain()
            .in_set(OfficeSet::Receive),
    );
    sim.schedule_mut()
        .add_systems(track_groups.in_set(OfficeSet::Conversations));
    sim.schedule_mut().add_systems(
        (emit_frames, send_group_mail, send_presence)
            .chain()
            .in_set(OfficeSet::Emit),
    );

    let handle = OfficeHandle {
        id: id.to_owned(),
        map: id.to_owned(),
        closing: CancellationToken::new(),
        inbox: inbox_tx,
        tick: published.0.clone(),
        population: Arc::new(AtomicUsize::new(0)),
        client_map: map.client_json.clone(),
        map_images: Arc::new(map.images.clone()),
    };
    (sim, handle)
}

/// Starts a meeting desk for office `id` on `providers` and gives it to the
/// office's world; meetings are asked for in `[graph] tenant_id`, or
/// `local` without one (until sign-in gives each person their tenant).
pub fn attach_meetings(
    sim: &mut OfficeSim,
    id: &str,
    config: &Config,
    providers: Providers,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) {
    let provider = providers.for_office(id).kind();
    let (desk, outcomes) = MeetingDesk::start(&config.meetings, providers, shutdown, tasks);
    let tenant = config.graph.tenant_id.as_deref().unwrap_or("local");
    sim.world
        .insert_resource(OfficeMeetings::new(id, tenant, provider, desk, outcomes));
}

/// Subscribes office `id` to the presence hub: its avatars show their
/// users' Teams presence, and the hub hears who is in the office.
pub fn attach_presence(sim: &mut OfficeSim, id: &str, hub: PresenceHub) {
    sim.world.insert_resource(OfficePresence::new(id, hub));
}

/// Builds the world of an office on `map`, gives it a meeting desk on
/// `providers` (shared by every office) and the presence hub, and starts its
/// tick task on the offices' thread.
#[allow(clippy::too_many_arguments)]
pub fn start_office(
    id: &str,
    map: &OfficeMap,
    config: &Config,
    metrics: Arc<Metrics>,
    providers: Providers,
    presence: PresenceHub,
    shutdown: CancellationToken,
    (tasks, thread): (&TaskTracker, &thread::OfficeThread),
) -> OfficeHandle {
    let (mut sim, mut handle) = build_office(id, map, config, metrics.clone());
    let waker = thread.clone();
    handle.closing = shutdown.child_token();
    let closing = handle.closing.clone();
    attach_meetings(&mut sim, id, config, providers, closing.clone(), tasks);
    attach_presence(&mut sim, id, presence);
    let population = handle.population.clone();
    let period = Duration::from_secs_f64(1.0 / f64::from(config.office.tick_hz));
    let office_id = id.to_owned();
    let label = Metrics::office(id);
    let ticking = async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let tick_seconds = metrics.tick_seconds.get_or_create(&label).clone();
        let tick_cpu_seconds = metrics.tick_cpu_seconds.get_or_create(&label).clone();
        let avatars = metrics.avatars.get_or_create(&label).clone();
        let mut overruns = 0u64;
        let mut last_report = std::time::Instant::now();
        tracing::info!(office = %office_id, "office open");
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    sim.world.resource_mut::<ServerClock>().0 = unix_ms();
                    let started = std::time::Instant::now();
                    let cpu_before = crate::metrics::thread_cpu_time();
                    let ((), woken) = outbox::holding_wakes(|| sim.tick());
                    let took = started.elapsed();
                    let cpu = crate::metrics::thread_cpu_time().saturating_sub(cpu_before);
                    waker.wake(woken);
                    tick_seconds.observe(took.as_secs_f64());
                    tick_cpu_seconds.observe(cpu.as_secs_f64());
                    let count = sim.world.resource::<JoinOrder>().0.len();
                    population.store(count, Ordering::Relaxed);
                    avatars.set(count as i64);
                    if took > period {
                        overruns += 1;
                    }
                    if overruns > 0 && last_report.elapsed() >= Duration::from_secs(10) {
                        tracing::warn!(office = %office_id, overruns, "ticks overran their period in the last 10 s");
                        overruns = 0;
                        last_report = std::time::Instant::now();
                    }
                }
                _ = closing.cancelled() => break,
            }
        }
        let reason = if shutdown.is_cancelled() {
            "the server is shutting down"
        } else {
            "the office was closed"
        };
        close_all(&mut sim.world, ErrorCode::ShuttingDown, reason);
        tracing::info!(office = %office_id, "office closed");
    };
    tasks.spawn_on(ticking, thread.offices());
    handle
}
