//! Every format feature of the loader, on small maps written to a temporary
//! folder: JSON and TMX, every layer encoding and compression, external
//! `.tsx`/`.tsj` tilesets, groups, flip bits, infinite maps with negative
//! chunks, templates, property types, `type`/`class`, zones and spawns, and
//! the client's copy of each.

mod mapkit;

use std::path::Path;

use mapkit::{
    Encoding, ROOM, ROOM_GRID, grid_rows, json_map, layers_from, tileset_file, tileset_xml,
    tmx_map, write, write_json,
};
use metaoffice_server::map::{CollisionRule, OfficeMap, ZoneKind, load_map};
use serde_json::{Value, json};

const ENCODINGS: [Encoding; 5] = [
    Encoding::Array,
    Encoding::Base64(None),
    Encoding::Base64(Some("zlib")),
    Encoding::Base64(Some("gzip")),
    Encoding::Base64(Some("zstd")),
];

fn load(path: &Path) -> OfficeMap {
    load_map(path, &CollisionRule::office_default(), path.parent())
        .unwrap_or_else(|e| panic!("{} loads: {e}", path.display()))
}

fn client(map: &OfficeMap) -> Value {
    serde_json::from_slice(&map.client_json).expect("client json")
}

/// The client's copy is what Phaser loads: fixed size, tilesets embedded,
/// plain arrays; returns its tile layers' data by flattened name.
fn check_client_copy(map: &OfficeMap) -> Vec<(String, Vec<u64>)> {
    let c = client(map);
    assert_eq!(c["infinite"], json!(false));
    assert_eq!(c["width"], json!(map.width));
    for ts in c["tilesets"].as_array().expect("tilesets") {
        assert!(ts.get("source").is_none(), "embedded: {ts}");
        assert!(ts["firstgid"].is_u64());
    }
    let mut out = Vec::new();
    fn walk(layers: &Value, prefix: &str, size: usize, out: &mut Vec<(String, Vec<u64>)>) {
        for l in layers.as_array().expect("layers") {
            let name = format!("{prefix}{}", l["name"].as_str().expect("name"));
            assert!(
                l.get("encoding").is_none()
                    && l.get("compression").is_none()
                    && l.get("chunks").is_none()
            );
            match l["type"].as_str() {
                Some("group") => walk(&l["layers"], &format!("{name}/"), size, out),
                Some("tilelayer") => {
                    let data: Vec<u64> = l["data"]
                        .as_array()
                        .expect("array")
                        .iter()
                        .map(|v| v.as_u64().expect("gid"))
                        .collect();
                    assert_eq!(data.len(), size, "{name}");
                    out.push((name, data));
                }
                _ => {}
            }
        }
    }
    walk(
        &c["layers"],
        "",
        (map.width * map.height) as usize,
        &mut out,
    );
    out
}

#[test]
fn every_json_encoding_gives_the_same_map() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (floor, walls) = layers_from(ROOM);
    for (i, encoding) in ENCODINGS.into_iter().enumerate() {
        let path = write_json(
            dir.path(),
            &format!("room{i}.tmj"),
            &json_map(ROOM, encoding),
        );
        let map = load(&path);
        assert_eq!(grid_rows(&map), ROOM_GRID, "{encoding:?}");
        assert_eq!(map.layers, ["floor", "building/walls"]);
        let layers = check_client_copy(&map);
        let want: Vec<u64> = floor.iter().map(|&g| u64::from(g)).collect();
        assert_eq!(layers[0].1, want, "{encoding:?}");
        let want: Vec<u64> = walls.iter().map(|&g| u64::from(g)).collect();
        assert_eq!(layers[1].1, want, "{encoding:?}");
        assert_eq!(
            client(&map)["tilesets"][0]["image"],
            format!("/maps/room{i}/tiles.png")
        );
        assert_eq!(
            map.images.get("tiles.png"),
            Some(&dir.path().join("tiles.png"))
        );
    }
}

