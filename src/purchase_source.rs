//! Purchase sources: the channels an off-system payment came through (Cash, EFT, Yoco,
//! Shop 2 Shop, Payment Link), recorded when staff allocate it.

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::with_db;

/// A channel money can arrive through outside Settle's gateways.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PurchaseSource {
    /// Id (seed 004 uses UUIDs).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether it is an off-system channel (allocations) rather than a gateway.
    pub off_system: bool,
    /// The collector (merchant side) it belongs to, if scoped.
    pub collector_id: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl PurchaseSource {
    /// Adds a source.
    pub async fn create(
        db: &Db,
        id: &str,
        name: &str,
        off_system: bool,
        collector_id: Option<&str>,
    ) -> Result<PurchaseSource> {
        if id.trim().is_empty() || name.trim().is_empty() {
            return Err(Error::invalid("name", "a purchase source needs an id and a name"));
        }
        let source = PurchaseSource {
            id: id.to_owned(),
            name: name.trim().to_owned(),
            off_system,
            collector_id: collector_id.map(str::to_owned),
            created_at: Utc::now(),
        };
        let sql = "INSERT INTO purchase_sources (id, name, off_system, collector_id, created_at) VALUES ($1, $2, $3, $4, $5)";
        with_db!(db, pool => sqlx::query(sql)
            .bind(&source.id)
            .bind(&source.name)
            .bind(source.off_system)
            .bind(&source.collector_id)
            .bind(source.created_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(source)
    }

    /// The sources of a collector (and the unscoped ones), optionally only off-system ones, by name.
    pub async fn list(
        db: &Db,
        collector_id: Option<&str>,
        off_system_only: bool,
    ) -> Result<Vec<PurchaseSource>> {
        let sql = "SELECT id, name, off_system, collector_id, created_at FROM purchase_sources
                   WHERE ($1 IS NULL OR collector_id IS NULL OR collector_id = $1)
                     AND (NOT $2 OR off_system)
                   ORDER BY name";
        Ok(
            with_db!(db, pool => sqlx::query_as(sql).bind(collector_id).bind(off_system_only).fetch_all(pool).await)?,
        )
    }

    /// Loads a source.
    pub async fn find(db: &Db, id: &str) -> Result<Option<PurchaseSource>> {
        let sql = "SELECT id, name, off_system, collector_id, created_at FROM purchase_sources WHERE id = $1";
        Ok(with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }
}
