//! Interest management: each client sees a rectangle of the office around
//! its avatar, made of whole cells. The rectangle is anchored on a cell and
//! only moves when the avatar leaves that cell by more than a few tiles
//! (hysteresis), so walking along a border does not churn. Clients anchored
//! on the same cell see exactly the same thing, so their frame is encoded
//! once and the bytes shared.

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

/// How far clients see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewConfig {
    /// Side of a cell, in tiles.
    pub cell_tiles: i32,
    /// Cells seen left and right of the anchor cell.
    pub cells_x: i32,
    /// Cells seen above and below the anchor cell.
    pub cells_y: i32,
    /// Tiles an avatar may stray outside its anchor cell before the view follows.
    pub hysteresis_tiles: i32,
}

impl Default for ViewConfig {
    /// A 70×42-tile view in cells of 14: wherever the avatar stands within
    /// its hysteresis band, a 40×24 screen around it is in view, with at
    /// least 6 tiles of margin left and right. Larger cells than the view
    /// strictly needs mean fewer distinct views, so fewer frames to build
    /// and encode per tick (the emit phase's main cost in a crowded office),
    /// for about a third more bytes per client than 56×40 views in cells of 8.
    fn default() -> ViewConfig {
        ViewConfig {
            cell_tiles: 14,
            cells_x: 2,
            cells_y: 1,
            hysteresis_tiles: 2,
        }
    }
}

/// A cell of the interest grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell(pub i32, pub i32);

/// A rectangle of tiles, `x0..x1` × `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewRect {
    /// Left column (inclusive).
    pub x0: i32,
    /// Top row (inclusive).
    pub y0: i32,
    /// Right column (exclusive).
    pub x1: i32,
    /// Bottom row (exclusive).
    pub y1: i32,
}

impl ViewRect {
    /// Whether the tile is inside.
    pub fn contains(&self, (x, y): (i32, i32)) -> bool {
        x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
    }

    /// Whether an avatar on `tile`, stepping into `next`, is in view.
    pub fn sees(&self, tile: (i32, i32), next: (i32, i32)) -> bool {
        self.contains(tile) || self.contains(next)
    }

    /// The top-left tile: frame coordinates are relative to it.
    pub fn origin(&self) -> (i32, i32) {
        (self.x0, self.y0)
    }
}

impl ViewConfig {
    /// Checks the values, naming the bad key.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !(1..=256).contains(&self.cell_tiles) {
            return Err(("view.cell_tiles", "must be 1 to 256"));
        }
        if !(0..=64).contains(&self.cells_x) || !(0..=64).contains(&self.cells_y) {
            return Err(("view.cells_x", "cells_x and cells_y must be 0 to 64"));
        }
        if self.hysteresis_tiles < 0
            || self.hysteresis_tiles > self.cell_tiles * self.cells_x.min(self.cells_y)
        {
            return Err((
                "view.hysteresis_tiles",
                "must be 0 to cell_tiles × min(cells_x, cells_y)",
            ));
        }
        Ok(())
    }

    /// The cell a tile is in.
    pub fn cell_of(&self, (x, y): (i32, i32)) -> Cell {
        Cell(x.div_euclid(self.cell_tiles), y.div_euclid(self.cell_tiles))
    }

    /// What a client anchored on `anchor` sees.
    pub fn view(&self, anchor: Cell) -> ViewRect {
        let c = self.cell_tiles;
        ViewRect {
            x0: (anchor.0 - self.cells_x) * c,
            y0: (anchor.1 - self.cells_y) * c,
            x1: (anchor.0 + self.cells_x + 1) * c,
            y1: (anchor.1 + self.cells_y + 1) * c,
        }
    }

    /// The new anchor if an avatar on `tile` strayed too far from `anchor`.
    pub fn reanchor(&self, anchor: Cell, tile: (i32, i32)) -> Option<Cell> {
        let c = self.cell_tiles;
        let h = self.hysteresis_tiles;
        let inside = tile.0 >= anchor.0 * c - h
            && tile.0 < (anchor.0 + 1) * c + h
            && tile.1 >= anchor.1 * c - h
            && tile.1 < (anchor.1 + 1) * c + h;
        (!inside).then(|| self.cell_of(tile))
    }

    /// The cells whose avatars may be seen in `rect`: those overlapping it
    /// grown by one tile (an avatar just outside may be stepping in).
    pub fn cells_near(&self, rect: &ViewRect) -> impl Iterator<Item = Cell> + use<> {
        let Cell(cx0, cy0) = self.cell_of((rect.x0 - 1, rect.y0 - 1));
        let Cell(cx1, cy1) = self.cell_of((rect.x1, rect.y1));
        (cy0..=cy1).flat_map(move |cy| (cx0..=cx1).map(move |cx| Cell(cx, cy)))
    }
}