#[test]
fn every_tmx_encoding_gives_the_same_map_as_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json_path = write_json(dir.path(), "room.tmj", &json_map(ROOM, Encoding::Array));
    let from_json = load(&json_path);
    let encodings = [Encoding::Csv, Encoding::XmlTiles]
        .into_iter()
        .chain(ENCODINGS.into_iter().skip(1));
    for (i, encoding) in encodings.enumerate() {
        let tmx = tmx_map(ROOM, encoding, &tileset_xml(Some(1)), "");
        let map = load(&write(dir.path(), &format!("room{i}.tmx"), &tmx));
        assert_eq!(grid_rows(&map), ROOM_GRID, "{encoding:?}");
        assert_eq!(map.layers, from_json.layers);
        assert_eq!(
            check_client_copy(&map),
            check_client_copy(&from_json),
            "{encoding:?}"
        );
        let ts = &client(&map)["tilesets"][0];
        assert_eq!(
            ts["tiles"],
            client(&from_json)["tilesets"][0]["tiles"],
            "{encoding:?}"
        );
        assert_eq!(ts["image"], format!("/maps/room{i}/tiles.png"));
    }
}

#[test]
fn external_tilesets_in_both_formats_from_both_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_json(dir.path(), "sets/test.tsj", &tileset_file());
    write(
        dir.path(),
        "sets/test.tsx",
        &format!("<?xml version=\"1.0\"?>\n{}", tileset_xml(None)),
    );
    for set in ["sets/test.tsj", "sets/test.tsx"] {
        let mut map = json_map(ROOM, Encoding::Array);
        map["tilesets"] = json!([{"firstgid": 1, "source": set}]);
        let from_json = load(&write_json(dir.path(), "a.tmj", &map));
        let tmx = tmx_map(
            ROOM,
            Encoding::Csv,
            &format!(r#"<tileset firstgid="1" source="{set}"/>"#),
            "",
        );
        let from_tmx = load(&write(dir.path(), "b.tmx", &tmx));
        for map in [&from_json, &from_tmx] {
            assert_eq!(grid_rows(map), ROOM_GRID, "{set}");
            let c = client(map);
            assert_eq!(c["tilesets"][0]["name"], "test");
            assert_eq!(
                c["tilesets"][0]["tiles"][0]["properties"][0]["name"],
                "ge_collide"
            );
            assert!(
                c["tilesets"][0]["image"]
                    .as_str()
                    .expect("image")
                    .ends_with("/sets/tiles.png"),
                "{set}"
            );
            assert!(map.images.contains_key("sets/tiles.png"));
            assert!(
                map.files.iter().any(|f| f.ends_with(set)),
                "{:?}",
                map.files
            );
        }
    }
}

#[test]
fn flip_bits_are_cleared_for_collisions_and_kept_for_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut map = json_map(&["#.", ".."], Encoding::Array);
    let flips = [0x8000_0002u32, 0x4000_0001, 0x2000_0001, 0x1000_0003];
    map["layers"][1]["layers"][0]["data"] = json!(flips);
    let loaded = load(&write_json(dir.path(), "flip.tmj", &map));
    // 2 (ge_collide) and 3 (collides) block, whatever their flip bits.
    assert_eq!(grid_rows(&loaded), ["#.", ".#"]);
    let layers = check_client_copy(&loaded);
    assert_eq!(
        layers[1].1,
        flips.iter().map(|&g| u64::from(g)).collect::<Vec<_>>()
    );
}

#[test]
fn groups_flatten_like_phaser_and_char_layers_limit_collisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut map = json_map(&["..", ".."], Encoding::Array);
    let ground = map["layers"][0].clone();
    let mut wall = map["layers"][1]["layers"][0].clone();
    wall["data"] = json!([2, 0, 0, 0]);
    let mut above = wall.clone();
    above["name"] = json!("roof");
    above["data"] = json!([0, 2, 0, 0]);
    let mut ground = ground;
    ground["properties"] = json!([{"name": "ge_charLayer", "type": "string", "value": "ground"}]);
    map["layers"] = json!([
        {"type": "group", "name": "a", "layers": [{"type": "group", "name": "b", "layers": [wall]}]},
        ground,
        above,
    ]);
    let loaded = load(&write_json(dir.path(), "groups.tmj", &map));
    assert_eq!(loaded.layers, ["a/b/walls", "floor", "roof"]);
    // The roof is above the avatars' char layer: it does not block.
    assert_eq!(grid_rows(&loaded), ["#.", ".."]);
}

