//! Office maps: Tiled files read into what the office needs (the collision
//! grid, spawn tiles) and what clients load (`GET /maps/{id}`).
//!
//! Reading goes file → [`tiled::RawMap`] → flattened tile layers and tile
//! properties → [`CollisionGrid`], the grid grid-engine would compute for the
//! avatars' char layer.

mod collision;
pub mod tiled;

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Serialize;

pub use collision::{CollisionRule, TileLayer, flatten_tile_layers};

use crate::movement::CollisionGrid;

/// Largest map accepted, in tiles per side.
pub const MAX_SIDE: u32 = 4096;

/// One thing wrong with a map, in a designer's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapProblem {
    /// The file at fault (the map or a file it refers to).
    pub file: String,
    /// The layer at fault, if one is.
    pub layer: Option<String>,
    /// Tile x, where it applies.
    pub x: Option<i64>,
    /// Tile y, where it applies.
    pub y: Option<i64>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for MapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(layer) = &self.layer {
            write!(f, ", layer '{layer}'")?;
        }
        if let (Some(x), Some(y)) = (self.x, self.y) {
            write!(f, ", tile ({x}, {y})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Why a map was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MapError(pub Vec<MapProblem>);

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl MapError {
    fn single(file: &Path, reason: impl Into<String>) -> MapError {
        MapError(vec![MapProblem {
            file: file.display().to_string(),
            layer: None,
            x: None,
            y: None,
            reason: reason.into(),
        }])
    }
}

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
    /// Names of the tile layers, flattened.
    pub layers: Vec<String>,
    /// Blocking, for the avatars' char layer.
    pub grid: CollisionGrid,
    /// Tiles where avatars appear (from a `start` layer), in reading order.
    pub spawns: Vec<(i32, i32)>,
    /// The map as clients load it (Tiled JSON).
    pub client_json: Bytes,
}

/// Reads a map file.
pub fn load_map(path: &Path, rule: &CollisionRule) -> Result<OfficeMap, MapError> {
    let bytes = std::fs::read(path)
        .map_err(|e| MapError::single(path, format!("cannot read the file: {e}")))?;
    parse_map(path, &bytes, rule)
}

/// Reads a map from the bytes of a Tiled JSON file found at `path`.
pub fn parse_map(path: &Path, bytes: &[u8], rule: &CollisionRule) -> Result<OfficeMap, MapError> {
    let raw: tiled::RawMap = serde_json::from_slice(bytes).map_err(|e| {
        MapError::single(
            path,
            format!(
                "not a Tiled JSON map: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    if let Some(orientation) = raw.orientation.as_deref()
        && orientation != "orthogonal"
    {
        return Err(MapError::single(
            path,
            format!("the map is {orientation}; offices walk on orthogonal maps only"),
        ));
    }
    if raw.width == 0 || raw.height == 0 || raw.width > MAX_SIDE || raw.height > MAX_SIDE {
        return Err(MapError::single(
            path,
            format!(
                "the map is {}×{} tiles; it must be 1 to {MAX_SIDE} tiles on each side",
                raw.width, raw.height
            ),
        ));
    }
    if raw.infinite {
        return Err(MapError::single(
            path,
            "infinite maps are not read yet; save the map as a fixed-size map",
        ));
    }
    let layers = flatten_tile_layers(path, &raw)?;
    let grid = collision::collision_grid(path, &raw, &layers, rule)?;
    let spawns = collision::spawn_tiles(&raw, &layers);
    Ok(OfficeMap {
        path: path.to_owned(),
        width: raw.width,
        height: raw.height,
        tile_width: raw.tile_width,
        tile_height: raw.tile_height,
        layers: layers.iter().map(|l| l.name.clone()).collect(),
        grid,
        spawns,
        client_json: Bytes::copy_from_slice(bytes),
    })
}
