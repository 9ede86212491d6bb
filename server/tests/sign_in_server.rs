//! Teams sign-in through the real server: valid tokens join, the rest are
//! refused alike; users start where they last stood; removing an
//! organisation disconnects its users; offices admit their organisation's
//! users and their team's members only.

mod common;

use std::time::Duration;

use common::tokens::{AUDIENCE, TENANT, claims, jwk, keys, sign};
use common::{TestServer, next};
use metaoffice_bots::Incoming;
use metaoffice_fakes::{FakeMicrosoft, FakeOptions};
use metaoffice_protocol::{ErrorCode, ServerMessage};
use metaoffice_server::Config;
use metaoffice_server::identity::REFUSED;
use serde_json::{Value, json};

async fn join_with_token(server: &TestServer, token: &str) -> Incoming {
    let mut client = server.join_with_token(token).await;
    next(&mut client).await
}

/// Joins with `token` until the answer is what `want` accepts (the config
/// sync brings in rows written to the database); fails after 10 s.
async fn join_until(
    server: &TestServer,
    token: &str,
    want: impl Fn(&Incoming) -> bool,
) -> Incoming {
    for _ in 0..200 {
        let answer = join_with_token(server, token).await;
        if want(&answer) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stored configuration never reached the office");
}

#[tokio::test]
async fn the_server_admits_valid_tokens_and_refuses_the_rest_alike() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    // The office has no stored configuration: the home tenant's users enter.
    config.graph.tenant_id = Some(TENANT.to_owned());
    let server = TestServer::start_with(config).await;
    let good = sign(&keys().0, "k1", &claims(&fake.login_url()));
    match join_with_token(&server, &good).await {
        Incoming::Message(ServerMessage::Welcome(_)) => {}
        other => panic!("expected a welcome, got {other:?}"),
    }
    let bad = sign(&keys().1, "k1", &claims(&fake.login_url()));
    for token in [bad.as_str(), "garbage"] {
        match join_with_token(&server, token).await {
            Incoming::Message(ServerMessage::Error(e)) => {
                assert_eq!(e.code, ErrorCode::LoginRefused as u16);
                assert_eq!(e.message, REFUSED);
            }
            other => panic!("expected LoginRefused, got {other:?}"),
        }
    }
    server.stop().await;
}

fn own_tile(welcome: &metaoffice_protocol::Welcome) -> (i32, i32) {
    let me = welcome
        .avatars
        .iter()
        .find(|a| a.id == welcome.avatar)
        .expect("own avatar in the welcome");
    (me.x, me.y)
}

#[tokio::test]
async fn a_signed_in_user_starts_where_they_last_stood_and_is_recorded() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    // The office has no stored configuration: the home tenant's users enter.
    config.graph.tenant_id = Some(TENANT.to_owned());
    let server = TestServer::start_with(config).await;
    // Once the server answers, its migrations are done: open the same database.
    common::http_get(&server.http_url("/healthz")).await;
    let store = metaoffice_server::store::Store::open(&server.db.url)
        .await
        .expect("store");
    let oid = "00000000-0000-4000-8000-0000000000a1";
    store
        .save_position(TENANT, oid, "office", (7, 3))
        .await
        .expect("seed");
    let token = sign(&keys().0, "k1", &claims(&fake.login_url()));
    let welcome = match join_with_token(&server, &token).await {
        Incoming::Message(ServerMessage::Welcome(w)) => w,
        other => panic!("expected a welcome, got {other:?}"),
    };
    assert_eq!(own_tile(&welcome), (7, 3));
    // The sign-in was recorded (through the store task).
    let mut recorded = None;
    for _ in 0..100 {
        recorded = store.user(TENANT, oid).await.expect("read");
        if recorded.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(recorded.expect("user row").upn, "ann@example.com");
    // A last position on a wall: a spawn instead.
    store
        .save_position(TENANT, oid, "office", (0, 0))
        .await
        .expect("seed");
    let welcome = match join_with_token(&server, &token).await {
        Incoming::Message(ServerMessage::Welcome(w)) => w,
        other => panic!("expected a welcome, got {other:?}"),
    };
    assert_ne!(own_tile(&welcome), (0, 0));
    store.close().await;
    server.stop().await;
}

#[tokio::test]
async fn removing_the_organisation_disconnects_its_signed_in_users() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let admin = "admin-token-for-tests-0123456789";
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    config.admin.token = Some(metaoffice_server::graph::Secret::new(admin));
    config.graph.tenant_id = Some(TENANT.to_owned());
    let server = TestServer::start_with(config).await;
    let token = sign(&keys().0, "k1", &claims(&fake.login_url()));
    let mut client = server.join_with_token(&token).await;
    assert!(matches!(
        next(&mut client).await,
        Incoming::Message(ServerMessage::Welcome(_))
    ));
    let response = reqwest::Client::new()
        .delete(server.http_url(&format!("/admin/organisations/{TENANT}")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["disconnected"], 1);
    loop {
        match next(&mut client).await {
            Incoming::Message(ServerMessage::Error(e)) => {
                assert_eq!(e.code, ErrorCode::LoginRefused as u16);
            }
            Incoming::Message(_) => {}
            Incoming::Closed(_) => break,
        }
    }
    // Once the server answers, its migrations are done: open the same database.
    common::http_get(&server.http_url("/healthz")).await;
    let store = metaoffice_server::store::Store::open(&server.db.url)
        .await
        .expect("store");
    // Nothing of the removed organisation is written after it went.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store
            .user(TENANT, "00000000-0000-4000-8000-0000000000a1")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .last_position(TENANT, "00000000-0000-4000-8000-0000000000a1", "office")
            .await
            .expect("read"),
        None
    );
    store.close().await;
    server.stop().await;
}

