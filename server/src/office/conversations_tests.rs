//! Conversations in the office world, stepped tick by tick: clients join
//! through the inbox, a local meeting desk answers while the test awaits.

use std::time::Duration;

use metaoffice_protocol::{Direction, GroupKind, ServerMessage};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conversations::OfficeMeetings;
use super::network::OfficeCommand;
use super::outbox::Outgoing;
use super::sim::OfficeSim;
use super::tests::{Client, join, open_map};
use super::{OfficeHandle, attach_meetings, build_office};
use crate::config::Config;
use crate::map::{OfficeMap, Zone, ZoneKind};
use crate::meetings::Providers;

fn map_with(width: u32, height: u32, spawns: Vec<(i32, i32)>, zones: Vec<Zone>) -> OfficeMap {
    OfficeMap {
        zones,
        ..open_map(width, height, spawns)
    }
}

fn zone(name: &str, kind: ZoneKind, x: i32, y: i32, width: u32, height: u32) -> Zone {
    Zone {
        name: name.into(),
        kind,
        x,
        y,
        width,
        height,
        properties: Default::default(),
    }
}

/// Group messages queued for a client since last asked (other frames skipped).
async fn group_news(client: &Client) -> Vec<ServerMessage> {
    let mut out = Vec::new();
    while !client.outbox.is_empty() {
        let Some(Outgoing::Frame(bytes)) = client.outbox.next().await else {
            break;
        };
        let message = ServerMessage::decode(&bytes).expect("decodable");
        if matches!(
            message,
            ServerMessage::GroupFormed(_)
                | ServerMessage::GroupChanged(_)
                | ServerMessage::GroupDissolved(_)
                | ServerMessage::MeetingReady(_)
        ) {
            out.push(message);
        }
    }
    out
}

/// An office on `map` with a local meeting desk whose task runs only when the test awaits.
fn office(map: &OfficeMap, tasks: &TaskTracker) -> (OfficeSim, OfficeHandle) {
    office_with(map, tasks, Config::default())
}

fn office_with(map: &OfficeMap, tasks: &TaskTracker, config: Config) -> (OfficeSim, OfficeHandle) {
    let (mut sim, handle) = build_office("test", map, &config, Default::default());
    attach_meetings(
        &mut sim,
        "test",
        &config,
        Providers::local(),
        CancellationToken::new(),
        tasks,
    );
    (sim, handle)
}

/// Ticks until the desk answered (it runs while the test waits), at most 100 ticks.
async fn tick_until_meeting(sim: &mut OfficeSim, client: &Client) -> Vec<ServerMessage> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        sim.tick();
        seen.extend(group_news(client).await);
        if seen
            .iter()
            .any(|m| matches!(m, ServerMessage::MeetingReady(_)))
        {
            break;
        }
    }
    seen
}

fn step(sim: &mut OfficeSim, ticks: usize) {
    for _ in 0..ticks {
        sim.tick();
    }
}

#[tokio::test]
async fn walking_past_someone_forms_nothing() {
    let tasks = TaskTracker::new();
    let map = map_with(30, 6, vec![(1, 2), (12, 3)], Vec::new());
    let (mut sim, handle) = office(&map, &tasks);
    let walker = join(&mut sim, &handle, "Walker", 1000);
    let sitter = join(&mut sim, &handle, "Sitter", 1000);
    walker.input.hold(Direction::Right);
    for _ in 0..120 {
        walker.input.hold(Direction::Right);
        tokio::time::sleep(Duration::from_millis(1)).await;
        sim.tick();
    }
    assert!(sim.walker(walker.joined.entity).expect("walker").tile.0 > 20);
    assert_eq!(group_news(&walker).await, vec![]);
    assert_eq!(group_news(&sitter).await, vec![]);
}

