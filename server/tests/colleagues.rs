//! Finding colleagues over the real protocol: knocks, the list of people,
//! walks to a colleague (arriving, cancelled, unreachable, the colleague
//! gone), with development logins on the real server.

mod common;

use common::{TestServer, next, next_matching, starts_step_of};
use metaoffice_bots::{Client, Incoming, OfficeView};
use metaoffice_protocol::{
    ClientMessage, Direction, ErrorCode, Knock, KnockSent, Knocked, ListPeople, Ping,
    ServerMessage, WalkEnded, WalkTo, feed, walk_end,
};
use metaoffice_server::Config;

/// Ada spawns at (1, 1), Grace at (10, 5); a wall with one gap at (5, 4)
/// stands between them; (8, 2) is a closed booth with a spawn tile inside.
const SPLIT_OFFICE: &[&str] = &[
    "WWWWWWWWWWWW",
    "WS...W.WWW.W",
    "W....W.WSW.W",
    "W....W.WWW.W",
    "W..........W",
    "W....W....SW",
    "WWWWWWWWWWWW",
];

async fn send(client: &mut Client, message: ClientMessage) {
    client.send(&message).await.expect("send");
}

fn knock_avatar(avatar: u32) -> ClientMessage {
    ClientMessage::Knock(Knock {
        avatar: Some(avatar),
        user: None,
    })
}

async fn error_code(client: &mut Client) -> u16 {
    next_matching(client, |m| match m {
        ServerMessage::Error(e) => Some(e.code),
        _ => None,
    })
    .await
}

async fn knock_sent(client: &mut Client) -> KnockSent {
    next_matching(client, |m| match m {
        ServerMessage::KnockSent(k) => Some(k.clone()),
        _ => None,
    })
    .await
}

/// Everything `client` receives until the answer to a ping: what came before it.
async fn until_pong(client: &mut Client) -> Vec<ServerMessage> {
    send(client, ClientMessage::Ping(Ping { client_ms: 7 })).await;
    let mut seen = Vec::new();
    loop {
        match next(client).await {
            Incoming::Message(ServerMessage::Pong(p)) if p.client_ms == 7 => return seen,
            Incoming::Message(m) => seen.push(m),
            Incoming::Closed(reason) => panic!("closed: {reason:?}"),
        }
    }
}

#[tokio::test]
async fn knocks_reach_the_colleague_and_repeats_are_merged_and_limited() {
    let server = TestServer::start().await;
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (mut grace, grace_welcome) = server.join("Grace").await;
    let (ada_id, grace_id) = (ada_welcome.avatar, grace_welcome.avatar);

    send(&mut ada, knock_avatar(grace_id)).await;
    let knocked: Knocked = next_matching(&mut grace, |m| match m {
        ServerMessage::Knocked(k) => Some(k.clone()),
        _ => None,
    })
    .await;
    assert_eq!(knocked.from_name, "Ada");
    assert_eq!(knocked.from_avatar, Some(ada_id));
    assert_eq!(
        knocked.from_user, None,
        "a development login has no Teams id"
    );
    assert_eq!(knocked.from_office.as_deref(), Some("office"));
    let sent = knock_sent(&mut ada).await;
    assert_eq!(sent.avatar, Some(grace_id));
    assert_eq!(sent.office.as_deref(), Some("office"));
    assert_eq!(sent.feed, feed::NOT_SENT, "no Teams without Graph");

    // Again at once: merged, and Grace hears nothing new.
    send(&mut ada, knock_avatar(grace_id)).await;
    assert_eq!(knock_sent(&mut ada).await.feed, feed::MERGED);
    let since = until_pong(&mut grace).await;
    assert!(
        !since.iter().any(|m| matches!(m, ServerMessage::Knocked(_))),
        "a merged knock is not repeated: {since:?}"
    );

    // Mistakes get their own errors and the connection goes on.
    send(&mut ada, knock_avatar(ada_id)).await;
    assert_eq!(error_code(&mut ada).await, ErrorCode::NotAllowed.number());
    send(&mut ada, knock_avatar(9_999)).await;
    assert_eq!(error_code(&mut ada).await, ErrorCode::UnknownUser.number());
    send(
        &mut ada,
        ClientMessage::Knock(Knock {
            avatar: None,
            user: Some("00000000-0000-4000-8000-0000000000b2".into()),
        }),
    )
    .await;
    assert_eq!(
        error_code(&mut ada).await,
        ErrorCode::NotAllowed.number(),
        "knocking by Teams id needs a Teams sign-in"
    );
    send(
        &mut ada,
        ClientMessage::Knock(Knock {
            avatar: None,
            user: None,
        }),
    )
    .await;
    assert_eq!(error_code(&mut ada).await, ErrorCode::Malformed.number());

    // Knocking on and on: the limit answers with its own code.
    let mut limited = false;
    for _ in 0..20 {
        send(&mut ada, knock_avatar(grace_id)).await;
        match next_matching(&mut ada, |m| match m {
            ServerMessage::KnockSent(_) => Some(None),
            ServerMessage::Error(e) => Some(Some(e.code)),
            _ => None,
        })
        .await
        {
            None => {}
            Some(code) => {
                assert_eq!(code, ErrorCode::TooManyKnocks.number());
                limited = true;
                break;
            }
        }
    }
    assert!(limited, "twenty knocks in a row hit the limit");
    // Ada is still connected and answered.
    until_pong(&mut ada).await;
    server.stop().await;
}

