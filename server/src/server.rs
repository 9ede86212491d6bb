//! Running the server: load the offices from the maps folder, serve HTTP and
//! WebSocket on one listener, stop cleanly when told to.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, DevLogin};
use crate::graph::Transport;
use crate::identity::membership::Membership;
use crate::identity::{SignIn, SignInError};
use crate::map::watch::{MapEvent, WatchOptions, watch_maps};
use crate::map::{CollisionRule, OfficeMap, is_map_file, load_map};
use crate::meetings::Providers;
use crate::metrics::Metrics;
use crate::net::session::Sessions;
use crate::office::{OfficeHandle, start_office};
use crate::presence::PresenceHub;
use crate::settings::SettingsBook;
use crate::store::{Store, StoreError, StoreWriter};

/// A fault that stops the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The maps folder could not be read.
    #[error("cannot read the maps folder {0}: {1}")]
    Maps(String, std::io::Error),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
    /// The meeting providers could not be set up.
    #[error("{0}")]
    Meetings(#[from] crate::meetings::MeetingsError),
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Teams sign-in could not be set up.
    #[error("Teams sign-in: {0}")]
    SignIn(#[from] SignInError),
}

/// What every connection and HTTP handler shares.
#[derive(Debug)]
pub struct ServerContext {
    /// The configuration in force.
    pub config: Config,
    /// Running offices by id.
    pub offices: DashMap<String, OfficeHandle>,
    /// Maps that were refused, by file, with the reason.
    pub refused_maps: DashMap<String, String>,
    /// Whether the development login is accepted here.
    pub dev_login_allowed: bool,
    /// Caps open connections.
    pub connections: Arc<Semaphore>,
    /// Open WebSocket connections.
    pub open_connections: AtomicUsize,
    /// Cancelled when the server stops.
    pub shutdown: CancellationToken,
    /// Every task that must end before the server has stopped.
    pub tasks: TaskTracker,
    /// Where offices tick.
    pub office_thread: crate::office::thread::OfficeThread,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The meeting providers, built once and shared by every office's desk.
    pub providers: Providers,
    /// The database, for reads and admin writes.
    pub store: Store,
    /// Writes from sign-ins and offices, off the tick.
    pub writer: StoreWriter,
    /// Teams sign-in; `None` when no audience is configured.
    pub sign_in: Option<SignIn>,
    /// Who is in which office.
    pub sessions: Sessions,
    /// Team membership checks; `None` without Graph credentials.
    pub membership: Option<Membership>,
    /// Teams presence shown on avatars, presence written while talking,
    /// activity-feed notifications for knocks.
    pub presence: PresenceHub,
    /// Stored office settings in force (access checks read them here).
    pub settings: SettingsBook,
}

impl ServerContext {
    /// Number of open WebSocket connections.
    pub fn connection_count(&self) -> usize {
        self.open_connections.load(Ordering::Relaxed)
    }
}

/// The collision rule for offices under `config`.
pub fn office_collision_rule(config: &Config) -> CollisionRule {
    match &config.office.collision_property {
        Some(name) => CollisionRule::only(name),
        None => CollisionRule::office_default(),
    }
}

/// Starts an office for every map in the maps folder; maps that fail are
/// logged and listed in `refused_maps`.
fn open_offices(ctx: &ServerContext) -> Result<(), ServerError> {
    let dir = &ctx.config.maps;
    let entries =
        std::fs::read_dir(dir).map_err(|e| ServerError::Maps(dir.display().to_string(), e))?;
    let rule = office_collision_rule(&ctx.config);
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_map_file(p))
        .collect();
    paths.sort();
    for path in paths {
        let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        match load_map(&path, &rule, Some(dir)) {
            Ok(map) => open_office(ctx, &id, &map),
            Err(e) => {
                tracing::error!(file = %path.display(), "map refused: {e}");
                ctx.refused_maps
                    .insert(path.display().to_string(), e.to_string());
            }
        }
    }
    if ctx.offices.is_empty() {
        tracing::warn!(folder = %dir.display(), "no office: the maps folder has no valid map");
    }
    Ok(())
}

/// Starts the office `id` on `map`.
pub(crate) fn open_office(ctx: &ServerContext, id: &str, map: &OfficeMap) {
    let mut handle = start_office(
        id,
        map,
        &ctx.config,
        ctx.metrics.clone(),
        ctx.providers.clone(),
        ctx.presence.clone(),
        ctx.shutdown.clone(),
        (&ctx.tasks, &ctx.office_thread),
    );
    handle.map = crate::settings::map_name(map);
    tracing::info!(office = %id, map = %handle.map, width = map.width, height = map.height, walkable = map.grid.walkable_tiles(), "map loaded");
    ctx.offices.insert(id.to_owned(), handle);
}

