//! Billing schemes: what a customer may buy of a product, and at what price.
//!
//! A product's scheme is a list of price options ("product prices": "7 Day bundle" at 10.00 a
//! quantity adding 7 days, "Monthly Recurring 20/10" at 329.70 a month) and a few settings:
//! how many days before a bundle runs out it is recharged (products with auto-recharge), how
//! many months ahead a service may be paid, and whether immediate payments are taken at all.
//! Every price excludes tax; the product's tax rate applies on top, by the rule in `tax`.

use chrono::{DateTime, Duration, Months, Utc};

use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::money::Money;
use crate::product::{BillingKind, Product, ProductId};
use crate::purchase::{LineType, NewLine};
use crate::service::Service;
use crate::tax::TaxSplit;
use crate::{with_db, with_tx};

crate::id_type!(
    /// Identifies a price option of a product (seed 004's `product_price_id`).
    ProductPriceId
);

/// The largest quantity an option may allow (a sanity bound, as in pricing).
const MAX_QUANTITY: i64 = 100_000;

/// One thing a customer may buy of a product: its price per quantity and what a quantity adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductPrice {
    /// The option's id.
    pub id: ProductPriceId,
    /// Day, monthly or once-off: what the purchase line is.
    pub line_type: LineType,
    /// What it is called ("7 Day bundle").
    pub description: String,
    /// Price of one quantity, excluding tax.
    pub unit_price: Money,
    /// Days (day lines) or months (monthly lines) one quantity adds to the service.
    pub period_per_quantity: i64,
    /// The fewest quantities bought at once.
    pub min_quantity: i64,
    /// The most quantities bought at once.
    pub max_quantity: i64,
}

/// A scheme's settings beyond its prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemeSettings {
    /// With auto-recharge: how many days before the paid period ends the next bundle is bought.
    pub recharge_days_before: i64,
    /// How far ahead, in months from now, a service may be paid up.
    pub months_ahead_limit: i64,
    /// Whether customers may pay now (buy now, pay arrears) rather than only by collection.
    pub accepts_immediate_payments: bool,
}

impl Default for SchemeSettings {
    fn default() -> SchemeSettings {
        SchemeSettings {
            recharge_days_before: 2,
            months_ahead_limit: 12,
            accepts_immediate_payments: true,
        }
    }
}

/// A product with its billing scheme.
#[derive(Clone, Debug)]
pub struct BillingScheme {
    /// The product (its tax rate, currency, billing kind, auto-recharge).
    pub product: Product,
    /// The scheme's settings.
    pub settings: SchemeSettings,
    /// Its price options, in the order they are offered.
    pub prices: Vec<ProductPrice>,
}

/// What the options a service may buy are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuyKind {
    /// Day bundles (a day-bundle product).
    DayBundles,
    /// Months (or days) ahead of a recurring product.
    MonthsAhead,
}

/// A price option as a service may buy it now.
#[derive(Clone, Debug)]
pub struct BuyOption {
    /// The scheme's option.
    pub price: ProductPrice,
    /// One quantity's price: excluding tax, tax and total (a guide: a line's tax is rounded
    /// once, on its total).
    pub unit: TaxSplit,
    /// The most quantities the service may buy now: the option's maximum, fewer when the
    /// months-ahead limit is near.
    pub max_quantity: i64,
}

/// The options a service may buy now.
#[derive(Clone, Debug)]
pub struct BuyOptions {
    /// Day bundles or months ahead.
    pub kind: BuyKind,
    /// The latest date the service may be paid up to (the months-ahead limit).
    pub furthest_period_end: DateTime<Utc>,
    /// The options, in the scheme's order.
    pub options: Vec<BuyOption>,
}

/// Why a service can't buy anything now, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CannotBuy(pub String);

#[derive(sqlx::FromRow)]
struct PriceRow {
    id: ProductPriceId,
    line_type: i64,
    description: String,
    unit_price_minor: i64,
    period_per_quantity: i64,
    min_quantity: i64,
    max_quantity: i64,
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    recharge_days_before: i64,
    months_ahead_limit: i64,
    accepts_immediate_payments: bool,
}

