//! Packing and unpacking the integer arrays of a [`TickFrame`].
//!
//! Avatar ids in `steps` and `turns` are deltas from the previous entry of the
//! same array (the first from 0), so entries are sorted by avatar id; step
//! coordinates are relative to the frame's origin. Both keep the integers
//! small, and MessagePack writes an integer from -32 to 127 in one byte.

use crate::messages::{AvatarSnapshot, Direction, Echo, TickFrame};

/// The bit of a `moves` entry that marks a turn.
const TURN: i32 = 8;

/// A step that started this tick, unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The avatar stepping.
    pub avatar: u32,
    /// The tile it leaves.
    pub from: (i32, i32),
    /// The direction; the tile it enters is `from` plus this direction's offset.
    pub dir: Direction,
}

impl Step {
    /// The tile the step enters.
    pub fn to(&self) -> (i32, i32) {
        let (dx, dy) = self.dir.offset();
        (self.from.0 + dx, self.from.1 + dy)
    }
}

/// A turn without a step, unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// The avatar turning.
    pub avatar: u32,
    /// The new facing direction.
    pub dir: Direction,
}

/// A step or a turn, unpacked and resolved: what a client applies, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// A step started.
    Step(Step),
    /// A turn without a step.
    Turn(Turn),
}

impl Update {
    /// The avatar it is about.
    pub fn avatar(&self) -> u32 {
        match self {
            Update::Step(step) => step.avatar,
            Update::Turn(turn) => turn.avatar,
        }
    }

    /// Its direction.
    pub fn dir(&self) -> Direction {
        match self {
            Update::Step(step) => step.dir,
            Update::Turn(turn) => turn.dir,
        }
    }
}

