//! Offices: each owns a bevy_ecs world ([`sim::OfficeSim`]) and advances it
//! on a fixed tick in its own task. Connection tasks reach an office through
//! its [`OfficeHandle`]: a bounded inbox for joins and leaves, and one
//! [`input::InputSlot`] per avatar for held directions.

pub mod input;
pub mod network;
pub mod outbox;
pub mod sim;

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
use crate::movement::Rules;
use network::{
    Arrivals, Departures, Inbox, OfficeCommand, OfficeInfo, PublishedTick, ServerClock,
    SpawnPoints, close_all, emit_frames, read_inputs, receive_commands,
};
use sim::{JoinOrder, OfficeSet, OfficeSim};

/// How connection tasks reach a running office.
#[derive(Debug, Clone)]
pub struct OfficeHandle {
    /// The office id.
    pub id: String,
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

/// Builds the world of an office on `map` and starts its tick task.
pub fn start_office(
    id: &str,
    map: &OfficeMap,
    config: &Config,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> OfficeHandle {
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
    sim.schedule_mut().add_systems(
        (receive_commands, read_inputs)
            .chain()
            .in_set(OfficeSet::Receive),
    );
    sim.schedule_mut()
        .add_systems(emit_frames.in_set(OfficeSet::Emit));

    let handle = OfficeHandle {
        id: id.to_owned(),
        inbox: inbox_tx,
        tick: published.0.clone(),
        population: Arc::new(AtomicUsize::new(0)),
        client_map: map.client_json.clone(),
        map_images: Arc::new(map.images.clone()),
    };
    let population = handle.population.clone();
    let period = Duration::from_secs_f64(1.0 / f64::from(o.tick_hz));
    let office_id = id.to_owned();
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        tracing::info!(office = %office_id, "office open");
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    sim.world.resource_mut::<ServerClock>().0 = unix_ms();
                    let started = std::time::Instant::now();
                    sim.tick();
                    let took = started.elapsed();
                    if took > period {
                        tracing::warn!(office = %office_id, took_ms = took.as_secs_f64() * 1000.0, "tick overran its period");
                    }
                    population.store(sim.world.resource::<JoinOrder>().0.len(), Ordering::Relaxed);
                }
                _ = shutdown.cancelled() => break,
            }
        }
        close_all(&mut sim.world, ErrorCode::ShuttingDown, "the server is shutting down");
        tracing::info!(office = %office_id, "office closed");
    });
    handle
}
