//! The network edge: HTTP routes and WebSocket connections. Connection tasks
//! never touch an office's world; they talk to offices through
//! [`crate::office::OfficeHandle`].

pub mod connection;
pub mod http;
mod login;
mod people;
pub mod ratelimit;
pub mod session;
