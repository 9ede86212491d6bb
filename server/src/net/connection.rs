//! One client connection: a task that reads and checks the client's
//! messages, and a writer task that drains the client's outbox to the socket.
//!
//! The handshake state is explicit: before `Join` only `Join` and `Ping` are
//! accepted; after it, `Hold`, `Release` and `Ping`. Every mistake gets an
//! error frame with a stable code; those the connection cannot survive close
//! it with code 4000 + the error number.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use metaoffice_protocol::{
    ClientMessage, DecodeError, ErrorCode, Join, PROTOCOL_VERSION, Ping, Pong, ServerMessage,
};
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;

use super::ratelimit::TokenBucket;
use crate::graph::Secret;
use crate::meetings::UserRef;
use crate::metrics::Metrics;
use crate::net::session::Session;
use crate::office::OfficeHandle;
use crate::office::input::InputSlot;
use crate::office::network::{Joined, Newcomer, OfficeCommand};
use crate::office::outbox::{Outbox, Outgoing};
use crate::server::ServerContext;
use crate::store::queries::User;

/// How long a join may wait for room in a busy office's inbox, and for its answer.
const JOIN_WAIT: Duration = Duration::from_secs(10);

/// Longest display name, in characters.
pub(super) const MAX_NAME_CHARS: usize = 64;

/// Least time between two saves of a signed-in user's position while they
/// stay (it is saved when they leave too).
const SAVE_EVERY: Duration = Duration::from_secs(30);

/// Serves one WebSocket until either side ends it.
pub async fn serve(
    socket: WebSocket,
    ctx: Arc<ServerContext>,
    peer: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
) {
    ctx.open_connections.fetch_add(1, Ordering::Relaxed);
    ctx.metrics.connections.inc();
    let (sink, stream) = socket.split();
    let outbox = Outbox::new(ctx.config.limits.outbox_frames);
    let writer = tokio::spawn(write_frames(sink, outbox.clone(), ctx.metrics.clone()));
    if permit.is_some() {
        let limits = &ctx.config.limits;
        let mut connection = Connection {
            bucket: TokenBucket::new(
                limits.input_rate,
                limits.input_burst,
                Instant::now().into_std(),
            ),
            last_rate_error: None,
            ctx: ctx.clone(),
            outbox: outbox.clone(),
            stream,
            peer,
        };
        connection.run().await;
    } else {
        let max = ctx.config.limits.max_connections;
        outbox.fail(
            ErrorCode::Full,
            &format!("the server holds its maximum of {max} connections"),
        );
    }
    outbox.close(1000, "bye");
    let _ = writer.await;
    drop(permit);
    ctx.metrics.connections.dec();
    ctx.open_connections.fetch_sub(1, Ordering::Relaxed);
}

/// Sends what the outbox hands out until it is closed or the socket fails.
async fn write_frames(
    mut sink: SplitSink<WebSocket, Message>,
    outbox: Outbox,
    metrics: Arc<Metrics>,
) {
    let mut next = outbox.next().await;
    while let Some(outgoing) = next.take() {
        let fed = match outgoing {
            Outgoing::Frame(bytes) => {
                metrics.frames_sent.inc();
                metrics.bytes_sent.inc_by(bytes.len() as u64);
                sink.feed(Message::Binary(bytes)).await
            }
            Outgoing::Close(code, reason) => {
                let close = Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }));
                let _ = sink.send(close).await;
                break;
            }
        };
        // Frames already waiting go out with the same flush.
        next = match outbox.try_next() {
            Some(more) => Some(more),
            None => {
                if fed.is_ok() && sink.flush().await.is_ok() {
                    outbox.next().await
                } else {
                    None
                }
            }
        };
        if fed.is_err() {
            outbox.abandon();
            break;
        }
    }
}

pub(super) struct Connection {
    pub(super) ctx: Arc<ServerContext>,
    pub(super) outbox: Outbox,
    stream: SplitStream<WebSocket>,
    bucket: TokenBucket,
    last_rate_error: Option<Instant>,
    pub(super) peer: SocketAddr,
}

/// An avatar in an office, from this connection's side.
pub(super) struct Seat {
    pub(super) office: OfficeHandle,
    pub(super) joined: Joined,
    input: InputSlot,
    /// The key in [`crate::net::session::Sessions`].
    pub(super) session: u64,
    pub(super) user: Option<User>,
    /// The name others see.
    pub(super) name: String,
}

