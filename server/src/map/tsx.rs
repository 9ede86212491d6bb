//! Tiled XML through the `tiled` crate: the file reader it uses (drop-folder
//! checks, size limits, and the pre-scanned map document), and conversion of
//! its tilesets and custom properties to Tiled JSON.

use std::collections::HashMap;
use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tiled::{PropertyValue, ResourceReader};

use super::error::MapProblem;
use super::files::{MapFiles, normalize};

/// A file the reader refused, with the problem in a designer's words.
#[derive(Debug)]
pub(crate) struct Refused(pub MapProblem);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refused {}

/// What the `tiled` crate reads files through.
pub(crate) struct FileReader<'a> {
    files: &'a mut MapFiles,
    /// Documents handed over instead of the file's bytes (the pre-scanned map).
    overrides: HashMap<PathBuf, Vec<u8>>,
}

/// An empty tileset that stands in for a JSON tileset a TMX map refers to;
/// the map's real tileset is read separately, as JSON.
const STUB_TILESET: &[u8] =
    br#"<?xml version="1.0" encoding="UTF-8"?><tileset version="1.10" name="json" tilewidth="1" tileheight="1" tilecount="0" columns="0"/>"#;

impl<'a> FileReader<'a> {
    /// A reader over `files`.
    pub fn new(files: &'a mut MapFiles) -> FileReader<'a> {
        FileReader {
            files,
            overrides: HashMap::new(),
        }
    }

    /// Hands `bytes` to the crate when it asks for `path`.
    pub fn with_override(mut self, path: &Path, bytes: Vec<u8>) -> FileReader<'a> {
        self.overrides.insert(normalize(path), bytes);
        self
    }
}

impl ResourceReader for FileReader<'_> {
    type Resource = Cursor<Vec<u8>>;
    type Error = Refused;

    fn read_from(&mut self, path: &Path) -> Result<Self::Resource, Self::Error> {
        let path = normalize(path);
        if let Some(bytes) = self.overrides.get(&path) {
            return Ok(Cursor::new(bytes.clone()));
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "tsj" | "json" => Ok(Cursor::new(STUB_TILESET.to_vec())),
            "tj" => Err(Refused(MapProblem::new(
                &path,
                "JSON templates (.tj) are read only from JSON maps; save the template as XML (.tx) for a TMX map",
            ))),
            _ => {
                if !path.is_file() {
                    let what = if ext == "tx" { "template" } else { "tileset" };
                    return Err(Refused(MapProblem::new(
                        &path,
                        format!("the {what} file is missing"),
                    )));
                }
                let what = if ext == "tx" { "template" } else { "file" };
                self.files
                    .read_file(&path, what)
                    .map(Cursor::new)
                    .map_err(Refused)
            }
        }
    }
}

/// The problem behind an error of the `tiled` crate reading `path`.
pub(crate) fn problem(path: &Path, err: tiled::Error) -> MapProblem {
    if let tiled::Error::ResourceLoadingError { err, .. } = &err
        && let Some(Refused(problem)) = err.downcast_ref::<Refused>()
    {
        return problem.clone();
    }
    MapProblem::new(path, format!("not a valid Tiled XML file: {err}"))
}

/// Reads the external `.tsx` tileset at `path` as Tiled JSON.
pub(crate) fn load_tsx(
    files: &mut MapFiles,
    path: &Path,
) -> Result<Map<String, Value>, MapProblem> {
    let tileset = tiled::Loader::with_reader(FileReader::new(files))
        .load_tsx_tileset(path)
        .map_err(|e| problem(path, e))?;
    tileset_json(files, &tileset, path)
}

