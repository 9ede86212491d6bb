//! Golden tests: every example in `PROTOCOL.md` is encoded here, compared
//! byte for byte and decoded back, and the document must show the same hex.
//! The other tests pin the behaviour a client in another language relies on:
//! forward compatibility, error classes, no panics on hostile input, and the
//! packing of tick frames.

use metaoffice_protocol::Echo;
use metaoffice_protocol::{
    AvatarSnapshot, ClientMessage, DecodeError, Direction, Error, ErrorCode, FrameError, Hold,
    Join, MAX_CLIENT_FRAME, MapRef, PROTOCOL_VERSION, Ping, Pong, Release, ServerMessage, Snapshot,
    Step, TickFrame, TickFrameBuilder, Turn, Update, Version, Welcome,
};
use metaoffice_protocol::{GroupDissolved, GroupKind, GroupState, MeetingReady};
use metaoffice_protocol::{
    Knock, KnockSent, Knocked, ListPeople, Locate, Located, People, Person, PresenceEntry,
    Presences, WalkEnded, WalkTo, feed, walk_end,
};

// ---- helpers ----------------------------------------------------------------

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hex digits; spaces are ignored so tests can group bytes.
fn from_hex(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(|b| *b != b' ').collect();
    assert!(digits.len().is_multiple_of(2), "odd hex length: {hex}");
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII");
            u8::from_str_radix(pair, 16).expect("hex digit")
        })
        .collect()
}

fn protocol_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md"))
        .expect("PROTOCOL.md beside Cargo.toml")
}

/// The document shows `hex` on a line of its own (inside a fenced block).
fn assert_documented(hex: &str) {
    let doc = protocol_md();
    assert!(
        doc.lines().any(|line| line == hex),
        "PROTOCOL.md does not show this example on a line of its own:\n{hex}"
    );
}

fn golden_client(message: ClientMessage, hex: &str) {
    assert_eq!(to_hex(&message.encode()), hex, "encoding of {message:?}");
    assert_eq!(ClientMessage::decode(&from_hex(hex)), Ok(message));
    assert_documented(hex);
}

fn golden_server(message: ServerMessage, hex: &str) {
    assert_eq!(to_hex(&message.encode()), hex, "encoding of {message:?}");
    assert_eq!(ServerMessage::decode(&from_hex(hex)), Ok(message));
    assert_documented(hex);
}

fn is_malformed<T>(result: &Result<T, DecodeError>) -> bool {
    matches!(result, Err(DecodeError::Malformed(_)))
}

fn avatar(
    id: u32,
    name: &str,
    (x, y): (i32, i32),
    facing: Direction,
    step: Option<Direction>,
    progress: u16,
) -> AvatarSnapshot {
    AvatarSnapshot {
        id,
        name: name.into(),
        x,
        y,
        facing,
        speed: 40,
        step,
        progress,
        availability: 0,
        activity: 0,
    }
}

