//! The normalized map: whatever the designer dropped (JSON or TMX, external
//! or embedded tilesets, compressed or chunked data), read into one model
//! that serializes as the Tiled JSON Phaser loads: tilesets embedded, layer
//! data as plain arrays, fixed size.
//!
//! Fields the server does not interpret are kept as JSON values and passed to
//! clients unchanged; tile data is kept as `u32` GIDs (flip bits included),
//! never as JSON values, so large maps stay small in memory.

use std::path::Path;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::error::{MapError, MapProblem};
use super::{MAX_SIDE, MAX_TOTAL_TILES};

/// A map, normalized.
#[derive(Debug, Clone, Default)]
pub(crate) struct Doc {
    /// Map-level fields not modelled below (properties, orientation, ...).
    pub fields: Map<String, Value>,
    /// Width in tiles.
    pub width: u32,
    /// Height in tiles.
    pub height: u32,
    /// Tile width in pixels.
    pub tile_width: u32,
    /// Tile height in pixels.
    pub tile_height: u32,
    /// Whether the layers are still in chunks (until [`Doc::make_finite`]).
    pub infinite: bool,
    /// Tiled's tile coordinates of tile (0, 0) (non-zero for infinite maps).
    pub origin: (i32, i32),
    /// Tilesets, embedded, each with its `firstgid`.
    pub tilesets: Vec<Map<String, Value>>,
    /// Layers, bottom first.
    pub layers: Vec<DocLayer>,
}

/// A layer of any kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct DocLayer {
    /// Its own name (not flattened).
    pub name: String,
    /// `tilelayer`, `objectgroup`, `imagelayer` or `group`.
    pub kind: String,
    /// Every other field (properties, objects, opacity, ...).
    pub fields: Map<String, Value>,
    /// Tile layers: the tiles.
    pub tiles: Option<TileData>,
    /// Group layers: the children.
    pub layers: Vec<DocLayer>,
}

/// The tiles of a tile layer.
#[derive(Debug, Clone)]
pub(crate) enum TileData {
    /// One GID per tile of the map, row by row.
    Grid(Vec<u32>),
    /// Infinite maps, until [`Doc::make_finite`].
    Chunks(Vec<Chunk>),
}

/// A chunk of an infinite map's layer.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Tile x of its top-left tile.
    pub x: i64,
    /// Tile y of its top-left tile.
    pub y: i64,
    /// Width in tiles.
    pub width: u32,
    /// Height in tiles.
    pub height: u32,
    /// Its GIDs, row by row.
    pub gids: Vec<u32>,
}

/// Map fields the [`Doc`] writes itself.
const MAP_OWN: &[&str] = &[
    "width",
    "height",
    "tilewidth",
    "tileheight",
    "infinite",
    "layers",
    "tilesets",
];

/// Layer fields the [`DocLayer`] writes itself.
pub(crate) const LAYER_OWN: &[&str] = &[
    "name",
    "type",
    "data",
    "chunks",
    "encoding",
    "compression",
    "layers",
    "startx",
    "starty",
    "width",
    "height",
];

impl Doc {
    /// Calls `f` with every layer and its flattened name (`group/child`),
    /// depth first, bottom first, as Phaser names them.
    pub fn visit_layers<'a>(&'a self, mut f: impl FnMut(&str, &'a DocLayer)) {
        fn walk<'a>(layers: &'a [DocLayer], prefix: &str, f: &mut impl FnMut(&str, &'a DocLayer)) {
            for layer in layers {
                let name = format!("{prefix}{}", layer.name);
                f(&name, layer);
                if layer.kind == "group" {
                    walk(&layer.layers, &format!("{name}/"), f);
                }
            }
        }
        walk(&self.layers, "", &mut f);
    }

    /// Like [`Doc::visit_layers`], with each layer mutable.
    fn visit_layers_mut(&mut self, mut f: impl FnMut(&mut DocLayer)) {
        fn walk(layers: &mut [DocLayer], f: &mut impl FnMut(&mut DocLayer)) {
            for layer in layers {
                f(layer);
                walk(&mut layer.layers, f);
            }
        }
        walk(&mut self.layers, &mut f);
    }

