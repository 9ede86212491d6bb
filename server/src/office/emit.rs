//! The emit phase: what each client sees this tick, encoded once per view.
//!
//! Clients are grouped by the cell their view is anchored on; each group
//! gets one frame, encoded once, with the steps and turns of avatars that
//! stay in view, the avatars that came into view and those that left it. A
//! client whose view moved this tick gets its own frame (the difference
//! between its old and new view). Only avatars that moved, arrived or left
//! are looked at, found through the cell index.

use bevy_ecs::prelude::*;
use bytes::Bytes;
use metaoffice_protocol::{AvatarSnapshot, ServerMessage, TickFrame, TickFrameBuilder};
use rustc_hash::{FxHashMap, FxHashSet};

use super::interest::{Cell, CellIndex, DenseCells, Seen, ViewRect};
use super::network::{
    Arrivals, Departed, Departures, OfficeMetrics, OfficeView, SendPolicy, Viewer, resync,
};
use super::outbox::PushError;
use super::sim::{Avatar, OfficeGrid, TickCount, TickEvents};
use crate::movement::{MoveEvent, Walker};

/// An avatar that moved this tick: where clients saw it, where it is now.
struct Mover {
    id: u32,
    entity: Entity,
    /// Its events: a range of the sorted event list.
    events: std::ops::Range<usize>,
}

/// A mover as listed in a cell: what visibility checks need, inline.
#[derive(Clone, Copy)]
struct CellMover {
    index: u32,
    before: Seen,
    now: Seen,
}

/// Everything that changed this tick, indexed for building frames.
struct TickChanges {
    tick: u64,
    events: Vec<MoveEvent>,
    movers: Vec<Mover>,
    /// Mover ids to their place in `movers`.
    mover_index: FxHashMap<u32, u32>,
    /// Movers by the cell of their old tile and of their new tile.
    mover_cells: DenseCells<CellMover>,
    /// Movers' positions, for updating the cell index afterwards.
    moved: Vec<(Entity, Seen, Seen)>,
    arrivals: Vec<(u32, Seen, AvatarSnapshot)>,
    arrival_ids: FxHashSet<u32>,
    departures: Vec<Departed>,
}

fn seen_now(walker: &Walker) -> Seen {
    Seen {
        tile: walker.tile,
        next: walker.next_tile(),
    }
}

fn snapshot_of(world: &World, entity: Entity) -> Option<AvatarSnapshot> {
    Some(
        world
            .get::<Avatar>(entity)?
            .snapshot(world.get::<Walker>(entity)?),
    )
}

fn gather_changes(world: &mut World) -> TickChanges {
    let tick = world.resource::<TickCount>().0;
    let departures = std::mem::take(&mut world.resource_mut::<Departures>().0);
    let mut events = std::mem::take(&mut world.resource_mut::<TickEvents>().events);
    // Stable: a fast avatar's two steps keep their order.
    events.sort_by_key(MoveEvent::avatar);
    let view = world.resource::<OfficeView>().0.clone();
    let mut arrivals = Vec::new();
    for &entity in &world.resource::<Arrivals>().0 {
        if let (Some(seen), Some(snapshot)) =
            (world.get::<Seen>(entity), snapshot_of(world, entity))
        {
            arrivals.push((snapshot.id, *seen, snapshot));
        }
    }
    let arrival_ids: FxHashSet<u32> = arrivals.iter().map(|a| a.0).collect();
    let mut ranges: FxHashMap<u32, std::ops::Range<usize>> = FxHashMap::default();
    let mut start = 0;
    while start < events.len() {
        let id = events[start].avatar();
        let end = start
            + events[start..]
                .iter()
                .take_while(|e| e.avatar() == id)
                .count();
        ranges.insert(id, start..end);
        start = end;
    }
    // Movers: avatars with events, and those whose tiles changed without one
    // (a step that ended with nothing held).
    let mut movers: Vec<Mover> = Vec::new();
    let mut mover_index: FxHashMap<u32, u32> = FxHashMap::default();
    let mut moved = Vec::new();
    let grid = world.resource::<OfficeGrid>().0.clone();
    let mut mover_cells = DenseCells::new(grid.width(), grid.height(), &view);
    let mut avatars = world.query::<(Entity, &Avatar, &Seen, &Walker)>();
    for (entity, avatar, &before, walker) in avatars.iter(world) {
        let now = seen_now(walker);
        let events = ranges.remove(&avatar.id).unwrap_or(0..0);
        if (now == before && events.is_empty()) || arrival_ids.contains(&avatar.id) {
            continue;
        }
        let (from, to) = (view.cell_of(before.tile), view.cell_of(now.tile));
        let index = movers.len() as u32;
        let listed = CellMover { index, before, now };
        mover_cells.push(from, listed);
        if to != from {
            mover_cells.push(to, listed);
        }
        mover_index.insert(avatar.id, index);
        movers.push(Mover {
            id: avatar.id,
            entity,
            events,
        });
        moved.push((entity, before, now));
    }
    TickChanges {
        tick,
        events,
        movers,
        mover_index,
        moved,
        mover_cells,
        arrivals,
        arrival_ids,
        departures,
    }
}

