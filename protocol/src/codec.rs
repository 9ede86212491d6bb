//! Framing: one WebSocket binary message holds one MessagePack array
//! `[tag, payload]`, where `tag` is a small integer naming the message and
//! `payload` the message's own array. Elements after the payload (from a newer
//! minor version) are skipped.

use std::io::Cursor;

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::messages::{ClientMessage, ServerMessage};

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not MessagePack, not `[tag, payload]`, or a payload whose fields are wrong.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// A tag this version does not know.
    #[error("unknown message type {0}")]
    UnknownMessage(u64),
}

/// Deepest nesting accepted in a frame (messages use at most 4 levels).
const MAX_DEPTH: usize = 32;

fn malformed(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Malformed(e.to_string())
}

fn write_frame<T: Serialize>(tag: u8, payload: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(&mut out, tag, payload);
    out
}

fn encode_into<T: Serialize>(out: &mut Vec<u8>, tag: u8, payload: &T) {
    // Writing into a Vec cannot fail, and every payload type serializes.
    let _ = rmp::encode::write_array_len(out, 2);
    let _ = rmp::encode::write_uint(out, u64::from(tag));
    let _ = rmp_serde::encode::write(out, payload);
}

/// Reads the frame header and returns the tag; the cursor is left on the payload.
fn read_header(cursor: &mut Cursor<&[u8]>) -> Result<(u64, u32), DecodeError> {
    let len = rmp::decode::read_array_len(cursor)
        .map_err(|e| malformed(format!("expected [tag, payload]: {e}")))?;
    if len < 2 {
        return Err(malformed(format!(
            "expected [tag, payload], got an array of {len}"
        )));
    }
    let tag: u64 = rmp::decode::read_int(cursor).map_err(|e| malformed(format!("bad tag: {e}")))?;
    Ok((tag, len))
}

fn read_payload<T: DeserializeOwned>(
    cursor: &mut Cursor<&[u8]>,
    len: u32,
) -> Result<T, DecodeError> {
    let mut de = rmp_serde::Deserializer::new(&mut *cursor);
    // No message nests deeper than a few levels; a bound keeps hostile
    // nesting from exhausting a worker thread's stack.
    de.set_max_depth(MAX_DEPTH);
    let payload = T::deserialize(&mut de).map_err(malformed)?;
    for _ in 2..len {
        IgnoredAny::deserialize(&mut de).map_err(malformed)?;
    }
    let end = cursor.get_ref().len() as u64;
    if cursor.position() != end {
        return Err(malformed(format!(
            "{} bytes after the message",
            end - cursor.position()
        )));
    }
    Ok(payload)
}

use serde::Deserialize as _;

impl ClientMessage {
    /// The message's tag on the wire.
    pub fn tag(&self) -> u8 {
        match self {
            ClientMessage::Join(_) => 0,
            ClientMessage::Hold(_) => 1,
            ClientMessage::Release(_) => 2,
            ClientMessage::Ping(_) => 3,
        }
    }

    /// Encodes the message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ClientMessage::Join(m) => write_frame(self.tag(), m),
            ClientMessage::Hold(m) => write_frame(self.tag(), m),
            ClientMessage::Release(m) => write_frame(self.tag(), m),
            ClientMessage::Ping(m) => write_frame(self.tag(), m),
        }
    }

    /// Decodes one frame.
    pub fn decode(frame: &[u8]) -> Result<ClientMessage, DecodeError> {
        let mut cursor = Cursor::new(frame);
        let (tag, len) = read_header(&mut cursor)?;
        Ok(match tag {
            0 => ClientMessage::Join(read_payload(&mut cursor, len)?),
            1 => ClientMessage::Hold(read_payload(&mut cursor, len)?),
            2 => ClientMessage::Release(read_payload(&mut cursor, len)?),
            3 => ClientMessage::Ping(read_payload(&mut cursor, len)?),
            other => return Err(DecodeError::UnknownMessage(other)),
        })
    }
}

impl ServerMessage {
    /// The message's tag on the wire.
    pub fn tag(&self) -> u8 {
        match self {
            ServerMessage::Welcome(_) => 0,
            ServerMessage::Tick(_) => 1,
            ServerMessage::Snapshot(_) => 2,
            ServerMessage::Pong(_) => 3,
            ServerMessage::Error(_) => 4,
            ServerMessage::MapChanged(_) => 5,
        }
    }

    /// Encodes the message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ServerMessage::Welcome(m) => write_frame(self.tag(), m),
            ServerMessage::Tick(m) => write_frame(self.tag(), m),
            ServerMessage::Snapshot(m) => write_frame(self.tag(), m),
            ServerMessage::Pong(m) => write_frame(self.tag(), m),
            ServerMessage::Error(m) => write_frame(self.tag(), m),
            ServerMessage::MapChanged(m) => write_frame(self.tag(), m),
        }
    }

    /// Decodes one frame.
    pub fn decode(frame: &[u8]) -> Result<ServerMessage, DecodeError> {
        let mut cursor = Cursor::new(frame);
        let (tag, len) = read_header(&mut cursor)?;
        Ok(match tag {
            0 => ServerMessage::Welcome(read_payload(&mut cursor, len)?),
            1 => ServerMessage::Tick(read_payload(&mut cursor, len)?),
            2 => ServerMessage::Snapshot(read_payload(&mut cursor, len)?),
            3 => ServerMessage::Pong(read_payload(&mut cursor, len)?),
            4 => ServerMessage::Error(read_payload(&mut cursor, len)?),
            5 => ServerMessage::MapChanged(read_payload(&mut cursor, len)?),
            other => return Err(DecodeError::UnknownMessage(other)),
        })
    }
}
