//! Login sessions stored in the application database, on either backend, so any server
//! instance can serve any request.

use async_trait::async_trait;
use settle::Db;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The session store of whichever backend the server runs on.
#[derive(Clone, Debug)]
pub enum DbSessionStore {
    /// Sessions in the SQLite file.
    Sqlite(SqliteStore),
    /// Sessions in PostgreSQL (schema `tower_sessions`).
    Postgres(PostgresStore),
}

impl DbSessionStore {
    /// A store on the application's own pool, with its table created if missing.
    pub async fn new(db: &Db) -> Result<DbSessionStore, sqlx::Error> {
        let store = match db {
            Db::Sqlite(pool) => DbSessionStore::Sqlite(SqliteStore::new(pool.clone())),
            Db::Postgres(pool) => DbSessionStore::Postgres(PostgresStore::new(pool.clone())),
        };
        match &store {
            DbSessionStore::Sqlite(s) => s.migrate().await?,
            DbSessionStore::Postgres(s) => s.migrate().await?,
        }
        Ok(store)
    }
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            DbSessionStore::Sqlite($store) => $call,
            DbSessionStore::Postgres($store) => $call,
        }
    };
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        delegate!(self, s => s.create(record).await)
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        delegate!(self, s => s.save(record).await)
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        delegate!(self, s => s.load(session_id).await)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        delegate!(self, s => s.delete(session_id).await)
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        delegate!(self, s => s.delete_expired().await)
    }
}
