//! The configuration version: one number, bumped in the transaction of every change that
//! running instances must reload (gateways, their connectors). Instances poll it (cheap: one
//! row by primary key) and reload when it moves.

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::{with_db, with_tx};

/// Bumps the version inside the transaction making the change.
pub async fn bump(tx: &mut Tx) -> Result<()> {
    let sql = "UPDATE configuration_version SET version = version + 1 WHERE id = 1";
    with_tx!(tx, conn => sqlx::query(sql).execute(conn).await.map(|_| ()))?;
    Ok(())
}

/// The version now.
pub async fn current(db: &Db) -> Result<i64> {
    let sql = "SELECT version FROM configuration_version WHERE id = 1";
    Ok(with_db!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
}
