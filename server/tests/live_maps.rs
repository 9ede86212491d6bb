//! Maps change while people are in the office: a valid new map is swapped in
//! and everyone is told; a broken one is refused and the office keeps going.

mod common;

use common::{TEST_OFFICE, TestServer, http_get, next_matching, starts_step_of, write_map};
use metaoffice_protocol::ServerMessage;

#[tokio::test]
async fn a_changed_map_is_swapped_in_and_avatars_on_new_walls_move_aside() {
    let server = TestServer::start().await;
    let (mut ada, welcome) = server.join("Ada").await;
    assert_eq!(welcome.map.version, 1);
    let me = welcome
        .avatars
        .iter()
        .find(|a| a.id == welcome.avatar)
        .expect("own avatar");
    assert_eq!((me.x, me.y), (1, 1));

    // The designer walls in Ada's tile and saves.
    let mut rows: Vec<String> = TEST_OFFICE.iter().map(|r| r.to_string()).collect();
    rows[1].replace_range(1..2, "W");
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    write_map(server.maps.path(), "office", &rows);

    let changed = next_matching(&mut ada, |m| match m {
        ServerMessage::MapChanged(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(changed.map.version, 2);
    assert_eq!(changed.map.url, "/maps/office");
    let snapshot = next_matching(&mut ada, |m| match m {
        ServerMessage::Snapshot(s) => Some(s.clone()),
        _ => None,
    })
    .await;
    let moved = snapshot
        .avatars
        .iter()
        .find(|a| a.id == welcome.avatar)
        .expect("Ada is still there");
    assert_ne!(
        (moved.x, moved.y),
        (1, 1),
        "Ada no longer stands in the new wall"
    );
    let tile = rows[moved.y as usize].as_bytes()[moved.x as usize];
    assert!(
        tile == b'.' || tile == b'S',
        "Ada stands on floor: {moved:?}"
    );
    let (_, body) = http_get(&server.http_url("/maps/office")).await;
    let map: serde_json::Value = serde_json::from_str(&body).expect("map json");
    assert_eq!(
        map["layers"][1]["layers"][0]["data"][11], 2,
        "the new map is served"
    );

    // A newcomer gets the new map version in its welcome.
    let (_bob, bob_welcome) = server.join("Bob").await;
    assert_eq!(bob_welcome.map.version, 2);
    server.stop().await;
}

#[tokio::test]
async fn a_broken_map_is_refused_and_the_office_keeps_its_last_good_map() {
    let server = TestServer::start().await;
    let (mut ada, welcome) = server.join("Ada").await;
    std::fs::write(
        server.maps.path().join("office.tmj"),
        b"{\"width\": 10, \"height\":",
    )
    .expect("write");
    // Wait until the refusal shows in /healthz (polling the server's own report).
    let mut refused = String::new();
    for _ in 0..200 {
        let (_, body) = http_get(&server.http_url("/healthz")).await;
        let health: serde_json::Value = serde_json::from_str(&body).expect("json");
        if let Some((_, reason)) = health["refused_maps"]
            .as_object()
            .and_then(|m| m.iter().next())
        {
            refused = reason.as_str().unwrap_or_default().to_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        refused.contains("office.tmj"),
        "the refusal names the file: {refused}"
    );
    // The office still runs on its map: Ada walks, a newcomer sees version 1.
    ada.hold(metaoffice_protocol::Direction::Down)
        .await
        .expect("hold");
    next_matching(&mut ada, |m| {
        starts_step_of(m, welcome.avatar).then_some(())
    })
    .await;
    let (_bob, bob_welcome) = server.join("Bob").await;
    assert_eq!(bob_welcome.map.version, 1);
    let (status, _) = http_get(&server.http_url("/maps/office")).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_new_map_becomes_a_new_office() {
    let server = TestServer::start().await;
    write_map(server.maps.path(), "annex", TEST_OFFICE);
    let url = server.ws_url();
    let mut joined = None;
    for _ in 0..200 {
        if let Ok(j) = metaoffice_bots::Client::join(&url, "annex", "Ada").await {
            joined = Some(j);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, welcome) = joined.expect("the annex opened");
    assert_eq!(welcome.map.id, "annex");
    server.stop().await;
}
