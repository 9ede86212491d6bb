//! Bad input gets a clear error, never a panic, and never hurts other clients.

mod common;

use common::{TestServer, apply_steps_of, next, next_matching};
use metaoffice_bots::{Client, Incoming, OfficeView};
use metaoffice_protocol::{
    ClientMessage, Direction, ErrorCode, Hold, Join, PROTOCOL_VERSION, ServerMessage, Version,
};
use metaoffice_server::Config;
use metaoffice_server::config::DevLogin;

fn join_message(
    office: &str,
    version: Version,
    name: Option<&str>,
    token: Option<&str>,
) -> ClientMessage {
    ClientMessage::Join(Join {
        version,
        office: office.to_owned(),
        name: name.map(str::to_owned),
        token: token.map(str::to_owned),
    })
}

/// The next error, skipping tick frames and pongs.
async fn expect_error(client: &mut Client, code: ErrorCode) -> String {
    loop {
        match next(client).await {
            Incoming::Message(ServerMessage::Error(e)) => {
                assert_eq!(
                    e.code,
                    code.number(),
                    "expected {code:?}, got error {} ({})",
                    e.code,
                    e.message
                );
                return e.message;
            }
            Incoming::Message(ServerMessage::Tick(_) | ServerMessage::Pong(_)) => continue,
            other => panic!("expected error {code:?}, got {other:?}"),
        }
    }
}

async fn expect_close(client: &mut Client, code: ErrorCode) {
    loop {
        match next(client).await {
            Incoming::Closed(reason) => {
                assert_eq!(reason.map(|r| r.0), Some(4000 + code.number()));
                return;
            }
            Incoming::Message(_) => continue,
        }
    }
}

/// The connection still works: a ping is answered.
async fn still_open(client: &mut Client) {
    client.ping(77).await.expect("ping");
    next_matching(client, |m| {
        matches!(m, ServerMessage::Pong(p) if p.client_ms == 77).then_some(())
    })
    .await;
}

#[tokio::test]
async fn malformed_and_unknown_frames_get_errors_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    client.send_raw(vec![0xc1, 0xff, 0x00]).await.expect("send");
    expect_error(&mut client, ErrorCode::Malformed).await;
    client.send_raw(vec![]).await.expect("send");
    expect_error(&mut client, ErrorCode::Malformed).await;
    // [9, []]: a tag no version has.
    client.send_raw(vec![0x92, 0x09, 0x90]).await.expect("send");
    expect_error(&mut client, ErrorCode::UnknownMessage).await;
    // Hold with a direction code out of range.
    client
        .send_raw(vec![0x92, 0x01, 0x91, 0x09])
        .await
        .expect("send");
    expect_error(&mut client, ErrorCode::Malformed).await;
    client.send_text("hello").await.expect("send");
    expect_error(&mut client, ErrorCode::TextFrame).await;
    still_open(&mut client).await;
    // After all that, the same connection can still join.
    client
        .send(&join_message("office", PROTOCOL_VERSION, Some("Ada"), None))
        .await
        .expect("join");
    next_matching(&mut client, |m| {
        matches!(m, ServerMessage::Welcome(_)).then_some(())
    })
    .await;
    client.send_raw(vec![0x93, 0x01]).await.expect("send");
    expect_error(&mut client, ErrorCode::Malformed).await;
    still_open(&mut client).await;
    server.stop().await;
}

#[tokio::test]
async fn moving_before_joining_is_refused() {
    let server = TestServer::start().await;
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    client
        .send(&ClientMessage::Hold(Hold { dir: Direction::Up }))
        .await
        .expect("send");
    expect_error(&mut client, ErrorCode::NotJoined).await;
    still_open(&mut client).await;
    server.stop().await;
}

