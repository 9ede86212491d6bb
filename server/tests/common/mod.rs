//! Starting the real server on port 0 for integration tests.

#![allow(dead_code)]

pub mod db;
pub mod tokens;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use metaoffice_bots::{Client, Incoming};
use metaoffice_protocol::ServerMessage;
use metaoffice_server::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A 10×6 office: walls around, a pillar at (5, 2), spawns along row 1.
/// `W` wall (collides), `.` floor, `S` floor with a spawn tile, `P` pillar.
pub const TEST_OFFICE: &[&str] = &[
    "WWWWWWWWWW",
    "WSS.S.S..W",
    "W....P...W",
    "W........W",
    "W........W",
    "WWWWWWWWWW",
];

/// Writes a Tiled JSON map from rows like [`TEST_OFFICE`].
pub fn write_map(dir: &Path, id: &str, rows: &[&str]) -> PathBuf {
    let height = rows.len();
    let width = rows[0].len();
    let mut floor = Vec::new();
    let mut walls = Vec::new();
    let mut start = Vec::new();
    for row in rows {
        for c in row.chars() {
            floor.push(1);
            walls.push(match c {
                'W' => 2,
                'P' => 3,
                _ => 0,
            });
            start.push(if c == 'S' { 4 } else { 0 });
        }
    }
    let map = serde_json::json!({
        "type": "map", "version": "1.10", "orientation": "orthogonal", "infinite": false,
        "width": width, "height": height, "tilewidth": 32, "tileheight": 32,
        "layers": [
            {"type": "tilelayer", "name": "floor", "width": width, "height": height, "data": floor},
            {"type": "group", "name": "furniture", "layers": [
                {"type": "tilelayer", "name": "walls", "width": width, "height": height, "data": walls}
            ]},
            {"type": "tilelayer", "name": "start", "width": width, "height": height, "data": start},
            {"type": "objectgroup", "name": "zones", "objects": []}
        ],
        "tilesets": [{
            "firstgid": 1, "name": "test", "tilecount": 4, "columns": 4,
            "tilewidth": 32, "tileheight": 32, "image": "test.png", "imagewidth": 128, "imageheight": 32,
            "tiles": [
                {"id": 1, "properties": [{"name": "ge_collide", "type": "bool", "value": true}]},
                {"id": 2, "properties": [{"name": "collides", "type": "bool", "value": true}]}
            ]
        }]
    });
    let path = dir.join(format!("{id}.tmj"));
    std::fs::write(&path, serde_json::to_vec_pretty(&map).expect("json")).expect("write map");
    path
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub maps: tempfile::TempDir,
    /// The database it runs on (SQLite in `maps`, or a PostgreSQL schema of
    /// its own when `DATABASE_URL` is set).
    pub db: db::TestDb,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), metaoffice_server::ServerError>>>,
}

impl TestServer {
    /// Starts a server with the test office `office` and `config` (its maps folder is replaced).
    pub async fn start_with(config: Config) -> TestServer {
        TestServer::start_with_map(config, TEST_OFFICE).await
    }

    /// Starts a server whose office `office` is drawn by `rows` (see [`write_map`]).
    pub async fn start_with_map(mut config: Config, rows: &[&str]) -> TestServer {
        let maps = tempfile::tempdir().expect("tempdir");
        write_map(maps.path(), "office", rows);
        config.maps = maps.path().to_owned();
        config.assets = maps.path().to_owned();
        if config.data_dir == Config::default().data_dir {
            config.data_dir = maps.path().join("data");
        }
        let db = match db::postgres_url() {
            Some(server) => db::TestDb::postgres(&server).await,
            None => db::TestDb::sqlite(&config.data_dir),
        };
        if config.database.url.is_none() {
            config.database.url = Some(db.url.clone());
        }
        config.validate().expect("valid test config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(metaoffice_server::run(listener, config, async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            maps,
            db,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn start() -> TestServer {
        TestServer::start_with(Config::default()).await
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Joins the test office.
    pub async fn join(&self, name: &str) -> (Client, metaoffice_protocol::Welcome) {
        Client::join(&self.ws_url(), "office", name)
            .await
            .expect("join")
    }

    /// Joins the test office as a protocol 1.3 client, which gets every
    /// step with its tile (`steps`) and no echoes.
    pub async fn join_v13(&self, name: &str) -> (Client, metaoffice_protocol::Welcome) {
        let v13 = metaoffice_protocol::Version { major: 1, minor: 3 };
        Client::join_speaking(&self.ws_url(), "office", name, v13)
            .await
            .expect("join")
    }

    /// Connects and sends `Join` for the test office with a Teams `token`;
    /// the answer is the client's to read.
    pub async fn join_with_token(&self, token: &str) -> Client {
        let mut client = Client::connect(&self.ws_url()).await.expect("connect");
        client
            .send(&metaoffice_protocol::ClientMessage::Join(
                metaoffice_protocol::Join {
                    version: metaoffice_protocol::PROTOCOL_VERSION,
                    office: "office".to_owned(),
                    name: None,
                    token: Some(token.to_owned()),
                },
            ))
            .await
            .expect("send");
        client
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
        self.db.drop_schema().await;
    }
}

/// The next message, failing the test if none comes within 10 s (a hang, not a timing check).
pub async fn next(client: &mut Client) -> Incoming {
    tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .expect("the server answered within 10 s")
        .expect("a readable message")
}

/// The next message that `pick` accepts, skipping others.
pub async fn next_matching<T>(
    client: &mut Client,
    mut pick: impl FnMut(&ServerMessage) -> Option<T>,
) -> T {
    loop {
        match next(client).await {
            Incoming::Message(message) => {
                if let Some(found) = pick(&message) {
                    return found;
                }
            }
            Incoming::Closed(reason) => panic!("closed while waiting: {reason:?}"),
        }
    }
}

/// Plain HTTP GET, returning status and body.
pub async fn http_get(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url.strip_prefix("http://").expect("http url");
    let (host, path) = url.split_once('/').expect("path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Whether `message` is a tick frame that starts a step of `avatar`, in
/// either form (with its tile in `steps`, or compact in `moves`); the tiles
/// are not looked at.
pub fn starts_step_of(message: &ServerMessage, avatar: u32) -> bool {
    match message {
        ServerMessage::Tick(frame) => frame.updates(|_| Some((0, 0))).is_ok_and(|updates| {
            updates
                .iter()
                .any(|u| matches!(u, metaoffice_protocol::Update::Step(s) if s.avatar == avatar))
        }),
        _ => false,
    }
}

/// Applies `message` to `view`, failing the test if it cannot; returns the
/// steps of `avatar` it applied, compact ones resolved.
pub fn apply_steps_of(
    view: &mut metaoffice_bots::OfficeView,
    message: &ServerMessage,
    avatar: u32,
) -> Vec<metaoffice_protocol::Step> {
    let updates = match message {
        ServerMessage::Tick(frame) => view.apply_tick(frame).expect("the frame resolves"),
        ServerMessage::Echo(echo) => view.apply_echo(echo).expect("the echo reads"),
        other => {
            assert!(view.apply(other), "readable: {other:?}");
            Vec::new()
        }
    };
    updates
        .into_iter()
        .filter_map(|u| match u {
            metaoffice_protocol::Update::Step(s) if s.avatar == avatar => Some(s),
            _ => None,
        })
        .collect()
}
