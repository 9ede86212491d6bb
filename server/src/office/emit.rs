//! The emit phase: what each client sees this tick, encoded once per view.
//!
//! Clients are grouped by the cell their view is anchored on; each group
//! gets one frame, encoded once, with the steps and turns of avatars that
//! stay in view, the avatars that came into view and those that left it. A
//! client whose view moved this tick gets its own frame (the difference
//! between its old and new view). Only avatars that moved, arrived or left
//! are looked at, found through the cell index.
//!
//! Movers are listed, in id order, in every cell whose view may see them
//! (the cells within one tile of where they were and are), so a view only
//! looks at its own cells, each mover once (a bit set per view), and finds
//! the steps to send in id order without sorting. The lists and bit sets
//! are kept between ticks.
//!
//! Clients are in send phases (see `SendPolicy`): a pass builds the frames
//! of the phases due this tick from what those phases' clients last saw
//! (their `Told` positions, their part of the cell index, the arrivals and
//! departures since their last frame, and the ticks since then).

use bevy_ecs::prelude::*;
use bytes::Bytes;
use metaoffice_protocol::{AvatarSnapshot, Echo, ServerMessage, TickFrame, TickFrameBuilder};
use rustc_hash::{FxHashMap, FxHashSet};

use super::interest::{Cell, CellIndex, DenseCells, PHASES, Seen, Told, ViewRect};
use super::network::{
    Arrivals, Departed, Departures, OfficeMetrics, OfficeView, SendPolicy, Viewer, resync,
};
use super::outbox::PushError;
use super::sim::{Avatar, AvatarIndex, OfficeGrid, TickCount, TickEvents};
use crate::movement::{MoveEvent, Walker};

/// An avatar that moved this tick: where clients saw it, where it is now.
struct Mover {
    id: u32,
    entity: Entity,
    /// Its events: a range of the sorted event list.
    events: std::ops::Range<usize>,
    /// Whether its first step starts where clients last knew it would
    /// stand (and each later one where the one before ended): then a
    /// compact frame leaves the tiles out.
    implied: bool,
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
    /// In ascending id order.
    movers: Vec<Mover>,
    /// Movers by every cell whose view may see them before or after.
    mover_cells: DenseCells<CellMover>,
    /// Movers' and arrivals' positions, for updating the cell index afterwards.
    moved: Vec<(Entity, Seen, Seen)>,
    arrivals: Vec<(u32, Seen, AvatarSnapshot)>,
    /// Movers and arrivals, by entity index: the avatars a moving view
    /// does not look at as standing still.
    skip: BitSet,
    departures: Vec<Departed>,
}

/// A set of small integers, one bit each.
#[derive(Default)]
struct BitSet(Vec<u64>);

impl BitSet {
    /// Empties the set and makes room for `0..len`.
    fn reset(&mut self, len: usize) {
        self.0.clear();
        self.0.resize(len.div_ceil(64), 0);
    }

    /// Adds `i` (growing the set if needed); returns whether it was new.
    fn insert(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let new = self.0[word] & bit == 0;
        self.0[word] |= bit;
        new
    }

