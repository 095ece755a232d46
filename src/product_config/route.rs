//! The ordered gateways of a product, which routing follows (`Gateway::for_product` reads
//! them, enabled ones only, for every new payment). Changing them is audited and bumps the
//! configuration version like any gateway change.

use std::collections::HashSet;

use super::store::find_by_code;
use crate::audit::{self, Actor};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway_config::version;
use crate::with_tx;

/// Replaces a product's gateways with `gateways`, in that order; each must exist, once.
pub async fn set_order(db: &Db, actor: &Actor, code: &str, gateways: &[String]) -> Result<()> {
    let product = find_by_code(db, code).await?.ok_or(Error::NotFound("product"))?;
    let mut seen = HashSet::new();
    let gateways: Vec<&str> = gateways.iter().map(|g| g.trim()).filter(|g| !g.is_empty()).collect();
    if let Some(twice) = gateways.iter().find(|g| !seen.insert(**g)) {
        return Err(Error::invalid("gateways", format!("names {twice} more than once")));
    }
    let mut tx = db.begin().await?;
    for gateway in &gateways {
        let sql = "SELECT COUNT(*) FROM gateways WHERE id = $1";
        let n: i64 = with_tx!(&mut tx, conn => sqlx::query_scalar(sql).bind(*gateway).fetch_one(conn).await)?;
        if n == 0 {
            return Err(Error::invalid(
                "gateways",
                format!("{gateway} is not a configured gateway"),
            ));
        }
    }
    let sql = "DELETE FROM product_gateways WHERE product_id = $1";
    with_tx!(&mut tx, conn => sqlx::query(sql).bind(&product.id).execute(conn).await.map(|_| ()))?;
    for (position, gateway) in gateways.iter().enumerate() {
        let sql =
            "INSERT INTO product_gateways (product_id, gateway_id, position) VALUES ($1, $2, $3)";
        with_tx!(&mut tx, conn => sqlx::query(sql)
            .bind(&product.id)
            .bind(*gateway)
            .bind(position as i64)
            .execute(conn)
            .await
            .map(|_| ()))?;
    }
    let detail = if gateways.is_empty() {
        "no gateways".to_owned()
    } else {
        format!("gateways in order: {}", gateways.join(", "))
    };
    audit::record_in(
        &mut tx,
        actor,
        "product.gateways",
        &format!("product:{}", product.code),
        &detail,
    )
    .await?;
    version::bump(&mut tx).await?;
    tx.commit().await
}
