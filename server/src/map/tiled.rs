//! Tiled's JSON map format (`.tmj`, `.json`), as much of it as the server
//! reads: layers (group layers flattened as `group/child`, as Phaser names
//! them), tilesets with per-tile properties, and custom properties.

use serde::Deserialize;
use serde_json::Value;

/// GID bits that carry flips and rotation, not the tile: all four high bits.
pub const GID_FLAG_BITS: u32 = 0xF000_0000;

/// A custom property (`name`, `type`, `value`).
#[derive(Debug, Clone, Deserialize)]
pub struct Property {
    /// The property's name.
    pub name: String,
    /// Tiled's type name (`bool`, `int`, `string`, `class`, ...).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The value as Tiled wrote it.
    #[serde(default)]
    pub value: Value,
}

/// Properties of a map, layer, tile or object.
pub type Properties = Vec<Property>;

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

/// A map as Tiled saves it in JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct RawMap {
    /// Width in tiles.
    pub width: u32,
    /// Height in tiles.
    pub height: u32,
    /// Tile width in pixels.
    #[serde(default, rename = "tilewidth")]
    pub tile_width: u32,
    /// Tile height in pixels.
    #[serde(default, rename = "tileheight")]
    pub tile_height: u32,
    /// `orthogonal`, `isometric`, `staggered` or `hexagonal`.
    #[serde(default)]
    pub orientation: Option<String>,
    /// Whether the map is infinite (chunked layers).
    #[serde(default)]
    pub infinite: bool,
    /// Layers, bottom first.
    #[serde(default)]
    pub layers: Vec<RawLayer>,
    /// Tilesets, by ascending `firstgid`.
    #[serde(default)]
    pub tilesets: Vec<RawTileset>,
    /// The map's custom properties.
    #[serde(default)]
    pub properties: Properties,
}

/// A layer of any kind.
#[derive(Debug, Clone, Deserialize)]
pub struct RawLayer {
    /// The layer's name.
    #[serde(default)]
    pub name: String,
    /// `tilelayer`, `objectgroup`, `imagelayer` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Tile layers: width in tiles.
    #[serde(default)]
    pub width: Option<u32>,
    /// Tile layers: height in tiles.
    #[serde(default)]
    pub height: Option<u32>,
    /// Tile layers: GIDs, as an array or an encoded string.
    #[serde(default)]
    pub data: Option<Value>,
    /// `csv` or `base64`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// `zlib`, `gzip`, `zstd` or empty.
    #[serde(default)]
    pub compression: Option<String>,
    /// Infinite maps: the chunks of a tile layer.
    #[serde(default)]
    pub chunks: Option<Vec<Value>>,
    /// Object layers: the objects.
    #[serde(default)]
    pub objects: Vec<RawObject>,
    /// Group layers: the children.
    #[serde(default)]
    pub layers: Vec<RawLayer>,
    /// The layer's custom properties.
    #[serde(default)]
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
    /// Its class (Tiled 1.9+) ...
    #[serde(default)]
    pub class: Option<String>,
    /// ... or type (before 1.9).
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
    /// Tile objects: the GID.
    #[serde(default)]
    pub gid: Option<u32>,
    /// Point objects.
    #[serde(default)]
    pub point: bool,
    /// The object's custom properties.
    #[serde(default)]
    pub properties: Properties,
}

impl RawObject {
    /// `class`, else `type`, else empty.
    pub fn class_name(&self) -> &str {
        self.class.as_deref().or(self.kind.as_deref()).unwrap_or("")
    }
}

/// A tileset, embedded or referenced by `source`.
#[derive(Debug, Clone, Deserialize)]
pub struct RawTileset {
    /// The GID of its first tile.
    #[serde(default)]
    pub firstgid: u32,
    /// An external tileset file, relative to the map.
    #[serde(default)]
    pub source: Option<String>,
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

/// A tile entry of a tileset.
#[derive(Debug, Clone, Deserialize)]
pub struct RawTile {
    /// Local id within the tileset.
    pub id: u32,
    /// The tile's custom properties.
    #[serde(default)]
    pub properties: Properties,
}
