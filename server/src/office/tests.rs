//! The office's network edge without sockets: joins through the inbox,
//! frames into outboxes, resynchronisation of clients that fall behind.

use std::path::PathBuf;

use bytes::Bytes;
use metaoffice_protocol::{Direction, ErrorCode, ServerMessage};
use tokio::sync::oneshot;

use super::build_office;
use super::input::InputSlot;
use super::network::{Joined, Newcomer, OfficeCommand};
use super::outbox::{Outbox, Outgoing, close_code};
use super::sim::OfficeSim;
use crate::config::Config;
use crate::map::OfficeMap;
use crate::movement::CollisionGrid;

pub(super) fn open_map(width: u32, height: u32, spawns: Vec<(i32, i32)>) -> OfficeMap {
    OfficeMap {
        path: PathBuf::from("test.tmj"),
        width,
        height,
        tile_width: 32,
        tile_height: 32,
        origin: (0, 0),
        layers: vec!["floor".into()],
        grid: CollisionGrid::open(width, height),
        spawns,
        zones: Vec::new(),
        client_json: Bytes::from_static(b"{}"),
        images: Default::default(),
        files: Vec::new(),
    }
}

pub(super) struct Client {
    pub(super) outbox: Outbox,
    pub(super) input: InputSlot,
    pub(super) joined: Joined,
}

/// Joins a client through the office's inbox and runs the tick that answers.
pub(super) fn join(
    sim: &mut OfficeSim,
    handle: &super::OfficeHandle,
    name: &str,
    capacity: usize,
) -> Client {
    join_speaking(
        sim,
        handle,
        name,
        capacity,
        metaoffice_protocol::PROTOCOL_VERSION,
    )
}

/// A client that joins with protocol `version`.
fn join_speaking(
    sim: &mut OfficeSim,
    handle: &super::OfficeHandle,
    name: &str,
    capacity: usize,
    version: metaoffice_protocol::Version,
) -> Client {
    let knock = knock(handle, name, capacity, version);
    sim.tick();
    knock.answered()
}

/// A join sent to the office's inbox, answered by the next tick.
struct Knock {
    outbox: Outbox,
    input: InputSlot,
    answer: oneshot::Receiver<Result<Joined, (ErrorCode, String)>>,
}

impl Knock {
    fn answered(mut self) -> Client {
        let joined = self
            .answer
            .try_recv()
            .expect("answered within the tick")
            .expect("joined");
        Client {
            outbox: self.outbox,
            input: self.input,
            joined,
        }
    }
}

fn knock(
    handle: &super::OfficeHandle,
    name: &str,
    capacity: usize,
    version: metaoffice_protocol::Version,
) -> Knock {
    let outbox = Outbox::new(capacity);
    let input = InputSlot::default();
    let (reply, answer) = oneshot::channel();
    let mut newcomer = Newcomer::dev(name, outbox.clone(), input.clone());
    newcomer.version = version;
    let command = OfficeCommand::Join { newcomer, reply };
    handle.inbox.try_send(command).expect("inbox has room");
    Knock {
        outbox,
        input,
        answer,
    }
}

async fn drain(outbox: &Outbox) -> Vec<Outgoing> {
    let mut out = Vec::new();
    while !outbox.is_empty() || outbox.is_closed() {
        match outbox.next().await {
            Some(outgoing) => out.push(outgoing),
            None => break,
        }
    }
    out
}

fn decode(outgoing: &Outgoing) -> ServerMessage {
    match outgoing {
        Outgoing::Frame(bytes) => ServerMessage::decode(bytes).expect("decodable"),
        Outgoing::Close(code, reason) => panic!("unexpected close {code} {reason}"),
    }
}

