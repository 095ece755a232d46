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
    /// Whether it is offered (a disabled source is listed to nobody but operators).
    pub enabled: bool,
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
            enabled: true,
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

    /// The enabled sources of a collector (and the unscoped ones), optionally only off-system ones, by name.
    pub async fn list(
        db: &Db,
        collector_id: Option<&str>,
        off_system_only: bool,
    ) -> Result<Vec<PurchaseSource>> {
        let sql =
            "SELECT id, name, off_system, collector_id, created_at, enabled FROM purchase_sources
                   WHERE ($1 IS NULL OR collector_id IS NULL OR collector_id = $1)
                     AND (NOT $2 OR off_system) AND enabled
                   ORDER BY name";
        Ok(
            with_db!(db, pool => sqlx::query_as(sql).bind(collector_id).bind(off_system_only).fetch_all(pool).await)?,
        )
    }

    /// Loads a source.
    pub async fn find(db: &Db, id: &str) -> Result<Option<PurchaseSource>> {
        let sql = "SELECT id, name, off_system, collector_id, created_at, enabled FROM purchase_sources WHERE id = $1";
        Ok(with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }

    /// Every source, enabled or not, by name (the operator's list).
    pub async fn all(db: &Db) -> Result<Vec<PurchaseSource>> {
        let sql = "SELECT id, name, off_system, collector_id, created_at, enabled FROM purchase_sources ORDER BY name";
        Ok(with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
    }

    /// Adds an off-system source as an operator: a new id, audited.
    pub async fn add(
        db: &Db,
        actor: &crate::audit::Actor,
        name: &str,
        collector_id: Option<&str>,
    ) -> Result<PurchaseSource> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("name", "is required, at most 100 characters"));
        }
        let collector_id = collector_id.map(str::trim).filter(|c| !c.is_empty());
        let taken = Self::all(db).await?.into_iter().any(|s| {
            s.name.eq_ignore_ascii_case(name) && s.collector_id.as_deref() == collector_id
        });
        if taken {
            return Err(Error::invalid("name", format!("{name} is already a purchase source")));
        }
        let source = PurchaseSource {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            off_system: true,
            collector_id: collector_id.map(str::to_owned),
            created_at: Utc::now(),
            enabled: true,
        };
        let mut tx = db.begin().await?;
        let sql = "INSERT INTO purchase_sources (id, name, off_system, collector_id, created_at, enabled) VALUES ($1, $2, $3, $4, $5, $6)";
        crate::with_tx!(&mut tx, conn => sqlx::query(sql)
            .bind(&source.id)
            .bind(&source.name)
            .bind(source.off_system)
            .bind(&source.collector_id)
            .bind(source.created_at)
            .bind(source.enabled)
            .execute(conn)
            .await
            .map(|_| ()))?;
        crate::audit::record_in(
            &mut tx,
            actor,
            "purchase_source.create",
            &format!("purchase_source:{}", source.id),
            &format!("{:?}", source.name),
        )
        .await?;
        tx.commit().await?;
        Ok(source)
    }

    /// Enables or disables a source, audited.
    pub async fn set_enabled(
        db: &Db,
        actor: &crate::audit::Actor,
        id: &str,
        enabled: bool,
    ) -> Result<()> {
        let mut tx = db.begin().await?;
        let sql = "UPDATE purchase_sources SET enabled = $2 WHERE id = $1";
        let n = crate::with_tx!(&mut tx, conn => sqlx::query(sql).bind(id).bind(enabled).execute(conn).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(Error::NotFound("purchase source"));
        }
        let action = if enabled { "purchase_source.enable" } else { "purchase_source.disable" };
        crate::audit::record_in(&mut tx, actor, action, &format!("purchase_source:{id}"), action)
            .await?;
        tx.commit().await
    }
}
