//! A fresh, migrated database per test: a temporary SQLite file, and when
//! `SETTLE_TEST_POSTGRES_URL` is set, a fresh PostgreSQL database (`settle_test_<uuid>`) that is
//! dropped afterwards. [`each_backend`] runs one test body on every configured backend.

#![allow(dead_code)] // each test binary uses a different part of this

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Once;

use anyhow::{Context, Result};
use settle::Db;
use settle::db::Backend;
use sqlx::Connection;

/// The environment variable naming a PostgreSQL server (any database on it) to test against.
pub const POSTGRES_URL_VAR: &str = "SETTLE_TEST_POSTGRES_URL";

/// Pool size of every test pool.
const MAX_CONNECTIONS: u32 = 10;

/// A database that exists for one test; removed when dropped.
///
/// Fields are private on purpose: a test body `async move { t.db... }` would capture only the
/// field it names (closures capture disjoint fields) and drop the rest, removing the database
/// before the test runs. Methods borrow the whole `TestDb`, keeping it alive.
pub struct TestDb {
    db: Db,
    url: String,
    backend: Backend,
    /// Last, so it runs after the pool is dropped.
    _cleanup: Cleanup,
}

/// Removes a test database when dropped.
enum Cleanup {
    Files(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh temporary SQLite database.
    pub async fn sqlite() -> Result<TestDb> {
        let path =
            std::env::temp_dir().join(format!("settle-test-{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", path.display());
        Self::open(url, Backend::Sqlite, Cleanup::Files(path)).await
    }

    /// A fresh database on the PostgreSQL server `admin_url` points at.
    pub async fn postgres(admin_url: &str) -> Result<TestDb> {
        let name = format!("settle_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {POSTGRES_URL_VAR}={admin_url}"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        conn.close().await.ok();
        let mut url = url::Url::parse(admin_url).context("parsing the PostgreSQL URL")?;
        url.set_path(&name);
        let cleanup = Cleanup::Postgres { admin_url: admin_url.to_owned(), name };
        Self::open(url.to_string(), Backend::Postgres, cleanup).await
    }

    async fn open(url: String, backend: Backend, cleanup: Cleanup) -> Result<TestDb> {
        // `cleanup` removes the database if connecting or migrating fails.
        let db = Db::connect(&url, MAX_CONNECTIONS)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        db.migrate().await.context("running migrations")?;
        Ok(TestDb { db, url, backend, _cleanup: cleanup })
    }

    /// The pool on it, migrated.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Its URL (to connect again, as another server instance or after a restart).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend it is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Another pool on the same database (a second server instance, or the same one after a
    /// restart).
    pub async fn connect(&self) -> Result<Db> {
        Db::connect(&self.url, MAX_CONNECTIONS)
            .await
            .with_context(|| format!("connecting to {}", self.url))
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn name(&self) -> &'static str {
        self.backend.name()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Files(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop can't await, and may run inside the test's runtime: use a thread with its
                // own. FORCE ends the connections our pools still hold.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let dropped = std::thread::spawn(move || {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime.block_on(async {
                        let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await?;
                        conn.close().await?;
                        anyhow::Ok(())
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    let _ = writeln!(std::io::stderr(), "warning: could not drop test database");
                }
            }
        }
    }
}

/// The PostgreSQL server to test against, if configured; says once (uncaptured) when not.
pub fn postgres_url() -> Option<String> {
    static SKIP_NOTE: Once = Once::new();
    let url = std::env::var(POSTGRES_URL_VAR).ok().filter(|u| !u.trim().is_empty());
    if url.is_none() {
        SKIP_NOTE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "note: {POSTGRES_URL_VAR} is not set, so the PostgreSQL runs of these tests are skipped"
            );
        });
    }
    url
}

/// Runs `test` on a fresh SQLite database, then (if configured) on a fresh PostgreSQL database;
/// an error names the backend it happened on.
pub async fn each_backend<F, Fut>(test: F) -> Result<()>
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let sqlite = TestDb::sqlite().await.context("creating a SQLite test database")?;
    test(sqlite).await.context("on sqlite")?;
    if let Some(url) = postgres_url() {
        let postgres =
            TestDb::postgres(&url).await.context("creating a PostgreSQL test database")?;
        test(postgres).await.context("on postgres")?;
    }
    Ok(())
}
