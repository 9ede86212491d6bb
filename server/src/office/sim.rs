//! The office's simulation: one bevy_ecs `World` per office, stepped one tick
//! at a time by whoever owns it (the office task in the server, the
//! `simulate` command, tests and benches). No I/O and no clock here.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use metaoffice_protocol::{AvatarSnapshot, Direction};

use crate::movement::{CollisionGrid, MoveEvent, Reservations, Rules, Surroundings, Walker};
use crate::presence::Presence;

/// The phases of a tick, in order.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum OfficeSet {
    /// Drain the office's inbox: joins, leaves, inputs.
    Receive,
    /// Move avatars by grid-engine's rules.
    Movement,
    /// Conversation groups and their meetings.
    Conversations,
    /// Tell clients what happened.
    Emit,
}

/// The office's collision grid (shared, replaced whole when the map changes).
#[derive(Resource, Clone)]
pub struct OfficeGrid(pub Arc<CollisionGrid>);

/// The office's movement rules.
#[derive(Resource, Clone)]
pub struct MovementRules(pub Rules);

/// Tiles held by avatars.
#[derive(Resource, Default)]
pub struct TileReservations(pub Reservations);

/// Avatars in the order they joined: grid-engine processes characters in
/// that order, so the first to start a step into a tile gets it.
#[derive(Resource, Default)]
pub struct JoinOrder(pub Vec<Entity>);

/// Steps and turns of this tick and the one before: while frames batch
/// two ticks, the clients that get a frame this tick have not heard of the
/// last tick's yet.
#[derive(Resource, Default)]
pub struct TickEvents {
    /// This tick's events, in the order they happened.
    pub events: Vec<MoveEvent>,
    /// The last tick's.
    pub previous: Vec<MoveEvent>,
    /// Avatars whose events this tick answer their player's input (a step
    /// from standing or a turn), by id, ascending: their clients hear of it
    /// first.
    pub answered: Vec<u32>,
}

impl TickEvents {
    /// Forgets every event (clients were just sent snapshots).
    pub fn clear(&mut self) {
        self.events.clear();
        self.previous.clear();
        self.answered.clear();
    }
}

/// The tick about to run (before the schedule) or running (during it).
#[derive(Resource, Default)]
pub struct TickCount(pub u64);

/// Avatar ids are handed out from 1 up and never reused within an office.
#[derive(Resource)]
pub struct NextAvatarId(pub u32);

/// Avatars by id.
#[derive(Resource, Default)]
pub struct AvatarIndex(pub rustc_hash::FxHashMap<u32, Entity>);

/// Who an avatar is.
#[derive(Component, Debug, Clone)]
pub struct Avatar {
    /// Id in this office, as clients see it.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// The Teams presence it shows.
    pub presence: Presence,
}

/// The direction an avatar's player holds, if any.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Held(pub Option<Direction>);

impl Avatar {
    /// The avatar as clients see it.
    pub fn snapshot(&self, walker: &Walker) -> AvatarSnapshot {
        AvatarSnapshot {
            id: self.id,
            name: self.name.clone(),
            x: walker.tile.0,
            y: walker.tile.1,
            facing: walker.facing,
            speed: (walker.speed * 10.0)
                .round()
                .clamp(0.0, f64::from(u16::MAX)) as u16,
            step: walker.step,
            progress: walker.progress.clamp(0.0, 1000.0) as u16,
            availability: self.presence.availability.code(),
            activity: self.presence.activity.code(),
        }
    }
}

/// Asks every avatar that holds a direction to move, in join order.
fn hold_directions(
    order: Res<JoinOrder>,
    grid: Res<OfficeGrid>,
    rules: Res<MovementRules>,
    mut reservations: ResMut<TileReservations>,
    mut events: ResMut<TickEvents>,
    mut avatars: Query<(&mut Walker, &Held)>,
) {
    let TickEvents {
        events: this_tick,
        previous,
        ..
    } = &mut *events;
    std::mem::swap(this_tick, previous);
    this_tick.clear();
    let mut env = Surroundings {
        grid: &grid.0,
        reservations: &mut reservations.0,
        rules: &rules.0,
        events: &mut events.events,
    };
    for &entity in &order.0 {
        if let Ok((mut walker, held)) = avatars.get_mut(entity)
            && let Some(dir) = held.0
        {
            walker.hold(dir, &mut env);
        }
    }
    let TickEvents {
        events, answered, ..
    } = &mut *events;
    answered.clear();
    answered.extend(events.iter().map(MoveEvent::avatar));
    answered.sort_unstable();
    answered.dedup();
}

