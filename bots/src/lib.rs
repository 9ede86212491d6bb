//! Bots that speak the MetaOffice protocol over a real WebSocket: the
//! [`Client`] connection, and an [`OfficeView`] that replays tick frames the
//! way a Phaser client does, so a bot (or a test) knows where everyone is.

use std::collections::BTreeMap;

pub mod behavior;
pub mod run;
pub mod stats;

use futures_util::{SinkExt, StreamExt};
use metaoffice_protocol::{
    AvatarSnapshot, ClientMessage, Direction, Echo, FrameError, Hold, Join, PROTOCOL_VERSION, Ping,
    Release, ServerMessage, TickFrame, Update, Welcome,
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
        Client::join_speaking(url, office, name, PROTOCOL_VERSION).await
    }

    /// Joins as a client of protocol `version` (an older one gets the
    /// server's older forms).
    pub async fn join_speaking(
        url: &str,
        office: &str,
        name: &str,
        version: metaoffice_protocol::Version,
    ) -> Result<(Client, Welcome), ClientError> {
        let mut client = Client::connect(url).await?;
        client
            .send(&ClientMessage::Join(Join {
                version,
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
    /// The client's own avatar.
    pub me: u32,
    /// How many of its own avatar's updates an `Echo` applied that the
    /// next tick frame repeats, and where the avatar stood before them.
    echoed: usize,
    echoed_from: (i32, i32),
}

impl OfficeView {
    /// The view a `Welcome` describes.
    pub fn from_welcome(welcome: &Welcome) -> OfficeView {
        OfficeView {
            avatars: welcome.avatars.iter().map(|a| (a.id, a.clone())).collect(),
            tick: welcome.tick,
            me: welcome.avatar,
            ..OfficeView::default()
        }
    }

    /// Applies a message; returns false if it was a frame that could not be read.
    pub fn apply(&mut self, message: &ServerMessage) -> bool {
        match message {
            ServerMessage::Tick(frame) => self.apply_tick(frame).is_ok(),
            ServerMessage::Echo(echo) => self.apply_echo(echo).is_ok(),
            ServerMessage::Snapshot(snapshot) => {
                self.avatars = snapshot.avatars.iter().map(|a| (a.id, a.clone())).collect();
                self.tick = snapshot.tick;
                self.echoed = 0;
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

    /// Applies a tick frame (disappeared, appeared, then steps and turns,
    /// skipping its own avatar's updates that an `Echo` applied already);
    /// returns the steps and turns it applied.
    pub fn apply_tick(&mut self, frame: &TickFrame) -> Result<Vec<Update>, FrameError> {
        for id in &frame.disappeared {
            self.avatars.remove(id);
        }
        for avatar in &frame.appeared {
            self.avatars.insert(avatar.id, avatar.clone());
        }
        let (me, echoed, from) = (self.me, self.echoed, self.echoed_from);
        let mut updates = frame.updates(|id| {
            if id == me && echoed > 0 {
                Some(from)
            } else {
                self.destination(id)
            }
        })?;
        if echoed > 0 {
            let mut skip = echoed;
            updates.retain(|u| {
                let repeated = skip > 0 && u.avatar() == me;
                skip -= usize::from(repeated);
                !repeated
            });
            self.echoed = 0;
        }
        self.apply_updates(&updates);
        self.tick = frame.tick + 1;
        Ok(updates)
    }

    /// Applies an `Echo` of the client's own avatar; returns its updates.
    pub fn apply_echo(&mut self, echo: &Echo) -> Result<Vec<Update>, FrameError> {
        let updates = echo.updates(self.me)?;
        if self.echoed == 0 {
            self.echoed_from = self
                .destination(self.me)
                .unwrap_or((echo.from_x, echo.from_y));
        }
        self.echoed += updates.len();
        self.apply_updates(&updates);
        Ok(updates)
    }

    fn apply_updates(&mut self, updates: &[Update]) {
        for update in updates {
            let Some(a) = self.avatars.get_mut(&update.avatar()) else {
                continue;
            };
            match update {
                Update::Step(step) => {
                    // A step starts where the previous one ended: the client
                    // lands the avatar on `from`, then walks towards `to`.
                    (a.x, a.y) = step.from;
                    a.facing = step.dir;
                    a.step = Some(step.dir);
                    a.progress = 0;
                }
                Update::Turn(turn) => a.facing = turn.dir,
            }
        }
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
