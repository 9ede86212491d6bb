//! Tilesets as clients get them: embedded in the map, external ones
//! (`.tsj`/`.json` or `.tsx`) read and inlined with `source` removed, and
//! every image path rewritten to the URL the server serves it from.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::MapProblem;
use super::files::MapFiles;
use super::tsx;

/// The tilesets of a map being read, with the file each came from.
#[derive(Debug, Default)]
pub(crate) struct Tilesets {
    /// Embedded tilesets with `firstgid`, in the map's order.
    pub list: Vec<Map<String, Value>>,
    /// The external file of each, normalized (None when embedded).
    pub sources: Vec<Option<PathBuf>>,
}

impl Tilesets {
    /// Adds tileset `ts` read from `source` at `firstgid`.
    pub fn push(&mut self, mut ts: Map<String, Value>, firstgid: u32, source: Option<PathBuf>) {
        ts.remove("source");
        ts.insert("firstgid".into(), Value::from(firstgid));
        self.list.push(ts);
        self.sources.push(source);
    }

    /// One past the largest GID any tileset may use.
    pub fn next_gid(&self) -> u32 {
        self.list.iter().map(gid_end).max().unwrap_or(1)
    }

    /// The `firstgid` of the tileset read from `source`, reading and
    /// appending it when the map does not have it yet (a template's tileset).
    pub fn firstgid_of(&mut self, files: &mut MapFiles, source: &Path) -> Result<u32, MapProblem> {
        if let Some(i) = self
            .sources
            .iter()
            .position(|s| s.as_deref() == Some(source))
        {
            return Ok(firstgid(&self.list[i]));
        }
        let ts = load_external(files, source)?;
        let first = self.next_gid();
        self.push(ts, first, Some(source.to_owned()));
        Ok(first)
    }
}

/// A tileset's `firstgid`.
pub(crate) fn firstgid(ts: &Map<String, Value>) -> u32 {
    ts.get("firstgid")
        .and_then(Value::as_u64)
        .and_then(|g| u32::try_from(g).ok())
        .unwrap_or(1)
}

/// One past the largest GID tileset `ts` may use.
pub(crate) fn gid_end(ts: &Map<String, Value>) -> u32 {
    let count = ts.get("tilecount").and_then(Value::as_u64).unwrap_or(0);
    let by_tiles = ts
        .get("tiles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("id").and_then(Value::as_u64))
        .map(|id| id + 1)
        .max()
        .unwrap_or(0);
    let span = u32::try_from(count.max(by_tiles).max(1)).unwrap_or(u32::MAX);
    firstgid(ts).saturating_add(span)
}

/// Reads the external tileset at `path` (`.tsx` with the `tiled` crate,
/// otherwise Tiled JSON), with its images rewritten.
pub(crate) fn load_external(
    files: &mut MapFiles,
    path: &Path,
) -> Result<Map<String, Value>, MapProblem> {
    let is_tsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsx"));
    if is_tsx {
        return tsx::load_tsx(files, path);
    }
    let bytes = files.read_file(path, "tileset")?;
    let mut ts: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|e| {
        MapProblem::new(
            path,
            format!(
                "not a Tiled JSON tileset: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    if let Some(kind) = ts.get("type").and_then(Value::as_str)
        && kind != "tileset"
    {
        return Err(MapProblem::new(
            path,
            format!("this file is a Tiled {kind}, not a tileset"),
        ));
    }
    finish_images(files, &mut ts, path)?;
    Ok(ts)
}

/// Rewrites the tileset's `image` and its tiles' `image` (paths relative to
/// `file`, where the tileset was read from) to URLs.
pub(crate) fn finish_images(
    files: &mut MapFiles,
    ts: &mut Map<String, Value>,
    file: &Path,
) -> Result<(), MapProblem> {
    let base = file.parent().unwrap_or(Path::new("/")).to_owned();
    if let Some(Value::String(image)) = ts.get("image") {
        let url = files.image_url(file, &base, image)?;
        ts.insert("image".into(), Value::String(url));
    }
    if let Some(Value::Array(tiles)) = ts.get_mut("tiles") {
        for tile in tiles.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::String(image)) = tile.get("image") {
                let url = files.image_url(file, &base, image)?;
                tile.insert("image".into(), Value::String(url));
            }
        }
    }
    Ok(())
}

/// Reads a map's tileset entries (embedded or `source` references, relative
/// to the map's folder); problems are collected, not fatal one by one.
pub(crate) fn read_map_tilesets(
    files: &mut MapFiles,
    entries: Vec<Map<String, Value>>,
    problems: &mut Vec<MapProblem>,
) -> Tilesets {
    let mut tilesets = Tilesets::default();
    let map_path = files.map_path.clone();
    let map_dir = files.map_dir.clone();
    for mut entry in entries {
        let first = firstgid(&entry);
        let loaded = match entry
            .get("source")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            Some(source) => files
                .resolve(&map_path, &map_dir, &source, "tileset")
                .and_then(|path| {
                    if !path.is_file() {
                        return Err(MapProblem::new(
                            &map_path,
                            format!(
                                "the external tileset '{source}' is missing (looked for {})",
                                path.display()
                            ),
                        ));
                    }
                    load_external(files, &path).map(|ts| (ts, Some(path)))
                }),
            None => finish_images(files, &mut entry, &map_path).map(|()| (entry, None)),
        };
        match loaded {
            Ok((ts, source)) => tilesets.push(ts, first, source),
            Err(problem) => problems.push(problem),
        }
    }
    tilesets
}
