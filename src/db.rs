//! The database: SQLite (embedded default) or PostgreSQL, behind one query layer.
//!
//! sqlx's `Any` driver lacks timestamps, so the core keeps a concrete pool per backend and writes
//! each query once: [`with_db!`](crate::with_db) expands a block for both pools, so the same SQL
//! text and the same row types are checked against both drivers at compile time. SQL is written
//! in the dialect both understand (`$1` placeholders, `RETURNING`, `ON CONFLICT`); the few
//! backend-specific statements (job leasing) match on [`Db`] explicitly.
//!
//! Conventions every table follows: ids are TEXT (UUID v7 strings), money is BIGINT minor units
//! next to a currency column, times are UTC `chrono::DateTime<Utc>` bound from Rust (never SQL
//! defaults, whose SQLite text format differs from sqlx's).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::error::{Error, Result};

/// A pool on one of the two supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// Production: several server instances may share one database.
    Postgres(PgPool),
}

/// Which backend a URL or pool names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` / `postgresql:` URLs.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, or `None` for an unsupported scheme.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// A short lowercase name for logs and health output.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool (`&SqlitePool` or `&PgPool`).
///
/// The body is compiled once per backend, so it must only use what both drivers support.
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `url`, creating the SQLite file if it does not exist yet.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db> {
        match Backend::of_url(url) {
            Some(Backend::Sqlite) => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    // Writers queue on SQLite's single write lock instead of failing at once.
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Ok(Db::Sqlite(pool))
            }
            Some(Backend::Postgres) => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Ok(Db::Postgres(pool))
            }
            None => Err(Error::invalid(
                "database_url",
                "must start with sqlite: or postgres: (for example sqlite://settle.db)",
            )),
        }
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The backend of this pool.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Answers whether the database takes queries (for readiness probes).
    pub async fn ping(&self) -> Result<()> {
        with_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Versions of the migrations applied so far, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let sql = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let versions = with_db!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await)?;
        Ok(versions)
    }

    /// Empties the database as if it were new: drops every table (with their triggers and
    /// sequences), the trigger functions of Settle's schema, the login sessions and the record of
    /// applied migrations, all in one transaction (nothing is dropped if any step fails), then
    /// applies the migrations again. Only `settle-server demo-data --reset` calls this.
    pub async fn reset(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        match &mut tx {
            Tx::Sqlite(t) => {
                // Newest first, so a table goes before the tables it refers to; the deferred
                // check covers references added later (checked at commit, when none are left).
                sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut **t).await?;
                let sql = "SELECT name FROM sqlite_master WHERE type = 'table'
                           AND name NOT LIKE 'sqlite_%' ORDER BY rowid DESC";
                let tables: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut **t).await?;
                for table in tables {
                    let drop = format!("DROP TABLE IF EXISTS {}", quoted(&table));
                    sqlx::query(&drop).execute(&mut **t).await?;
                }
            }
            Tx::Postgres(t) => {
                let sql =
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()";
                let tables: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut **t).await?;
                for table in tables {
                    let drop = format!("DROP TABLE IF EXISTS {} CASCADE", quoted(&table));
                    sqlx::query(&drop).execute(&mut **t).await?;
                }
                // The migrations' trigger functions (not those an extension owns).
                let sql = "SELECT p.proname::text || '(' || pg_get_function_identity_arguments(p.oid) || ')'
                           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                           WHERE n.nspname = current_schema() AND NOT EXISTS
                             (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')";
                let functions: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut **t).await?;
                for function in functions {
                    let drop = format!("DROP FUNCTION IF EXISTS {function} CASCADE");
                    sqlx::query(&drop).execute(&mut **t).await?;
                }
                // The session store keeps its table in a schema of its own.
                sqlx::query("DROP TABLE IF EXISTS tower_sessions.session")
                    .execute(&mut **t)
                    .await?;
            }
        }
        tx.commit().await?;
        self.migrate().await
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        with_db!(self, pool => pool.close().await)
    }
}

/// A transaction on either backend; state changes and what they cause (events, jobs) commit
/// together through it.
pub enum Tx {
    /// On SQLite.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// On PostgreSQL.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$conn` bound to the transaction's connection (`&mut SqliteConnection` or
/// `&mut PgConnection`); like [`with_db!`](crate::with_db), the body is compiled for both.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

impl Db {
    /// Starts a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a
    /// deferred transaction that reads before it writes fails with SQLITE_BUSY_SNAPSHOT when
    /// another connection wrote in between, whereas an immediate one waits its turn
    /// (`busy_timeout`) and then sees the latest data.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

impl Tx {
    /// Marks a point this transaction can go back to ([`rollback_to`](Self::rollback_to)),
    /// undoing only what came after it.
    pub async fn savepoint(&mut self, name: &'static str) -> Result<()> {
        self.run(&format!("SAVEPOINT {name}")).await
    }

    /// Keeps what was done since the savepoint `name` (it is no longer needed).
    pub async fn release(&mut self, name: &'static str) -> Result<()> {
        self.run(&format!("RELEASE SAVEPOINT {name}")).await
    }

    /// Undoes what was done since the savepoint `name`; the rest of the transaction stands.
    pub async fn rollback_to(&mut self, name: &'static str) -> Result<()> {
        self.run(&format!("ROLLBACK TO SAVEPOINT {name}")).await
    }

    async fn run(&mut self, sql: &str) -> Result<()> {
        with_tx!(self, conn => sqlx::query(sql).execute(conn).await.map(|_| ()))?;
        Ok(())
    }

    /// Commits everything done in the transaction.
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// `name` as a double-quoted SQL identifier (both backends).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
