//! The messages, split by direction, and the small types they carry.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire_struct;

wire_struct! {
    /// A protocol version: another major is refused, a newer minor accepted.
    pub struct Version {
        /// Incremented when a message changes incompatibly.
        pub major: u16,
        /// Incremented when messages or trailing fields are added.
        pub minor: u16,
    }
}

/// A direction an avatar can hold, face or step in (grid-engine's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Direction {
    /// y - 1
    Up = 0,
    /// y + 1
    Down = 1,
    /// x - 1
    Left = 2,
    /// x + 1
    Right = 3,
    /// x - 1, y - 1
    UpLeft = 4,
    /// x + 1, y - 1
    UpRight = 5,
    /// x - 1, y + 1
    DownLeft = 6,
    /// x + 1, y + 1
    DownRight = 7,
}

impl Direction {
    /// Every direction, in wire-code order.
    pub const ALL: [Direction; 8] = [
        Direction::Up,
        Direction::Down,
        Direction::Left,
        Direction::Right,
        Direction::UpLeft,
        Direction::UpRight,
        Direction::DownLeft,
        Direction::DownRight,
    ];

    /// The wire code, 0 to 7.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The direction with this wire code.
    pub fn from_code(code: u8) -> Option<Direction> {
        Direction::ALL.get(usize::from(code)).copied()
    }

    /// grid-engine's name: `up`, `down-left`, ...
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::UpLeft => "up-left",
            Direction::UpRight => "up-right",
            Direction::DownLeft => "down-left",
            Direction::DownRight => "down-right",
        }
    }

    /// The direction called `name` in grid-engine.
    pub fn from_name(name: &str) -> Option<Direction> {
        Direction::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The tile offset of one step this way.
    pub fn offset(self) -> (i32, i32) {
        match self {
            Direction::Up => (0, -1),
            Direction::Down => (0, 1),
            Direction::Left => (-1, 0),
            Direction::Right => (1, 0),
            Direction::UpLeft => (-1, -1),
            Direction::UpRight => (1, -1),
            Direction::DownLeft => (-1, 1),
            Direction::DownRight => (1, 1),
        }
    }

    /// The opposite direction.
    pub fn opposite(self) -> Direction {
        match self {
            Direction::Up => Direction::Down,
            Direction::Down => Direction::Up,
            Direction::Left => Direction::Right,
            Direction::Right => Direction::Left,
            Direction::UpLeft => Direction::DownRight,
            Direction::UpRight => Direction::DownLeft,
            Direction::DownLeft => Direction::UpRight,
            Direction::DownRight => Direction::UpLeft,
        }
    }

    /// Whether this is one of the four diagonals.
    pub fn is_diagonal(self) -> bool {
        self.code() >= 4
    }
}

impl Serialize for Direction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for Direction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = u8::deserialize(deserializer)?;
        Direction::from_code(code).ok_or_else(|| {
            serde::de::Error::custom(format_args!("direction code {code} is not 0 to 7"))
        })
    }
}

/// Stable error codes, sent in [`Error`] frames and close reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    /// The frame is not MessagePack, or a message's fields are wrong.
    Malformed = 1,
    /// The message type is not known to this server.
    UnknownMessage = 2,
    /// The client speaks another major version of the protocol.
    UnsupportedVersion = 3,
    /// The frame is larger than the server accepts.
    FrameTooLarge = 4,
    /// The message needs a joined avatar, and this connection has none.
    NotJoined = 5,
    /// No office has the id in `Join`.
    UnknownOffice = 6,
    /// `Join` on a connection that has already joined.
    AlreadyJoined = 7,
    /// The credentials in `Join` were refused.
    LoginRefused = 8,
    /// The office or server holds as many people as it may.
    Full = 9,
    /// Text frames are not part of the protocol.
    TextFrame = 10,
    /// The client sends faster than it may; messages were dropped.
    RateLimited = 11,
    /// The client could not keep up with its frames.
    TooSlow = 12,
    /// The server is shutting down.
    ShuttingDown = 13,
    /// No `Join` arrived in time.
    JoinTimeout = 14,
    /// Something failed on the server's side.
    Internal = 15,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::Malformed,
        ErrorCode::UnknownMessage,
        ErrorCode::UnsupportedVersion,
        ErrorCode::FrameTooLarge,
        ErrorCode::NotJoined,
        ErrorCode::UnknownOffice,
        ErrorCode::AlreadyJoined,
        ErrorCode::LoginRefused,
        ErrorCode::Full,
        ErrorCode::TextFrame,
        ErrorCode::RateLimited,
        ErrorCode::TooSlow,
        ErrorCode::ShuttingDown,
        ErrorCode::JoinTimeout,
        ErrorCode::Internal,
    ];

    /// The number on the wire.
    pub fn number(self) -> u16 {
        self as u16
    }

    /// The code with this number, if this version knows it.
    pub fn from_number(n: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.number() == n)
    }

    /// A short stable name, as used in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownMessage => "unknown_message",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::UnknownOffice => "unknown_office",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::LoginRefused => "login_refused",
            ErrorCode::Full => "full",
            ErrorCode::TextFrame => "text_frame",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooSlow => "too_slow",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::JoinTimeout => "join_timeout",
            ErrorCode::Internal => "internal",
        }
    }
}

