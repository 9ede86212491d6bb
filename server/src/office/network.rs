//! Where the office meets its clients: the receive phase drains joins and
//! leaves from the inbox and reads held directions; the emit phase encodes
//! one tick frame and queues the same bytes for every client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy_ecs::prelude::*;
use bytes::Bytes;
use metaoffice_protocol::{
    ErrorCode, MapChanged, MapRef, PROTOCOL_VERSION, Person, ServerMessage, Snapshot, Version,
    Welcome,
};

use crate::map::OfficeMap;
use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};

use super::emit::visible_snapshots;
use super::input::InputSlot;
use super::interest::{Cell, CellIndex, PHASES, Seen, Told, ViewConfig};
use super::outbox::Outbox;
use super::people::{Identity, NamedZones, OfficePresence, Walking, dev_user, people, start_walk};
use super::sim::{
    Avatar, Held, OfficeGrid, TickCount, TileReservations, despawn_avatar, spawn_avatar,
};
use crate::graph::Secret;
use crate::meetings::UserRef;
use crate::metrics::{Metrics, OfficeLabel};

/// What connection tasks ask of an office.
#[derive(Debug)]
pub enum OfficeCommand {
    /// Add an avatar for a new client.
    Join {
        /// Who joins.
        newcomer: Newcomer,
        /// The avatar, or why not.
        reply: oneshot::Sender<Result<Joined, (ErrorCode, String)>>,
    },
    /// The client is gone: remove its avatar.
    Leave {
        /// The avatar's entity.
        avatar: Entity,
    },
    /// Where an avatar stands (for saving it); no answer if it is gone.
    Where {
        /// The avatar's entity.
        avatar: Entity,
        /// Its tile.
        reply: oneshot::Sender<(i32, i32)>,
    },
    /// The map changed on disk and passed validation: swap it in.
    ReplaceMap {
        /// The new map.
        map: Arc<OfficeMap>,
    },
    /// Walk the avatar to a colleague's (an error frame tells the client why not).
    WalkTo {
        /// The walker.
        avatar: Entity,
        /// The colleague's avatar id.
        target: u32,
    },
    /// Everyone in the office, for `People`.
    People {
        /// The list, sorted by name.
        reply: oneshot::Sender<Vec<Person>>,
    },
    /// The office's stored settings changed: apply them.
    Configure(super::settings::LiveSettings),
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

/// Avatars that joined since each phase's last frame.
#[derive(Resource, Default)]
pub struct Arrivals(pub [Vec<Entity>; PHASES]);

/// An avatar that left, and where clients last saw it.
#[derive(Debug, Clone, Copy)]
pub struct Departed {
    /// Its id.
    pub id: u32,
    /// Where it was.
    pub seen: Seen,
}

/// Avatars that left since each phase's last frame, with where that
/// phase's clients last saw them.
#[derive(Resource, Default)]
pub struct Departures(pub [Vec<Departed>; PHASES]);

/// The server's metrics, and this office's label in them.
#[derive(Resource, Clone)]
pub struct OfficeMetrics {
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// This office.
    pub label: OfficeLabel,
}

/// How often frames go out: every tick, or every second tick once the office
/// holds `batch_above` people or more (the cost of sending is per frame, so
/// at thousands of clients halving the frame rate halves the send work;
/// movement still runs at the full tick rate).
///
/// Clients are split into two send phases, so that while frames batch two
/// ticks, half the clients get theirs on odd ticks and the other half on
/// even ticks: every tick builds and queues half the frames, instead of
/// every second tick all of them (the tick's cost, and the burst of socket
/// writes it starts, stay level). Each phase's frame carries the two ticks
/// since its last one. A newcomer joins a phase that was sent a frame on
/// the last tick, so its welcome and that phase's next frame follow on
/// without a gap or an overlap; below the threshold both phases get a frame
/// every tick, and newcomers go to the emptier one.
///
/// A player's own answered input is not held back by batching: see
/// `emit::emit_frames` (echoes, and answered players' frames queued first).
#[derive(Resource, Debug, Clone)]
pub struct SendPolicy {
    batch_above: usize,
    current: u64,
    /// The tick of each phase's last frame.
    last_sent: [u64; PHASES],
    /// Clients in each phase.
    members: [usize; PHASES],
}

impl SendPolicy {
    /// Batches two ticks per frame at `batch_above` people or more.
    pub fn new(batch_above: usize) -> SendPolicy {
        SendPolicy {
            batch_above,
            current: 1,
            last_sent: [0; PHASES],
            members: [0; PHASES],
        }
    }

