//! Zones and spawn tiles, by WorkAdventure's conventions (maps/README.md
//! lists them for designers):
//!
//! - an *area* is a rectangle, ellipse, polygon, point or tile object on an
//!   object layer whose class (or type) is `area`, or that has one of the
//!   zone properties below; text objects and polylines are never areas;
//! - its kind: a meeting room when a meeting property (`meetingRoom`,
//!   `jitsiRoom`, `bbbMeeting`, `livekitRoom`, in that order) is truthy, the
//!   meeting being its text (or the zone's name when it is `true`); else
//!   silent when `silent` is truthy; else a spawn area when `start` is
//!   truthy; else a plain area;
//! - a tile layer with a meeting property or `silent` is a zone too: the
//!   tiles it has, as rectangles covering exactly those tiles;
//! - spawn tiles: every tile of a tile layer named `start` (or with
//!   `startLayer` truthy), and every tile of an area with `start` truthy,
//!   in map order, without duplicates, and only tiles free of collisions.
//!
//! Objects are in pixels: each edge snaps to the nearest tile border (a half
//! rounds up); an area thinner than that on an axis takes the one tile its
//! centre is on. Tile objects are anchored bottom-left, polygons count by
//! their bounding box, points by the tile they are on, rotation is ignored.
//! Zones are clipped to the map; one wholly outside it is dropped.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::collision::{TileLayer, layer_properties};
use super::doc::Doc;
use super::error::{MapError, MapProblem};
use super::model::{GID_FLAG_BITS, RawObject, properties_object, property, truthy};
use crate::movement::CollisionGrid;

/// Properties that make an area a meeting room, in order of precedence.
pub const MEETING_PROPERTIES: [&str; 4] = ["meetingRoom", "jitsiRoom", "bbbMeeting", "livekitRoom"];

/// A named rectangle of the office, in tiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The object's name (or the layer's, for tile layer zones).
    pub name: String,
    /// What the zone is for.
    pub kind: ZoneKind,
    /// Left tile.
    pub x: i32,
    /// Top tile.
    pub y: i32,
    /// Width in tiles (at least 1).
    pub width: u32,
    /// Height in tiles (at least 1).
    pub height: u32,
    /// The object's (or layer's) custom properties, name → value.
    pub properties: Map<String, Value>,
}

impl Zone {
    /// Whether tile (`x`, `y`) is inside the zone.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x
            && y >= self.y
            && i64::from(x) < i64::from(self.x) + i64::from(self.width)
            && i64::from(y) < i64::from(self.y) + i64::from(self.height)
    }
}

/// What a zone is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneKind {
    /// One standing meeting for everyone inside.
    MeetingRoom {
        /// The meeting's name.
        meeting: String,
    },
    /// No conversation groups form here.
    Silent,
    /// Avatars appear here.
    Spawn,
    /// A named area with no behaviour of its own.
    Area,
}

impl ZoneKind {
    /// `meeting_room`, `silent`, `spawn` or `area`.
    pub fn name(&self) -> &'static str {
        match self {
            ZoneKind::MeetingRoom { .. } => "meeting_room",
            ZoneKind::Silent => "silent",
            ZoneKind::Spawn => "spawn",
            ZoneKind::Area => "area",
        }
    }
}

/// The kind of a zone with these properties, or None when it has no zone
/// property; `name` is the meeting of a meeting property set to `true`.
fn zone_kind(props: &Map<String, Value>, name: &str) -> Option<ZoneKind> {
    for key in MEETING_PROPERTIES {
        match props.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {
                return Some(ZoneKind::MeetingRoom { meeting: s.clone() });
            }
            Some(v) if truthy(v) => {
                return Some(ZoneKind::MeetingRoom {
                    meeting: name.to_owned(),
                });
            }
            _ => {}
        }
    }
    if props.get("silent").is_some_and(truthy) {
        return Some(ZoneKind::Silent);
    }
    if props.get("start").is_some_and(truthy) {
        return Some(ZoneKind::Spawn);
    }
    None
}

/// A map's zones and its free spawn tiles.
pub(crate) type ZonesAndSpawns = (Vec<Zone>, Vec<(i32, i32)>);

