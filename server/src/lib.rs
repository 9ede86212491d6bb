//! The MetaOffice server: an authoritative, real-time 2D office.
//!
//! Data flows one way through each office: connection tasks ([`net`]) decode
//! client frames and hand joins and leaves to the office's bounded inbox and
//! held directions to a per-avatar input slot; the office task ([`office`])
//! owns a bevy_ecs `World` and advances it on a fixed tick (receive →
//! movement by grid-engine's rules ([`movement`]) → emit); the emit phase
//! encodes one frame per tick and puts the same bytes in each client's
//! bounded outbox, which a writer task drains to the socket. Nothing in a
//! tick waits on I/O. Maps come from Tiled files ([`map`]).
//!
//! Side tasks talk to Microsoft: [`graph`] (identity platform, Graph, ACS,
//! with budgets, retries and circuit breakers) and [`meetings`] (the
//! meeting desk offices ask for meetings through, and the providers behind
//! it). Timers there take an injected [`clock`].
//!
//! Stored office configurations ([`settings`]) reach running offices as
//! commands in their inboxes: at start, from the [`admin`] API, and from
//! the config sync that polls the database ([`store`]) for other nodes'
//! changes.

pub mod admin;
pub mod clock;
pub mod config;
pub mod graph;
pub mod identity;
pub mod map;
pub mod meetings;
pub mod metrics;
pub mod movement;
pub mod net;
pub mod office;
pub mod presence;
pub mod server;
pub mod settings;
pub mod simulate;
pub mod store;

pub use config::Config;
pub use server::{ServerError, run};
