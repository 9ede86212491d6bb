//! Watching the maps folder: a new or changed map is loaded (with the
//! folder as its drop folder) once its file has settled, and the result is
//! sent on a bounded channel as a [`MapEvent`]. Editors save in several
//! writes, so a file is read only after a quiet period with no change to it
//! (default 300 ms). A changed tileset or template re-validates every map
//! that refers to it (also maps refused because it was missing or broken).
//!
//! Maps are the `.tmj`, `.json` and `.tmx` files directly in the folder,
//! except files that a map uses as a tileset or template; tilesets,
//! templates and images may be in subfolders. The watcher reports; wiring
//! the events into offices is the caller's job.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::files::normalize;
use super::{CollisionRule, MapError, OfficeMap, is_map_file, load_tracked};

/// What happened to an office's map.
#[derive(Debug, Clone)]
pub enum MapEvent {
    /// The map (new or changed) loaded.
    Loaded {
        /// The office id (the file name without extension).
        id: String,
        /// The map.
        map: Arc<OfficeMap>,
    },
    /// The map (new or changed) was refused; the office keeps its last good map.
    Refused {
        /// The office id.
        id: String,
        /// The map file.
        path: PathBuf,
        /// Why.
        error: MapError,
    },
    /// The map file is gone.
    Removed {
        /// The office id.
        id: String,
    },
}

/// How the watcher works.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// How long a file must stay unchanged before it is read.
    pub quiet: Duration,
    /// Which tile properties block.
    pub rule: CollisionRule,
    /// Events queued before the watcher waits for the receiver.
    pub capacity: usize,
    /// Also report the maps already in the folder when the watch starts.
    pub report_existing: bool,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            quiet: Duration::from_millis(300),
            rule: CollisionRule::office_default(),
            capacity: 64,
            report_existing: false,
        }
    }
}

/// Why the folder cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The folder cannot be read.
    #[error("cannot read the maps folder {0}: {1}")]
    Folder(PathBuf, std::io::Error),
    /// The operating system refused to watch it.
    #[error("cannot watch the maps folder {0}: {1}")]
    Notify(PathBuf, notify::Error),
}

/// A running watch; dropping it stops watching.
#[derive(Debug)]
pub struct MapWatcher {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for MapWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `folder`. Must be called inside a tokio runtime.
pub fn watch_maps(
    folder: &Path,
    options: WatchOptions,
) -> Result<(MapWatcher, mpsc::Receiver<MapEvent>), WatchError> {
    let folder = folder
        .canonicalize()
        .map_err(|e| WatchError::Folder(folder.to_owned(), e))?;
    let (raw_tx, raw_rx) = mpsc::channel::<Vec<PathBuf>>(1024);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            // notify calls back on its own thread, never inside the runtime.
            let _ = raw_tx.blocking_send(event.paths);
        }
    })
    .map_err(|e| WatchError::Notify(folder.clone(), e))?;
    watcher
        .watch(&folder, RecursiveMode::Recursive)
        .map_err(|e| WatchError::Notify(folder.clone(), e))?;
    let (tx, rx) = mpsc::channel(options.capacity.max(1));
    let task = tokio::spawn(run(folder, options, raw_rx, tx));
    Ok((
        MapWatcher {
            _watcher: watcher,
            task,
        },
        rx,
    ))
}

/// What the watcher knows of each map: the files it refers to.
#[derive(Debug, Default)]
struct Maps {
    folder: PathBuf,
    /// Map file → every file it refers to (itself included).
    uses: HashMap<PathBuf, Vec<PathBuf>>,
}

impl Maps {
    /// Whether `path` is an office's map: a map file directly in the folder
    /// that no map uses as a tileset or template.
    fn is_office_map(&self, path: &Path) -> bool {
        path.parent() == Some(self.folder.as_path())
            && is_map_file(path)
            && !self
                .uses
                .iter()
                .any(|(map, files)| map != path && files.iter().any(|f| f == path))
    }

