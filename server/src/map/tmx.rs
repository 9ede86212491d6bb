//! Tiled XML maps (`.tmx`) into the normalized [`Doc`], read by the `tiled`
//! crate after the bounded pre-scan ([`super::tmx_scan`]): the crate gives
//! layers, objects (templates applied), tilesets (`.tsx` read through
//! [`FileReader`]) and properties; the tiles come from the pre-scan.
//! Tilesets a TMX map keeps as JSON (`.tsj`) are read as JSON.

use std::path::Path;

use serde_json::{Map, Value, json};
use tiled::{LayerType, ObjectShape, TilesetLocation};

use super::data::TileBudget;
use super::doc::{Doc, DocLayer, TileData};
use super::error::{MapError, MapProblem};
use super::files::MapFiles;
use super::tileset::{self, Tilesets};
use super::tmx_scan;
use super::tsx::{self, FileReader, properties_json};

/// Reads a TMX map from `bytes` (read from `files.map_path`).
pub(crate) fn read_tmx_map(
    files: &mut MapFiles,
    bytes: &[u8],
    budget: &mut TileBudget,
) -> Result<Doc, MapError> {
    let path = files.map_path.clone();
    let dir = files.map_dir.clone();
    let scan = tmx_scan::scan(&path, bytes, budget)?;
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (_, source) in &scan.tilesets {
        let resolved = source.as_ref().map(|s| {
            files.resolve(&path, &dir, s, "tileset").and_then(|p| {
                if p.is_file() {
                    Ok(p)
                } else {
                    Err(MapProblem::new(
                        &path,
                        format!(
                            "the external tileset '{s}' is missing (looked for {})",
                            p.display()
                        ),
                    ))
                }
            })
        });
        match resolved.transpose() {
            Ok(p) => sources.push(p),
            Err(p) => problems.push(p),
        }
    }
    MapError::from_problems(problems)?;
    let map = {
        let reader = FileReader::new(files).with_override(&path, scan.document);
        tiled::Loader::with_reader(reader)
            .load_tmx_map(&path)
            .map_err(|e| tsx::problem(&path, e))?
    };
    if map.tilesets().len() != scan.tilesets.len() {
        return Err(MapError::single(
            &path,
            "the map's tilesets could not all be read",
        ));
    }
    let mut tilesets = Tilesets::default();
    for ((first, _), (ts, source)) in scan.tilesets.iter().zip(map.tilesets().iter().zip(sources)) {
        let is_json = source.as_ref().is_some_and(|s| {
            s.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("tsj") || e.eq_ignore_ascii_case("json"))
        });
        let json = if let Some(s) = source.as_ref().filter(|_| is_json) {
            tileset::load_external(files, s)
        } else {
            tsx::tileset_json(files, ts, source.as_deref().unwrap_or(&path))
        };
        tilesets.push(json?, *first, source);
    }
    let mut reader = Converter {
        files,
        tilesets: &mut tilesets,
        scanned: scan.layers.into_iter(),
        path: &path,
    };
    let mut layers = Vec::new();
    for layer in map.layers() {
        layers.push(reader.layer(layer)?);
    }
    let mut fields = Map::new();
    fields.insert("type".into(), json!("map"));
    fields.insert("version".into(), json!(map.version()));
    fields.insert("orientation".into(), json!("orthogonal"));
    fields.insert("renderorder".into(), json!(map.render_order.to_string()));
    if !map.user_type.is_empty() {
        fields.insert("class".into(), json!(map.user_type));
    }
    if let Some(c) = map.background_color {
        fields.insert("backgroundcolor".into(), json!(color(c)));
    }
    if !map.properties.is_empty() {
        fields.insert("properties".into(), properties_json(&map.properties));
    }
    let mut doc = Doc {
        fields,
        width: scan.width,
        height: scan.height,
        tile_width: map.tile_width,
        tile_height: map.tile_height,
        infinite: scan.infinite,
        origin: (0, 0),
        tilesets: tilesets.list,
        layers,
    };
    doc.make_finite(&path)?;
    Ok(doc)
}

fn color(c: tiled::Color) -> String {
    format!("#{:02x}{:02x}{:02x}{:02x}", c.alpha, c.red, c.green, c.blue)
}

struct Converter<'a, I> {
    files: &'a mut MapFiles,
    tilesets: &'a mut Tilesets,
    scanned: I,
    path: &'a Path,
}