#[tokio::test]
async fn a_client_that_falls_behind_gets_a_snapshot_then_is_dropped() {
    let mut config = Config::default();
    config.limits.max_resyncs = 2;
    config.limits.resync_window_ticks = 1000;
    let (mut sim, handle) = build_office(
        "test",
        &open_map(40, 3, vec![(0, 0), (0, 2)]),
        &config,
        Default::default(),
    );
    let slow = join(&mut sim, &handle, "Slow", 4);
    let walker = join(&mut sim, &handle, "Walker", 1000);
    walker.input.hold(Direction::Right);

    // Welcome + the walker's arrival fill two of Slow's four places; steps fill the rest.
    let mut resynced = false;
    for _ in 0..40 {
        sim.tick();
        if slow.outbox.len() == 1 {
            resynced = true;
            break;
        }
    }
    assert!(resynced, "the backlog was replaced");
    let snapshot = decode(&slow.outbox.next().await.expect("a frame"));
    let ServerMessage::Snapshot(snapshot) = snapshot else {
        panic!("expected a snapshot, got {snapshot:?}")
    };
    assert_eq!(snapshot.avatars.len(), 2);
    assert_eq!(snapshot.tick, sim.tick_count());

    // Never reading, Slow overflows again and again, and is dropped after the third time.
    for _ in 0..200 {
        sim.tick();
        if slow.outbox.is_closed() {
            break;
        }
    }
    assert!(
        slow.outbox.is_closed(),
        "a client that keeps falling behind is disconnected"
    );
    let rest = drain(&slow.outbox).await;
    assert!(
        matches!(rest.last(), Some(Outgoing::Close(code, _)) if *code == close_code(ErrorCode::TooSlow)),
        "{rest:?}"
    );
    // The walker saw Slow's avatar disappear, and never missed a frame.
    sim.tick();
    let seen: Vec<ServerMessage> = drain(&walker.outbox).await.iter().map(decode).collect();
    assert!(
        seen.iter().any(
            |m| matches!(m, ServerMessage::Tick(f) if f.disappeared.contains(&slow.joined.id))
        )
    );
    assert!(!seen.iter().any(|m| matches!(m, ServerMessage::Snapshot(_))));
}

#[tokio::test]
async fn a_tap_between_two_ticks_still_makes_a_step() {
    let (mut sim, handle) = build_office(
        "test",
        &open_map(5, 5, vec![(2, 2)]),
        &Config::default(),
        Default::default(),
    );
    let tapper = join(&mut sim, &handle, "Tapper", 64);
    tapper.input.hold(Direction::Up);
    tapper.input.release();
    sim.tick();
    let walker = sim.walker(tapper.joined.entity).expect("avatar");
    assert_eq!(walker.step, Some(Direction::Up));
    // The tap counts once: after the step the avatar stops.
    for _ in 0..6 {
        sim.tick();
    }
    let walker = sim.walker(tapper.joined.entity).expect("avatar");
    assert_eq!((walker.tile, walker.step), ((2, 1), None));
}

#[tokio::test]
async fn leaving_frees_the_avatar_tiles_and_spawns_rotate() {
    let (mut sim, handle) = build_office(
        "test",
        &open_map(3, 1, vec![(0, 0), (1, 0)]),
        &Config::default(),
        Default::default(),
    );
    let ada = join(&mut sim, &handle, "Ada", 64);
    let bob = join(&mut sim, &handle, "Bob", 64);
    assert_eq!(sim.walker(ada.joined.entity).map(|w| w.tile), Some((0, 0)));
    assert_eq!(sim.walker(bob.joined.entity).map(|w| w.tile), Some((1, 0)));
    // Spawns are taken: Carol lands on the nearest free tile.
    let carol = join(&mut sim, &handle, "Carol", 64);
    assert_eq!(
        sim.walker(carol.joined.entity).map(|w| w.tile),
        Some((2, 0))
    );
    // The office is full of avatars: nobody else fits.
    let (reply, mut answer) = oneshot::channel();
    let command = OfficeCommand::Join {
        newcomer: Newcomer::dev("Dan", Outbox::new(8), InputSlot::default()),
        reply,
    };
    handle.inbox.try_send(command).expect("room");
    sim.tick();
    assert_eq!(
        answer.try_recv().expect("answered").map_err(|e| e.0),
        Err(ErrorCode::Full)
    );
    // Bob leaves; his tile is free again.
    handle
        .inbox
        .try_send(OfficeCommand::Leave {
            avatar: bob.joined.entity,
        })
        .expect("room");
    sim.tick();
    let dan = join(&mut sim, &handle, "Dan", 64);
    assert_eq!(sim.walker(dan.joined.entity).map(|w| w.tile), Some((1, 0)));
}

/// Many avatars wander while each client replays its frames: after every
/// tick, each client knows exactly the avatars in its view, and where each
/// is heading, as the server does. A third of the clients speak 1.3 (every
/// step with its tile), the others 1.4 (compact moves).
#[tokio::test]
async fn every_client_replays_exactly_what_is_in_its_view() {
    replay_matches_the_server(usize::MAX, 1, 7.0).await;
}

