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
    points: Vec<Point>,
    parent: Vec<u32>,
}

/// An avatar as the pair test sees it: its tile, its group last tick, its index.
#[derive(Debug, Clone, Copy, Default)]
struct Point {
    x: i32,
    y: i32,
    prev: u64,
    k: u32,
}

/// Joins `me` with each of `others` it is linked to (`radii`: join and leave, squared).
fn link(others: &[Point], parent: &mut [u32], me: Point, (join2, leave2): (f64, f64)) {
    for other in others {
        let (dx, dy) = (f64::from(other.x - me.x), f64::from(other.y - me.y));
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

/// Proximity groups of the avatars in open places: member ids, ascending.
pub(super) fn proximity_components(
    s: &mut Scratch,
    member_of: &FxHashMap<u32, u64>,
    config: &ConversationsConfig,
    avatars: &[Standing],
) -> Vec<Vec<u32>> {
    s.open.clear();
    s.open
        .extend((0..avatars.len() as u32).filter(|&i| avatars[i as usize].place == Place::Open));
    if s.open.len() < 2 {
        return Vec::new();
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
    let mut fill = s.starts.clone();
    for k in 0..s.open.len() {
        let c = s.cell_of[k] as usize;
        let (x, y) = tile(k);
        s.points[fill[c] as usize] = Point {
            x,
            y,
            prev: s.prev[k],
            k: k as u32,
        };
        fill[c] += 1;
    }
    s.parent.clear();
    s.parent.extend(0..s.open.len() as u32);
    let radii = (config.join_radius.powi(2), config.leave_radius.powi(2));
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
    let mut sizes = vec![0u32; n];
    for k in 0..n {
        let root = find(&mut s.parent, k as u32);
        s.cell_of[k] = root;
        sizes[root as usize] += 1;
    }
    // Sets in the order of their first avatar (a root is its set's lowest index).
    let mut sets: Vec<Vec<u32>> = Vec::new();
    let mut set_of = vec![u32::MAX; n];
    for k in 0..n {
        let root = s.cell_of[k] as usize;
        if sizes[root] < 2 {
            continue;
        }
        if set_of[root] == u32::MAX {
            set_of[root] = sets.len() as u32;
            sets.push(Vec::with_capacity(sizes[root] as usize));
        }
        sets[set_of[root] as usize].push(k as u32);
    }
    let mut components = Vec::with_capacity(sets.len());
    for ks in sets {
        let mut members: Vec<(bool, u32)> = ks
            .iter()
            .map(|&k| (false, avatars[s.open[k as usize] as usize].id))
            .collect();
        if members.len() > config.max_group_size {
            // Those of the group most members came from stay first.
            let mut prevs: Vec<u64> = ks
                .iter()
                .map(|&k| s.prev[k as usize])
                .filter(|&p| p != 0)
                .collect();
            prevs.sort_unstable();
            let main = prevs
                .chunk_by(|a, b| a == b)
                .max_by_key(|run| (run.len(), std::cmp::Reverse(run[0])))
                .map_or(0, |run| run[0]);
            for (slot, &k) in members.iter_mut().zip(&ks) {
                slot.0 = main == 0 || s.prev[k as usize] != main;
            }
            members.sort_unstable();
            members.truncate(config.max_group_size);
        }
        let mut ids: Vec<u32> = members.into_iter().map(|(_, id)| id).collect();
        ids.sort_unstable();
        components.push(ids);
    }
    components
}
