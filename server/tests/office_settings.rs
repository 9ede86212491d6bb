//! Stored office settings reach running offices (real server on port 0,
//! real WebSocket clients, SQLite, and PostgreSQL when `DATABASE_URL` is
//! set): the conversation radius through the admin API and through the
//! config sync (a row written straight into the database, as another node
//! would), the meeting provider (local, then Graph through the fake, which
//! `/metrics` counts), the map of a running office, a new office on an
//! existing map, refused maps and providers, and removing an organisation.

mod common;

use common::{TestServer, http_get, next, next_matching, write_map};
use metaoffice_bots::{Client, Incoming};
use metaoffice_fakes::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeMicrosoft, FakeOptions};
use metaoffice_protocol::{ErrorCode, GroupState, ServerMessage};
use metaoffice_server::Config;
use metaoffice_server::graph::Secret;
use metaoffice_server::meetings::ProviderChoice;
use metaoffice_server::store::Store;
use metaoffice_server::store::queries::OfficeSettings;
use serde_json::{Value, json};

const TOKEN: &str = "admin-token-for-tests-0123456789";

/// Spawns at (1, 1), (6, 1) and (7, 1), taken in that order: the first
/// avatar stands 5 tiles from the second and 6 from the third.
const FAR_APART: &[&str] = &[
    "WWWWWWWWWW",
    "WS....SS.W",
    "W........W",
    "W........W",
    "WWWWWWWWWW",
];

/// Spawns at (1, 1), (2, 1), (7, 1) and (8, 1): two pairs, 5 tiles apart.
const TWO_PAIRS: &[&str] = &[
    "WWWWWWWWWW",
    "WSS....SSW",
    "W........W",
    "W........W",
    "WWWWWWWWWW",
];

/// A wider map than the test office, to tell them apart.
const WIDE_HALL: &[&str] = &[
    "WWWWWWWWWWWWWW",
    "WSSSS........W",
    "W............W",
    "WWWWWWWWWWWWWW",
];

fn admin_config() -> Config {
    let mut config = Config::default();
    config.admin.token = Some(Secret::new(TOKEN));
    config.conversations.dwell_ms = 0;
    config
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, server.http_url(path))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn put_office(server: &TestServer, id: &str, body: Value) -> (u16, Value) {
    call(
        server,
        reqwest::Method::PUT,
        &format!("/admin/offices/{id}"),
        Some(body),
    )
    .await
}