/// The same with frames batching two ticks (as in a crowded office): half
/// the clients get their frame on odd ticks, half on even ticks, and 1.4
/// clients also get echoes of their own steps between frames.
#[tokio::test]
async fn every_client_replays_exactly_what_is_in_its_view_with_batched_frames() {
    replay_matches_the_server(1, 2, 7.0).await;
}

/// The same with avatars fast enough to start a step on most ticks, so
/// that frames hold several steps of one avatar, some of them echoed.
#[tokio::test]
async fn fast_avatars_replay_exactly_with_batched_frames() {
    replay_matches_the_server(1, 2, 25.0).await;
}

async fn replay_matches_the_server(batch_above_clients: usize, ticks_per_frame: u64, speed: f64) {
    use metaoffice_bots::OfficeView as Replay;
    use rand::{Rng, SeedableRng};

    let mut config = Config {
        view: crate::office::interest::ViewConfig {
            cell_tiles: 4,
            cells_x: 1,
            cells_y: 1,
            hysteresis_tiles: 1,
        },
        ..Config::default()
    };
    config.office.speed = speed;
    config.limits.batch_above_clients = batch_above_clients;
    let mut map = open_map(40, 30, (0..30).map(|i| (i % 40, (i * 7) % 30)).collect());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..120 {
        let (x, y) = (rng.random_range(0..40), rng.random_range(0..30));
        if !map.spawns.contains(&(x, y)) {
            map.grid.set(
                x,
                y,
                crate::movement::TileCollision {
                    blocked: true,
                    ..Default::default()
                },
            );
        }
    }
    let (mut sim, handle) = build_office("test", &map, &config, Default::default());
    let mut clients = Vec::new();
    let legacy = metaoffice_protocol::Version { major: 1, minor: 3 };
    for i in 0..30 {
        let client = if i % 3 == 0 {
            join_speaking(&mut sim, &handle, &format!("c{i}"), 10_000, legacy.clone())
        } else {
            join(&mut sim, &handle, &format!("c{i}"), 10_000)
        };
        clients.push((client, None::<Replay>));
    }
    let (mut moves, mut echoes, mut steps, mut late) = (0, 0, 0, 0);
    // Everyone reads their welcome and what happened while the others joined.
    for (client, replay) in &mut clients {
        for outgoing in drain(&client.outbox).await {
            let message = decode(&outgoing);
            match (&message, replay.as_mut()) {
                (ServerMessage::Welcome(w), _) => *replay = Some(Replay::from_welcome(w)),
                (_, Some(r)) => assert!(r.apply(&message)),
                (m, None) => panic!("frame before welcome: {m:?}"),
            }
        }
    }
    for tick in 0..400 {
        // Now and then someone joins while everyone walks (into whichever
        // phase the office picks), on odd and even ticks.
        let knocking = (tick % 37 == 5).then(|| {
            let version = if late % 2 == 0 {
                metaoffice_protocol::PROTOCOL_VERSION
            } else {
                legacy.clone()
            };
            late += 1;
            knock(&handle, &format!("late{tick}"), 10_000, version)
        });
        if tick % 7 == 0 {
            for (client, _) in &clients {
                match rng.random_range(0..6) {
                    0 => client.input.release(),
                    d => client
                        .input
                        .hold(Direction::ALL[rng.random_range(0..if d == 1 { 8 } else { 4 })]),
                }
            }
        }
        sim.tick();
        if let Some(knock) = knocking {
            clients.push((knock.answered(), None));
        }
        let ran = sim.tick_count() - 1;
        let policy = sim.world.resource::<super::network::SendPolicy>().clone();
        let view = config.view.clone();
        for (client, replay) in &mut clients {
            let (phase, compact) = sim
                .world
                .get::<super::network::Viewer>(client.joined.entity)
                .map(|v| (v.phase, v.compact))
                .expect("viewer");
            if !policy.sends(ran, phase) {
                // Not this client's tick: only echoes of answered input to
                // 1.4 clients, about their own avatar, which stands where
                // the echo leaves it (and a late joiner's welcome).
                for outgoing in drain(&client.outbox).await {
                    let message = decode(&outgoing);
                    if let ServerMessage::Welcome(w) = &message {
                        assert!(replay.is_none(), "one welcome");
                        *replay = Some(Replay::from_welcome(w));
                        continue;
                    }
                    let ServerMessage::Echo(echo) = &message else {
                        panic!("only echoes in the middle of a batch: {message:?}");
                    };
                    assert!(compact, "no echo for a 1.3 client");
                    assert_eq!(echo.tick, ran);
                    echoes += 1;
                    let replay = replay.as_mut().expect("welcomed");
                    assert!(replay.apply(&message));
                    let me = sim.walker(client.joined.entity).expect("avatar");
                    assert_eq!(replay.destination(client.joined.id), Some(me.next_tile()));
                }
                continue;
            }
            for outgoing in drain(&client.outbox).await {
                let message = decode(&outgoing);
                if let ServerMessage::Welcome(w) = &message {
                    assert!(replay.is_none(), "one welcome");
                    *replay = Some(Replay::from_welcome(w));
                    continue;
                }
                if let ServerMessage::Tick(frame) = &message {
                    // Each avatar comes and goes at most once per frame.
                    let mut appeared: Vec<u32> = frame.appeared.iter().map(|a| a.id).collect();
                    let mut disappeared = frame.disappeared.clone();
                    appeared.sort_unstable();
                    disappeared.sort_unstable();
                    let count = (appeared.len(), disappeared.len());
                    appeared.dedup();
                    disappeared.dedup();
                    assert_eq!((appeared.len(), disappeared.len()), count, "{frame:?}");
                    moves += frame.moves.len();
                    steps += frame.steps.len() / 4;
                }
                assert!(replay.as_mut().expect("welcomed").apply(&message));
            }
            let replay = replay.as_ref().expect("welcomed");
            let me = sim.walker(client.joined.entity).expect("avatar").clone();
            let anchor = sim
                .world
                .get::<super::network::Viewer>(client.joined.entity)
                .expect("viewer")
                .anchor;
            assert_eq!(
                view.reanchor(anchor, me.tile),
                None,
                "the view follows the avatar"
            );
            let rect = view.view(anchor);
            let mut expected: Vec<(u32, (i32, i32))> = Vec::new();
            let mut query = sim.world.query::<&crate::movement::Walker>();
            for w in query.iter(&sim.world) {
                if rect.sees(w.tile, w.next_tile()) {
                    expected.push((w.id, w.next_tile()));
                }
            }
            expected.sort();
            let got: Vec<(u32, (i32, i32))> = replay
                .avatars
                .keys()
                .map(|&id| (id, replay.destination(id).expect("known")))
                .collect();
            assert_eq!(got, expected, "tick {tick}, client {}", client.joined.id);
        }
    }
    // Both forms and (when batching) echoes were exercised; while batching,
    // both phases had clients.
    assert!(moves > 100 && steps > 100, "moves {moves}, steps {steps}");
    assert_eq!(echoes > 0, ticks_per_frame > 1, "echoes {echoes}");
    let policy = sim.world.resource::<super::network::SendPolicy>();
    assert_eq!(policy.ticks_per_frame(), ticks_per_frame);
    assert!(
        policy.members().iter().all(|&n| n > 0),
        "{:?}",
        policy.members()
    );
    assert!(late > 5, "late joiners {late}");
}

