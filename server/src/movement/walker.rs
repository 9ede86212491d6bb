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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::movement::TileCollision;

    fn rules(directions: u8, strategy: CollisionStrategy) -> Rules {
        Rules {
            directions,
            strategy,
            tick_hz: 20.0,
        }
    }

    struct World {
        grid: CollisionGrid,
        reservations: Reservations,
        rules: Rules,
        events: Vec<MoveEvent>,
        walkers: Vec<Walker>,
    }

    impl World {
        fn new(grid: CollisionGrid, rules: Rules, walkers: Vec<Walker>) -> World {
            let mut reservations = Reservations::default();
            for w in &walkers {
                w.enter(&mut reservations);
            }
            World {
                grid,
                reservations,
                rules,
                events: Vec::new(),
                walkers,
            }
        }

        /// One tick: everyone holding a direction asks to move, then everyone advances.
        fn tick(&mut self, held: &[Option<Direction>]) {
            self.events.clear();
            let delta = self.rules.tick_ms();
            let mut env = Surroundings {
                grid: &self.grid,
                reservations: &mut self.reservations,
                rules: &self.rules,
                events: &mut self.events,
            };
            for (w, dir) in self.walkers.iter_mut().zip(held) {
                if let Some(dir) = dir {
                    w.hold(*dir, &mut env);
                }
            }
            for w in &mut self.walkers {
                w.advance(delta, &mut env);
            }
        }
    }

    #[test]
    fn a_step_at_four_tiles_per_second_takes_five_ticks_at_20_hz() {
        let mut world = World::new(
            CollisionGrid::open(5, 1),
            rules(4, CollisionStrategy::BlockTwoTiles),
            vec![Walker::new(1, (0, 0), 4.0, true)],
        );
        world.tick(&[Some(Direction::Right)]);
        assert_eq!(
            world.events,
            vec![MoveEvent::StepStarted {
                avatar: 1,
                from: (0, 0),
                dir: Direction::Right
            }]
        );
        assert_eq!(world.walkers[0].progress, 200.0);
        for _ in 0..3 {
            world.tick(&[None]);
        }
        assert_eq!(
            (world.walkers[0].tile, world.walkers[0].step),
            ((0, 0), Some(Direction::Right))
        );
        // The fifth tick crosses the border with nothing held: the avatar stops on the new tile.
        world.tick(&[None]);
        assert_eq!(
            (world.walkers[0].tile, world.walkers[0].step),
            ((1, 0), None)
        );
        assert_eq!(world.walkers[0].facing, Direction::Right);
    }

    #[test]
    fn a_fast_walker_carries_the_rest_of_a_tick_into_the_next_step() {
        // 30 tiles/s at 20 Hz: 1500 progress per tick, so each tick finishes
        // a step and starts another with the remaining third of the tick.
        let mut world = World::new(
            CollisionGrid::open(10, 1),
            rules(4, CollisionStrategy::BlockTwoTiles),
            vec![Walker::new(1, (0, 0), 30.0, true)],
        );
        world.tick(&[Some(Direction::Right)]);
        assert_eq!(world.walkers[0].tile, (1, 0));
        assert_eq!(world.walkers[0].progress, 500.0);
        assert_eq!(
            world.events.len(),
            2,
            "two steps started in one tick: {:?}",
            world.events
        );
    }

    #[test]
    fn a_wall_turns_a_standing_avatar_and_stops_a_walking_one_without_turning() {
        let mut grid = CollisionGrid::open(3, 3);
        grid.set(
            2,
            1,
            TileCollision {
                blocked: true,
                ..Default::default()
            },
        );
        grid.set(
            0,
            0,
            TileCollision {
                blocked: true,
                ..Default::default()
            },
        );
        let mut world = World::new(
            grid,
            rules(4, CollisionStrategy::BlockTwoTiles),
            vec![Walker::new(1, (1, 1), 4.0, true)],
        );
        // Standing, facing down, asked to walk into the wall at (2, 1): it only turns.
        world.tick(&[Some(Direction::Right)]);
        assert_eq!(
            world.events,
            vec![MoveEvent::Turned {
                avatar: 1,
                dir: Direction::Right
            }]
        );
        assert_eq!(
            (world.walkers[0].step, world.walkers[0].facing),
            (None, Direction::Right)
        );
        // Walking up to (1, 0); at the border the player holds left, into the wall at (0, 0).
        for _ in 0..4 {
            world.tick(&[Some(Direction::Up)]);
        }
        world.tick(&[Some(Direction::Left)]);
        assert_eq!(
            (world.walkers[0].tile, world.walkers[0].step),
            ((1, 0), None)
        );
        assert_eq!(
            world.walkers[0].facing,
            Direction::Up,
            "a blocked new direction at the border does not turn it"
        );
    }

    #[test]
    fn directional_collision_closes_one_side_only() {
        let mut grid = CollisionGrid::open(3, 1);
        let mut closed_left = TileCollision::default();
        closed_left.directions[usize::from(Direction::Left.code())] = true;
        grid.set(1, 0, closed_left);
        // Entering (1, 0) moving right checks ge_collide_left: blocked.
        assert!(grid.blocks_step(1, 0, Direction::Right));
        // Entering it moving left checks ge_collide_right: free.
        assert!(!grid.blocks_step(1, 0, Direction::Left));
        assert!(
            !grid.is_tile_blocked(1, 0),
            "direction properties do not make a tile blocked"
        );
    }

    #[test]
    fn diagonals_are_ignored_with_four_directions_and_walked_with_eight() {
        let mut four = World::new(
            CollisionGrid::open(3, 3),
            rules(4, CollisionStrategy::BlockTwoTiles),
            vec![Walker::new(1, (0, 0), 4.0, true)],
        );
        four.tick(&[Some(Direction::DownRight)]);
        assert!(four.events.is_empty());
        assert_eq!(four.walkers[0].impulse, None);
        let mut eight = World::new(
            CollisionGrid::open(3, 3),
            rules(8, CollisionStrategy::BlockTwoTiles),
            vec![Walker::new(1, (0, 0), 4.0, true)],
        );
        for _ in 0..5 {
            eight.tick(&[Some(Direction::DownRight)]);
        }
        assert_eq!(
            eight.walkers[0].tile,
            (1, 1),
            "a diagonal step takes as long as a straight one"
        );
    }

    #[test]
    fn two_tiles_are_reserved_for_the_whole_step_or_only_the_one_ahead() {
        for (strategy, follower_may_enter) in [
            (CollisionStrategy::BlockTwoTiles, false),
            (CollisionStrategy::BlockOneTileAhead, true),
        ] {
            // The leader at (1, 0) walks right; the follower at (0, 0) wants (1, 0) at once.
            let mut world = World::new(
                CollisionGrid::open(4, 1),
                rules(4, strategy),
                vec![
                    Walker::new(1, (1, 0), 4.0, true),
                    Walker::new(2, (0, 0), 4.0, true),
                ],
            );
            world.tick(&[Some(Direction::Right), None]);
            world.tick(&[None, Some(Direction::Right)]);
            assert_eq!(
                world.walkers[1].step.is_some(),
                follower_may_enter,
                "{strategy:?}"
            );
        }
    }

    #[test]
    fn the_first_to_ask_gets_the_tile_and_non_colliders_pass_through() {
        let mut world = World::new(
            CollisionGrid::open(3, 1),
            rules(4, CollisionStrategy::BlockTwoTiles),
            vec![
                Walker::new(1, (0, 0), 4.0, true),
                Walker::new(2, (2, 0), 4.0, true),
                Walker::new(3, (2, 0), 4.0, false),
            ],
        );
        world.tick(&[
            Some(Direction::Right),
            Some(Direction::Left),
            Some(Direction::Left),
        ]);
        assert!(
            world.walkers[0].step.is_some(),
            "joined first, so it gets (1, 0)"
        );
        assert!(
            world.walkers[1].step.is_none(),
            "(1, 0) is reserved: it only turns"
        );
        assert_eq!(world.walkers[1].facing, Direction::Left);
        assert!(
            world.walkers[2].step.is_some(),
            "a non-colliding avatar walks through"
        );
    }
}
