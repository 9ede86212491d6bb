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
    /// No such person (since 1.3): the knock, walk or search names someone
    /// who is not in the office or not known in the organisation.
    UnknownUser = 16,
    /// Not allowed (since 1.3): knocking on or walking to oneself, or a
    /// knock from someone without the identity it needs.
    NotAllowed = 17,
    /// Too many knocks (since 1.3); wait a moment.
    TooManyKnocks = 18,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 18] = [
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
        ErrorCode::UnknownUser,
        ErrorCode::NotAllowed,
        ErrorCode::TooManyKnocks,
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
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::NotAllowed => "not_allowed",
            ErrorCode::TooManyKnocks => "too_many_knocks",
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

wire_struct! {
    /// Knock on a colleague (since 1.3): `avatar` for someone in the
    /// client's office, or `user` (an Entra ID object id in the client's
    /// organisation) for someone anywhere, in an office or not. Exactly one
    /// of the two. Answered with [`KnockSent`] or an error.
    pub struct Knock {
        /// An avatar in the client's office.
        pub avatar: Option<u32>,
        /// A user's object id.
        pub user: Option<String>,
    }
}

wire_struct! {
    /// Walk to a colleague in the client's office (since 1.3): the server
    /// finds a path and walks the avatar along it, stopping next to them.
    /// Holding a direction cancels. Ends with [`WalkEnded`].
    pub struct WalkTo {
        /// The colleague's avatar.
        pub avatar: u32,
    }
}

wire_struct! {
    /// Asks who is in the client's office (since 1.3): answered with [`People`].
    pub struct ListPeople {}
}

wire_struct! {
    /// Asks where a colleague is (since 1.3): answered with [`Located`].
    pub struct Locate {
        /// The colleague's object id, in the client's organisation.
        pub user: String,
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
    /// Tag 4 (since 1.3).
    Knock(Knock),
    /// Tag 5 (since 1.3).
    WalkTo(WalkTo),
    /// Tag 6 (since 1.3).
    ListPeople(ListPeople),
    /// Tag 7 (since 1.3).
    Locate(Locate),
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
        /// Teams availability code (since 1.3; 0 unknown), see `PROTOCOL.md`.
        pub availability: u8 = 0,
        /// Teams activity code (since 1.3; 0 unknown), see `PROTOCOL.md`.
        pub activity: u8 = 0,
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
        /// Since 1.4: steps and turns of avatars the client knows, one
        /// integer each, `(id delta << 4) | (turn << 3) | direction`, in
        /// avatar order; a step starts where the client last knew the avatar
        /// would stand. Left out of the encoding when empty.
        pub moves: Vec<i32> = Vec::new(),
    }
}

wire_struct! {
    /// Since 1.4, while frames carry two ticks: the client's own avatar's
    /// steps and turns of this tick, sent at once in answer to its input.
    /// The next tick frame repeats them as the first updates of the
    /// client's avatar; the client skips those (see `PROTOCOL.md`).
    pub struct Echo {
        /// The tick they happened in.
        pub tick: u64,
        /// The tile the first step leaves (where the avatar stood).
        pub from_x: i32,
        /// Its y.
        pub from_y: i32,
        /// One code per update, in order: `(turn << 3) | direction`.
        pub moves: Vec<u8>,
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

wire_struct! {
    /// One avatar's Teams presence (since 1.3).
    pub struct PresenceEntry {
        /// The avatar.
        pub avatar: u32,
        /// Availability code.
        pub availability: u8,
        /// Activity code.
        pub activity: u8,
    }
}

wire_struct! {
    /// Presence changed for avatars in view (since 1.3).
    pub struct Presences {
        /// The new presence of each.
        pub entries: Vec<PresenceEntry>,
    }
}

wire_struct! {
    /// Someone knocked on the client (since 1.3).
    pub struct Knocked {
        /// Who knocked, as others see them.
        pub from_name: String,
        /// Their avatar, when they are in the client's office.
        pub from_avatar: Option<u32>,
        /// Their object id, for a Teams user.
        pub from_user: Option<String>,
        /// The office they knocked from, if any.
        pub from_office: Option<String>,
    }
}

/// What became of a knock's Teams activity-feed notification (since 1.3).
pub mod feed {
    /// None is sent: no Teams identity on one side, or no Graph.
    pub const NOT_SENT: u8 = 0;
    /// Queued for Teams.
    pub const QUEUED: u8 = 1;
    /// Merged into a knock to the same person a moment ago: nothing new is sent.
    pub const MERGED: u8 = 2;
    /// Over the notification budget: not sent to Teams.
    pub const OVER_BUDGET: u8 = 3;
}

wire_struct! {
    /// The answer to [`Knock`] (since 1.3).
    pub struct KnockSent {
        /// The avatar knocked on, as asked.
        pub avatar: Option<u32>,
        /// The user knocked on, as asked or as found.
        pub user: Option<String>,
        /// The office they are in, if they are in one (they were told there).
        pub office: Option<String>,
        /// The Teams notification: a [`feed`] code.
        pub feed: u8,
    }
}

wire_struct! {
    /// Someone in the office, as [`People`] lists them (since 1.3).
    pub struct Person {
        /// Their avatar.
        pub avatar: u32,
        /// Display name.
        pub name: String,
        /// Object id, for a Teams user.
        pub user: Option<String>,
        /// Tile x.
        pub x: i32,
        /// Tile y.
        pub y: i32,
        /// The named zone they stand in, if any.
        pub zone: Option<String>,
        /// Availability code.
        pub availability: u8,
        /// Activity code.
        pub activity: u8,
    }
}

wire_struct! {
    /// The answer to [`ListPeople`] (since 1.3): everyone in the office, by name.
    pub struct People {
        /// Everyone, the client included.
        pub people: Vec<Person>,
    }
}

wire_struct! {
    /// The answer to [`Locate`] (since 1.3).
    pub struct Located {
        /// The user asked for.
        pub user: String,
        /// The office they are in; nil when they are in none.
        pub office: Option<String>,
        /// Their avatar there.
        pub avatar: Option<u32>,
        /// Their display name, when known.
        pub name: Option<String>,
    }
}

/// Why a walk ended (since 1.3).
pub mod walk_end {
    /// Next to the colleague.
    pub const ARRIVED: u8 = 0;
    /// The client held a direction.
    pub const CANCELLED: u8 = 1;
    /// No path leads there.
    pub const UNREACHABLE: u8 = 2;
    /// The colleague left the office.
    pub const GONE: u8 = 3;
    /// The way stayed blocked.
    pub const BLOCKED: u8 = 4;
}

wire_struct! {
    /// A walk asked for with [`WalkTo`] ended (since 1.3).
    pub struct WalkEnded {
        /// The colleague walked to.
        pub avatar: u32,
        /// A [`walk_end`] code.
        pub reason: u8,
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
    /// Tag 10 (since 1.3).
    Presences(Presences),
    /// Tag 11 (since 1.3).
    Knocked(Knocked),
    /// Tag 12 (since 1.3).
    KnockSent(KnockSent),
    /// Tag 13 (since 1.3).
    People(People),
    /// Tag 14 (since 1.3).
    Located(Located),
    /// Tag 15 (since 1.3).
    WalkEnded(WalkEnded),
    /// Tag 16 (since 1.4).
    Echo(Echo),
}