/// `snapshot` showing a Teams presence (since 1.3).
fn present(snapshot: AvatarSnapshot, availability: u8, activity: u8) -> AvatarSnapshot {
    AvatarSnapshot {
        availability,
        activity,
        ..snapshot
    }
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---- the documented examples ------------------------------------------------

const JOIN_DEV: &str = "920094920100a464656d6fa3416461c0";
const JOIN_TOKEN: &str =
    "920094920100a464656d6fc0bd65794a68624763694f694a53557a49314e694a392e6533302e63326c6e";
const HOLD: &str = "92019103";
const RELEASE: &str = "920290";
const PING: &str = "920391cf0000019b76daa87b";

const WELCOME: &str = "9200989201030714cd04b0cf0000019b76daa8000893a464656d6faa2f6d6170732f64656d6f03939a07a34164610c090128c00001019a0ca547726163650a0b0128c00005089a0fa4416c616e0d0a0128c0000000";
const TICK_COMPACT: &str = "920198cd04b10c099090919a15a54c696e75731009022802ccc80000909373503a";
const ECHO: &str = "921094cd04b10c099103";
const TICK: &str = "920197cd04b10c09980700000305fe0200920f02919a15a54c696e75731009022802ccc8000090";
const TICK_LEAVE: &str = "920197cd04b70c09909090910f";
const SNAPSHOT: &str = "920292cd0514919a07a34164610d09032803cd01900101";
const PONG: &str = "920393cf0000019b76daa87bcd04b4cf0000019b76daa8aa";
const ERROR_RATE: &str =
    "9204920bd92572617465206c696d69742065786365656465643b206d657373616765732064726f70706564";
const ERROR_VERSION: &str = "92049203d93570726f746f636f6c20322e30206973206e6f7420737570706f727465643b20746869732073657276657220737065616b7320312e33";

/// 2026-01-01T00:00:00.123Z in Unix milliseconds.
const CLIENT_MS: u64 = 1_767_225_600_123;
/// 2026-01-01T00:00:00.000Z in Unix milliseconds.
const SERVER_MS: u64 = 1_767_225_600_000;

fn join_dev() -> ClientMessage {
    ClientMessage::Join(Join {
        version: Version { major: 1, minor: 0 },
        office: "demo".into(),
        name: Some("Ada".into()),
        token: None,
    })
}

fn join_token() -> ClientMessage {
    ClientMessage::Join(Join {
        version: Version { major: 1, minor: 0 },
        office: "demo".into(),
        name: None,
        token: Some("eyJhbGciOiJSUzI1NiJ9.e30.c2ln".into()),
    })
}

fn hold() -> ClientMessage {
    ClientMessage::Hold(Hold {
        dir: Direction::Right,
    })
}

fn release() -> ClientMessage {
    ClientMessage::Release(Release {})
}

fn ping() -> ClientMessage {
    ClientMessage::Ping(Ping {
        client_ms: CLIENT_MS,
    })
}

fn welcome() -> ServerMessage {
    ServerMessage::Welcome(Welcome {
        version: Version { major: 1, minor: 3 },
        avatar: 7,
        tick_hz: 20,
        tick: 1200,
        server_ms: SERVER_MS,
        directions: 8,
        map: MapRef {
            id: "demo".into(),
            url: "/maps/demo".into(),
            version: 3,
        },
        avatars: vec![
            // Available, Available.
            present(avatar(7, "Ada", (12, 9), Direction::Down, None, 0), 1, 1),
            // Busy, InAMeeting.
            present(
                avatar(12, "Grace", (10, 11), Direction::Down, None, 0),
                5,
                8,
            ),
            // A development login: no Teams presence.
            avatar(15, "Alan", (13, 10), Direction::Down, None, 0),
        ],
    })
}

/// Linus comes into view at (16, 9), 200/1000 into a step left.
fn linus() -> AvatarSnapshot {
    avatar(
        21,
        "Linus",
        (16, 9),
        Direction::Left,
        Some(Direction::Left),
        200,
    )
}

fn tick_frame() -> TickFrame {
    let mut frame = TickFrameBuilder::new(1201, (12, 9));
    frame
        .step(7, (12, 9), Direction::Right)
        .step(12, (10, 11), Direction::Up)
        .turn(15, Direction::Left)
        .appeared(linus());
    frame.finish()
}

fn tick() -> ServerMessage {
    ServerMessage::Tick(tick_frame())
}

/// Tick 1201 as a 1.4 client gets it: the steps and the turn are `moves`.
fn tick_frame_compact() -> TickFrame {
    let mut frame = TickFrameBuilder::new(1201, (12, 9));
    frame
        .known_step(7, Direction::Right)
        .known_step(12, Direction::Up)
        .known_turn(15, Direction::Left)
        .appeared(linus());
    frame.finish()
}

fn tick_compact() -> ServerMessage {
    ServerMessage::Tick(tick_frame_compact())
}

/// Ada's own step of tick 1201, echoed at once while frames batch.
fn echo() -> ServerMessage {
    let mut echo = Echo::new(1201, (12, 9));
    echo.step(Direction::Right);
    ServerMessage::Echo(echo)
}

fn tick_leave() -> ServerMessage {
    let mut frame = TickFrameBuilder::new(1207, (12, 9));
    frame.disappeared(15);
    ServerMessage::Tick(frame.finish())
}

fn snapshot() -> ServerMessage {
    ServerMessage::Snapshot(Snapshot {
        tick: 1300,
        avatars: vec![present(
            avatar(
                7,
                "Ada",
                (13, 9),
                Direction::Right,
                Some(Direction::Right),
                400,
            ),
            1,
            1,
        )],
    })
}

fn pong() -> ServerMessage {
    ServerMessage::Pong(Pong {
        client_ms: CLIENT_MS,
        tick: 1204,
        server_ms: SERVER_MS + 170,
    })
}

fn error_rate() -> ServerMessage {
    ServerMessage::Error(Error::new(
        ErrorCode::RateLimited,
        "rate limit exceeded; messages dropped",
    ))
}

fn error_version() -> ServerMessage {
    ServerMessage::Error(Error::new(
        ErrorCode::UnsupportedVersion,
        "protocol 2.0 is not supported; this server speaks 1.3",
    ))
}

fn client_examples() -> Vec<(ClientMessage, &'static str)> {
    vec![
        (join_dev(), JOIN_DEV),
        (join_token(), JOIN_TOKEN),
        (hold(), HOLD),
        (release(), RELEASE),
        (ping(), PING),
        (knock_avatar(), KNOCK_AVATAR),
        (knock_user(), KNOCK_USER),
        (walk_to(), WALK_TO),
        (list_people(), LIST_PEOPLE),
        (locate(), LOCATE),
    ]
}

fn server_examples() -> Vec<(ServerMessage, &'static str)> {
    vec![
        (welcome(), WELCOME),
        (tick(), TICK),
        (tick_leave(), TICK_LEAVE),
        (snapshot(), SNAPSHOT),
        (pong(), PONG),
        (error_rate(), ERROR_RATE),
        (error_version(), ERROR_VERSION),
        (group_formed(), GROUP_FORMED),
        (group_changed(), GROUP_CHANGED),
        (group_dissolved(), GROUP_DISSOLVED),
        (meeting_ready(), MEETING_READY),
        (meeting_unavailable(), MEETING_UNAVAILABLE),
        (presences(), PRESENCES),
        (knocked(), KNOCKED),
        (knock_sent(), KNOCK_SENT),
        (people(), PEOPLE),
        (located(), LOCATED),
        (walk_ended(), WALK_ENDED),
        (tick_compact(), TICK_COMPACT),
        (echo(), ECHO),
    ]
}

#[test]
fn golden_join_dev_login() {
    golden_client(join_dev(), JOIN_DEV);
}

#[test]
fn golden_join_token_login() {
    golden_client(join_token(), JOIN_TOKEN);
}

#[test]
fn golden_hold() {
    golden_client(hold(), HOLD);
}

#[test]
fn golden_release() {
    golden_client(release(), RELEASE);
}

#[test]
fn golden_ping() {
    golden_client(ping(), PING);
}

#[test]
fn golden_welcome() {
    golden_server(welcome(), WELCOME);
}

#[test]
fn golden_tick() {
    golden_server(tick(), TICK);
    // The unpacked view the document walks through.
    let frame = tick_frame();
    let steps = frame.steps().expect("steps unpack");
    assert_eq!(
        steps,
        vec![
            Step {
                avatar: 7,
                from: (12, 9),
                dir: Direction::Right
            },
            Step {
                avatar: 12,
                from: (10, 11),
                dir: Direction::Up
            },
        ]
    );
    assert_eq!(steps[0].to(), (13, 9));
    assert_eq!(steps[1].to(), (10, 10));
    assert_eq!(
        frame.turns(),
        Ok(vec![Turn {
            avatar: 15,
            dir: Direction::Left
        }])
    );
    assert_eq!(frame.update_count(), 4);
}

#[test]
fn golden_tick_disappeared() {
    golden_server(tick_leave(), TICK_LEAVE);
}

#[test]
fn golden_snapshot() {
    golden_server(snapshot(), SNAPSHOT);
}

#[test]
fn golden_pong() {
    golden_server(pong(), PONG);
}

#[test]
fn golden_error_rate_limited() {
    golden_server(error_rate(), ERROR_RATE);
}

#[test]
fn golden_error_unsupported_version() {
    golden_server(error_version(), ERROR_VERSION);
}

// ---- the document's tables match the code -----------------------------------

/// Errors after which the server closes the connection.
const FATAL: [ErrorCode; 9] = [
    ErrorCode::UnsupportedVersion,
    ErrorCode::UnknownOffice,
    ErrorCode::LoginRefused,
    ErrorCode::Full,
    ErrorCode::JoinTimeout,
    ErrorCode::FrameTooLarge,
    ErrorCode::TooSlow,
    ErrorCode::ShuttingDown,
    ErrorCode::Internal,
];

#[test]
fn every_error_code_is_in_the_table() {
    let doc = protocol_md();
    let mut names = std::collections::HashSet::new();
    for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(code.number()), i + 1, "numbers run from 1");
        assert_eq!(ErrorCode::from_number(code.number()), Some(code));
        assert!(names.insert(code.name()), "duplicate name {}", code.name());
        let closes = if FATAL.contains(&code) {
            format!("yes, close code {}", 4000 + code.number())
        } else {
            "no".to_owned()
        };
        let row = format!("| {} | `{}` | {closes} |", code.number(), code.name());
        assert!(doc.contains(&row), "PROTOCOL.md lacks the row {row}");
    }
    assert_eq!(ErrorCode::from_number(0), None);
    assert_eq!(ErrorCode::from_number(19), None);
    // A code from a newer server still decodes: `code` is a plain number.
    let future = ServerMessage::Error(Error {
        code: 99,
        message: "?".into(),
    });
    assert_eq!(ServerMessage::decode(&future.encode()), Ok(future));
}

