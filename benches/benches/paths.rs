//! Path searches for walks to a colleague: A* on the generated office map
//! of a 5,000-person office (317×317 tiles, rooms and desks), between random
//! free tiles, with nobody in the way and with a crowd holding tiles near
//! the start. One search runs inside a tick, so its cost is tick time.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use metaoffice_benches::{office_map, side_for};
use metaoffice_server::map::{CollisionRule, load_map};
use metaoffice_server::movement::{CollisionGrid, PathFinder, PathQuery};

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn free_tile(grid: &CollisionGrid, seed: &mut u64) -> (i32, i32) {
    loop {
        let x = (next(seed) % grid.width() as u64) as i32;
        let y = (next(seed) % grid.height() as u64) as i32;
        if !grid.is_tile_blocked(x, y) {
            return (x, y);
        }
    }
}

fn searches(c: &mut Criterion) {
    let side = side_for(5_000, 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("paths.tmj");
    std::fs::write(
        &path,
        serde_json::to_vec(&office_map(side, side)).expect("json"),
    )
    .expect("write map");
    let map = load_map(&path, &CollisionRule::office_default(), None).expect("map");
    let grid = map.grid;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let pairs: Vec<_> = (0..64)
        .map(|_| (free_tile(&grid, &mut seed), free_tile(&grid, &mut seed)))
        .collect();
    let mut finder = PathFinder::default();
    let mut found = 0usize;
    let mut steps = 0usize;
    for &(from, target) in &pairs {
        if let Ok(path) = finder.find(&PathQuery {
            grid: &grid,
            from,
            target,
            directions: 4,
            taken: &|_| false,
            budget: 60_000,
        }) {
            found += 1;
            steps += path.len();
        }
    }
    println!(
        "{found} of {} random pairs on {side}x{side} tiles have a path within the budget; {:.0} steps on average",
        pairs.len(),
        steps as f64 / found.max(1) as f64
    );
    let mut group = c.benchmark_group("walk_to_colleague");
    for (name, crowd) in [("empty", 0u64), ("crowded", 3)] {
        group.bench_with_input(BenchmarkId::new("search", name), &crowd, |b, &crowd| {
            let mut i = 0;
            b.iter(|| {
                let (from, target) = pairs[i % pairs.len()];
                i += 1;
                // Crowded: one tile in four held by someone within the six
                // tiles around the start (the server counts only those).
                let taken = |(x, y): (i32, i32)| {
                    crowd > 0
                        && (x - from.0).abs().max((y - from.1).abs()) <= 6
                        && (x * 31 + y * 17).rem_euclid(crowd as i32 + 1) == 0
                        && (x, y) != from
                };
                finder.find(&PathQuery {
                    grid: &grid,
                    from,
                    target,
                    directions: 4,
                    taken: &taken,
                    budget: 60_000,
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, searches);
criterion_main!(benches);
