//! The MetaOffice server: an authoritative, real-time 2D office.
//!
//! Data flows one way through each office: connection tasks (`net`) decode
//! client frames and hand joins, leaves and held directions to the office;
//! the office task (`office`) owns a bevy_ecs `World` and advances it on a
//! fixed tick (receive → movement by grid-engine's rules → emit); the emit
//! phase encodes one frame per tick and puts it in each client's bounded
//! outbox, which a writer task drains to the socket. Nothing in a tick waits
//! on I/O.

pub mod map;
pub mod movement;
pub mod office;
pub mod simulate;
