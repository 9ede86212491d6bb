//! Object templates of JSON maps (`.tj`): each object that names a template
//! gets the template's fields, its own fields and properties winning, so
//! that clients (Phaser reads no templates) and zones see whole objects. A
//! template's tile refers to the template's tileset: it is mapped to the
//! map's copy of that tileset, added to the map when missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::doc::{Doc, DocLayer};
use super::error::{MapError, MapProblem};
use super::files::MapFiles;
use super::model::GID_FLAG_BITS;
use super::tileset::{Tilesets, firstgid};

/// A template, read once per map.
#[derive(Debug, Clone)]
struct Template {
    object: Map<String, Value>,
    /// The template's own `firstgid` and tileset file, for tile templates.
    tileset: Option<(u32, PathBuf)>,
}

/// Replaces every templated object of `doc` by the merged object.
pub(crate) fn apply_templates(
    files: &mut MapFiles,
    doc: &mut Doc,
    tilesets: &mut Tilesets,
) -> Result<(), MapError> {
    let mut cache: HashMap<PathBuf, Template> = HashMap::new();
    let mut problems = Vec::new();
    let map_path = files.map_path.clone();
    let map_dir = files.map_dir.clone();
    let mut apply = |layer: &mut DocLayer| {
        let Some(Value::Array(objects)) = layer.fields.get_mut("objects") else {
            return;
        };
        for object in objects.iter_mut().filter_map(Value::as_object_mut) {
            let Some(reference) = object
                .get("template")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let merged = files
                .resolve(&map_path, &map_dir, &reference, "template")
                .and_then(|path| {
                    if !cache.contains_key(&path) {
                        let template = read_template(files, &path)?;
                        cache.insert(path.clone(), template);
                    }
                    let template = cache[&path].clone();
                    merge(files, tilesets, template, object)
                });
            match merged {
                Ok(m) => *object = m,
                Err(p) => problems.push(p.in_layer(&layer.name)),
            }
        }
    };
    visit_mut(&mut doc.layers, &mut apply);
    MapError::from_problems(problems)
}

fn visit_mut(layers: &mut [DocLayer], f: &mut impl FnMut(&mut DocLayer)) {
    for layer in layers {
        f(layer);
        visit_mut(&mut layer.layers, f);
    }
}

fn read_template(files: &mut MapFiles, path: &Path) -> Result<Template, MapProblem> {
    let is_tx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tx"));
    if is_tx {
        return Err(MapProblem::new(
            path,
            "XML templates (.tx) are read only from TMX maps; save the template as JSON (.tj) for a JSON map",
        ));
    }
    if !path.is_file() {
        return Err(MapProblem::new(path, "the template file is missing"));
    }
    let bytes = files.read_file(path, "template")?;
    let mut raw: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| MapProblem::new(path, format!("not a Tiled JSON template: {e}")))?;
    let Some(Value::Object(object)) = raw.remove("object") else {
        return Err(MapProblem::new(path, "the template has no object"));
    };
    let tileset = match raw.get("tileset").and_then(Value::as_object) {
        Some(ts) => {
            let source = ts
                .get("source")
                .and_then(Value::as_str)
                .ok_or_else(|| MapProblem::new(path, "the template's tileset has no source"))?;
            let base = path.parent().unwrap_or(Path::new("/")).to_owned();
            let resolved = files.resolve(path, &base, source, "tileset")?;
            if !resolved.is_file() {
                return Err(MapProblem::new(
                    path,
                    format!("the template's tileset '{source}' is missing"),
                ));
            }
            Some((firstgid(ts), resolved))
        }
        None => None,
    };
    Ok(Template { object, tileset })
}

fn merge(
    files: &mut MapFiles,
    tilesets: &mut Tilesets,
    template: Template,
    instance: &Map<String, Value>,
) -> Result<Map<String, Value>, MapProblem> {
    let mut merged = template.object;
    merged.remove("id");
    if let (Some(gid), Some((first, source))) =
        (merged.get("gid").and_then(Value::as_u64), &template.tileset)
        && !instance.contains_key("gid")
    {
        let gid = u32::try_from(gid).unwrap_or(0);
        let local = (gid & !GID_FLAG_BITS).saturating_sub(*first);
        let map_first = tilesets.firstgid_of(files, source)?;
        merged.insert(
            "gid".into(),
            Value::from(map_first.saturating_add(local) | (gid & GID_FLAG_BITS)),
        );
    }
    for (key, value) in instance {
        match key.as_str() {
            "template" => {}
            "properties" => {
                let mut props = merged
                    .remove("properties")
                    .and_then(|p| match p {
                        Value::Array(list) => Some(list),
                        _ => None,
                    })
                    .unwrap_or_default();
                for p in value.as_array().into_iter().flatten() {
                    let name = p.get("name");
                    props.retain(|q| q.get("name") != name);
                    props.push(p.clone());
                }
                merged.insert("properties".into(), Value::Array(props));
            }
            _ => {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(merged)
}
