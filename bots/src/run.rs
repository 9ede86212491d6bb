//! Running many bots on one tokio runtime and gathering their measurements.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metaoffice_protocol::{
    ClientMessage, Direction, ErrorCode, Hold, Join, PROTOCOL_VERSION, ServerMessage, Update,
    Welcome,
};
use metaoffice_server::map::{CollisionRule, load_map};
use metaoffice_server::movement::CollisionGrid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::behavior::{Action, Behavior, Kind, Places};
use crate::stats::{Report, Stats};
use crate::{Client, Incoming, OfficeView};

/// The mix of behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Everyone wanders.
    Wander,
    /// Everyone commutes.
    Commute,
    /// Everyone idles in groups.
    Idle,
    /// 40 % wander, 30 % commute, 30 % idle.
    Mixed,
    /// Connected, never moving.
    Still,
}

impl Mix {
    fn kind(self, i: usize) -> Kind {
        match self {
            Mix::Wander => Kind::Wander,
            Mix::Commute => Kind::Commute,
            Mix::Idle => Kind::Idle,
            Mix::Still => Kind::Still,
            Mix::Mixed => match i % 10 {
                0..=3 => Kind::Wander,
                4..=6 => Kind::Commute,
                _ => Kind::Idle,
            },
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ws://host:port/ws`.
    pub url: String,
    /// Office ids; bots are spread over them in turn.
    pub offices: Vec<String>,
    /// Well-behaved bots.
    pub count: usize,
    /// Chaos bots, on top.
    pub chaos: usize,
    /// Seconds over which bots connect.
    pub ramp: Duration,
    /// Seconds measured after the ramp.
    pub duration: Duration,
    /// Behaviours.
    pub mix: Mix,
    /// Random seed.
    pub seed: u64,
}

/// Live counters for a progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bots in an office now.
    pub connected: AtomicU64,
    /// Frames received so far.
    pub frames: AtomicU64,
    /// Error frames and disconnects of well-behaved bots.
    pub trouble: AtomicU64,
}

struct Shared {
    settings: Settings,
    maps: Vec<Option<(CollisionGrid, Places)>>,
    started: Instant,
    measure_from: Instant,
    end: Instant,
    progress: Arc<Progress>,
}

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Fetches `/maps/{office}` over plain HTTP and reads its collision grid.
async fn fetch_map(url: &str, office: &str, rng: &mut StdRng) -> Option<(CollisionGrid, Places)> {
    let host = url.strip_prefix("ws://")?.split('/').next()?;
    let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let request =
        format!("GET /maps/{office} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    // The map loader reads files: keep the served copy in a temporary one.
    let file = std::env::temp_dir().join(format!(
        "metaoffice-bots-{}-{office}.json",
        std::process::id()
    ));
    std::fs::write(&file, &response[split..]).ok()?;
    let map = load_map(&file, &CollisionRule::office_default(), None);
    let _ = std::fs::remove_file(&file);
    let map = map.ok()?;
    let free: Vec<(i32, i32)> = (0..map.grid.height())
        .flat_map(|y| (0..map.grid.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| !map.grid.is_tile_blocked(x, y))
        .collect();
    if free.is_empty() {
        return None;
    }
    let mut targets = map.spawns.clone();
    targets.extend((0..200).map(|_| free[rng.random_range(0..free.len())]));
    let gatherings = (0..(free.len() / 400).clamp(4, 64))
        .map(|_| free[rng.random_range(0..free.len())])
        .collect();
    Some((
        map.grid,
        Places {
            targets,
            gatherings,
        },
    ))
}

/// Runs the bots and returns the report.
pub async fn run(settings: Settings, progress: Arc<Progress>) -> Report {
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut maps = Vec::new();
    for office in &settings.offices {
        maps.push(fetch_map(&settings.url, office, &mut rng).await);
    }
    let started = Instant::now();
    let shared = Arc::new(Shared {
        measure_from: started + settings.ramp,
        end: started + settings.ramp + settings.duration,
        started,
        maps,
        progress,
        settings,
    });
    let total = shared.settings.count + shared.settings.chaos;
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let start_at = started + shared.settings.ramp.mul_f64(i as f64 / total.max(1) as f64);
        let kind = if chaos_slot(i, &shared.settings) {
            Kind::Chaos
        } else {
            shared.settings.mix.kind(i)
        };
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start_at.into()).await;
            let stats = if kind == Kind::Chaos {
                chaos_bot(i, &shared).await
            } else {
                bot(i, kind, &shared).await
            };
            (kind, stats)
        }));
    }
    let (mut good, mut chaos) = (Stats::default(), Stats::default());
    let mut chaos_bots = 0;
    for task in tasks {
        if let Ok((kind, stats)) = task.await {
            if kind == Kind::Chaos {
                chaos_bots += 1;
                chaos.merge(&stats);
            } else {
                good.merge(&stats);
            }
        }
    }
    Report::new(
        total,
        chaos_bots,
        shared.settings.duration.as_secs_f64(),
        &good,
        &chaos,
    )
}

