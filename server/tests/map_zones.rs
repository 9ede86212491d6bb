//! Zones, spawn tiles, templates, custom property types and the collision
//! rule, on small JSON and TMX maps written to a temporary folder.

mod mapkit;

use std::path::Path;

use mapkit::{
    Encoding, ROOM, ROOM_GRID, grid_rows, json_map, tileset_file, tileset_xml, tmx_map, write,
    write_json,
};
use metaoffice_server::map::{CollisionRule, OfficeMap, ZoneKind, load_map};
use serde_json::{Value, json};

fn load(path: &Path) -> OfficeMap {
    load_map(path, &CollisionRule::office_default(), path.parent())
        .unwrap_or_else(|e| panic!("{} loads: {e}", path.display()))
}

fn client(map: &OfficeMap) -> Value {
    serde_json::from_slice(&map.client_json).expect("client json")
}

/// An object layer of areas in JSON: a meeting room (class, Tiled 1.9), a
/// silent area (type), a start area, a plain area at fractional pixels, a
/// tile object (bottom-left anchored), a point with a meeting, and things
/// that are not zones.
fn zone_objects() -> Value {
    json!([
        {"id": 1, "name": "room", "class": "area", "x": 32, "y": 32, "width": 64, "height": 32,
         "properties": [{"name": "meetingRoom", "type": "string", "value": "Standup"}]},
        {"id": 2, "name": "quiet", "type": "area", "x": 128, "y": 32, "width": 32, "height": 64,
         "properties": [{"name": "silent", "type": "bool", "value": true},
                        {"name": "depth", "type": "float", "value": 1.5},
                        {"name": "level", "type": "int", "value": 2},
                        {"name": "colour", "type": "color", "value": "#ff336699"},
                        {"name": "doc", "type": "file", "value": "../readme.md"},
                        {"name": "target", "type": "object", "value": 1},
                        {"name": "mood", "type": "string", "propertytype": "Mood", "value": "calm"},
                        {"name": "flags", "type": "int", "propertytype": "Flags", "value": 5},
                        {"name": "lamp", "type": "class", "propertytype": "Lamp",
                         "value": {"on": true, "shade": {"size": 3}}}]},
        {"id": 3, "name": "door", "type": "area", "x": 32, "y": 64, "width": 96, "height": 32,
         "properties": [{"name": "start", "type": "bool", "value": true}]},
        {"id": 4, "name": "desk", "type": "area", "x": 40.4, "y": 70.2, "width": 20.1, "height": 9.6},
        {"id": 5, "name": "plant", "gid": 1, "x": 0, "y": 64, "width": 32, "height": 32,
         "properties": [{"name": "jitsiRoom", "type": "string", "value": "Plant"}]},
        {"id": 6, "name": "spot", "point": true, "x": 150, "y": 100, "width": 0, "height": 0,
         "properties": [{"name": "bbbMeeting", "type": "bool", "value": true}]},
        {"id": 7, "name": "label", "text": {"text": "hi"}, "x": 0, "y": 0, "width": 64, "height": 32,
         "type": "area"},
        {"id": 8, "name": "decor", "type": "", "x": 0, "y": 0, "width": 32, "height": 32}
    ])
}

#[test]
fn zones_and_spawns_follow_the_conventions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = ["......", ".....#", ".....#", "......"];
    let mut map = json_map(&rows, Encoding::Array);
    map["layers"][2]["objects"] = zone_objects();
    // A start layer inside a group, a startLayer layer, and a tile layer zone.
    let mut start = map["layers"][0].clone();
    start["name"] = json!("start");
    start["data"] = json!([
        0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
    ]);
    let mut also = start.clone();
    also["name"] = json!("arrivals");
    also["properties"] = json!([{"name": "startLayer", "type": "bool", "value": true}]);
    also["data"] = json!([
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    ]);
    let mut talk = start.clone();
    talk["name"] = json!("talk");
    talk["properties"] = json!([{"name": "livekitRoom", "type": "string", "value": "Corner"}]);
    talk["data"] = json!([
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1
    ]);
    map["layers"][1]["layers"] = json!([map["layers"][1]["layers"][0].clone(), start]);
    map["layers"]
        .as_array_mut()
        .expect("layers")
        .extend([also, talk]);
    let loaded = load(&write_json(dir.path(), "zones.tmj", &map));
    let zones: Vec<(&str, &str, i32, i32, u32, u32)> = loaded
        .zones
        .iter()
        .map(|z| (z.name.as_str(), z.kind.name(), z.x, z.y, z.width, z.height))
        .collect();
    assert_eq!(
        zones,
        [
            ("room", "meeting_room", 1, 1, 2, 1),
            ("quiet", "silent", 4, 1, 1, 2),
            ("door", "spawn", 1, 2, 3, 1),
            ("desk", "area", 1, 2, 1, 1),
            ("plant", "meeting_room", 0, 1, 1, 1),
            ("spot", "meeting_room", 4, 3, 1, 1),
            ("talk", "meeting_room", 4, 2, 2, 2),
        ]
    );
    let meeting = |i: usize| match &loaded.zones[i].kind {
        ZoneKind::MeetingRoom { meeting } => meeting.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        [meeting(0), meeting(4), meeting(5), meeting(6)],
        ["Standup", "Plant", "spot", "Corner"]
    );
    assert_eq!(loaded.zones[0].properties["meetingRoom"], json!("Standup"));
    let p = &loaded.zones[1].properties;
    assert_eq!(
        (&p["depth"], &p["level"], &p["colour"]),
        (&json!(1.5), &json!(2), &json!("#ff336699"))
    );
    assert_eq!(
        (&p["doc"], &p["target"], &p["mood"], &p["flags"]),
        (&json!("../readme.md"), &json!(1), &json!("calm"), &json!(5))
    );
    assert_eq!(p["lamp"], json!({"on": true, "shade": {"size": 3}}));
    // Start layer (5,0) and (5,3) are free but (5,1) is a wall;
    // the start area's tiles; the startLayer's (0,0); in map order.
    assert_eq!(
        loaded.spawns,
        [(5, 0), (5, 3), (1, 2), (2, 2), (3, 2), (0, 0)]
    );
}

