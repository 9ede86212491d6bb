//! Where the office meets its clients: the receive phase drains joins and
//! leaves from the inbox and reads held directions; the emit phase encodes
//! one tick frame and queues the same bytes for every client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy_ecs::prelude::*;
use bytes::Bytes;
use metaoffice_protocol::{
    AvatarSnapshot, ErrorCode, MapRef, PROTOCOL_VERSION, ServerMessage, Snapshot, TickFrameBuilder,
    Welcome,
};
use tokio::sync::{mpsc, oneshot};

use super::input::InputSlot;
use super::outbox::{Outbox, PushError};
use super::sim::{
    Avatar, Held, OfficeGrid, TickCount, TickEvents, TileReservations, despawn_avatar, spawn_avatar,
};
use crate::movement::{MoveEvent, Walker};

/// What connection tasks ask of an office.
#[derive(Debug)]
pub enum OfficeCommand {
    /// Add an avatar for a new client.
    Join {
        /// Display name.
        name: String,
        /// Where the client's frames go.
        outbox: Outbox,
        /// Where the client's held direction comes from.
        input: InputSlot,
        /// The avatar, or why not.
        reply: oneshot::Sender<Result<Joined, (ErrorCode, String)>>,
    },
    /// The client is gone: remove its avatar.
    Leave {
        /// The avatar's entity.
        avatar: Entity,
    },
}

/// A client's avatar in an office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// The avatar's entity, for `Leave`.
    pub entity: Entity,
    /// The avatar's id, as clients see it.
    pub id: u32,
}

/// The office's inbox.
#[derive(Resource)]
pub struct Inbox(pub mpsc::Receiver<OfficeCommand>);

/// What clients need to know about the office.
#[derive(Resource, Clone)]
pub struct OfficeInfo {
    /// The map clients load.
    pub map: MapRef,
    /// Ticks per second.
    pub tick_hz: u16,
    /// 4 or 8.
    pub directions: u8,
    /// Walking speed of new avatars, tiles per second.
    pub speed: f64,
    /// Whether avatars block each other.
    pub avatars_collide: bool,
    /// Most avatars at once.
    pub max_avatars: usize,
    /// Resynchronisations within the window before a client is dropped.
    pub max_resyncs: u32,
    /// That window, in ticks.
    pub resync_window_ticks: u64,
}

/// Where avatars appear, and which spawn tile the next one tries first.
#[derive(Resource, Default)]
pub struct SpawnPoints {
    /// Spawn tiles from the map.
    pub tiles: Vec<(i32, i32)>,
    /// Round-robin position.
    pub next: usize,
}

/// The server clock at the start of this tick, Unix ms (set by the office task).
#[derive(Resource, Default)]
pub struct ServerClock(pub u64);

/// The current tick, shared with connection tasks for `Pong`.
#[derive(Resource, Clone, Default)]
pub struct PublishedTick(pub Arc<AtomicU64>);

/// Avatars that joined this tick.
#[derive(Resource, Default)]
pub struct Arrivals(pub Vec<Entity>);

/// Avatar ids that left this tick.
#[derive(Resource, Default)]
pub struct Departures(pub Vec<u32>);

/// A client watching the office.
#[derive(Component, Debug)]
pub struct Viewer {
    /// Its frames.
    pub outbox: Outbox,
    /// Ticks at which it was resynchronised recently.
    pub resyncs: Vec<u64>,
}

fn pick_spawn(world: &mut World) -> Option<(i32, i32)> {
    let grid = world.resource::<OfficeGrid>().0.clone();
    let reservations = &world.resource::<TileReservations>().0;
    let free = |&(x, y): &(i32, i32)| !grid.is_tile_blocked(x, y) && !reservations.is_held((x, y));
    let spawns = world.resource::<SpawnPoints>();
    let count = spawns.tiles.len();
    let found = (0..count)
        .map(|i| spawns.tiles[(spawns.next + i) % count])
        .find(free);
    let tile = found.or_else(|| {
        let (x, y) = spawns
            .tiles
            .first()
            .copied()
            .unwrap_or((grid.width() / 2, grid.height() / 2));
        grid.nearest_free(x, y, |tx, ty| reservations.is_held((tx, ty)))
    });
    let mut spawns = world.resource_mut::<SpawnPoints>();
    spawns.next = (spawns.next + 1) % count.max(1);
    tile
}

/// Every avatar as clients see it, by id.
fn all_snapshots(world: &mut World) -> Vec<AvatarSnapshot> {
    let mut query = world.query::<(&Avatar, &Walker)>();
    let mut avatars: Vec<_> = query.iter(world).map(|(a, w)| a.snapshot(w)).collect();
    avatars.sort_by_key(|a| a.id);
    avatars
}

fn join(
    world: &mut World,
    name: String,
    outbox: Outbox,
    input: InputSlot,
) -> Result<Joined, (ErrorCode, String)> {
    let info = world.resource::<OfficeInfo>().clone();
    let population = world.resource::<super::sim::JoinOrder>().0.len();
    if population >= info.max_avatars {
        return Err((
            ErrorCode::Full,
            format!(
                "the office holds its maximum of {} people",
                info.max_avatars
            ),
        ));
    }
    let tile = pick_spawn(world).ok_or((
        ErrorCode::Full,
        "the office has no free tile left".to_owned(),
    ))?;
    let viewer = Viewer {
        outbox: outbox.clone(),
        resyncs: Vec::new(),
    };
    let entity = spawn_avatar(
        world,
        &name,
        tile,
        info.speed,
        info.avatars_collide,
        (input, viewer),
    );
    let id = world.get::<Avatar>(entity).map_or(0, |a| a.id);
    let welcome = Welcome {
        version: PROTOCOL_VERSION,
        avatar: id,
        tick_hz: info.tick_hz,
        tick: world.resource::<TickCount>().0,
        server_ms: world.resource::<ServerClock>().0,
        directions: info.directions,
        map: info.map.clone(),
        avatars: all_snapshots(world),
    };
    // The outbox is new and empty: the welcome always fits.
    let _ = outbox.push(Bytes::from(ServerMessage::Welcome(welcome).encode()));
    world.resource_mut::<Arrivals>().0.push(entity);
    Ok(Joined { entity, id })
}