/// Zones and free spawn tiles of `doc`, whose tile layers are `layers`.
pub(crate) fn read_zones(
    path: &Path,
    doc: &Doc,
    layers: &[TileLayer],
    grid: &CollisionGrid,
) -> Result<ZonesAndSpawns, MapError> {
    let mut zones = Vec::new();
    let mut spawns = Vec::new();
    let mut problems = Vec::new();
    let size = (i64::from(doc.width), i64::from(doc.height));
    let tile = (
        f64::from(doc.tile_width.max(1)),
        f64::from(doc.tile_height.max(1)),
    );
    let mut tile_layers = layers.iter();
    doc.visit_layers(|layer_name, layer| match layer.kind.as_str() {
        "objectgroup" => {
            let objects = layer.fields.get("objects").and_then(Value::as_array);
            for value in objects.into_iter().flatten() {
                let object = match RawObject::deserialize(value) {
                    Ok(o) => o,
                    Err(e) => {
                        problems.push(
                            MapProblem::new(path, format!("an object cannot be read: {e}"))
                                .in_layer(layer_name),
                        );
                        continue;
                    }
                };
                let props = properties_object(&object.properties);
                let name = if object.name.is_empty() {
                    format!("{layer_name}#{}", object.id)
                } else {
                    object.name.clone()
                };
                let kind = zone_kind(&props, &name);
                let is_area = object.class_name().eq_ignore_ascii_case("area") || kind.is_some();
                if !is_area || object.text.is_some() || object.polyline.is_some() {
                    continue;
                }
                let Some((x, y, w, h)) = clip(tile_rect(&object, tile), size) else {
                    continue;
                };
                if props.get("start").is_some_and(truthy) {
                    for ty in y..y + h {
                        spawns.extend((x..x + w).map(|tx| (tx, ty)));
                    }
                }
                zones.push(Zone {
                    name,
                    kind: kind.unwrap_or(ZoneKind::Area),
                    x,
                    y,
                    width: w as u32,
                    height: h as u32,
                    properties: props,
                });
            }
        }
        "tilelayer" if layer.tiles.is_some() => {
            let Some(tiles) = tile_layers.next() else {
                return;
            };
            let width = doc.width.max(1) as usize;
            let base = layer_name.rsplit('/').next().unwrap_or(layer_name);
            let props = &tiles.properties;
            if base == "start" || property(props, "startLayer").is_some_and(truthy) {
                spawns.extend(
                    tiles
                        .gids
                        .iter()
                        .enumerate()
                        .filter(|&(_, &g)| g & !GID_FLAG_BITS != 0)
                        .map(|(i, _)| ((i % width) as i32, (i / width) as i32)),
                );
            }
            let props = match layer_properties(layer) {
                Ok(p) => properties_object(&p),
                Err(_) => return,
            };
            let Some(kind) = zone_kind(&props, layer_name).filter(|k| *k != ZoneKind::Spawn) else {
                return;
            };
            for (x, y, w, h) in rectangles(tiles.gids, width) {
                zones.push(Zone {
                    name: layer_name.to_owned(),
                    kind: kind.clone(),
                    x,
                    y,
                    width: w,
                    height: h,
                    properties: props.clone(),
                });
            }
        }
        _ => {}
    });
    MapError::from_problems(problems)?;
    let mut seen = rustc_hash::FxHashSet::default();
    spawns.retain(|&(x, y)| !grid.is_tile_blocked(x, y) && seen.insert((x, y)));
    Ok((zones, spawns))
}

/// An object's tiles: left, top, right, bottom (exclusive), by the rule in
/// the module's documentation.
fn tile_rect(o: &RawObject, (tw, th): (f64, f64)) -> (i64, i64, i64, i64) {
    let (left, top, right, bottom) = if o.point {
        (o.x, o.y, o.x, o.y)
    } else if let Some(points) = o.polygon.as_ref().filter(|p| !p.is_empty()) {
        let xs = points.iter().map(|p| o.x + p.x);
        let ys = points.iter().map(|p| o.y + p.y);
        (
            xs.clone().fold(f64::INFINITY, f64::min),
            ys.clone().fold(f64::INFINITY, f64::min),
            xs.fold(f64::NEG_INFINITY, f64::max),
            ys.fold(f64::NEG_INFINITY, f64::max),
        )
    } else if o.gid.is_some() {
        (o.x, o.y - o.height, o.x + o.width, o.y)
    } else {
        (o.x, o.y, o.x + o.width, o.y + o.height)
    };
    let (x0, x1) = snap(left / tw, right / tw);
    let (y0, y1) = snap(top / th, bottom / th);
    (x0, y0, x1, y1)
}