impl Connection {
    async fn run(&mut self) {
        // The handshake and the saves wait on the store: their futures are
        // boxed so that their state is held only while they run, not for
        // the whole life of every connection task.
        let Some(seat) = Box::pin(self.handshake()).await else {
            return;
        };
        tracing::debug!(peer = %self.peer, office = %seat.office.id, avatar = seat.joined.id, "joined");
        let mut saved = Instant::now();
        while let Some(message) = self.read(None).await {
            if seat.user.is_some() && saved.elapsed() >= SAVE_EVERY {
                saved = Instant::now();
                Box::pin(self.save_position(&seat, false)).await;
            }
            match message {
                ClientMessage::Hold(hold) => seat.input.hold(hold.dir),
                ClientMessage::Release(_) => seat.input.release(),
                ClientMessage::Ping(ping) => {
                    self.pong(&ping, seat.office.tick.load(Ordering::Relaxed))
                }
                ClientMessage::Join(_) => self.error(
                    ErrorCode::AlreadyJoined,
                    "this connection has joined already",
                ),
                ClientMessage::Knock(knock) => self.knock(&seat, knock).await,
                ClientMessage::WalkTo(walk) => self.walk_to(&seat, walk.avatar),
                ClientMessage::ListPeople(_) => self.list_people(&seat).await,
                ClientMessage::Locate(locate) => self.locate(&seat, &locate.user).await,
            }
        }
        Box::pin(self.save_position(&seat, true)).await;
        // The avatar must go whatever happens; waiting here delays only this connection.
        let leave = OfficeCommand::Leave {
            avatar: seat.joined.entity,
        };
        let _ = tokio::time::timeout(JOIN_WAIT, seat.office.inbox.send(leave)).await;
        tracing::debug!(peer = %self.peer, office = %seat.office.id, avatar = seat.joined.id, "left");
    }

    /// Waits for `Join` and joins; `None` when the connection ends instead.
    async fn handshake(&mut self) -> Option<Seat> {
        let deadline =
            Instant::now() + Duration::from_secs(self.ctx.config.limits.join_timeout_secs);
        loop {
            match self.read(Some(deadline)).await? {
                ClientMessage::Join(join) => return self.join(join).await,
                ClientMessage::Ping(ping) => self.pong(&ping, 0),
                _ => self
                    .outbox
                    .push_error(ErrorCode::NotJoined, "send Join first"),
            }
        }
    }

    async fn join(&mut self, join: Join) -> Option<Seat> {
        if !join.version.compatible_with(&PROTOCOL_VERSION) {
            let message = format!(
                "this server speaks protocol {}.x, the client {}",
                PROTOCOL_VERSION.major, join.version
            );
            self.fatal(ErrorCode::UnsupportedVersion, &message);
            return None;
        }
        let login = match self.check_login(&join).await {
            Ok(login) => login,
            Err(reason) => {
                self.fatal(ErrorCode::LoginRefused, reason);
                return None;
            }
        };
        let Some(office) = self.ctx.offices.get(&join.office).map(|o| o.clone()) else {
            let shown: String = join.office.chars().take(64).collect();
            self.fatal(
                ErrorCode::UnknownOffice,
                &format!("no office has the id '{shown}'"),
            );
            return None;
        };
        if let Err(reason) = self.check_access(&login, &join.office).await {
            self.fatal(ErrorCode::LoginRefused, reason);
            return None;
        }
        let start = match &login.user {
            Some(user) => self.last_position(user, &join.office).await,
            None => None,
        };
        let input = InputSlot::default();
        let (reply, answer) = oneshot::channel();
        let newcomer = Newcomer {
            name: login.name.clone(),
            start,
            user: login.user.as_ref().map(|u| UserRef {
                tenant: u.tenant_id.clone(),
                oid: u.object_id.clone(),
            }),
            teams_token: login
                .user
                .as_ref()
                .and(join.token.as_deref())
                .map(Secret::new),
            outbox: self.outbox.clone(),
            input: input.clone(),
            version: join.version,
        };
        let command = OfficeCommand::Join { newcomer, reply };
        let asked = tokio::time::timeout(JOIN_WAIT, office.inbox.send(command)).await;
        if !matches!(asked, Ok(Ok(()))) {
            self.fatal(
                ErrorCode::Full,
                "the office is too busy to take anyone in; try again",
            );
            return None;
        }
        match tokio::time::timeout(JOIN_WAIT, answer).await {
            Ok(Ok(Ok(joined))) => {
                let session = self.ctx.sessions.begin(Session {
                    office: office.id.clone(),
                    avatar: joined.id,
                    name: login.name.clone(),
                    user: login
                        .user
                        .as_ref()
                        .map(|u| (u.tenant_id.clone(), u.object_id.clone())),
                    outbox: self.outbox.clone(),
                });
                Some(Seat {
                    office,
                    joined,
                    input,
                    session,
                    user: login.user,
                    name: login.name,
                })
            }
            Ok(Ok(Err((code, message)))) => {
                self.fatal(code, &message);
                None
            }
            _ => {
                self.outbox
                    .fail(ErrorCode::Internal, "the office did not answer");
                None
            }
        }
    }