/// While frames batch, the two send phases alternate and a newcomer joins
/// the phase that was sent a frame on the last tick; at one tick per frame
/// both phases get every tick and newcomers fill the emptier one.
#[test]
fn send_phases_alternate_and_newcomers_join_the_phase_just_sent() {
    use super::network::SendPolicy;
    let mut policy = SendPolicy::new(10);
    assert_eq!(policy.interval(3), 1);
    assert!(policy.sends(7, 0) && policy.sends(7, 1));
    policy.sent(0, 7);
    policy.sent(1, 7);
    assert_eq!([policy.join(), policy.join(), policy.join()], [0, 1, 0]);
    assert_eq!(policy.interval(10), 2);
    assert!(policy.sends(9, 0) && !policy.sends(9, 1));
    assert!(policy.sends(10, 1) && !policy.sends(10, 0));
    policy.sent(0, 9);
    assert_eq!(policy.join(), 0, "at tick 10, the phase sent at tick 9");
    policy.sent(1, 10);
    assert_eq!(policy.join(), 1, "at tick 11, the phase sent at tick 10");
    policy.leave(0);
    assert_eq!(policy.members(), [2, 2]);
    // Back under 90 % of the threshold: every tick again, for both.
    assert_eq!(policy.interval(8), 1);
    assert!(policy.sends(11, 0) && policy.sends(11, 1));
}
