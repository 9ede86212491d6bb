//! Real-world maps from `../shared/maps/real` load with the right
//! collisions: the three grid-engine maps are compared tile by tile with
//! grid-engine 2.52.1's own `isTileBlocked`, run under Node.js; for the
//! WorkAdventure and SkyOffice maps (which grid-engine's headless
//! `TiledTilemap` cannot read) facts read from the files are checked. The
//! demo office loads with its zones.

use std::path::{Path, PathBuf};
use std::process::Command;

use metaoffice_server::map::{CollisionRule, OfficeMap, ZoneKind, load_map};
use serde_json::Value;

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if dir.join("maps/real").is_dir() && dir.join("conformance/compare.py").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "../shared/maps/real is missing, and CI=true"
    );
    eprintln!("skipping: ../shared is not beside the project");
    None
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read map")).expect("map json")
}

fn load(path: &Path, rule: &CollisionRule) -> OfficeMap {
    load_map(path, rule, None).unwrap_or_else(|e| panic!("{} loads: {e}", path.display()))
}

fn rows(map: &OfficeMap) -> Vec<String> {
    (0..map.grid.height())
        .map(|y| {
            (0..map.grid.width())
                .map(|x| {
                    if map.grid.is_tile_blocked(x, y) {
                        '#'
                    } else {
                        '.'
                    }
                })
                .collect()
        })
        .collect()
}

/// grid-engine, installed by compare.py into its cache folder.
fn grid_engine(shared: &Path) -> PathBuf {
    let cache = std::env::var_os("CONFORMANCE_CACHE").map_or_else(
        || {
            PathBuf::from(std::env::var("HOME").expect("HOME"))
                .join(".cache/metaoffice-conformance")
        },
        PathBuf::from,
    );
    let module = cache.join("node_modules/grid-engine");
    if !module.is_dir() {
        let conformance = shared.join("conformance");
        let status = Command::new("python3")
            .arg("-c")
            .arg("import sys; sys.path.insert(0, sys.argv[1]); import compare; compare.reference_runner()")
            .arg(&conformance)
            .status()
            .expect("python3 runs (install python3, node and npm)");
        assert!(status.success(), "installing grid-engine failed");
    }
    module
}

/// grid-engine's `isTileBlocked` for every tile of `map`, for characters on
/// the lowest char layer (as avatars are), as rows of `#` and `.`.
fn grid_engine_rows(shared: &Path, map: &Path, property: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("blocked.cjs");
    std::fs::write(
        &script,
        r##""use strict";
const Module = require("module");
const realLoad = Module._load;
Module._load = function (request, ...rest) {
  if (request === "phaser") return {};
  return realLoad.call(this, request, ...rest);
};
const fs = require("fs");
const [geModule, mapPath, property] = process.argv.slice(2);
const ge = require(geModule);
const map = JSON.parse(fs.readFileSync(mapPath, "utf8"));
const engine = new ge.GridEngineHeadless(false);
engine.create(new ge.TiledTilemap(map), { characters: [], collisionTilePropertyName: property });
let charLayer;
for (const layer of map.layers) {
  const p = (layer.properties || []).find((p) => p.name === "ge_charLayer");
  if (p) { charLayer = p.value; break; }
}
const rows = [];
for (let y = 0; y < map.height; y++) {
  let row = "";
  for (let x = 0; x < map.width; x++) row += engine.isTileBlocked({ x, y }, charLayer) ? "#" : ".";
  rows.push(row);
}
process.stdout.write(JSON.stringify(rows) + "\n");
"##,
    )
    .expect("write script");
    let output = Command::new("node")
        .arg(&script)
        .arg(grid_engine(shared))
        .arg(map)
        .arg(property)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout);
    let line = line.lines().rfind(|l| l.starts_with('[')).expect("rows");
    serde_json::from_str(line).expect("rows json")
}

