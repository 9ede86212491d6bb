//! Configuration: one typed struct, read from defaults, then the TOML file,
//! then `METAOFFICE_*` environment variables (`__` between sections, e.g.
//! `METAOFFICE_OFFICE__TICK_HZ=30`), then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::graph::{GraphConfig, Secret};
use crate::meetings::{AcsConfig, MeetingsConfig};
use crate::movement::CollisionStrategy;
pub use crate::office::groups::ConversationsConfig;
pub use crate::office::interest::ViewConfig;
pub use crate::presence::PresenceConfig;
use crate::store::DatabaseConfig;

/// Everything the server can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP and WebSocket port.
    pub listen: SocketAddr,
    /// The folder of Tiled maps: each map is an office.
    pub maps: PathBuf,
    /// Where the server keeps its data (the SQLite database).
    pub data_dir: PathBuf,
    /// Tilesets, sprites and the demo client, served under `/assets`.
    pub assets: PathBuf,
    /// How offices behave.
    pub office: OfficeConfig,
    /// How far clients see.
    pub view: ViewConfig,
    /// How conversation groups form (`[conversations]`).
    pub conversations: ConversationsConfig,
    /// Bounds on clients and queues.
    pub limits: Limits,
    /// Who may sign in, and how.
    pub auth: AuthConfig,
    /// Microsoft Graph and the identity platform (`[graph]`).
    pub graph: GraphConfig,
    /// Azure Communication Services (`[acs]`).
    pub acs: AcsConfig,
    /// Which meeting provider offices use, and the meeting desk (`[meetings]`).
    pub meetings: MeetingsConfig,
    /// Where the server keeps its data (`[database]`).
    pub database: DatabaseConfig,
    /// The admin API (`[admin]`).
    pub admin: AdminConfig,
    /// Teams presence and knocks (`[presence]`).
    pub presence: PresenceConfig,
}

/// `[admin]`: the admin API under `/admin`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// The bearer token that admin requests carry
    /// (`METAOFFICE_ADMIN__TOKEN`); unset, the admin API is off.
    pub token: Option<Secret>,
}

/// How offices behave (the same for every office for now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfficeConfig {
    /// Simulation ticks per second.
    pub tick_hz: u16,
    /// Walking speed in tiles per second.
    pub speed: f64,
    /// 4 or 8 walking directions.
    pub directions: u8,
    /// How avatars reserve tiles.
    pub collision_strategy: CollisionStrategy,
    /// Whether avatars block each other.
    pub avatars_collide: bool,
    /// The one tile property that blocks; unset, `ge_collide` or `collides` block.
    pub collision_property: Option<String>,
    /// Most avatars in one office.
    pub max_avatars: usize,
}

/// Bounds on clients and queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most WebSocket connections at once.
    pub max_connections: usize,
    /// Largest frame accepted from a client, bytes.
    pub max_frame_bytes: usize,
    /// Frames waiting for one client before it is resynchronised.
    pub outbox_frames: usize,
    /// Resynchronisations within `resync_window_ticks` before a client is
    /// disconnected as too slow.
    pub max_resyncs: u32,
    /// The window for `max_resyncs`, in ticks.
    pub resync_window_ticks: u64,
    /// Joins and leaves waiting for an office.
    pub office_inbox: usize,
    /// Messages per second a client may send, sustained.
    pub input_rate: f64,
    /// Messages a client may send in a burst.
    pub input_burst: f64,
    /// Seconds a new connection has to send `Join`.
    pub join_timeout_secs: u64,
    /// From this many people in an office, frames carry two ticks.
    pub batch_above_clients: usize,
}

/// Who may sign in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// When the development login (a display name, no token) is accepted.
    pub dev_login: DevLogin,
    /// Audiences a Teams SSO token may carry (the app's client id, its
    /// `api://...` URI); empty, `[graph] client_id` alone. With neither,
    /// Teams sign-in is off.
    pub audiences: Vec<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway_secs: u64,
}

