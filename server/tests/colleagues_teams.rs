//! Teams users in the real server with the fake Microsoft service: presence
//! read from Graph shows on avatars (in snapshots, `Presences` and
//! `People`), knocks by Teams id reach the colleague and Teams, colleagues
//! are located, and people in a meeting show busy in Teams until they leave.

mod common;

use std::time::Duration;

use common::tokens::{AUDIENCE, TENANT, claims, jwk, keys, sign};
use common::{TestServer, next_matching};
use metaoffice_bots::Client;
use metaoffice_fakes::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, FakeMicrosoft, FakeOptions,
};
use metaoffice_protocol::{
    ClientMessage, ErrorCode, Knock, ListPeople, Locate, ServerMessage, Welcome, feed,
};
use metaoffice_server::Config;
use metaoffice_server::graph::Secret;
use metaoffice_server::presence::{Activity, Availability};
use serde_json::json;

const ANN: &str = "00000000-0000-4000-8000-0000000000a1";
const BOB: &str = "00000000-0000-4000-8000-0000000000b2";
const NOBODY: &str = "00000000-0000-4000-8000-0000000000ff";

fn token(fake: &FakeMicrosoft, oid: &str, name: &str) -> String {
    let mut claims = claims(&fake.login_url());
    claims["oid"] = json!(oid);
    claims["name"] = json!(name);
    claims["preferred_username"] = json!(format!("{}@example.com", name.to_lowercase()));
    sign(&keys().0, "k1", &claims)
}

async fn join(server: &TestServer, token: String) -> (Client, Welcome) {
    let mut client = server.join_with_token(&token).await;
    let welcome = next_matching(&mut client, |m| match m {
        ServerMessage::Welcome(w) => Some(w.clone()),
        ServerMessage::Error(e) => panic!("refused: {e:?}"),
        _ => None,
    })
    .await;
    (client, welcome)
}

/// Waits (up to 10 s) until `done` holds, polling every 20 ms.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 10 s");
}

#[tokio::test]
async fn teams_presence_knocks_and_meetings_through_the_real_server() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    fake.set_presence(BOB, "Busy", "InAMeeting");
    fake.set_presence(ANN, "Available", "Available");
    let mut config = Config::default();
    config.graph.base_url = fake.graph_url();
    config.graph.login_url = fake.login_url();
    config.graph.client_id = Some(DEFAULT_CLIENT_ID.to_owned());
    config.graph.client_secret = Some(Secret::new(DEFAULT_CLIENT_SECRET));
    config.graph.tenant_id = Some(TENANT.to_owned());
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    config.conversations.dwell_ms = 200;
    config.presence.refresh_secs = 1;
    config.presence.stale_after_secs = 30;
    config.presence.tick_ms = 100;
    let server = TestServer::start_with(config).await;

    // Ann and Bob spawn side by side: (1, 1) and (2, 1).
    let (mut ann, _) = join(&server, token(&fake, ANN, "Ann")).await;
    let (mut bob, bob_welcome) = join(&server, token(&fake, BOB, "Bob")).await;
    let bob_id = bob_welcome.avatar;

    // Bob's presence, read from Graph, reaches Ann.
    let busy = Availability::Busy.code();
    let activity = next_matching(&mut ann, |m| match m {
        ServerMessage::Presences(p) => p
            .entries
            .iter()
            .find(|e| e.avatar == bob_id && e.availability == busy)
            .map(|e| e.activity),
        _ => None,
    })
    .await;
    assert_eq!(activity, Activity::InAMeeting.code());
    ann.send(&ClientMessage::ListPeople(ListPeople {}))
        .await
        .expect("send");
    let people = next_matching(&mut ann, |m| match m {
        ServerMessage::People(p) => Some(p.people.clone()),
        _ => None,
    })
    .await;
    let listed = people.iter().find(|p| p.avatar == bob_id).expect("Bob");
    assert_eq!(listed.name, "Bob");
    assert_eq!(listed.user.as_deref(), Some(BOB));
    assert_eq!(listed.availability, busy);

    // Standing together, they get a meeting: both show busy in a call in Teams.
    let ready = next_matching(&mut bob, |m| match m {
        ServerMessage::MeetingReady(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ready.unavailable, None);
    eventually("setPresence for both", || {
        let sessions = fake.presence_sessions();
        [ANN, BOB].iter().all(|u| {
            sessions
                .iter()
                .any(|s| s.user == *u && s.availability == "Busy" && s.activity == "InACall")
        })
    })
    .await;

    // A knock by Teams id reaches Bob and is sent to Teams.
    ann.send(&ClientMessage::Knock(Knock {
        avatar: None,
        user: Some(BOB.to_owned()),
    }))
    .await
    .expect("send");
    let knocked = next_matching(&mut bob, |m| match m {
        ServerMessage::Knocked(k) => Some(k.clone()),
        _ => None,
    })
    .await;
    assert_eq!(knocked.from_name, "Ann");
    assert_eq!(knocked.from_user.as_deref(), Some(ANN));
    let sent = next_matching(&mut ann, |m| match m {
        ServerMessage::KnockSent(k) => Some(k.clone()),
        _ => None,
    })
    .await;
    assert_eq!(sent.feed, feed::QUEUED);
    assert_eq!(sent.avatar, Some(bob_id));
    assert_eq!(sent.user.as_deref(), Some(BOB));
    eventually("the activity notification", || {
        fake.calls_to(Endpoint::SendActivityNotification)
            .iter()
            .any(|c| c.path.contains(BOB))
    })
    .await;

    // Locating: Bob is in this office; nobody has an unknown id.
    ann.send(&ClientMessage::Locate(Locate { user: BOB.into() }))
        .await
        .expect("send");
    let located = next_matching(&mut ann, |m| match m {
        ServerMessage::Located(l) => Some(l.clone()),
        _ => None,
    })
    .await;
    assert_eq!(located.office.as_deref(), Some("office"));
    assert_eq!(located.avatar, Some(bob_id));
    ann.send(&ClientMessage::Locate(Locate {
        user: NOBODY.into(),
    }))
    .await
    .expect("send");
    let code = next_matching(&mut ann, |m| match m {
        ServerMessage::Error(e) => Some(e.code),
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::UnknownUser.number());

    // Bob leaves: his busy status is cleared in Teams.
    bob.close().await.expect("close");
    eventually("clearPresence for Bob", || {
        fake.calls_to(Endpoint::ClearPresence)
            .iter()
            .any(|c| c.path.contains(BOB))
    })
    .await;
    server.stop().await;
}