    /// Ticks per frame for an office of `population`; it drops back to one
    /// tick per frame only below 90 % of the threshold, so it does not flap.
    pub fn interval(&mut self, population: usize) -> u64 {
        if population >= self.batch_above {
            self.current = 2;
        } else if population.saturating_mul(10) < self.batch_above.saturating_mul(9) {
            self.current = 1;
        }
        self.current
    }

    /// Ticks per frame, as last decided.
    pub fn ticks_per_frame(&self) -> u64 {
        self.current
    }

    /// Whether clients of `phase` get a frame at the end of `tick`.
    pub fn sends(&self, tick: u64, phase: usize) -> bool {
        (tick + 1 + phase as u64).is_multiple_of(self.current)
    }

    /// The tick of the last frame sent to `phase`.
    pub fn last_sent(&self, phase: usize) -> u64 {
        self.last_sent[phase]
    }

    /// Records that `phase` was sent its frame at `tick`.
    pub fn sent(&mut self, phase: usize, tick: u64) {
        self.last_sent[phase] = tick;
    }

    /// The phase for a client joining at the start of a tick: one that was
    /// sent its frame most recently (its next frame then holds only what
    /// happens after the welcome), the emptier of two that were.
    pub fn join(&mut self) -> usize {
        let latest = self.last_sent.iter().copied().max().unwrap_or(0);
        let phase = (0..PHASES)
            .filter(|&p| self.last_sent[p] == latest)
            .min_by_key(|&p| self.members[p])
            .unwrap_or(0);
        self.members[phase] += 1;
        phase
    }

    /// A client of `phase` left.
    pub fn leave(&mut self, phase: usize) {
        self.members[phase] = self.members[phase].saturating_sub(1);
    }

