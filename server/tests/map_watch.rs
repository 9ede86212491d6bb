//! The maps folder watcher, on real files in a temporary folder: new,
//! changed, broken, fixed and removed maps; a changed tileset re-validates
//! the maps that use it. Events are awaited with a generous timeout (a hang
//! fails the test); nothing sleeps to synchronise.

mod mapkit;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use mapkit::{Encoding, ROOM, json_map, tileset_file, write, write_json};
use metaoffice_server::map::watch::{MapEvent, WatchOptions, watch_maps};
use serde_json::json;
use tokio::sync::mpsc::Receiver;

fn event_id(event: &MapEvent) -> &str {
    match event {
        MapEvent::Loaded { id, .. } | MapEvent::Refused { id, .. } | MapEvent::Removed { id } => id,
    }
}

/// The next event for office `id` that `accept` takes, skipping others
/// (an editor's intermediate states may be reported first).
async fn next_for(
    rx: &mut Receiver<MapEvent>,
    id: &str,
    accept: impl Fn(&MapEvent) -> bool,
) -> MapEvent {
    next_with_skipped(rx, id, accept).await.0
}

/// [`next_for`], with the ids of the events skipped on the way.
async fn next_with_skipped(
    rx: &mut Receiver<MapEvent>,
    id: &str,
    accept: impl Fn(&MapEvent) -> bool,
) -> (MapEvent, Vec<String>) {
    let wait = async {
        let mut skipped = Vec::new();
        loop {
            let event = rx.recv().await.expect("the watcher runs");
            if event_id(&event) == id && accept(&event) {
                return (event, skipped);
            }
            skipped.push(event_id(&event).to_owned());
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("no matching event for '{id}' within 30 s"))
}

fn loaded(e: &MapEvent) -> bool {
    matches!(e, MapEvent::Loaded { .. })
}

fn refused(e: &MapEvent) -> bool {
    matches!(e, MapEvent::Refused { .. })
}

fn options() -> WatchOptions {
    WatchOptions {
        quiet: Duration::from_millis(150),
        report_existing: true,
        ..WatchOptions::default()
    }
}

/// A map using the external tileset `tiles/test.tsj`.
fn map_with_external_tileset(dir: &Path, name: &str) {
    let mut map = json_map(ROOM, Encoding::Array);
    map["tilesets"] = json!([{"firstgid": 1, "source": "tiles/test.tsj"}]);
    write_json(dir, name, &map);
}

#[tokio::test]
async fn new_changed_broken_and_removed_maps_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_json(dir.path(), "a.tmj", &json_map(ROOM, Encoding::Array));
    let (_watch, mut rx) = watch_maps(dir.path(), options()).expect("watch");
    let MapEvent::Loaded { map, .. } = next_for(&mut rx, "a", loaded).await else {
        unreachable!()
    };
    assert_eq!((map.width, map.height), (6, 4));

    // A new map, saved in several writes.
    let text =
        serde_json::to_string(&json_map(ROOM, Encoding::Base64(Some("zlib")))).expect("json");
    let (first, rest) = text.split_at(text.len() / 2);
    let mut file = std::fs::File::create(dir.path().join("b.tmj")).expect("create");
    file.write_all(first.as_bytes()).expect("write");
    file.flush().expect("flush");
    file.write_all(rest.as_bytes()).expect("write");
    drop(file);
    next_for(&mut rx, "b", loaded).await;

    // Broken: refused with the file named; fixed: loaded again.
    write(dir.path(), "a.tmj", "{\"width\": 3, ");
    let MapEvent::Refused { error, path, .. } = next_for(&mut rx, "a", refused).await else {
        unreachable!()
    };
    assert!(path.ends_with("a.tmj"));
    assert!(error.to_string().contains("a.tmj"), "{error}");
    assert!(
        error.to_string().contains("not a Tiled JSON map"),
        "{error}"
    );
    write_json(
        dir.path(),
        "a.tmj",
        &json_map(&["...", "..."], Encoding::Array),
    );
    let MapEvent::Loaded { map, .. } = next_for(&mut rx, "a", loaded).await else {
        unreachable!()
    };
    assert_eq!((map.width, map.height), (3, 2));

    std::fs::remove_file(dir.path().join("b.tmj")).expect("remove");
    next_for(&mut rx, "b", |e| matches!(e, MapEvent::Removed { .. })).await;
}