#[tokio::test]
async fn an_office_of_a_team_admits_only_its_members_and_its_organisation() {
    use metaoffice_fakes::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    use metaoffice_server::store::queries::OfficeSettings;
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let member = "00000000-0000-4000-8000-0000000000a1";
    fake.set_team_members("team-1", &[member, "someone-else"]);
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.graph.base_url = fake.graph_url();
    config.graph.client_id = Some(DEFAULT_CLIENT_ID.to_owned());
    config.graph.client_secret = Some(metaoffice_server::graph::Secret::new(DEFAULT_CLIENT_SECRET));
    config.graph.room_organizer = Some("room-organizer-oid".to_owned());
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    // Rows are written straight into the database, as another node would:
    // the config sync brings them in.
    config.database.config_sync_ms = 50;
    let server = TestServer::start_with(config).await;
    // Once the server answers, its migrations are done: open the same database.
    common::http_get(&server.http_url("/healthz")).await;
    let store = metaoffice_server::store::Store::open(&server.db.url)
        .await
        .expect("store");
    let mut office = OfficeSettings {
        office_id: "office".to_owned(),
        tenant_id: TENANT.to_owned(),
        map: "office".to_owned(),
        conversation_radius: 3,
        meeting_provider: "local".to_owned(),
        team_id: Some("team-1".to_owned()),
        channel_id: None,
        channel_name: None,
    };
    store.upsert_office(&office).await.expect("office");
    let member_token = sign(&keys().0, "k1", &claims(&fake.login_url()));
    join_until(&server, &member_token, |answer| {
        matches!(answer, Incoming::Message(ServerMessage::Welcome(_)))
    })
    .await;
    let mut outsider = claims(&fake.login_url());
    outsider["oid"] = json!("00000000-0000-4000-8000-0000000000b2");
    match join_with_token(&server, &sign(&keys().0, "k1", &outsider)).await {
        Incoming::Message(ServerMessage::Error(e)) => {
            assert_eq!(e.code, ErrorCode::LoginRefused as u16);
            assert!(e.message.contains("not a member"), "{}", e.message);
        }
        other => panic!("expected LoginRefused, got {other:?}"),
    }
    // The office belongs to another organisation now.
    office.tenant_id = "bbbbbbbb-0000-4000-8000-000000000002".to_owned();
    store.upsert_office(&office).await.expect("office");
    let refused = join_until(&server, &member_token, |answer| {
        matches!(answer, Incoming::Message(ServerMessage::Error(_)))
    })
    .await;
    match refused {
        Incoming::Message(ServerMessage::Error(e)) => {
            assert_eq!(e.code, ErrorCode::LoginRefused as u16);
            assert!(e.message.contains("another organisation"), "{}", e.message);
        }
        other => panic!("expected LoginRefused, got {other:?}"),
    }
    store.close().await;
    server.stop().await;
}

/// Claims of a user of another organisation (issued by its own tenant).
fn other_tenant_claims(login: &str) -> Value {
    let other = "bbbbbbbb-0000-4000-8000-000000000002";
    let mut claims = claims(login);
    claims["tid"] = json!(other);
    claims["iss"] = json!(format!("{login}/{other}/v2.0"));
    claims
}

fn refused_as_not_set_up(answer: Incoming) {
    match answer {
        Incoming::Message(ServerMessage::Error(e)) => {
            assert_eq!(e.code, ErrorCode::LoginRefused as u16);
            assert_eq!(
                e.message,
                "this office has not been set up for your organisation"
            );
        }
        other => panic!("expected LoginRefused, got {other:?}"),
    }
}

#[tokio::test]
async fn an_office_without_configuration_admits_only_the_home_tenant() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let home = sign(&keys().0, "k1", &claims(&fake.login_url()));
    let other = sign(&keys().0, "k1", &other_tenant_claims(&fake.login_url()));
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    config.graph.tenant_id = Some(TENANT.to_owned());
    let server = TestServer::start_with(config.clone()).await;
    assert!(matches!(
        join_with_token(&server, &home).await,
        Incoming::Message(ServerMessage::Welcome(_))
    ));
    refused_as_not_set_up(join_with_token(&server, &other).await);
    // The development login is not concerned.
    let (_dev, _) = server.join("Dev").await;
    server.stop().await;
    // No home tenant: nobody signed in enters an office nobody set up.
    config.graph.tenant_id = None;
    let server = TestServer::start_with(config).await;
    refused_as_not_set_up(join_with_token(&server, &home).await);
    refused_as_not_set_up(join_with_token(&server, &other).await);
    server.stop().await;
}
