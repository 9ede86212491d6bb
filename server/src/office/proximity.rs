//! Proximity groups: which avatars in open places stand within reach of
//! one another. Avatars are bucketed into cells as wide as `leave_radius`
//! (a counting sort into a dense grid over the avatars' bounding box, with
//! wider cells when they are spread thin), and only the 3×3 cells around
//! each avatar are looked at, never all pairs; linked pairs are joined with
//! union-find. The rules are in [`super::groups`].

use rustc_hash::FxHashMap;

use super::groups::{ConversationsConfig, Place, Standing};

/// Buffers kept between ticks.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    prev: Vec<u64>,
    open: Vec<u32>,
    cell_of: Vec<u32>,
    starts: Vec<u32>,
    fill: Vec<u32>,
    points: Vec<Point>,
    parent: Vec<u32>,
    sizes: Vec<u32>,
    set_of: Vec<u32>,
    /// The groups found, one after another: see [`Components`].
    members: Vec<(u32, u64)>,
    bounds: Vec<u32>,
}

/// Proximity groups as [`proximity_components`] leaves them in the
/// scratch space: no allocation per group.
pub(super) struct Components<'a> {
    /// `(avatar id, its group last tick or 0)`, each group's ascending by id.
    members: &'a [(u32, u64)],
    /// Where each group starts in `members`, and where the last ends.
    bounds: &'a [u32],
}

impl Components<'_> {
    /// How many groups.
    pub(super) fn len(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    /// Group `i`: its members with their groups last tick.
    pub(super) fn get(&self, i: usize) -> &[(u32, u64)] {
        &self.members[self.bounds[i] as usize..self.bounds[i + 1] as usize]
    }
}

/// An avatar as the pair test sees it: its tile, its group last tick, its index.
#[derive(Debug, Clone, Copy, Default)]
struct Point {
    x: i32,
    y: i32,
    prev: u64,
    k: u32,
}

/// Joins `me` with each of `others` it is linked to (`radii`: join and
/// leave, squared and rounded down: squared distances between tiles are
/// whole numbers, so the comparisons are exact in integers).
fn link(others: &[Point], parent: &mut [u32], me: Point, (join2, leave2): (i64, i64)) {
    for other in others {
        let (dx, dy) = (
            i64::from(other.x) - i64::from(me.x),
            i64::from(other.y) - i64::from(me.y),
        );
        let d2 = dx * dx + dy * dy;
        if d2 <= join2 || (d2 <= leave2 && me.prev != 0 && me.prev == other.prev) {
            let (a, b) = (find(parent, me.k), find(parent, other.k));
            if a != b {
                parent[a.max(b) as usize] = a.min(b);
            }
        }
    }
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let up = parent[parent[i as usize] as usize];
        parent[i as usize] = up;
        i = up;
    }
    i
}