    fn pong(&self, ping: &Ping, tick: u64) {
        let server_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let pong = ServerMessage::Pong(Pong {
            client_ms: ping.client_ms,
            tick,
            server_ms,
        });
        // A client too far behind to take a pong does not need one.
        let _ = self.outbox.push(pong.encode().into());
    }

    /// The next valid message; `None` when the connection is to end (the
    /// client left, a fatal error was sent, the office or server closed it).
    async fn read(&mut self, deadline: Option<Instant>) -> Option<ClientMessage> {
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            let received = tokio::select! {
                received = self.stream.next() => received,
                _ = self.outbox.closed() => return None,
                _ = self.ctx.shutdown.cancelled() => {
                    self.fatal(ErrorCode::ShuttingDown, "the server is shutting down");
                    return None;
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)) => {
                    self.fatal(ErrorCode::JoinTimeout, "no Join arrived in time");
                    return None;
                }
            };
            let frame = match received {
                None | Some(Ok(Message::Close(_))) => return None,
                Some(Err(e)) => {
                    tracing::debug!(peer = %self.peer, cause = %e, "socket failed");
                    let message = format!("the WebSocket layer refused the data: {e}");
                    self.fatal(ErrorCode::FrameTooLarge, &message);
                    return None;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Text(_))) => None,
                Some(Ok(Message::Binary(bytes))) => Some(bytes),
            };
            self.ctx.metrics.frames_received.inc();
            if !self.bucket.try_take(Instant::now().into_std()) {
                self.rate_limited();
                continue;
            }
            let Some(bytes) = frame else {
                self.error(
                    ErrorCode::TextFrame,
                    "send binary MessagePack frames, not text",
                );
                continue;
            };
            let max = self.ctx.config.limits.max_frame_bytes;
            if bytes.len() > max {
                let message = format!(
                    "a frame may hold at most {max} bytes; this one held {}",
                    bytes.len()
                );
                self.fatal(ErrorCode::FrameTooLarge, &message);
                return None;
            }
            match ClientMessage::decode(&bytes) {
                Ok(message) => return Some(message),
                Err(DecodeError::UnknownMessage(tag)) => self.error(
                    ErrorCode::UnknownMessage,
                    &format!("unknown message type {tag}"),
                ),
                Err(e @ DecodeError::Malformed(_)) => {
                    self.error(ErrorCode::Malformed, &e.to_string())
                }
            }
        }
    }

    /// Sends an error frame; the connection goes on.
    pub(super) fn error(&self, code: ErrorCode, message: &str) {
        self.ctx.metrics.error(code);
        self.outbox.push_error(code, message);
    }

    /// Sends an error frame and closes the connection.
    fn fatal(&self, code: ErrorCode, message: &str) {
        self.ctx.metrics.error(code);
        self.outbox.fail(code, message);
    }

    /// Tells the client it is being rate limited, at most once a second.
    fn rate_limited(&mut self) {
        let now = Instant::now();
        if self
            .last_rate_error
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.last_rate_error = Some(now);
            self.error(
                ErrorCode::RateLimited,
                "too many messages; some were dropped",
            );
        }
    }
}
