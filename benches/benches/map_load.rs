//! Loading and validating a large office map: a generated 1000×1000 map with
//! four tile layers and an object layer of zones, written in setup to a
//! temporary folder as plain JSON arrays, as base64 + zlib JSON, and as
//! base64 + zlib TMX; each iteration runs the whole `load_map` (read,
//! decode, collision grid, zones, the client's copy).

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use metaoffice_server::map::{CollisionRule, encode_base64, load_map};
use serde_json::{Value, json};

const SIDE: usize = 1000;

/// The GIDs of the four layers: floor, walls (a border and a pillar every
/// 7 tiles), furniture (tile 3 on a sparse pattern), start (one block).
fn layers() -> Vec<(&'static str, Vec<u32>)> {
    let mut floor = vec![1u32; SIDE * SIDE];
    let mut walls = vec![0u32; SIDE * SIDE];
    let mut furniture = vec![0u32; SIDE * SIDE];
    let mut start = vec![0u32; SIDE * SIDE];
    for y in 0..SIDE {
        for x in 0..SIDE {
            let i = y * SIDE + x;
            if x == 0 || y == 0 || x == SIDE - 1 || y == SIDE - 1 || (x % 7 == 3 && y % 7 == 3) {
                walls[i] = 2;
            }
            if (x * 31 + y * 17) % 23 == 0 {
                furniture[i] = 3 | if x % 2 == 0 { 0x8000_0000 } else { 0 };
            }
            if (10..20).contains(&x) && (10..20).contains(&y) {
                start[i] = 4;
            }
            if x % 97 == 50 && y % 89 == 40 {
                floor[i] = 0;
            }
        }
    }
    vec![
        ("floor", floor),
        ("walls", walls),
        ("furniture", furniture),
        ("start", start),
    ]
}

fn zones() -> Value {
    let objects: Vec<Value> = (0..64)
        .map(|i| {
            let (x, y) = ((i % 8) * 120 + 5, (i / 8) * 120 + 5);
            let props = match i % 3 {
                0 => json!([{"name": "meetingRoom", "type": "string", "value": format!("Room {i}")}]),
                1 => json!([{"name": "silent", "type": "bool", "value": true}]),
                _ => json!([]),
            };
            json!({"id": i + 1, "name": format!("zone-{i}"), "type": "area", "x": x * 32, "y": y * 32,
                   "width": 50 * 32, "height": 40 * 32, "properties": props})
        })
        .collect();
    Value::Array(objects)
}

fn tileset() -> Value {
    json!({"firstgid": 1, "name": "office", "tilecount": 8, "columns": 4, "tilewidth": 32, "tileheight": 32,
           "image": "office.png", "imagewidth": 128, "imageheight": 64, "tiles": [
              {"id": 1, "properties": [{"name": "ge_collide", "type": "bool", "value": true}]},
              {"id": 2, "properties": [{"name": "collides", "type": "bool", "value": true}]}]})
}

fn write_json_map(dir: &Path, name: &str, compression: Option<&str>) -> PathBuf {
    let mut out: Vec<Value> = layers()
        .into_iter()
        .map(|(name, gids)| {
            let mut layer = json!({"type": "tilelayer", "name": name, "width": SIDE, "height": SIDE, "x": 0, "y": 0});
            match compression {
                Some(c) => {
                    layer["encoding"] = json!("base64");
                    layer["compression"] = json!(c);
                    layer["data"] = json!(encode_base64(&gids, Some(c)));
                }
                None => layer["data"] = json!(gids),
            }
            layer
        })
        .collect();
    out.push(json!({"type": "objectgroup", "name": "zones", "objects": zones()}));
    let map = json!({"type": "map", "version": "1.10", "orientation": "orthogonal", "infinite": false,
        "width": SIDE, "height": SIDE, "tilewidth": 32, "tileheight": 32, "layers": out, "tilesets": [tileset()]});
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(&map).expect("json")).expect("write map");
    path
}

fn write_tmx_map(dir: &Path, name: &str) -> PathBuf {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<map version="1.10" orientation="orthogonal" renderorder="right-down" width="{SIDE}" height="{SIDE}" tilewidth="32" tileheight="32" infinite="0">
 <tileset firstgid="1" name="office" tilewidth="32" tileheight="32" tilecount="8" columns="4">
  <image source="office.png" width="128" height="64"/>
  <tile id="1"><properties><property name="ge_collide" type="bool" value="true"/></properties></tile>
  <tile id="2"><properties><property name="collides" type="bool" value="true"/></properties></tile>
 </tileset>
"#
    );
    for (i, (name, gids)) in layers().into_iter().enumerate() {
        xml.push_str(&format!(
            "<layer id=\"{}\" name=\"{name}\" width=\"{SIDE}\" height=\"{SIDE}\"><data encoding=\"base64\" compression=\"zlib\">{}</data></layer>\n",
            i + 1,
            encode_base64(&gids, Some("zlib"))
        ));
    }
    xml.push_str("<objectgroup id=\"9\" name=\"zones\">\n");
    for zone in zones().as_array().into_iter().flatten() {
        let props: String = zone["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "<property name=\"{}\" type=\"{}\" value=\"{}\"/>",
                    p["name"].as_str().unwrap_or(""),
                    p["type"].as_str().unwrap_or(""),
                    p["value"].to_string().trim_matches('"')
                )
            })
            .collect();
        xml.push_str(&format!(
            "<object id=\"{}\" name=\"{}\" type=\"area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><properties>{props}</properties></object>\n",
            zone["id"], zone["name"].as_str().unwrap_or(""), zone["x"], zone["y"], zone["width"], zone["height"]
        ));
    }
    xml.push_str("</objectgroup>\n</map>\n");
    let path = dir.join(name);
    std::fs::write(&path, xml).expect("write map");
    path
}

fn map_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let maps = [
        ("json plain", write_json_map(dir.path(), "plain.tmj", None)),
        (
            "json base64 zlib",
            write_json_map(dir.path(), "zlib.tmj", Some("zlib")),
        ),
        ("tmx base64 zlib", write_tmx_map(dir.path(), "zlib.tmx")),
    ];
    let rule = CollisionRule::office_default();
    let mut group = c.benchmark_group("map_load_1000x1000x4");
    group.throughput(Throughput::Elements((SIDE * SIDE) as u64));
    group.sample_size(10);
    for (name, path) in &maps {
        let map = load_map(path, &rule, Some(dir.path())).expect("the generated map loads");
        assert_eq!(map.zones.len(), 64);
        group.bench_function(*name, |b| {
            b.iter(|| load_map(path, &rule, Some(dir.path())).expect("loads"));
        });
    }
    group.finish();
}

criterion_group!(benches, map_load);
criterion_main!(benches);