/// Proximity groups of the avatars in open places, in the order of their
/// first avatar in `avatars`; each group's members ascending by id.
pub(super) fn proximity_components<'s>(
    s: &'s mut Scratch,
    member_of: &FxHashMap<u32, u64>,
    config: &ConversationsConfig,
    avatars: &[Standing],
) -> Components<'s> {
    s.members.clear();
    s.bounds.clear();
    s.open.clear();
    s.open
        .extend((0..avatars.len() as u32).filter(|&i| avatars[i as usize].place == Place::Open));
    if s.open.len() < 2 {
        return Components {
            members: &s.members,
            bounds: &s.bounds,
        };
    }
    s.prev.clear();
    s.prev.extend(
        s.open
            .iter()
            .map(|&i| member_of.get(&avatars[i as usize].id).copied().unwrap_or(0)),
    );
    let tile = |k: usize| avatars[s.open[k] as usize].tile;
    let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
    for k in 0..s.open.len() {
        let (x, y) = tile(k);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    // Cells at least as wide as the leave radius; wider when the
    // avatars are spread so far that the grid would be mostly empty.
    let mut size = config.leave_radius.ceil() as i64;
    let (span_x, span_y) = (i64::from(x1) - i64::from(x0), i64::from(y1) - i64::from(y0));
    let cap = 4 * s.open.len() as i64 + 1024;
    while (span_x / size + 1) * (span_y / size + 1) > cap {
        size *= 2;
    }
    let (w, h) = (span_x / size + 1, span_y / size + 1);
    let cell = |(x, y): (i32, i32)| -> (i64, i64) {
        (
            (i64::from(x) - i64::from(x0)) / size,
            (i64::from(y) - i64::from(y0)) / size,
        )
    };
    s.starts.clear();
    s.starts.resize((w * h + 1) as usize, 0);
    s.cell_of.clear();
    for k in 0..s.open.len() {
        let (cx, cy) = cell(tile(k));
        let c = (cy * w + cx) as u32;
        s.cell_of.push(c);
        s.starts[c as usize + 1] += 1;
    }
    for c in 1..s.starts.len() {
        s.starts[c] += s.starts[c - 1];
    }
    // The avatars in cell order, with what the pair test needs, contiguous.
    s.points.clear();
    s.points.resize(s.open.len(), Point::default());
    s.fill.clear();
    s.fill.extend_from_slice(&s.starts);
    for k in 0..s.open.len() {
        let c = s.cell_of[k] as usize;
        let (x, y) = tile(k);
        s.points[s.fill[c] as usize] = Point {
            x,
            y,
            prev: s.prev[k],
            k: k as u32,
        };
        s.fill[c] += 1;
    }
    s.parent.clear();
    s.parent.extend(0..s.open.len() as u32);
    let radii = (
        config.join_radius.powi(2).floor() as i64,
        config.leave_radius.powi(2).floor() as i64,
    );
    // Each pair once: later points of the same cell, then the cells right,
    // below-left, below and below-right.
    for cy in 0..h {
        for cx in 0..w {
            let c = (cy * w + cx) as usize;
            let (from, to) = (s.starts[c] as usize, s.starts[c + 1] as usize);
            for p in from..to {
                let me = s.points[p];
                link(&s.points[p + 1..to], &mut s.parent, me, radii);
                for (dx, dy) in [(1, 0), (-1, 1), (0, 1), (1, 1)] {
                    let (nx, ny) = (cx + dx, cy + dy);
                    if nx < 0 || nx >= w || ny >= h {
                        continue;
                    }
                    let d = (ny * w + nx) as usize;
                    let range = s.starts[d] as usize..s.starts[d + 1] as usize;
                    link(&s.points[range], &mut s.parent, me, radii);
                }
            }
        }
    }
    // Roots, and the size of each root's set; only sets of two or more matter.
    let n = s.open.len();
    s.sizes.clear();
    s.sizes.resize(n, 0);
    for k in 0..n {
        let root = find(&mut s.parent, k as u32);
        s.cell_of[k] = root;
        s.sizes[root as usize] += 1;
    }
    // Sets in the order of their first avatar (a root is its set's lowest
    // index), laid out one after another: offsets first, then members.
    s.set_of.clear();
    s.set_of.resize(n, u32::MAX);
    s.bounds.push(0);
    for k in 0..n {
        let root = s.cell_of[k] as usize;
        if s.sizes[root] < 2 || s.set_of[root] != u32::MAX {
            continue;
        }
        s.set_of[root] = (s.bounds.len() - 1) as u32;
        let end = s.bounds[s.bounds.len() - 1] + s.sizes[root];
        s.bounds.push(end);
    }
    let total = s.bounds[s.bounds.len() - 1] as usize;
    s.members.clear();
    s.members.resize(total, (0, 0));
    s.fill.clear();
    s.fill.extend_from_slice(&s.bounds);
    for k in 0..n {
        let root = s.cell_of[k] as usize;
        let set = s.set_of[root];
        if set == u32::MAX {
            continue;
        }
        let at = &mut s.fill[set as usize];
        s.members[*at as usize] = (avatars[s.open[k] as usize].id, s.prev[k]);
        *at += 1;
    }
    // Cap the groups that are too large, then order each group by id.
    let mut write = 0usize;
    for set in 0..s.bounds.len() - 1 {
        let (from, to) = (s.bounds[set] as usize, s.bounds[set + 1] as usize);
        s.bounds[set] = write as u32;
        if to - from > config.max_group_size {
            // Those of the group most members came from stay first.
            let mut prevs: Vec<u64> = s.members[from..to]
                .iter()
                .map(|m| m.1)
                .filter(|&p| p != 0)
                .collect();
            prevs.sort_unstable();
            let main = prevs
                .chunk_by(|a, b| a == b)
                .max_by_key(|run| (run.len(), std::cmp::Reverse(run[0])))
                .map_or(0, |run| run[0]);
            s.members[from..to].sort_unstable_by_key(|&(id, prev)| (main == 0 || prev != main, id));
            let keep = config.max_group_size;
            s.members.copy_within(from..from + keep, write);
            s.members[write..write + keep].sort_unstable_by_key(|m| m.0);
            write += keep;
        } else {
            s.members.copy_within(from..to, write);
            s.members[write..write + (to - from)].sort_unstable_by_key(|m| m.0);
            write += to - from;
        }
    }
    let sets = s.bounds.len() - 1;
    s.bounds[sets] = write as u32;
    s.members.truncate(write);
    Components {
        members: &s.members,
        bounds: &s.bounds,
    }
}
