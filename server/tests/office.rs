//! Two real WebSocket clients in one office on a real server: they see each
//! other arrive, walk tile by tile, bump into walls and leave.

mod common;

use common::{TestServer, apply_steps_of, http_get, next_matching, starts_step_of};
use metaoffice_bots::{Incoming, OfficeView};
use metaoffice_protocol::{Direction, ErrorCode, PROTOCOL_VERSION, ServerMessage, Step, Turn};

fn steps_of(message: &ServerMessage, avatar: u32) -> Option<Vec<Step>> {
    match message {
        ServerMessage::Tick(frame) => {
            let steps: Vec<Step> = frame
                .steps()
                .ok()?
                .into_iter()
                .filter(|s| s.avatar == avatar)
                .collect();
            (!steps.is_empty()).then_some(steps)
        }
        _ => None,
    }
}

fn turn_of(message: &ServerMessage, avatar: u32) -> Option<Turn> {
    match message {
        ServerMessage::Tick(frame) => frame.turns().ok()?.into_iter().find(|t| t.avatar == avatar),
        _ => None,
    }
}

#[tokio::test]
async fn two_clients_see_each_other_arrive_walk_bump_and_leave() {
    let server = TestServer::start().await;
    // Both speak 1.3, so every step shows with its tile on the wire
    // (`compact_moves_are_the_same_steps` covers 1.4).
    let (mut ada, ada_welcome) = server.join_v13("Ada").await;
    assert_eq!(ada_welcome.version, PROTOCOL_VERSION);
    assert_eq!(ada_welcome.map.id, "office");
    assert_eq!(ada_welcome.map.url, "/maps/office");
    assert_eq!(ada_welcome.tick_hz, 20);
    let me = ada_welcome
        .avatars
        .iter()
        .find(|a| a.id == ada_welcome.avatar)
        .expect("own avatar in welcome");
    assert_eq!((me.x, me.y, me.name.as_str()), (1, 1, "Ada"));

    let (mut bob, bob_welcome) = server.join_v13("Bob").await;
    let bob_id = bob_welcome.avatar;
    assert_ne!(bob_id, ada_welcome.avatar);
    assert_eq!(
        bob_welcome.avatars.len(),
        2,
        "Bob's welcome shows Ada and Bob"
    );
    let bob_start = bob_welcome
        .avatars
        .iter()
        .find(|a| a.id == bob_id)
        .expect("Bob in his welcome");
    assert_eq!((bob_start.x, bob_start.y), (2, 1));

    // Ada sees Bob arrive.
    let appeared = next_matching(&mut ada, |m| match m {
        ServerMessage::Tick(f) => f.appeared.iter().find(|a| a.id == bob_id).cloned(),
        _ => None,
    })
    .await;
    assert_eq!(
        (appeared.x, appeared.y, appeared.name.as_str()),
        (2, 1, "Bob")
    );

    // Bob walks down tile by tile until the wall at y = 5 stops him.
    bob.hold(Direction::Down).await.expect("hold");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.extend(next_matching(&mut ada, |m| steps_of(m, bob_id)).await);
    }
    let froms: Vec<_> = seen.iter().map(|s| (s.from, s.dir)).collect();
    assert_eq!(
        froms,
        vec![
            ((2, 1), Direction::Down),
            ((2, 2), Direction::Down),
            ((2, 3), Direction::Down)
        ],
        "Ada sees each of Bob's steps"
    );
    // Still holding down at (2, 4): the wall blocks. Then he turns right and walks on.
    bob.hold(Direction::Right).await.expect("hold");
    let next_step = next_matching(&mut ada, |m| steps_of(m, bob_id)).await[0];
    assert_eq!(
        (next_step.from, next_step.dir),
        ((2, 4), Direction::Right),
        "no step into the wall"
    );
    bob.release().await.expect("release");

    // Ada bumps into the wall above her: she turns up without a step.
    ada.hold(Direction::Up).await.expect("hold");
    let turn = next_matching(&mut bob, |m| turn_of(m, ada_welcome.avatar)).await;
    assert_eq!(turn.dir, Direction::Up);
    ada.release().await.expect("release");

    // Bob leaves; Ada sees him go.
    bob.close().await.expect("close");
    next_matching(&mut ada, |m| match m {
        ServerMessage::Tick(f) => f.disappeared.contains(&bob_id).then_some(()),
        _ => None,
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_replayed_view_matches_the_server_state() {
    let server = TestServer::start().await;
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (mut bob, bob_welcome) = server.join("Bob").await;
    let mut view = OfficeView::from_welcome(&bob_welcome);
    // Ada walks down column 1 to the wall, Bob watches.
    ada.hold(Direction::Down).await.expect("hold");
    let ada_id = ada_welcome.avatar;
    loop {
        let message = next_matching(&mut bob, |m| Some(m.clone())).await;
        assert!(view.apply(&message));
        if view.destination(ada_id) == Some((1, 4)) {
            break;
        }
    }
    ada.release().await.expect("release");
    // A third client joining now gets the same picture in its welcome.
    let (_carol, carol_welcome) = server.join("Carol").await;
    let ada_there = carol_welcome
        .avatars
        .iter()
        .find(|a| a.id == ada_id)
        .expect("Ada in Carol's view");
    let seen_by_bob = view.avatars.get(&ada_id).expect("Ada in Bob's view");
    assert_eq!(ada_there.x, 1);
    assert!(
        ada_there.y >= seen_by_bob.y,
        "Carol's view is at least as recent as Bob's"
    );
    assert!(ada_there.y <= 4, "nobody walks through the wall");
    server.stop().await;
}

#[tokio::test]
async fn ping_is_answered_with_the_server_tick_and_clock() {
    let server = TestServer::start().await;
    let (mut ada, _) = server.join("Ada").await;
    ada.ping(1234).await.expect("ping");
    let pong = next_matching(&mut ada, |m| match m {
        ServerMessage::Pong(p) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!(pong.client_ms, 1234);
    assert!(
        pong.server_ms > 1_600_000_000_000,
        "server_ms is Unix milliseconds"
    );
    server.stop().await;
}

#[tokio::test]
async fn http_serves_health_and_the_map() {
    let server = TestServer::start().await;
    let (status, body) = http_get(&server.http_url("/healthz")).await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["offices"][0]["id"], "office");

    let (status, body) = http_get(&server.http_url("/maps/office")).await;
    assert_eq!(status, 200);
    let map: serde_json::Value = serde_json::from_str(&body).expect("map json");
    assert_eq!(map["width"], 10);
    assert_eq!(map["layers"][0]["name"], "floor");

    let (status, _) = http_get(&server.http_url("/maps/nowhere")).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn http_serves_the_images_the_map_uses_and_nothing_else() {
    let server = TestServer::start().await;
    let (_, body) = http_get(&server.http_url("/maps/office")).await;
    let map: serde_json::Value = serde_json::from_str(&body).expect("map json");
    assert_eq!(map["tilesets"][0]["image"], "/maps/office/test.png");

    // The route reads the file when asked: the image may arrive after the map.
    let (status, _) = http_get(&server.http_url("/maps/office/test.png")).await;
    assert_eq!(status, 404, "not there yet");
    std::fs::write(server.maps.path().join("test.png"), b"PNG tiles").expect("write image");
    std::fs::write(server.maps.path().join("other.png"), b"not used").expect("write image");
    let (status, body) = http_get(&server.http_url("/maps/office/test.png")).await;
    assert_eq!((status, body.as_str()), (200, "PNG tiles"));
    for path in [
        "/maps/office/other.png",
        "/maps/office/office.tmj",
        "/maps/office/../office.tmj",
        "/maps/nowhere/test.png",
    ] {
        let (status, _) = http_get(&server.http_url(path)).await;
        assert_eq!(status, 404, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_tells_every_client_and_closes() {
    let server = TestServer::start().await;
    let (mut ada, _) = server.join("Ada").await;
    let stopping = tokio::spawn(server.stop());
    let error = next_matching(&mut ada, |m| match m {
        ServerMessage::Error(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(error.code, ErrorCode::ShuttingDown.number());
    loop {
        match common::next(&mut ada).await {
            Incoming::Closed(reason) => {
                assert_eq!(
                    reason.map(|r| r.0),
                    Some(4000 + ErrorCode::ShuttingDown.number())
                );
                break;
            }
            Incoming::Message(_) => continue,
        }
    }
    stopping.await.expect("server stopped");
}

/// A long corridor and a small view: clients see only what is near them.
#[tokio::test]
async fn clients_see_only_what_is_near_them() {
    let corridor: &[&str] = &[
        "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
        "W......................................W",
        "WS....................................SW",
        "W......................................W",
        "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
    ];
    let mut config = metaoffice_server::Config::default();
    config.office.speed = 20.0;
    config.view.cell_tiles = 4;
    config.view.cells_x = 1;
    config.view.cells_y = 1;
    config.view.hysteresis_tiles = 1;
    let server = TestServer::start_with_map(config, corridor).await;
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (mut bob, bob_welcome) = server.join("Bob").await;
    let (ada_id, bob_id) = (ada_welcome.avatar, bob_welcome.avatar);
    assert_eq!(
        bob_welcome.avatars.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![bob_id],
        "Ada is far away"
    );
    // Bob's view is anchored on the cell of (38, 2): it starts at x = 32.
    ada.hold(Direction::Right).await.expect("hold");
    let seen = next_matching(&mut bob, |m| match m {
        ServerMessage::Tick(f) => {
            assert!(
                f.steps().expect("steps").iter().all(|s| s.avatar != ada_id),
                "no steps before Ada is in view"
            );
            f.appeared.iter().find(|a| a.id == ada_id).cloned()
        }
        _ => None,
    })
    .await;
    let reach = seen.x.max(seen.x + seen.step.map_or(0, |d| d.offset().0));
    assert!(
        reach >= 32,
        "Ada appears as she enters Bob's view: {seen:?}"
    );
    // Ada, walking, saw Bob come into her view too.
    next_matching(&mut ada, |m| match m {
        ServerMessage::Tick(f) => f.appeared.iter().any(|a| a.id == bob_id).then_some(()),
        _ => None,
    })
    .await;
    // Ada turns back and walks out of Bob's view.
    ada.hold(Direction::Left).await.expect("hold");
    next_matching(&mut bob, |m| match m {
        ServerMessage::Tick(f) => f.disappeared.contains(&ada_id).then_some(()),
        _ => None,
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_connections_frames_and_errors() {
    let server = TestServer::start().await;
    let (mut ada, _) = server.join("Ada").await;
    let (mut bob, bob_welcome) = server.join("Bob").await;
    bob.hold(Direction::Down).await.expect("hold");
    next_matching(&mut ada, |m| {
        starts_step_of(m, bob_welcome.avatar).then_some(())
    })
    .await;
    ada.send_raw(vec![0xc1]).await.expect("send");
    next_matching(&mut ada, |m| {
        matches!(m, ServerMessage::Error(_)).then_some(())
    })
    .await;
    let (status, body) = http_get(&server.http_url("/metrics")).await;
    assert_eq!(status, 200);
    let value = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{body}"))
    };
    assert_eq!(value("metaoffice_connections "), 2.0);
    assert_eq!(value("metaoffice_avatars{office=\"office\"}"), 2.0);
    assert!(
        value("metaoffice_frames_sent_total ") >= 4.0,
        "welcomes and tick frames"
    );
    assert!(value("metaoffice_bytes_sent_total ") > 0.0);
    assert!(value("metaoffice_frames_encoded_total{office=\"office\"}") >= 1.0);
    assert_eq!(value("metaoffice_errors_total{code=\"malformed\"}"), 1.0);
    assert!(value("metaoffice_tick_seconds_count{office=\"office\"}") >= 1.0);
    // Two clients, one in each send phase.
    for phase in ["0", "1"] {
        assert_eq!(
            value(&format!(
                "metaoffice_send_phase_clients{{office=\"office\",phase=\"{phase}\"}}"
            )),
            1.0
        );
    }
    server.stop().await;
}

/// A 1.4 client reads Bob's steps from compact `moves`; resolved against
/// what it knows, they are the very steps a 1.3 client reads with tiles.
#[tokio::test]
async fn compact_moves_are_the_same_steps() {
    let server = TestServer::start().await;
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (mut carol, _) = server.join_v13("Carol").await;
    let (mut bob, bob_welcome) = server.join("Bob").await;
    let bob_id = bob_welcome.avatar;
    let mut view = OfficeView::from_welcome(&ada_welcome);
    // Bob walks down column 4 from (4, 1) to the wall.
    bob.hold(Direction::Down).await.expect("hold");
    let (mut compact, mut read) = (0, Vec::new());
    while read.len() < 3 {
        let message = next_matching(&mut ada, |m| Some(m.clone())).await;
        if let ServerMessage::Tick(frame) = &message {
            compact += frame.moves.len();
            assert!(frame.steps.is_empty(), "Ada knows where Bob stands");
        }
        read.extend(apply_steps_of(&mut view, &message, bob_id));
    }
    bob.release().await.expect("release");
    let mut wire = Vec::new();
    while wire.len() < 3 {
        wire.extend(next_matching(&mut carol, |m| steps_of(m, bob_id)).await);
    }
    assert!(compact >= 3, "the steps came as moves");
    assert_eq!(read, wire);
    assert_eq!(read[0].from, (4, 1));
    server.stop().await;
}

/// While frames carry two ticks, a 1.4 client's own step shows at once in
/// an `Echo` when it starts on a tick that sends no frame; the next frame
/// repeats it and the client skips it, so it ends where the server has it.
#[tokio::test]
async fn while_frames_batch_own_steps_are_echoed_at_once() {
    let mut config = metaoffice_server::Config::default();
    config.limits.batch_above_clients = 1;
    let server = TestServer::start_with(config).await;
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let ada_id = ada_welcome.avatar;
    let mut view = OfficeView::from_welcome(&ada_welcome);
    let (mut echoes, mut repeated) = (0, 0);
    // Ada taps down and up column 1 until a few taps were echoed.
    for attempt in 0..60 {
        if echoes >= 3 {
            break;
        }
        let dir = if attempt % 2 == 0 {
            Direction::Down
        } else {
            Direction::Up
        };
        ada.hold(dir).await.expect("hold");
        let mut echoed = false;
        loop {
            let message = next_matching(&mut ada, |m| Some(m.clone())).await;
            if echoed && let ServerMessage::Tick(frame) = &message {
                assert!(
                    starts_step_of(&message, ada_id),
                    "the frame repeats the echo"
                );
                assert!(!frame.moves.is_empty());
                repeated += 1;
                assert!(apply_steps_of(&mut view, &message, ada_id).is_empty());
                break;
            }
            let own = apply_steps_of(&mut view, &message, ada_id);
            if matches!(message, ServerMessage::Echo(_)) {
                assert_eq!(own.len(), 1, "one step echoed");
                assert_eq!(own[0].dir, dir);
                echoes += 1;
                echoed = true;
            } else if !own.is_empty() {
                break;
            }
        }
        ada.release().await.expect("release");
        // Let the step end before the next tap, and vary the phase of the
        // taps against the frame pairs (7, 8 or 9 ticks).
        let pause = 350 + 50 * (attempt % 3);
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    }
    assert!(echoes >= 3, "taps echoed: {echoes}");
    assert_eq!(repeated, echoes);
    // A newcomer's welcome shows Ada where her own view has her.
    let (_dan, dan_welcome) = server.join_v13("Dan").await;
    assert_eq!(
        OfficeView::from_welcome(&dan_welcome).destination(ada_id),
        view.destination(ada_id)
    );
    server.stop().await;
}
