//! From Tiled layers to grid-engine's collisions: which layers count, which
//! tiles block, which directions are closed.

use std::path::Path;

use metaoffice_protocol::Direction;
use rustc_hash::FxHashMap;

use super::doc::{Doc, DocLayer, TileData};
use super::error::{MapError, MapProblem};
use super::model::{
    GID_FLAG_BITS, Properties, RawTileset, deserialize_properties, property, truthy,
};
use crate::movement::{CollisionGrid, TileCollision};

/// grid-engine's char layer property.
pub const CHAR_LAYER_PROPERTY: &str = "ge_charLayer";

/// Which tile properties block a tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollisionRule {
    /// A tile with any of these properties truthy blocks.
    pub properties: Vec<String>,
}

impl CollisionRule {
    /// The offices' default: `ge_collide` (grid-engine) or `collides`
    /// (WorkAdventure, SkyOffice).
    pub fn office_default() -> CollisionRule {
        CollisionRule {
            properties: vec!["ge_collide".into(), "collides".into()],
        }
    }

    /// Only the one property `name`, as grid-engine's `collisionTilePropertyName`.
    pub fn only(name: &str) -> CollisionRule {
        CollisionRule {
            properties: vec![name.to_owned()],
        }
    }
}

/// A tile layer with its GIDs (flip bits included), in map order.
#[derive(Debug, Clone)]
pub struct TileLayer<'a> {
    /// Name, `group/child` inside groups.
    pub name: String,
    /// One GID per tile, row by row; 0 is no tile. Clear [`GID_FLAG_BITS`]
    /// before looking a tile up.
    pub gids: &'a [u32],
    /// The layer's properties.
    pub properties: Properties,
}

impl TileLayer<'_> {
    fn is_char_layer(&self) -> bool {
        property(&self.properties, CHAR_LAYER_PROPERTY).is_some_and(|v| !v.is_null())
    }
}

/// The tile layers, groups flattened depth first as Phaser names them.
pub(crate) fn flatten_tile_layers<'a>(
    path: &Path,
    doc: &'a Doc,
) -> Result<Vec<TileLayer<'a>>, MapError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    doc.visit_layers(|name, layer| {
        if let Some(TileData::Grid(gids)) = &layer.tiles {
            match layer_properties(layer) {
                Ok(properties) => out.push(TileLayer {
                    name: name.to_owned(),
                    gids,
                    properties,
                }),
                Err(reason) => problems.push(MapProblem::new(path, reason).in_layer(name)),
            }
        }
    });
    MapError::from_problems(problems)?;
    Ok(out)
}

/// A layer's custom properties.
pub(crate) fn layer_properties(layer: &DocLayer) -> Result<Properties, String> {
    match layer.fields.get("properties") {
        None => Ok(Vec::new()),
        Some(v) => deserialize_properties(v)
            .map_err(|e| format!("the layer's properties cannot be read: {e}")),
    }
}

/// Per-tile properties by GID, from the map's tilesets.
fn tile_properties(tilesets: &[RawTileset]) -> FxHashMap<u32, &Properties> {
    let mut table = FxHashMap::default();
    for tileset in tilesets {
        for tile in &tileset.tiles {
            table
                .entry(tileset.firstgid.saturating_add(tile.id))
                .or_insert(&tile.properties);
        }
    }
    table
}

/// The tileset GID `gid` (flip bits cleared) belongs to, if any has the tile.
pub(crate) fn gid_in_tilesets(tilesets: &[RawTileset], gid: u32) -> bool {
    tilesets
        .iter()
        .filter(|t| t.firstgid <= gid)
        .max_by_key(|t| t.firstgid)
        .is_some_and(|t| t.has_tile(gid - t.firstgid))
}