fn leave(world: &mut World, entity: Entity) {
    if let Some(id) = despawn_avatar(world, entity) {
        let mut arrivals = world.resource_mut::<Arrivals>();
        arrivals.0.retain(|&e| e != entity);
        world.resource_mut::<Departures>().0.push(id);
    }
}

/// Receive phase: drains the inbox without waiting.
pub fn receive_commands(world: &mut World) {
    world.resource_mut::<Arrivals>().0.clear();
    // Departures are not cleared here: emit takes them, and those recorded
    // after the last frame (clients dropped while emitting) go in the next.
    let tick = world.resource::<TickCount>().0;
    world
        .resource::<PublishedTick>()
        .0
        .store(tick, Ordering::Relaxed);
    // Only what is queued now; whatever arrives meanwhile waits for the next tick.
    let pending = world.resource::<Inbox>().0.len();
    for _ in 0..pending {
        let Ok(command) = world.resource_mut::<Inbox>().0.try_recv() else {
            break;
        };
        match command {
            OfficeCommand::Join {
                name,
                outbox,
                input,
                reply,
            } => {
                let result = join(world, name, outbox, input);
                if reply.send(result.clone()).is_err()
                    && let Ok(joined) = result
                {
                    // The client left while waiting: take the avatar out again.
                    leave(world, joined.entity);
                }
            }
            OfficeCommand::Leave { avatar } => leave(world, avatar),
        }
    }
}

/// Receive phase: what each player holds this tick.
pub fn read_inputs(mut avatars: Query<(&InputSlot, &mut Held)>) {
    for (slot, mut held) in &mut avatars {
        held.0 = slot.take();
    }
}

/// Emit phase: one frame for the tick, the same bytes for every client;
/// clients whose outbox is full get a snapshot instead of their backlog.
pub fn emit_frames(world: &mut World) {
    let tick = world.resource::<TickCount>().0;
    let mut frame = TickFrameBuilder::new(tick, (0, 0));
    let departures = std::mem::take(&mut world.resource_mut::<Departures>().0);
    for id in departures {
        frame.disappeared(id);
    }
    let arrivals = world.resource::<Arrivals>().0.clone();
    let mut arrived_ids = Vec::with_capacity(arrivals.len());
    for entity in arrivals {
        if let (Some(avatar), Some(walker)) =
            (world.get::<Avatar>(entity), world.get::<Walker>(entity))
        {
            arrived_ids.push(avatar.id);
            frame.appeared(avatar.snapshot(walker));
        }
    }
    let mut events = world.resource::<TickEvents>().0.clone();
    events.retain(|e| !arrived_ids.contains(&e.avatar()));
    // Stable: a fast avatar's two steps keep their order.
    events.sort_by_key(MoveEvent::avatar);
    for event in &events {
        match *event {
            MoveEvent::StepStarted { avatar, from, dir } => frame.step(avatar, from, dir),
            MoveEvent::Turned { avatar, dir } => frame.turn(avatar, dir),
        };
    }
    if frame.is_empty() {
        return;
    }
    let bytes = Bytes::from(ServerMessage::Tick(frame.finish()).encode());
    let mut lagging = Vec::new();
    let mut gone = Vec::new();
    let mut viewers = world.query::<(Entity, &Viewer)>();
    for (entity, viewer) in viewers.iter(world) {
        match viewer.outbox.push(bytes.clone()) {
            Ok(()) => {}
            Err(PushError::Full) => lagging.push(entity),
            Err(PushError::Closed) => gone.push(entity),
        }
    }
    if !lagging.is_empty() {
        resync(world, tick, &lagging);
    }
    for entity in gone {
        leave(world, entity);
    }
}

/// Replaces the backlog of clients that fell behind with a snapshot, and
/// drops those that keep falling behind.
fn resync(world: &mut World, tick: u64, lagging: &[Entity]) {
    let info = world.resource::<OfficeInfo>().clone();
    let snapshot = Bytes::from(
        ServerMessage::Snapshot(Snapshot {
            tick: tick + 1,
            avatars: all_snapshots(world),
        })
        .encode(),
    );
    for &entity in lagging {
        let Some(mut viewer) = world.get_mut::<Viewer>(entity) else {
            continue;
        };
        viewer
            .resyncs
            .retain(|&t| t + info.resync_window_ticks > tick);
        viewer.resyncs.push(tick);
        if viewer.resyncs.len() as u32 > info.max_resyncs {
            tracing::info!(tick, "dropping a client that cannot keep up");
            viewer.outbox.fail(
                ErrorCode::TooSlow,
                "the connection could not keep up with the office",
            );
            leave(world, entity);
        } else {
            let _ = viewer.outbox.replace(snapshot.clone());
        }
    }
}

/// Closes every client's connection (the office is stopping).
pub fn close_all(world: &mut World, code: ErrorCode, message: &str) {
    let mut viewers = world.query::<&Viewer>();
    for viewer in viewers.iter(world) {
        viewer.outbox.fail(code, message);
    }
}