#[test]
fn tmx_zones_templates_and_every_property_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "templates/room.tx",
        r#"<?xml version="1.0"?>
<template><object name="templated" type="area" width="64" height="32"><properties>
  <property name="meetingRoom" value="FromTemplate"/><property name="capacity" type="int" value="4"/>
</properties></object></template>"#,
    );
    let objects = r##"
  <object id="1" template="templates/room.tx" x="32" y="32"><properties><property name="capacity" type="int" value="6"/></properties></object>
  <object id="2" name="typed" class="area" x="128" y="0" width="32" height="32"><properties>
   <property name="silent" type="bool" value="true"/>
   <property name="depth" type="float" value="1.5"/>
   <property name="colour" type="color" value="#ff336699"/>
   <property name="doc" type="file" value="../readme.md"/>
   <property name="target" type="object" value="1"/>
   <property name="mood" propertytype="Mood" value="calm"/>
   <property name="lamp" type="class" propertytype="Lamp"><properties>
     <property name="on" type="bool" value="true"/>
     <property name="shade" type="class" propertytype="Shade"><properties><property name="size" type="int" value="3"/></properties></property>
   </properties></property>
  </properties></object>"##;
    let tmx = tmx_map(
        ROOM,
        Encoding::Base64(Some("gzip")),
        &tileset_xml(Some(1)),
        objects,
    );
    let loaded = load(&write(dir.path(), "office.tmx", &tmx));
    assert_eq!(loaded.zones.len(), 2);
    let room = &loaded.zones[0];
    assert_eq!(
        (room.name.as_str(), room.x, room.y, room.width, room.height),
        ("templated", 1, 1, 2, 1)
    );
    assert_eq!(
        room.kind,
        ZoneKind::MeetingRoom {
            meeting: "FromTemplate".into()
        }
    );
    assert_eq!(room.properties["capacity"], json!(6));
    let typed = &loaded.zones[1];
    assert_eq!(typed.kind, ZoneKind::Silent);
    let p = &typed.properties;
    assert_eq!(p["depth"], json!(1.5));
    assert_eq!(p["colour"], json!("#ff336699"));
    assert_eq!(p["doc"], json!("../readme.md"));
    assert_eq!(p["target"], json!(1));
    assert_eq!(p["mood"], json!("calm"));
    assert_eq!(p["lamp"], json!({"on": true, "shade": {"size": 3}}));
    let c = client(&loaded);
    let props = c["layers"][2]["objects"][1]["properties"]
        .as_array()
        .expect("props")
        .clone();
    let lamp = props.iter().find(|p| p["name"] == "lamp").expect("lamp");
    assert_eq!(
        (lamp["type"].as_str(), lamp["propertytype"].as_str()),
        (Some("class"), Some("Lamp"))
    );
}

#[test]
fn json_templates_with_tiles_and_their_tileset() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_json(dir.path(), "sets/extra.tsj", &tileset_file());
    write_json(
        dir.path(),
        "templates/seat.tj",
        &json!({
            "type": "template",
            "tileset": {"firstgid": 1, "source": "../sets/extra.tsj"},
            "object": {"name": "seat", "type": "area", "gid": 2, "width": 32, "height": 32,
                       "properties": [{"name": "silent", "type": "bool", "value": true},
                                      {"name": "label", "type": "string", "value": "template"}]}
        }),
    );
    let mut map = json_map(ROOM, Encoding::Array);
    map["layers"][2]["objects"] = json!([
        {"id": 1, "template": "templates/seat.tj", "x": 64, "y": 64,
         "properties": [{"name": "label", "type": "string", "value": "instance"}]}
    ]);
    let loaded = load(&write_json(dir.path(), "seats.tmj", &map));
    let zone = &loaded.zones[0];
    assert_eq!(
        (zone.name.as_str(), zone.x, zone.y, zone.kind.clone()),
        ("seat", 2, 1, ZoneKind::Silent)
    );
    assert_eq!(zone.properties["label"], json!("instance"));
    let c = client(&loaded);
    // The template's tileset joins the map after the test tileset (8 tiles).
    assert_eq!(c["tilesets"].as_array().map(Vec::len), Some(2));
    assert_eq!(c["tilesets"][1]["firstgid"], json!(9));
    let object = &c["layers"][2]["objects"][0];
    assert_eq!(
        (object["gid"].as_u64(), object.get("template")),
        (Some(10), None)
    );
}

#[test]
fn the_collision_property_can_be_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_json(dir.path(), "room.tmj", &json_map(ROOM, Encoding::Array));
    let only = |name: &str| {
        let map = load_map(&path, &CollisionRule::only(name), None).expect("loads");
        grid_rows(&map)
    };
    // `collides` (the pillar) counts only by default or when named.
    assert_eq!(only("ge_collide"), ["######", "#....#", "#.#..#", "######"]);
    assert_eq!(only("collides"), ["......", "...#..", "..#...", "......"]);
    assert_eq!(
        grid_rows(&load(&path)),
        ROOM_GRID,
        "the office default: ge_collide or collides"
    );
}