#[test]
fn grid_engine_maps_block_exactly_as_grid_engine() {
    let Some(shared) = shared() else { return };
    for name in [
        "ge-one-way.json",
        "ge-cloud-city.json",
        "ge-jungle-char-layers.json",
    ] {
        let path = shared.join("maps/real").join(name);
        let want = grid_engine_rows(&shared, &path, "ge_collide");
        let ours = load(&path, &CollisionRule::only("ge_collide"));
        assert_eq!(rows(&ours), want, "{name}");
        // These maps have no `collides`: the office rule gives the same grid.
        assert_eq!(
            rows(&load(&path, &CollisionRule::office_default())),
            want,
            "{name}"
        );
        let free = want
            .iter()
            .flat_map(|r| r.chars())
            .filter(|&c| c == '.')
            .count();
        assert_eq!(ours.grid.walkable_tiles(), free, "{name}");
        assert!(
            free > 0 && free < want.len() * want[0].len(),
            "{name}: not a trivial grid"
        );
    }
}

/// The GIDs of a layer of a JSON map, by flattened name.
fn layer_data(map: &Value, name: &str) -> Vec<u64> {
    fn find<'a>(layers: &'a Value, prefix: &str, name: &str) -> Option<&'a Value> {
        layers.as_array()?.iter().find_map(|l| {
            let full = format!("{prefix}{}", l["name"].as_str()?);
            if full == name {
                Some(l)
            } else {
                find(&l["layers"], &format!("{full}/"), name)
            }
        })
    }
    find(&map["layers"], "", name)
        .and_then(|l| l["data"].as_array())
        .map(|d| d.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_else(|| panic!("layer {name}"))
}

#[test]
fn workadventure_office() {
    let Some(shared) = shared() else { return };
    let path = shared.join("maps/real/wa-office.tmj");
    let file = read_json(&path);
    let map = load(&path, &CollisionRule::office_default());
    let width = map.width as usize;
    assert_eq!((map.width, map.height), (31, 21));
    // Tile 2 of WA_Special_Zones (GID 3) has `collides`: every one blocks.
    let collisions = layer_data(&file, "collisions");
    let walls: Vec<(i32, i32)> = (0..collisions.len())
        .filter(|&i| collisions[i] == 3)
        .map(|i| ((i % width) as i32, (i / width) as i32))
        .collect();
    assert!(walls.len() > 50, "{}", walls.len());
    assert!(walls.iter().all(|&(x, y)| map.grid.is_tile_blocked(x, y)));
    // With only ge_collide they would be free where there is floor.
    let ge_only = load(&path, &CollisionRule::only("ge_collide"));
    assert!(
        walls
            .iter()
            .any(|&(x, y)| !ge_only.grid.is_tile_blocked(x, y))
    );
    // The start layer's free tiles, then the start area (64, 544) = tile (2, 17).
    let start = layer_data(&file, "start");
    let mut spawns: Vec<(i32, i32)> = (0..start.len())
        .filter(|&i| start[i] != 0)
        .map(|i| ((i % width) as i32, (i / width) as i32))
        .filter(|&(x, y)| !map.grid.is_tile_blocked(x, y))
        .collect();
    assert!(!spawns.is_empty());
    if !map.grid.is_tile_blocked(2, 17) && !spawns.contains(&(2, 17)) {
        spawns.push((2, 17));
    }
    assert_eq!(map.spawns, spawns);
    // Its 12 flipped GIDs resolve (the map would be refused otherwise) and
    // reach clients with their flip bits.
    let client: Value = serde_json::from_slice(&map.client_json).expect("client json");
    let mut flipped = 0;
    for name in &map.layers {
        let (theirs, ours) = (layer_data(&file, name), layer_data(&client, name));
        assert_eq!(theirs, ours, "{name}");
        flipped += theirs.iter().filter(|&&g| g >= 0x1000_0000).count();
    }
    assert_eq!(flipped, 12);
    // Areas become zones (clockPopup has no class and no zone property).
    let zones: Vec<(&str, String, i32, i32, u32, u32)> = map
        .zones
        .iter()
        .map(|z| {
            let kind = match &z.kind {
                ZoneKind::MeetingRoom { meeting } => format!("meeting {meeting}"),
                other => other.name().to_owned(),
            };
            (z.name.as_str(), kind, z.x, z.y, z.width, z.height)
        })
        .collect();
    let want = [
        ("jitsiChillZone", "meeting ChillZone", 1, 3, 6, 4),
        ("silentZone", "silent", 20, 17, 7, 4),
        ("jitsiMeetingRoom", "meeting MeetingRoom", 24, 7, 6, 7),
        ("clock", "area", 14, 3, 1, 1),
        ("to-conference", "area", 0, 16, 1, 2),
        ("from-conference", "spawn", 2, 17, 1, 1),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|&(n, k, x, y, w, h)| (n, k.to_owned(), x, y, w, h))
        .collect();
    assert_eq!(zones, want);
    // Images are rewritten only where they are inside the map's folder.
    assert!(
        map.images.keys().all(|f| f.starts_with("tilesets/")),
        "{:?}",
        map.images
    );
}