/// When the development login is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DevLogin {
    /// Only while the server listens on a loopback address.
    #[default]
    Loopback,
    /// Always: for a trusted network only.
    Always,
    /// Never.
    Off,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            maps: PathBuf::from("maps"),
            data_dir: PathBuf::from("data"),
            assets: PathBuf::from("assets"),
            office: OfficeConfig::default(),
            view: ViewConfig::default(),
            conversations: ConversationsConfig::default(),
            limits: Limits::default(),
            auth: AuthConfig::default(),
            graph: GraphConfig::default(),
            acs: AcsConfig::default(),
            meetings: MeetingsConfig::default(),
            database: DatabaseConfig::default(),
            admin: AdminConfig::default(),
            presence: PresenceConfig::default(),
        }
    }
}

impl Default for OfficeConfig {
    fn default() -> OfficeConfig {
        OfficeConfig {
            tick_hz: 20,
            speed: 4.0,
            directions: 4,
            collision_strategy: CollisionStrategy::BlockTwoTiles,
            avatars_collide: true,
            collision_property: None,
            max_avatars: 10_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 20_000,
            max_frame_bytes: metaoffice_protocol::MAX_CLIENT_FRAME,
            outbox_frames: 64,
            max_resyncs: 5,
            resync_window_ticks: 600,
            office_inbox: 1024,
            input_rate: 30.0,
            input_burst: 60.0,
            join_timeout_secs: 10,
            batch_above_clients: 2_000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            dev_login: DevLogin::Loopback,
            audiences: Vec::new(),
            leeway_secs: 60,
        }
    }
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment could not be read into the struct.
    #[error("configuration: {0}")]
    Read(Box<figment::Error>),
    /// A key has a value the server cannot use.
    #[error("configuration key `{key}`: {reason}")]
    Invalid {
        /// The key, dotted (`office.tick_hz`).
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

pub(crate) fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

impl Config {
    /// Reads defaults, then `file` (if given; it must exist), then the
    /// environment. Flags are applied by the caller, then [`Config::validate`].
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(invalid(
                    "config",
                    format!("no such file: {}", file.display()),
                ));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("METAOFFICE_").split("__").ignore(&["config"]));
        figment
            .extract()
            .map_err(|e| ConfigError::Read(Box::new(e)))
    }