    /// Turns an infinite map into a fixed-size one: the bounding box of every
    /// chunk becomes the map, shifted to start at (0, 0); objects and image
    /// layers move by the same shift, which [`Doc::origin`] records.
    pub fn make_finite(&mut self, path: &Path) -> Result<(), MapError> {
        if !self.infinite {
            return Ok(());
        }
        let mut bounds: Option<(i64, i64, i64, i64)> = None;
        let mut tile_layers = 0u64;
        self.visit_layers(|_, layer| {
            if let Some(TileData::Chunks(chunks)) = &layer.tiles {
                tile_layers += 1;
                for c in chunks {
                    let (x1, y1) = (c.x + i64::from(c.width), c.y + i64::from(c.height));
                    bounds = Some(match bounds {
                        None => (c.x, c.y, x1, y1),
                        Some((a, b, e, d)) => (a.min(c.x), b.min(c.y), e.max(x1), d.max(y1)),
                    });
                }
            }
        });
        let Some((x0, y0, x1, y1)) = bounds else {
            return Err(MapError::single(
                path,
                "the infinite map has no tiles; draw at least one tile",
            ));
        };
        let (width, height) = (x1 - x0, y1 - y0);
        if width > i64::from(MAX_SIDE) || height > i64::from(MAX_SIDE) {
            return Err(MapError::single(
                path,
                format!(
                    "the infinite map's tiles span {width}×{height} tiles (from ({x0}, {y0}) to ({}, {})); a map may be at most {MAX_SIDE} tiles on each side",
                    x1 - 1,
                    y1 - 1
                ),
            ));
        }
        if tile_layers * (width * height) as u64 > MAX_TOTAL_TILES {
            return Err(MapError::single(
                path,
                format!(
                    "{tile_layers} tile layers of {width}×{height} tiles are more than {MAX_TOTAL_TILES} tiles in all"
                ),
            ));
        }
        let (Ok(ox), Ok(oy)) = (i32::try_from(x0), i32::try_from(y0)) else {
            return Err(MapError::single(
                path,
                "the chunks are too far from the origin",
            ));
        };
        let (w, h) = (width as usize, height as usize);
        let (dx, dy) = (
            f64::from(ox) * f64::from(self.tile_width),
            f64::from(oy) * f64::from(self.tile_height),
        );
        self.visit_layers_mut(|layer| {
            if let Some(TileData::Chunks(chunks)) = &layer.tiles {
                let mut grid = vec![0u32; w * h];
                for c in chunks {
                    let (cx, cy) = ((c.x - x0) as usize, (c.y - y0) as usize);
                    for (row, gids) in c.gids.chunks(c.width.max(1) as usize).enumerate() {
                        let start = (cy + row) * w + cx;
                        grid[start..start + gids.len()].copy_from_slice(gids);
                    }
                }
                layer.tiles = Some(TileData::Grid(grid));
            }
            match layer.kind.as_str() {
                "objectgroup" => {
                    if let Some(Value::Array(objects)) = layer.fields.get_mut("objects") {
                        for object in objects.iter_mut().filter_map(Value::as_object_mut) {
                            shift(object, "x", dx);
                            shift(object, "y", dy);
                        }
                    }
                }
                "imagelayer" => {
                    shift(&mut layer.fields, "offsetx", dx);
                    shift(&mut layer.fields, "offsety", dy);
                }
                _ => {}
            }
        });
        self.width = width as u32;
        self.height = height as u32;
        self.origin = (ox, oy);
        self.infinite = false;
        Ok(())
    }

    /// Checks the map's size against the limits.
    pub fn check_size(&self, path: &Path) -> Result<(), MapProblem> {
        if self.width == 0 || self.height == 0 || self.width > MAX_SIDE || self.height > MAX_SIDE {
            return Err(MapProblem::new(
                path,
                format!(
                    "the map is {}×{} tiles; it must be 1 to {MAX_SIDE} tiles on each side",
                    self.width, self.height
                ),
            ));
        }
        Ok(())
    }
}

/// Subtracts `by` from the number at `key`, if there is one.
fn shift(fields: &mut Map<String, Value>, key: &str, by: f64) {
    if by == 0.0 {
        return;
    }
    let value = fields.get(key).and_then(Value::as_f64).unwrap_or(0.0) - by;
    let number = if value.fract() == 0.0 && value.abs() < 9.0e15 {
        Value::from(value as i64)
    } else {
        Value::from(value)
    };
    fields.insert(key.to_owned(), number);
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in &self.fields {
            if !MAP_OWN.contains(&k.as_str()) {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("width", &self.width)?;
        m.serialize_entry("height", &self.height)?;
        m.serialize_entry("tilewidth", &self.tile_width)?;
        m.serialize_entry("tileheight", &self.tile_height)?;
        m.serialize_entry("infinite", &false)?;
        let layers: Vec<_> = self
            .layers
            .iter()
            .map(|layer| LayerOut {
                layer,
                size: (self.width, self.height),
            })
            .collect();
        m.serialize_entry("layers", &layers)?;
        m.serialize_entry("tilesets", &self.tilesets)?;
        m.end()
    }
}

struct LayerOut<'a> {
    layer: &'a DocLayer,
    size: (u32, u32),
}

impl Serialize for LayerOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let layer = self.layer;
        let mut m = s.serialize_map(None)?;
        for (k, v) in &layer.fields {
            if !LAYER_OWN.contains(&k.as_str()) {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("name", &layer.name)?;
        m.serialize_entry("type", &layer.kind)?;
        if let Some(TileData::Grid(gids)) = &layer.tiles {
            m.serialize_entry("width", &self.size.0)?;
            m.serialize_entry("height", &self.size.1)?;
            m.serialize_entry("data", gids)?;
        }
        if layer.kind == "group" {
            let children: Vec<_> = layer
                .layers
                .iter()
                .map(|layer| LayerOut {
                    layer,
                    size: self.size,
                })
                .collect();
            m.serialize_entry("layers", &children)?;
        }
        m.end()
    }
}
