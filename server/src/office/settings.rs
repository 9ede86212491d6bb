//! Stored office settings as a running office applies them: the admin API
//! and the config sync (see [`crate::settings`]) send
//! [`super::network::OfficeCommand::Configure`] into the office's inbox, and
//! the receive phase applies it, so a change is in force from the next tick.
//!
//! The map is not here: a new map goes through
//! [`super::network::OfficeCommand::ReplaceMap`], exactly as when its file
//! changes on disk.

use bevy_ecs::prelude::*;

use super::conversations::{Conversations, OfficeMeetings};
use super::groups::ConversationsConfig;
use crate::meetings::ProviderKind;

/// Most tiles a stored conversation radius may be: the leave radius
/// (`radius + 1`) stays within what `[conversations]` allows (32).
pub const MAX_CONVERSATION_RADIUS: i64 = 31;

/// What an office's stored settings change while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSettings {
    /// How conversation groups form.
    pub conversations: ConversationsConfig,
    /// The provider named in `MeetingReady` when a meeting fails (the desk
    /// asks [`crate::meetings::Providers`] for the office's provider itself).
    pub provider: ProviderKind,
}

/// The conversation rules for a stored `conversation_radius` of `radius`
/// tiles: two avatars `radius` tiles apart or closer (Euclidean) join a
/// group, and its members stay together up to `radius + 1` tiles (the
/// hysteresis). Dwell and group size stay as `[conversations]` says.
pub fn conversations_for_radius(base: &ConversationsConfig, radius: i64) -> ConversationsConfig {
    let radius = radius.clamp(1, MAX_CONVERSATION_RADIUS) as f64;
    ConversationsConfig {
        join_radius: radius,
        leave_radius: radius + 1.0,
        ..base.clone()
    }
}

impl LiveSettings {
    /// Applies the settings to the office's world (receive phase).
    pub fn apply(self, world: &mut World) {
        if let Some(mut conversations) = world.get_resource_mut::<Conversations>() {
            conversations.config = self.conversations;
        }
        if let Some(mut meetings) = world.get_resource_mut::<OfficeMeetings>() {
            meetings.provider = self.provider;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_radius_joins_at_that_distance_and_leaves_one_tile_further() {
        let base = ConversationsConfig {
            dwell_ms: 700,
            ..ConversationsConfig::default()
        };
        let c = conversations_for_radius(&base, 4);
        assert_eq!((c.join_radius, c.leave_radius), (4.0, 5.0));
        assert_eq!(c.dwell_ms, 700);
        assert!(c.validate().is_ok());
        let widest = conversations_for_radius(&base, 64);
        assert_eq!(widest.leave_radius, 32.0);
        assert!(widest.validate().is_ok());
    }
}