    /// Clients in each phase.
    pub fn members(&self) -> [usize; PHASES] {
        self.members
    }
}

/// How far clients see in this office.
#[derive(Resource, Clone)]
pub struct OfficeView(pub ViewConfig);

/// A client watching the office.
#[derive(Component, Debug)]
pub struct Viewer {
    /// Its frames.
    pub outbox: Outbox,
    /// Ticks at which it was resynchronised recently.
    pub resyncs: Vec<u64>,
    /// The cell its view is anchored on.
    pub anchor: Cell,
    /// Whether it reads compact moves and echoes (protocol 1.4 and later);
    /// older clients get every step with its tile.
    pub compact: bool,
    /// Its send phase (see `SendPolicy`).
    pub phase: usize,
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

/// Who is joining, and how to reach them.
#[derive(Debug)]
pub struct Newcomer {
    /// Display name.
    pub name: String,
    /// Where the client's frames go.
    pub outbox: Outbox,
    /// Where the client's held direction comes from.
    pub input: InputSlot,
    /// The tile to start on if it is free (the user's last position);
    /// else a spawn tile.
    pub start: Option<(i32, i32)>,
    /// The Teams user; `None` for a development login.
    pub user: Option<UserRef>,
    /// The user's Teams token, for meeting providers that need it.
    pub teams_token: Option<Secret>,
    /// The protocol version the client speaks.
    pub version: Version,
}

impl Newcomer {
    /// A development login named `name`, starting on a spawn tile.
    pub fn dev(name: impl Into<String>, outbox: Outbox, input: InputSlot) -> Newcomer {
        Newcomer {
            name: name.into(),
            outbox,
            input,
            start: None,
            user: None,
            teams_token: None,
            version: PROTOCOL_VERSION,
        }
    }
}

fn join(world: &mut World, newcomer: Newcomer) -> Result<Joined, (ErrorCode, String)> {
    let Newcomer {
        name,
        outbox,
        input,
        start,
        user,
        teams_token,
        version,
    } = newcomer;
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
    let grid = world.resource::<OfficeGrid>().0.clone();
    let reservations = &world.resource::<TileReservations>().0;
    let start = start.filter(|&(x, y)| {
        x >= 0
            && y >= 0
            && x < grid.width()
            && y < grid.height()
            && !grid.is_tile_blocked(x, y)
            && !reservations.is_held((x, y))
    });
    let tile = start.or_else(|| pick_spawn(world)).ok_or((
        ErrorCode::Full,
        "the office has no free tile left".to_owned(),
    ))?;
    let view = world.resource::<OfficeView>().0.clone();
    let anchor = view.cell_of(tile);
    let phase = world.resource_mut::<SendPolicy>().join();
    let viewer = Viewer {
        outbox: outbox.clone(),
        resyncs: Vec::new(),
        anchor,
        compact: version.major > 1 || version.minor >= 4,
        phase,
    };
    let told = Told::all(Seen { tile, next: tile });
    let entity = spawn_avatar(
        world,
        &name,
        tile,
        info.speed,
        info.avatars_collide,
        (input, viewer, told, Walking::default()),
    );
    let mut index = world.resource_mut::<CellIndex>();
    for p in 0..PHASES {
        index.insert(p, anchor, entity);
    }
    let id = world.get::<Avatar>(entity).map_or(0, |a| a.id);
    let teams = user.is_some();
    let user = user.unwrap_or_else(|| dev_user(&info.map.id, id));
    if let Some(mut presence) = world.get_resource_mut::<OfficePresence>() {
        presence.arrived(&user, entity);
    }
    world.entity_mut(entity).insert(Identity {
        user,
        teams,
        teams_token,
        in_meeting: false,
    });
    let welcome = Welcome {
        version: PROTOCOL_VERSION,
        avatar: id,
        tick_hz: info.tick_hz,
        tick: world.resource::<TickCount>().0,
        server_ms: world.resource::<ServerClock>().0,
        directions: info.directions,
        map: info.map.clone(),
        avatars: visible_snapshots(world, view.view(anchor), phase),
    };
    // The outbox is new and empty: the welcome always fits.
    let _ = outbox.push(Bytes::from(ServerMessage::Welcome(welcome).encode()));
    for arrivals in &mut world.resource_mut::<Arrivals>().0 {
        arrivals.push(entity);
    }
    Ok(Joined { entity, id })
}

/// Removes an avatar; clients that saw it are told in their next frame.
pub(super) fn leave(world: &mut World, entity: Entity) {
    let Some(told) = world.get::<Told>(entity).copied() else {
        return;
    };
    let view = world.resource::<OfficeView>().0.clone();
    let mut index = world.resource_mut::<CellIndex>();
    for (phase, seen) in told.0.iter().enumerate() {
        index.remove(phase, view.cell_of(seen.tile), entity);
    }
    if let Some(phase) = world.get::<Viewer>(entity).map(|v| v.phase) {
        world.resource_mut::<SendPolicy>().leave(phase);
    }
    if let Some(identity) = world.get::<Identity>(entity).cloned()
        && let Some(mut presence) = world.get_resource_mut::<OfficePresence>()
    {
        presence.departed(&identity, entity);
    }
    if let Some(id) = despawn_avatar(world, entity) {
        let mut announced = [true; PHASES];
        for (phase, arrivals) in world.resource_mut::<Arrivals>().0.iter_mut().enumerate() {
            if let Some(i) = arrivals.iter().position(|&e| e == entity) {
                arrivals.remove(i);
                announced[phase] = false;
            }
        }
        let mut departures = world.resource_mut::<Departures>();
        for phase in (0..PHASES).filter(|&p| announced[p]) {
            departures.0[phase].push(Departed {
                id,
                seen: told.0[phase],
            });
        }
    }
}

/// Swaps in a new map at a tick boundary: avatars on tiles that became
/// blocked move to the nearest free tile, and every client is told to load
/// the new map, then gets a snapshot of its view.
fn replace_map(world: &mut World, map: &OfficeMap) {
    let grid = Arc::new(map.grid.clone());
    let view = world.resource::<OfficeView>().0.clone();
    world.insert_resource(OfficeGrid(grid.clone()));
    world.insert_resource(SpawnPoints {
        tiles: map.spawns.clone(),
        next: 0,
    });
    world
        .resource_mut::<super::conversations::ConversationZones>()
        .update(map);
    world.insert_resource(NamedZones::of(map));
    // Whatever was waiting to be sent is superseded by the snapshots below.
    world.resource_mut::<super::sim::TickEvents>().clear();
    world.insert_resource(Arrivals::default());
    world.insert_resource(Departures::default());
    let mut index = CellIndex::new(grid.width(), grid.height(), &view);
    let order = world.resource::<super::sim::JoinOrder>().0.clone();
    let mut moved = 0;
    for entity in order {
        let Some(mut walker) = world.get::<crate::movement::Walker>(entity).cloned() else {
            continue;
        };
        let next = walker.next_tile();
        if grid.is_tile_blocked(walker.tile.0, walker.tile.1)
            || grid.is_tile_blocked(next.0, next.1)
        {
            let mut reservations = world.resource_mut::<TileReservations>();
            walker.leave(&mut reservations.0);
            let target = grid.nearest_free(walker.tile.0, walker.tile.1, |x, y| {
                reservations.0.is_held((x, y))
            });
            walker.place(target.unwrap_or(walker.tile), &mut reservations.0);
            moved += 1;
        }
        let seen = Seen {
            tile: walker.tile,
            next: walker.next_tile(),
        };
        for phase in 0..PHASES {
            index.insert(phase, view.cell_of(seen.tile), entity);
        }
        if let Some(mut w) = world.get_mut::<crate::movement::Walker>(entity) {
            *w = walker;
        }
        if let Some(mut told) = world.get_mut::<Told>(entity) {
            *told = Told::all(seen);
        }
    }
    world.insert_resource(index);
    let mut info = world.resource_mut::<OfficeInfo>();
    info.map.version += 1;
    let map_ref = info.map.clone();
    tracing::info!(office = %map_ref.id, version = map_ref.version, moved, "map replaced");
    let changed = Bytes::from(ServerMessage::MapChanged(MapChanged { map: map_ref }).encode());
    let tick = world.resource::<TickCount>().0;
    let mut snapshots: FxHashMap<Cell, Bytes> = FxHashMap::default();
    // Views follow the avatars that were moved aside.
    let mut viewers = world.query::<(&mut Viewer, &Told)>();
    let mut sends = Vec::new();
    for (mut viewer, told) in viewers.iter_mut(world) {
        viewer.anchor = view
            .reanchor(viewer.anchor, told.0[0].tile)
            .unwrap_or(viewer.anchor);
        sends.push((viewer.outbox.clone(), viewer.anchor));
    }
    for (outbox, anchor) in sends {
        let snapshot = snapshots
            .entry(anchor)
            .or_insert_with(|| {
                // Every phase knows the same office now.
                let avatars = visible_snapshots(world, view.view(anchor), 0);
                Bytes::from(ServerMessage::Snapshot(Snapshot { tick, avatars }).encode())
            })
            .clone();
        // A client too far behind loses its backlog (the snapshot
        // supersedes it), never the new map.
        let fits = outbox.push(changed.clone()).is_ok() && outbox.push(snapshot.clone()).is_ok();
        if !fits {
            let _ = outbox.replace(changed.clone());
            let _ = outbox.push(snapshot);
        }
    }
}

/// Receive phase: drains the inbox without waiting.
pub fn receive_commands(world: &mut World) {
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
            OfficeCommand::Join { newcomer, reply } => {
                let result = join(world, newcomer);
                if reply.send(result.clone()).is_err()
                    && let Ok(joined) = result
                {
                    // The client left while waiting: take the avatar out again.
                    leave(world, joined.entity);
                }
            }
            OfficeCommand::Leave { avatar } => leave(world, avatar),
            OfficeCommand::Where { avatar, reply } => {
                if let Some(walker) = world.get::<crate::movement::Walker>(avatar) {
                    let _ = reply.send(walker.tile);
                }
            }
            OfficeCommand::ReplaceMap { map } => replace_map(world, &map),
            OfficeCommand::WalkTo { avatar, target } => {
                if let Err((code, message)) = start_walk(world, avatar, target)
                    && let Some(viewer) = world.get::<Viewer>(avatar)
                {
                    viewer.outbox.push_error(code, message);
                }
            }
            OfficeCommand::People { reply } => {
                let _ = reply.send(people(world));
            }
            OfficeCommand::Configure(settings) => settings.apply(world),
        }
    }
}

