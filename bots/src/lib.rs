//! Bots that speak the MetaOffice protocol over a real WebSocket: the
//! [`Client`] connection, and an [`OfficeView`] that replays tick frames the
//! way a Phaser client does, so a bot (or a test) knows where everyone is.

use std::collections::BTreeMap;

pub mod behavior;
pub mod run;
pub mod stats;

use futures_util::{SinkExt, StreamExt};
use metaoffice_protocol::{
    AvatarSnapshot, ClientMessage, Direction, Hold, Join, PROTOCOL_VERSION, Ping, Release,
    ServerMessage, Step, TickFrame, Turn, Welcome,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server sent something that is not a protocol message.
    #[error("undecodable frame from the server: {0}")]
    Decode(#[from] metaoffice_protocol::DecodeError),
    /// The server closed the connection.
    #[error("closed by the server: {0:?}")]
    Closed(Option<(u16, String)>),
    /// The server answered `Join` with something other than `Welcome`.
    #[error("join refused: {0:?}")]
    Refused(ServerMessage),
}

/// What arrives from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A protocol message.
    Message(ServerMessage),
    /// A close frame with its code and reason (or none), or the socket ended.
    Closed(Option<(u16, String)>),
}

/// One WebSocket connection to a MetaOffice server.
pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    last_frame_len: usize,
}

impl Client {
    /// Opens the WebSocket at `url` (`ws://host:port/ws`) without joining.
    pub async fn connect(url: &str) -> Result<Client, ClientError> {
        // Small buffers: a load test runs thousands of these in one process.
        let config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(0);
        let (socket, _) = connect_async_with_config(url, Some(config), true).await?;
        Ok(Client {
            socket,
            last_frame_len: 0,
        })
    }

    /// Opens the WebSocket and joins `office` with the development login.
    pub async fn join(
        url: &str,
        office: &str,
        name: &str,
    ) -> Result<(Client, Welcome), ClientError> {
        let mut client = Client::connect(url).await?;
        client
            .send(&ClientMessage::Join(Join {
                version: PROTOCOL_VERSION,
                office: office.to_owned(),
                name: Some(name.to_owned()),
                token: None,
            }))
            .await?;
        match client.recv().await? {
            Incoming::Message(ServerMessage::Welcome(welcome)) => Ok((client, welcome)),
            Incoming::Message(other) => Err(ClientError::Refused(other)),
            Incoming::Closed(reason) => Err(ClientError::Closed(reason)),
        }
    }

    /// Sends a message.
    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.send_raw(message.encode()).await
    }

    /// Sends arbitrary bytes as one binary frame.
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.socket.send(Message::Binary(bytes.into())).await?;
        Ok(())
    }

    /// Sends a text frame (which the protocol does not allow).
    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.socket.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Holds a direction.
    pub async fn hold(&mut self, dir: Direction) -> Result<(), ClientError> {
        self.send(&ClientMessage::Hold(Hold { dir })).await
    }

    /// Releases the held direction.
    pub async fn release(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMessage::Release(Release {})).await
    }

    /// Sends a ping stamped `client_ms`.
    pub async fn ping(&mut self, client_ms: u64) -> Result<(), ClientError> {
        self.send(&ClientMessage::Ping(Ping { client_ms })).await
    }

    /// The next message, or the close.
    pub async fn recv(&mut self) -> Result<Incoming, ClientError> {
        loop {
            match self.socket.next().await {
                None => return Ok(Incoming::Closed(None)),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Binary(bytes))) => {
                    self.last_frame_len = bytes.len();
                    return Ok(Incoming::Message(ServerMessage::decode(&bytes)?));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Ok(Incoming::Closed(
                        frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                    ));
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Payload bytes of the last binary frame received.
    pub fn last_frame_len(&self) -> usize {
        self.last_frame_len
    }

    /// Closes the connection politely.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.socket
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await?;
        Ok(())
    }
}

/// The office as a client sees it, kept up to date from frames.
#[derive(Debug, Clone, Default)]
pub struct OfficeView {
    /// Avatars by id.
    pub avatars: BTreeMap<u32, AvatarSnapshot>,
    /// The tick the view is at (the next tick to come).
    pub tick: u64,
}

impl OfficeView {
    /// The view a `Welcome` describes.
    pub fn from_welcome(welcome: &Welcome) -> OfficeView {
        OfficeView {
            avatars: welcome.avatars.iter().map(|a| (a.id, a.clone())).collect(),
            tick: welcome.tick,
        }
    }

    /// Applies a message; returns false if it was a frame that could not be read.
    pub fn apply(&mut self, message: &ServerMessage) -> bool {
        match message {
            ServerMessage::Tick(frame) => self.apply_frame(frame),
            ServerMessage::Snapshot(snapshot) => {
                self.avatars = snapshot.avatars.iter().map(|a| (a.id, a.clone())).collect();
                self.tick = snapshot.tick;
                true
            }
            ServerMessage::Presences(presences) => {
                for entry in &presences.entries {
                    if let Some(avatar) = self.avatars.get_mut(&entry.avatar) {
                        avatar.availability = entry.availability;
                        avatar.activity = entry.activity;
                    }
                }
                true
            }
            _ => true,
        }
    }

    /// Applies a tick frame: disappeared, appeared, steps, turns.
    pub fn apply_frame(&mut self, frame: &TickFrame) -> bool {
        let (Ok(steps), Ok(turns)) = (frame.steps(), frame.turns()) else {
            return false;
        };
        self.apply_unpacked(frame, &steps, &turns);
        true
    }

    /// Applies a tick frame whose steps and turns the caller unpacked
    /// already (a bot looks at them too: they are unpacked once).
    pub fn apply_unpacked(&mut self, frame: &TickFrame, steps: &[Step], turns: &[Turn]) {
        for id in &frame.disappeared {
            self.avatars.remove(id);
        }
        for avatar in &frame.appeared {
            self.avatars.insert(avatar.id, avatar.clone());
        }
        for step in steps {
            if let Some(a) = self.avatars.get_mut(&step.avatar) {
                // A step starts where the previous one ended: the client
                // lands the avatar on `from`, then walks towards `to`.
                (a.x, a.y) = step.from;
                a.facing = step.dir;
                a.step = Some(step.dir);
                a.progress = 0;
            }
        }
        for turn in turns {
            if let Some(a) = self.avatars.get_mut(&turn.avatar) {
                a.facing = turn.dir;
            }
        }
        self.tick = frame.tick + 1;
    }

    /// Where an avatar will stand once its current step ends.
    pub fn destination(&self, id: u32) -> Option<(i32, i32)> {
        self.avatars.get(&id).map(|a| match a.step {
            Some(dir) => {
                let (dx, dy) = dir.offset();
                (a.x + dx, a.y + dy)
            }
            None => (a.x, a.y),
        })
    }
}
