//! Typed views of the parts of a Tiled map the server interprets: custom
//! properties, tilesets with per-tile properties, and objects. They are read
//! from the normalized document ([`super::doc::Doc`]) whatever format the map
//! came in, so the rules live in one place.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// GID bits that carry flips and rotation, not the tile: all four high bits.
pub const GID_FLAG_BITS: u32 = 0xF000_0000;

/// A custom property (`name`, `type`, `value`).
#[derive(Debug, Clone, Deserialize)]
pub struct Property {
    /// The property's name.
    pub name: String,
    /// Tiled's type name (`bool`, `int`, `float`, `string`, `color`, `file`,
    /// `object`, `class`); enums are `string` or `int` with a `propertytype`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The value as Tiled wrote it (an object for a `class` property).
    #[serde(default)]
    pub value: Value,
}

/// Properties of a map, layer, tile or object.
pub type Properties = Vec<Property>;

/// Reads properties as Tiled writes them (a list of `{name, type, value}`),
/// or as Tiled before 1.2 did (an object of name → value).
pub fn deserialize_properties<'de, D: Deserializer<'de>>(d: D) -> Result<Properties, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<Property>),
        Object(serde_json::Map<String, Value>),
        Null(()),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(list) => list,
        Either::Object(map) => map
            .into_iter()
            .map(|(name, value)| Property {
                name,
                kind: None,
                value,
            })
            .collect(),
        Either::Null(()) => Vec::new(),
    })
}

/// Looks up a property by name (the first one with that name).
pub fn property<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
    props.iter().find(|p| p.name == name).map(|p| &p.value)
}

/// JavaScript's truthiness of a property value, which grid-engine applies to
/// collision properties: `false`, `0`, `""` and null are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Properties as a JSON object of name → value (the first of each name).
pub fn properties_object(props: &[Property]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for p in props {
        out.entry(p.name.clone()).or_insert_with(|| p.value.clone());
    }
    out
}

/// A tileset of the normalized document (always embedded there).
#[derive(Debug, Clone, Deserialize)]
pub struct RawTileset {
    /// The GID of its first tile.
    #[serde(default)]
    pub firstgid: u32,
    /// The tileset's name.
    #[serde(default)]
    pub name: String,
    /// Number of tiles.
    #[serde(default, rename = "tilecount")]
    pub tile_count: Option<u32>,
    /// Tiles that have properties (or other data).
    #[serde(default)]
    pub tiles: Vec<RawTile>,
}

impl RawTileset {
    /// Whether local tile `id` exists: below `tilecount`, or listed in
    /// `tiles` (image-collection tilesets may leave gaps in their ids).
    pub fn has_tile(&self, id: u32) -> bool {
        self.tile_count.is_none_or(|count| id < count) || self.tiles.iter().any(|t| t.id == id)
    }

    /// One past the largest GID this tileset may use.
    pub fn gid_end(&self) -> u32 {
        let by_count = self.tile_count.unwrap_or(0);
        let by_tiles = self
            .tiles
            .iter()
            .map(|t| t.id.saturating_add(1))
            .max()
            .unwrap_or(0);
        self.firstgid.saturating_add(by_count.max(by_tiles).max(1))
    }
}

/// A tile entry of a tileset.
#[derive(Debug, Clone, Deserialize)]
pub struct RawTile {
    /// Local id within the tileset.
    pub id: u32,
    /// The tile's custom properties.
    #[serde(default, deserialize_with = "deserialize_properties")]
    pub properties: Properties,
}

/// An object on an object layer.
#[derive(Debug, Clone, Deserialize)]
pub struct RawObject {
    /// The object's id.
    #[serde(default)]
    pub id: u32,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Its class (Tiled 1.9) ...
    #[serde(default)]
    pub class: Option<String>,
    /// ... or type (before 1.9, and again in JSON since 1.10).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Pixels.
    #[serde(default)]
    pub x: f64,
    /// Pixels.
    #[serde(default)]
    pub y: f64,
    /// Pixels.
    #[serde(default)]
    pub width: f64,
    /// Pixels.
    #[serde(default)]
    pub height: f64,
    /// Tile objects: the GID (with flip bits).
    #[serde(default)]
    pub gid: Option<u32>,
    /// Point objects.
    #[serde(default)]
    pub point: bool,
    /// Polygon objects: points relative to (x, y).
    #[serde(default)]
    pub polygon: Option<Vec<Point>>,
    /// Polyline objects: points relative to (x, y).
    #[serde(default)]
    pub polyline: Option<Vec<Point>>,
    /// Text objects.
    #[serde(default)]
    pub text: Option<Value>,
    /// The object's custom properties.
    #[serde(default, deserialize_with = "deserialize_properties")]
    pub properties: Properties,
}

/// A point of a polygon or polyline.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Point {
    /// Pixels.
    pub x: f64,
    /// Pixels.
    pub y: f64,
}

impl RawObject {
    /// `class`, else `type`, else empty.
    pub fn class_name(&self) -> &str {
        self.class
            .as_deref()
            .filter(|c| !c.is_empty())
            .or(self.kind.as_deref())
            .unwrap_or("")
    }
}
