//! From Tiled layers to grid-engine's collisions: which layers count, which
//! tiles block, which directions are closed.

use std::path::Path;

use metaoffice_protocol::Direction;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::tiled::{GID_FLAG_BITS, Properties, RawLayer, RawMap, property, truthy};
use super::{MapError, MapProblem};
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

/// A tile layer with its GIDs (flip bits cleared), in map order.
#[derive(Debug, Clone)]
pub struct TileLayer {
    /// Name, `group/child` inside groups.
    pub name: String,
    /// One GID per tile, row by row; 0 is no tile.
    pub gids: Vec<u32>,
    /// The layer's properties.
    pub properties: Properties,
}

impl TileLayer {
    fn is_char_layer(&self) -> bool {
        property(&self.properties, CHAR_LAYER_PROPERTY).is_some_and(|v| !v.is_null())
    }
}

fn problem(path: &Path, layer: &str, reason: String) -> MapProblem {
    MapProblem {
        file: path.display().to_string(),
        layer: Some(layer.to_owned()),
        x: None,
        y: None,
        reason,
    }
}

/// The tile layers, groups flattened depth first as Phaser names them.
pub fn flatten_tile_layers(path: &Path, map: &RawMap) -> Result<Vec<TileLayer>, MapError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    flatten_into(path, map, &map.layers, "", &mut out, &mut problems);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(MapError(problems))
    }
}

fn flatten_into(
    path: &Path,
    map: &RawMap,
    layers: &[RawLayer],
    prefix: &str,
    out: &mut Vec<TileLayer>,
    problems: &mut Vec<MapProblem>,
) {
    for layer in layers {
        let name = format!("{prefix}{}", layer.name);
        match layer.kind.as_str() {
            "group" => flatten_into(path, map, &layer.layers, &format!("{name}/"), out, problems),
            "tilelayer" => match read_gids(map, layer) {
                Ok(gids) => out.push(TileLayer {
                    name,
                    gids,
                    properties: layer.properties.clone(),
                }),
                Err(reason) => problems.push(problem(path, &name, reason)),
            },
            _ => {}
        }
    }
}

fn read_gids(map: &RawMap, layer: &RawLayer) -> Result<Vec<u32>, String> {
    let expected = map.width as usize * map.height as usize;
    if layer.width.unwrap_or(map.width) != map.width
        || layer.height.unwrap_or(map.height) != map.height
    {
        return Err(format!(
            "the layer is {}×{} tiles but the map is {}×{}",
            layer.width.unwrap_or(0),
            layer.height.unwrap_or(0),
            map.width,
            map.height
        ));
    }
    let gids: Vec<u32> = match &layer.data {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_u64()
                    .and_then(|g| u32::try_from(g).ok())
                    .ok_or_else(|| format!("tile {i} of the layer data is {v}, not a tile GID"))
            })
            .collect::<Result<_, _>>()?,
        Some(Value::String(_)) => {
            return Err(format!(
                "{} layer data is not read yet; save the map with CSV layer format",
                layer.encoding.as_deref().unwrap_or("encoded")
            ));
        }
        None => return Err("the tile layer has no data".into()),
        Some(other) => {
            return Err(format!(
                "the layer data is {other}, not a list of tile GIDs"
            ));
        }
    };
    if gids.len() != expected {
        return Err(format!(
            "the layer data holds {} tiles but the map is {}×{} = {expected}",
            gids.len(),
            map.width,
            map.height
        ));
    }
    Ok(gids.into_iter().map(|g| g & !GID_FLAG_BITS).collect())
}

/// Per-tile properties by GID, from the map's tilesets.
fn tile_properties<'a>(
    path: &Path,
    map: &'a RawMap,
) -> Result<FxHashMap<u32, &'a Properties>, MapError> {
    let mut table = FxHashMap::default();
    for tileset in &map.tilesets {
        if let Some(source) = &tileset.source {
            return Err(MapError::single(
                path,
                format!(
                    "external tileset '{source}' is not read yet; embed the tileset in the map"
                ),
            ));
        }
        for tile in &tileset.tiles {
            table
                .entry(tileset.firstgid.saturating_add(tile.id))
                .or_insert(&tile.properties);
        }
    }
    Ok(table)
}

/// The layers that block avatars on the lowest char layer: up to and
/// including the first layer with `ge_charLayer`, or every layer when none has it.
fn collision_layers(layers: &[TileLayer]) -> &[TileLayer] {
    match layers.iter().position(TileLayer::is_char_layer) {
        Some(i) => &layers[..=i],
        None => layers,
    }
}

/// The collision grid grid-engine computes for avatars on the lowest char layer.
pub fn collision_grid(
    path: &Path,
    map: &RawMap,
    layers: &[TileLayer],
    rule: &CollisionRule,
) -> Result<CollisionGrid, MapError> {
    let props = tile_properties(path, map)?;
    let last_gid = map
        .tilesets
        .iter()
        .map(|t| {
            t.tile_count
                .map(|c| t.firstgid.saturating_add(c).saturating_sub(1))
        })
        .try_fold(0u32, |max, last| last.map(|l| max.max(l)));
    let mut problems = Vec::new();
    let directional: Vec<String> = Direction::ALL
        .iter()
        .map(|d| format!("ge_collide_{}", d.name()))
        .collect();
    let relevant = collision_layers(layers);
    let mut grid = CollisionGrid::open(map.width, map.height);
    let width = map.width as usize;
    for layer in layers {
        if let Some(last) = last_gid
            && let Some((i, gid)) = layer.gids.iter().enumerate().find(|&(_, &g)| g > last)
        {
            problems.push(MapProblem {
                file: path.display().to_string(),
                layer: Some(layer.name.clone()),
                x: Some((i % width) as i64),
                y: Some((i / width) as i64),
                reason: format!(
                    "tile GID {gid} is in no tileset (the last tileset ends at {last})"
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Err(MapError(problems));
    }
    for i in 0..width * map.height as usize {
        let mut tile = TileCollision::default();
        let mut present = false;
        for layer in relevant {
            let gid = layer.gids[i];
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
    Ok(grid)
}

/// Tiles on layers named `start` or with `startLayer` set: where avatars appear.
pub fn spawn_tiles(map: &RawMap, layers: &[TileLayer]) -> Vec<(i32, i32)> {
    let width = map.width as usize;
    let mut spawns = Vec::new();
    for layer in layers {
        let base = layer.name.rsplit('/').next().unwrap_or(&layer.name);
        if base == "start" || property(&layer.properties, "startLayer").is_some_and(truthy) {
            for (i, &gid) in layer.gids.iter().enumerate() {
                if gid != 0 {
                    spawns.push(((i % width) as i32, (i / width) as i32));
                }
            }
        }
    }
    spawns
}
