//! Products and their billing schemes: what is sold, how it is billed and taxed.

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::money::{Currency, Money};
use crate::payment_method::MethodKind;
use crate::tax::TaxRate;
use crate::text_enum::stored;
use crate::{text_enum, with_db};

crate::id_type!(
    /// Identifies a product.
    ProductId
);

text_enum!(
    /// What a product's payments keep alive.
    ServiceKind, field = "service_kind", {
        /// An insurance policy (quote → policy).
        Policy = "policy",
        /// An internet service.
        Isp = "isp",
    }
);

text_enum!(
    /// How a product is billed.
    BillingKind, field = "billing_kind", {
        /// A purchase every month on the collection day.
        RecurringMonthly = "recurring_monthly",
        /// Days bought in bundles ahead of time.
        DayBundle = "day_bundle",
        /// Paid once.
        OnceOff = "once_off",
    }
);

/// A product with its billing scheme.
#[derive(Clone, Debug)]
pub struct Product {
    /// Settle's id.
    pub id: ProductId,
    /// Short unique code operators and APIs use.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The merchant selling it.
    pub merchant_id: Option<MerchantId>,
    /// What its payments activate.
    pub service_kind: ServiceKind,
    /// How it is billed.
    pub billing_kind: BillingKind,
    /// Price of one unit (day, month, or the whole thing), excluding tax.
    pub unit_price: Money,
    /// Tax charged on top of the price.
    pub tax_rate: TaxRate,
    /// Day of the month recurring purchases are collected.
    pub collection_day: Option<u8>,
    /// Whether a new purchase is collected automatically before the bundle runs out.
    pub auto_recharge: bool,
    /// The kinds of saved payment method (medium) it may be paid with.
    pub allowed_method_kinds: Vec<MethodKind>,
    /// Whether the merchant sets each purchase's amount (an invoice payment) rather than
    /// Settle pricing it from the unit price.
    pub merchant_sets_amount: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What an operator enters to create a product.
#[derive(Clone, Debug)]
pub struct NewProduct {
    /// Short unique code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The merchant selling it.
    pub merchant_id: Option<MerchantId>,
    /// What its payments activate.
    pub service_kind: ServiceKind,
    /// How it is billed.
    pub billing_kind: BillingKind,
    /// Price of one unit, excluding tax.
    pub unit_price: Money,
    /// Tax rate.
    pub tax_rate: TaxRate,
    /// Day of the month recurring purchases are collected.
    pub collection_day: Option<u8>,
    /// Auto-recharge before the bundle runs out.
    pub auto_recharge: bool,
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: ProductId,
    code: String,
    name: String,
    merchant_id: Option<MerchantId>,
    service_kind: String,
    billing_kind: String,
    currency: String,
    unit_price_minor: i64,
    tax_rate_bp: i64,
    collection_day: Option<i64>,
    auto_recharge: bool,
    allowed_method_kinds: String,
    merchant_sets_amount: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<ProductRow> for Product {
    type Error = Error;

    fn try_from(r: ProductRow) -> Result<Product> {
        let currency: Currency = stored("products.currency", &r.currency)?;
        let tax_rate = u32::try_from(r.tax_rate_bp)
            .ok()
            .and_then(|bp| TaxRate::from_basis_points(bp).ok())
            .ok_or_else(|| {
                Error::Internal(format!("products.tax_rate_bp {} is invalid", r.tax_rate_bp))
            })?;
        Ok(Product {
            id: r.id,
            code: r.code,
            name: r.name,
            merchant_id: r.merchant_id,
            service_kind: stored("products.service_kind", &r.service_kind)?,
            billing_kind: stored("products.billing_kind", &r.billing_kind)?,
            unit_price: Money::from_minor(r.unit_price_minor, currency),
            tax_rate,
            collection_day: r.collection_day.and_then(|d| u8::try_from(d).ok()),
            auto_recharge: r.auto_recharge,
            allowed_method_kinds: r
                .allowed_method_kinds
                .split(',')
                .filter(|k| !k.is_empty())
                .map(|k| stored("products.allowed_method_kinds", k.trim()))
                .collect::<Result<_>>()?,
            merchant_sets_amount: r.merchant_sets_amount,
            created_at: r.created_at,
        })
    }
}

const SELECT_PRODUCT: &str = "SELECT id, code, name, merchant_id, service_kind, billing_kind, currency, unit_price_minor, tax_rate_bp, collection_day, auto_recharge, allowed_method_kinds, merchant_sets_amount, created_at FROM products";

impl Product {
    /// Creates a product.
    pub async fn create(db: &Db, new: NewProduct) -> Result<Product> {
        if new.code.trim().is_empty() {
            return Err(Error::invalid("code", "is required"));
        }
        if new.unit_price.is_negative() {
            return Err(Error::invalid("unit_price", "may not be negative"));
        }
        if new.collection_day.is_some_and(|d| !(1..=31).contains(&d)) {
            return Err(Error::invalid("collection_day", "must be a day of the month, 1 to 31"));
        }
        let product = Product {
            id: ProductId::generate(),
            code: new.code.trim().to_owned(),
            name: new.name,
            merchant_id: new.merchant_id,
            service_kind: new.service_kind,
            billing_kind: new.billing_kind,
            unit_price: new.unit_price,
            tax_rate: new.tax_rate,
            collection_day: new.collection_day,
            auto_recharge: new.auto_recharge,
            allowed_method_kinds: MethodKind::ALL.to_vec(),
            merchant_sets_amount: false,
            created_at: Utc::now(),
        };
        let sql = "INSERT INTO products (id, code, name, merchant_id, service_kind, billing_kind, currency, unit_price_minor, tax_rate_bp, collection_day, auto_recharge, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        with_db!(db, pool => sqlx::query(sql)
            .bind(&product.id)
            .bind(&product.code)
            .bind(&product.name)
            .bind(&product.merchant_id)
            .bind(product.service_kind.as_str())
            .bind(product.billing_kind.as_str())
            .bind(product.unit_price.currency().code())
            .bind(product.unit_price.minor())
            .bind(i64::from(product.tax_rate.basis_points()))
            .bind(product.collection_day.map(i64::from))
            .bind(product.auto_recharge)
            .bind(product.created_at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(product)
    }

    /// Loads a product.
    pub async fn find(db: &Db, id: &ProductId) -> Result<Option<Product>> {
        let sql = format!("{SELECT_PRODUCT} WHERE id = $1");
        let row: Option<ProductRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(Product::try_from).transpose()
    }

    /// The merchant's product with this code; another merchant's product is not found.
    pub async fn find_for_merchant(
        db: &Db,
        merchant: &MerchantId,
        code: &str,
    ) -> Result<Option<Product>> {
        let sql = format!("{SELECT_PRODUCT} WHERE code = $1 AND merchant_id = $2");
        let row: Option<ProductRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(code.trim())
            .bind(merchant)
            .fetch_optional(pool)
            .await)?;
        row.map(Product::try_from).transpose()
    }

