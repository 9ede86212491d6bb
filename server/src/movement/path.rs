//! Paths for walking to a colleague: A* on the collision grid, by the same
//! step rule as [`super::Walker`] (a step may enter a tile unless the tile
//! blocks a step from that side), in 4 or 8 directions, each step costing
//! one (grid-engine's diagonal steps take as long as straight ones).
//!
//! The search works in scratch arrays kept between searches (stamped with a
//! generation instead of cleared) and stops after a budget of expanded
//! tiles, so one search costs a bounded, small part of a tick.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use metaoffice_protocol::Direction;

use super::CollisionGrid;

/// Why no path was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Every tile next to the target is out of reach.
    Unreachable,
    /// The search gave up after its budget of tiles.
    TooFar,
}

/// What to search for.
pub struct PathQuery<'a> {
    /// The office's tiles.
    pub grid: &'a CollisionGrid,
    /// Where the walk starts.
    pub from: (i32, i32),
    /// The tile to end next to.
    pub target: (i32, i32),
    /// 4 or 8.
    pub directions: u8,
    /// Tiles that are taken besides the grid's walls (other avatars).
    pub taken: &'a dyn Fn((i32, i32)) -> bool,
    /// Most tiles to expand.
    pub budget: usize,
}

impl PathQuery<'_> {
    /// Distance in steps ignoring walls.
    fn distance(&self, (x, y): (i32, i32), (tx, ty): (i32, i32)) -> u32 {
        let (dx, dy) = ((x - tx).unsigned_abs(), (y - ty).unsigned_abs());
        if self.directions == 8 {
            dx.max(dy)
        } else {
            dx + dy
        }
    }

    /// Whether `tile` is a place to stop: next to the target, not on it.
    pub fn is_goal(&self, tile: (i32, i32)) -> bool {
        self.distance(tile, self.target) == 1
    }

    fn steps(&self) -> &'static [Direction] {
        if self.directions == 8 {
            &Direction::ALL
        } else {
            &Direction::ALL[..4]
        }
    }
}

/// Reusable search state for one office's grid.
#[derive(Debug, Default)]
pub struct PathFinder {
    width: i32,
    height: i32,
    generation: u32,
    /// Per tile: the generation in which `cost` and `came` were written.
    stamp: Vec<u32>,
    cost: Vec<u32>,
    /// Per tile: the direction of the step that reached it.
    came: Vec<u8>,
    open: BinaryHeap<Reverse<(u32, u32, u32)>>,
}

impl PathFinder {
    fn reset(&mut self, grid: &CollisionGrid) {
        let (w, h) = (grid.width(), grid.height());
        if (w, h) != (self.width, self.height) || self.generation == u32::MAX {
            let n = (w.max(0) as usize) * (h.max(0) as usize);
            self.width = w;
            self.height = h;
            self.stamp = vec![0; n];
            self.cost = vec![0; n];
            self.came = vec![0; n];
            self.generation = 0;
        }
        self.generation += 1;
        self.open.clear();
    }

    fn index(&self, (x, y): (i32, i32)) -> Option<usize> {
        (x >= 0 && y >= 0 && x < self.width && y < self.height)
            .then(|| (y * self.width + x) as usize)
    }

    fn tile(&self, index: usize) -> (i32, i32) {
        (index as i32 % self.width, index as i32 / self.width)
    }

    /// The steps from `query.from` to a free tile next to `query.target`,
    /// shortest first; empty when the walk starts there already.
    pub fn find(&mut self, query: &PathQuery) -> Result<Vec<Direction>, PathError> {
        if query.is_goal(query.from) {
            return Ok(Vec::new());
        }
        self.reset(query.grid);
        let Some(start) = self.index(query.from) else {
            return Err(PathError::Unreachable);
        };
        let generation = self.generation;
        self.stamp[start] = generation;
        self.cost[start] = 0;
        self.came[start] = u8::MAX;
        let h = query.distance(query.from, query.target).saturating_sub(1);
        self.open.push(Reverse((h, h, start as u32)));
        let mut expanded = 0usize;
        while let Some(Reverse((_, _, at))) = self.open.pop() {
            let at = at as usize;
            let tile = self.tile(at);
            let cost = self.cost[at];
            if query.is_goal(tile) {
                return Ok(self.trace(at));
            }
            expanded += 1;
            if expanded > query.budget {
                return Err(PathError::TooFar);
            }
            for &dir in query.steps() {
                let (dx, dy) = dir.offset();
                let next = (tile.0 + dx, tile.1 + dy);
                let Some(n) = self.index(next) else { continue };
                if query.grid.blocks_step(next.0, next.1, dir) || (query.taken)(next) {
                    continue;
                }
                let through = cost + 1;
                if self.stamp[n] == generation && self.cost[n] <= through {
                    continue;
                }
                self.stamp[n] = generation;
                self.cost[n] = through;
                self.came[n] = dir.code();
                let h = query.distance(next, query.target).saturating_sub(1);
                self.open.push(Reverse((through + h, h, n as u32)));
            }
        }
        Err(PathError::Unreachable)
    }

