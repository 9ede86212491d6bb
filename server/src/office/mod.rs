//! Offices: each runs its own simulation world on a fixed tick.

pub mod sim;
