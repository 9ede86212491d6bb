//! One avatar's movement: grid-engine 2.52's `GridCharacter` (`move`,
//! `update`, `updateCharacterPosition`), step for step, in f64 as JavaScript
//! computes it.

use bevy_ecs::component::Component;
use metaoffice_protocol::Direction;

use super::{CollisionGrid, CollisionStrategy, MoveEvent, Reservations, Rules};

/// A full step, in grid-engine's progress units.
const TILE: f64 = 1000.0;

/// Movement state of one avatar.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Walker {
    /// The avatar's id, used in reservations and events.
    pub id: u32,
    /// The tile it stands on, or leaves while it steps.
    pub tile: (i32, i32),
    /// Facing direction; starts `down`.
    pub facing: Direction,
    /// The step under way.
    pub step: Option<Direction>,
    /// Progress of that step, 0 to 1000 (whole numbers kept as f64).
    pub progress: f64,
    /// Tiles per second; 0 means 4, as in grid-engine.
    pub speed: f64,
    /// Whether it collides with tiles and other avatars.
    pub collides: bool,
    /// The direction asked for this tick (grid-engine's `lastMovementImpulse`).
    pub impulse: Option<Direction>,
}

/// Everything a step needs to consult or change besides the walker itself.
pub struct Surroundings<'a> {
    /// The office's tiles.
    pub grid: &'a CollisionGrid,
    /// Tiles held by avatars.
    pub reservations: &'a mut Reservations,
    /// Movement rules of the office.
    pub rules: &'a Rules,
    /// Where steps and turns are recorded.
    pub events: &'a mut Vec<MoveEvent>,
}

fn shifted(tile: (i32, i32), dir: Direction) -> (i32, i32) {
    let (dx, dy) = dir.offset();
    (tile.0 + dx, tile.1 + dy)
}

impl Walker {
    /// An avatar standing on `tile`, facing down.
    pub fn new(id: u32, tile: (i32, i32), speed: f64, collides: bool) -> Walker {
        Walker {
            id,
            tile,
            facing: Direction::Down,
            step: None,
            progress: 0.0,
            speed: if speed == 0.0 || !speed.is_finite() {
                4.0
            } else {
                speed
            },
            collides,
            impulse: None,
        }
    }

    /// The tile it stands on, or enters while it steps.
    pub fn next_tile(&self) -> (i32, i32) {
        match self.step {
            Some(dir) => shifted(self.tile, dir),
            None => self.tile,
        }
    }

    /// Puts a new walker into the reservations (grid-engine's `addCharacter`).
    pub fn enter(&self, reservations: &mut Reservations) {
        if self.collides {
            reservations.add(self.tile, self.id);
            reservations.add(self.next_tile(), self.id);
        }
    }

    /// Takes the walker out of the reservations (`removeCharacter`).
    pub fn leave(&self, reservations: &mut Reservations) {
        reservations.remove(self.tile, self.id);
        reservations.remove(self.next_tile(), self.id);
    }

    /// Moves the walker to `tile` at once, ending any step.
    pub fn place(&mut self, tile: (i32, i32), reservations: &mut Reservations) {
        self.leave(reservations);
        self.tile = tile;
        self.step = None;
        self.progress = 0.0;
        self.impulse = None;
        self.enter(reservations);
    }

    /// grid-engine's `move`: ask to walk `dir` this tick. A diagonal in a
    /// four-direction office is ignored, as grid-engine's `moveChar` does.
    pub fn hold(&mut self, dir: Direction, env: &mut Surroundings) {
        if dir.is_diagonal() && env.rules.directions == 4 {
            return;
        }
        self.impulse = Some(dir);
        if self.step.is_none() {
            if self.is_blocking(dir, env) {
                if self.facing != dir {
                    self.facing = dir;
                    env.events.push(MoveEvent::Turned {
                        avatar: self.id,
                        dir,
                    });
                }
            } else {
                self.start_step(dir, env);
            }
        }
    }

    /// grid-engine's `update`: advance by `delta_ms`, then forget this tick's impulse.
    pub fn advance(&mut self, delta_ms: f64, env: &mut Surroundings) {
        if self.step.is_some() {
            self.update_position(delta_ms, env);
        }
        self.impulse = None;
    }

    fn is_blocking(&self, dir: Direction, env: &Surroundings) -> bool {
        if !self.collides {
            return false;
        }
        let target = shifted(self.next_tile(), dir);
        env.grid.blocks_step(target.0, target.1, dir)
            || env.reservations.held_by_other(target, self.id)
    }

    fn start_step(&mut self, dir: Direction, env: &mut Surroundings) {
        self.step = Some(dir);
        self.facing = dir;
        if self.collides {
            if env.rules.strategy == CollisionStrategy::BlockOneTileAhead {
                env.reservations.remove(self.tile, self.id);
            }
            env.reservations.add(self.next_tile(), self.id);
        }
        env.events.push(MoveEvent::StepStarted {
            avatar: self.id,
            from: self.tile,
            dir,
        });
    }

    /// Ends the step: the walker stands on the tile it entered.
    fn finish_step(&mut self, env: &mut Surroundings) {
        let entered = self.next_tile();
        if self.collides {
            env.reservations.remove(self.tile, self.id);
            env.reservations.add(entered, self.id);
        }
        self.tile = entered;
    }

    fn max_progress(&self, delta_ms: f64) -> f64 {
        (delta_ms / 1000.0 * self.speed * TILE).floor()
    }

    fn update_position(&mut self, delta_ms: f64, env: &mut Surroundings) {
        let max = self.max_progress(delta_ms);
        let crosses = self.progress + max >= TILE;
        let walked = if crosses { TILE - self.progress } else { max };
        let rest = 1.0 - walked / max;
        self.progress = (self.progress + max).min(TILE);
        if !crosses {
            return;
        }
        self.progress = 0.0;
        match self.impulse {
            Some(dir) if !self.is_blocking(dir, env) => {
                self.finish_step(env);
                self.start_step(dir, env);
                if rest > 0.0 {
                    self.update_position(delta_ms * rest, env);
                }
            }
            _ => {
                self.finish_step(env);
                self.step = None;
            }
        }
    }
}
