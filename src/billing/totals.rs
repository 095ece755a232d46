//! Totals of a merchant's processed orders: how much its customers paid for its order product
//! ([`Merchant::order_product`]), by campaign and/or customer, optionally within a time span.
//!
//! Processed means paid: an order whose payment is still pending (a direct debit not settled
//! yet), failed or bounced, or that was cancelled, counts nothing. The sum is in the order
//! product's currency, in minor units.

use chrono::{DateTime, TimeZone, Utc};

use crate::access::{self, Viewer};
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::merchant::Merchant;
use crate::money::Money;
use crate::with_db;

/// Which orders to add up: a campaign and/or a customer (at least one), created in
/// `[from, until)`.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    /// Only this campaign's orders.
    pub campaign: Option<String>,
    /// Only this customer's (the merchant's code for them).
    pub customer_code: Option<String>,
    /// Only orders created at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only orders created before this time.
    pub until: Option<DateTime<Utc>>,
}

/// The total paid for the merchant's orders matching `filter`. Without a campaign or a customer
/// it is a validation error (a merchant-wide total is not offered); an unknown customer or
/// campaign has no orders, so zero.
pub async fn paid_orders_total(db: &Db, viewer: &Viewer, filter: OrderFilter) -> Result<Money> {
    let merchant = access::merchant_system(viewer)?;
    let campaign = filter.campaign.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    let code = filter.customer_code.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if campaign.is_none() && code.is_none() {
        return Err(Error::Validation(vec![
            FieldError::new("campaign", "give a campaign or a customer (or both)"),
            FieldError::new("customer_code", "give a campaign or a customer (or both)"),
        ]));
    }
    let product = Merchant::order_product(db, merchant).await?.ok_or_else(|| {
        Error::Conflict("this merchant has no order product, so it takes no orders".into())
    })?;
    let currency = product.unit_price.currency();
    let customer = match &code {
        Some(code) => match access::customer_by_code(db, viewer, code).await {
            Ok(customer) => Some(customer.id),
            Err(Error::NotFound(_)) => return Ok(Money::zero(currency)),
            Err(e) => return Err(e),
        },
        None => None,
    };
    // Open bounds as far-apart instants both backends store.
    let from = filter.from.unwrap_or_else(|| Utc.timestamp_opt(0, 0).single().unwrap_or_default());
    let until = filter.until.unwrap_or_else(|| {
        Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).single().unwrap_or_else(Utc::now)
    });
    // One statement per filter, each served by its index: by campaign
    // (`purchases_paid_by_campaign`) or by customer (`purchases_paid_by_customer`).
    let by = match (&campaign, &customer) {
        (Some(_), Some(_)) => "p.merchant_id = $1 AND p.campaign = $2 AND p.customer_id = $3",
        (Some(_), None) => "p.merchant_id = $1 AND p.campaign = $2 AND $3 IS NULL",
        (None, _) => "p.customer_id = $3 AND p.merchant_id = $1 AND $2 IS NULL",
    };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) FROM purchases p
           JOIN services s ON s.id = p.service_id
          WHERE {by} AND p.status = 'paid' AND p.created_at >= $4 AND p.created_at < $5
            AND s.product_id = $6"
    );
    let total: i64 = with_db!(db, pool => sqlx::query_scalar(&sql)
        .bind(merchant)
        .bind(&campaign)
        .bind(&customer)
        .bind(from)
        .bind(until)
        .bind(&product.id)
        .fetch_one(pool)
        .await)?;
    Ok(Money::from_minor(total, currency))
}
