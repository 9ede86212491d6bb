//! `[presence]`: how Teams presence is read and written, and how knocks are
//! limited.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{ConfigError, invalid};

/// `[presence]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceConfig {
    /// Whether presence is read from and written to Teams when `[graph]`
    /// has credentials. Off, avatars show `Unknown` and knocks stay in the
    /// office (the knock limits still apply).
    pub enabled: bool,
    /// A user's presence is not read again sooner than this, seconds.
    pub refresh_secs: u64,
    /// Presence last read longer ago than this is shown as `Unknown`
    /// (a Graph outage, a tenant throttled for long), seconds. Ids Graph
    /// does not know are read again after this long too.
    pub stale_after_secs: u64,
    /// How often the presence tasks look for work, milliseconds.
    pub tick_ms: u64,
    /// Whether people in a conversation group with a meeting show as
    /// Busy / InACall in Teams (`setPresence`).
    pub write_presence: bool,
    /// How long one `setPresence` lasts, seconds (Graph takes 300 to 14,400).
    pub expiration_secs: u64,
    /// The presence written is renewed this long before it lapses, seconds.
    pub renew_margin_secs: u64,
    /// Knocks from the same person on the same person within this many
    /// seconds make one notification.
    pub knock_merge_secs: u64,
    /// Knocks one person may make per minute, whoever they knock on.
    pub knocks_per_minute: u32,
    /// The activity type of knock notifications: `systemDefault`, or one
    /// the Teams app's manifest declares.
    pub knock_activity_type: String,
    /// Where a click on a knock notification leads; `{office}` is replaced
    /// with the office's id.
    pub knock_web_url: String,
    /// Knock notifications waiting to be sent before more are refused as
    /// over budget.
    pub knock_queue: usize,
}

impl Default for PresenceConfig {
    fn default() -> PresenceConfig {
        PresenceConfig {
            enabled: true,
            refresh_secs: 30,
            stale_after_secs: 300,
            tick_ms: 1000,
            write_presence: true,
            expiration_secs: 600,
            renew_margin_secs: 120,
            knock_merge_secs: 30,
            knocks_per_minute: 10,
            knock_activity_type: "systemDefault".to_owned(),
            knock_web_url: "https://teams.microsoft.com".to_owned(),
            knock_queue: 256,
        }
    }
}

impl PresenceConfig {
    /// Checks every value, naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("presence.refresh_secs", self.refresh_secs),
            ("presence.tick_ms", self.tick_ms),
            ("presence.renew_margin_secs", self.renew_margin_secs),
            (
                "presence.knocks_per_minute",
                u64::from(self.knocks_per_minute),
            ),
            ("presence.knock_queue", self.knock_queue as u64),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.stale_after_secs <= self.refresh_secs {
            return Err(invalid(
                "presence.stale_after_secs",
                "must be more than presence.refresh_secs",
            ));
        }
        if self.tick_ms > 60_000 {
            return Err(invalid("presence.tick_ms", "must be at most 60000"));
        }
        if !(300..=14_400).contains(&self.expiration_secs) {
            return Err(invalid(
                "presence.expiration_secs",
                "must be 300 to 14400 (Graph takes PT5M to PT4H)",
            ));
        }
        if self.renew_margin_secs >= self.expiration_secs {
            return Err(invalid(
                "presence.renew_margin_secs",
                "must be less than presence.expiration_secs",
            ));
        }
        if self.knock_merge_secs > 3600 {
            return Err(invalid("presence.knock_merge_secs", "must be at most 3600"));
        }
        let activity_ok = !self.knock_activity_type.is_empty()
            && self
                .knock_activity_type
                .chars()
                .all(|c| c.is_ascii_alphanumeric());
        if !activity_ok {
            return Err(invalid(
                "presence.knock_activity_type",
                "must be a non-empty activity type name (letters and digits)",
            ));
        }
        let sample = self.knock_web_url.replace("{office}", "office");
        match Url::parse(&sample) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
            _ => {
                return Err(invalid(
                    "presence.knock_web_url",
                    "must be an https URL with a host",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        PresenceConfig::default().validate().expect("defaults");
        let named = |change: fn(&mut PresenceConfig), key: &str| {
            let mut config = PresenceConfig::default();
            change(&mut config);
            let error = config.validate().expect_err("invalid").to_string();
            assert!(error.contains(key), "{error} should name {key}");
        };
        named(|c| c.expiration_secs = 299, "presence.expiration_secs");
        named(|c| c.expiration_secs = 14_401, "presence.expiration_secs");
        named(|c| c.renew_margin_secs = 600, "presence.renew_margin_secs");
        named(|c| c.stale_after_secs = 30, "presence.stale_after_secs");
        named(|c| c.knocks_per_minute = 0, "presence.knocks_per_minute");
        named(
            |c| c.knock_web_url = "http://example.com".into(),
            "presence.knock_web_url",
        );
        named(
            |c| c.knock_activity_type = "a b".into(),
            "presence.knock_activity_type",
        );
    }
}