/// A tileset of the `tiled` crate as Tiled JSON (no `firstgid`), images
/// rewritten to URLs; `file` is where it was read from.
pub(crate) fn tileset_json(
    files: &mut MapFiles,
    ts: &tiled::Tileset,
    file: &Path,
) -> Result<Map<String, Value>, MapProblem> {
    let mut out = Map::new();
    out.insert("name".into(), json!(ts.name));
    if !ts.user_type.is_empty() {
        out.insert("class".into(), json!(ts.user_type));
    }
    out.insert("tilewidth".into(), json!(ts.tile_width));
    out.insert("tileheight".into(), json!(ts.tile_height));
    out.insert("spacing".into(), json!(ts.spacing));
    out.insert("margin".into(), json!(ts.margin));
    out.insert("tilecount".into(), json!(ts.tilecount));
    out.insert("columns".into(), json!(ts.columns));
    if ts.offset_x != 0 || ts.offset_y != 0 {
        out.insert(
            "tileoffset".into(),
            json!({"x": ts.offset_x, "y": ts.offset_y}),
        );
    }
    if let Some(image) = &ts.image {
        let url = image_url(files, file, &image.source)?;
        out.insert("image".into(), json!(url));
        out.insert("imagewidth".into(), json!(image.width));
        out.insert("imageheight".into(), json!(image.height));
    }
    if !ts.properties.is_empty() {
        out.insert("properties".into(), properties_json(&ts.properties));
    }
    let mut tiles: Vec<_> = ts.tiles().collect();
    tiles.sort_by_key(|(id, _)| *id);
    let mut tiles_out = Vec::new();
    for (id, tile) in tiles {
        let mut t = Map::new();
        t.insert("id".into(), json!(id));
        if !tile.user_type.is_empty() {
            t.insert("type".into(), json!(tile.user_type));
        }
        if !tile.properties.is_empty() {
            t.insert("properties".into(), properties_json(&tile.properties));
        }
        if let Some(frames) = &tile.animation {
            let frames: Vec<Value> = frames
                .iter()
                .map(|f| json!({"tileid": f.tile_id, "duration": f.duration}))
                .collect();
            t.insert("animation".into(), Value::Array(frames));
        }
        if let Some(image) = &tile.image {
            let url = image_url(files, file, &image.source)?;
            t.insert("image".into(), json!(url));
            t.insert("imagewidth".into(), json!(image.width));
            t.insert("imageheight".into(), json!(image.height));
        }
        // The crate lists every tile of an image tileset: keep those with data.
        if t.len() > 1 {
            tiles_out.push(Value::Object(t));
        }
    }
    if !tiles_out.is_empty() {
        out.insert("tiles".into(), Value::Array(tiles_out));
    }
    Ok(out)
}

/// The URL of an image whose path the `tiled` crate already joined with the
/// folder of the file that named it.
pub(crate) fn image_url(
    files: &mut MapFiles,
    referrer: &Path,
    source: &Path,
) -> Result<String, MapProblem> {
    let text = source.to_string_lossy().into_owned();
    files.image_url(referrer, Path::new(""), &text)
}

/// Custom properties as Tiled JSON writes them (sorted by name, as Tiled does).
pub(crate) fn properties_json(props: &tiled::Properties) -> Value {
    let mut names: Vec<&String> = props.keys().collect();
    names.sort();
    Value::Array(
        names
            .into_iter()
            .map(|name| {
                let (kind, value, class) = property_json(&props[name]);
                let mut p = json!({"name": name, "type": kind, "value": value});
                if let Some(class) = class {
                    p["propertytype"] = json!(class);
                }
                p
            })
            .collect(),
    )
}

/// A property value's Tiled JSON type, value and class name.
fn property_json(value: &PropertyValue) -> (&'static str, Value, Option<String>) {
    match value {
        PropertyValue::BoolValue(b) => ("bool", json!(b), None),
        PropertyValue::FloatValue(f) => ("float", json!(f), None),
        PropertyValue::IntValue(i) => ("int", json!(i), None),
        PropertyValue::ColorValue(c) => (
            "color",
            json!(format!(
                "#{:02x}{:02x}{:02x}{:02x}",
                c.alpha, c.red, c.green, c.blue
            )),
            None,
        ),
        PropertyValue::StringValue(s) => ("string", json!(s), None),
        PropertyValue::FileValue(s) => ("file", json!(s), None),
        PropertyValue::ObjectValue(id) => ("object", json!(id), None),
        PropertyValue::ListValue(items) => (
            "list",
            Value::Array(items.iter().map(|v| property_json(v).1).collect()),
            None,
        ),
        PropertyValue::ClassValue {
            property_type,
            properties,
        } => {
            let members: Map<String, Value> = properties
                .iter()
                .map(|(k, v)| (k.clone(), property_json(v).1))
                .collect();
            ("class", Value::Object(members), Some(property_type.clone()))
        }
    }
}
