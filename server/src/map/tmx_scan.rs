//! A pre-scan of TMX maps, before the `tiled` crate sees them (it inflates
//! compressed data with no limit). Every `<data>` element is decoded here,
//! in any encoding (CSV, base64, zlib, gzip, zstd, or `<tile>` elements),
//! with a bounded decoder: the layer's (or chunk's) width × height × 4 bytes,
//! no more. The crate then gets the same document with each `<data>` left
//! empty: it reads everything else (tilesets, objects, templates,
//! properties), the server keeps the GIDs decoded here, flip bits and all,
//! and no tile is decoded twice (the crate would hold 16 bytes a tile more).

use std::path::Path;

use quick_xml::events::{BytesEnd, BytesStart, Event};
use quick_xml::{Reader, Writer};

use super::MAX_SIDE;
use super::data::{TileBudget, decode_text};
use super::doc::{Chunk, TileData};
use super::error::{MapError, MapProblem};

/// What the pre-scan found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Map width in tiles (the editor's size for infinite maps).
    pub width: u32,
    /// Map height in tiles.
    pub height: u32,
    /// Whether the map is infinite.
    pub infinite: bool,
    /// The map's tilesets: `firstgid` and `source` (None when embedded).
    pub tilesets: Vec<(u32, Option<String>)>,
    /// The tiles of each tile layer, in document order.
    pub layers: Vec<TileData>,
    /// The document for the `tiled` crate: every `<data>` empty.
    pub document: Vec<u8>,
}

/// The value of attribute `name`.
fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn number<T: std::str::FromStr>(e: &BytesStart, name: &[u8]) -> Option<T> {
    attr(e, name).and_then(|v| v.trim().parse().ok())
}

struct Scanner<'a> {
    path: &'a Path,
    reader: Reader<&'a [u8]>,
    writer: Writer<Vec<u8>>,
    scan: Scan,
    groups: Vec<String>,
    /// The tile layer being read: its flattened name, width and height.
    layer: Option<(String, u32, u32)>,
    /// Whether that layer had a `<data>` element.
    layer_has_data: bool,
    depth: usize,
}