#[tokio::test]
async fn people_are_listed_by_name_with_where_they_stand() {
    let server = TestServer::start().await;
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (_grace, grace_welcome) = server.join("Grace").await;
    let (_alan, _) = server.join("Alan").await;
    send(&mut ada, ClientMessage::ListPeople(ListPeople {})).await;
    let people = next_matching(&mut ada, |m| match m {
        ServerMessage::People(p) => Some(p.people.clone()),
        _ => None,
    })
    .await;
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Ada", "Alan", "Grace"]);
    let grace = people
        .iter()
        .find(|p| p.name == "Grace")
        .expect("Grace listed");
    let spawned = grace_welcome
        .avatars
        .iter()
        .find(|a| a.id == grace_welcome.avatar)
        .expect("Grace in her welcome");
    assert_eq!((grace.x, grace.y), (spawned.x, spawned.y));
    assert_eq!(grace.avatar, grace_welcome.avatar);
    assert_eq!(grace.user, None);
    assert_eq!(grace.availability, 0, "no Graph: presence unknown");
    assert!(people.iter().any(|p| p.avatar == ada_welcome.avatar));
    server.stop().await;
}

/// Follows `client`'s frames until its walk ends; returns the reason and
/// where its view says each avatar is going.
async fn walk_ends(client: &mut Client, view: &mut OfficeView) -> WalkEnded {
    loop {
        match next(client).await {
            Incoming::Message(ServerMessage::WalkEnded(ended)) => return ended,
            Incoming::Message(message) => assert!(view.apply(&message), "{message:?}"),
            Incoming::Closed(reason) => panic!("closed: {reason:?}"),
        }
    }
}

#[tokio::test]
async fn walking_to_a_colleague_goes_around_walls_and_stops_next_to_them() {
    let server = TestServer::start_with_map(Config::default(), SPLIT_OFFICE).await;
    // Spawn tiles in order: (1, 1), (8, 2) in the booth, (10, 5).
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (_boris, _) = server.join("Boris").await;
    let (_grace, grace_welcome) = server.join("Grace").await;
    let grace_id = grace_welcome.avatar;
    let mut view = OfficeView::from_welcome(&ada_welcome);
    send(&mut ada, ClientMessage::WalkTo(WalkTo { avatar: grace_id })).await;
    let ended = walk_ends(&mut ada, &mut view).await;
    assert_eq!(ended.avatar, grace_id);
    assert_eq!(ended.reason, walk_end::ARRIVED);
    let at = view
        .destination(ada_welcome.avatar)
        .expect("Ada in her view");
    let grace = view.destination(grace_id).expect("Grace in view");
    assert_eq!(grace, (10, 5));
    assert_eq!(
        (at.0 - grace.0).abs() + (at.1 - grace.1).abs(),
        1,
        "Ada stands next to Grace: {at:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn holding_a_direction_cancels_a_walk_and_mistakes_are_refused() {
    let server = TestServer::start_with_map(Config::default(), SPLIT_OFFICE).await;
    let (mut ada, ada_welcome) = server.join("Ada").await;
    let (_boris, _) = server.join("Boris").await;
    let (_grace, grace_welcome) = server.join("Grace").await;
    send(
        &mut ada,
        ClientMessage::WalkTo(WalkTo {
            avatar: ada_welcome.avatar,
        }),
    )
    .await;
    assert_eq!(error_code(&mut ada).await, ErrorCode::NotAllowed.number());
    send(&mut ada, ClientMessage::WalkTo(WalkTo { avatar: 4_321 })).await;
    assert_eq!(error_code(&mut ada).await, ErrorCode::UnknownUser.number());

    send(
        &mut ada,
        ClientMessage::WalkTo(WalkTo {
            avatar: grace_welcome.avatar,
        }),
    )
    .await;
    // The walk starts: Ada's first step shows in a frame.
    let me = ada_welcome.avatar;
    next_matching(&mut ada, |m| starts_step_of(m, me).then_some(())).await;
    ada.hold(Direction::Up).await.expect("hold");
    let ended = next_matching(&mut ada, |m| match m {
        ServerMessage::WalkEnded(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ended.reason, walk_end::CANCELLED);
    server.stop().await;
}

#[tokio::test]
async fn a_colleague_behind_walls_is_unreachable_and_one_who_leaves_is_gone() {
    let server = TestServer::start_with_map(Config::default(), SPLIT_OFFICE).await;
    let (mut ada, _) = server.join("Ada").await;
    // Spawn tiles in order: (1, 1), (8, 2) in the booth, (10, 5).
    let (_booth, booth_welcome) = server.join("Boris").await;
    let (grace, grace_welcome) = server.join("Grace").await;
    send(
        &mut ada,
        ClientMessage::WalkTo(WalkTo {
            avatar: booth_welcome.avatar,
        }),
    )
    .await;
    let ended = next_matching(&mut ada, |m| match m {
        ServerMessage::WalkEnded(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ended.avatar, booth_welcome.avatar);
    assert_eq!(ended.reason, walk_end::UNREACHABLE);

    send(
        &mut ada,
        ClientMessage::WalkTo(WalkTo {
            avatar: grace_welcome.avatar,
        }),
    )
    .await;
    grace.close().await.expect("close");
    let ended = next_matching(&mut ada, |m| match m {
        ServerMessage::WalkEnded(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ended.avatar, grace_welcome.avatar);
    assert_eq!(ended.reason, walk_end::GONE);
    server.stop().await;
}