/// Why a frame's arrays could not be unpacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// An array's length is not a multiple of its entry size.
    #[error("`{0}` holds a partial entry")]
    PartialEntry(&'static str),
    /// An avatar id delta is negative or the id overflows.
    #[error("`{0}` has an avatar id out of order")]
    IdOrder(&'static str),
    /// A direction code is not 0 to 7.
    #[error("`{0}` has an unknown direction code {1}")]
    BadDirection(&'static str, i32),
    /// A compact move names an avatar the client does not know.
    #[error("`moves` names avatar {0}, which the client does not know")]
    UnknownAvatar(u32),
}

fn unpack_id(field: &'static str, previous: u32, delta: i32) -> Result<u32, FrameError> {
    u32::try_from(delta)
        .ok()
        .and_then(|d| previous.checked_add(d))
        .ok_or(FrameError::IdOrder(field))
}

fn unpack_dir(field: &'static str, code: i32) -> Result<Direction, FrameError> {
    u8::try_from(code)
        .ok()
        .and_then(Direction::from_code)
        .ok_or(FrameError::BadDirection(field, code))
}

impl TickFrame {
    /// The steps, unpacked, in wire order.
    pub fn steps(&self) -> Result<Vec<Step>, FrameError> {
        if !self.steps.len().is_multiple_of(4) {
            return Err(FrameError::PartialEntry("steps"));
        }
        let mut id = 0u32;
        self.steps
            .chunks_exact(4)
            .map(|e| {
                id = unpack_id("steps", id, e[0])?;
                Ok(Step {
                    avatar: id,
                    from: (
                        self.origin_x.wrapping_add(e[1]),
                        self.origin_y.wrapping_add(e[2]),
                    ),
                    dir: unpack_dir("steps", e[3])?,
                })
            })
            .collect()
    }

    /// The turns, unpacked, in wire order.
    pub fn turns(&self) -> Result<Vec<Turn>, FrameError> {
        if !self.turns.len().is_multiple_of(2) {
            return Err(FrameError::PartialEntry("turns"));
        }
        let mut id = 0u32;
        self.turns
            .chunks_exact(2)
            .map(|e| {
                id = unpack_id("turns", id, e[0])?;
                Ok(Turn {
                    avatar: id,
                    dir: unpack_dir("turns", e[1])?,
                })
            })
            .collect()
    }

    /// Every step and turn in the order a client applies them (after
    /// `disappeared` and `appeared`): `steps`, `turns`, then `moves`, whose
    /// steps start where `destination` says the client last knew the avatar
    /// would stand (its snapshot's tile plus the step under way, or the tile
    /// its last step entered).
    pub fn updates(
        &self,
        mut destination: impl FnMut(u32) -> Option<(i32, i32)>,
    ) -> Result<Vec<Update>, FrameError> {
        let mut updates =
            Vec::with_capacity(self.steps.len() / 4 + self.turns.len() / 2 + self.moves.len());
        updates.extend(self.steps()?.into_iter().map(Update::Step));
        updates.extend(self.turns()?.into_iter().map(Update::Turn));
        let mut id = 0u32;
        // Where the avatar of the entries being read stands after them.
        let mut at: Option<(u32, (i32, i32))> = None;
        for &code in &self.moves {
            id = unpack_id("moves", id, code >> 4)?;
            let dir = unpack_dir("moves", code & 7)?;
            let from = match at {
                Some((avatar, tile)) if avatar == id => tile,
                _ => destination(id).ok_or(FrameError::UnknownAvatar(id))?,
            };
            if code & TURN != 0 {
                at = Some((id, from));
                updates.push(Update::Turn(Turn { avatar: id, dir }));
            } else {
                let step = Step {
                    avatar: id,
                    from,
                    dir,
                };
                at = Some((id, step.to()));
                updates.push(Update::Step(step));
            }
        }
        Ok(updates)
    }

    /// How many avatar updates the frame carries: steps, turns, moves,
    /// appearances and disappearances (the unit of the load benchmark's
    /// bytes per update).
    pub fn update_count(&self) -> usize {
        self.steps.len() / 4
            + self.turns.len() / 2
            + self.moves.len()
            + self.appeared.len()
            + self.disappeared.len()
    }

    /// Whether nothing happened.
    pub fn is_empty(&self) -> bool {
        self.update_count() == 0
    }
}

/// Builds a [`TickFrame`]: push steps and turns in ascending avatar id order
/// (equal ids may repeat: a fast avatar can start two steps in one tick).
#[derive(Debug, Clone)]
pub struct TickFrameBuilder {
    frame: TickFrame,
    last_step: u32,
    last_turn: u32,
    last_move: u32,
}

impl TickFrameBuilder {
    /// An empty frame for `tick` whose step coordinates are relative to `origin`.
    pub fn new(tick: u64, origin: (i32, i32)) -> TickFrameBuilder {
        TickFrameBuilder {
            frame: TickFrame {
                tick,
                origin_x: origin.0,
                origin_y: origin.1,
                steps: Vec::new(),
                turns: Vec::new(),
                appeared: Vec::new(),
                disappeared: Vec::new(),
                moves: Vec::new(),
            },
            last_step: 0,
            last_turn: 0,
            last_move: 0,
        }
    }

    /// Adds a step. Panics in debug builds if `avatar` is below the previous step's.
    pub fn step(&mut self, avatar: u32, from: (i32, i32), dir: Direction) -> &mut Self {
        debug_assert!(
            avatar >= self.last_step,
            "steps must be pushed in avatar order"
        );
        let delta = avatar.saturating_sub(self.last_step);
        self.last_step = avatar;
        self.frame.steps.extend_from_slice(&[
            delta as i32,
            from.0.wrapping_sub(self.frame.origin_x),
            from.1.wrapping_sub(self.frame.origin_y),
            i32::from(dir.code()),
        ]);
        self
    }

    /// Adds a turn. Panics in debug builds if `avatar` is below the previous turn's.
    pub fn turn(&mut self, avatar: u32, dir: Direction) -> &mut Self {
        debug_assert!(
            avatar >= self.last_turn,
            "turns must be pushed in avatar order"
        );
        let delta = avatar.saturating_sub(self.last_turn);
        self.last_turn = avatar;
        self.frame
            .turns
            .extend_from_slice(&[delta as i32, i32::from(dir.code())]);
        self
    }

    /// Adds a step of an avatar the client knows, from where the client
    /// last knew it would stand (since 1.4). Steps and turns added this way
    /// go in ascending avatar order, each avatar's in the order they happened.
    pub fn known_step(&mut self, avatar: u32, dir: Direction) -> &mut Self {
        self.push_move(avatar, i32::from(dir.code()))
    }

    /// Adds a turn of an avatar the client knows (since 1.4).
    pub fn known_turn(&mut self, avatar: u32, dir: Direction) -> &mut Self {
        self.push_move(avatar, TURN | i32::from(dir.code()))
    }

    fn push_move(&mut self, avatar: u32, code: i32) -> &mut Self {
        debug_assert!(
            avatar >= self.last_move,
            "moves must be pushed in avatar order"
        );
        let delta = avatar.saturating_sub(self.last_move);
        self.last_move = avatar;
        self.frame
            .moves
            .push((delta.min(i32::MAX as u32 >> 4) as i32) << 4 | code);
        self
    }

    /// Adds an avatar that came into view.
    pub fn appeared(&mut self, avatar: AvatarSnapshot) -> &mut Self {
        self.frame.appeared.push(avatar);
        self
    }

    /// Adds an avatar that left view.
    pub fn disappeared(&mut self, avatar: u32) -> &mut Self {
        self.frame.disappeared.push(avatar);
        self
    }

    /// Whether nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }

    /// The finished frame.
    pub fn finish(self) -> TickFrame {
        self.frame
    }
}

impl Echo {
    /// An echo of nothing yet, for `tick`, the avatar standing on `from`.
    pub fn new(tick: u64, from: (i32, i32)) -> Echo {
        Echo {
            tick,
            from_x: from.0,
            from_y: from.1,
            moves: Vec::new(),
        }
    }

    /// Adds a step.
    pub fn step(&mut self, dir: Direction) -> &mut Self {
        self.moves.push(dir.code());
        self
    }

    /// Adds a turn.
    pub fn turn(&mut self, dir: Direction) -> &mut Self {
        self.moves.push(TURN as u8 | dir.code());
        self
    }

    /// The updates of `avatar` (the client's own) it carries, in order.
    pub fn updates(&self, avatar: u32) -> Result<Vec<Update>, FrameError> {
        let mut at = (self.from_x, self.from_y);
        self.moves
            .iter()
            .map(|&code| {
                let dir = unpack_dir("moves", i32::from(code & 7))?;
                if i32::from(code) & !(TURN | 7) != 0 {
                    return Err(FrameError::BadDirection("moves", i32::from(code)));
                }
                Ok(if i32::from(code) & TURN != 0 {
                    Update::Turn(Turn { avatar, dir })
                } else {
                    let step = Step {
                        avatar,
                        from: at,
                        dir,
                    };
                    at = step.to();
                    Update::Step(step)
                })
            })
            .collect()
    }
}