// ---- client to server -------------------------------------------------------

wire_struct! {
    /// The first message: which office, which protocol version, who.
    pub struct Join {
        /// The protocol version the client speaks.
        pub version: Version,
        /// The office id (the map file's name without extension).
        pub office: String,
        /// Display name for the development login (no token).
        pub name: Option<String>,
        /// A Teams SSO token (Entra ID access token) for the real sign-in.
        pub token: Option<String>,
    }
}

wire_struct! {
    /// Hold a direction from now on (grid-engine's `move`, every tick).
    pub struct Hold {
        /// The direction held.
        pub dir: Direction,
    }
}

wire_struct! {
    /// Stop holding any direction; a step under way still finishes.
    pub struct Release {}
}

wire_struct! {
    /// Asks for a [`Pong`], to measure latency and clock offset.
    pub struct Ping {
        /// The client's clock in Unix milliseconds, echoed back.
        pub client_ms: u64,
    }
}

/// Everything a client sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// Tag 0.
    Join(Join),
    /// Tag 1.
    Hold(Hold),
    /// Tag 2.
    Release(Release),
    /// Tag 3.
    Ping(Ping),
}

// ---- server to client -------------------------------------------------------

wire_struct! {
    /// Which map the client should load, and from where.
    pub struct MapRef {
        /// The office's map id.
        pub id: String,
        /// Path of the map on this server's HTTP port (`/maps/{id}`).
        pub url: String,
        /// Increases each time the office's map is replaced.
        pub version: u32,
    }
}

wire_struct! {
    /// One avatar as it stands at the end of a tick.
    pub struct AvatarSnapshot {
        /// The avatar's id in this office.
        pub id: u32,
        /// Display name.
        pub name: String,
        /// Tile x (the tile it stands on, or is leaving while it steps).
        pub x: i32,
        /// Tile y.
        pub y: i32,
        /// Facing direction.
        pub facing: Direction,
        /// Walking speed in tenths of a tile per second (40 = 4 tiles/s).
        pub speed: u16,
        /// The direction of the step under way, if any.
        pub step: Option<Direction>,
        /// How far the step under way has gone, 0 to 1000.
        pub progress: u16,
    }
}

wire_struct! {
    /// The answer to `Join`: the client is in the office.
    pub struct Welcome {
        /// The version the server speaks.
        pub version: Version,
        /// The client's own avatar.
        pub avatar: u32,
        /// Simulation ticks per second.
        pub tick_hz: u16,
        /// The next tick to run: `avatars` is the state before it, and tick
        /// frames for this tick or later follow.
        pub tick: u64,
        /// The server's clock at that tick, Unix milliseconds.
        pub server_ms: u64,
        /// Number of directions avatars may walk in: 4 or 8.
        pub directions: u8,
        /// The map to load.
        pub map: MapRef,
        /// Every avatar in view, the client's own included.
        pub avatars: Vec<AvatarSnapshot>,
    }
}

wire_struct! {
    /// What happened in view during one tick; see `PROTOCOL.md` for the
    /// packing of `steps` and `turns` (helpers: [`crate::TickFrameBuilder`],
    /// [`TickFrame::steps`], [`TickFrame::turns`]).
    pub struct TickFrame {
        /// The tick these events happened in (steps start at this tick).
        pub tick: u64,
        /// Tile coordinates in `steps` are relative to this x.
        pub origin_x: i32,
        /// Tile coordinates in `steps` are relative to this y.
        pub origin_y: i32,
        /// Steps started, four integers each: avatar id delta, from x, from y, direction.
        pub steps: Vec<i32>,
        /// Turns without a step, two integers each: avatar id delta, direction.
        pub turns: Vec<i32>,
        /// Avatars that came into view (state at the end of the tick).
        pub appeared: Vec<AvatarSnapshot>,
        /// Avatars that left view or the office.
        pub disappeared: Vec<u32>,
    }
}

