//! Shared helpers of the benchmarks: generated office maps of any size.

use serde_json::{Value, json};

/// Tile GIDs of the generated tileset.
const FLOOR: u32 = 1;
const WALL: u32 = 2;
const DESK: u32 = 3;
const SPAWN: u32 = 4;

/// A Tiled JSON office of `width` × `height` tiles: an outer wall, rooms of
/// 24 × 16 tiles with wide doorways, rows of desks with aisles, and spawn
/// tiles spread over the whole floor (every 5th tile of every 4th row).
pub fn office_map(width: u32, height: u32) -> Value {
    let (w, h) = (width as usize, height as usize);
    let mut floor = vec![FLOOR; w * h];
    let mut walls = vec![0u32; w * h];
    let mut start = vec![0u32; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1;
            // Room walls every 24 columns and 16 rows, open for 4 tiles in every 8.
            let room_wall = (x % 24 == 0 && y % 8 >= 4) || (y % 16 == 0 && x % 8 >= 4);
            // Desks: 2 × 3 blocks inside each room, with two-tile aisles.
            let desk =
                (x % 24) % 6 >= 2 && (x % 24) % 6 <= 3 && (y % 16) % 5 >= 2 && (y % 16) % 5 <= 4;
            if edge {
                floor[i] = 0;
                walls[i] = WALL;
            } else if room_wall {
                walls[i] = WALL;
            } else if desk {
                walls[i] = DESK;
            } else if x % 5 == 1 && y % 4 == 1 {
                start[i] = SPAWN;
            }
        }
    }
    let layer = |id: u32, name: &str, data: &[u32]| {
        json!({"id": id, "name": name, "type": "tilelayer", "x": 0, "y": 0, "width": width, "height": height,
               "opacity": 1, "visible": name != "start", "data": data})
    };
    json!({
        "type": "map", "version": "1.10", "tiledversion": "1.10.2", "orientation": "orthogonal",
        "renderorder": "right-down", "infinite": false, "width": width, "height": height,
        "tilewidth": 32, "tileheight": 32, "nextlayerid": 4, "nextobjectid": 1,
        "layers": [layer(1, "floor", &floor), layer(2, "walls", &walls), layer(3, "start", &start)],
        "tilesets": [{
            "firstgid": 1, "name": "bench", "tilecount": 4, "columns": 4, "tilewidth": 32, "tileheight": 32,
            "image": "bench.png", "imagewidth": 128, "imageheight": 32, "margin": 0, "spacing": 0,
            "tiles": [
                {"id": WALL - 1, "properties": [{"name": "ge_collide", "type": "bool", "value": true}]},
                {"id": DESK - 1, "properties": [{"name": "ge_collide", "type": "bool", "value": true}]}
            ]
        }]
    })
}

/// The side of a square office with about `tiles_per_person` tiles for each of `people`.
pub fn side_for(people: usize, tiles_per_person: usize) -> u32 {
    (((people * tiles_per_person) as f64).sqrt().ceil() as u32).max(32)
}
