//! `metaoffice check-map [--json] [--collision-property NAME] PATH...`: loads
//! each map as an office would (without a drop folder, so it reads files
//! anywhere) and reports a short summary or every problem. A folder means
//! every map file in it. Needs no config and writes nothing but its output.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{CollisionRule, MapError, OfficeMap, ZoneKind, is_map_file, load_map};

/// What check-map found for one file.
#[derive(Debug)]
pub struct CheckReport {
    /// The file, as named (or found in a folder named).
    pub path: PathBuf,
    /// The loaded map, or why it was refused.
    pub result: Result<OfficeMap, MapError>,
}

/// The map files `paths` name: files as given, folders by their map files
/// (sorted); a folder without any is an error of its own.
pub fn map_files(paths: &[PathBuf]) -> Vec<Result<PathBuf, CheckReport>> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(Ok(path.clone()));
            continue;
        }
        let mut found: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_map_file(p))
                .collect(),
            Err(e) => {
                out.push(Err(refused(path, format!("cannot read the folder: {e}"))));
                continue;
            }
        };
        if found.is_empty() {
            out.push(Err(refused(
                path,
                "the folder has no map files (.tmj, .json, .tmx)".into(),
            )));
        }
        found.sort();
        out.extend(found.into_iter().map(Ok));
    }
    out
}

fn refused(path: &Path, reason: String) -> CheckReport {
    CheckReport {
        path: path.to_owned(),
        result: Err(MapError::single(path, reason)),
    }
}

/// Checks every map `paths` name under `rule`.
pub fn check_paths(paths: &[PathBuf], rule: &CollisionRule) -> Vec<CheckReport> {
    map_files(paths)
        .into_iter()
        .map(|found| match found {
            Ok(path) => CheckReport {
                result: load_map(&path, rule, None),
                path,
            },
            Err(report) => report,
        })
        .collect()
}

/// The collision rule check-map uses: `ge_collide` or `collides`, or only
/// the property named.
pub fn check_rule(collision_property: Option<&str>) -> CollisionRule {
    collision_property.map_or_else(CollisionRule::office_default, CollisionRule::only)
}

/// Runs the command: writes each report to `out` (JSON Lines with `json`)
/// and returns whether every map is valid.
pub fn run_check(
    paths: &[PathBuf],
    json: bool,
    collision_property: Option<&str>,
    out: &mut impl Write,
) -> io::Result<bool> {
    let rule = check_rule(collision_property);
    let mut all_ok = true;
    for report in check_paths(paths, &rule) {
        all_ok &= report.result.is_ok();
        if json {
            serde_json::to_writer(&mut *out, &report_json(&report))?;
            out.write_all(b"\n")?;
        } else {
            write_summary(&report, out)?;
        }
    }
    out.flush()?;
    Ok(all_ok)
}

fn zone_kind_text(kind: &ZoneKind) -> String {
    match kind {
        ZoneKind::MeetingRoom { meeting } => format!("meeting room '{meeting}'"),
        ZoneKind::Silent => "silent area".into(),
        ZoneKind::Spawn => "spawn area".into(),
        ZoneKind::Area => "area".into(),
    }
}

/// A short summary for people, or every problem.
pub fn write_summary(report: &CheckReport, out: &mut impl Write) -> io::Result<()> {
    let path = report.path.display();
    match &report.result {
        Ok(map) => {
            writeln!(out, "{path}: ok")?;
            writeln!(
                out,
                "  {}×{} tiles of {}×{} px; {} tile layers: {}",
                map.width,
                map.height,
                map.tile_width,
                map.tile_height,
                map.layers.len(),
                map.layers.join(", ")
            )?;
            if map.origin != (0, 0) {
                writeln!(
                    out,
                    "  infinite map: tile (0, 0) is Tiled's ({}, {})",
                    map.origin.0, map.origin.1
                )?;
            }
            writeln!(out, "  {} walkable tiles", map.grid.walkable_tiles())?;
            writeln!(out, "  {} zones", map.zones.len())?;
            for z in &map.zones {
                writeln!(
                    out,
                    "    {}: {}, {}×{} tiles from ({}, {})",
                    z.name,
                    zone_kind_text(&z.kind),
                    z.width,
                    z.height,
                    z.x,
                    z.y
                )?;
            }
            writeln!(out, "  {} spawn points", map.spawns.len())?;
        }
        Err(error) => {
            writeln!(out, "{path}: refused")?;
            for problem in &error.0 {
                writeln!(out, "  {problem}")?;
            }
        }
    }
    Ok(())
}

/// One JSON object for the report: `path`, `ok`, `width`, `height`,
/// `tile_width`, `tile_height`, `layers`, `walkable_tiles`, `zones`,
/// `spawns`, `errors` (fields that do not apply are null).
pub fn report_json(report: &CheckReport) -> Value {
    let path = report.path.display().to_string();
    match &report.result {
        Ok(map) => json!({
            "path": path,
            "ok": true,
            "width": map.width,
            "height": map.height,
            "tile_width": map.tile_width,
            "tile_height": map.tile_height,
            "origin": {"x": map.origin.0, "y": map.origin.1},
            "layers": map.layers,
            "walkable_tiles": map.grid.walkable_tiles(),
            "zones": map.zones.iter().map(|z| {
                let meeting = match &z.kind {
                    ZoneKind::MeetingRoom { meeting } => json!(meeting),
                    _ => Value::Null,
                };
                json!({"name": z.name, "kind": z.kind.name(), "meeting": meeting,
                       "x": z.x, "y": z.y, "width": z.width, "height": z.height})
            }).collect::<Vec<_>>(),
            "spawns": map.spawns.iter().map(|&(x, y)| json!({"x": x, "y": y})).collect::<Vec<_>>(),
            "errors": [],
        }),
        Err(error) => json!({
            "path": path,
            "ok": false,
            "width": null,
            "height": null,
            "tile_width": null,
            "tile_height": null,
            "origin": null,
            "layers": null,
            "walkable_tiles": null,
            "zones": null,
            "spawns": null,
            "errors": error.0,
        }),
    }
}