/// Snaps both edges to the nearest tile border; an empty span becomes the
/// tile its centre is on.
fn snap(from: f64, to: f64) -> (i64, i64) {
    let round = |v: f64| (v + 0.5).floor() as i64;
    let (a, b) = (round(from), round(to));
    if b > a {
        (a, b)
    } else {
        let centre = ((from + to) / 2.0).floor() as i64;
        (centre, centre + 1)
    }
}

/// The part of a tile rectangle inside a map of `size`: x, y, width, height.
fn clip(
    (x0, y0, x1, y1): (i64, i64, i64, i64),
    (w, h): (i64, i64),
) -> Option<(i32, i32, i32, i32)> {
    let (x0, y0, x1, y1) = (x0.max(0), y0.max(0), x1.min(w), y1.min(h));
    (x1 > x0 && y1 > y0).then(|| (x0 as i32, y0 as i32, (x1 - x0) as i32, (y1 - y0) as i32))
}

/// Rectangles covering exactly the non-empty tiles of a layer, greedily:
/// runs along a row, grown downwards while the rows below have the same run.
fn rectangles(gids: &[u32], width: usize) -> Vec<(i32, i32, u32, u32)> {
    let height = gids.len() / width.max(1);
    let filled = |i: usize| gids[i] & !GID_FLAG_BITS != 0;
    let mut used = vec![false; gids.len()];
    let mut out = Vec::new();
    for y in 0..height {
        let mut x = 0;
        while x < width {
            let i = y * width + x;
            if !filled(i) || used[i] {
                x += 1;
                continue;
            }
            let mut x1 = x;
            while x1 < width && filled(y * width + x1) && !used[y * width + x1] {
                x1 += 1;
            }
            let mut y1 = y + 1;
            while y1 < height && (x..x1).all(|xx| filled(y1 * width + xx) && !used[y1 * width + xx])
            {
                y1 += 1;
            }
            for yy in y..y1 {
                used[yy * width + x..yy * width + x1].fill(true);
            }
            out.push((x as i32, y as i32, (x1 - x) as u32, (y1 - y) as u32));
            x = x1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_snap_to_the_nearest_border() {
        assert_eq!(snap(13.70, 15.27), (14, 15));
        assert_eq!(snap(1.0, 7.0), (1, 7));
        assert_eq!(snap(0.06, 0.375), (0, 1));
        assert_eq!(snap(2.5, 3.49), (2, 3));
        assert_eq!(snap(2.6, 3.5), (3, 4));
        assert_eq!(snap(-1.2, -0.9), (-2, -1));
    }

    #[test]
    fn rectangles_cover_exactly_the_tiles() {
        // An L shape and a lone tile.
        let gids = [1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0];
        let rects = rectangles(&gids, 4);
        let mut covered = [0u32; 12];
        for &(x, y, w, h) in &rects {
            for yy in y..y + h as i32 {
                for xx in x..x + w as i32 {
                    covered[(yy * 4 + xx) as usize] += 1;
                }
            }
        }
        let want: Vec<u32> = gids.iter().map(|&g| u32::from(g != 0)).collect();
        assert_eq!(covered.to_vec(), want);
        assert_eq!(rects[0], (0, 0, 2, 2));
    }

    #[test]
    fn kinds_follow_the_precedence() {
        let props = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(
            zone_kind(
                &props(serde_json::json!({"jitsiRoom": "X", "silent": true})),
                "n"
            ),
            Some(ZoneKind::MeetingRoom {
                meeting: "X".into()
            })
        );
        assert_eq!(
            zone_kind(&props(serde_json::json!({"meetingRoom": true})), "n"),
            Some(ZoneKind::MeetingRoom {
                meeting: "n".into()
            })
        );
        assert_eq!(
            zone_kind(
                &props(serde_json::json!({"jitsiRoom": "", "silent": true})),
                "n"
            ),
            Some(ZoneKind::Silent)
        );
        assert_eq!(
            zone_kind(&props(serde_json::json!({"start": true})), "n"),
            Some(ZoneKind::Spawn)
        );
        assert_eq!(
            zone_kind(&props(serde_json::json!({"start": false})), "n"),
            None
        );
    }
}