#[test]
fn every_direction_is_in_the_table() {
    let doc = protocol_md();
    for (code, dir) in Direction::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(dir.code()), code);
        assert_eq!(Direction::from_code(dir.code()), Some(dir));
        assert_eq!(Direction::from_name(dir.name()), Some(dir));
        let (dx, dy) = dir.offset();
        let row = format!("| {code} | `{}` | {dx} | {dy} |", dir.name());
        assert!(doc.contains(&row), "PROTOCOL.md lacks the row {row}");
    }
    assert_eq!(Direction::from_code(8), None);
}

#[test]
fn documented_constants() {
    assert_eq!(PROTOCOL_VERSION, Version { major: 1, minor: 4 });
    assert_eq!(PROTOCOL_VERSION.to_string(), "1.4");
    assert_eq!(MAX_CLIENT_FRAME, 16_384);
    let doc = protocol_md();
    assert!(doc.contains("16384"));
}

// ---- versioning -------------------------------------------------------------

#[test]
fn version_compatibility() {
    let v = |major, minor| Version { major, minor };
    assert!(v(1, 0).compatible_with(&v(1, 0)));
    assert!(v(1, 0).compatible_with(&v(1, 7)));
    assert!(v(1, 7).compatible_with(&v(1, 0)));
    assert!(!v(1, 0).compatible_with(&v(2, 0)));
    assert!(!v(1, 0).compatible_with(&v(0, 9)));
    assert!(!v(2, 0).compatible_with(&v(1, 0)));
}

/// A newer minor appends fields to payloads (and to nested structs) and may
/// append elements after the payload: a 1.0 reader skips them all.
#[test]
fn newer_minor_fields_are_skipped() {
    // Every example, re-framed as `[tag, [fields..., extra], extra]`.
    fn extend(hex: &str) -> Vec<u8> {
        extend_after(hex, "")
    }
    // `known` holds fields this version knows that the example left out
    // (a tick frame's empty `moves`): the extra field comes after them.
    fn extend_after(hex: &str, known: &str) -> Vec<u8> {
        let bytes = from_hex(hex);
        assert_eq!(bytes[0], 0x92, "outer fixarray of 2");
        let fields = bytes[2] & 0x0f;
        assert_eq!(bytes[2] & 0xf0, 0x90, "payload is a fixarray");
        assert!(fields < 14);
        let added = if known.is_empty() { 1 } else { 2 };
        let mut out = vec![0x93, bytes[1], 0x90 | (fields + added)];
        out.extend_from_slice(&bytes[3..]);
        out.extend_from_slice(&from_hex(known));
        out.extend_from_slice(&from_hex("a3666f6f")); // extra payload field "foo"
        out.extend_from_slice(&from_hex("92c0c3")); // extra element [nil, true]
        out
    }
    for (message, hex) in client_examples() {
        assert_eq!(ClientMessage::decode(&extend(hex)), Ok(message), "{hex}");
    }
    for (message, hex) in server_examples() {
        let extended = match &message {
            ServerMessage::Tick(frame) if frame.moves.is_empty() => extend_after(hex, "90"),
            _ => extend(hex),
        };
        assert_eq!(ServerMessage::decode(&extended), Ok(message), "{hex}");
    }

    // Trailing fields inside nested structs: Join's Version [1, 0, 7].
    let join = from_hex("920094930100 07 a464656d6fa3416461c0");
    assert_eq!(ClientMessage::decode(&join), Ok(join_dev()));
    // An AvatarSnapshot with an eleventh field (a map, skipped whole).
    let snapshot = from_hex("920292cd0514919b07a34164610d09032803cd01900101 81a16101");
    assert_eq!(ServerMessage::decode(&snapshot), Ok(self::snapshot()));
    // Many extra top-level elements.
    let hold = from_hex("9f01910301020304050607080910111213");
    assert_eq!(ClientMessage::decode(&hold), Ok(self::hold()));
}

// ---- errors -------------------------------------------------------------------

/// Writers use the smallest encoding; readers accept any integer encoding
/// whose value fits the field.
#[test]
fn wider_integer_encodings_are_accepted() {
    assert_eq!(
        ClientMessage::decode(&from_hex("92cc0191cd0003")),
        Ok(hold())
    );
    assert_eq!(
        ClientMessage::decode(&from_hex("920391d3000001 9b76daa87b")),
        Ok(ping())
    );
    assert_eq!(
        ClientMessage::decode(&from_hex("920094 92 cc01 d000 a464656d6fa3416461c0")),
        Ok(join_dev())
    );
}

