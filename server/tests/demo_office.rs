//! The demo office that `cargo run --release` serves.

use std::path::Path;

use metaoffice_server::map::{CollisionRule, load_map};

#[test]
fn the_demo_office_loads_with_spawns_walls_and_furniture() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../maps/demo.tmj");
    let root = path.parent().map(Path::to_path_buf);
    let map = load_map(&path, &CollisionRule::office_default(), root.as_deref())
        .expect("the demo office loads");
    assert!(
        map.width >= 60 && map.height >= 40,
        "{}×{}",
        map.width,
        map.height
    );
    assert!(map.spawns.len() >= 12);
    for &(x, y) in &map.spawns {
        assert!(!map.grid.is_tile_blocked(x, y), "spawn ({x}, {y}) is free");
    }
    let walkable = map.grid.walkable_tiles();
    let total = (map.width * map.height) as usize;
    assert!(
        walkable > total / 4 && walkable < total,
        "walls and furniture block: {walkable} of {total} free"
    );
    // Every free tile can be reached from the first spawn by 4-directional steps.
    let (w, h) = (map.grid.width(), map.grid.height());
    let mut seen = vec![false; total];
    let mut queue = std::collections::VecDeque::from([map.spawns[0]]);
    seen[(map.spawns[0].1 * w + map.spawns[0].0) as usize] = true;
    let mut reached = 0;
    while let Some((x, y)) = queue.pop_front() {
        reached += 1;
        for (dx, dy) in [(0, 1), (0, -1), (1, 0), (-1, 0)] {
            let (nx, ny) = (x + dx, y + dy);
            if nx >= 0
                && ny >= 0
                && nx < w
                && ny < h
                && !map.grid.is_tile_blocked(nx, ny)
                && !seen[(ny * w + nx) as usize]
            {
                seen[(ny * w + nx) as usize] = true;
                queue.push_back((nx, ny));
            }
        }
    }
    assert_eq!(reached, walkable, "every free tile is reachable");
}
