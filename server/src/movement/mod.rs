//! Movement by grid-engine 2.52's rules, with no I/O and no clock of its own:
//! the caller says how many milliseconds a tick lasts.
//!
//! Each tick, for the avatars in the order they joined: every avatar that
//! holds a direction asks to move ([`Walker::hold`]); then every avatar
//! advances ([`Walker::advance`]). Steps and turns are recorded as
//! [`MoveEvent`]s for the clients.

mod grid;
mod path;
mod reservations;
mod walker;

pub use grid::{CollisionGrid, TileCollision};
pub use path::{PathError, PathFinder, PathQuery};
pub use reservations::Reservations;
pub use walker::{Surroundings, Walker};

use metaoffice_protocol::Direction;
use serde::{Deserialize, Serialize};

/// How avatars reserve tiles (grid-engine's `characterCollisionStrategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollisionStrategy {
    /// The tile being left and the tile being entered, for the whole step.
    #[default]
    BlockTwoTiles,
    /// Only the tile being entered.
    BlockOneTileAhead,
}

/// The movement rules of one office.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// 4 or 8.
    pub directions: u8,
    /// How avatars reserve tiles.
    pub strategy: CollisionStrategy,
    /// Simulation ticks per second.
    pub tick_hz: f64,
}

impl Rules {
    /// Milliseconds one tick advances, as grid-engine's `update` gets them.
    pub fn tick_ms(&self) -> f64 {
        1000.0 / self.tick_hz
    }
}

/// Something a client needs to know to replay movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveEvent {
    /// A step started this tick from `from` towards `dir`.
    StepStarted {
        /// The avatar.
        avatar: u32,
        /// The tile left.
        from: (i32, i32),
        /// The direction of the step.
        dir: Direction,
    },
    /// The avatar turned without stepping (the way was blocked).
    Turned {
        /// The avatar.
        avatar: u32,
        /// The new facing direction.
        dir: Direction,
    },
}

impl MoveEvent {
    /// The avatar the event is about.
    pub fn avatar(&self) -> u32 {
        match *self {
            MoveEvent::StepStarted { avatar, .. } | MoveEvent::Turned { avatar, .. } => avatar,
        }
    }
}
