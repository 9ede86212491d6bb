//! Test databases: SQLite in a temporary folder always; PostgreSQL too when
//! `DATABASE_URL` is set, each in a schema of its own so that parallel tests
//! never meet (dropped by [`TestDb::drop_schema`]).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Executor;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// One database for one test.
pub struct TestDb {
    /// The URL to open.
    pub url: String,
    /// `(server URL, schema)` for PostgreSQL.
    schema: Option<(String, String)>,
}

/// The PostgreSQL server tests use, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

impl TestDb {
    /// SQLite in `dir`.
    pub fn sqlite(dir: &Path) -> TestDb {
        TestDb {
            url: metaoffice_server::store::sqlite_url(dir),
            schema: None,
        }
    }

    /// A new schema on `server`.
    pub async fn postgres(server: &str) -> TestDb {
        sqlx::any::install_default_drivers();
        let schema = format!(
            "mo_test_{}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(server)
            .await
            .expect("DATABASE_URL reachable");
        conn.execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .expect("create schema");
        let sep = if server.contains('?') { '&' } else { '?' };
        TestDb {
            url: format!("{server}{sep}options[search_path]={schema}"),
            schema: Some((server.to_owned(), schema)),
        }
    }

    /// Every database to run a test on: SQLite in `dir`, and PostgreSQL when
    /// `DATABASE_URL` is set.
    pub async fn all(dir: &Path) -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite(dir)];
        if let Some(server) = postgres_url() {
            dbs.push(TestDb::postgres(&server).await);
        }
        dbs
    }

    /// Drops the PostgreSQL schema (nothing to do for SQLite).
    pub async fn drop_schema(&self) {
        if let Some((server, schema)) = &self.schema
            && let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(server).await
        {
            let _ = conn
                .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                .await;
        }
    }
}
