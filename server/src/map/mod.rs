//! Office maps: Tiled files read into what the office needs (the collision
//! grid, zones, spawn tiles) and what clients load (`GET /maps/{id}`).
//!
//! Reading goes file → normalized document ([`doc`]: Tiled JSON by [`json`],
//! Tiled XML by [`tmx`] through the `tiled` crate; external tilesets and
//! templates inlined, layer data decoded with bounded decompression, infinite
//! maps made fixed-size) → typed views ([`model`]) → the [`CollisionGrid`]
//! grid-engine would compute for the avatars' char layer ([`collision`]),
//! zones and spawns ([`zones`]), and the client's JSON copy. Nothing is
//! half-loaded: a map either loads whole or is refused with every problem.
//!
//! [`check`] is the `check-map` command; [`watch`] watches the maps folder.

pub mod check;
mod collision;
mod data;
mod doc;
mod error;
mod files;
mod json;
pub mod model;
mod template;
mod tileset;
mod tmx;
mod tmx_scan;
mod tsx;
pub mod watch;
mod zones;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize as _;

pub use collision::{CHAR_LAYER_PROPERTY, CollisionRule, TileLayer, collision_grid};
pub use data::encode_base64;
pub use error::{MapError, MapProblem};
pub use zones::{MEETING_PROPERTIES, Zone, ZoneKind};

use crate::movement::CollisionGrid;
use data::TileBudget;
use files::MapFiles;
use model::RawTileset;

/// Largest map accepted, in tiles per side.
pub const MAX_SIDE: u32 = 4096;

/// Largest file read (a map, tileset or template).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Most tiles all the tile layers of one map may hold together (4 bytes each).
pub const MAX_TOTAL_TILES: u64 = 1 << 26;

/// A map the office can run on.
#[derive(Debug, Clone)]
pub struct OfficeMap {
    /// Where it was read from.
    pub path: PathBuf,
    /// Width in tiles.
    pub width: u32,
    /// Height in tiles.
    pub height: u32,
    /// Tile width in pixels.
    pub tile_width: u32,
    /// Tile height in pixels.
    pub tile_height: u32,
    /// Tiled's tile coordinates of tile (0, 0): an infinite map is shifted
    /// so that its tiles start at (0, 0); (0, 0) for fixed-size maps.
    pub origin: (i32, i32),
    /// Names of the tile layers, flattened (`group/child`).
    pub layers: Vec<String>,
    /// Blocking, for the avatars' char layer.
    pub grid: CollisionGrid,
    /// Tiles where avatars appear, free of collisions, in map order.
    pub spawns: Vec<(i32, i32)>,
    /// Meeting rooms, silent areas, spawn areas and named areas.
    pub zones: Vec<Zone>,
    /// The map as clients load it: Tiled JSON, tilesets embedded, plain
    /// layer data, fixed size, image paths as `/maps/{id}/{file}` URLs.
    pub client_json: Bytes,
    /// The images those URLs name: `{file}` → the file on disk.
    pub images: BTreeMap<String, PathBuf>,
    /// Every file read: the map, then its tilesets and templates.
    pub files: Vec<PathBuf>,
}

/// Whether `path` names a Tiled map by its extension (`.tmj`, `.json`, `.tmx`).
pub fn is_map_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["tmj", "json", "tmx"]
            .iter()
            .any(|m| e.eq_ignore_ascii_case(m))
    })
}

/// Reads the map at `path`. With a `root`, every file it refers to
/// (tilesets, templates, images) must be inside that folder, as in an
/// office's drop folder; `None` (check-map, scenarios) reads anything.
pub fn load_map(
    path: &Path,
    rule: &CollisionRule,
    root: Option<&Path>,
) -> Result<OfficeMap, MapError> {
    load_tracked(path, rule, root).0
}

/// [`load_map`], with every file the map refers to (read or not, found or
/// not), even when it is refused: what the watcher re-validates it for.
pub(crate) fn load_tracked(
    path: &Path,
    rule: &CollisionRule,
    root: Option<&Path>,
) -> (Result<OfficeMap, MapError>, Vec<PathBuf>) {
    let mut files = MapFiles::new(path, root);
    let result = catch_unwind(AssertUnwindSafe(|| load(&mut files, rule))).unwrap_or_else(|_| {
        Err(MapError::single(
            path,
            "the map could not be read (the reader failed on it); please report this map",
        ))
    });
    let result = result.map_err(|e| shown_as_given(e, &files.map_dir, path));
    (result, files.wanted.take())
}

fn load(files: &mut MapFiles, rule: &CollisionRule) -> Result<OfficeMap, MapError> {
    let map_path = files.map_path.clone();
    let bytes = files.read_file(&map_path, "map")?;
    let mut budget = TileBudget::default();
    let is_tmx = map_path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tmx"));
    let doc = if is_tmx {
        tmx::read_tmx_map(files, &bytes, &mut budget)?
    } else {
        json::read_json_map(files, &bytes, &mut budget)?
    };
    drop(bytes);
    doc.check_size(&map_path)?;
    let tilesets = doc
        .tilesets
        .iter()
        .map(RawTileset::deserialize)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MapError::single(&map_path, format!("a tileset cannot be read: {e}")))?;
    let layers = collision::flatten_tile_layers(&map_path, &doc)?;
    collision::check_gids(&map_path, doc.width, &tilesets, &layers)?;
    collision::check_object_gids(&map_path, &doc, &tilesets)?;
    let grid = collision_grid(doc.width, doc.height, &tilesets, &layers, rule);
    let (zones, spawns) = zones::read_zones(&map_path, &doc, &layers, &grid)?;
    let layer_names = layers.iter().map(|l| l.name.clone()).collect();
    let client_json = serde_json::to_vec(&doc)
        .map_err(|e| MapError::single(&map_path, format!("cannot write the client's copy: {e}")))?;
    Ok(OfficeMap {
        path: map_path,
        width: doc.width,
        height: doc.height,
        tile_width: doc.tile_width,
        tile_height: doc.tile_height,
        origin: doc.origin,
        layers: layer_names,
        grid,
        spawns,
        zones,
        client_json: Bytes::from(client_json),
        images: std::mem::take(&mut files.images),
        files: std::mem::take(&mut files.read),
    })
}

/// Names files in problems as the caller named the map: files in the map's
/// folder relative to the path given.
fn shown_as_given(mut error: MapError, map_dir: &Path, given: &Path) -> MapError {
    let given_dir = given.parent().unwrap_or(Path::new(""));
    for problem in &mut error.0 {
        if let Ok(relative) = Path::new(&problem.file).strip_prefix(map_dir) {
            problem.file = given_dir.join(relative).display().to_string();
        }
    }
    error
}
