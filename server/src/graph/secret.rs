//! Secrets (client secrets, access keys, access tokens): held in memory,
//! never printed. `Debug` and `Display` show `<redacted>`; the value is read
//! only with [`Secret::expose`], where it goes on the wire.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string that must never reach a log.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for putting on the wire. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Serializes as `<redacted>`: a configuration written out (or merged as
/// defaults) never carries the secret.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_debug_nor_display_nor_serde_show_the_value() {
        let s = Secret::new("hunter2-very-secret");
        for shown in [
            format!("{s:?}"),
            format!("{s}"),
            format!("{s:#?}"),
            serde_json::to_string(&s).expect("json"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
