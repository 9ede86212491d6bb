//! Bad maps are refused with a precise message (file, layer, tile, reason),
//! never a panic and never a half-loaded map.

mod mapkit;

use std::path::Path;

use mapkit::{Encoding, ROOM, json_map, tileset_file, tileset_xml, tmx_map, write, write_json};
use metaoffice_server::map::{CollisionRule, MapError, MapProblem, encode_base64, load_map};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn refuse(path: &Path, root: Option<&Path>) -> MapError {
    match load_map(path, &CollisionRule::office_default(), root) {
        Ok(_) => panic!("{} should be refused", path.display()),
        Err(e) => e,
    }
}

/// The one problem, checked to mention `words`.
fn only_problem(error: &MapError, words: &[&str]) -> MapProblem {
    assert_eq!(error.0.len(), 1, "{error}");
    let problem = error.0[0].clone();
    for w in words {
        assert!(problem.reason.contains(w), "'{w}' not in: {problem}");
    }
    problem
}

#[test]
fn truncated_and_non_json_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = serde_json::to_string(&json_map(ROOM, Encoding::Array)).expect("json");
    let cut = write(dir.path(), "cut.tmj", &text[..text.len() / 2]);
    let p = only_problem(
        &refuse(&cut, None),
        &["not a Tiled JSON map", "ends too early"],
    );
    assert!(p.file.ends_with("cut.tmj"));
    let words = write(dir.path(), "words.json", "this is not a map");
    only_problem(&refuse(&words, None), &["not a Tiled JSON map", "line 1"]);
    let tileset = write_json(dir.path(), "set.json", &tileset_file());
    only_problem(&refuse(&tileset, None), &["Tiled tileset, not a map"]);
    let tmx = tmx_map(ROOM, Encoding::Csv, &tileset_xml(Some(1)), "");
    let cut = write(dir.path(), "cut.tmx", &tmx[..tmx.len() * 2 / 3]);
    only_problem(&refuse(&cut, None), &[]);
    let junk = write(dir.path(), "junk.tmx", "<<<>>");
    only_problem(&refuse(&junk, None), &["TMX"]);
}

#[test]
fn gids_outside_every_tileset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut map = json_map(ROOM, Encoding::Array);
    // The tileset has 8 tiles; 9 and 300 are in none, 0x80000009 neither.
    map["layers"][1]["layers"][0]["data"][8] = json!(300);
    map["layers"][1]["layers"][0]["data"][9] = json!(0x8000_0009u32);
    let p = only_problem(
        &refuse(&write_json(dir.path(), "gid.tmj", &map), None),
        &["GID 300", "no tileset", "1 more"],
    );
    assert_eq!(
        (p.layer.as_deref(), p.x, p.y),
        (Some("building/walls"), Some(2), Some(1))
    );

    // A GID in the gap between two tilesets.
    let mut map = json_map(ROOM, Encoding::Array);
    map["tilesets"] = json!([mapkit::tileset(1), mapkit::tileset(20)]);
    map["layers"][0]["data"][7] = json!(12);
    let p = only_problem(
        &refuse(&write_json(dir.path(), "gap.tmj", &map), None),
        &["GID 12"],
    );
    assert_eq!(
        (p.layer.as_deref(), p.x, p.y),
        (Some("floor"), Some(1), Some(1))
    );

    // The same in TMX, zlib-compressed.
    let (floor, _) = mapkit::layers_from(ROOM);
    let mut bad = floor.clone();
    bad[13] = 99;
    let tmx = tmx_map(
        ROOM,
        Encoding::Base64(Some("zlib")),
        &tileset_xml(Some(1)),
        "",
    )
    .replace(
        &encode_base64(&floor, Some("zlib")),
        &encode_base64(&bad, Some("zlib")),
    );
    let p = only_problem(
        &refuse(&write(dir.path(), "gid.tmx", &tmx), None),
        &["GID 99"],
    );
    assert_eq!(
        (p.layer.as_deref(), p.x, p.y),
        (Some("floor"), Some(1), Some(2))
    );

    // A tile object, at its bottom-left tile.
    let mut map = json_map(ROOM, Encoding::Array);
    map["layers"][2]["objects"] =
        json!([{"id": 4, "gid": 0x8000_0040u32, "x": 64, "y": 96, "width": 32, "height": 32}]);
    let p = only_problem(
        &refuse(&write_json(dir.path(), "obj.tmj", &map), None),
        &["tile object 4", "GID 64"],
    );
    assert_eq!(
        (p.layer.as_deref(), p.x, p.y),
        (Some("zones"), Some(2), Some(2))
    );

    // Not a number at all.
    let mut map = json_map(ROOM, Encoding::Array);
    map["layers"][0]["data"][3] = json!(-1);
    let p = only_problem(
        &refuse(&write_json(dir.path(), "neg.tmj", &map), None),
        &["-1"],
    );
    assert_eq!(
        (p.layer.as_deref(), p.x, p.y),
        (Some("floor"), Some(3), Some(0))
    );
}

