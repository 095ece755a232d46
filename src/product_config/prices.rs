//! A product's price options (bundle options and the quantities allowed): added and removed
//! by operators, audited. A purchase copies an option's price when it is made, so removing or
//! adding an option changes only what new purchases can buy.

use super::store::find_by_code;
use crate::audit::{self, Actor};
use crate::billing::scheme::{BillingScheme, ProductPrice, ProductPriceId, check_price};
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::gateway_config::keep;
use crate::money::Money;
use crate::product::Product;
use crate::purchase::LineType;
use crate::with_tx;

/// The option form as typed.
#[derive(Clone, Debug, Default)]
pub struct PriceInput {
    /// `1` day, `2` monthly, `3` once-off.
    pub line_type: String,
    /// What it is called ("7 Day bundle").
    pub description: String,
    /// Price of one quantity, excluding tax.
    pub unit_price: String,
    /// Days or months one quantity adds.
    pub period_per_quantity: String,
    /// Fewest quantities at once.
    pub min_quantity: String,
    /// Most quantities at once.
    pub max_quantity: String,
}

fn whole(field: &str, value: &str, what: &str) -> Result<i64, FieldError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| FieldError::new(field, format!("must be a whole number ({what})")))
}

impl PriceInput {
    /// Checks the option for `product`, one message per wrong field.
    pub fn check(&self, product: &Product) -> Result<ProductPrice> {
        let mut errors = Vec::new();
        let currency = product.unit_price.currency();
        let line_type = keep(
            &mut errors,
            self.line_type
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| LineType::from_id(n).ok())
                .ok_or_else(|| FieldError::new("line_type", "must be day, monthly or once-off")),
        );
        let unit_price = keep(
            &mut errors,
            Money::parse_decimal(&self.unit_price, currency).map_err(|_| {
                FieldError::new(
                    "unit_price",
                    format!("must be an amount such as 10.00, in {}", currency.code()),
                )
            }),
        );
        let period = keep(
            &mut errors,
            whole("period_per_quantity", &self.period_per_quantity, "days or months"),
        );
        let min = keep(&mut errors, whole("min_quantity", &self.min_quantity, "at least 1"));
        let max =
            keep(&mut errors, whole("max_quantity", &self.max_quantity, "at least the minimum"));
        let (Some(line_type), Some(unit_price), Some(period), Some(min), Some(max)) =
            (line_type, unit_price, period, min, max)
        else {
            return Err(Error::Validation(errors));
        };
        let price = ProductPrice {
            id: ProductPriceId::generate(),
            line_type,
            description: self.description.trim().to_owned(),
            unit_price,
            period_per_quantity: period,
            min_quantity: min,
            max_quantity: max,
        };
        check_price(product, &price)?;
        Ok(price)
    }
}

/// Adds an option after the product's others.
pub async fn add(db: &Db, actor: &Actor, code: &str, input: &PriceInput) -> Result<ProductPrice> {
    let product = find_by_code(db, code).await?.ok_or(Error::NotFound("product"))?;
    let price = input.check(&product)?;
    let mut tx = db.begin().await?;
    BillingScheme::add_price_in(&mut tx, &product, &price).await?;
    let detail = format!(
        "option {:?}: {} a quantity excl. tax, {} per quantity, {} to {} at once",
        price.description,
        price.unit_price.display(),
        price.period_per_quantity,
        price.min_quantity,
        price.max_quantity
    );
    audit::record_in(
        &mut tx,
        actor,
        "product.option.add",
        &format!("product:{}", product.code),
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(price)
}

/// Removes an option; purchases already made keep the lines they copied from it.
pub async fn remove(db: &Db, actor: &Actor, code: &str, price: &str) -> Result<()> {
    let product = find_by_code(db, code).await?.ok_or(Error::NotFound("product"))?;
    let mut tx = db.begin().await?;
    let sql = "DELETE FROM product_prices WHERE id = $1 AND product_id = $2";
    let removed = with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(price)
        .bind(&product.id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if removed == 0 {
        return Err(Error::NotFound("price option"));
    }
    audit::record_in(
        &mut tx,
        actor,
        "product.option.remove",
        &format!("product:{}", product.code),
        &format!("option {price} removed"),
    )
    .await?;
    tx.commit().await
}
