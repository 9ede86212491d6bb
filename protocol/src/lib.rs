//! The MetaOffice wire contract, shared by the server, the bots and any other
//! client: message types split by direction ([`ClientMessage`],
//! [`ServerMessage`]), their MessagePack framing, and the protocol
//! [`Version`].
//!
//! A client opens a WebSocket to `/ws`, sends [`Join`] first, receives
//! [`Welcome`], then holds and releases directions while it receives at most
//! one [`TickFrame`] per simulation tick. Every message is one binary
//! WebSocket message holding a MessagePack array `[tag, payload]`; structs are
//! arrays of their fields in declaration order. `PROTOCOL.md` beside this
//! crate documents every byte.
#![warn(missing_docs)]

mod codec;
mod frame;
mod messages;
mod wire;

pub use codec::DecodeError;
pub use frame::{FrameError, Step, TickFrameBuilder, Turn, Update};
pub use messages::{
    AvatarSnapshot, ClientMessage, Direction, Echo, Error, ErrorCode, GroupDissolved, GroupKind,
    GroupState, Hold, Join, Knock, KnockSent, Knocked, ListPeople, Locate, Located, MapChanged,
    MapRef, MeetingReady, People, Person, Ping, Pong, PresenceEntry, Presences, Release,
    ServerMessage, Snapshot, TickFrame, Version, WalkEnded, WalkTo, Welcome, feed, walk_end,
};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: Version = Version { major: 1, minor: 4 };

/// The largest frame a server accepts from a client, in bytes.
pub const MAX_CLIENT_FRAME: usize = 16 * 1024;

impl Version {
    /// Whether a peer speaking `self` can talk to one speaking `other`:
    /// the same major version (minors only add).
    pub fn compatible_with(&self, other: &Version) -> bool {
        self.major == other.major
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}