/// Receive phase: what each player holds this tick.
pub fn read_inputs(mut avatars: Query<(&InputSlot, &mut Held)>) {
    for (slot, mut held) in &mut avatars {
        held.0 = slot.take();
    }
}

/// Replaces the backlog of clients that fell behind with a snapshot, and
/// drops those that keep falling behind.
pub(super) fn resync(world: &mut World, tick: u64, lagging: &[Entity]) {
    let info = world.resource::<OfficeInfo>().clone();
    let view = world.resource::<OfficeView>().0.clone();
    let metrics = world.resource::<OfficeMetrics>().clone();
    let mut snapshots: FxHashMap<(Cell, usize), Bytes> = FxHashMap::default();
    for &entity in lagging {
        let Some((anchor, phase)) = world.get::<Viewer>(entity).map(|v| (v.anchor, v.phase)) else {
            continue;
        };
        let snapshot = snapshots
            .entry((anchor, phase))
            .or_insert_with(|| {
                let avatars = visible_snapshots(world, view.view(anchor), phase);
                Bytes::from(
                    ServerMessage::Snapshot(Snapshot {
                        tick: tick + 1,
                        avatars,
                    })
                    .encode(),
                )
            })
            .clone();
        let Some(mut viewer) = world.get_mut::<Viewer>(entity) else {
            continue;
        };
        viewer
            .resyncs
            .retain(|&t| t + info.resync_window_ticks > tick);
        viewer.resyncs.push(tick);
        metrics.metrics.resyncs.inc();
        if viewer.resyncs.len() as u32 > info.max_resyncs {
            tracing::info!(tick, "dropping a client that cannot keep up");
            metrics.metrics.error(ErrorCode::TooSlow);
            viewer.outbox.fail(
                ErrorCode::TooSlow,
                "the connection could not keep up with the office",
            );
            leave(world, entity);
        } else {
            let _ = viewer.outbox.replace(snapshot);
            let outbox = viewer.outbox.clone();
            let avatar = world.get::<Avatar>(entity).map_or(0, |a| a.id);
            for message in super::conversations::group_messages(world, avatar) {
                let _ = outbox.push(message);
            }
        }
    }
}

/// Closes every client's connection (the office is stopping).
pub fn close_all(world: &mut World, code: ErrorCode, message: &str) {
    let metrics = world.resource::<OfficeMetrics>().metrics.clone();
    let mut viewers = world.query::<&Viewer>();
    for viewer in viewers.iter(world) {
        metrics.error(code);
        viewer.outbox.fail(code, message);
    }
}