#[test]
fn infinite_maps_with_negative_chunks_become_fixed_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chunk = |x: i32, y: i32, gids: Vec<u32>, enc: Encoding| match enc {
        Encoding::Array => json!({"x": x, "y": y, "width": 2, "height": 2, "data": gids}),
        Encoding::Base64(c) => json!({"x": x, "y": y, "width": 2, "height": 2,
                                       "data": metaoffice_server::map::encode_base64(&gids, c)}),
        _ => unreachable!(),
    };
    let area = json!({"id": 1, "name": "corner", "type": "area", "x": -64, "y": -64, "width": 32, "height": 32,
                      "properties": [{"name": "silent", "type": "bool", "value": true}]});
    for enc in [Encoding::Array, Encoding::Base64(Some("zlib"))] {
        let mut layer = json!({"type": "tilelayer", "name": "floor", "startx": -2, "starty": -2, "width": 4, "height": 4,
            "chunks": [chunk(-2, -2, vec![1, 1, 1, 2], enc), chunk(0, 0, vec![2, 1, 1, 1], enc)]});
        if let Encoding::Base64(c) = enc {
            layer["encoding"] = json!("base64");
            layer["compression"] = json!(c);
        }
        let map = json!({"type": "map", "version": 1.4, "orientation": "orthogonal", "infinite": true,
            "width": 30, "height": 20, "tilewidth": 32, "tileheight": 32,
            "layers": [layer, {"type": "objectgroup", "name": "zones", "objects": [area.clone()]}],
            "tilesets": [mapkit::tileset(1)]});
        let loaded = load(&write_json(dir.path(), "inf.tmj", &map));
        assert_eq!(
            (loaded.width, loaded.height, loaded.origin),
            (4, 4, (-2, -2))
        );
        assert_eq!(grid_rows(&loaded), ["..##", ".###", "###.", "##.."]);
        assert_eq!(loaded.zones.len(), 1);
        assert_eq!(
            (
                loaded.zones[0].x,
                loaded.zones[0].y,
                loaded.zones[0].kind.clone()
            ),
            (0, 0, ZoneKind::Silent)
        );
        let c = client(&loaded);
        assert_eq!(c["layers"][1]["objects"][0]["x"], json!(0));
        check_client_copy(&loaded);
    }
    // The same in TMX, one chunk zstd-compressed at negative coordinates.
    let tmx = format!(
        r#"<?xml version="1.0"?>
<map version="1.10" orientation="orthogonal" renderorder="right-down" width="30" height="20" tilewidth="32" tileheight="32" infinite="1">
 {}
 <layer id="1" name="floor" width="30" height="20"><data encoding="base64" compression="zstd">
  <chunk x="-2" y="-2" width="2" height="2">{}</chunk>
  <chunk x="0" y="0" width="2" height="2">{}</chunk>
 </data></layer>
 <objectgroup id="2" name="zones"><object id="1" name="corner" type="area" x="-64" y="-64" width="32" height="32"><properties><property name="silent" type="bool" value="true"/></properties></object></objectgroup>
</map>"#,
        tileset_xml(Some(1)),
        metaoffice_server::map::encode_base64(&[1, 1, 1, 2], Some("zstd")),
        metaoffice_server::map::encode_base64(&[2, 1, 1, 1], Some("zstd")),
    );
    let loaded = load(&write(dir.path(), "inf.tmx", &tmx));
    assert_eq!(
        (loaded.width, loaded.height, loaded.origin),
        (4, 4, (-2, -2))
    );
    assert_eq!(grid_rows(&loaded), ["..##", ".###", "###.", "##.."]);
    assert_eq!((loaded.zones[0].x, loaded.zones[0].y), (0, 0));
}

#[test]
fn tmx_layers_without_data_and_image_layers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = r#"<layer id="7" name="empty" width="6" height="4"><properties><property name="note" value="no data"/></properties></layer>
 <layer id="8" name="bare" width="6" height="4"/>
 <imagelayer id="9" name="sky" offsetx="8"><image source="art/sky.png" width="10" height="10"/></imagelayer>
 <group id="2" name="building">"#;
    let tmx = tmx_map(
        ROOM,
        Encoding::Base64(Some("zlib")),
        &tileset_xml(Some(1)),
        "",
    )
    .replacen(r#"<group id="2" name="building">"#, extra, 1);
    let map = load(&write(dir.path(), "layers.tmx", &tmx));
    assert_eq!(map.layers, ["floor", "empty", "bare", "building/walls"]);
    assert_eq!(grid_rows(&map), ROOM_GRID);
    let layers = check_client_copy(&map);
    assert!(layers[1].1.iter().all(|&g| g == 0));
    let c = client(&map);
    let sky = c["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .find(|l| l["name"] == "sky")
        .expect("sky");
    assert_eq!(
        (sky["type"].as_str(), sky["image"].as_str()),
        (Some("imagelayer"), Some("/maps/layers/art/sky.png"))
    );
    assert_eq!(c["layers"][1]["properties"][0]["value"], "no data");
}
