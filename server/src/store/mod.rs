//! Storage: what the server keeps between runs (DESIGN.md, "Data the server
//! keeps"), through sqlx's `Any` driver so SQLite (the default, a file in the
//! data folder) and PostgreSQL (`DATABASE_URL` or `[database] url`) run the
//! same migrations and the same queries. Queries are checked at run time:
//! no build needs a database.
//!
//! Reads happen in connection tasks and HTTP handlers; writes that come from
//! offices and sign-ins go through [`writer::StoreWriter`], a task fed by a
//! bounded channel, so an office never waits for the database.

pub mod queries;
pub mod writer;

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};

pub use writer::{StoreWriter, Write};

/// A storage fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused a query.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The migrations could not be applied.
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store task has stopped (the server is stopping).
    #[error("the store task has stopped")]
    Stopped,
    /// The data folder could not be created.
    #[error("cannot create the data folder {0}: {1}")]
    DataDir(String, std::io::Error),
}

/// The `[database]` section.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A `postgres://` (or `sqlite:`) URL; unset, `DATABASE_URL`, else SQLite
    /// in the data folder.
    pub url: Option<String>,
    /// How often, in ms, the config sync looks for office settings other
    /// nodes (or anything else) wrote to the database.
    pub config_sync_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> DatabaseConfig {
        DatabaseConfig {
            url: None,
            config_sync_ms: 1500,
        }
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A URL may hold a password.
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("config_sync_ms", &self.config_sync_ms)
            .finish()
    }
}

impl DatabaseConfig {
    /// The URL to open: `[database] url`, else `DATABASE_URL`, else a SQLite
    /// file in `data_dir`.
    pub fn resolve(&self, data_dir: &Path) -> String {
        if let Some(url) = self.url.as_ref().filter(|u| !u.is_empty()) {
            return url.clone();
        }
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            return url;
        }
        sqlite_url(data_dir)
    }
}

/// The URL of the SQLite file in `data_dir`, created on first open.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("metaoffice.db").display()
    )
}

/// The migrations in `server/migrations/`, compiled in.
fn migrator() -> Migrator {
    let migrations = vec![Migration::new(
        1,
        Cow::Borrowed("identity"),
        MigrationType::Simple,
        Cow::Borrowed(include_str!("../../migrations/0001_identity.sql")),
        false,
    )];
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// The database: a pool, migrated.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
}

impl Store {
    /// Opens `url` (creating the SQLite file and its folder if needed) and
    /// applies the migrations. An unreachable database is an error here.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        if let Some(path) = url.strip_prefix("sqlite://") {
            let file = Path::new(path.split('?').next().unwrap_or(path));
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::DataDir(dir.display().to_string(), e))?;
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if url.starts_with("sqlite") { 1 } else { 8 })
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        migrator().run(&pool).await?;
        Ok(Store { pool })
    }

    /// Which kind of database this is, for logs.
    pub fn kind(&self) -> &'static str {
        match self.pool.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => "PostgreSQL",
            "sqlite" => "SQLite",
            _ => "database",
        }
    }

    /// The pool, for tests and tools.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