/// Pre-scans the TMX document `bytes` read from `path`.
pub(crate) fn scan(path: &Path, bytes: &[u8], budget: &mut TileBudget) -> Result<Scan, MapError> {
    let mut s = Scanner {
        path,
        reader: Reader::from_reader(bytes),
        writer: Writer::new(Vec::with_capacity(bytes.len())),
        scan: Scan {
            width: 0,
            height: 0,
            infinite: false,
            tilesets: Vec::new(),
            layers: Vec::new(),
            document: Vec::new(),
        },
        groups: Vec::new(),
        layer: None,
        layer_has_data: false,
        depth: 0,
    };
    let mut seen_map = false;
    loop {
        let event = s.next()?;
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.name().as_ref() {
                    b"map" => {
                        seen_map = true;
                        s.read_map(e)?;
                    }
                    b"tileset" if s.depth == 1 => {
                        let first = number(e, b"firstgid").unwrap_or(1);
                        s.scan.tilesets.push((first, attr(e, b"source")));
                    }
                    b"group" if !empty => s.groups.push(attr(e, b"name").unwrap_or_default()),
                    b"layer" => {
                        let name =
                            format!("{}{}", s.prefix(), attr(e, b"name").unwrap_or_default());
                        let (w, h) = (
                            number(e, b"width").unwrap_or(0),
                            number(e, b"height").unwrap_or(0),
                        );
                        s.layer = Some((name, w, h));
                        s.layer_has_data = false;
                        if empty {
                            s.push_empty_layer(budget)?;
                            s.layer = None;
                        }
                    }
                    b"data" if !empty && s.layer.is_some() => {
                        let e = e.to_owned();
                        s.read_data(&e, budget)?;
                        continue;
                    }
                    _ => {}
                }
                if !empty {
                    s.depth += 1;
                }
            }
            Event::End(e) => {
                s.depth = s.depth.saturating_sub(1);
                match e.name().as_ref() {
                    b"group" => {
                        s.groups.pop();
                    }
                    b"layer" => {
                        if !s.layer_has_data {
                            s.push_empty_layer(budget)?;
                        }
                        s.layer = None;
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        s.write(event)?;
    }
    if !seen_map {
        return Err(MapError::single(
            path,
            "not a TMX map: it has no <map> element",
        ));
    }
    s.scan.document = s.writer.into_inner();
    Ok(s.scan)
}

impl Scanner<'_> {
    fn next(&mut self) -> Result<Event<'static>, MapError> {
        match self.reader.read_event() {
            Ok(event) => Ok(event.into_owned()),
            Err(e) => Err(MapError::single(
                self.path,
                format!(
                    "not a valid TMX file: {e} (near byte {})",
                    self.reader.buffer_position()
                ),
            )),
        }
    }

    fn write(&mut self, event: Event) -> Result<(), MapError> {
        self.writer
            .write_event(event)
            .map_err(|e| MapError::single(self.path, format!("cannot rewrite the TMX file: {e}")))
    }

    fn prefix(&self) -> String {
        self.groups.iter().map(|g| format!("{g}/")).collect()
    }

    fn problem(&self, reason: impl Into<String>) -> MapProblem {
        let p = MapProblem::new(self.path, reason);
        match &self.layer {
            Some((name, _, _)) => p.in_layer(name),
            None => p,
        }
    }

    fn read_map(&mut self, e: &BytesStart) -> Result<(), MapError> {
        let orientation = attr(e, b"orientation").unwrap_or_else(|| "orthogonal".into());
        if orientation != "orthogonal" {
            return Err(MapError::single(
                self.path,
                format!(
                    "the map is {orientation}; offices walk on orthogonal maps only (Tiled: Map > Map Properties > Orientation)"
                ),
            ));
        }
        self.scan.width = number(e, b"width").unwrap_or(0);
        self.scan.height = number(e, b"height").unwrap_or(0);
        self.scan.infinite = attr(e, b"infinite").as_deref() == Some("1");
        let (w, h) = (self.scan.width, self.scan.height);
        if !self.scan.infinite && (w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE) {
            return Err(MapError::single(
                self.path,
                format!("the map is {w}×{h} tiles; it must be 1 to {MAX_SIDE} tiles on each side"),
            ));
        }
        Ok(())
    }

    /// The layer being read has no `<data>`: no tiles.
    fn push_empty_layer(&mut self, budget: &mut TileBudget) -> Result<(), MapError> {
        self.layer_has_data = true;
        if self.scan.infinite {
            self.scan.layers.push(TileData::Chunks(Vec::new()));
            return Ok(());
        }
        let cells = self.check_layer_size()?;
        budget.take(cells as u64).map_err(|r| self.problem(r))?;
        self.scan.layers.push(TileData::Grid(vec![0; cells]));
        Ok(())
    }

    /// The layer's size in tiles, which must be the map's.
    fn check_layer_size(&self) -> Result<usize, MapError> {
        let (w, h) = self.layer.as_ref().map_or((0, 0), |l| (l.1, l.2));
        if (w, h) != (self.scan.width, self.scan.height) {
            return Err(self
                .problem(format!(
                    "the layer is {w}×{h} tiles but the map is {}×{}",
                    self.scan.width, self.scan.height
                ))
                .into());
        }
        Ok(w as usize * h as usize)
    }

    /// Reads text (or CDATA) and `<tile gid>` elements up to `</end>`.
    fn read_payload(&mut self, end: &[u8]) -> Result<(String, Vec<u32>), MapError> {
        let mut text = String::new();
        let mut gids = Vec::new();
        loop {
            match self.next()? {
                Event::Text(t) => {
                    let t = t
                        .unescape()
                        .map_err(|e| self.problem(format!("damaged layer data: {e}")))?;
                    text.push_str(&t);
                }
                Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c)),
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"tile" => {
                    gids.push(number(&e, b"gid").unwrap_or(0));
                }
                Event::End(e) if e.name().as_ref() == end => return Ok((text, gids)),
                Event::Eof => return Err(self.problem("the file ends inside layer data").into()),
                _ => {}
            }
        }
    }

    fn decode(
        &self,
        e: &BytesStart,
        payload: (String, Vec<u32>),
        expected: usize,
    ) -> Result<Vec<u32>, MapError> {
        let (encoding, compression) = (attr(e, b"encoding"), attr(e, b"compression"));
        let (text, xml_gids) = payload;
        if encoding.is_none() {
            if xml_gids.len() != expected {
                return Err(self
                    .problem(format!(
                        "the layer data holds {} tiles but the layer has {expected}",
                        xml_gids.len()
                    ))
                    .into());
            }
            return Ok(xml_gids);
        }
        decode_text(encoding.as_deref(), compression.as_deref(), &text, expected)
            .map_err(|r| self.problem(r).into())
    }

    /// Reads a `<data>` element (its start tag read) and writes it empty.
    fn read_data(&mut self, data: &BytesStart, budget: &mut TileBudget) -> Result<(), MapError> {
        self.layer_has_data = true;
        let encoded = BytesStart::new("data").with_attributes([("encoding", "base64")]);
        if !self.scan.infinite {
            let cells = self.check_layer_size()?;
            budget.take(cells as u64).map_err(|r| self.problem(r))?;
            let payload = self.read_payload(b"data")?;
            let gids = self.decode(data, payload, cells)?;
            self.write(Event::Start(encoded))?;
            self.write(Event::End(BytesEnd::new("data")))?;
            self.scan.layers.push(TileData::Grid(gids));
            return Ok(());
        }
        self.write(Event::Start(encoded))?;
        let mut chunks = Vec::new();
        loop {
            match self.next()? {
                Event::Start(e) if e.name().as_ref() == b"chunk" => {
                    let x: i64 = number(&e, b"x").unwrap_or(0);
                    let y: i64 = number(&e, b"y").unwrap_or(0);
                    let w: u32 = number(&e, b"width").unwrap_or(0);
                    let h: u32 = number(&e, b"height").unwrap_or(0);
                    if w > MAX_SIDE || h > MAX_SIDE {
                        return Err(self
                            .problem(format!("a chunk of {w}×{h} tiles is too large"))
                            .at(x, y)
                            .into());
                    }
                    let cells = w as usize * h as usize;
                    budget.take(cells as u64).map_err(|r| self.problem(r))?;
                    let payload = self.read_payload(b"chunk")?;
                    let gids = self.decode(data, payload, cells).map_err(|mut err| {
                        for p in &mut err.0 {
                            p.reason = format!("in the chunk at ({x}, {y}): {}", p.reason);
                        }
                        err
                    })?;
                    chunks.push(Chunk {
                        x,
                        y,
                        width: w,
                        height: h,
                        gids,
                    });
                }
                Event::End(e) if e.name().as_ref() == b"data" => break,
                Event::Eof => return Err(self.problem("the file ends inside layer data").into()),
                _ => {}
            }
        }
        self.write(Event::End(BytesEnd::new("data")))?;
        self.scan.layers.push(TileData::Chunks(chunks));
        Ok(())
    }
}
