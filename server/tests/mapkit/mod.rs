//! Writing small Tiled maps for tests, in JSON and TMX, in every encoding.
//! A test map is drawn from rows of characters: `#` a wall (tile 2, which
//! has `ge_collide`), `c` a tile with `collides` (tile 3), `.` floor (tile
//! 1), ` ` nothing (blocks: no tile).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use metaoffice_server::map::encode_base64;
use serde_json::{Value, json};

/// GIDs of the floor layer and the walls layer drawn by `rows`.
pub fn layers_from(rows: &[&str]) -> (Vec<u32>, Vec<u32>) {
    let mut floor = Vec::new();
    let mut walls = Vec::new();
    for row in rows {
        for c in row.chars() {
            floor.push(if c == ' ' { 0 } else { 1 });
            walls.push(match c {
                '#' => 2,
                'c' => 3,
                _ => 0,
            });
        }
    }
    (floor, walls)
}

/// The test tileset's tiles: 2 has `ge_collide`, 3 has `collides`, 4 has
/// `ge_collide_left`.
pub fn tileset_tiles() -> Value {
    json!([
        {"id": 1, "properties": [{"name": "ge_collide", "type": "bool", "value": true}]},
        {"id": 2, "properties": [{"name": "collides", "type": "bool", "value": true}]},
        {"id": 3, "properties": [{"name": "ge_collide_left", "type": "bool", "value": true}]}
    ])
}

/// The test tileset, embedded at `firstgid`.
pub fn tileset(firstgid: u32) -> Value {
    json!({
        "firstgid": firstgid, "name": "test", "tilecount": 8, "columns": 4,
        "tilewidth": 32, "tileheight": 32, "margin": 0, "spacing": 0,
        "image": "tiles.png", "imagewidth": 128, "imageheight": 64,
        "tiles": tileset_tiles()
    })
}

/// The test tileset as an external JSON tileset file (no firstgid).
pub fn tileset_file() -> Value {
    let mut ts = tileset(1);
    if let Some(o) = ts.as_object_mut() {
        o.remove("firstgid");
        o.insert("type".into(), json!("tileset"));
    }
    ts
}

/// The test tileset as TSX (external file) or as an embedded `<tileset>`.
pub fn tileset_xml(firstgid: Option<u32>) -> String {
    let first = firstgid
        .map(|g| format!(r#" firstgid="{g}""#))
        .unwrap_or_default();
    format!(
        r#"<tileset{first} name="test" tilewidth="32" tileheight="32" tilecount="8" columns="4">
  <image source="tiles.png" width="128" height="64"/>
  <tile id="1"><properties><property name="ge_collide" type="bool" value="true"/></properties></tile>
  <tile id="2"><properties><property name="collides" type="bool" value="true"/></properties></tile>
  <tile id="3"><properties><property name="ge_collide_left" type="bool" value="true"/></properties></tile>
</tileset>"#
    )
}

/// A JSON tile layer with `gids`, as an array or base64 with `compression`.
pub fn json_layer(name: &str, width: usize, gids: &[u32], encoding: Encoding) -> Value {
    let height = gids.len() / width;
    let mut layer = json!({"type": "tilelayer", "name": name, "width": width, "height": height,
                           "x": 0, "y": 0, "opacity": 1, "visible": true});
    match encoding {
        Encoding::Array => layer["data"] = json!(gids),
        Encoding::Base64(c) => {
            layer["encoding"] = json!("base64");
            layer["compression"] = json!(c.unwrap_or(""));
            layer["data"] = json!(encode_base64(gids, c));
        }
        Encoding::Csv => layer["data"] = json!(gids),
        Encoding::XmlTiles => unreachable!("JSON has no XML tiles"),
    }
    layer
}

/// How layer data is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    /// JSON arrays (JSON maps).
    Array,
    /// CSV text (TMX).
    Csv,
    /// `<tile gid>` elements (TMX).
    XmlTiles,
    /// base64, with a compression or none.
    Base64(Option<&'static str>),
}

/// A fixed-size JSON map of `rows` with the test tileset embedded.
pub fn json_map(rows: &[&str], encoding: Encoding) -> Value {
    let width = rows[0].len();
    let (floor, walls) = layers_from(rows);
    json!({
        "type": "map", "version": "1.10", "tiledversion": "1.10.2", "orientation": "orthogonal",
        "renderorder": "right-down", "infinite": false,
        "width": width, "height": rows.len(), "tilewidth": 32, "tileheight": 32,
        "layers": [
            json_layer("floor", width, &floor, encoding),
            {"type": "group", "name": "building", "layers": [json_layer("walls", width, &walls, encoding)]},
            {"type": "objectgroup", "name": "zones", "objects": []}
        ],
        "tilesets": [tileset(1)]
    })
}

/// A TMX `<layer>` of `gids`.
pub fn tmx_layer(name: &str, width: usize, gids: &[u32], encoding: Encoding) -> String {
    let height = gids.len() / width;
    let data = tmx_data(gids, encoding);
    format!(r#"<layer id="1" name="{name}" width="{width}" height="{height}">{data}</layer>"#)
}

/// A TMX `<data>` element (or chunk contents) for `gids`.
pub fn tmx_data(gids: &[u32], encoding: Encoding) -> String {
    match encoding {
        Encoding::Csv | Encoding::Array => {
            let csv: Vec<String> = gids.iter().map(u32::to_string).collect();
            format!("<data encoding=\"csv\">\n{}\n</data>", csv.join(","))
        }
        Encoding::XmlTiles => {
            let tiles: String = gids
                .iter()
                .map(|g| format!("<tile gid=\"{g}\"/>"))
                .collect();
            format!("<data>{tiles}</data>")
        }
        Encoding::Base64(c) => {
            let comp = c
                .map(|c| format!(" compression=\"{c}\""))
                .unwrap_or_default();
            format!(
                "<data encoding=\"base64\"{comp}>\n   {}\n</data>",
                encode_base64(gids, c)
            )
        }
    }
}

/// A fixed-size TMX map of `rows`; `tileset` is the `<tileset>` element.
pub fn tmx_map(rows: &[&str], encoding: Encoding, tileset: &str, objects: &str) -> String {
    let width = rows[0].len();
    let (floor, walls) = layers_from(rows);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<map version="1.10" tiledversion="1.10.2" orientation="orthogonal" renderorder="right-down" width="{width}" height="{}" tilewidth="32" tileheight="32" infinite="0" nextlayerid="5" nextobjectid="9">
 {tileset}
 {}
 <group id="2" name="building">
  {}
 </group>
 <objectgroup id="4" name="zones">{objects}</objectgroup>
</map>
"#,
        rows.len(),
        tmx_layer("floor", width, &floor, encoding),
        tmx_layer("walls", width, &walls, encoding)
    )
}

/// Writes `text` to `dir/name`, creating folders; returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create folder");
    }
    std::fs::write(&path, text).expect("write file");
    path
}

/// Writes a JSON value to `dir/name`.
pub fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    write(
        dir,
        name,
        &serde_json::to_string_pretty(value).expect("json"),
    )
}

/// The rows of a map's collision grid: `#` blocked, `.` free.
pub fn grid_rows(map: &metaoffice_server::map::OfficeMap) -> Vec<String> {
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

/// A 6×4 test office: walls around, a `collides` pillar and a hole.
pub const ROOM: &[&str] = &["######", "#..c.#", "#. ..#", "######"];

/// The grid [`ROOM`] must give with the office rule.
pub const ROOM_GRID: &[&str] = &["######", "#..#.#", "#.#..#", "######"];
