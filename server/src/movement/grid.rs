//! Which tiles block, as grid-engine's `GridTilemap.hasBlockingTile` decides.

use metaoffice_protocol::Direction;

const BLOCKED: u16 = 1;

fn direction_bit(dir: Direction) -> u16 {
    1 << (1 + dir.code())
}

/// The collision grid of one char layer: for every tile, whether it blocks
/// every step into it (no tile on a collision-relevant layer, or a tile with
/// the collision property) and which `ge_collide_<dir>` properties it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollisionGrid {
    width: i32,
    height: i32,
    cells: Vec<u16>,
}

/// What stands on one tile, for [`CollisionGrid::set`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TileCollision {
    /// Blocks every step into it.
    pub blocked: bool,
    /// `ge_collide_<dir>` set, indexed by direction code.
    pub directions: [bool; 8],
}

impl CollisionGrid {
    /// A grid of `width` × `height` free tiles.
    pub fn open(width: u32, height: u32) -> CollisionGrid {
        let width = i32::try_from(width).unwrap_or(i32::MAX);
        let height = i32::try_from(height).unwrap_or(i32::MAX);
        CollisionGrid {
            width,
            height,
            cells: vec![0; width as usize * height as usize],
        }
    }

    /// Builds a grid from rows of 0 (free) and 1 (blocked), as scenarios give it.
    pub fn from_rows(rows: &[Vec<u8>]) -> CollisionGrid {
        let height = rows.len() as u32;
        let width = rows.first().map_or(0, |r| r.len()) as u32;
        let mut grid = CollisionGrid::open(width, height);
        for (y, row) in rows.iter().enumerate() {
            for (x, &cell) in row.iter().enumerate().take(width as usize) {
                if cell == 1 {
                    grid.set(
                        x as i32,
                        y as i32,
                        TileCollision {
                            blocked: true,
                            ..Default::default()
                        },
                    );
                }
            }
        }
        grid
    }

    /// Width in tiles.
    pub fn width(&self) -> i32 {
        self.width
    }

    /// Height in tiles.
    pub fn height(&self) -> i32 {
        self.height
    }

    fn index(&self, x: i32, y: i32) -> Option<usize> {
        (x >= 0 && y >= 0 && x < self.width && y < self.height)
            .then(|| y as usize * self.width as usize + x as usize)
    }

    /// Sets what stands on a tile inside the grid; tiles outside are ignored.
    pub fn set(&mut self, x: i32, y: i32, tile: TileCollision) {
        if let Some(i) = self.index(x, y) {
            let mut cell = if tile.blocked { BLOCKED } else { 0 };
            for dir in Direction::ALL {
                if tile.directions[usize::from(dir.code())] {
                    cell |= direction_bit(dir);
                }
            }
            self.cells[i] = cell;
        }
    }

    /// grid-engine's `isTileBlocked`: off the map, no tile, or the collision
    /// property; directional properties do not count here.
    pub fn is_tile_blocked(&self, x: i32, y: i32) -> bool {
        self.index(x, y)
            .is_none_or(|i| self.cells[i] & BLOCKED != 0)
    }

    /// Whether a step moving `dir` may not enter tile (`x`, `y`): the tile
    /// blocks, or it has `ge_collide_<opposite of dir>`.
    pub fn blocks_step(&self, x: i32, y: i32, dir: Direction) -> bool {
        self.index(x, y)
            .is_none_or(|i| self.cells[i] & (BLOCKED | direction_bit(dir.opposite())) != 0)
    }

    /// How many tiles `is_tile_blocked` leaves free.
    pub fn walkable_tiles(&self) -> usize {
        self.cells.iter().filter(|&&c| c & BLOCKED == 0).count()
    }

    /// The free tile nearest to (`x`, `y`) for which `taken` is false: the
    /// smallest square ring around it that has one, the closest on that ring;
    /// `None` when every tile is blocked or taken.
    pub fn nearest_free(
        &self,
        x: i32,
        y: i32,
        taken: impl Fn(i32, i32) -> bool,
    ) -> Option<(i32, i32)> {
        let free = |x: i32, y: i32| !self.is_tile_blocked(x, y) && !taken(x, y);
        if free(x, y) {
            return Some((x, y));
        }
        // Rings of growing Chebyshev radius, ordered by Euclidean distance.
        let max_radius = self.width.max(self.height);
        for r in 1..=max_radius {
            let mut best: Option<((i32, i32), i64)> = None;
            for dy in -r..=r {
                for dx in -r..=r {
                    if dx.abs() != r && dy.abs() != r {
                        continue;
                    }
                    let (tx, ty) = (x + dx, y + dy);
                    if free(tx, ty) {
                        let d = i64::from(dx) * i64::from(dx) + i64::from(dy) * i64::from(dy);
                        if best.is_none_or(|(_, bd)| d < bd) {
                            best = Some(((tx, ty), d));
                        }
                    }
                }
            }
            if let Some((tile, _)) = best {
                return Some(tile);
            }
        }
        None
    }
}
