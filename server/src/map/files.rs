//! The files a map refers to: resolving tileset, template and image paths,
//! keeping them inside the drop folder when there is one, reading them with
//! a size limit, and the image URLs clients fetch (`/maps/{id}/{file}`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::MAX_FILE_BYTES;
use super::error::MapProblem;

/// Where a map's files come from, and what it has read so far.
#[derive(Debug)]
pub(crate) struct MapFiles {
    /// The map file, normalized.
    pub map_path: PathBuf,
    /// Its folder.
    pub map_dir: PathBuf,
    /// The office id: the map file's name without extension.
    pub id: String,
    root: Option<Root>,
    /// Images the map uses, by the `{file}` part of their URL.
    pub images: BTreeMap<String, PathBuf>,
    /// Every file read (the map, tilesets, templates), normalized.
    pub read: Vec<PathBuf>,
    /// Every file looked for, read or not (a missing tileset too): what the
    /// map depends on, for the watcher.
    pub wanted: RefCell<Vec<PathBuf>>,
}

#[derive(Debug)]
struct Root {
    lexical: PathBuf,
    canonical: PathBuf,
}

/// `path` made absolute and stripped of `.` and `..`, without touching the
/// file system.
pub fn normalize(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl MapFiles {
    /// For the map at `map_path`; with a `root`, every file it refers to must
    /// be inside that folder.
    pub fn new(map_path: &Path, root: Option<&Path>) -> MapFiles {
        let map_path = normalize(map_path);
        let map_dir = map_path
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_owned);
        let id = map_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = root.map(|r| {
            let lexical = normalize(r);
            let canonical = lexical.canonicalize().unwrap_or_else(|_| lexical.clone());
            Root { lexical, canonical }
        });
        MapFiles {
            map_path,
            map_dir,
            id,
            root,
            images: BTreeMap::new(),
            read: Vec::new(),
            wanted: RefCell::new(Vec::new()),
        }
    }

    /// Whether `path` (normalized) is inside the drop folder, also once
    /// symbolic links are followed; always true without a drop folder.
    fn inside_root(&self, path: &Path) -> bool {
        let Some(root) = &self.root else { return true };
        if !path.starts_with(&root.lexical) {
            return false;
        }
        match path.canonicalize() {
            Ok(real) => real.starts_with(&root.canonical),
            Err(_) => true,
        }
    }

    fn want(&self, path: &Path) {
        let mut wanted = self.wanted.borrow_mut();
        if !wanted.iter().any(|p| p == path) {
            wanted.push(path.to_owned());
        }
    }

    /// Resolves `reference` (a `what`, named in file `referrer`) against the
    /// folder `base`; refused when it leaves the drop folder.
    pub fn resolve(
        &self,
        referrer: &Path,
        base: &Path,
        reference: &str,
        what: &str,
    ) -> Result<PathBuf, MapProblem> {
        let path = normalize(&base.join(reference));
        if self.inside_root(&path) {
            self.want(&path);
            Ok(path)
        } else {
            Err(MapProblem::new(
                referrer,
                format!(
                    "the {what} '{reference}' is outside the maps folder; keep every file a map uses inside the maps folder"
                ),
            ))
        }
    }

    /// Reads a file the map uses (at most [`MAX_FILE_BYTES`]), checking it is
    /// inside the drop folder; `what` names it in messages.
    pub fn read_file(&mut self, path: &Path, what: &str) -> Result<Vec<u8>, MapProblem> {
        let path = normalize(path);
        if !self.inside_root(&path) {
            return Err(MapProblem::new(
                &path,
                format!("the {what} is outside the maps folder"),
            ));
        }
        self.want(&path);
        let bytes = read_limited(&path).map_err(|reason| {
            MapProblem::new(&path, format!("cannot read the {what}: {reason}"))
        })?;
        if !self.read.contains(&path) {
            self.read.push(path);
        }
        Ok(bytes)
    }

    /// The URL clients fetch image `reference` from (named in `referrer`,
    /// relative to `base`): `/maps/{id}/{file}` with `file` its path from the
    /// map's folder. An image outside the map's folder (possible only without
    /// a drop folder) keeps its reference and is not served.
    pub fn image_url(
        &mut self,
        referrer: &Path,
        base: &Path,
        reference: &str,
    ) -> Result<String, MapProblem> {
        if reference.is_empty() || reference.contains("://") || reference.starts_with("data:") {
            return Ok(reference.to_owned());
        }
        let path = self.resolve(referrer, base, reference, "image")?;
        let Ok(relative) = path.strip_prefix(&self.map_dir) else {
            return Ok(reference.to_owned());
        };
        let file: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let file = file.join("/");
        let url = format!("/maps/{}/{}", url_encode(&self.id), url_encode(&file));
        self.images.insert(file, path);
        Ok(url)
    }
}

/// Reads at most [`MAX_FILE_BYTES`] of a file; larger is an error.
pub fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "the file is larger than {} MiB",
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

/// Percent-encodes everything but unreserved characters and `/`.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d.png")),
            PathBuf::from("/a/c/d.png")
        );
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
    }

    #[test]
    fn references_outside_the_root_are_refused() {
        let files = MapFiles::new(
            Path::new("/srv/maps/office.tmj"),
            Some(Path::new("/srv/maps")),
        );
        let base = Path::new("/srv/maps");
        let referrer = Path::new("/srv/maps/office.tmj");
        assert!(
            files
                .resolve(referrer, base, "tiles/a.tsj", "tileset")
                .is_ok()
        );
        let err = files
            .resolve(referrer, base, "../secret/a.tsj", "tileset")
            .expect_err("outside");
        assert!(err.reason.contains("outside the maps folder"), "{err}");
        let free = MapFiles::new(Path::new("/srv/maps/office.tmj"), None);
        assert!(
            free.resolve(referrer, base, "../secret/a.tsj", "tileset")
                .is_ok()
        );
    }

    #[test]
    fn image_urls_name_the_office_and_file() {
        let mut files = MapFiles::new(Path::new("/srv/maps/my office.tmj"), None);
        let url = files
            .image_url(
                Path::new("/srv/maps/tiles/t.tsj"),
                Path::new("/srv/maps/tiles"),
                "img/a b.png",
            )
            .expect("url");
        assert_eq!(url, "/maps/my%20office/tiles/img/a%20b.png");
        assert_eq!(
            files.images.get("tiles/img/a b.png"),
            Some(&PathBuf::from("/srv/maps/tiles/img/a b.png"))
        );
    }
}