#[test]
fn missing_external_tilesets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut map = json_map(ROOM, Encoding::Array);
    map["tilesets"] = json!([{"firstgid": 1, "source": "sets/gone.tsj"}]);
    let p = only_problem(
        &refuse(&write_json(dir.path(), "a.tmj", &map), None),
        &["'sets/gone.tsj'", "missing"],
    );
    assert!(p.file.ends_with("a.tmj"), "{p}");
    for set in ["sets/gone.tsx", "sets/gone.tsj"] {
        let tmx = tmx_map(
            ROOM,
            Encoding::Csv,
            &format!(r#"<tileset firstgid="1" source="{set}"/>"#),
            "",
        );
        only_problem(
            &refuse(&write(dir.path(), "b.tmx", &tmx), None),
            &[set, "missing"],
        );
    }
    // A broken external tileset names the tileset's file.
    write(dir.path(), "sets/broken.tsj", "{\"name\": ");
    map["tilesets"] = json!([{"firstgid": 1, "source": "sets/broken.tsj"}]);
    let p = only_problem(
        &refuse(&write_json(dir.path(), "c.tmj", &map), None),
        &["not a Tiled JSON tileset"],
    );
    assert!(p.file.ends_with("sets/broken.tsj"), "{p}");
}

#[test]
fn layer_data_of_the_wrong_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut map = json_map(ROOM, Encoding::Array);
    map["layers"][0]["data"].as_array_mut().expect("data").pop();
    let p = only_problem(
        &refuse(&write_json(dir.path(), "short.tmj", &map), None),
        &["23 tiles", "24"],
    );
    assert_eq!(p.layer.as_deref(), Some("floor"));
    let mut map = json_map(ROOM, Encoding::Base64(Some("gzip")));
    map["layers"][0]["data"] = json!(encode_base64(&[1; 20], Some("gzip")));
    only_problem(
        &refuse(&write_json(dir.path(), "b64.tmj", &map), None),
        &["20 tiles"],
    );
    let mut map = json_map(ROOM, Encoding::Array);
    map["layers"][0]["width"] = json!(5);
    only_problem(
        &refuse(&write_json(dir.path(), "size.tmj", &map), None),
        &["5×4", "6×4"],
    );
    let tmx = tmx_map(ROOM, Encoding::Csv, &tileset_xml(Some(1)), "").replacen(
        "\n1,1,1,1,1,1,",
        "\n1,1,1,1,1,1,1,",
        1,
    );
    let p = only_problem(
        &refuse(&write(dir.path(), "long.tmx", &tmx), None),
        &["more than the 24 tiles"],
    );
    assert_eq!(p.layer.as_deref(), Some("floor"));
}

#[test]
fn maps_over_the_limits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut map = json_map(ROOM, Encoding::Array);
    map["width"] = json!(5000);
    only_problem(
        &refuse(&write_json(dir.path(), "wide.tmj", &map), None),
        &["5000×4", "4096"],
    );
    let tmx = tmx_map(ROOM, Encoding::Csv, &tileset_xml(Some(1)), "").replacen(
        "height=\"4\"",
        "height=\"9000\"",
        1,
    );
    only_problem(
        &refuse(&write(dir.path(), "tall.tmx", &tmx), None),
        &["6×9000", "4096"],
    );
    // Infinite: two chunks 5000 tiles apart.
    let chunk = |x: i32| json!({"x": x, "y": 0, "width": 1, "height": 1, "data": [1]});
    let map = json!({"type": "map", "orientation": "orthogonal", "infinite": true, "width": 10, "height": 10,
        "tilewidth": 32, "tileheight": 32, "tilesets": [mapkit::tileset(1)],
        "layers": [{"type": "tilelayer", "name": "floor", "chunks": [chunk(-2500), chunk(2500)]}]});
    only_problem(
        &refuse(&write_json(dir.path(), "far.tmj", &map), None),
        &["5001×1", "4096"],
    );
    // A file over 64 MiB (sparse: nothing is written).
    let huge = dir.path().join("huge.tmj");
    std::fs::File::create(&huge)
        .expect("create")
        .set_len(65 << 20)
        .expect("grow");
    only_problem(&refuse(&huge, None), &["larger than 64 MiB"]);
}

#[test]
fn compressed_data_that_inflates_too_far() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 16 Mi tiles of zeros compress to a few kB; the layer holds 24.
    let bomb = vec![0u32; 1 << 24];
    for c in ["zlib", "gzip", "zstd"] {
        let mut map = json_map(ROOM, Encoding::Base64(Some(c)));
        map["layers"][0]["data"] = json!(encode_base64(&bomb, Some(c)));
        let p = only_problem(
            &refuse(&write_json(dir.path(), "bomb.tmj", &map), None),
            &["inflates past the 96 bytes"],
        );
        assert_eq!(p.layer.as_deref(), Some("floor"));
        let (floor, _) = mapkit::layers_from(ROOM);
        let tmx = tmx_map(ROOM, Encoding::Base64(Some(c)), &tileset_xml(Some(1)), "").replacen(
            &encode_base64(&floor, Some(c)),
            &encode_base64(&bomb, Some(c)),
            1,
        );
        let p = only_problem(
            &refuse(&write(dir.path(), "bomb.tmx", &tmx), None),
            &["inflates past the 96 bytes"],
        );
        assert_eq!(p.layer.as_deref(), Some("floor"));
    }
}

