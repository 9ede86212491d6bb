//! Tiles reserved by avatars: grid-engine's `CharBlockCache`.

use rustc_hash::FxHashMap;

/// The avatars standing on or stepping into each tile. Only avatars that
/// collide are recorded: grid-engine keeps the others too, but with no
/// collision group they never block anyone, so leaving them out is the same.
#[derive(Debug, Default, Clone)]
pub struct Reservations {
    tiles: FxHashMap<(i32, i32), Vec<u32>>,
}

impl Reservations {
    /// Records that `avatar` holds `tile`.
    pub fn add(&mut self, tile: (i32, i32), avatar: u32) {
        let holders = self.tiles.entry(tile).or_default();
        if !holders.contains(&avatar) {
            holders.push(avatar);
        }
    }

    /// Forgets that `avatar` holds `tile`.
    pub fn remove(&mut self, tile: (i32, i32), avatar: u32) {
        if let Some(holders) = self.tiles.get_mut(&tile) {
            holders.retain(|&a| a != avatar);
            if holders.is_empty() {
                self.tiles.remove(&tile);
            }
        }
    }

    /// Whether an avatar other than `avatar` holds `tile`.
    pub fn held_by_other(&self, tile: (i32, i32), avatar: u32) -> bool {
        self.tiles
            .get(&tile)
            .is_some_and(|h| h.iter().any(|&a| a != avatar))
    }

    /// Whether anybody holds `tile`.
    pub fn is_held(&self, tile: (i32, i32)) -> bool {
        self.tiles.contains_key(&tile)
    }

    /// Number of tiles held.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether no tile is held.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }
}
