//! Collectors: the billing entities an ISP merchant collects through (seed 004's
//! `collector_id`). A service names its collector; the gateway's post-back names one too, and the
//! customer is sent on only to the origins of the merchant the collector belongs to.

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::with_db;

/// A merchant's collector.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Collector {
    /// Its id (seed 004 uses UUIDs).
    pub id: String,
    /// The merchant it collects for.
    pub merchant_id: MerchantId,
    /// How staff know it.
    pub name: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl Collector {
    /// Adds a collector for a merchant.
    pub async fn create(db: &Db, id: &str, merchant: &MerchantId, name: &str) -> Result<Collector> {
        if id.trim().is_empty() || name.trim().is_empty() {
            return Err(Error::invalid("collector", "a collector needs an id and a name"));
        }
        let collector = Collector {
            id: id.trim().to_owned(),
            merchant_id: merchant.clone(),
            name: name.trim().to_owned(),
            created_at: Utc::now(),
        };
        let sql =
            "INSERT INTO collectors (id, merchant_id, name, created_at) VALUES ($1, $2, $3, $4)";
        with_db!(db, pool => sqlx::query(sql)
            .bind(&collector.id)
            .bind(&collector.merchant_id)
            .bind(&collector.name)
            .bind(collector.created_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(collector)
    }

    /// A collector by its id, in any letter case (the document mixes cases in its UUIDs); each
    /// spelling is looked up exactly, so the primary key serves every lookup.
    pub async fn find(db: &Db, id: &str) -> Result<Option<Collector>> {
        let given = id.trim();
        let mut spellings = vec![given.to_owned(), given.to_lowercase(), given.to_uppercase()];
        spellings.dedup();
        let sql = "SELECT id, merchant_id, name, created_at FROM collectors WHERE id = $1";
        for spelling in spellings {
            let found: Option<Collector> = with_db!(db, pool => sqlx::query_as(sql)
                .bind(&spelling)
                .fetch_optional(pool)
                .await)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}