impl<I: Iterator<Item = TileData>> Converter<'_, I> {
    fn layer(&mut self, layer: tiled::Layer) -> Result<DocLayer, MapError> {
        let mut fields = Map::new();
        fields.insert("id".into(), json!(layer.id()));
        fields.insert("visible".into(), json!(layer.visible));
        fields.insert("opacity".into(), json!(layer.opacity));
        fields.insert("x".into(), json!(0));
        fields.insert("y".into(), json!(0));
        for (key, value) in [("offsetx", layer.offset_x), ("offsety", layer.offset_y)] {
            if value != 0.0 {
                fields.insert(key.into(), json!(value));
            }
        }
        for (key, value) in [
            ("parallaxx", layer.parallax_x),
            ("parallaxy", layer.parallax_y),
        ] {
            if value != 1.0 {
                fields.insert(key.into(), json!(value));
            }
        }
        if let Some(c) = layer.tint_color {
            fields.insert("tintcolor".into(), json!(color(c)));
        }
        if !layer.user_type.is_empty() {
            fields.insert("class".into(), json!(layer.user_type));
        }
        if !layer.properties.is_empty() {
            fields.insert("properties".into(), properties_json(&layer.properties));
        }
        let mut out = DocLayer {
            name: layer.name.clone(),
            fields,
            ..DocLayer::default()
        };
        match layer.layer_type() {
            LayerType::Tiles(_) => {
                out.kind = "tilelayer".into();
                let tiles = self.scanned.next().ok_or_else(|| {
                    MapError::single(self.path, "the map's tile layers could not all be read")
                })?;
                out.tiles = Some(tiles);
            }
            LayerType::Objects(objects) => {
                out.kind = "objectgroup".into();
                out.fields.insert("draworder".into(), json!("topdown"));
                let mut list = Vec::new();
                for object in objects.objects() {
                    list.push(self.object(&object).map_err(|p| p.in_layer(&layer.name))?);
                }
                out.fields.insert("objects".into(), Value::Array(list));
            }
            LayerType::Image(image) => {
                out.kind = "imagelayer".into();
                if let Some(img) = &image.image {
                    let url = tsx::image_url(self.files, self.path, &img.source)?;
                    out.fields.insert("image".into(), json!(url));
                    out.fields.insert("imagewidth".into(), json!(img.width));
                    out.fields.insert("imageheight".into(), json!(img.height));
                }
                out.fields.insert("repeatx".into(), json!(image.repeat_x));
                out.fields.insert("repeaty".into(), json!(image.repeat_y));
            }
            LayerType::Group(group) => {
                out.kind = "group".into();
                for child in group.layers() {
                    out.layers.push(self.layer(child)?);
                }
            }
        }
        Ok(out)
    }

    fn object(&mut self, o: &tiled::Object) -> Result<Value, MapProblem> {
        let mut out = json!({
            "id": o.id(),
            "name": o.name,
            "type": o.user_type,
            "x": o.x,
            "y": o.y,
            "rotation": o.rotation,
            "visible": o.visible,
        });
        let size = |w: f32, h: f32| json!({"width": w, "height": h});
        let extra = match &o.shape {
            ObjectShape::Rect { width, height } => size(*width, *height),
            ObjectShape::Ellipse { width, height } => {
                let mut v = size(*width, *height);
                v["ellipse"] = json!(true);
                v
            }
            ObjectShape::Capsule { width, height } => {
                let mut v = size(*width, *height);
                v["capsule"] = json!(true);
                v
            }
            ObjectShape::Polyline { points } => json!({"polyline": points_json(points)}),
            ObjectShape::Polygon { points } => json!({"polygon": points_json(points)}),
            ObjectShape::Point(..) => json!({"point": true}),
            ObjectShape::Text {
                text,
                width,
                height,
                wrap,
                font_family,
                pixel_size,
                color: c,
                bold,
                italic,
                ..
            } => json!({
                "width": width, "height": height,
                "text": {"text": text, "wrap": wrap, "fontfamily": font_family,
                         "pixelsize": pixel_size, "color": color(*c), "bold": bold, "italic": italic},
            }),
        };
        if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
            out.extend(extra);
        }
        if let Some(tile) = o.tile_data() {
            let first = match tile.tileset_location() {
                TilesetLocation::Map(i) => self.tilesets.list.get(*i).map_or(1, tileset::firstgid),
                TilesetLocation::Template(ts) => {
                    let source = super::files::normalize(&ts.source);
                    self.tilesets.firstgid_of(self.files, &source)?
                }
            };
            let mut gid = first.saturating_add(tile.id());
            for (flag, bit) in [
                (tile.flip_h, 0x8000_0000u32),
                (tile.flip_v, 0x4000_0000),
                (tile.flip_d, 0x2000_0000),
            ] {
                if flag {
                    gid |= bit;
                }
            }
            out["gid"] = json!(gid);
        }
        if !o.properties.is_empty() {
            out["properties"] = properties_json(&o.properties);
        }
        Ok(out)
    }
}

fn points_json(points: &[(f32, f32)]) -> Value {
    Value::Array(
        points
            .iter()
            .map(|(x, y)| json!({"x": x, "y": y}))
            .collect(),
    )
}