    /// Checks every value, naming the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let o = &self.office;
        if !(1..=120).contains(&o.tick_hz) {
            return Err(invalid("office.tick_hz", "must be 1 to 120"));
        }
        if o.speed.is_nan() || o.speed <= 0.0 || o.speed > 60.0 {
            return Err(invalid(
                "office.speed",
                "must be above 0 and at most 60 tiles per second",
            ));
        }
        if o.directions != 4 && o.directions != 8 {
            return Err(invalid("office.directions", "must be 4 or 8"));
        }
        if o.collision_property.as_deref().is_some_and(str::is_empty) {
            return Err(invalid("office.collision_property", "must not be empty"));
        }
        if o.max_avatars == 0 {
            return Err(invalid("office.max_avatars", "must be at least 1"));
        }
        if let Err((key, reason)) = self.view.validate() {
            return Err(invalid(key, reason));
        }
        if let Err((key, reason)) = self.conversations.validate() {
            return Err(invalid(key, reason));
        }
        if !(50..=60_000).contains(&self.database.config_sync_ms) {
            return Err(invalid("database.config_sync_ms", "must be 50 to 60000"));
        }
        let l = &self.limits;
        if l.max_connections == 0 {
            return Err(invalid("limits.max_connections", "must be at least 1"));
        }
        if !(256..=1 << 20).contains(&l.max_frame_bytes) {
            return Err(invalid("limits.max_frame_bytes", "must be 256 to 1048576"));
        }
        if l.outbox_frames < 4 {
            return Err(invalid("limits.outbox_frames", "must be at least 4"));
        }
        if l.office_inbox == 0 {
            return Err(invalid("limits.office_inbox", "must be at least 1"));
        }
        if l.input_rate.is_nan() || l.input_rate <= 0.0 {
            return Err(invalid("limits.input_rate", "must be above 0"));
        }
        if l.input_burst.is_nan() || l.input_burst < 1.0 {
            return Err(invalid("limits.input_burst", "must be at least 1"));
        }
        if l.join_timeout_secs == 0 {
            return Err(invalid("limits.join_timeout_secs", "must be at least 1"));
        }
        if self.auth.leeway_secs > 600 {
            return Err(invalid("auth.leeway_secs", "must be at most 600"));
        }
        if self.auth.audiences.iter().any(String::is_empty) {
            return Err(invalid("auth.audiences", "must not hold an empty audience"));
        }
        if self
            .admin
            .token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            return Err(invalid("admin.token", "must have at least 16 characters"));
        }
        self.graph.validate()?;
        self.acs.validate()?;
        self.meetings.validate(&self.graph, &self.acs)?;
        self.presence.validate()?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_listen_on_loopback() {
        let config = Config::default();
        config.validate().expect("defaults are valid");
        assert!(config.listen.ip().is_loopback());
        assert_eq!(config.office.tick_hz, 20);
    }

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "metaoffice.toml",
                "maps = \"offices\"\n[office]\ntick_hz = 30\ndirections = 8\n[limits]\noutbox_frames = 16\n",
            )?;
            jail.set_env("METAOFFICE_OFFICE__TICK_HZ", "25");
            jail.set_env("METAOFFICE_LISTEN", "127.0.0.1:9999");
            jail.set_env("METAOFFICE_CONFIG", "metaoffice.toml");
            let config = Config::load(Some(Path::new("metaoffice.toml"))).expect("loads");
            assert_eq!(
                config.office.tick_hz, 25,
                "the environment wins over the file"
            );
            assert_eq!(config.office.directions, 8, "the file wins over defaults");
            assert_eq!(config.limits.outbox_frames, 16);
            assert_eq!(config.maps, PathBuf::from("offices"));
            assert_eq!(config.listen, "127.0.0.1:9999".parse().expect("addr"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[office]\ntick_rate = 30\n")?;
            let error = Config::load(Some(Path::new("bad.toml")))
                .expect_err("unknown key")
                .to_string();
            assert!(error.contains("tick_rate"), "{error}");
            Ok(())
        });
        let mut config = Config::default();
        config.office.directions = 6;
        let error = config.validate().expect_err("invalid").to_string();
        assert!(error.contains("office.directions"), "{error}");
        let mut config = Config::default();
        config.office.speed = f64::NAN;
        assert!(
            config
                .validate()
                .expect_err("invalid")
                .to_string()
                .contains("office.speed")
        );
        let mut config = Config::default();
        config.conversations.leave_radius = 2.0;
        let error = config.validate().expect_err("invalid").to_string();
        assert!(error.contains("conversations.leave_radius"), "{error}");
        let mut config = Config::default();
        config.conversations.max_group_size = 1;
        let error = config.validate().expect_err("invalid").to_string();
        assert!(error.contains("conversations.max_group_size"), "{error}");
        let error = Config::load(Some(Path::new("/nonexistent/metaoffice.toml")))
            .expect_err("missing")
            .to_string();
        assert!(error.contains("no such file"), "{error}");
    }

    #[test]
    fn secrets_are_redacted_and_new_keys_are_checked() {
        let mut config = Config::default();
        config.admin.token = Some(Secret::new("admin-secret-value-123456"));
        config.database.url = Some("postgres://u:db-password@host/db".to_owned());
        config.validate().expect("valid");
        let shown = format!("{config:?}");
        assert!(!shown.contains("admin-secret-value"), "{shown}");
        assert!(!shown.contains("db-password"), "{shown}");
        config.admin.token = Some(Secret::new("short"));
        let error = config.validate().expect_err("short").to_string();
        assert!(error.contains("admin.token"), "{error}");
        let mut config = Config::default();
        config.auth.leeway_secs = 3600;
        let error = config.validate().expect_err("leeway").to_string();
        assert!(error.contains("auth.leeway_secs"), "{error}");
        let mut config = Config::default();
        config.auth.audiences = vec![String::new()];
        let error = config.validate().expect_err("audience").to_string();
        assert!(error.contains("auth.audiences"), "{error}");
    }
}