#[tokio::test]
async fn another_major_version_is_refused_and_a_newer_minor_accepted() {
    let server = TestServer::start().await;
    let mut old = Client::connect(&server.ws_url()).await.expect("connect");
    old.send(&join_message(
        "office",
        Version { major: 2, minor: 0 },
        Some("Ada"),
        None,
    ))
    .await
    .expect("send");
    let message = expect_error(&mut old, ErrorCode::UnsupportedVersion).await;
    assert!(
        message.contains("1.x"),
        "the error says which version the server speaks: {message}"
    );
    expect_close(&mut old, ErrorCode::UnsupportedVersion).await;

    let mut newer = Client::connect(&server.ws_url()).await.expect("connect");
    let version = Version {
        major: PROTOCOL_VERSION.major,
        minor: PROTOCOL_VERSION.minor + 3,
    };
    // A newer minor may append fields: add one to the Join payload.
    let mut frame = join_message("office", version, Some("Ada"), None).encode();
    assert_eq!(frame[2], 0x94, "Join payload is a 4-element array");
    frame[2] = 0x95;
    frame.push(0x2a);
    newer.send_raw(frame).await.expect("send");
    next_matching(&mut newer, |m| {
        matches!(m, ServerMessage::Welcome(_)).then_some(())
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn oversize_frames_are_refused_with_a_reason() {
    let server = TestServer::start().await;
    let (mut watcher, _) = server.join("Watcher").await;
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    client.send_raw(vec![0u8; 20 * 1024]).await.expect("send");
    let message = expect_error(&mut client, ErrorCode::FrameTooLarge).await;
    assert!(message.contains("16384"), "{message}");
    expect_close(&mut client, ErrorCode::FrameTooLarge).await;

    // Far past the limit the WebSocket layer itself refuses the frame.
    let mut huge = Client::connect(&server.ws_url()).await.expect("connect");
    let _ = huge.send_raw(vec![0u8; 1024 * 1024]).await;
    loop {
        match huge.recv().await {
            Ok(Incoming::Closed(_)) | Err(_) => break,
            Ok(Incoming::Message(_)) => continue,
        }
    }
    still_open(&mut watcher).await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_office_and_refused_logins_close_with_a_reason() {
    let server = TestServer::start().await;
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    client
        .send(&join_message(
            "atlantis",
            PROTOCOL_VERSION,
            Some("Ada"),
            None,
        ))
        .await
        .expect("send");
    let message = expect_error(&mut client, ErrorCode::UnknownOffice).await;
    assert!(message.contains("atlantis"));
    expect_close(&mut client, ErrorCode::UnknownOffice).await;

    for (name, token) in [
        (None, Some("eyJ0eXAi.x.y")),
        (None, None),
        (Some("   "), None),
        (Some("a\u{7}b"), None),
    ] {
        let mut client = Client::connect(&server.ws_url()).await.expect("connect");
        client
            .send(&join_message("office", PROTOCOL_VERSION, name, token))
            .await
            .expect("send");
        expect_error(&mut client, ErrorCode::LoginRefused).await;
        expect_close(&mut client, ErrorCode::LoginRefused).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn dev_login_can_be_switched_off() {
    let mut config = Config::default();
    config.auth.dev_login = DevLogin::Off;
    let server = TestServer::start_with(config).await;
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    client
        .send(&join_message("office", PROTOCOL_VERSION, Some("Ada"), None))
        .await
        .expect("send");
    expect_error(&mut client, ErrorCode::LoginRefused).await;
    server.stop().await;
}

#[tokio::test]
async fn joining_twice_is_an_error_and_the_first_avatar_stays() {
    let server = TestServer::start().await;
    let (mut ada, welcome) = server.join("Ada").await;
    ada.send(&join_message(
        "office",
        PROTOCOL_VERSION,
        Some("Ada again"),
        None,
    ))
    .await
    .expect("send");
    expect_error(&mut ada, ErrorCode::AlreadyJoined).await;
    let (_bob, bob_welcome) = server.join("Bob").await;
    assert_eq!(
        bob_welcome
            .avatars
            .iter()
            .filter(|a| a.name.starts_with("Ada"))
            .count(),
        1
    );
    assert!(bob_welcome.avatars.iter().any(|a| a.id == welcome.avatar));
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_join_timeout() {
    let mut config = Config::default();
    config.limits.join_timeout_secs = 1;
    let server = TestServer::start_with(config).await;
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    expect_error(&mut client, ErrorCode::JoinTimeout).await;
    expect_close(&mut client, ErrorCode::JoinTimeout).await;
    server.stop().await;
}

#[tokio::test]
async fn connection_and_office_limits_refuse_with_full() {
    let mut config = Config::default();
    config.limits.max_connections = 2;
    config.office.max_avatars = 1;
    let server = TestServer::start_with(config).await;
    let (_ada, _) = server.join("Ada").await;
    let mut bob = Client::connect(&server.ws_url()).await.expect("connect");
    // Ada and Bob's sockets are the two allowed; a third is turned away.
    let mut carol = Client::connect(&server.ws_url()).await.expect("connect");
    let message = expect_error(&mut carol, ErrorCode::Full).await;
    assert!(message.contains("2 connections"), "{message}");
    bob.send(&join_message("office", PROTOCOL_VERSION, Some("Bob"), None))
        .await
        .expect("send");
    let message = expect_error(&mut bob, ErrorCode::Full).await;
    assert!(message.contains("maximum of 1"), "{message}");
    expect_close(&mut carol, ErrorCode::Full).await;
    server.stop().await;
}

#[tokio::test]
async fn a_flood_is_rate_limited() {
    let server = TestServer::start().await;
    let (mut ada, _) = server.join("Ada").await;
    for _ in 0..500 {
        ada.hold(Direction::Left).await.expect("send");
    }
    next_matching(&mut ada, |m| match m {
        ServerMessage::Error(e) if e.code == ErrorCode::RateLimited.number() => Some(()),
        _ => None,
    })
    .await;
    server.stop().await;
}

/// While one client sends every kind of bad input, another walks and a
/// third watches: the watcher sees every one of the walker's steps, in order.
#[tokio::test]
async fn one_bad_client_never_hurts_the_others() {
    let server = TestServer::start().await;
    let (mut walker, walker_welcome) = server.join("Walker").await;
    let (mut watcher, watcher_welcome) = server.join("Watcher").await;
    let (mut vandal, _) = server.join("Vandal").await;
    let walker_id = walker_welcome.avatar;
    let mut view = OfficeView::from_welcome(&watcher_welcome);

    let vandalism = tokio::spawn(async move {
        for i in 0..200u32 {
            let frame = match i % 5 {
                0 => vec![0xc1; 17],
                1 => vec![0x92, 0x07, 0x90],
                2 => vec![0x92, 0x01, 0x91, 0x63],
                3 => join_message("office", PROTOCOL_VERSION, Some("again"), None).encode(),
                _ => ClientMessage::Hold(Hold {
                    dir: Direction::ALL[i as usize % 4],
                })
                .encode(),
            };
            if vandal.send_raw(frame).await.is_err() {
                break;
            }
        }
        let _ = vandal.send_raw(vec![0u8; 40 * 1024]).await;
        vandal
    });

    // The walker goes down column 1 from (1, 1) to (1, 4) and back up.
    walker.hold(Direction::Down).await.expect("hold");
    let mut path = Vec::new();
    while view.destination(walker_id) != Some((1, 4)) {
        let message = next_matching(&mut watcher, |m| Some(m.clone())).await;
        path.extend(apply_steps_of(&mut view, &message, walker_id));
    }
    walker.hold(Direction::Up).await.expect("hold");
    while view.destination(walker_id) != Some((1, 1)) {
        let message = next_matching(&mut watcher, |m| Some(m.clone())).await;
        path.extend(apply_steps_of(&mut view, &message, walker_id));
    }
    walker.release().await.expect("release");
    for pair in path.windows(2) {
        assert_eq!(
            pair[1].from,
            pair[0].to(),
            "each step starts where the last ended: {path:?}"
        );
    }
    assert_eq!(path.first().map(|s| s.from), Some((1, 1)));
    let _ = vandalism.await.expect("vandal task");
    still_open(&mut watcher).await;
    server.stop().await;
}