impl BillingScheme {
    /// The scheme of a product: its settings (the defaults when none are stored) and prices.
    pub async fn of_product(db: &Db, product: Product) -> Result<BillingScheme> {
        let sql = "SELECT recharge_days_before, months_ahead_limit, accepts_immediate_payments FROM billing_schemes WHERE product_id = $1";
        let settings: Option<SettingsRow> =
            with_db!(db, pool => sqlx::query_as(sql).bind(&product.id).fetch_optional(pool).await)?;
        let settings = settings.map_or_else(SchemeSettings::default, |s| SchemeSettings {
            recharge_days_before: s.recharge_days_before,
            months_ahead_limit: s.months_ahead_limit,
            accepts_immediate_payments: s.accepts_immediate_payments,
        });
        let sql = "SELECT id, line_type, description, unit_price_minor, period_per_quantity, min_quantity, max_quantity FROM product_prices WHERE product_id = $1 ORDER BY position";
        let rows: Vec<PriceRow> =
            with_db!(db, pool => sqlx::query_as(sql).bind(&product.id).fetch_all(pool).await)?;
        let currency = product.unit_price.currency();
        let prices = rows
            .into_iter()
            .map(|r| {
                Ok(ProductPrice {
                    line_type: LineType::from_id(r.line_type).map_err(|e| {
                        Error::Internal(format!("product_prices.line_type of {}: {e}", r.id))
                    })?,
                    id: r.id,
                    description: r.description,
                    unit_price: Money::from_minor(r.unit_price_minor, currency),
                    period_per_quantity: r.period_per_quantity,
                    min_quantity: r.min_quantity,
                    max_quantity: r.max_quantity,
                })
            })
            .collect::<Result<_>>()?;
        Ok(BillingScheme { product, settings, prices })
    }

