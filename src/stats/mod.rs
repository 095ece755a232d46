//! Numbers for the admin console: headline counts here, the dashboard in [`dashboard`].

pub mod dashboard;

use crate::db::Db;
use crate::error::Result;
use crate::with_db;

/// Counts shown on the admin console's start page.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overview {
    /// Customers on record.
    pub customers: i64,
    /// Services.
    pub services: i64,
    /// Purchases still owed.
    pub open_purchases: i64,
}

/// Counts customers, services and open purchases.
pub async fn overview(db: &Db) -> Result<Overview> {
    let sql = "SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM services),
                      (SELECT COUNT(*) FROM purchases WHERE status = 'open')";
    let (customers, services, open_purchases): (i64, i64, i64) =
        with_db!(db, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
    Ok(Overview { customers, services, open_purchases })
}