#[tokio::test]
async fn a_changed_tileset_revalidates_the_maps_that_use_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_json(dir.path(), "tiles/test.tsj", &tileset_file());
    map_with_external_tileset(dir.path(), "c.tmj");
    let (_watch, mut rx) = watch_maps(dir.path(), options()).expect("watch");
    let MapEvent::Loaded { map, .. } = next_for(&mut rx, "c", loaded).await else {
        unreachable!()
    };
    // Floor (tile 1) is free.
    assert!(!map.grid.is_tile_blocked(1, 1));

    // The floor tile now collides.
    let mut ts = tileset_file();
    ts["tiles"][0] =
        json!({"id": 0, "properties": [{"name": "ge_collide", "type": "bool", "value": true}]});
    write_json(dir.path(), "tiles/test.tsj", &ts);
    let MapEvent::Loaded { map, .. } = next_for(
        &mut rx,
        "c",
        |e| matches!(e, MapEvent::Loaded { map, .. } if map.grid.is_tile_blocked(1, 1)),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(map.grid.walkable_tiles(), 0);

    // A missing tileset refuses the map; putting it back loads it again.
    std::fs::remove_file(dir.path().join("tiles/test.tsj")).expect("remove");
    let MapEvent::Refused { error, .. } = next_for(&mut rx, "c", refused).await else {
        unreachable!()
    };
    assert!(error.to_string().contains("tiles/test.tsj"), "{error}");
    assert!(error.to_string().contains("missing"), "{error}");
    write_json(dir.path(), "tiles/test.tsj", &tileset_file());
    let MapEvent::Loaded { map, .. } = next_for(&mut rx, "c", loaded).await else {
        unreachable!()
    };
    assert!(!map.grid.is_tile_blocked(1, 1));
}

#[tokio::test]
async fn tilesets_are_not_offices_and_files_outside_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    // A JSON tileset beside the maps is not an office once a map uses it.
    write_json(dir.path(), "shared.json", &tileset_file());
    let mut map = json_map(ROOM, Encoding::Array);
    map["tilesets"] = json!([{"firstgid": 1, "source": "shared.json"}]);
    write_json(dir.path(), "d.tmj", &map);
    let (_watch, mut rx) = watch_maps(dir.path(), options()).expect("watch");
    let (_, skipped) = next_with_skipped(&mut rx, "d", loaded).await;
    assert!(!skipped.iter().any(|id| id == "shared"), "{skipped:?}");

    // A map whose tileset is outside the folder.
    write_json(outside.path(), "far.tsj", &tileset_file());
    let far = outside.path().join("far.tsj");
    let mut map = json_map(ROOM, Encoding::Array);
    map["tilesets"] = json!([{"firstgid": 1, "source": far.display().to_string()}]);
    write_json(dir.path(), "e.tmj", &map);
    let MapEvent::Refused { error, .. } = next_for(&mut rx, "e", refused).await else {
        unreachable!()
    };
    assert!(
        error.to_string().contains("outside the maps folder"),
        "{error}"
    );

    // Changing the shared tileset reports the map, not the tileset.
    write_json(dir.path(), "shared.json", &tileset_file());
    let (event, skipped) = next_with_skipped(&mut rx, "d", |_| true).await;
    assert!(loaded(&event), "{event:?}");
    assert!(!skipped.iter().any(|id| id == "shared"), "{skipped:?}");
}
