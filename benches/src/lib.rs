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

/// An office full of clients without sockets: the world, and each client's
/// outbox and input slot, for benchmarks of whole ticks.
pub struct CrowdedOffice {
    /// The office's world.
    pub sim: metaoffice_server::office::sim::OfficeSim,
    /// Each client's outbox and held direction.
    pub seats: Vec<(
        metaoffice_server::office::outbox::Outbox,
        metaoffice_server::office::input::InputSlot,
    )>,
    seed: u64,
}

impl CrowdedOffice {
    /// `clients` people joined into a generated office of about 20 tiles each.
    pub fn new(clients: usize, config: &metaoffice_server::Config) -> CrowdedOffice {
        use metaoffice_server::map::{CollisionRule, load_map};
        use metaoffice_server::office::network::{Newcomer, OfficeCommand};
        let side = side_for(clients, 20);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bench.tmj");
        std::fs::write(
            &path,
            serde_json::to_vec(&office_map(side, side)).expect("json"),
        )
        .expect("write map");
        let map = load_map(&path, &CollisionRule::office_default(), None).expect("map");
        let (mut sim, handle) =
            metaoffice_server::office::build_office("bench", &map, config, Default::default());
        let mut seats = Vec::with_capacity(clients);
        let mut answers = Vec::with_capacity(clients);
        for i in 0..clients {
            let outbox = metaoffice_server::office::outbox::Outbox::new(1 << 20);
            let input = metaoffice_server::office::input::InputSlot::default();
            let (reply, answer) = tokio::sync::oneshot::channel();
            let join = OfficeCommand::Join {
                newcomer: Newcomer::dev(format!("bot-{i}"), outbox.clone(), input.clone()),
                reply,
            };
            handle.inbox.try_send(join).expect("room in the inbox");
            if i % 500 == 499 {
                sim.tick();
            }
            seats.push((outbox, input));
            answers.push(answer);
        }
        sim.tick();
        let joined = answers
            .iter_mut()
            .map(|a| matches!(a.try_recv(), Ok(Ok(_))))
            .filter(|&ok| ok)
            .count();
        assert_eq!(joined, clients, "everyone joined");
        CrowdedOffice {
            sim,
            seats,
            seed: 0x9e37_79b9,
        }
    }

    /// Every client holds a new pseudo-random direction, or releases (one in five).
    pub fn wander(&mut self) {
        for (_, input) in &self.seats {
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            match self.seed % 5 {
                0 => input.release(),
                d => input.hold(metaoffice_protocol::Direction::ALL[(d - 1) as usize]),
            }
        }
    }

    /// Empties every outbox, as writer tasks would.
    pub fn drain(&self) {
        for (outbox, _) in &self.seats {
            while outbox.try_next().is_some() {}
        }
    }
}
