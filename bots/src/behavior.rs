//! What a bot does: wander, commute between places on real paths, idle in
//! groups, or a realistic mix. Each behaviour decides, when asked, which
//! direction to hold next and when to ask again.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use metaoffice_protocol::Direction;
use metaoffice_server::movement::{CollisionGrid, PathFinder, PathQuery};
use rand::Rng;
use rand::rngs::StdRng;

/// The behaviours a bot can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Hold random directions, pause, turn.
    Wander,
    /// Walk along paths between places (desks, meeting rooms, kitchen), stay a while.
    Commute,
    /// Walk to one of a few gathering spots and stand there.
    Idle,
    /// Sends malformed and abusive traffic.
    Chaos,
    /// Never moves.
    Still,
}

/// What the bot should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Hold this direction.
    Hold(Direction),
    /// Release.
    Release,
    /// Nothing new.
    Keep,
}

/// The places bots go: spawn tiles and points of interest of the map.
#[derive(Debug, Clone)]
pub struct Places {
    /// Tiles bots walk to.
    pub targets: Vec<(i32, i32)>,
    /// Where idle bots gather.
    pub gatherings: Vec<(i32, i32)>,
}

/// A behaviour's state.
pub struct Behavior {
    kind: Kind,
    path: VecDeque<(i32, i32)>,
    holding: Option<Direction>,
    dwell_until: Duration,
    stuck_since: Option<(Duration, (i32, i32))>,
    done: bool,
}

/// Four-direction shortest path on the collision grid (ignoring avatars),
/// as tiles to enter: the server's A* search to a tile next to `to`, then
/// the step onto it. Each thread keeps its search state between calls.
pub fn path(
    grid: &CollisionGrid,
    from: (i32, i32),
    to: (i32, i32),
) -> Option<VecDeque<(i32, i32)>> {
    thread_local! {
        static FINDER: RefCell<PathFinder> = RefCell::default();
    }
    let (w, h) = (grid.width(), grid.height());
    if grid.is_tile_blocked(to.0, to.1) || from.0 < 0 || from.1 < 0 || from.0 >= w || from.1 >= h {
        return None;
    }
    if from == to {
        return Some(VecDeque::new());
    }
    let query = PathQuery {
        grid,
        from,
        target: to,
        directions: 4,
        taken: &|_| false,
        budget: (w.max(0) as usize) * (h.max(0) as usize),
    };
    let steps = FINDER.with_borrow_mut(|finder| finder.find(&query)).ok()?;
    let mut out = VecDeque::with_capacity(steps.len() + 1);
    let mut at = from;
    for dir in steps {
        let (dx, dy) = dir.offset();
        at = (at.0 + dx, at.1 + dy);
        out.push_back(at);
    }
    let last = direction_to(at, to)?;
    if grid.blocks_step(to.0, to.1, last) {
        return None;
    }
    out.push_back(to);
    Some(out)
}

fn direction_to(from: (i32, i32), to: (i32, i32)) -> Option<Direction> {
    match (to.0 - from.0, to.1 - from.1) {
        (0, -1) => Some(Direction::Up),
        (0, 1) => Some(Direction::Down),
        (-1, 0) => Some(Direction::Left),
        (1, 0) => Some(Direction::Right),
        _ => None,
    }
}