    fn contains(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// The members, ascending.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }
}

/// What the emit phase keeps from one tick to the next, so that building
/// hundreds of frames allocates little.
#[derive(Default)]
pub struct EmitScratch {
    mover_cells: Option<DenseCells<CellMover>>,
    skip: BitSet,
    cells: Vec<Cell>,
    visited: BitSet,
    kept: BitSet,
    /// Recipients (indices into the pass's list) by view anchor and form.
    views: FxHashMap<(Cell, bool), Vec<u32>>,
    /// Views that moved this tick, by entity index.
    moved_views: BitSet,
    answered: BitSet,
    /// The events since a pass's last frame (the list is kept for its room).
    window: Vec<MoveEvent>,
    /// This office's gauges of clients per send phase.
    phase_gauges: Option<[prometheus_client::metrics::gauge::Gauge; PHASES]>,
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

/// Whether each step of `events` (one avatar's, in order) starts where the
/// one before ended, the first at `known`: the tile clients last knew the
/// avatar would stand on.
fn starts_where_known(events: &[MoveEvent], known: (i32, i32)) -> bool {
    let mut at = known;
    events.iter().all(|event| match *event {
        MoveEvent::StepStarted { from, dir, .. } => {
            let (dx, dy) = dir.offset();
            let ok = from == at;
            at = (from.0 + dx, from.1 + dy);
            ok
        }
        MoveEvent::Turned { .. } => true,
    })
}

/// What changed since the last frame of the phases in `pass` (which were
/// all sent their last frame on the same tick, so know the same office).
fn gather_changes(world: &mut World, scratch: &mut EmitScratch, pass: &[usize]) -> TickChanges {
    let tick = world.resource::<TickCount>().0;
    let lead = pass[0];
    let departures = std::mem::take(&mut world.resource_mut::<Departures>().0[lead]);
    let arrived = std::mem::take(&mut world.resource_mut::<Arrivals>().0[lead]);
    for &phase in &pass[1..] {
        world.resource_mut::<Departures>().0[phase].clear();
        world.resource_mut::<Arrivals>().0[phase].clear();
    }
    // The ticks since this phase's last frame: this one, and the last one
    // too if that sent nothing to it.
    let since = world.resource::<SendPolicy>().last_sent(lead);
    let mut events = std::mem::take(&mut scratch.window);
    events.clear();
    {
        let tick_events = world.resource::<TickEvents>();
        if since + 1 < tick {
            events.extend_from_slice(&tick_events.previous);
        }
        events.extend_from_slice(&tick_events.events);
    }
    // Stable: a fast avatar's two steps keep their order.
    events.sort_by_key(MoveEvent::avatar);
    let view = world.resource::<OfficeView>().0.clone();
    let mut skip = std::mem::take(&mut scratch.skip);
    skip.reset(0);
    // Arrivals appear where they are now (they may have moved since they
    // joined, if this phase's last frame was before that).
    let mut arrivals = Vec::new();
    let mut moved = Vec::new();
    for &entity in &arrived {
        if let (Some(told), Some(walker), Some(snapshot)) = (
            world.get::<Told>(entity),
            world.get::<Walker>(entity),
            snapshot_of(world, entity),
        ) {
            skip.insert(entity.index_u32() as usize);
            let now = seen_now(walker);
            arrivals.push((snapshot.id, now, snapshot));
            moved.push((entity, told.0[lead], now));
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
    let mut movers: Vec<(Mover, Seen, Seen)> = Vec::new();
    let mut avatars = world.query::<(Entity, &Avatar, &Told, &Walker)>();
    for (entity, avatar, told, walker) in avatars.iter(world) {
        let before = told.0[lead];
        let now = seen_now(walker);
        let range = ranges.remove(&avatar.id).unwrap_or(0..0);
        if (now == before && range.is_empty()) || arrival_ids.contains(&avatar.id) {
            continue;
        }
        skip.insert(entity.index_u32() as usize);
        let implied = starts_where_known(&events[range.clone()], before.next);
        movers.push((
            Mover {
                id: avatar.id,
                entity,
                events: range,
                implied,
            },
            before,
            now,
        ));
    }
    movers.sort_unstable_by_key(|m| m.0.id);
    let grid = world.resource::<OfficeGrid>().0.clone();
    let mut mover_cells = match scratch.mover_cells.take() {
        Some(mut cells) if cells.fits(grid.width(), grid.height(), &view) => {
            cells.clear();
            cells
        }
        _ => DenseCells::new(grid.width(), grid.height(), &view),
    };
    let mut cells: Vec<Cell> = Vec::with_capacity(16);
    for (index, (_, before, now)) in movers.iter().enumerate() {
        cells.clear();
        cells.extend(view.cells_touching(before.tile));
        cells.extend(view.cells_touching(now.tile));
        cells.sort_unstable();
        cells.dedup();
        let listed = CellMover {
            index: index as u32,
            before: *before,
            now: *now,
        };
        for &cell in &cells {
            mover_cells.push(cell, listed);
        }
    }
    moved.extend(movers.iter().map(|(m, b, n)| (m.entity, *b, *n)));
    TickChanges {
        tick,
        events,
        movers: movers.into_iter().map(|(m, _, _)| m).collect(),
        moved,
        mover_cells,
        arrivals,
        skip,
        departures,
    }
}

/// The frame for a client of `phase` whose view was `before` at its last
/// frame and is `now`.
fn build_frame(
    world: &World,
    changes: &TickChanges,
    scratch: &mut EmitScratch,
    (before, now): (ViewRect, ViewRect),
    phase: usize,
    compact: bool,
) -> TickFrame {
    let view = &world.resource::<OfficeView>().0;
    let mut frame = TickFrameBuilder::new(changes.tick, now.origin());
    let cells = &mut scratch.cells;
    cells.clear();
    cells.extend(view.cells_in(&now));
    if before != now {
        cells.extend(view.cells_in(&before));
        cells.sort_unstable();
        cells.dedup();
    }
    let (visited, kept) = (&mut scratch.visited, &mut scratch.kept);
    visited.reset(changes.movers.len());
    kept.reset(changes.movers.len());
    for &cell in cells.iter() {
        for listed in changes.mover_cells.get(cell) {
            if !visited.insert(listed.index as usize) {
                continue;
            }
            let was = before.sees(listed.before.tile, listed.before.next);
            let is = now.sees(listed.now.tile, listed.now.next);
            let mover = &changes.movers[listed.index as usize];
            match (was, is) {
                (true, true) => {
                    kept.insert(listed.index as usize);
                }
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
        let mut near: Vec<Cell> = view.cells_near(&now).collect();
        near.extend(view.cells_near(&before));
        near.sort_unstable();
        near.dedup();
        for cell in near {
            for &entity in index.get(phase, cell) {
                if changes.skip.contains(entity.index_u32() as usize) {
                    continue;
                }
                let (Some(avatar), Some(told)) =
                    (world.get::<Avatar>(entity), world.get::<Told>(entity))
                else {
                    continue;
                };
                let seen = told.0[phase];
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
    // Movers are in id order: so are the steps and turns.
    for index in kept.iter() {
        let mover = &changes.movers[index];
        let known = compact && mover.implied;
        for event in &changes.events[mover.events.clone()] {
            match *event {
                MoveEvent::StepStarted { avatar, dir, .. } if known => {
                    frame.known_step(avatar, dir)
                }
                MoveEvent::Turned { avatar, dir } if known => frame.known_turn(avatar, dir),
                MoveEvent::StepStarted { avatar, from, dir } => frame.step(avatar, from, dir),
                MoveEvent::Turned { avatar, dir } => frame.turn(avatar, dir),
            };
        }
    }
    frame.finish()
}

/// Emit phase: one frame per view, the same bytes for every client that
/// shares it; clients whose outbox is full get a snapshot instead.
///
/// While frames batch two ticks, each tick sends to one of the two send
/// phases (see `SendPolicy`). A player of the other phase whose input was
/// answered this tick hears of it at once through an `Echo`; the players
/// of the phase that sends whose input was answered get their frames queued
/// before everyone else's. Either way a player sees its own avatar answer
/// within a tick.
pub fn emit_frames(world: &mut World, mut scratch: Local<EmitScratch>) {
    let scratch = &mut *scratch;
    let tick = world.resource::<TickCount>().0;
    let population = world.resource::<super::sim::JoinOrder>().0.len();
    let mut policy = world.resource_mut::<SendPolicy>();
    let interval = policy.interval(population);
    let sending: [bool; PHASES] = std::array::from_fn(|phase| policy.sends(tick, phase));
    // Phases sent their last frame on the same tick know the same office:
    // one pass builds their frames.
    let mut passes: Vec<Vec<usize>> = Vec::new();
    for phase in (0..PHASES).filter(|&p| sending[p]) {
        let since = policy.last_sent(phase);
        match passes
            .iter_mut()
            .find(|pass| policy.last_sent(pass[0]) == since)
        {
            Some(pass) => pass.push(phase),
            None => passes.push(vec![phase]),
        }
    }
    let metrics = world.resource::<OfficeMetrics>().clone();
    metrics
        .metrics
        .ticks_per_frame
        .get_or_create(&metrics.label)
        .set(interval as i64);
    let encoded = metrics
        .metrics
        .frames_encoded
        .get_or_create(&metrics.label)
        .clone();
    let gauges = scratch.phase_gauges.get_or_insert_with(|| {
        std::array::from_fn(|phase| {
            let label = crate::metrics::PhaseLabel {
                office: metrics.label.office.clone(),
                phase: phase.to_string(),
            };
            metrics
                .metrics
                .send_phase_clients
                .get_or_create(&label)
                .clone()
        })
    });
    let members = world.resource::<SendPolicy>().members();
    for (gauge, clients) in gauges.iter().zip(members) {
        gauge.set(clients as i64);
    }
    if sending.contains(&false) {
        encoded.inc_by(send_echoes(world, &sending));
    }
    for pass in passes {
        encoded.inc_by(emit_pass(world, scratch, &pass));
    }
}

/// Builds and queues the frames of the phases in `pass`; returns how many
/// frames were encoded.
fn emit_pass(world: &mut World, scratch: &mut EmitScratch, pass: &[usize]) -> u64 {
    let lead = pass[0];
    let changes = gather_changes(world, scratch, pass);
    let mut answered = std::mem::take(&mut scratch.answered);
    answered.reset(0);
    {
        let index = world.resource::<AvatarIndex>();
        for id in &world.resource::<TickEvents>().answered {
            if let Some(entity) = index.0.get(id) {
                answered.insert(entity.index_u32() as usize);
            }
        }
    }
    let view = world.resource::<OfficeView>().0.clone();
    let mut groups = std::mem::take(&mut scratch.views);
    for members in groups.values_mut() {
        members.clear();
    }
    let mut moved = std::mem::take(&mut scratch.moved_views);
    moved.reset(0);
    let mut moved_views = Vec::new();
    let mut viewers = world.query::<(Entity, &mut Viewer, &Walker)>();
    for (entity, mut viewer, walker) in viewers.iter_mut(world) {
        if !pass.contains(&viewer.phase) {
            continue;
        }
        if let Some(anchor) = view.reanchor(viewer.anchor, walker.tile) {
            moved.insert(entity.index_u32() as usize);
            moved_views.push((entity, viewer.anchor, anchor, viewer.compact));
            viewer.anchor = anchor;
        }
    }
    // The recipients, read in one pass over the viewers' table (the queue
    // loop below then touches only their outboxes).
    let mut viewers = world.query::<(Entity, &Viewer)>();
    let mut recipients: Vec<(Entity, &Viewer)> = Vec::with_capacity(viewers.iter(world).len());
    let mut own_index = Vec::with_capacity(moved_views.len());
    for (entity, viewer) in viewers.iter(world) {
        if !pass.contains(&viewer.phase) {
            continue;
        }
        let index = recipients.len() as u32;
        if moved.contains(entity.index_u32() as usize) {
            own_index.push((entity, index));
        } else {
            groups
                .entry((viewer.anchor, viewer.compact))
                .or_default()
                .push(index);
        }
        recipients.push((entity, viewer));
    }
    own_index.sort_unstable();
    // Every frame is built first, then queued: answered players first.
    let mut built: Vec<(Bytes, &[u32])> = Vec::with_capacity(groups.len());
    for (&(anchor, compact), members) in &groups {
        if members.is_empty() {
            continue;
        }
        let rect = view.view(anchor);
        let frame = build_frame(world, &changes, scratch, (rect, rect), lead, compact);
        if !frame.is_empty() {
            built.push((Bytes::from(ServerMessage::Tick(frame).encode()), members));
        }
    }
    let mut own: Vec<(Bytes, [u32; 1])> = Vec::with_capacity(moved_views.len());
    for &(entity, old, new, compact) in &moved_views {
        let rects = (view.view(old), view.view(new));
        let frame = build_frame(world, &changes, scratch, rects, lead, compact);
        let Ok(at) = own_index.binary_search_by_key(&entity, |&(e, _)| e) else {
            continue;
        };
        if !frame.is_empty() {
            own.push((
                Bytes::from(ServerMessage::Tick(frame).encode()),
                [own_index[at].1],
            ));
        }
    }
    let encoded = (built.len() + own.len()) as u64;
    let mut lagging = Vec::new();
    let mut gone = Vec::new();
    for first in [true, false] {
        let frames = built
            .iter()
            .map(|(bytes, members)| (bytes, *members))
            .chain(own.iter().map(|(bytes, one)| (bytes, &one[..])));
        for (bytes, members) in frames {
            for &index in members {
                let (entity, viewer) = recipients[index as usize];
                if answered.contains(entity.index_u32() as usize) != first {
                    continue;
                }
                match viewer.outbox.push(bytes.clone()) {
                    Ok(()) => {}
                    Err(PushError::Full) => lagging.push(entity),
                    Err(PushError::Closed) => gone.push(entity),
                }
            }
        }
    }
    drop(recipients);
    scratch.moved_views = moved;
    drop(built);
    scratch.views = groups;
    scratch.answered = answered;
    // These phases' clients now know where the movers are.
    for &(entity, before, now) in &changes.moved {
        if let Some(mut told) = world.get_mut::<Told>(entity) {
            for &phase in pass {
                told.0[phase] = now;
            }
        }
        let (from, to) = (view.cell_of(before.tile), view.cell_of(now.tile));
        if from != to {
            let mut index = world.resource_mut::<CellIndex>();
            for &phase in pass {
                index.remove(phase, from, entity);
                index.insert(phase, to, entity);
            }
        }
    }
    let mut policy = world.resource_mut::<SendPolicy>();
    for &phase in pass {
        policy.sent(phase, changes.tick);
    }
    scratch.mover_cells = Some(changes.mover_cells);
    scratch.skip = changes.skip;
    scratch.window = changes.events;
    if !lagging.is_empty() {
        resync(world, changes.tick, &lagging);
    }
    for entity in gone {
        super::network::leave(world, entity);
    }
    encoded
}

/// An `Echo` to each compact client whose own input was answered this tick
/// while its phase gets no frame (`sending` says which phases do). Returns
/// how many were queued. A full outbox just misses its echo (the next
/// frame carries the same updates, and resynchronises the client if it is
/// still full).
fn send_echoes(world: &World, sending: &[bool; PHASES]) -> u64 {
    let events = world.resource::<TickEvents>();
    if events.answered.is_empty() {
        return 0;
    }
    let tick = world.resource::<TickCount>().0;
    let index = world.resource::<AvatarIndex>();
    let mut this_tick: Vec<&MoveEvent> = events
        .events
        .iter()
        .filter(|e| events.answered.binary_search(&e.avatar()).is_ok())
        .collect();
    // Stable: each avatar's updates stay in the order they happened.
    this_tick.sort_by_key(|e| e.avatar());
    let mut sent = 0;
    for updates in this_tick.chunk_by(|a, b| a.avatar() == b.avatar()) {
        let id = updates[0].avatar();
        let Some(&entity) = index.0.get(&id) else {
            continue;
        };
        let (Some(viewer), Some(walker)) =
            (world.get::<Viewer>(entity), world.get::<Walker>(entity))
        else {
            continue;
        };
        if !viewer.compact || sending[viewer.phase] {
            continue;
        }
        let from = updates
            .iter()
            .find_map(|e| match **e {
                MoveEvent::StepStarted { from, .. } => Some(from),
                MoveEvent::Turned { .. } => None,
            })
            .unwrap_or(walker.tile);
        let mut echo = Echo::new(tick, from);
        for event in updates {
            match **event {
                MoveEvent::StepStarted { dir, .. } => echo.step(dir),
                MoveEvent::Turned { dir, .. } => echo.turn(dir),
            };
        }
        if viewer
            .outbox
            .push(Bytes::from(ServerMessage::Echo(echo).encode()))
            .is_ok()
        {
            sent += 1;
        }
    }
    sent
}

/// Every avatar in `rect` as clients of `phase` know the office, by id.
pub fn visible_snapshots(world: &World, rect: ViewRect, phase: usize) -> Vec<AvatarSnapshot> {
    let view = &world.resource::<OfficeView>().0;
    let index = world.resource::<CellIndex>();
    let mut avatars: Vec<AvatarSnapshot> = view
        .cells_near(&rect)
        .flat_map(|cell| index.get(phase, cell).iter().copied())
        .filter_map(|entity| {
            let seen = world.get::<Told>(entity)?.0[phase];
            rect.sees(seen.tile, seen.next)
                .then(|| snapshot_of(world, entity))
                .flatten()
        })
        .collect();
    avatars.sort_by_key(|a| a.id);
    avatars
}
