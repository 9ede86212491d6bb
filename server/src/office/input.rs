//! The direction a player holds, handed from the connection task to the
//! office without a queue: the connection writes, the office reads once per
//! tick. One slot per avatar, so it can never grow, and the latest input
//! wins as in grid-engine, where the held direction is read every frame.
//!
//! A press that is released before the next tick is latched, so a quick tap
//! still asks for one step.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use bevy_ecs::component::Component;
use metaoffice_protocol::Direction;

const NONE: u16 = 0xFF;

fn pack(held: u16, latched: u16) -> u16 {
    (latched << 8) | held
}

fn unpack(code: u16) -> Option<Direction> {
    u8::try_from(code).ok().and_then(Direction::from_code)
}

/// The held direction of one avatar; clones share it.
#[derive(Component, Debug, Clone)]
pub struct InputSlot(Arc<AtomicU16>);

impl Default for InputSlot {
    fn default() -> InputSlot {
        InputSlot(Arc::new(AtomicU16::new(pack(NONE, NONE))))
    }
}

impl InputSlot {
    /// The player holds `dir` from now on.
    pub fn hold(&self, dir: Direction) {
        let code = u16::from(dir.code());
        self.0.store(pack(code, code), Ordering::Release);
    }

    /// The player holds nothing; a press since the last tick still counts once.
    pub fn release(&self) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(pack(NONE, v >> 8))
            });
    }

    /// For the office, once per tick: the direction to move this tick (the
    /// held one, else one pressed and released since the last tick).
    pub fn take(&self) -> Option<Direction> {
        let before = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(pack(v & 0xFF, NONE))
            })
            .unwrap_or_else(|v| v);
        unpack(before & 0xFF).or_else(|| unpack(before >> 8))
    }
}