#[test]
fn missing_fields_are_malformed() {
    for hex in [
        "920190",                           // Hold without dir
        "920390",                           // Ping without client_ms
        "920093920100a464656d6fa3416461",   // Join without token
        "920094910100a464656d6fa3416461c0", // Version without minor
        "920094920100a464656d6fa3416461",   // Join claims 4 fields, holds 3
    ] {
        let result = ClientMessage::decode(&from_hex(hex));
        assert!(is_malformed(&result), "{hex}: {result:?}");
    }
    for hex in [
        "920392cf0000019b76daa87bcd04b4",       // Pong without server_ms
        "920291cd0514",                         // Snapshot without avatars
        "920292cd0514919707a34164610d09032803", // AvatarSnapshot without progress
        "920196cd04b00c09909090",               // TickFrame without disappeared
        "9204910b",                             // Error without message
    ] {
        let result = ServerMessage::decode(&from_hex(hex));
        assert!(is_malformed(&result), "{hex}: {result:?}");
    }
}

#[test]
fn unknown_tags_are_unknown_message() {
    assert_eq!(
        ClientMessage::decode(&from_hex("920890")),
        Err(DecodeError::UnknownMessage(8))
    );
    assert_eq!(
        ClientMessage::decode(&from_hex("92cd010090")),
        Err(DecodeError::UnknownMessage(256))
    );
    assert_eq!(
        ServerMessage::decode(&from_hex("921190")),
        Err(DecodeError::UnknownMessage(17))
    );
    // The payload of an unknown message is not looked at.
    assert_eq!(
        ServerMessage::decode(&from_hex("927fc1")),
        Err(DecodeError::UnknownMessage(127))
    );
}

#[test]
fn bad_shapes_are_malformed() {
    for hex in [
        "",                                           // empty
        "c0",                                         // nil
        "01",                                         // a bare integer
        "80",                                         // a map
        "90",                                         // []
        "9101",                                       // [tag] without payload
        "92ff90",                                     // negative tag
        "92a13190",                                   // string tag
        "92cb3ff000000000000090",                     // float tag
        "920103",                                     // payload not an array
        "920181a16403",                               // payload a map
        "9201910300",                                 // a byte after the message
        "920391cb41d9b3e86a000000",                   // float client_ms
        "920391ff",                                   // negative client_ms
        "920094920100a464656d6fa3416461c3",           // token `true`
        "920094cd0100a464656d6fa3416461c0",           // version not an array
        "92009492ce000111700000a464656d6fa3416461c0", // major out of u16
        "920094920100a2ffffa3416461c0",               // office not UTF-8
    ] {
        let bytes = from_hex(hex);
        let client = ClientMessage::decode(&bytes);
        let server = ServerMessage::decode(&bytes);
        assert!(is_malformed(&client), "{hex}: {client:?}");
        assert!(is_malformed(&server), "{hex}: {server:?}");
    }
}

#[test]
fn invalid_direction_codes_are_malformed() {
    for hex in [
        "92019108",     // Hold 8
        "920191ff",     // Hold -1
        "920191cd0103", // Hold 259
        "920191a27570", // Hold "up"
        "920191c0",     // Hold nil
    ] {
        let result = ClientMessage::decode(&from_hex(hex));
        assert!(is_malformed(&result), "{hex}: {result:?}");
    }
    // AvatarSnapshot facing 9, and step 8.
    for hex in [
        "920292cd0514919807a34164610d09092803cd0190",
        "920292cd0514919807a34164610d09032808cd0190",
    ] {
        let result = ServerMessage::decode(&from_hex(hex));
        assert!(is_malformed(&result), "{hex}: {result:?}");
    }
}