    /// The maps to load again after `changed` changed.
    fn affected(&self, changed: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
        let mut out: BTreeSet<PathBuf> = changed
            .iter()
            .filter(|p| self.is_office_map(p))
            .cloned()
            .collect();
        for (map, files) in &self.uses {
            if self.is_office_map(map) && files.iter().any(|f| changed.contains(f)) {
                out.insert(map.clone());
            }
        }
        out
    }

    /// Loads `map` (or notes it gone) and says what happened.
    fn reload(&mut self, map: &Path, rule: &CollisionRule) -> Option<MapEvent> {
        let id = map.file_stem()?.to_string_lossy().into_owned();
        if !map.is_file() {
            return self.uses.remove(map).map(|_| MapEvent::Removed { id });
        }
        let (result, uses) = load_tracked(map, rule, Some(&self.folder));
        self.uses.insert(map.to_owned(), uses);
        Some(match result {
            Ok(loaded) => MapEvent::Loaded {
                id,
                map: Arc::new(loaded),
            },
            Err(error) => MapEvent::Refused {
                id,
                path: map.to_owned(),
                error,
            },
        })
    }
}

async fn run(
    folder: PathBuf,
    options: WatchOptions,
    mut raw: mpsc::Receiver<Vec<PathBuf>>,
    tx: mpsc::Sender<MapEvent>,
) {
    let mut maps = Maps {
        folder: folder.clone(),
        uses: HashMap::new(),
    };
    let existing: BTreeSet<PathBuf> = std::fs::read_dir(&folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| normalize(&e.path()))
                .filter(|p| p.is_file() && is_map_file(p))
                .collect()
        })
        .unwrap_or_default();
    let (events, back) = load_batch(maps, existing, options.rule.clone()).await;
    maps = back;
    if options.report_existing && !send_all(&tx, events).await {
        return;
    }
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    loop {
        let deadline = pending.values().min().map(|&t| t + options.quiet);
        tokio::select! {
            paths = raw.recv() => {
                let Some(paths) = paths else { return };
                let now = Instant::now();
                for path in paths {
                    pending.insert(normalize(&path), now);
                }
            }
            () = sleep_until(deadline) => {
                let now = Instant::now();
                let settled: BTreeSet<PathBuf> = pending
                    .iter()
                    .filter(|&(_, &t)| t + options.quiet <= now)
                    .map(|(p, _)| p.clone())
                    .collect();
                pending.retain(|p, _| !settled.contains(p));
                let affected = maps.affected(&settled);
                if affected.is_empty() {
                    continue;
                }
                tracing::debug!(maps = affected.len(), "maps changed");
                let (events, back) = load_batch(maps, affected, options.rule.clone()).await;
                maps = back;
                if !send_all(&tx, events).await {
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Loads maps off the runtime's threads (reading and parsing block).
async fn load_batch(
    mut maps: Maps,
    paths: BTreeSet<PathBuf>,
    rule: CollisionRule,
) -> (Vec<MapEvent>, Maps) {
    let folder = maps.folder.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut done = HashSet::new();
        let loaded: Vec<(&PathBuf, MapEvent)> = paths
            .iter()
            .filter(|p| done.insert((*p).clone()))
            .filter_map(|p| maps.reload(p, &rule).map(|e| (p, e)))
            .collect();
        // A file another map turned out to use is a tileset or template.
        let mut events = Vec::new();
        for (path, event) in loaded {
            if maps.is_office_map(path) {
                events.push(event);
            } else {
                maps.uses.remove(path);
            }
        }
        (events, maps)
    })
    .await;
    joined.unwrap_or_else(|e| {
        tracing::error!(cause = %e, "loading maps failed");
        (
            Vec::new(),
            Maps {
                folder,
                uses: HashMap::new(),
            },
        )
    })
}

async fn send_all(tx: &mpsc::Sender<MapEvent>, events: Vec<MapEvent>) -> bool {
    for event in events {
        if tx.send(event).await.is_err() {
            return false;
        }
    }
    true
}
