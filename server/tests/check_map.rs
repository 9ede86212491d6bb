//! `metaoffice check-map`: the library module and the binary, on good and
//! bad maps, human and JSON Lines output, exit status.

mod mapkit;

use std::path::{Path, PathBuf};
use std::process::Command;

use mapkit::{Encoding, ROOM, json_map, tileset_xml, tmx_map, write, write_json};
use metaoffice_server::map::check::{check_paths, check_rule, report_json, run_check};
use serde_json::{Value, json};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../maps/demo.tmj")
}

/// A folder with two good maps (JSON, TMX) and a bad one.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_json(dir.path(), "a.tmj", &json_map(ROOM, Encoding::Array));
    write(
        dir.path(),
        "b.tmx",
        &tmx_map(
            ROOM,
            Encoding::Base64(Some("zlib")),
            &tileset_xml(Some(1)),
            "",
        ),
    );
    let mut bad = json_map(ROOM, Encoding::Array);
    bad["layers"][0]["data"][7] = json!(77);
    write_json(dir.path(), "c.json", &bad);
    write(dir.path(), "notes.txt", "not a map");
    dir
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_metaoffice"))
        .arg("check-map")
        .args(args)
        .env_remove("METAOFFICE_CONFIG")
        .output()
        .expect("metaoffice runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_library_reports_every_map_of_a_folder() {
    let dir = folder();
    let reports = check_paths(&[dir.path().to_owned()], &check_rule(None));
    let names: Vec<_> = reports
        .iter()
        .map(|r| r.path.file_name().expect("name").to_owned())
        .collect();
    assert_eq!(names, ["a.tmj", "b.tmx", "c.json"]);
    assert!(reports[0].result.is_ok() && reports[1].result.is_ok());
    let bad = report_json(&reports[2]);
    assert_eq!(bad["ok"], json!(false));
    assert_eq!(bad["walkable_tiles"], Value::Null);
    let error = &bad["errors"][0];
    assert_eq!(
        (
            error["layer"].as_str(),
            error["x"].as_i64(),
            error["y"].as_i64()
        ),
        (Some("floor"), Some(1), Some(1))
    );
    assert!(error["reason"].as_str().expect("reason").contains("GID 77"));
    let good = report_json(&reports[0]);
    assert_eq!(
        good["walkable_tiles"],
        json!(
            reports[0]
                .result
                .as_ref()
                .map(|m| m.grid.walkable_tiles())
                .unwrap_or(0)
        )
    );

    let mut out = Vec::new();
    let ok = run_check(
        &[dir.path().join("a.tmj")],
        false,
        Some("collides"),
        &mut out,
    )
    .expect("runs");
    assert!(ok);
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("6×4 tiles of 32×32 px"), "{text}");
    // Only `collides` blocks: the walls (ge_collide) are walkable.
    assert!(text.contains("22 walkable tiles"), "{text}");
}

#[test]
fn the_binary_prints_json_lines_and_fails_on_a_bad_map() {
    let dir = folder();
    let (code, stdout, _) = run(&[
        "--json",
        dir.path().to_str().expect("utf-8"),
        demo().to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "one map is bad");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    let oks: Vec<bool> = lines
        .iter()
        .map(|l| l["ok"].as_bool().expect("ok"))
        .collect();
    assert_eq!(oks, [true, true, false, true]);
    let demo = &lines[3];
    assert_eq!(
        (demo["width"].as_u64(), demo["height"].as_u64()),
        (Some(64), Some(44))
    );
    assert!(demo["walkable_tiles"].as_u64().expect("walkable") > 1000);
    let kinds: Vec<&str> = demo["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .map(|z| z["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "meeting_room").count(), 4);
    for zone in demo["zones"].as_array().expect("zones") {
        for key in ["name", "x", "y", "width", "height"] {
            assert!(!zone[key].is_null(), "{key} in {zone}");
        }
    }
    let spawn = &demo["spawns"][0];
    assert!(spawn["x"].is_i64() && spawn["y"].is_i64());
    let error = &lines[2]["errors"][0];
    for key in ["file", "layer", "x", "y", "reason"] {
        assert!(error.get(key).is_some(), "{key} in {error}");
    }
}

#[test]
fn the_binary_summarises_good_maps_and_exits_zero() {
    let (code, stdout, _) = run(&[demo().to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("demo.tmj: ok"));
    assert!(stdout.contains("64×44 tiles of 32×32 px"));
    assert!(stdout.contains("meeting room 'Lovelace'"));
    assert!(stdout.contains("silent area"));
    let (code, stdout, _) = run(&["/nonexistent/map.tmj"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("refused") && stdout.contains("cannot read the map"),
        "{stdout}"
    );
    let (code, _, stderr) = run(&[]);
    assert_ne!(code, 0, "a path is required");
    assert!(stderr.contains("PATH"), "{stderr}");
}