#[test]
fn truncated_examples_are_malformed() {
    for (_, hex) in client_examples() {
        let bytes = from_hex(hex);
        for end in 0..bytes.len() {
            let result = ClientMessage::decode(&bytes[..end]);
            assert!(is_malformed(&result), "{hex} cut at {end}: {result:?}");
        }
    }
    for (_, hex) in server_examples() {
        let bytes = from_hex(hex);
        for end in 0..bytes.len() {
            let result = ServerMessage::decode(&bytes[..end]);
            assert!(is_malformed(&result), "{hex} cut at {end}: {result:?}");
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let is_array_marker = |b: u8| (0x90..=0x9f).contains(&b) || b == 0xdc || b == 0xdd;
    for _ in 0..20_000 {
        let len = rng.below(64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let client = ClientMessage::decode(&bytes);
        let server = ServerMessage::decode(&bytes);
        if bytes.first().is_none_or(|&b| !is_array_marker(b)) {
            assert!(is_malformed(&client), "{}: {client:?}", to_hex(&bytes));
            assert!(is_malformed(&server), "{}: {server:?}", to_hex(&bytes));
        }
    }
    // Random garbage behind a valid header.
    for _ in 0..20_000 {
        let len = rng.below(48) as usize;
        let mut bytes = vec![0x92, rng.below(17) as u8];
        bytes.extend((0..len).map(|_| rng.next() as u8));
        let _ = ClientMessage::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
    }
    // Every example with each byte replaced by interesting markers.
    let markers = [
        0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc4, 0xc7, 0xca, 0xcb,
        0xcc, 0xcf, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
    ];
    let examples: Vec<&str> = client_examples()
        .into_iter()
        .map(|(_, h)| h)
        .chain(server_examples().into_iter().map(|(_, h)| h))
        .collect();
    for hex in examples {
        let bytes = from_hex(hex);
        for i in 0..bytes.len() {
            for marker in markers {
                let mut mutated = bytes.clone();
                mutated[i] = marker;
                let _ = ClientMessage::decode(&mutated);
                let _ = ServerMessage::decode(&mutated);
            }
        }
    }
}

#[test]
fn hostile_lengths_are_malformed() {
    for hex in [
        "ddffffffff019103",         // 4 billion elements
        "9201ddffffffff",           // a payload of 4 billion fields
        "920094920100dbffffffff41", // a 4 GiB office string
        "920292cd0514ddffffffff98", // 4 billion avatars
        "920197000000ddffffffff01", // 4 billion step integers
        "92019203c6ffffffff00",     // a 4 GiB bin trailing field
        "92019203c9ffffffff0100",   // a 4 GiB ext trailing field
    ] {
        let bytes = from_hex(hex);
        let client = ClientMessage::decode(&bytes);
        let server = ServerMessage::decode(&bytes);
        assert!(is_malformed(&client), "{hex}: {client:?}");
        assert!(is_malformed(&server), "{hex}: {server:?}");
    }
}

/// `[1, [3, [[[[...]]]]]]` (a deep skipped trailing field) or
/// `[1, [3], [[[[...]]]]]` (a deep skipped element), filling a client frame.
fn deeply_nested(in_payload: bool) -> Vec<u8> {
    let mut bytes = from_hex(if in_payload { "92019203" } else { "93019103" });
    bytes.extend(std::iter::repeat_n(0x91, MAX_CLIENT_FRAME - bytes.len()));
    bytes
}

/// Values nested deeper than the codec's depth limit (32) are refused, not
/// followed, even where they would only be skipped, and on a thread with a
/// tokio worker's 2 MiB stack in an unoptimised build.
#[test]
fn deep_nesting_is_refused_on_a_worker_sized_stack() {
    let results = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            [true, false].map(|in_payload| {
                let bytes = deeply_nested(in_payload);
                (ClientMessage::decode(&bytes), ServerMessage::decode(&bytes))
            })
        })
        .expect("spawn a thread")
        .join()
        .expect("no panic");
    for (client, server) in results {
        assert!(is_malformed(&client), "{client:?}");
        assert!(is_malformed(&server), "{server:?}");
    }
}

// ---- tick frames ------------------------------------------------------------

#[test]
fn tick_frame_round_trip() {
    let origin = (40, -3);
    let steps = [
        // A fast avatar starting two steps in one tick: the same id twice.
        Step {
            avatar: 3,
            from: (38, -5),
            dir: Direction::Left,
        },
        Step {
            avatar: 3,
            from: (37, -5),
            dir: Direction::Left,
        },
        Step {
            avatar: 9,
            from: (40, -3),
            dir: Direction::DownRight,
        },
        Step {
            avatar: 130,
            from: (-200, 70_000),
            dir: Direction::UpLeft,
        },
        Step {
            avatar: 2_000_000_130,
            from: (i32::MIN, i32::MAX),
            dir: Direction::Up,
        },
    ];
    let turns = [
        Turn {
            avatar: 2,
            dir: Direction::Up,
        },
        Turn {
            avatar: 2,
            dir: Direction::Right,
        },
        Turn {
            avatar: 77,
            dir: Direction::DownLeft,
        },
    ];
    let mut builder = TickFrameBuilder::new(u64::MAX - 1, origin);
    assert!(builder.is_empty());
    for s in steps {
        builder.step(s.avatar, s.from, s.dir);
    }
    for t in turns {
        builder.turn(t.avatar, t.dir);
    }
    builder.disappeared(5).disappeared(1);
    assert!(!builder.is_empty());
    let frame = builder.finish();
    // Relative coordinates may be negative; ids are deltas.
    assert_eq!(&frame.steps[..8], &[3, -2, -2, 2, 0, -3, -2, 2]);
    assert_eq!(&frame.turns[..4], &[2, 0, 0, 3]);

    let bytes = ServerMessage::Tick(frame.clone()).encode();
    let Ok(ServerMessage::Tick(decoded)) = ServerMessage::decode(&bytes) else {
        panic!("a tick frame decodes");
    };
    assert_eq!(decoded, frame);
    assert_eq!(decoded.steps(), Ok(steps.to_vec()));
    assert_eq!(decoded.turns(), Ok(turns.to_vec()));
    assert_eq!(decoded.disappeared, vec![5, 1]);
    assert_eq!(decoded.update_count(), 10);
    assert_eq!(steps[2].to(), (41, -2));
}

#[test]
fn frame_errors() {
    let frame = |steps: Vec<i32>, turns: Vec<i32>| TickFrame {
        tick: 1,
        origin_x: 0,
        origin_y: 0,
        steps,
        turns,
        appeared: Vec::new(),
        disappeared: Vec::new(),
        moves: Vec::new(),
    };
    let empty = frame(vec![], vec![]);
    assert_eq!(empty.steps(), Ok(vec![]));
    assert_eq!(empty.turns(), Ok(vec![]));
    assert!(empty.is_empty());

    assert_eq!(
        frame(vec![7, 0, 0, 3, 1], vec![]).steps(),
        Err(FrameError::PartialEntry("steps"))
    );
    assert_eq!(
        frame(vec![], vec![7, 0, 1]).turns(),
        Err(FrameError::PartialEntry("turns"))
    );
    assert_eq!(
        frame(vec![7, 0, 0, 3, -1, 0, 0, 3], vec![]).steps(),
        Err(FrameError::IdOrder("steps"))
    );
    assert_eq!(
        frame(vec![], vec![7, 0, -2, 0]).turns(),
        Err(FrameError::IdOrder("turns"))
    );
    // Ids that overflow u32.
    assert_eq!(
        frame(vec![], vec![i32::MAX, 0, i32::MAX, 0, 2, 0]).turns(),
        Err(FrameError::IdOrder("turns"))
    );
    assert_eq!(
        frame(vec![7, 0, 0, 8], vec![]).steps(),
        Err(FrameError::BadDirection("steps", 8))
    );
    assert_eq!(
        frame(vec![], vec![7, -1]).turns(),
        Err(FrameError::BadDirection("turns", -1))
    );
    // The codec itself accepts such arrays: unpacking is the client's check.
    let bytes = ServerMessage::Tick(frame(vec![7, 0, 0, 8], vec![])).encode();
    assert!(ServerMessage::decode(&bytes).is_ok());
}

/// How many bytes MessagePack's smallest encoding of `v` takes.
fn int_len(v: i64) -> usize {
    match v {
        -32..=127 => 1,
        -128..=255 => 2,
        -32_768..=65_535 => 3,
        -2_147_483_648..=4_294_967_295 => 5,
        _ => 9,
    }
}

/// 10 steps of avatars with nearby ids, within 0..100 tiles of the origin:
/// every integer of `steps` takes one byte, so 4 bytes per step, plus the
/// fixed overhead documented in PROTOCOL.md: `92 01 97` (3), the tick, both
/// origin coordinates, the steps array header (`dc 00 28`: 3, as 40 integers
/// are more than a fixarray holds) and three empty arrays (3).
#[test]
fn tick_frame_size() {
    let overhead = |tick: u64, origin: (i32, i32)| {
        3 + int_len(tick as i64) + int_len(origin.0.into()) + int_len(origin.1.into()) + 3 + 3
    };
    let mut rng = Rng(42);
    for round in 0..500 {
        let tick = rng.below(1 << 32);
        let origin = (
            rng.below(20_000) as i32 - 10_000,
            rng.below(20_000) as i32 - 10_000,
        );
        let mut builder = TickFrameBuilder::new(tick, origin);
        let mut id = rng.below(100) as u32;
        for _ in 0..10 {
            let from = (
                origin.0 + rng.below(100) as i32,
                origin.1 + rng.below(100) as i32,
            );
            builder.step(id, from, Direction::ALL[rng.below(8) as usize]);
            id += rng.below(10) as u32; // 0: the same avatar again
        }
        let bytes = ServerMessage::Tick(builder.finish()).encode();
        let fixed = overhead(tick, origin);
        assert!(fixed <= 24, "at most 24 bytes while tick < 2^32");
        assert_eq!(bytes.len(), 4 * 10 + fixed, "round {round}");
    }
    // The case in PROTOCOL.md: tick 1200, origin (0, 0): 14 + 40 bytes.
    let mut builder = TickFrameBuilder::new(1200, (0, 0));
    for i in 0..10u32 {
        builder.step(7 + 3 * i, (12 + i as i32, 9), Direction::Right);
    }
    let bytes = ServerMessage::Tick(builder.finish()).encode();
    assert_eq!(overhead(1200, (0, 0)), 14);
    assert_eq!(bytes.len(), 54);
}

// ---- since 1.1 ----------------------------------------------------------------

#[test]
fn map_changed_example() {
    let message = ServerMessage::MapChanged(metaoffice_protocol::MapChanged {
        map: MapRef {
            id: "demo".into(),
            url: "/maps/demo".into(),
            version: 2,
        },
    });
    let hex = "92059193a464656d6faa2f6d6170732f64656d6f02";
    assert_eq!(to_hex(&message.encode()), hex);
    assert_eq!(ServerMessage::decode(&from_hex(hex)), Ok(message));
    assert!(
        protocol_md().contains(hex),
        "PROTOCOL.md shows the MapChanged example"
    );
}

// ---- since 1.2 ----------------------------------------------------------------

fn group_formed() -> ServerMessage {
    ServerMessage::GroupFormed(GroupState {
        group: 3,
        kind: GroupKind::Proximity,
        room: None,
        members: vec![7, 12],
    })
}

fn group_changed() -> ServerMessage {
    ServerMessage::GroupChanged(GroupState {
        group: 4,
        kind: GroupKind::Room,
        room: Some("Lounge".into()),
        members: vec![7, 12, 15],
    })
}

fn group_dissolved() -> ServerMessage {
    ServerMessage::GroupDissolved(GroupDissolved { group: 3 })
}

fn meeting_ready() -> ServerMessage {
    ServerMessage::MeetingReady(MeetingReady {
        group: 3,
        provider: "local".into(),
        join_url: Some("local://metaoffice/demo/g1".into()),
        acs_group_call_id: None,
        acs_token: None,
        unavailable: None,
    })
}

fn meeting_unavailable() -> ServerMessage {
    ServerMessage::MeetingReady(MeetingReady {
        group: 3,
        provider: "graph".into(),
        join_url: None,
        acs_group_call_id: None,
        acs_token: None,
        unavailable: Some("meetings are unavailable".into()),
    })
}

const GROUP_FORMED: &str = "9206940300c092070c";
const GROUP_CHANGED: &str = "9207940401a64c6f756e676593070c0f";
const GROUP_DISSOLVED: &str = "92089103";
const MEETING_READY: &str =
    "92099603a56c6f63616cba6c6f63616c3a2f2f6d6574616f66666963652f64656d6f2f6731c0c0c0";
const MEETING_UNAVAILABLE: &str =
    "92099603a56772617068c0c0c0b86d656574696e67732061726520756e617661696c61626c65";

#[test]
fn group_and_meeting_examples() {
    for (message, hex) in [
        (group_formed(), GROUP_FORMED),
        (group_changed(), GROUP_CHANGED),
        (group_dissolved(), GROUP_DISSOLVED),
        (meeting_ready(), MEETING_READY),
        (meeting_unavailable(), MEETING_UNAVAILABLE),
    ] {
        golden_server(message, hex);
    }
}

#[test]
fn group_kind_codes_outside_the_table_are_malformed() {
    // GroupFormed of group 3, kind 2, no room, no members.
    let bytes = from_hex("92069403 02 c0 90");
    assert!(is_malformed(&ServerMessage::decode(&bytes)));
}

// ---- since 1.3 ----------------------------------------------------------------

/// Entra ID object ids of the scenario's Teams users (made up).
const ADA_ID: &str = "5b0c7d1e-2f34-4a56-8b78-9c0d1e2f3a4b";
const GRACE_ID: &str = "9e8d7c6b-5a49-4837-a625-1403f2e1d0c9";
/// Margaret is in office `lab`, not in `demo`.
const MARGARET_ID: &str = "c4b5a697-8877-4665-b544-332211009988";

fn knock_avatar() -> ClientMessage {
    ClientMessage::Knock(Knock {
        avatar: Some(12),
        user: None,
    })
}

fn knock_user() -> ClientMessage {
    ClientMessage::Knock(Knock {
        avatar: None,
        user: Some(MARGARET_ID.into()),
    })
}

fn walk_to() -> ClientMessage {
    ClientMessage::WalkTo(WalkTo { avatar: 12 })
}

fn list_people() -> ClientMessage {
    ClientMessage::ListPeople(ListPeople {})
}

fn locate() -> ClientMessage {
    ClientMessage::Locate(Locate {
        user: MARGARET_ID.into(),
    })
}

fn presences() -> ServerMessage {
    ServerMessage::Presences(Presences {
        entries: vec![PresenceEntry {
            avatar: 12,
            availability: 1,
            activity: 1,
        }],
    })
}

fn knocked() -> ServerMessage {
    ServerMessage::Knocked(Knocked {
        from_name: "Ada".into(),
        from_avatar: Some(7),
        from_user: Some(ADA_ID.into()),
        from_office: Some("demo".into()),
    })
}

fn knock_sent() -> ServerMessage {
    ServerMessage::KnockSent(KnockSent {
        avatar: Some(12),
        user: Some(GRACE_ID.into()),
        office: Some("demo".into()),
        feed: feed::QUEUED,
    })
}

fn people() -> ServerMessage {
    ServerMessage::People(People {
        people: vec![
            Person {
                avatar: 7,
                name: "Ada".into(),
                user: Some(ADA_ID.into()),
                x: 12,
                y: 9,
                zone: None,
                availability: 1,
                activity: 1,
            },
            Person {
                avatar: 15,
                name: "Alan".into(),
                user: None,
                x: 13,
                y: 10,
                zone: None,
                availability: 0,
                activity: 0,
            },
            Person {
                avatar: 12,
                name: "Grace".into(),
                user: Some(GRACE_ID.into()),
                x: 10,
                y: 11,
                zone: Some("Lounge".into()),
                availability: 5,
                activity: 8,
            },
        ],
    })
}

fn located() -> ServerMessage {
    ServerMessage::Located(Located {
        user: MARGARET_ID.into(),
        office: Some("lab".into()),
        avatar: Some(4),
        name: Some("Margaret".into()),
    })
}

fn walk_ended() -> ServerMessage {
    ServerMessage::WalkEnded(WalkEnded {
        avatar: 12,
        reason: walk_end::ARRIVED,
    })
}

const KNOCK_AVATAR: &str = "9204920cc0";
const KNOCK_USER: &str =
    "920492c0d92463346235613639372d383837372d343636352d623534342d333332323131303039393838";
const WALK_TO: &str = "9205910c";
const LIST_PEOPLE: &str = "920690";
const LOCATE: &str =
    "920791d92463346235613639372d383837372d343636352d623534342d333332323131303039393838";
const PRESENCES: &str = "920a9191930c0101";
const KNOCKED: &str = "920b94a341646107d92435623063376431652d326633342d346135362d386237382d396330643165326633613462a464656d6f";
const KNOCK_SENT: &str = "920c940cd92439653864376336622d356134392d343833372d613632352d313430336632653164306339a464656d6f01";
const PEOPLE: &str = "920d91939807a3416461d92435623063376431652d326633342d346135362d386237382d3963306431653266336134620c09c00101980fa4416c616ec00d0ac00000980ca54772616365d92439653864376336622d356134392d343833372d613632352d3134303366326531643063390a0ba64c6f756e67650508";
const LOCATED: &str = "920e94d92463346235613639372d383837372d343636352d623534342d333332323131303039393838a36c616204a84d61726761726574";
const WALK_ENDED: &str = "920f920c00";

#[test]
fn golden_knock() {
    golden_client(knock_avatar(), KNOCK_AVATAR);
    golden_client(knock_user(), KNOCK_USER);
}

#[test]
fn golden_walk_to() {
    golden_client(walk_to(), WALK_TO);
}

#[test]
fn golden_list_people() {
    golden_client(list_people(), LIST_PEOPLE);
}

#[test]
fn golden_locate() {
    golden_client(locate(), LOCATE);
}

#[test]
fn golden_presences() {
    golden_server(presences(), PRESENCES);
}

#[test]
fn golden_knocked() {
    golden_server(knocked(), KNOCKED);
}

#[test]
fn golden_knock_sent() {
    golden_server(knock_sent(), KNOCK_SENT);
}

#[test]
fn golden_people() {
    golden_server(people(), PEOPLE);
}

#[test]
fn golden_located() {
    golden_server(located(), LOCATED);
}

#[test]
fn golden_walk_ended() {
    golden_server(walk_ended(), WALK_ENDED);
}

/// An `AvatarSnapshot` from a 1.2 server has 8 elements: a 1.3 reader fills
/// in `availability` and `activity` with their default, 0 (unknown). One
/// with only `availability` gets activity 0.
#[test]
fn avatar_snapshot_from_1_2_has_unknown_presence() {
    let ada = avatar(
        7,
        "Ada",
        (13, 9),
        Direction::Right,
        Some(Direction::Right),
        400,
    );
    let snapshot = |avatar: AvatarSnapshot| {
        ServerMessage::Snapshot(Snapshot {
            tick: 1300,
            avatars: vec![avatar],
        })
    };
    // The 1.2 Snapshot example: `98`, eight fields.
    let v1_2 = from_hex("920292cd0514919807a34164610d09032803cd0190");
    let Ok(ServerMessage::Snapshot(decoded)) = ServerMessage::decode(&v1_2) else {
        panic!("a 1.2 snapshot decodes");
    };
    assert_eq!(
        (decoded.avatars[0].availability, decoded.avatars[0].activity),
        (0, 0)
    );
    assert_eq!(ServerMessage::Snapshot(decoded), snapshot(ada.clone()));
    // Nine fields: availability 5 (busy), activity missing.
    let nine = from_hex("920292cd0514919907a34164610d09032803cd019005");
    assert_eq!(
        ServerMessage::decode(&nine),
        Ok(snapshot(present(ada, 5, 0)))
    );
    // The same in a 1.2 Welcome and in a 1.2 tick frame's `appeared`.
    let welcome_1_2 = from_hex(
        "9200989201020714cd04b0cf0000019b76daa8000893a464656d6faa2f6d6170732f64656d6f03\
         919807a34164610c090128c000",
    );
    let Ok(ServerMessage::Welcome(welcome)) = ServerMessage::decode(&welcome_1_2) else {
        panic!("a 1.2 welcome decodes");
    };
    assert_eq!(welcome.version, Version { major: 1, minor: 2 });
    assert_eq!(
        welcome.avatars,
        vec![avatar(7, "Ada", (12, 9), Direction::Down, None, 0)]
    );
    let tick_1_2 = from_hex("920197cd04b10c099090919815a54c696e75731009022802ccc890");
    let Ok(ServerMessage::Tick(frame)) = ServerMessage::decode(&tick_1_2) else {
        panic!("a 1.2 tick frame decodes");
    };
    assert_eq!(
        frame.appeared,
        vec![avatar(
            21,
            "Linus",
            (16, 9),
            Direction::Left,
            Some(Direction::Left),
            200
        )]
    );
    // `progress` still has no default: seven fields are malformed.
    let seven = from_hex("920292cd0514919707a34164610d09032803");
    assert!(is_malformed(&ServerMessage::decode(&seven)));
}

/// The new messages' fields have no defaults: a payload that lacks one is
/// malformed, and so is a field of the wrong type.
#[test]
fn new_messages_missing_or_wrong_fields_are_malformed() {
    for hex in [
        "920491c0", // Knock without user
        "920590",   // WalkTo without avatar
        "920591c0", // WalkTo avatar nil
        "920790",   // Locate without user
        "92079107", // Locate user an integer
    ] {
        let result = ClientMessage::decode(&from_hex(hex));
        assert!(is_malformed(&result), "{hex}: {result:?}");
    }
    for hex in [
        "920a9191920c01",                 // PresenceEntry without activity
        "920a9191930c01cd0100",           // activity 256: not a u8
        "920b93a3416461c0c0",             // Knocked without from_office
        "920c930cc0c0",                   // KnockSent without feed
        "920e93a175c0c0",                 // Located without name
        "920f910c",                       // WalkEnded without reason
        "920d9191970ca3416461c00c09c001", // Person without activity
    ] {
        let result = ServerMessage::decode(&from_hex(hex));
        assert!(is_malformed(&result), "{hex}: {result:?}");
    }
}

/// The code tables in PROTOCOL.md match the constants.
#[test]
fn feed_and_walk_end_codes_are_in_the_tables() {
    let doc = protocol_md();
    for (code, name) in [
        (feed::NOT_SENT, "not sent"),
        (feed::QUEUED, "queued"),
        (feed::MERGED, "merged"),
        (feed::OVER_BUDGET, "over budget"),
    ] {
        let row = format!("| {code} | {name}: ");
        assert!(doc.contains(&row), "PROTOCOL.md lacks the feed row {row}");
    }
    for (code, name) in [
        (walk_end::ARRIVED, "arrived"),
        (walk_end::CANCELLED, "cancelled"),
        (walk_end::UNREACHABLE, "unreachable"),
        (walk_end::GONE, "gone"),
        (walk_end::BLOCKED, "blocked"),
    ] {
        let row = format!("| {code} | {name}: ");
        assert!(
            doc.contains(&row),
            "PROTOCOL.md lacks the walk_end row {row}"
        );
    }
}

/// The compact example resolves to exactly the steps and turn of the
/// tile-carrying one, given where the client knew each avatar would stand.
#[test]
fn compact_moves_resolve_to_the_same_updates() {
    let legacy = tick_frame();
    let mut expected: Vec<Update> = legacy
        .steps()
        .expect("steps")
        .into_iter()
        .map(Update::Step)
        .collect();
    expected.extend(legacy.turns().expect("turns").into_iter().map(Update::Turn));
    let known = |id| match id {
        7 => Some((12, 9)),
        12 => Some((10, 11)),
        15 => Some((13, 10)),
        _ => None,
    };
    let compact = tick_frame_compact();
    assert_eq!(compact.updates(known), Ok(expected.clone()));
    assert_eq!(legacy.updates(|_| None), Ok(expected));
    assert_eq!(compact.update_count(), legacy.update_count());
    // A client that does not know Grace cannot place her step.
    assert_eq!(
        compact.updates(|id| if id == 12 { None } else { known(id) }),
        Err(FrameError::UnknownAvatar(12))
    );
}

/// A fast avatar's second step in one frame starts where its first ended;
/// a negative id delta is malformed.
#[test]
fn compact_moves_chain_and_reject_bad_deltas() {
    let mut frame = TickFrameBuilder::new(5, (0, 0));
    frame
        .known_step(3, Direction::Right)
        .known_step(3, Direction::Down)
        .known_turn(3, Direction::Left)
        .known_step(9, Direction::UpLeft);
    let frame = frame.finish();
    let updates = frame
        .updates(|id| Some(if id == 3 { (1, 1) } else { (5, 5) }))
        .expect("resolves");
    let step = |avatar, from, dir| Update::Step(Step { avatar, from, dir });
    assert_eq!(
        updates,
        vec![
            step(3, (1, 1), Direction::Right),
            step(3, (2, 1), Direction::Down),
            Update::Turn(Turn {
                avatar: 3,
                dir: Direction::Left
            }),
            step(9, (5, 5), Direction::UpLeft),
        ]
    );
    let mut bad = frame.clone();
    bad.moves[1] = -16;
    assert_eq!(
        bad.updates(|_| Some((0, 0))),
        Err(FrameError::IdOrder("moves"))
    );
}

/// An echo's updates start on its `from` tile; codes above 15 are malformed.
#[test]
fn echo_updates() {
    let mut echo = Echo::new(9, (4, 4));
    echo.turn(Direction::Up)
        .step(Direction::Up)
        .step(Direction::Left);
    assert_eq!(
        echo.updates(7),
        Ok(vec![
            Update::Turn(Turn {
                avatar: 7,
                dir: Direction::Up
            }),
            Update::Step(Step {
                avatar: 7,
                from: (4, 4),
                dir: Direction::Up
            }),
            Update::Step(Step {
                avatar: 7,
                from: (4, 3),
                dir: Direction::Left
            }),
        ])
    );
    echo.moves.push(16);
    assert!(echo.updates(7).is_err());
}