/// Watches the maps folder: a new map opens a new office, a changed map that
/// passes validation is swapped into its office at the next tick, a map that
/// fails keeps the office on its last good map (the reason is logged and
/// listed under `refused_maps` in `/healthz`).
fn watch_offices(ctx: &Arc<ServerContext>) {
    let options = WatchOptions {
        rule: office_collision_rule(&ctx.config),
        ..WatchOptions::default()
    };
    let (watcher, mut events) = match watch_maps(&ctx.config.maps, options) {
        Ok(watch) => watch,
        Err(e) => {
            tracing::warn!(cause = %e, "maps are not watched: changes need a restart");
            return;
        }
    };
    let ctx = ctx.clone();
    let tasks = ctx.tasks.clone();
    tasks.spawn(async move {
        let _watcher = watcher;
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = ctx.shutdown.cancelled() => None,
            };
            let Some(event) = event else { break };
            match event {
                MapEvent::Loaded { id, map } => {
                    ctx.refused_maps.remove(&map.path.display().to_string());
                    // Every office running this map gets it, whatever its id.
                    let running: Vec<String> = ctx
                        .offices
                        .iter()
                        .filter(|office| office.map == id)
                        .map(|office| office.key().clone())
                        .collect();
                    for office in running {
                        crate::settings::replace_map(&ctx, &office, map.clone()).await;
                    }
                    if !ctx.offices.contains_key(&id) {
                        open_office(&ctx, &id, &map);
                        crate::settings::apply_stored(&ctx, &id).await;
                    }
                }
                MapEvent::Refused { id, path, error } => {
                    tracing::error!(office = %id, file = %path.display(), "map refused, the office keeps its last good map: {error}");
                    ctx.refused_maps.insert(path.display().to_string(), error.to_string());
                }
                MapEvent::Removed { id } => {
                    tracing::warn!(office = %id, "map file removed; the office keeps running on its last map until restart");
                }
            }
        }
    });
}

/// Runs the server on `listener` until `shutdown` completes, then closes
/// every connection and waits for every task to end.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let local: SocketAddr = listener.local_addr()?;
    let dev_login_allowed = match config.auth.dev_login {
        DevLogin::Always => true,
        DevLogin::Loopback => local.ip().is_loopback(),
        DevLogin::Off => false,
    };
    if config.auth.dev_login == DevLogin::Loopback && !dev_login_allowed {
        tracing::warn!(%local, "the development login is off: the server does not listen on loopback");
    }
    let metrics = Arc::new(Metrics::default());
    // One transport for every call to Microsoft: one set of Graph budgets,
    // and every call counted on `/metrics`.
    let transport = Arc::new(
        Transport::new(
            &config.graph.retry,
            config.graph.budgets.clone(),
            crate::clock::SystemClock::shared(),
        )
        .map_err(crate::meetings::MeetingsError::from)?
        .with_metrics(metrics.graph.clone()),
    );
    let providers = Providers::with_transport(&config, transport.clone())?;
    let url = config.database.resolve(&config.data_dir);
    let store = Store::open(&url).await?;
    tracing::info!(database = store.kind(), "database open and migrated");
    let sign_in = SignIn::from_config(&config)?;
    if sign_in.is_none() {
        tracing::info!("Teams sign-in is off: set [auth] audiences or [graph] client_id");
    }
    let membership = Membership::with_transport(&config, transport.clone());
    if sign_in.is_some() && membership.is_none() {
        tracing::warn!("team membership is not checked: [graph] has no credentials");
    }
    if config.admin.token.is_none() {
        tracing::info!("the admin API is off: set [admin] token");
    }
    let stopping = CancellationToken::new();
    let tasks = TaskTracker::new();
    // The store task outlives the offices' shutdown: it drains their last
    // writes once the connections are gone.
    let store_stop = CancellationToken::new();
    let store_tasks = TaskTracker::new();
    let writer = StoreWriter::start(store.clone(), store_stop.clone(), &store_tasks);
    let presence = PresenceHub::with_transport(
        &config,
        transport.clone(),
        crate::clock::SystemClock::shared(),
        stopping.clone(),
        &tasks,
    );
    let office_thread = crate::office::thread::OfficeThread::start(tasks.clone())?;
    let ctx = Arc::new(ServerContext {
        office_thread,
        connections: Arc::new(Semaphore::new(config.limits.max_connections)),
        config,
        offices: DashMap::new(),
        refused_maps: DashMap::new(),
        dev_login_allowed,
        open_connections: AtomicUsize::new(0),
        shutdown: stopping,
        tasks,
        metrics,
        providers,
        store,
        writer,
        sign_in,
        sessions: Sessions::default(),
        membership,
        presence,
        settings: SettingsBook::default(),
    });
    open_offices(&ctx)?;
    crate::settings::sync::start(&ctx).await;
    watch_offices(&ctx);
    let app = crate::net::http::router(ctx.clone());
    let token = ctx.shutdown.clone();
    tracing::info!(address = %local, "listening: http://{local}/ (WebSocket at /ws)");
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        tokio::select! {
            _ = shutdown => {}
            _ = token.cancelled() => {}
        }
    })
    .await;
    ctx.shutdown.cancel();
    ctx.tasks.close();
    ctx.tasks.wait().await;
    store_stop.cancel();
    store_tasks.close();
    store_tasks.wait().await;
    ctx.store.close().await;
    tracing::info!("stopped");
    served.map_err(ServerError::from)
}