fn unique_tenant() -> String {
    format!(
        "tenant-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

async fn group_formed(client: &mut Client) -> GroupState {
    next_matching(client, |m| match m {
        ServerMessage::GroupFormed(g) => Some(g.clone()),
        _ => None,
    })
    .await
}

/// Three avatars: the second and third form a group under the default
/// radius (2.5 tiles) while the first, 5 tiles away, stays out; once the
/// office's radius is 5 (`raise` stores it), the first joins them.
async fn raising_the_radius_brings_a_far_avatar_in(
    config: Config,
    raise: impl AsyncFnOnce(&TestServer),
) {
    let server = TestServer::start_with_map(config, FAR_APART).await;
    let (mut far, far_welcome) = server.join("Far").await;
    let (mut near, near_welcome) = server.join("Near").await;
    let (_other, other_welcome) = server.join("Other").await;
    let pair = vec![near_welcome.avatar, other_welcome.avatar];
    let formed = group_formed(&mut near).await;
    // The far avatar was in the office when the group formed: it was out of reach.
    assert_eq!(formed.members, pair);
    raise(&server).await;
    let joined = group_formed(&mut far).await;
    let mut all = vec![
        far_welcome.avatar,
        near_welcome.avatar,
        other_welcome.avatar,
    ];
    all.sort_unstable();
    assert_eq!(joined.members, all);
    assert_eq!(joined.group, formed.group, "the group grew, it kept its id");
    server.stop().await;
}

#[tokio::test]
async fn a_radius_set_through_the_admin_api_reaches_the_running_office() {
    raising_the_radius_brings_a_far_avatar_in(admin_config(), async |server| {
        let tenant = unique_tenant();
        let (status, body) = put_office(
            server,
            "office",
            json!({ "tenant_id": tenant, "conversation_radius": 5 }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_row_another_node_writes_reaches_the_running_office_through_the_config_sync() {
    let mut config = admin_config();
    config.database.config_sync_ms = 50;
    raising_the_radius_brings_a_far_avatar_in(config, async |server| {
        // Once the server answers, its migrations are done: open the same database.
        http_get(&server.http_url("/healthz")).await;
        let store = Store::open(&server.db.url).await.expect("store");
        store
            .upsert_office(&OfficeSettings {
                office_id: "office".to_owned(),
                tenant_id: unique_tenant(),
                map: "office".to_owned(),
                conversation_radius: 5,
                meeting_provider: "local".to_owned(),
                team_id: None,
                channel_id: None,
                channel_name: None,
            })
            .await
            .expect("write the row");
        store.close().await;
    })
    .await;
}

/// The value of the metric line that starts with `prefix`, if any.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_provider_change_gives_the_next_meetings_through_graph_and_metrics_count_the_calls() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    let mut config = admin_config();
    config.graph.base_url = fake.graph_url();
    config.graph.login_url = fake.login_url();
    config.graph.client_id = Some(DEFAULT_CLIENT_ID.to_owned());
    config.graph.client_secret = Some(Secret::new(DEFAULT_CLIENT_SECRET));
    config.graph.tenant_id = Some("cccccccc-0000-4000-8000-000000000003".to_owned());
    config.graph.room_organizer = Some("room-organizer-oid".to_owned());
    config.meetings.provider = ProviderChoice::Local;
    let server = TestServer::start_with_map(config, TWO_PAIRS).await;
    let (mut ada, _) = server.join("Ada").await;
    let (_grace, _) = server.join("Grace").await;
    let ready = next_matching(&mut ada, |m| match m {
        ServerMessage::MeetingReady(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ready.provider, "local");
    let (status, body) = put_office(
        &server,
        "office",
        json!({ "tenant_id": unique_tenant(), "meeting_provider": "graph" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (mut linus, _) = server.join("Linus").await;
    let (_ken, _) = server.join("Ken").await;
    let ready = next_matching(&mut linus, |m| match m {
        ServerMessage::MeetingReady(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ready.unavailable, None);
    assert_eq!(ready.provider, "graph");
    assert_eq!(
        fake.meetings().len(),
        1,
        "one Teams meeting, for the new pair"
    );
    let (status, text) = http_get(&server.http_url("/metrics")).await;
    assert_eq!(status, 200);
    let created = metric(
        &text,
        "metaoffice_graph_calls_total{kind=\"createOrGet\",status=\"20",
    );
    assert!(created >= Some(1.0), "createOrGet counted:\n{text}");
    let tokens = metric(
        &text,
        "metaoffice_graph_calls_total{kind=\"token\",status=\"200\"}",
    );
    assert!(tokens >= Some(1.0), "the app token counted:\n{text}");
    for provider in ["local", "graph"] {
        let line = format!("metaoffice_meetings_total{{provider=\"{provider}\",result=\"ready\"}}");
        assert!(metric(&text, &line) >= Some(1.0), "{line} counted:\n{text}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_provider_this_server_lacks_is_refused_naming_the_field() {
    let server = TestServer::start_with(admin_config()).await;
    for provider in ["graph", "acs"] {
        let (status, body) = put_office(
            &server,
            "office",
            json!({ "tenant_id": unique_tenant(), "meeting_provider": provider }),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "meeting_provider", "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(provider)),
            "{body}"
        );
    }
    let (status, _) = call(&server, reqwest::Method::GET, "/admin/offices/office", None).await;
    assert_eq!(status, 404, "nothing was stored");
    server.stop().await;
}

#[tokio::test]
async fn a_running_office_changes_map_and_its_clients_are_told() {
    let server = TestServer::start_with(admin_config()).await;
    write_map(server.maps.path(), "hall", WIDE_HALL);
    let (mut ada, welcome) = server.join("Ada").await;
    assert_eq!(welcome.map.version, 1);
    let (status, body) = put_office(
        &server,
        "office",
        json!({ "tenant_id": unique_tenant(), "map": "hall" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let changed = next_matching(&mut ada, |m| match m {
        ServerMessage::MapChanged(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(changed.map.id, "office");
    assert_eq!(changed.map.version, 2);
    let (status, map) = http_get(&server.http_url("/maps/office")).await;
    assert_eq!(status, 200);
    let map: Value = serde_json::from_str(&map).expect("map json");
    assert_eq!(map["width"], 14, "the office serves the hall's map");
    server.stop().await;
}

#[tokio::test]
async fn a_map_that_is_missing_or_broken_is_refused_and_the_office_keeps_its_map() {
    let server = TestServer::start_with(admin_config()).await;
    let (_, before) = http_get(&server.http_url("/maps/office")).await;
    std::fs::write(server.maps.path().join("broken.tmj"), b"{ not a map").expect("write");
    let expected = metaoffice_server::map::load_map(
        &server.maps.path().join("broken.tmj"),
        &metaoffice_server::map::CollisionRule::office_default(),
        Some(server.maps.path()),
    )
    .expect_err("broken")
    .to_string();
    let (mut ada, _) = server.join("Ada").await;
    for (map, message) in [
        ("nowhere", "no map called 'nowhere'".to_owned()),
        ("broken", expected),
    ] {
        let (status, body) = put_office(
            &server,
            "office",
            json!({ "tenant_id": unique_tenant(), "map": map }),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "map", "{body}");
        let text = body["message"].as_str().expect("message");
        assert!(text.contains(&message), "{text} should say {message}");
    }
    let (status, _) = call(&server, reqwest::Method::GET, "/admin/offices/office", None).await;
    assert_eq!(status, 404, "nothing was stored");
    let (_, after) = http_get(&server.http_url("/maps/office")).await;
    assert_eq!(before, after, "the office keeps its map");
    // The client is still in the same office on the same map: a map change
    // would come before the answer to a new join's arrival.
    let (_grace, welcome) = server.join("Grace").await;
    assert_eq!(welcome.map.version, 1);
    ada.ping(1).await.expect("ping");
    assert!(matches!(next(&mut ada).await, Incoming::Message(_)));
    server.stop().await;
}

#[tokio::test]
async fn an_office_created_on_an_existing_map_opens_and_follows_that_map_file() {
    let server = TestServer::start_with(admin_config()).await;
    let tenant = unique_tenant();
    let (status, body) = put_office(
        &server,
        "annex",
        json!({ "tenant_id": tenant, "map": "office" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (mut visitor, welcome) = Client::join(&server.ws_url(), "annex", "Visitor")
        .await
        .expect("join the new office");
    assert_eq!(welcome.map.id, "annex");
    let (mut local, _) = server.join("Local").await;
    // The map file changes: both offices running it get it.
    write_map(server.maps.path(), "office", WIDE_HALL);
    for client in [&mut visitor, &mut local] {
        let changed = next_matching(client, |m| match m {
            ServerMessage::MapChanged(c) => Some(c.clone()),
            _ => None,
        })
        .await;
        assert_eq!(changed.map.version, 2);
    }
    let (_, annex) = http_get(&server.http_url("/maps/annex")).await;
    let annex: Value = serde_json::from_str(&annex).expect("map json");
    assert_eq!(annex["width"], 14);
    // Removing the organisation closes the office that exists only by its
    // configuration; the map file's office stays.
    let (status, body) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/admin/organisations/{tenant}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    loop {
        match next(&mut visitor).await {
            Incoming::Message(ServerMessage::Error(e)) => {
                assert_eq!(e.code, ErrorCode::ShuttingDown as u16);
                assert_eq!(e.message, "the office was closed");
            }
            Incoming::Message(_) => {}
            Incoming::Closed(_) => break,
        }
    }
    assert!(
        Client::join(&server.ws_url(), "annex", "Late")
            .await
            .is_err(),
        "the annex is gone"
    );
    local.ping(1).await.expect("ping");
    assert!(matches!(next(&mut local).await, Incoming::Message(_)));
    server.stop().await;
}

#[tokio::test]
async fn the_config_sync_opens_offices_other_nodes_create_and_closes_those_they_remove() {
    let mut config = admin_config();
    config.database.config_sync_ms = 50;
    let server = TestServer::start_with(config).await;
    // Once the server answers, its migrations are done: open the same database.
    http_get(&server.http_url("/healthz")).await;
    let store = Store::open(&server.db.url).await.expect("store");
    let tenant = unique_tenant();
    store
        .upsert_office(&OfficeSettings {
            office_id: "annex".to_owned(),
            tenant_id: tenant.clone(),
            map: "office".to_owned(),
            conversation_radius: 3,
            meeting_provider: "local".to_owned(),
            team_id: None,
            channel_id: None,
            channel_name: None,
        })
        .await
        .expect("write the row");
    let mut joined = None;
    for _ in 0..200 {
        if let Ok(found) = Client::join(&server.ws_url(), "annex", "Visitor").await {
            joined = Some(found);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (mut visitor, welcome) = joined.expect("the config sync opened the annex");
    assert_eq!(welcome.map.id, "annex");
    // Another node removes the organisation: its rows go, the annex closes.
    assert!(store.remove_organisation(&tenant).await.expect("remove"));
    loop {
        match next(&mut visitor).await {
            Incoming::Message(ServerMessage::Error(e)) => {
                assert_eq!(e.message, "the office was closed");
            }
            Incoming::Message(_) => {}
            Incoming::Closed(_) => break,
        }
    }
    store.close().await;
    server.stop().await;
}