    /// Stores a product's scheme settings (replacing earlier ones).
    pub async fn set_settings(
        db: &Db,
        product: &ProductId,
        settings: SchemeSettings,
    ) -> Result<()> {
        if settings.recharge_days_before < 0 {
            return Err(Error::invalid("recharge_days_before", "may not be negative"));
        }
        if !(1..=120).contains(&settings.months_ahead_limit) {
            return Err(Error::invalid("months_ahead_limit", "must be from 1 to 120 months"));
        }
        let sql = "INSERT INTO billing_schemes (product_id, recharge_days_before, months_ahead_limit, accepts_immediate_payments) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (product_id) DO UPDATE SET recharge_days_before = excluded.recharge_days_before, months_ahead_limit = excluded.months_ahead_limit, accepts_immediate_payments = excluded.accepts_immediate_payments";
        with_db!(db, pool => sqlx::query(sql)
            .bind(product)
            .bind(settings.recharge_days_before)
            .bind(settings.months_ahead_limit)
            .bind(settings.accepts_immediate_payments)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Adds a price option to a product's scheme, after its existing ones.
    pub async fn add_price(db: &Db, product: &Product, price: &ProductPrice) -> Result<()> {
        check_price(product, price)?;
        let mut tx = db.begin().await?;
        Self::add_price_in(&mut tx, product, price).await?;
        tx.commit().await
    }

    /// Adds a checked price option after the product's others, in `tx` (so its audit entry can
    /// share the transaction). Positions follow the last one, so removed options leave no clash.
    pub(crate) async fn add_price_in(
        tx: &mut crate::db::Tx,
        product: &Product,
        price: &ProductPrice,
    ) -> Result<()> {
        let next =
            "SELECT COALESCE(MAX(position) + 1, 0) FROM product_prices WHERE product_id = $1";
        let position: i64 =
            with_tx!(tx, conn => sqlx::query_scalar(next).bind(&product.id).fetch_one(conn).await)?;
        let sql = "INSERT INTO product_prices (id, product_id, line_type, description, unit_price_minor, period_per_quantity, min_quantity, max_quantity, position)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(&price.id)
            .bind(&product.id)
            .bind(price.line_type.id())
            .bind(&price.description)
            .bind(price.unit_price.minor())
            .bind(price.period_per_quantity)
            .bind(price.min_quantity)
            .bind(price.max_quantity)
            .bind(position)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// One quantity of an option: its price excluding tax, the tax on it and the total.
    pub fn unit_amounts(&self, price: &ProductPrice) -> Result<TaxSplit> {
        Ok(self.product.tax_rate.split_exclusive(price.unit_price)?)
    }

    /// The unpriced purchase line for `quantity` of an option (see `Purchase::price_lines`).
    pub fn line(&self, price: &ProductPrice, quantity: i64) -> NewLine {
        NewLine {
            line_type: price.line_type,
            description: price.description.clone(),
            quantity,
            unit_price: price.unit_price,
            period_per_quantity: price.period_per_quantity,
            tax_rate: self.product.tax_rate,
        }
    }

    /// What `service` (of this product) may buy at `now`: the options, each capped so the
    /// service is never paid up past the months-ahead limit; or why it can't buy.
    pub fn buy_options(
        &self,
        service: &Service,
        now: DateTime<Utc>,
    ) -> Result<BuyOptions, CannotBuy> {
        let kind = match self.product.billing_kind {
            BillingKind::DayBundle => BuyKind::DayBundles,
            BillingKind::RecurringMonthly => BuyKind::MonthsAhead,
            BillingKind::OnceOff => {
                return Err(CannotBuy(format!(
                    "{} is paid once; nothing more is sold",
                    self.product.name
                )));
            }
        };
        if !self.settings.accepts_immediate_payments {
            return Err(CannotBuy(format!("{} takes no immediate payments", self.product.name)));
        }
        if crate::service_standing::status_category(&service.status) == "CancelledStatuses" {
            return Err(CannotBuy("the service is cancelled".into()));
        }
        let limit = u32::try_from(self.settings.months_ahead_limit).unwrap_or(0);
        let furthest = now
            .checked_add_months(Months::new(limit))
            .ok_or_else(|| CannotBuy("the months-ahead limit is out of range".into()))?;
        let start = service.period_end.filter(|end| *end > now).unwrap_or(now);
        let options: Vec<BuyOption> = self
            .prices
            .iter()
            .filter_map(|price| {
                let max_quantity = price.max_quantity.min(room(price, start, furthest));
                let unit = self.unit_amounts(price).ok()?;
                (max_quantity >= price.min_quantity).then(|| BuyOption {
                    price: price.clone(),
                    unit,
                    max_quantity,
                })
            })
            .collect();
        if options.is_empty() {
            let why = if self.prices.is_empty() {
                format!("{} has no options to buy", self.product.name)
            } else {
                format!(
                    "the service is paid up to {}, as far ahead as {} allows ({} months)",
                    start.format("%Y-%m-%d"),
                    self.product.name,
                    self.settings.months_ahead_limit
                )
            };
            return Err(CannotBuy(why));
        }
        Ok(BuyOptions { kind, furthest_period_end: furthest, options })
    }
}

/// How many quantities of `price` fit between `start` and `furthest`.
fn room(price: &ProductPrice, start: DateTime<Utc>, furthest: DateTime<Utc>) -> i64 {
    let per = price.period_per_quantity;
    if per <= 0 {
        // Adds no period (an installation fee): only the option's own maximum applies.
        return MAX_QUANTITY;
    }
    match price.line_type {
        LineType::Day => (furthest - start).num_days().max(0) / per,
        LineType::Monthly | LineType::OnceOff => {
            let mut quantity = 0;
            while quantity < price.max_quantity {
                let months = u32::try_from((quantity + 1) * per).unwrap_or(u32::MAX);
                match start.checked_add_months(Months::new(months)) {
                    Some(end) if end <= furthest + Duration::seconds(1) => quantity += 1,
                    _ => break,
                }
            }
            quantity
        }
    }
}

/// The rules for an option: a description, a price in the product's currency, sensible bounds.
pub(crate) fn check_price(product: &Product, price: &ProductPrice) -> Result<(), FieldError> {
    let description = price.description.trim();
    if description.is_empty() || description.chars().count() > 200 {
        return Err(FieldError::new("description", "is required, at most 200 characters"));
    }
    if price.unit_price.currency() != product.unit_price.currency() {
        return Err(FieldError::new(
            "unit_price",
            format!("must be in the product's currency, {}", product.unit_price.currency().code()),
        ));
    }
    if price.unit_price.is_negative() {
        return Err(FieldError::new("unit_price", "may not be negative"));
    }
    if price.period_per_quantity < 0 {
        return Err(FieldError::new("period_per_quantity", "may not be negative"));
    }
    if price.min_quantity < 1
        || price.max_quantity < price.min_quantity
        || price.max_quantity > MAX_QUANTITY
    {
        return Err(FieldError::new(
            "max_quantity",
            format!("quantities run from at least 1 up to at most {MAX_QUANTITY}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::money::Currency;

    fn price(line_type: LineType, per: i64, max: i64) -> ProductPrice {
        ProductPrice {
            id: ProductPriceId::from_string("p"),
            line_type,
            description: "x".into(),
            unit_price: Money::from_minor(1000, Currency::parse("ZAR").unwrap()),
            period_per_quantity: per,
            min_quantity: 1,
            max_quantity: max,
        }
    }

    #[test]
    fn the_months_ahead_limit_caps_what_fits() {
        let start = Utc.with_ymd_and_hms(2026, 1, 31, 0, 0, 0).unwrap();
        let furthest = Utc.with_ymd_and_hms(2026, 4, 30, 0, 0, 0).unwrap();
        // 89 days: 12 seven-day bundles, 89 single days.
        assert_eq!(room(&price(LineType::Day, 7, 10), start, furthest), 12);
        assert_eq!(room(&price(LineType::Day, 1, 365), start, furthest), 89);
        // Jan 31 + 3 months is Apr 30 (chrono clamps to the month's end): 3 months fit.
        assert_eq!(room(&price(LineType::Monthly, 1, 12), start, furthest), 3);
        assert_eq!(room(&price(LineType::Monthly, 1, 2), start, furthest), 2, "the option's max");
        assert_eq!(room(&price(LineType::Day, 7, 10), furthest, start), 0, "past the limit");
        assert_eq!(room(&price(LineType::OnceOff, 0, 1), start, furthest), MAX_QUANTITY);
    }
}
