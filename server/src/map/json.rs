//! Tiled JSON maps (`.tmj`, `.json`) into the normalized [`Doc`]: layer data
//! as arrays or base64 (compressed or not), chunks of infinite maps, external
//! tilesets and object templates.
//!
//! Layer data is read straight into `u32` GIDs; everything else the server
//! does not interpret stays as JSON values for the client's copy.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::data::{TileBudget, decode_text};
use super::doc::{Chunk, Doc, DocLayer, TileData};
use super::error::{MapError, MapProblem};
use super::files::MapFiles;
use super::{MAX_SIDE, template, tileset};

#[derive(Deserialize)]
struct JsonMap {
    #[serde(default)]
    layers: Vec<JsonLayer>,
    #[serde(default)]
    tilesets: Vec<Map<String, Value>>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

#[derive(Deserialize)]
struct JsonLayer {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<JsonData>,
    #[serde(default)]
    chunks: Option<Vec<JsonChunk>>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    compression: Option<String>,
    #[serde(default)]
    layers: Vec<JsonLayer>,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

#[derive(Deserialize)]
struct JsonChunk {
    x: i64,
    y: i64,
    width: u32,
    height: u32,
    data: JsonData,
}

/// Layer data: GIDs (with the first item that was not a GID), or text.
enum JsonData {
    Gids(Vec<u32>, Option<(usize, String)>),
    Text(String),
}

impl<'de> Deserialize<'de> for JsonData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DataVisitor;
        impl<'de> Visitor<'de> for DataVisitor {
            type Value = JsonData;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tile GIDs or an encoded string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<JsonData, E> {
                Ok(JsonData::Text(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<JsonData, E> {
                Ok(JsonData::Text(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonData, A::Error> {
                let mut gids = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                let mut bad = None;
                while let Some(item) = seq.next_element::<GidItem>()? {
                    match item {
                        GidItem::Gid(g) => gids.push(g),
                        GidItem::Bad(text) => {
                            bad.get_or_insert((gids.len(), text));
                            gids.push(0);
                        }
                    }
                }
                Ok(JsonData::Gids(gids, bad))
            }
        }
        d.deserialize_any(DataVisitor)
    }
}

/// One item of a GID array: a GID, or what stood there instead.
enum GidItem {
    Gid(u32),
    Bad(String),
}

impl<'de> Deserialize<'de> for GidItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = GidItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tile GID")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GidItem, E> {
                Ok(u32::try_from(v).map_or_else(|_| GidItem::Bad(v.to_string()), GidItem::Gid))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GidItem, E> {
                Ok(u32::try_from(v).map_or_else(|_| GidItem::Bad(v.to_string()), GidItem::Gid))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GidItem, E> {
                Ok(GidItem::Bad(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GidItem, E> {
                Ok(GidItem::Bad(format!("\"{v}\"")))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<GidItem, E> {
                Ok(GidItem::Bad(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<GidItem, E> {
                Ok(GidItem::Bad("null".into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GidItem, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(GidItem::Bad("a list".into()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<GidItem, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(GidItem::Bad("an object".into()))
            }
        }
        d.deserialize_any(ItemVisitor)
    }
}

/// A required whole number in `fields`.
fn u32_field(fields: &Map<String, Value>, key: &str) -> Result<u32, String> {
    match fields.get(key) {
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                format!("the map's {key} is {v}, not a whole number of tiles or pixels")
            }),
        None => Err(format!("the map has no {key}")),
    }
}

/// Reads a Tiled JSON map from `bytes` (read from `files.map_path`).
pub(crate) fn read_json_map(
    files: &mut MapFiles,
    bytes: &[u8],
    budget: &mut TileBudget,
) -> Result<Doc, MapError> {
    let path = files.map_path.clone();
    let raw: JsonMap = serde_json::from_slice(bytes).map_err(|e| {
        let at = if e.is_eof() {
            "the file ends too early".to_owned()
        } else {
            format!("line {}, column {}", e.line(), e.column())
        };
        MapError::single(&path, format!("not a Tiled JSON map: {e} ({at})"))
    })?;
    if let Some(kind) = raw.fields.get("type").and_then(Value::as_str)
        && kind != "map"
    {
        return Err(MapError::single(
            &path,
            format!("this file is a Tiled {kind}, not a map"),
        ));
    }
    if let Some(orientation) = raw.fields.get("orientation").and_then(Value::as_str)
        && orientation != "orthogonal"
    {
        return Err(MapError::single(
            &path,
            format!(
                "the map is {orientation}; offices walk on orthogonal maps only (Tiled: Map > Map Properties > Orientation)"
            ),
        ));
    }
    let header = |key| u32_field(&raw.fields, key).map_err(|r| MapError::single(&path, r));
    let mut doc = Doc {
        width: header("width")?,
        height: header("height")?,
        tile_width: header("tilewidth")?,
        tile_height: header("tileheight")?,
        infinite: raw.fields.get("infinite").and_then(Value::as_bool) == Some(true),
        ..Doc::default()
    };
    if !doc.infinite {
        doc.check_size(&path)?;
    }
    let mut problems = Vec::new();
    let mut tilesets = tileset::read_map_tilesets(files, raw.tilesets, &mut problems);
    let size = (doc.width, doc.height, doc.infinite);
    doc.layers = raw
        .layers
        .into_iter()
        .map(|l| read_layer(files, l, "", size, budget, &mut problems))
        .collect();
    if !problems.is_empty() {
        return Err(MapError(problems));
    }
    template::apply_templates(files, &mut doc, &mut tilesets)?;
    doc.tilesets = tilesets.list;
    doc.fields = raw.fields;
    doc.make_finite(&path)?;
    Ok(doc)
}

fn read_layer(
    files: &MapFiles,
    raw: JsonLayer,
    prefix: &str,
    (width, height, infinite): (u32, u32, bool),
    budget: &mut TileBudget,
    problems: &mut Vec<MapProblem>,
) -> DocLayer {
    let full_name = format!("{prefix}{}", raw.name);
    let at = |reason: String| MapProblem::new(&files.map_path, reason).in_layer(&full_name);
    let mut layer = DocLayer {
        name: raw.name,
        kind: raw.kind,
        fields: raw.fields,
        tiles: None,
        layers: Vec::new(),
    };
    match layer.kind.as_str() {
        "group" => {
            let prefix = format!("{full_name}/");
            layer.layers = raw
                .layers
                .into_iter()
                .map(|l| {
                    read_layer(
                        files,
                        l,
                        &prefix,
                        (width, height, infinite),
                        budget,
                        problems,
                    )
                })
                .collect();
        }
        "tilelayer" => {
            let (encoding, compression) = (raw.encoding.as_deref(), raw.compression.as_deref());
            if infinite {
                let mut chunks = Vec::new();
                for c in raw.chunks.unwrap_or_default() {
                    let cells = u64::from(c.width) * u64::from(c.height);
                    if c.width > MAX_SIDE || c.height > MAX_SIDE {
                        problems.push(
                            at(format!(
                                "a chunk of {}×{} tiles is too large",
                                c.width, c.height
                            ))
                            .at(c.x, c.y),
                        );
                        continue;
                    }
                    if let Err(reason) = budget.take(cells) {
                        problems.push(at(reason));
                        break;
                    }
                    match decode(
                        c.data,
                        encoding,
                        compression,
                        c.width as usize,
                        cells as usize,
                    ) {
                        Ok(gids) => chunks.push(Chunk {
                            x: c.x,
                            y: c.y,
                            width: c.width,
                            height: c.height,
                            gids,
                        }),
                        Err((reason, pos)) => {
                            let p = at(format!("in the chunk at ({}, {}): {reason}", c.x, c.y));
                            problems.push(match pos {
                                Some((x, y)) => p.at(c.x + x, c.y + y),
                                None => p,
                            });
                        }
                    }
                }
                layer.tiles = Some(TileData::Chunks(chunks));
            } else {
                let lw = layer.fields.get("width").and_then(Value::as_u64);
                let lh = layer.fields.get("height").and_then(Value::as_u64);
                if lw.unwrap_or(u64::from(width)) != u64::from(width)
                    || lh.unwrap_or(u64::from(height)) != u64::from(height)
                {
                    problems.push(at(format!(
                        "the layer is {}×{} tiles but the map is {width}×{height}",
                        lw.unwrap_or(0),
                        lh.unwrap_or(0)
                    )));
                    return layer;
                }
                let cells = width as usize * height as usize;
                if let Err(reason) = budget.take(cells as u64) {
                    problems.push(at(reason));
                    return layer;
                }
                let Some(data) = raw.data else {
                    problems.push(at("the tile layer has no data".into()));
                    return layer;
                };
                match decode(data, encoding, compression, width as usize, cells) {
                    Ok(gids) => layer.tiles = Some(TileData::Grid(gids)),
                    Err((reason, pos)) => {
                        let p = at(reason);
                        problems.push(match pos {
                            Some((x, y)) => p.at(x, y),
                            None => p,
                        });
                    }
                }
            }
        }
        _ => {}
    }
    layer
}

/// Why layer data could not be decoded, and the tile at fault if one is.
type DecodeError = (String, Option<(i64, i64)>);

/// Decodes layer or chunk data of `expected` tiles, `width` a row; the
/// error may name the tile at fault.
fn decode(
    data: JsonData,
    encoding: Option<&str>,
    compression: Option<&str>,
    width: usize,
    expected: usize,
) -> Result<Vec<u32>, DecodeError> {
    let width = width.max(1);
    match data {
        JsonData::Gids(gids, bad) => {
            if let Some((i, text)) = bad {
                return Err((
                    format!("the layer data has {text} where a tile GID should be"),
                    Some(((i % width) as i64, (i / width) as i64)),
                ));
            }
            if gids.len() != expected {
                return Err((
                    format!(
                        "the layer data holds {} tiles but the layer has {expected} ({width} a row)",
                        gids.len()
                    ),
                    None,
                ));
            }
            Ok(gids)
        }
        JsonData::Text(text) => {
            decode_text(encoding.or(Some("base64")), compression, &text, expected)
                .map_err(|r| (r, None))
        }
    }
}