impl ViewConfig {
    /// The cells that overlap `rect` (without the border `cells_near` adds).
    pub fn cells_in(&self, rect: &ViewRect) -> impl Iterator<Item = Cell> + use<> {
        let Cell(cx0, cy0) = self.cell_of((rect.x0, rect.y0));
        let Cell(cx1, cy1) = self.cell_of((rect.x1 - 1, rect.y1 - 1));
        (cy0..=cy1).flat_map(move |cy| (cx0..=cx1).map(move |cx| Cell(cx, cy)))
    }

    /// The cells within one tile of `tile`: those whose views may see an
    /// avatar standing there (stepping, it reaches at most one tile further).
    pub fn cells_touching(&self, (x, y): (i32, i32)) -> impl Iterator<Item = Cell> + use<> {
        let Cell(cx0, cy0) = self.cell_of((x - 1, y - 1));
        let Cell(cx1, cy1) = self.cell_of((x + 1, y + 1));
        (cy0..=cy1).flat_map(move |cy| (cx0..=cx1).map(move |cx| Cell(cx, cy)))
    }
}

/// A list per cell of the map, stored densely: looking up a cell is an
/// index, not a hash (the emit phase looks up dozens of cells per view).
/// Cells off the map hold nothing.
#[derive(Debug, Clone)]
pub struct DenseCells<T> {
    columns: i32,
    rows: i32,
    lists: Vec<Vec<T>>,
}

impl<T> DenseCells<T> {
    /// Lists for every cell of a map of `width` × `height` tiles.
    pub fn new(width: i32, height: i32, view: &ViewConfig) -> DenseCells<T> {
        let columns = (width.max(0) + view.cell_tiles - 1) / view.cell_tiles;
        let rows = (height.max(0) + view.cell_tiles - 1) / view.cell_tiles;
        let lists = std::iter::repeat_with(Vec::new)
            .take((columns * rows) as usize)
            .collect();
        DenseCells {
            columns,
            rows,
            lists,
        }
    }

    fn slot(&self, Cell(x, y): Cell) -> Option<usize> {
        (x >= 0 && y >= 0 && x < self.columns && y < self.rows)
            .then(|| (y * self.columns + x) as usize)
    }

    /// Adds to a cell's list (dropped for a cell off the map).
    pub fn push(&mut self, cell: Cell, item: T) {
        if let Some(i) = self.slot(cell) {
            self.lists[i].push(item);
        }
    }

    /// The list of a cell.
    pub fn get(&self, cell: Cell) -> &[T] {
        self.slot(cell).map_or(&[], |i| self.lists[i].as_slice())
    }

    /// Empties every list, keeping their room.
    pub fn clear(&mut self) {
        for list in &mut self.lists {
            list.clear();
        }
    }

    /// Whether these lists are laid out for a map of `width` × `height` tiles.
    pub fn fits(&self, width: i32, height: i32, view: &ViewConfig) -> bool {
        let columns = (width.max(0) + view.cell_tiles - 1) / view.cell_tiles;
        let rows = (height.max(0) + view.cell_tiles - 1) / view.cell_tiles;
        (columns, rows) == (self.columns, self.rows)
    }

    /// The list of a cell, to change.
    pub fn get_mut(&mut self, cell: Cell) -> Option<&mut Vec<T>> {
        self.slot(cell).map(|i| &mut self.lists[i])
    }
}

/// Clients are split into this many send phases (see `SendPolicy`): each
/// phase's clients know the office as of their own last frame.
pub const PHASES: usize = 2;

/// Avatars by the cell of the tile they stood on when each phase's clients
/// last heard of them.
#[derive(Resource, Debug)]
pub struct CellIndex([DenseCells<Entity>; PHASES]);

impl CellIndex {
    /// An empty index for a map of `width` × `height` tiles.
    pub fn new(width: i32, height: i32, view: &ViewConfig) -> CellIndex {
        CellIndex(std::array::from_fn(|_| {
            DenseCells::new(width, height, view)
        }))
    }

    /// Records an avatar in a cell, as phase `phase` knows it.
    pub fn insert(&mut self, phase: usize, cell: Cell, entity: Entity) {
        self.0[phase].push(cell, entity);
    }