/// The frame for a client whose view was `before` at the end of the last
/// tick and is `now` at the end of this one.
fn build_frame(world: &World, changes: &TickChanges, before: ViewRect, now: ViewRect) -> TickFrame {
    let view = &world.resource::<OfficeView>().0;
    let mut frame = TickFrameBuilder::new(changes.tick, now.origin());
    let mut near: Vec<Cell> = view.cells_near(&now).collect();
    if before != now {
        near.extend(view.cells_near(&before));
        near.sort_unstable();
        near.dedup();
    }
    let mut kept: Vec<(u32, u32)> = Vec::new();
    for cell in &near {
        for listed in changes.mover_cells.get(*cell) {
            let was = before.sees(listed.before.tile, listed.before.next);
            let is = now.sees(listed.now.tile, listed.now.next);
            let mover = &changes.movers[listed.index as usize];
            match (was, is) {
                (true, true) => kept.push((mover.id, listed.index)),
                (false, true) => {
                    if let Some(snapshot) = snapshot_of(world, mover.entity) {
                        frame.appeared(snapshot);
                    }
                }
                (true, false) => {
                    frame.disappeared(mover.id);
                }
                (false, false) => {}
            }
        }
    }
    if before != now {
        // The view itself moved: avatars that stood still may enter or leave it.
        let index = world.resource::<CellIndex>();
        for &cell in &near {
            for &entity in index.get(cell) {
                let (Some(avatar), Some(seen)) =
                    (world.get::<Avatar>(entity), world.get::<Seen>(entity))
                else {
                    continue;
                };
                if changes.mover_index.contains_key(&avatar.id)
                    || changes.arrival_ids.contains(&avatar.id)
                {
                    continue;
                }
                match (
                    before.sees(seen.tile, seen.next),
                    now.sees(seen.tile, seen.next),
                ) {
                    (false, true) => {
                        if let Some(snapshot) = snapshot_of(world, entity) {
                            frame.appeared(snapshot);
                        }
                    }
                    (true, false) => {
                        frame.disappeared(avatar.id);
                    }
                    _ => {}
                }
            }
        }
    }
    for (_, seen, snapshot) in &changes.arrivals {
        if now.sees(seen.tile, seen.next) {
            frame.appeared(snapshot.clone());
        }
    }
    for departed in &changes.departures {
        if before.sees(departed.seen.tile, departed.seen.next) {
            frame.disappeared(departed.id);
        }
    }
    kept.sort_unstable();
    kept.dedup();
    for (_, index) in kept {
        for event in &changes.events[changes.movers[index as usize].events.clone()] {
            match *event {
                MoveEvent::StepStarted { avatar, from, dir } => frame.step(avatar, from, dir),
                MoveEvent::Turned { avatar, dir } => frame.turn(avatar, dir),
            };
        }
    }
    frame.finish()
}