impl Behavior {
    /// A fresh behaviour.
    pub fn new(kind: Kind) -> Behavior {
        Behavior {
            kind,
            path: VecDeque::new(),
            holding: None,
            dwell_until: Duration::ZERO,
            stuck_since: None,
            done: false,
        }
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Decides what to do at `now` (time since the bot started), standing
    /// at (or heading to) `at`; returns the action and when to ask again.
    pub fn act(
        &mut self,
        now: Duration,
        at: (i32, i32),
        grid: Option<&CollisionGrid>,
        places: &Places,
        rng: &mut StdRng,
    ) -> (Action, Duration) {
        match self.kind {
            Kind::Still => (Action::Keep, Duration::from_secs(3600)),
            Kind::Wander | Kind::Chaos => self.wander(rng),
            Kind::Commute | Kind::Idle => match grid {
                Some(grid) => self.commute(now, at, grid, places, rng),
                None => self.wander(rng),
            },
        }
    }

    fn wander(&mut self, rng: &mut StdRng) -> (Action, Duration) {
        if self.holding.is_some() || rng.random_bool(0.3) {
            self.holding = None;
            (
                Action::Release,
                Duration::from_millis(rng.random_range(500..3000)),
            )
        } else {
            let dir = Direction::ALL[rng.random_range(0..4)];
            self.holding = Some(dir);
            (
                Action::Hold(dir),
                Duration::from_millis(rng.random_range(300..2000)),
            )
        }
    }

    fn commute(
        &mut self,
        now: Duration,
        at: (i32, i32),
        grid: &CollisionGrid,
        places: &Places,
        rng: &mut StdRng,
    ) -> (Action, Duration) {
        let poll = Duration::from_millis(60);
        if self.done || now < self.dwell_until {
            return (Action::Keep, poll.max(self.dwell_until.saturating_sub(now)));
        }
        // Off the planned path (overshot a corner, pushed aside): plan again.
        while self.path.front() == Some(&at) {
            self.path.pop_front();
        }
        let on_path = self
            .path
            .front()
            .is_some_and(|&next| direction_to(at, next).is_some());
        if !on_path {
            self.path.clear();
        }
        if self.path.is_empty() {
            if self.holding.take().is_some() {
                // Arrived: stay a while (idle bots stay for good).
                if self.kind == Kind::Idle {
                    self.done = true;
                } else {
                    self.dwell_until = now + Duration::from_millis(rng.random_range(2_000..10_000));
                }
                return (Action::Release, poll);
            }
            let pool = if self.kind == Kind::Idle {
                &places.gatherings
            } else {
                &places.targets
            };
            if pool.is_empty() {
                return self.wander(rng);
            }
            let target = pool[rng.random_range(0..pool.len())];
            match path(grid, at, target) {
                Some(p) if !p.is_empty() => self.path = p,
                _ => return (Action::Keep, Duration::from_millis(500)),
            }
        }
        let Some(dir) = self.path.front().and_then(|&next| direction_to(at, next)) else {
            return (Action::Keep, poll);
        };
        // Standing still on the same tile for a while: someone is in the way.
        match self.stuck_since {
            Some((since, tile))
                if tile == at && now.saturating_sub(since) > Duration::from_secs(2) =>
            {
                self.path.clear();
                self.stuck_since = None;
                let side = Direction::ALL[rng.random_range(0..4)];
                self.holding = Some(side);
                return (Action::Hold(side), Duration::from_millis(300));
            }
            Some((_, tile)) if tile == at => {}
            _ => self.stuck_since = Some((now, at)),
        }
        if self.holding == Some(dir) {
            (Action::Keep, poll)
        } else {
            self.holding = Some(dir);
            (Action::Hold(dir), poll)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metaoffice_server::movement::TileCollision;

    /// A path goes around a wall, one tile at a time, and ends on the target.
    #[test]
    fn paths_go_around_walls_onto_the_target() {
        let mut grid = CollisionGrid::open(7, 5);
        for y in 0..4 {
            grid.set(
                3,
                y,
                TileCollision {
                    blocked: true,
                    ..Default::default()
                },
            );
        }
        let tiles = path(&grid, (1, 1), (5, 1)).expect("a way round");
        assert_eq!(tiles.back(), Some(&(5, 1)));
        assert!(tiles.contains(&(3, 4)), "through the gap: {tiles:?}");
        let mut at = (1, 1);
        for &next in &tiles {
            let dir = direction_to(at, next).expect("one step at a time");
            assert!(!grid.blocks_step(next.0, next.1, dir));
            at = next;
        }
        // Shortest: 4 across and 3 down and 3 up again.
        assert_eq!(tiles.len(), 10);
        assert_eq!(path(&grid, (1, 1), (3, 0)), None, "a wall is no target");
        assert_eq!(path(&grid, (2, 2), (2, 2)), Some(VecDeque::new()));
    }
}