#[tokio::test]
async fn standing_together_gets_a_meeting_after_the_dwell_and_changes_as_people_come_and_go() {
    let tasks = TaskTracker::new();
    let map = map_with(30, 6, vec![(2, 2), (3, 2), (9, 2)], Vec::new());
    let (mut sim, handle) = office(&map, &tasks);
    let ada = join(&mut sim, &handle, "Ada", 1000);
    let grace = join(&mut sim, &handle, "Grace", 1000);
    let alan = join(&mut sim, &handle, "Alan", 1000);
    // Default dwell: 1 s, 20 ticks. Grace joined 2 ticks ago (the pair formed then).
    step(&mut sim, 16);
    assert_eq!(group_news(&ada).await, vec![], "not before the dwell");
    let seen = tick_until_meeting(&mut sim, &ada).await;
    let ServerMessage::GroupFormed(formed) = &seen[0] else {
        panic!("{seen:?}")
    };
    let pair = vec![ada.joined.id, grace.joined.id];
    assert_eq!(
        (formed.kind, &formed.members),
        (GroupKind::Proximity, &pair)
    );
    let ServerMessage::MeetingReady(ready) = &seen[1] else {
        panic!("{seen:?}")
    };
    assert_eq!(ready.group, formed.group);
    assert_eq!(ready.provider, "local");
    assert!(
        ready
            .join_url
            .as_deref()
            .is_some_and(|u| u.starts_with("local://")),
        "{ready:?}"
    );
    let for_grace = group_news(&grace).await;
    assert!(
        matches!(
            &for_grace[..],
            [
                ServerMessage::GroupFormed(_),
                ServerMessage::MeetingReady(_)
            ]
        ),
        "{for_grace:?}"
    );
    assert_eq!(group_news(&alan).await, vec![]);

    // Alan walks up: the others see the group change, he gets it and its meeting.
    while sim.walker(alan.joined.entity).expect("alan").tile.0 > 5 {
        alan.input.hold(Direction::Left);
        sim.tick();
    }
    step(&mut sim, 10);
    let trio = vec![ada.joined.id, grace.joined.id, alan.joined.id];
    let for_ada = group_news(&ada).await;
    assert!(
        matches!(&for_ada[..], [ServerMessage::GroupChanged(g)] if g.members == trio && g.group == formed.group),
        "{for_ada:?}"
    );
    let for_alan = group_news(&alan).await;
    assert!(
        matches!(&for_alan[..], [ServerMessage::GroupFormed(g), ServerMessage::MeetingReady(_)] if g.group == formed.group),
        "{for_alan:?}"
    );

    // Alan walks away again: the group changes back, and he is told he left it.
    while sim.walker(alan.joined.entity).expect("alan").tile.0 < 15 {
        alan.input.hold(Direction::Right);
        sim.tick();
    }
    let for_grace = group_news(&grace).await;
    assert!(
        matches!(&for_grace[..], [ServerMessage::GroupChanged(g), ServerMessage::GroupChanged(h)] if h.members == pair && g.members == trio),
        "{for_grace:?}"
    );
    let for_alan = group_news(&alan).await;
    assert!(
        matches!(&for_alan[..], [ServerMessage::GroupDissolved(d)] if d.group == formed.group),
        "{for_alan:?}"
    );

    // Grace leaves the office: the pair dissolves.
    handle
        .inbox
        .try_send(OfficeCommand::Leave {
            avatar: grace.joined.entity,
        })
        .expect("room");
    sim.tick();
    let for_ada = group_news(&ada).await;
    assert!(
        matches!(&for_ada[..], [ServerMessage::GroupChanged(_), ServerMessage::GroupDissolved(d)] if d.group == formed.group),
        "{for_ada:?}"
    );
}

#[tokio::test]
async fn a_group_that_dissolves_before_its_meeting_came_withdraws_the_request() {
    let tasks = TaskTracker::new();
    let map = map_with(30, 6, vec![(2, 2), (3, 2)], Vec::new());
    let (mut sim, handle) = office(&map, &tasks);
    let ada = join(&mut sim, &handle, "Ada", 1000);
    let grace = join(&mut sim, &handle, "Grace", 1000);
    // No await: the desk's task does not run, the request stays queued.
    step(&mut sim, 25);
    let desk = sim.world.resource::<OfficeMeetings>().desk.clone();
    assert_eq!(desk.stats().queued, 1);
    while sim.walker(grace.joined.entity).expect("grace").tile.0 < 10 {
        grace.input.hold(Direction::Right);
        sim.tick();
    }
    assert_eq!(desk.stats().queued, 0, "cancelled");
    let seen = tick_until_meeting(&mut sim, &ada).await;
    assert!(
        matches!(
            &seen[..],
            [
                ServerMessage::GroupFormed(_),
                ServerMessage::GroupDissolved(_)
            ]
        ),
        "{seen:?}"
    );
}

#[tokio::test]
async fn silent_areas_form_no_group() {
    let tasks = TaskTracker::new();
    let quiet = zone("library", ZoneKind::Silent, 0, 0, 10, 6);
    let map = map_with(30, 6, vec![(2, 2), (3, 2)], vec![quiet]);
    let (mut sim, handle) = office(&map, &tasks);
    let ada = join(&mut sim, &handle, "Ada", 1000);
    let _grace = join(&mut sim, &handle, "Grace", 1000);
    let seen = tick_until_meeting(&mut sim, &ada).await;
    assert_eq!(seen, vec![]);
}

#[tokio::test]
async fn a_meeting_room_holds_everyone_inside_at_once() {
    let tasks = TaskTracker::new();
    let lounge = ZoneKind::MeetingRoom {
        meeting: "Lounge".into(),
    };
    let room = zone("lounge", lounge, 0, 0, 12, 6);
    let map = map_with(30, 6, vec![(1, 1), (10, 4), (20, 2)], vec![room]);
    let (mut sim, handle) = office(&map, &tasks);
    let ada = join(&mut sim, &handle, "Ada", 1000);
    let grace = join(&mut sim, &handle, "Grace", 1000);
    let outside = join(&mut sim, &handle, "Outside", 1000);
    let seen = tick_until_meeting(&mut sim, &grace).await;
    let ServerMessage::GroupFormed(formed) = &seen[0] else {
        panic!("{seen:?}")
    };
    assert_eq!(formed.kind, GroupKind::Room);
    assert_eq!(formed.room.as_deref(), Some("Lounge"));
    assert_eq!(formed.members, vec![ada.joined.id, grace.joined.id]);
    assert!(matches!(&seen[1], ServerMessage::MeetingReady(m) if m.join_url.is_some()));
    assert_eq!(group_news(&outside).await, vec![]);
}