/// Emit phase: one frame per view, the same bytes for every client that
/// shares it; clients whose outbox is full get a snapshot instead.
pub fn emit_frames(world: &mut World) {
    let tick = world.resource::<TickCount>().0;
    let population = world.resource::<super::sim::JoinOrder>().0.len();
    let interval = world.resource_mut::<SendPolicy>().interval(population);
    let metrics = world.resource::<OfficeMetrics>().clone();
    metrics
        .metrics
        .ticks_per_frame
        .get_or_create(&metrics.label)
        .set(interval as i64);
    if !(tick + 1).is_multiple_of(interval) {
        // Batching: this tick's events go out with the next one's.
        world.resource_mut::<TickEvents>().carry = true;
        return;
    }
    world.resource_mut::<TickEvents>().carry = false;
    let changes = gather_changes(world);
    world.resource_mut::<Arrivals>().0.clear();
    let encoded = metrics
        .metrics
        .frames_encoded
        .get_or_create(&metrics.label)
        .clone();
    let view = world.resource::<OfficeView>().0.clone();
    let mut groups: FxHashMap<Cell, Vec<Entity>> = FxHashMap::default();
    let mut moved_views = Vec::new();
    let mut viewers = world.query::<(Entity, &mut Viewer, &Walker)>();
    for (entity, mut viewer, walker) in viewers.iter_mut(world) {
        match view.reanchor(viewer.anchor, walker.tile) {
            Some(anchor) => {
                moved_views.push((entity, viewer.anchor, anchor));
                viewer.anchor = anchor;
            }
            None => groups.entry(viewer.anchor).or_default().push(entity),
        }
    }
    let mut lagging = Vec::new();
    let mut gone = Vec::new();
    let mut send = |world: &World, entity: Entity, bytes: &Bytes| {
        if let Some(viewer) = world.get::<Viewer>(entity) {
            match viewer.outbox.push(bytes.clone()) {
                Ok(()) => {}
                Err(PushError::Full) => lagging.push(entity),
                Err(PushError::Closed) => gone.push(entity),
            }
        }
    };
    for (anchor, members) in &groups {
        let rect = view.view(*anchor);
        let frame = build_frame(world, &changes, rect, rect);
        if !frame.is_empty() {
            let bytes = Bytes::from(ServerMessage::Tick(frame).encode());
            encoded.inc();
            for &entity in members {
                send(world, entity, &bytes);
            }
        }
    }
    for &(entity, old, new) in &moved_views {
        let frame = build_frame(world, &changes, view.view(old), view.view(new));
        if !frame.is_empty() {
            encoded.inc();
            send(
                world,
                entity,
                &Bytes::from(ServerMessage::Tick(frame).encode()),
            );
        }
    }
    // Clients now know where the movers are.
    for &(entity, before, now) in &changes.moved {
        if let Some(mut seen) = world.get_mut::<Seen>(entity) {
            *seen = now;
        }
        let (from, to) = (view.cell_of(before.tile), view.cell_of(now.tile));
        if from != to {
            let mut index = world.resource_mut::<CellIndex>();
            index.remove(from, entity);
            index.insert(to, entity);
        }
    }
    if !lagging.is_empty() {
        resync(world, changes.tick, &lagging);
    }
    for entity in gone {
        super::network::leave(world, entity);
    }
}

/// Every avatar in `rect`, by id.
pub fn visible_snapshots(world: &World, rect: ViewRect) -> Vec<AvatarSnapshot> {
    let view = &world.resource::<OfficeView>().0;
    let index = world.resource::<CellIndex>();
    let mut avatars: Vec<AvatarSnapshot> = view
        .cells_near(&rect)
        .flat_map(|cell| index.get(cell).iter().copied())
        .filter_map(|entity| {
            let seen = world.get::<Seen>(entity)?;
            rect.sees(seen.tile, seen.next)
                .then(|| snapshot_of(world, entity))
                .flatten()
        })
        .collect();
    avatars.sort_by_key(|a| a.id);
    avatars
}
