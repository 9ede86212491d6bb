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

/// An integer as MessagePack's smallest form, without serde's per-element
/// dispatch: tick frames are mostly small integers, and the server writes
/// one frame per view per tick. The bytes are exactly those serde writes.
fn write_small_int(out: &mut Vec<u8>, value: i64) {
    if (0..128).contains(&value) || (-32..0).contains(&value) {
        out.push(value as i8 as u8);
    } else {
        let _ = rmp::encode::write_sint(out, value);
    }
}

/// Encodes a tick frame, byte for byte as `write_frame` would, except that
/// `moves` (since 1.4) is left out when empty: such a frame is the seven
/// fields a 1.3 frame has.
fn encode_tick(frame: &crate::TickFrame) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + frame.steps.len()
            + frame.turns.len()
            + 2 * frame.moves.len()
            + 24 * frame.appeared.len(),
    );
    let fields = if frame.moves.is_empty() { 0x97 } else { 0x98 };
    out.extend_from_slice(&[0x92, 0x01, fields]);
    let _ = rmp::encode::write_uint(&mut out, frame.tick);
    write_small_int(&mut out, i64::from(frame.origin_x));
    write_small_int(&mut out, i64::from(frame.origin_y));
    for list in [&frame.steps, &frame.turns] {
        let _ = rmp::encode::write_array_len(&mut out, list.len() as u32);
        for &value in list.iter() {
            write_small_int(&mut out, i64::from(value));
        }
    }
    let _ = rmp::encode::write_array_len(&mut out, frame.appeared.len() as u32);
    for avatar in &frame.appeared {
        let _ = rmp_serde::encode::write(&mut out, avatar);
    }
    let _ = rmp::encode::write_array_len(&mut out, frame.disappeared.len() as u32);
    for &id in &frame.disappeared {
        let _ = rmp::encode::write_uint(&mut out, u64::from(id));
    }
    if !frame.moves.is_empty() {
        let _ = rmp::encode::write_array_len(&mut out, frame.moves.len() as u32);
        for &value in &frame.moves {
            write_small_int(&mut out, i64::from(value));
        }
    }
    out
}

impl ClientMessage {
    /// The message's tag on the wire.
    pub fn tag(&self) -> u8 {
        match self {
            ClientMessage::Join(_) => 0,
            ClientMessage::Hold(_) => 1,
            ClientMessage::Release(_) => 2,
            ClientMessage::Ping(_) => 3,
            ClientMessage::Knock(_) => 4,
            ClientMessage::WalkTo(_) => 5,
            ClientMessage::ListPeople(_) => 6,
            ClientMessage::Locate(_) => 7,
        }
    }