#[tokio::test]
async fn a_full_group_leaves_the_latecomer_out() {
    let tasks = TaskTracker::new();
    let mut config = Config::default();
    config.conversations.max_group_size = 3;
    let map = map_with(30, 6, vec![(2, 2), (3, 2), (4, 2), (3, 3)], Vec::new());
    let (mut sim, handle) = office_with(&map, &tasks, config);
    let first: Vec<Client> = ["Ada", "Grace", "Alan"]
        .into_iter()
        .map(|name| join(&mut sim, &handle, name, 1000))
        .collect();
    let late = join(&mut sim, &handle, "Linus", 1000);
    let seen = tick_until_meeting(&mut sim, &first[0]).await;
    let ServerMessage::GroupFormed(formed) = &seen[0] else {
        panic!("{seen:?}")
    };
    let ids: Vec<u32> = first.iter().map(|c| c.joined.id).collect();
    assert_eq!(formed.members, ids);
    assert_eq!(group_news(&late).await, vec![]);
}

#[tokio::test]
async fn a_client_resynchronised_by_a_snapshot_is_told_its_group_and_meeting_again() {
    let tasks = TaskTracker::new();
    let map = map_with(40, 6, vec![(2, 2), (3, 2), (20, 4)], Vec::new());
    let mut config = Config::default();
    config.limits.max_resyncs = 1000;
    let (mut sim, handle) = office_with(&map, &tasks, config);
    let ada = join(&mut sim, &handle, "Ada", 6);
    let grace = join(&mut sim, &handle, "Grace", 1000);
    let walker = join(&mut sim, &handle, "Walker", 1000);
    let news = tick_until_meeting(&mut sim, &ada).await;
    assert!(
        news.iter()
            .any(|m| matches!(m, ServerMessage::MeetingReady(r) if r.unavailable.is_none())),
        "{news:?}"
    );
    // Ada stops reading while someone walks in view: her backlog overflows
    // and is replaced by a snapshot.
    for i in 0..200 {
        let dir = if (i / 40) % 2 == 0 {
            Direction::Right
        } else {
            Direction::Left
        };
        walker.input.hold(dir);
        sim.tick();
    }
    let mut after_snapshot = Vec::new();
    while !ada.outbox.is_empty() {
        let Some(Outgoing::Frame(bytes)) = ada.outbox.next().await else {
            break;
        };
        match ServerMessage::decode(&bytes).expect("decodable") {
            ServerMessage::Snapshot(_) => {
                after_snapshot = vec![ServerMessage::Snapshot(metaoffice_protocol::Snapshot {
                    tick: 0,
                    avatars: Vec::new(),
                })]
            }
            other => after_snapshot.push(other),
        }
    }
    assert!(
        matches!(after_snapshot.first(), Some(ServerMessage::Snapshot(_))),
        "Ada fell behind and got a snapshot: {after_snapshot:?}"
    );
    let formed = after_snapshot.iter().find_map(|m| match m {
        ServerMessage::GroupFormed(g) => Some(g.clone()),
        _ => None,
    });
    let formed = formed.expect("the group is repeated after the snapshot");
    assert_eq!(formed.members, vec![ada.joined.id, grace.joined.id]);
    assert!(
        after_snapshot
            .iter()
            .any(|m| matches!(m, ServerMessage::MeetingReady(r) if r.group == formed.group && r.join_url.is_some())),
        "the meeting is repeated after the snapshot: {after_snapshot:?}"
    );
}

/// While frames batch two ticks, groups are computed on the first tick of
/// each batch: they still form after the dwell, and their news goes out
/// with the batch's frame, never in the middle of a batch.
#[tokio::test]
async fn with_batched_frames_groups_form_after_the_dwell_and_go_out_with_the_frames() {
    let tasks = TaskTracker::new();
    let map = map_with(30, 6, vec![(2, 2), (3, 2)], Vec::new());
    let mut config = Config::default();
    config.limits.batch_above_clients = 1;
    let (mut sim, handle) = office_with(&map, &tasks, config);
    let ada = join(&mut sim, &handle, "Ada", 1000);
    let grace = join(&mut sim, &handle, "Grace", 1000);
    let together = sim.tick_count();
    let mut formed_at = None;
    for _ in 0..80 {
        sim.tick();
        let news = group_news(&ada).await;
        if let Some(ServerMessage::GroupFormed(formed)) = news.first() {
            assert_eq!(formed.members, vec![ada.joined.id, grace.joined.id]);
            formed_at = Some(sim.tick_count());
            break;
        }
    }
    let formed_at = formed_at.expect("the pair formed a group");
    // Default dwell: 1 s, 20 ticks.
    assert!(formed_at >= together + 20, "{formed_at} after {together}");
    assert!(
        formed_at.is_multiple_of(2),
        "sent with a frame, at the end of a batch: {formed_at}"
    );
}