/// Advances every avatar by one tick, in join order.
fn advance_walkers(
    order: Res<JoinOrder>,
    grid: Res<OfficeGrid>,
    rules: Res<MovementRules>,
    mut reservations: ResMut<TileReservations>,
    mut events: ResMut<TickEvents>,
    mut walkers: Query<&mut Walker>,
) {
    let delta = rules.0.tick_ms();
    let mut env = Surroundings {
        grid: &grid.0,
        reservations: &mut reservations.0,
        rules: &rules.0,
        events: &mut events.events,
    };
    for &entity in &order.0 {
        if let Ok(mut walker) = walkers.get_mut(entity) {
            walker.advance(delta, &mut env);
        }
    }
}

/// Counts the tick as done.
fn finish_tick(mut tick: ResMut<TickCount>) {
    tick.0 += 1;
}

/// An office's world and the schedule that advances it one tick.
pub struct OfficeSim {
    /// The world; other parts of the server add their resources and components.
    pub world: World,
    schedule: Schedule,
}

impl OfficeSim {
    /// A world with no avatars, and a schedule that runs the movement phase
    /// (the server adds its receive and emit systems to the other phases).
    pub fn new(grid: Arc<CollisionGrid>, rules: Rules) -> OfficeSim {
        let mut world = World::new();
        world.insert_resource(OfficeGrid(grid));
        world.insert_resource(MovementRules(rules));
        world.insert_resource(TileReservations::default());
        world.insert_resource(JoinOrder::default());
        world.insert_resource(TickEvents::default());
        world.insert_resource(TickCount::default());
        world.insert_resource(NextAvatarId(1));
        world.insert_resource(AvatarIndex::default());
        let mut schedule = Schedule::default();
        schedule.configure_sets(
            (
                OfficeSet::Receive,
                OfficeSet::Movement,
                OfficeSet::Conversations,
                OfficeSet::Emit,
            )
                .chain(),
        );
        schedule.add_systems(
            (hold_directions, advance_walkers)
                .chain()
                .in_set(OfficeSet::Movement),
        );
        schedule.add_systems(finish_tick.after(OfficeSet::Emit));
        OfficeSim { world, schedule }
    }

    /// The schedule, to add systems to the receive and emit phases.
    pub fn schedule_mut(&mut self) -> &mut Schedule {
        &mut self.schedule
    }

    /// Runs one tick.
    pub fn tick(&mut self) {
        self.schedule.run(&mut self.world);
    }

    /// The tick about to run.
    pub fn tick_count(&self) -> u64 {
        self.world.resource::<TickCount>().0
    }

    /// Adds an avatar standing on `tile`; see [`spawn_avatar`].
    pub fn add_avatar(
        &mut self,
        name: &str,
        tile: (i32, i32),
        speed: f64,
        collides: bool,
    ) -> Entity {
        spawn_avatar(&mut self.world, name, tile, speed, collides, ())
    }

    /// Sets the direction an avatar holds.
    pub fn hold(&mut self, avatar: Entity, dir: Option<Direction>) {
        if let Some(mut held) = self.world.get_mut::<Held>(avatar) {
            held.0 = dir;
        }
    }

    /// The avatar's movement state.
    pub fn walker(&self, avatar: Entity) -> Option<&Walker> {
        self.world.get::<Walker>(avatar)
    }
}

/// Spawns an avatar on `tile` with `extra` components, last in join order.
pub fn spawn_avatar(
    world: &mut World,
    name: &str,
    tile: (i32, i32),
    speed: f64,
    collides: bool,
    extra: impl Bundle,
) -> Entity {
    let id = {
        let mut next = world.resource_mut::<NextAvatarId>();
        let id = next.0;
        next.0 = next.0.wrapping_add(1).max(1);
        id
    };
    let walker = Walker::new(id, tile, speed, collides);
    walker.enter(&mut world.resource_mut::<TileReservations>().0);
    let entity = world
        .spawn((
            Avatar {
                id,
                name: name.to_owned(),
                presence: Presence::default(),
            },
            walker,
            Held::default(),
            extra,
        ))
        .id();
    world.resource_mut::<JoinOrder>().0.push(entity);
    world.resource_mut::<AvatarIndex>().0.insert(id, entity);
    entity
}

/// Removes an avatar and frees its tiles; returns its id if it existed.
pub fn despawn_avatar(world: &mut World, entity: Entity) -> Option<u32> {
    let walker = world.get::<Walker>(entity)?.clone();
    walker.leave(&mut world.resource_mut::<TileReservations>().0);
    world.resource_mut::<JoinOrder>().0.retain(|&e| e != entity);
    world.resource_mut::<AvatarIndex>().0.remove(&walker.id);
    world.despawn(entity);
    Some(walker.id)
}