    /// The merchant's products, by code (few per merchant: the scan is bounded by them).
    pub async fn of_merchant(db: &Db, merchant: &MerchantId) -> Result<Vec<Product>> {
        let sql = format!("{SELECT_PRODUCT} WHERE merchant_id = $1 ORDER BY code");
        let rows: Vec<ProductRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(merchant).fetch_all(pool).await)?;
        rows.into_iter().map(Product::try_from).collect()
    }

    /// Sets whether the merchant sets each purchase's amount (see [`Product::merchant_sets_amount`]).
    pub async fn set_merchant_sets_amount(db: &Db, id: &ProductId, yes: bool) -> Result<()> {
        let sql = "UPDATE products SET merchant_sets_amount = $2 WHERE id = $1";
        with_db!(db, pool => sqlx::query(sql).bind(id).bind(yes).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Every product, by name.
    pub async fn list(db: &Db) -> Result<Vec<Product>> {
        let sql = format!("{SELECT_PRODUCT} ORDER BY name");
        let rows: Vec<ProductRow> =
            with_db!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(Product::try_from).collect()
    }

    /// Whether the product may be paid with a saved method of this kind.
    pub fn allows(&self, kind: MethodKind) -> bool {
        self.allowed_method_kinds.contains(&kind)
    }

    /// Sets the kinds of saved payment method the product may be paid with.
    pub async fn set_allowed_method_kinds(
        db: &Db,
        id: &ProductId,
        kinds: &[MethodKind],
    ) -> Result<()> {
        let text = kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
        let sql = "UPDATE products SET allowed_method_kinds = $2 WHERE id = $1";
        with_db!(db, pool => sqlx::query(sql).bind(id).bind(text).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Sets the gateways a product may be paid through, in the order they are offered.
    pub async fn set_gateways(db: &Db, id: &ProductId, gateway_ids: &[&str]) -> Result<()> {
        with_db!(db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM product_gateways WHERE product_id = $1").bind(id).execute(&mut *tx).await?;
            for (position, gateway) in gateway_ids.iter().enumerate() {
                sqlx::query("INSERT INTO product_gateways (product_id, gateway_id, position) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(*gateway)
                    .bind(position as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