    /// Forgets an avatar in a cell, as phase `phase` knew it.
    pub fn remove(&mut self, phase: usize, cell: Cell, entity: Entity) {
        if let Some(list) = self.0[phase].get_mut(cell)
            && let Some(i) = list.iter().position(|&e| e == entity)
        {
            list.swap_remove(i);
        }
    }

    /// The avatars in a cell, as phase `phase` knows them.
    pub fn get(&self, phase: usize, cell: Cell) -> &[Entity] {
        self.0[phase].get(cell)
    }
}

/// Where an avatar stood at the end of a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Its tile.
    pub tile: (i32, i32),
    /// The tile it was stepping into (its tile when standing).
    pub next: (i32, i32),
}

/// Where each phase's clients last saw an avatar: at the end of the tick
/// of their last frame.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Told(pub [Seen; PHASES]);

impl Told {
    /// Every phase saw it at `seen`.
    pub fn all(seen: Seen) -> Told {
        Told([seen; PHASES])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_view_covers_a_screen_and_a_margin_wherever_the_avatar_stands() {
        let config = ViewConfig::default();
        config.validate().expect("valid");
        let anchor = Cell(5, 5);
        let rect = config.view(anchor);
        assert_eq!((rect.x1 - rect.x0, rect.y1 - rect.y0), (70, 42));
        // Anywhere in the hysteresis band, 20 tiles left/right and 12 up/down are in view.
        for x in 70 - 2..84 + 2 {
            for y in 70 - 2..84 + 2 {
                assert_eq!(config.reanchor(anchor, (x, y)), None);
                assert!(
                    rect.contains((x - 20, y - 12)) && rect.contains((x + 20, y + 12)),
                    "({x}, {y})"
                );
            }
        }
        assert_eq!(config.reanchor(anchor, (86, 75)), Some(Cell(6, 5)));
        assert_eq!(config.reanchor(anchor, (-3, 75)), Some(Cell(-1, 5)));
    }

    #[test]
    fn nearby_cells_cover_the_view_and_its_border() {
        let config = ViewConfig::default();
        let rect = config.view(Cell(0, 0));
        let cells: Vec<Cell> = config.cells_near(&rect).collect();
        assert!(cells.contains(&config.cell_of((rect.x0 - 1, rect.y0 - 1))));
        assert!(cells.contains(&config.cell_of((rect.x1, rect.y1))));
        // The view's 5 × 3 cells and a ring of one cell around them.
        assert_eq!(cells.len(), 7 * 5);
    }

    /// A tile is listed in every cell whose view may see an avatar on it,
    /// and the cells in a view are exactly those overlapping it.
    #[test]
    fn cells_touching_a_tile_cover_every_view_that_sees_it() {
        let config = ViewConfig::default();
        for anchor in [Cell(0, 0), Cell(3, 2), Cell(-1, 4)] {
            let rect = config.view(anchor);
            let inside: Vec<Cell> = config.cells_in(&rect).collect();
            assert_eq!(inside.len(), 5 * 3);
            for x in rect.x0 - 3..rect.x1 + 3 {
                for y in rect.y0 - 3..rect.y1 + 3 {
                    let seen = [-1, 0, 1].iter().any(|&dx| {
                        [-1, 0, 1]
                            .iter()
                            .any(|&dy| rect.sees((x, y), (x + dx, y + dy)))
                    });
                    let listed = config.cells_touching((x, y)).any(|c| inside.contains(&c));
                    assert_eq!(listed, seen, "tile ({x}, {y}) in the view of {anchor:?}");
                }
            }
        }
        assert_eq!(config.cells_touching((20, 20)).count(), 1);
        assert_eq!(config.cells_touching((14, 20)).count(), 2);
        assert_eq!(config.cells_touching((13, 14)).count(), 4);
    }

    #[test]
    fn the_index_forgets_what_it_removes() {
        let mut index = CellIndex::new(16, 16, &ViewConfig::default());
        let (a, b) = (
            Entity::from_raw_u32(1).expect("id"),
            Entity::from_raw_u32(2).expect("id"),
        );
        index.insert(0, Cell(0, 0), a);
        index.insert(0, Cell(0, 0), b);
        index.insert(1, Cell(0, 0), a);
        index.remove(0, Cell(0, 0), a);
        assert_eq!(index.get(0, Cell(0, 0)), &[b]);
        assert_eq!(index.get(1, Cell(0, 0)), &[a], "phases are kept apart");
        index.remove(0, Cell(0, 0), b);
        assert!(index.get(0, Cell(0, 0)).is_empty());
    }
}
