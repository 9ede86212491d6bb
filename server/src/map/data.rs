//! Tile layer data in every form Tiled writes it: CSV text, base64 of
//! little-endian GIDs, compressed with zlib, gzip or zstd. Compressed data
//! goes through a bounded decoder: it may inflate to exactly the bytes the
//! layer holds, never more, so a small file cannot expand without limit.

use std::io::Read;

use base64::Engine;

use super::MAX_TOTAL_TILES;

/// Counts the tiles decoded for one map, so that many small layers or
/// chunks cannot add up past [`MAX_TOTAL_TILES`].
#[derive(Debug, Default)]
pub(crate) struct TileBudget {
    used: u64,
}

impl TileBudget {
    /// Takes `tiles` from the budget.
    pub fn take(&mut self, tiles: u64) -> Result<(), String> {
        self.used = self.used.saturating_add(tiles);
        if self.used > MAX_TOTAL_TILES {
            Err(format!(
                "the map's tile layers hold more than {MAX_TOTAL_TILES} tiles in all; split the map or remove layers"
            ))
        } else {
            Ok(())
        }
    }
}

/// Whether `compression` names no compression (absent or empty).
fn uncompressed(compression: Option<&str>) -> bool {
    compression.is_none_or(str::is_empty)
}

/// Decodes layer data given as text (`encoding` `csv` or `base64`), which
/// must hold exactly `expected` GIDs.
pub(crate) fn decode_text(
    encoding: Option<&str>,
    compression: Option<&str>,
    text: &str,
    expected: usize,
) -> Result<Vec<u32>, String> {
    match encoding.unwrap_or("csv") {
        "csv" if uncompressed(compression) => decode_csv(text, expected),
        "csv" => Err("CSV layer data cannot be compressed".into()),
        "base64" => {
            let bytes = decode_base64(text)?;
            let bytes = match compression.filter(|c| !c.is_empty()) {
                None => bytes,
                Some(method) => inflate_bounded(method, &bytes, expected * 4)?,
            };
            gids_from_bytes(&bytes, expected)
        }
        other => Err(format!(
            "the layer data encoding '{other}' is unknown; Tiled writes csv or base64"
        )),
    }
}

fn decode_csv(text: &str, expected: usize) -> Result<Vec<u32>, String> {
    let mut gids = Vec::with_capacity(expected);
    for (i, item) in text.split(',').enumerate() {
        let item = item.trim();
        if item.is_empty() && i == expected {
            // A trailing comma.
            continue;
        }
        if gids.len() == expected {
            return Err(format!(
                "the layer data holds more than the {expected} tiles of the layer"
            ));
        }
        let gid = item
            .parse::<u32>()
            .map_err(|_| format!("tile {i} of the CSV layer data is '{item}', not a tile GID"))?;
        gids.push(gid);
    }
    if gids.len() != expected {
        return Err(format!(
            "the layer data holds {} tiles but the layer has {expected}",
            gids.len()
        ));
    }
    Ok(gids)
}

fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| format!("the base64 layer data is damaged: {e}"))
}

/// Inflates `input` compressed with `method` (`zlib`, `gzip` or `zstd`) to at
/// most `limit` bytes; more is an error.
pub(crate) fn inflate_bounded(method: &str, input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let reader: Box<dyn Read + '_> = match method {
        "zlib" => Box::new(flate2::read::ZlibDecoder::new(input)),
        "gzip" => Box::new(flate2::read::GzDecoder::new(input)),
        "zstd" => Box::new(
            zstd::stream::read::Decoder::new(input)
                .map_err(|e| format!("the zstd layer data cannot be read: {e}"))?,
        ),
        other => {
            return Err(format!(
                "the layer compression '{other}' is unknown; Tiled writes zlib, gzip or zstd"
            ));
        }
    };
    let mut out = Vec::with_capacity(limit.min(1 << 24));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the {method} layer data is damaged: {e}"))?;
    if out.len() > limit {
        return Err(format!(
            "the {method} layer data inflates past the {limit} bytes the layer holds"
        ));
    }
    Ok(out)
}

fn gids_from_bytes(bytes: &[u8], expected: usize) -> Result<Vec<u32>, String> {
    if bytes.len() != expected * 4 {
        return Err(format!(
            "the layer data holds {} bytes ({} tiles) but the layer has {expected} tiles ({} bytes)",
            bytes.len(),
            bytes.len() / 4,
            expected * 4
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Encodes GIDs as Tiled's base64 data, compressed with `method` (or not);
/// used by tests and benches to write maps in every form.
pub fn encode_base64(gids: &[u32], method: Option<&str>) -> String {
    use std::io::Write;
    let raw: Vec<u8> = gids.iter().flat_map(|g| g.to_le_bytes()).collect();
    let bytes = match method {
        Some("zlib") => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = e.write_all(&raw);
            e.finish().unwrap_or_default()
        }
        Some("gzip") => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = e.write_all(&raw);
            e.finish().unwrap_or_default()
        }
        Some("zstd") => zstd::stream::encode_all(&raw[..], 3).unwrap_or_default(),
        _ => raw,
    };
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_round_trips() {
        let gids = vec![0, 1, 2, 0x8000_0005, 7, 0, 9, 3];
        for method in [None, Some("zlib"), Some("gzip"), Some("zstd")] {
            let text = encode_base64(&gids, method);
            assert_eq!(
                decode_text(Some("base64"), method, &text, 8),
                Ok(gids.clone()),
                "{method:?}"
            );
        }
        assert_eq!(
            decode_text(Some("csv"), None, "0,1,2,2147483653,\n7,0,9,3,", 8),
            Ok(gids)
        );
    }

    #[test]
    fn wrong_lengths_and_bombs_are_refused() {
        let ten = encode_base64(&[1; 10], Some("zlib"));
        let err = decode_text(Some("base64"), Some("zlib"), &ten, 8).expect_err("too long");
        assert!(err.contains("inflates past the 32 bytes"), "{err}");
        let short = encode_base64(&[1; 6], None);
        let err = decode_text(Some("base64"), None, &short, 8).expect_err("too short");
        assert!(err.contains("6 tiles"), "{err}");
        let err = decode_text(Some("csv"), None, "1,2,x", 3).expect_err("bad csv");
        assert!(err.contains("'x'"), "{err}");
        let err = decode_text(Some("base64"), Some("lz4"), "AAAA", 1).expect_err("lz4");
        assert!(err.contains("lz4"), "{err}");
        let err = decode_text(Some("base64"), Some("zlib"), "AAAA", 1).expect_err("damaged");
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn the_budget_adds_up() {
        let mut budget = TileBudget::default();
        assert!(budget.take(MAX_TOTAL_TILES / 2).is_ok());
        assert!(budget.take(MAX_TOTAL_TILES / 2).is_ok());
        assert!(budget.take(1).is_err());
    }
}