#[test]
fn files_outside_the_drop_folder() {
    let maps = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    write_json(outside.path(), "far.tsj", &tileset_file());
    write(outside.path(), "far.tsx", &tileset_xml(None));
    write_json(
        outside.path(),
        "far.tj",
        &json!({"type": "template", "object": {"type": "area", "width": 32, "height": 32}}),
    );
    let rel = |f: &str| {
        format!(
            "../{}/{f}",
            outside.path().file_name().expect("name").to_string_lossy()
        )
    };
    let root = Some(maps.path());
    for set in ["far.tsj", "far.tsx"] {
        let mut map = json_map(ROOM, Encoding::Array);
        map["tilesets"] = json!([{"firstgid": 1, "source": rel(set)}]);
        let path = write_json(maps.path(), "a.tmj", &map);
        only_problem(&refuse(&path, root), &["outside the maps folder"]);
        // check-map and scenarios (no drop folder) read it.
        assert!(load_map(&path, &CollisionRule::office_default(), None).is_ok());
        let tmx = tmx_map(
            ROOM,
            Encoding::Csv,
            &format!(r#"<tileset firstgid="1" source="{}"/>"#, rel(set)),
            "",
        );
        only_problem(
            &refuse(&write(maps.path(), "b.tmx", &tmx), root),
            &["outside the maps folder"],
        );
    }
    let mut map = json_map(ROOM, Encoding::Array);
    map["layers"][2]["objects"] = json!([{"id": 1, "template": rel("far.tj"), "x": 0, "y": 0}]);
    only_problem(
        &refuse(&write_json(maps.path(), "c.tmj", &map), root),
        &["template", "outside the maps folder"],
    );
    let mut map = json_map(ROOM, Encoding::Array);
    map["tilesets"][0]["image"] = json!("../../etc/passwd");
    only_problem(
        &refuse(&write_json(maps.path(), "d.tmj", &map), root),
        &["image", "outside the maps folder"],
    );
    // A link inside the folder to a tileset outside it.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.path().join("far.tsj"), maps.path().join("link.tsj"))
            .expect("symlink");
        let mut map = json_map(ROOM, Encoding::Array);
        map["tilesets"] = json!([{"firstgid": 1, "source": "link.tsj"}]);
        only_problem(
            &refuse(&write_json(maps.path(), "e.tmj", &map), root),
            &["outside the maps folder"],
        );
    }
}

#[test]
fn maps_that_are_not_orthogonal() {
    let dir = tempfile::tempdir().expect("tempdir");
    for orientation in ["isometric", "staggered", "hexagonal"] {
        let mut map = json_map(ROOM, Encoding::Array);
        map["orientation"] = json!(orientation);
        only_problem(
            &refuse(&write_json(dir.path(), "iso.tmj", &map), None),
            &[orientation, "orthogonal maps only"],
        );
        let tmx = tmx_map(ROOM, Encoding::Csv, &tileset_xml(Some(1)), "").replace(
            "orientation=\"orthogonal\"",
            &format!("orientation=\"{orientation}\""),
        );
        only_problem(
            &refuse(&write(dir.path(), "iso.tmx", &tmx), None),
            &[orientation, "orthogonal maps only"],
        );
    }
}

/// Damaged copies of good maps (bytes flipped, cut, repeated) load or are
/// refused, and the reader never fails on them (no panic).
#[test]
fn damaged_maps_never_break_the_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = StdRng::seed_from_u64(0x6d61_7073);
    let originals = [
        serde_json::to_vec(&json_map(ROOM, Encoding::Base64(Some("zlib")))).expect("json"),
        serde_json::to_vec(&json_map(ROOM, Encoding::Array)).expect("json"),
        tmx_map(
            ROOM,
            Encoding::Base64(Some("zstd")),
            &tileset_xml(Some(1)),
            "",
        )
        .into_bytes(),
        tmx_map(ROOM, Encoding::Csv, &tileset_xml(Some(1)), "").into_bytes(),
    ];
    for round in 0..400 {
        let (i, original) = (round % originals.len(), &originals[round % originals.len()]);
        let mut bytes = original.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            match rng.random_range(0..3) {
                0 => bytes[at] = rng.random(),
                1 => bytes.truncate(at),
                _ => {
                    let end = (at + rng.random_range(1..40)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        let name = if i < 2 { "damaged.tmj" } else { "damaged.tmx" };
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        if let Err(e) = load_map(&path, &CollisionRule::office_default(), Some(dir.path())) {
            assert!(
                !e.to_string().contains("reader failed"),
                "round {round}: {e}"
            );
            assert!(!e.0.is_empty());
        }
    }
}