/// Spreads the chaos bots evenly among the others.
fn chaos_slot(i: usize, settings: &Settings) -> bool {
    let total = settings.count + settings.chaos;
    settings.chaos > 0
        && (i * settings.chaos / total.max(1)) != ((i + 1) * settings.chaos / total.max(1))
}

/// Whether holding `dir` now should show in the next frame: the avatar
/// stands, and either the way is free (a step) or it faces elsewhere (a turn).
fn echo_expected(
    view: &OfficeView,
    me: u32,
    dir: Direction,
    grid: Option<&CollisionGrid>,
    standing: bool,
) -> bool {
    let Some(avatar) = view.avatars.get(&me) else {
        return false;
    };
    if !standing {
        return false;
    }
    if avatar.facing != dir {
        return true;
    }
    // Standing on the tile its last step entered.
    let (x, y) = view.destination(me).unwrap_or((avatar.x, avatar.y));
    let (dx, dy) = dir.offset();
    let target = (x + dx, y + dy);
    let taken = view
        .avatars
        .values()
        .any(|a| (a.x, a.y) == target || view.destination(a.id) == Some(target));
    grid.is_some_and(|g| !g.blocks_step(target.0, target.1, dir)) && !taken
}

fn server_time_of(welcome: &Welcome, tick: u64) -> f64 {
    let period = 1000.0 / f64::from(welcome.tick_hz.max(1));
    welcome.server_ms as f64 + (tick as f64 - welcome.tick as f64) * period
}