wire_struct! {
    /// Replaces everything the client knows of the office: sent when the
    /// client fell behind and its pending frames were dropped.
    pub struct Snapshot {
        /// The tick this state is from.
        pub tick: u64,
        /// Every avatar in view.
        pub avatars: Vec<AvatarSnapshot>,
    }
}

wire_struct! {
    /// The answer to `Ping`.
    pub struct Pong {
        /// The client's clock from the `Ping`.
        pub client_ms: u64,
        /// The server's current tick.
        pub tick: u64,
        /// The server's clock, Unix milliseconds.
        pub server_ms: u64,
    }
}

wire_struct! {
    /// Something went wrong; see [`ErrorCode`].
    pub struct Error {
        /// An [`ErrorCode`] number (a newer server may send codes this
        /// version does not know).
        pub code: u16,
        /// A human-readable explanation.
        pub message: String,
    }
}

impl Error {
    /// An error frame with a known code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code: code.number(),
            message: message.into(),
        }
    }
}

wire_struct! {
    /// The office's map was replaced (since 1.1): load the new map from
    /// `map.url`; a [`Snapshot`] with everyone's places on it follows.
    pub struct MapChanged {
        /// The new map (its `version` is higher than before).
        pub map: MapRef,
    }
}

/// What a conversation group is (since 1.2): a code on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GroupKind {
    /// People standing close together (code 0).
    Proximity = 0,
    /// Everyone inside a meeting room (code 1).
    Room = 1,
}

impl GroupKind {
    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl Serialize for GroupKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for GroupKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match u8::deserialize(deserializer)? {
            0 => Ok(GroupKind::Proximity),
            1 => Ok(GroupKind::Room),
            code => Err(serde::de::Error::custom(format_args!(
                "group kind code {code} is not 0 or 1"
            ))),
        }
    }
}

wire_struct! {
    /// A conversation group the client's avatar is in (since 1.2), as sent
    /// in `GroupFormed` and `GroupChanged`.
    pub struct GroupState {
        /// The group's id in this office (never reused).
        pub group: u64,
        /// Proximity group or meeting room.
        pub kind: GroupKind,
        /// The meeting room's name, for a room.
        pub room: Option<String>,
        /// Avatar ids of every member, the client's own included, ascending.
        pub members: Vec<u32>,
    }
}

wire_struct! {
    /// The client's avatar is no longer in this group (since 1.2): the group
    /// dissolved, or the avatar left it.
    pub struct GroupDissolved {
        /// The group's id.
        pub group: u64,
    }
}

wire_struct! {
    /// The meeting of the client's group (since 1.2), or why there is none.
    pub struct MeetingReady {
        /// The group's id.
        pub group: u64,
        /// `local`, `graph` or `acs`.
        pub provider: String,
        /// The URL to join by (Teams, or `local://...`); nil for ACS or when unavailable.
        pub join_url: Option<String>,
        /// The ACS group call id, for ACS.
        pub acs_group_call_id: Option<String>,
        /// This client's ACS token, for ACS when the client came with a Teams token.
        pub acs_token: Option<String>,
        /// Set when no meeting could be made: why (for people, not programs).
        pub unavailable: Option<String>,
    }
}

/// Everything the server sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// Tag 0.
    Welcome(Welcome),
    /// Tag 1.
    Tick(TickFrame),
    /// Tag 2.
    Snapshot(Snapshot),
    /// Tag 3.
    Pong(Pong),
    /// Tag 4.
    Error(Error),
    /// Tag 5 (since 1.1).
    MapChanged(MapChanged),
    /// Tag 6 (since 1.2): the client's avatar is in a new group.
    GroupFormed(GroupState),
    /// Tag 7 (since 1.2): the members of the client's group changed.
    GroupChanged(GroupState),
    /// Tag 8 (since 1.2).
    GroupDissolved(GroupDissolved),
    /// Tag 9 (since 1.2).
    MeetingReady(MeetingReady),
}