#[test]
fn skyoffice() {
    let Some(shared) = shared() else { return };
    let path = shared.join("maps/real/skyoffice.json");
    let file = read_json(&path);
    let map = load(&path, &CollisionRule::office_default());
    // One tile layer; `collides` on FloorAndGround's tiles; the ten object
    // layers of tile objects never block.
    let ground = layer_data(&file, "Ground");
    let collides: Vec<u64> = file["tilesets"][0]["tiles"]
        .as_array()
        .expect("tiles")
        .iter()
        .filter(|t| {
            t["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "collides" && p["value"] == true)
        })
        .filter_map(|t| t["id"].as_u64())
        .collect();
    assert!(collides.len() > 100);
    let width = map.width as usize;
    let mut blocked = 0;
    for (i, &gid) in ground.iter().enumerate() {
        let want = gid == 0 || collides.contains(&(gid - 1));
        blocked += usize::from(want);
        let (x, y) = ((i % width) as i32, (i / width) as i32);
        assert_eq!(
            map.grid.is_tile_blocked(x, y),
            want,
            "tile ({x}, {y}), GID {gid}"
        );
    }
    assert!(blocked > 0 && blocked < ground.len());
    assert!(map.zones.is_empty() && map.spawns.is_empty());
    // Without `collides`, only the empty tiles block.
    let ge_only = load(&path, &CollisionRule::only("ge_collide"));
    assert_eq!(
        ge_only.grid.walkable_tiles(),
        ground.iter().filter(|&&g| g != 0).count()
    );
}

#[test]
fn the_demo_office_loads_with_its_zones() {
    let maps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../maps");
    let map = load_map(
        &maps.join("demo.tmj"),
        &CollisionRule::office_default(),
        Some(&maps),
    )
    .expect("the demo loads from its drop folder");
    let count = |f: fn(&ZoneKind) -> bool| map.zones.iter().filter(|z| f(&z.kind)).count();
    assert_eq!(count(|k| matches!(k, ZoneKind::MeetingRoom { .. })), 4);
    assert_eq!(count(|k| *k == ZoneKind::Silent), 1);
    let mut areas: Vec<&str> = map
        .zones
        .iter()
        .filter(|z| z.kind == ZoneKind::Area)
        .map(|z| z.name.as_str())
        .collect();
    areas.sort_unstable();
    assert_eq!(areas, ["kitchen", "lobby", "open-space"]);
    assert!(!map.spawns.is_empty());
    assert!(
        map.spawns
            .iter()
            .all(|&(x, y)| !map.grid.is_tile_blocked(x, y))
    );
    let client: Value = serde_json::from_slice(&map.client_json).expect("client json");
    assert_eq!(
        client["tilesets"][0]["image"],
        "/maps/demo/tiles/office.png"
    );
    assert!(map.images["tiles/office.png"].is_file());
}