/// Every tile object whose GID is in no tileset (its tile is the one its
/// bottom-left corner is on).
pub(crate) fn check_object_gids(
    path: &Path,
    doc: &Doc,
    tilesets: &[RawTileset],
) -> Result<(), MapError> {
    let mut problems = Vec::new();
    let (tw, th) = (
        f64::from(doc.tile_width.max(1)),
        f64::from(doc.tile_height.max(1)),
    );
    doc.visit_layers(|name, layer| {
        let objects = layer.fields.get("objects").and_then(|o| o.as_array());
        for object in objects.into_iter().flatten() {
            let Some(raw) = object.get("gid").and_then(|g| g.as_u64()) else {
                continue;
            };
            let gid = u32::try_from(raw).unwrap_or(u32::MAX) & !GID_FLAG_BITS;
            if gid != 0 && !gid_in_tilesets(tilesets, gid) {
                let at = |key: &str, size: f64| {
                    (object.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0) / size).floor() as i64
                };
                let id = object.get("id").and_then(|v| v.as_u64()).unwrap_or(0);
                problems.push(
                    MapProblem::new(
                        path,
                        format!(
                            "tile object {id} uses GID {gid}, which is in no tileset of the map"
                        ),
                    )
                    .in_layer(name)
                    .at(at("x", tw), at("y", th) - 1),
                );
            }
        }
    });
    MapError::from_problems(problems)
}

/// Every tile whose GID is in no tileset: the first of each layer, with how
/// many more that layer has.
pub(crate) fn check_gids(
    path: &Path,
    width: u32,
    tilesets: &[RawTileset],
    layers: &[TileLayer],
) -> Result<(), MapError> {
    let width = width.max(1) as usize;
    let mut problems = Vec::new();
    for layer in layers {
        let mut bad = layer
            .gids
            .iter()
            .enumerate()
            .map(|(i, &g)| (i, g & !GID_FLAG_BITS))
            .filter(|&(_, g)| g != 0 && !gid_in_tilesets(tilesets, g));
        if let Some((i, gid)) = bad.next() {
            let more = bad.count();
            let also = if more > 0 {
                format!(" ({more} more tiles of this layer are in no tileset either)")
            } else {
                String::new()
            };
            problems.push(
                MapProblem::new(
                    path,
                    format!("tile GID {gid} is in no tileset of the map{also}"),
                )
                .in_layer(&layer.name)
                .at((i % width) as i64, (i / width) as i64),
            );
        }
    }
    MapError::from_problems(problems)
}

/// The layers that block avatars on the lowest char layer: up to and
/// including the first layer with `ge_charLayer`, or every layer when none has it.
fn collision_layers<'a, 'b>(layers: &'b [TileLayer<'a>]) -> &'b [TileLayer<'a>] {
    match layers.iter().position(TileLayer::is_char_layer) {
        Some(i) => &layers[..=i],
        None => layers,
    }
}

/// The collision grid grid-engine computes for avatars on the lowest char layer.
pub fn collision_grid(
    width: u32,
    height: u32,
    tilesets: &[RawTileset],
    layers: &[TileLayer],
    rule: &CollisionRule,
) -> CollisionGrid {
    let props = tile_properties(tilesets);
    let directional: Vec<String> = Direction::ALL
        .iter()
        .map(|d| format!("ge_collide_{}", d.name()))
        .collect();
    let relevant = collision_layers(layers);
    let mut grid = CollisionGrid::open(width, height);
    let width = width as usize;
    for i in 0..width * height as usize {
        let mut tile = TileCollision::default();
        let mut present = false;
        for layer in relevant {
            let gid = layer.gids[i] & !GID_FLAG_BITS;
            if gid == 0 {
                continue;
            }
            present = true;
            if let Some(p) = props.get(&gid) {
                if rule
                    .properties
                    .iter()
                    .any(|name| property(p, name).is_some_and(truthy))
                {
                    tile.blocked = true;
                }
                for (d, name) in directional.iter().enumerate() {
                    if property(p, name).is_some_and(truthy) {
                        tile.directions[d] = true;
                    }
                }
            }
        }
        tile.blocked |= !present;
        grid.set((i % width) as i32, (i / width) as i32, tile);
    }
    grid
}