    /// Encodes the message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ClientMessage::Join(m) => write_frame(self.tag(), m),
            ClientMessage::Hold(m) => write_frame(self.tag(), m),
            ClientMessage::Release(m) => write_frame(self.tag(), m),
            ClientMessage::Ping(m) => write_frame(self.tag(), m),
            ClientMessage::Knock(m) => write_frame(self.tag(), m),
            ClientMessage::WalkTo(m) => write_frame(self.tag(), m),
            ClientMessage::ListPeople(m) => write_frame(self.tag(), m),
            ClientMessage::Locate(m) => write_frame(self.tag(), m),
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
            4 => ClientMessage::Knock(read_payload(&mut cursor, len)?),
            5 => ClientMessage::WalkTo(read_payload(&mut cursor, len)?),
            6 => ClientMessage::ListPeople(read_payload(&mut cursor, len)?),
            7 => ClientMessage::Locate(read_payload(&mut cursor, len)?),
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
            ServerMessage::GroupFormed(_) => 6,
            ServerMessage::GroupChanged(_) => 7,
            ServerMessage::GroupDissolved(_) => 8,
            ServerMessage::MeetingReady(_) => 9,
            ServerMessage::Presences(_) => 10,
            ServerMessage::Knocked(_) => 11,
            ServerMessage::KnockSent(_) => 12,
            ServerMessage::People(_) => 13,
            ServerMessage::Located(_) => 14,
            ServerMessage::WalkEnded(_) => 15,
            ServerMessage::Echo(_) => 16,
        }
    }

    /// Encodes the message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ServerMessage::Welcome(m) => write_frame(self.tag(), m),
            ServerMessage::Tick(m) => encode_tick(m),
            ServerMessage::Snapshot(m) => write_frame(self.tag(), m),
            ServerMessage::Pong(m) => write_frame(self.tag(), m),
            ServerMessage::Error(m) => write_frame(self.tag(), m),
            ServerMessage::MapChanged(m) => write_frame(self.tag(), m),
            ServerMessage::GroupFormed(m) | ServerMessage::GroupChanged(m) => {
                write_frame(self.tag(), m)
            }
            ServerMessage::GroupDissolved(m) => write_frame(self.tag(), m),
            ServerMessage::MeetingReady(m) => write_frame(self.tag(), m),
            ServerMessage::Presences(m) => write_frame(self.tag(), m),
            ServerMessage::Knocked(m) => write_frame(self.tag(), m),
            ServerMessage::KnockSent(m) => write_frame(self.tag(), m),
            ServerMessage::People(m) => write_frame(self.tag(), m),
            ServerMessage::Located(m) => write_frame(self.tag(), m),
            ServerMessage::WalkEnded(m) => write_frame(self.tag(), m),
            ServerMessage::Echo(m) => write_frame(self.tag(), m),
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
            6 => ServerMessage::GroupFormed(read_payload(&mut cursor, len)?),
            7 => ServerMessage::GroupChanged(read_payload(&mut cursor, len)?),
            8 => ServerMessage::GroupDissolved(read_payload(&mut cursor, len)?),
            9 => ServerMessage::MeetingReady(read_payload(&mut cursor, len)?),
            10 => ServerMessage::Presences(read_payload(&mut cursor, len)?),
            11 => ServerMessage::Knocked(read_payload(&mut cursor, len)?),
            12 => ServerMessage::KnockSent(read_payload(&mut cursor, len)?),
            13 => ServerMessage::People(read_payload(&mut cursor, len)?),
            14 => ServerMessage::Located(read_payload(&mut cursor, len)?),
            15 => ServerMessage::WalkEnded(read_payload(&mut cursor, len)?),
            16 => ServerMessage::Echo(read_payload(&mut cursor, len)?),
            other => return Err(DecodeError::UnknownMessage(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AvatarSnapshot, Direction, TickFrame};

    /// The fast tick encoder writes exactly what serde writes, for integers
    /// of every size and sign.
    #[test]
    fn fast_tick_encoding_matches_serde() {
        let mut seed = 0x1234_5678_9abc_def0_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pick = |r: u64| -> i32 {
            const EDGES: [i32; 14] = [
                0,
                1,
                127,
                128,
                255,
                256,
                65535,
                65536,
                -1,
                -32,
                -33,
                -128,
                -129,
                i32::MIN,
            ];
            if r.is_multiple_of(3) {
                EDGES[(r / 3 % 14) as usize]
            } else {
                (r as i32) >> (r % 31)
            }
        };
        for _ in 0..2000 {
            let frame = TickFrame {
                tick: next() >> (next() % 64),
                origin_x: pick(next()),
                origin_y: pick(next()),
                steps: (0..next() % 40).map(|_| pick(next())).collect(),
                turns: (0..next() % 6).map(|_| pick(next())).collect(),
                appeared: (0..next() % 2)
                    .map(|_| AvatarSnapshot {
                        id: next() as u32,
                        name: "Ada".into(),
                        x: pick(next()),
                        y: pick(next()),
                        facing: Direction::Left,
                        speed: 40,
                        step: None,
                        progress: 0,
                        availability: (next() % 9) as u8,
                        activity: 0,
                    })
                    .collect(),
                disappeared: (0..next() % 3).map(|_| next() as u32).collect(),
                moves: (0..next() % 8).skip(2).map(|_| pick(next())).collect(),
            };
            let mut expected = write_frame(1, &frame);
            if frame.moves.is_empty() {
                // Seven fields: the empty trailing `moves` is left out.
                assert_eq!(expected.pop(), Some(0x90));
                assert_eq!(expected[2], 0x98);
                expected[2] = 0x97;
            }
            let encoded = encode_tick(&frame);
            assert_eq!(encoded, expected, "{frame:?}");
            assert_eq!(
                ServerMessage::decode(&encoded),
                Ok(ServerMessage::Tick(frame))
            );
        }
    }
}