async fn bot(i: usize, kind: Kind, shared: &Shared) -> Stats {
    let mut stats = Stats::default();
    let office_index = i % shared.settings.offices.len();
    let office = &shared.settings.offices[office_index];
    let (mut client, welcome) =
        match Client::join(&shared.settings.url, office, &format!("bot-{i}")).await {
            Ok(joined) => joined,
            Err(e) => {
                stats.failed += 1;
                *stats.disconnects.entry(format!("join: {e}")).or_default() += 1;
                shared.progress.trouble.fetch_add(1, Ordering::Relaxed);
                return stats;
            }
        };
    stats.joined += 1;
    shared.progress.connected.fetch_add(1, Ordering::Relaxed);
    let me = welcome.avatar;
    let mut view = OfficeView::from_welcome(&welcome);
    let mut rng = StdRng::seed_from_u64(
        shared.settings.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let mut behavior = Behavior::new(kind);
    let (grid, places) = match &shared.maps[office_index] {
        Some((grid, places)) => (Some(grid), places.clone()),
        None => (
            None,
            Places {
                targets: Vec::new(),
                gatherings: Vec::new(),
            },
        ),
    };
    let mut pending_echo: Option<(Instant, Direction)> = None;
    let mut last_own_step: Option<Instant> = None;
    let speed = welcome
        .avatars
        .iter()
        .find(|a| a.id == me)
        .map_or(40, |a| a.speed.max(1));
    let step_time = Duration::from_secs_f64(10.0 / f64::from(speed)) + Duration::from_millis(60);
    // One timer for the whole loop, moved rather than made anew on every frame.
    let timer = tokio::time::sleep_until(Instant::now().into());
    tokio::pin!(timer);
    let mut next_act = Instant::now();
    let mut next_ping = Instant::now() + Duration::from_secs(2);
    let end = shared.end;
    loop {
        let wake = next_act.min(next_ping).min(end);
        if timer.deadline() != wake.into() {
            timer.as_mut().reset(wake.into());
        }
        tokio::select! {
            _ = &mut timer => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if now >= next_ping {
                    next_ping = now + Duration::from_secs(2);
                    if client.ping(unix_ms() as u64).await.is_err() { break; }
                }
                if now >= next_act {
                    let at = view.destination(me).unwrap_or((0, 0));
                    let (action, after) = behavior.act(now - shared.started, at, grid, &places, &mut rng);
                    next_act = now + after;
                    let sent = match action {
                        Action::Hold(dir) => {
                            // Frames say when steps start, not when they end: the
                            // avatar stands once a step's duration has passed.
                            let standing = last_own_step.is_none_or(|t| t.elapsed() > step_time);
                            if pending_echo.is_none_or(|(_, d)| d != dir) && echo_expected(&view, me, dir, grid, standing) {
                                pending_echo = Some((now, dir));
                            }
                            client.hold(dir).await
                        }
                        Action::Release => client.release().await,
                        Action::Keep => Ok(()),
                    };
                    if sent.is_err() { break; }
                }
            }
            incoming = client.recv() => {
                let measuring = Instant::now() >= shared.measure_from;
                match incoming {
                    Ok(Incoming::Message(message)) => {
                        shared.progress.frames.fetch_add(1, Ordering::Relaxed);
                        if measuring {
                            stats.frames += 1;
                            stats.bytes += client.last_frame_len() as u64;
                        }
                        // Frames and echoes are applied where they are looked at,
                        // unpacked once.
                        let mut applied = None;
                        let updates = match &message {
                            ServerMessage::Tick(frame) => {
                                let updates = view.apply_tick(frame);
                                applied = Some(updates.is_ok());
                                let updates = updates.unwrap_or_default();
                                if measuring {
                                    stats.tick_bytes += client.last_frame_len() as u64;
                                    stats.updates += frame.update_count() as u64;
                                    for (kind, n) in stats.update_kinds.iter_mut().zip([
                                        frame.steps.len() / 4,
                                        frame.turns.len() / 2,
                                        frame.moves.len(),
                                        frame.appeared.len(),
                                        frame.disappeared.len(),
                                    ]) {
                                        *kind += n as u64;
                                    }
                                    if updates.iter().any(|u| matches!(u, Update::Step(s) if s.avatar != me)) {
                                        let late = unix_ms() - server_time_of(&welcome, frame.tick);
                                        Stats::record(&mut stats.observe, (late.max(0.0) * 1000.0) as u64);
                                    }
                                }
                                updates
                            }
                            ServerMessage::Echo(echo) => {
                                let updates = view.apply_echo(echo);
                                applied = Some(updates.is_ok());
                                if measuring {
                                    stats.echoes += 1;
                                }
                                updates.unwrap_or_default()
                            }
                            _ => Vec::new(),
                        };
                        if updates.iter().any(|u| matches!(u, Update::Step(s) if s.avatar == me)) {
                            last_own_step = Some(Instant::now());
                        }
                        if let Some((sent, dir)) = pending_echo
                            && updates.iter().any(|u| u.avatar() == me && u.dir() == dir)
                        {
                            pending_echo = None;
                            if measuring {
                                Stats::record(&mut stats.echo, sent.elapsed().as_micros() as u64);
                            }
                        }
                        match &message {
                            ServerMessage::Snapshot(_) => stats.snapshots += 1,
                            ServerMessage::Pong(pong) => {
                                if measuring {
                                    let rtt_ms = (unix_ms() as u64).saturating_sub(pong.client_ms);
                                    Stats::record(&mut stats.ping, rtt_ms * 1000);
                                }
                            }
                            ServerMessage::Error(e) => {
                                *stats.errors.entry(e.code).or_default() += 1;
                                shared.progress.trouble.fetch_add(1, Ordering::Relaxed);
                            }
                            ServerMessage::Welcome(_)
                            | ServerMessage::Tick(_)
                            | ServerMessage::Echo(_)
                            | ServerMessage::MapChanged(_)
                            | ServerMessage::GroupFormed(_)
                            | ServerMessage::GroupChanged(_)
                            | ServerMessage::GroupDissolved(_)
                            | ServerMessage::MeetingReady(_)
                            | ServerMessage::Presences(_)
                            | ServerMessage::Knocked(_)
                            | ServerMessage::KnockSent(_)
                            | ServerMessage::People(_)
                            | ServerMessage::Located(_)
                            | ServerMessage::WalkEnded(_) => {}
                        }
                        if !applied.unwrap_or_else(|| view.apply(&message)) {
                            *stats.errors.entry(ErrorCode::Malformed.number()).or_default() += 1;
                        }
                        // An echo that never comes (someone took the tile first) is counted as lost.
                        if pending_echo.is_some_and(|(t, _)| t.elapsed() > Duration::from_secs(1)) {
                            pending_echo = None;
                            if measuring {
                                stats.echo_lost += 1;
                            }
                        }
                    }
                    Ok(Incoming::Closed(reason)) => {
                        *stats.disconnects.entry(format!("closed: {reason:?}")).or_default() += 1;
                        shared.progress.trouble.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => {
                        *stats.disconnects.entry(format!("error: {e}")).or_default() += 1;
                        shared.progress.trouble.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    }
    shared.progress.connected.fetch_sub(1, Ordering::Relaxed);
    let _ = client.close().await;
    stats
}

/// Sends malformed and abusive traffic until the end; counts the errors it provokes.
async fn chaos_bot(i: usize, shared: &Shared) -> Stats {
    let mut stats = Stats::default();
    let mut rng = StdRng::seed_from_u64(shared.settings.seed ^ 0xc4a0 ^ i as u64);
    let office = shared.settings.offices[i % shared.settings.offices.len()].clone();
    while Instant::now() < shared.end {
        let Ok(mut client) = Client::connect(&shared.settings.url).await else {
            stats.failed += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let abuse = rng.random_range(0..6);
        let join = ClientMessage::Join(Join {
            version: PROTOCOL_VERSION,
            office: office.clone(),
            name: Some(format!("chaos-{i}")),
            token: None,
        });
        let result = match abuse {
            // Disconnect mid-handshake.
            0 => Ok(()),
            // Garbage before joining.
            1 => {
                client
                    .send_raw((0..rng.random_range(1..64)).map(|_| rng.random()).collect())
                    .await
            }
            // Oversize frame.
            2 => client.send_raw(vec![0x92; 20 * 1024]).await,
            // Join, then flood holds.
            3 => {
                let mut r = client.send(&join).await;
                for _ in 0..300 {
                    r = r.and(
                        client
                            .send(&ClientMessage::Hold(Hold {
                                dir: Direction::ALL[rng.random_range(0..8)],
                            }))
                            .await,
                    );
                }
                r
            }
            // Join, then unknown messages and text.
            4 => {
                let r = client.send(&join).await;
                let r = r.and(client.send_raw(vec![0x92, 0x7f, 0x90]).await);
                r.and(client.send_text("hello").await)
            }
            // Wrong major version.
            _ => {
                client
                    .send(&ClientMessage::Join(Join {
                        version: metaoffice_protocol::Version { major: 9, minor: 0 },
                        office: office.clone(),
                        name: Some("chaos".into()),
                        token: None,
                    }))
                    .await
            }
        };
        if result.is_ok() && abuse != 0 {
            let until = Instant::now() + Duration::from_millis(rng.random_range(100..600));
            while let Ok(Ok(Ok(Incoming::Message(message)))) =
                tokio::time::timeout_at(until.into(), client.recv())
                    .await
                    .map(Ok::<_, ()>)
            {
                if let ServerMessage::Error(e) = message {
                    *stats.errors.entry(e.code).or_default() += 1;
                }
            }
        }
        drop(client);
    }
    stats
}