    /// The directions that led from the start to `end`.
    fn trace(&self, end: usize) -> Vec<Direction> {
        let mut steps = Vec::new();
        let mut at = end;
        while let Some(dir) = Direction::from_code(self.came[at]) {
            steps.push(dir);
            let (dx, dy) = dir.offset();
            let (x, y) = self.tile(at);
            match self.index((x - dx, y - dy)) {
                Some(back) => at = back,
                None => break,
            }
        }
        steps.reverse();
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&str]) -> CollisionGrid {
        let rows: Vec<Vec<u8>> = rows
            .iter()
            .map(|r| r.bytes().map(|b| u8::from(b == b'#')).collect())
            .collect();
        CollisionGrid::from_rows(&rows)
    }

    fn walk(from: (i32, i32), steps: &[Direction]) -> Vec<(i32, i32)> {
        let mut at = from;
        let mut tiles = vec![at];
        for dir in steps {
            let (dx, dy) = dir.offset();
            at = (at.0 + dx, at.1 + dy);
            tiles.push(at);
        }
        tiles
    }

    fn find(
        g: &CollisionGrid,
        from: (i32, i32),
        target: (i32, i32),
        directions: u8,
        taken: &dyn Fn((i32, i32)) -> bool,
    ) -> Result<Vec<Direction>, PathError> {
        PathFinder::default().find(&PathQuery {
            grid: g,
            from,
            target,
            directions,
            taken,
            budget: 10_000,
        })
    }

    #[test]
    fn goes_around_a_wall_by_a_shortest_path_and_stops_next_to_the_target() {
        let g = grid(&[
            ".......", //
            "...#...", //
            "...#...", //
            "...#...", //
            ".......", //
        ]);
        let steps = find(&g, (1, 2), (5, 2), 4, &|_| false).expect("a path");
        let tiles = walk((1, 2), &steps);
        let end = *tiles.last().expect("the walk has a start");
        assert_eq!((end.0 - 5).abs() + (end.1 - 2).abs(), 1, "{tiles:?}");
        assert!(tiles.iter().all(|&(x, y)| !g.is_tile_blocked(x, y)));
        // Around the wall: 2 up (or down), then across to a tile beside the
        // target: 3 across and 2 back, or 4 across and 1 back.
        assert_eq!(steps.len(), 7, "{tiles:?}");
        // Eight directions cut corners: diagonal steps cost one.
        let diagonal = find(&g, (1, 2), (5, 2), 8, &|_| false).expect("a path");
        assert!(diagonal.len() < steps.len(), "{diagonal:?}");
    }

    #[test]
    fn taken_tiles_and_directional_walls_are_respected() {
        let mut g = grid(&["....", "....", "...."]);
        // A tile that can't be entered from the left.
        g.set(
            2,
            1,
            crate::movement::TileCollision {
                blocked: false,
                directions: {
                    let mut d = [false; 8];
                    d[usize::from(Direction::Left.code())] = true;
                    d
                },
            },
        );
        let taken = |t: (i32, i32)| t == (1, 0);
        let steps = find(&g, (0, 1), (3, 1), 4, &taken).expect("a path");
        let tiles = walk((0, 1), &steps);
        assert!(!tiles.contains(&(1, 0)), "{tiles:?}");
        for pair in tiles.windows(2) {
            assert!(
                !(pair[1] == (2, 1) && pair[0] == (1, 1)),
                "entered (2,1) from the left: {tiles:?}"
            );
        }
    }

    #[test]
    fn enclosed_targets_are_unreachable_and_the_budget_holds() {
        let g = grid(&[
            ".....", //
            ".###.", //
            ".#.#.", //
            ".###.", //
            ".....", //
        ]);
        assert_eq!(
            find(&g, (0, 0), (2, 2), 4, &|_| false),
            Err(PathError::Unreachable)
        );
        let open = CollisionGrid::open(200, 200);
        let far = PathFinder::default().find(&PathQuery {
            grid: &open,
            from: (0, 0),
            target: (199, 199),
            directions: 4,
            taken: &|_| false,
            budget: 50,
        });
        // A straight-line heuristic walks straight there: give it a wall to
        // search around instead.
        assert!(far.is_ok() || far == Err(PathError::TooFar));
        let mut walled = CollisionGrid::open(60, 60);
        for y in 0..59 {
            walled.set(
                30,
                y,
                crate::movement::TileCollision {
                    blocked: true,
                    ..Default::default()
                },
            );
        }
        let around = PathFinder::default().find(&PathQuery {
            grid: &walled,
            from: (29, 0),
            target: (35, 0),
            directions: 4,
            taken: &|_| false,
            budget: 100,
        });
        assert_eq!(around, Err(PathError::TooFar));
        // The same finder answers a second search correctly (stamps, not clears).
        let mut finder = PathFinder::default();
        let q = |from| PathQuery {
            grid: &walled,
            from,
            target: (35, 0),
            directions: 4,
            taken: &|_| false,
            budget: 100_000,
        };
        let first = finder.find(&q((29, 0))).expect("around the wall");
        let second = finder.find(&q((31, 0))).expect("same side");
        assert_eq!(second.len(), 3);
        assert!(first.len() > 60);
    }

    #[test]
    fn a_walk_that_starts_next_to_the_target_is_empty() {
        let g = CollisionGrid::open(5, 5);
        assert_eq!(find(&g, (2, 1), (2, 2), 4, &|_| false), Ok(vec![]));
        assert_eq!(find(&g, (1, 1), (2, 2), 8, &|_| false), Ok(vec![]));
        assert_ne!(find(&g, (1, 1), (2, 2), 4, &|_| false), Ok(vec![]));
    }
}
