//! Storing products: create and edit with the audit entry in the same transaction, and the
//! operator's view of a product (its scheme, options and gateways).

use chrono::Utc;

use super::{ProductSettings, check_code};
use crate::audit::{self, Actor};
use crate::billing::scheme::BillingScheme;
use crate::checkout::InvoiceActivation;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::gateway::Gateway;
use crate::product::{Product, ProductId};
use crate::{with_db, with_tx};

/// A product as the operator edits it.
#[derive(Clone, Debug)]
pub struct ProductView {
    /// The product with its scheme settings and price options.
    pub scheme: BillingScheme,
    /// When an invoiced service becomes active.
    pub invoice_activation: InvoiceActivation,
    /// The keys of its gateways, in routing order (enabled or not).
    pub gateways: Vec<String>,
}

/// The product with this code.
pub async fn find_by_code(db: &Db, code: &str) -> Result<Option<Product>> {
    let sql = "SELECT id FROM products WHERE code = $1";
    let id: Option<ProductId> =
        with_db!(db, pool => sqlx::query_scalar(sql).bind(code.trim()).fetch_optional(pool).await)?;
    match id {
        Some(id) => Product::find(db, &id).await,
        None => Ok(None),
    }
}

/// The operator's view of the product with this code.
pub async fn view(db: &Db, code: &str) -> Result<Option<ProductView>> {
    let Some(product) = find_by_code(db, code).await? else { return Ok(None) };
    let invoice_activation = InvoiceActivation::of_product(db, &product.id).await?;
    let sql = "SELECT gateway_id FROM product_gateways WHERE product_id = $1 ORDER BY position";
    let gateways: Vec<String> =
        with_db!(db, pool => sqlx::query_scalar(sql).bind(&product.id).fetch_all(pool).await)?;
    let scheme = BillingScheme::of_product(db, product).await?;
    Ok(Some(ProductView { scheme, invoice_activation, gateways }))
}

fn kinds_text(settings: &ProductSettings) -> String {
    settings.method_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
}

/// The settings in words, for the audit log.
fn describe(s: &ProductSettings) -> String {
    format!(
        "name {:?}, {} {}, unit price {} excl. tax, tax {} %, collection day {}, auto-recharge {}, invoice activation {}, methods {}, recharge {} days before, {} months ahead, immediate payments {}",
        s.name,
        s.service_kind,
        s.billing_kind,
        s.unit_price.display(),
        s.tax_rate.percent(),
        s.collection_day.map_or("none".to_owned(), |d| d.to_string()),
        if s.auto_recharge { "on" } else { "off" },
        s.invoice_activation,
        kinds_text(s),
        s.scheme.recharge_days_before,
        s.scheme.months_ahead_limit,
        if s.scheme.accepts_immediate_payments { "yes" } else { "no" },
    )
}

/// Whether the merchant exists (a form's merchant field names one).
async fn merchant_exists(tx: &mut Tx, id: &str) -> Result<bool> {
    let sql = "SELECT COUNT(*) FROM merchants WHERE id = $1";
    let n: i64 = with_tx!(tx, conn => sqlx::query_scalar(sql).bind(id).fetch_one(conn).await)?;
    Ok(n > 0)
}

async fn save_scheme(tx: &mut Tx, id: &ProductId, s: &ProductSettings) -> Result<()> {
    let sql = "INSERT INTO billing_schemes (product_id, recharge_days_before, months_ahead_limit, accepts_immediate_payments) VALUES ($1, $2, $3, $4)
               ON CONFLICT (product_id) DO UPDATE SET recharge_days_before = excluded.recharge_days_before, months_ahead_limit = excluded.months_ahead_limit, accepts_immediate_payments = excluded.accepts_immediate_payments";
    with_tx!(tx, conn => sqlx::query(sql)
        .bind(id)
        .bind(s.scheme.recharge_days_before)
        .bind(s.scheme.months_ahead_limit)
        .bind(s.scheme.accepts_immediate_payments)
        .execute(conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Creates a product with its scheme settings; a code in use is a message on `code`.
pub async fn create(
    db: &Db,
    actor: &Actor,
    code: &str,
    settings: &ProductSettings,
) -> Result<Product> {
    let code = check_code(code)?;
    let mut tx = db.begin().await?;
    let taken = "SELECT COUNT(*) FROM products WHERE code = $1";
    let n: i64 =
        with_tx!(&mut tx, conn => sqlx::query_scalar(taken).bind(&code).fetch_one(conn).await)?;
    if n > 0 {
        return Err(Error::invalid("code", format!("{code} is already a product's code")));
    }
    if let Some(m) = &settings.merchant_id
        && !merchant_exists(&mut tx, m).await?
    {
        return Err(Error::invalid("merchant_id", "is not a merchant Settle knows"));
    }
    let id = ProductId::generate();
    let sql = "INSERT INTO products (id, code, name, merchant_id, service_kind, billing_kind, currency, unit_price_minor, tax_rate_bp, collection_day, auto_recharge, created_at, invoice_activation, allowed_method_kinds)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(&id)
        .bind(&code)
        .bind(&settings.name)
        .bind(&settings.merchant_id)
        .bind(settings.service_kind.as_str())
        .bind(settings.billing_kind.as_str())
        .bind(settings.unit_price.currency().code())
        .bind(settings.unit_price.minor())
        .bind(i64::from(settings.tax_rate.basis_points()))
        .bind(settings.collection_day.map(i64::from))
        .bind(settings.auto_recharge)
        .bind(Utc::now())
        .bind(settings.invoice_activation.as_str())
        .bind(kinds_text(settings))
        .execute(conn)
        .await
        .map(|_| ()))?;
    save_scheme(&mut tx, &id, settings).await?;
    audit::record_in(
        &mut tx,
        actor,
        "product.create",
        &format!("product:{code}"),
        &describe(settings),
    )
    .await?;
    tx.commit().await?;
    Product::find(db, &id).await?.ok_or(Error::NotFound("product"))
}

/// Changes a product's settings (not its code or currency). Purchases already made keep the
/// prices they copied; new purchases use these.
pub async fn update(
    db: &Db,
    actor: &Actor,
    product: &Product,
    settings: &ProductSettings,
) -> Result<()> {
    if settings.unit_price.currency() != product.unit_price.currency() {
        return Err(Error::invalid("unit_price", "must be in the product's own currency"));
    }
    let mut tx = db.begin().await?;
    if let Some(m) = &settings.merchant_id
        && !merchant_exists(&mut tx, m).await?
    {
        return Err(Error::invalid("merchant_id", "is not a merchant Settle knows"));
    }
    let sql =
        "UPDATE products SET name = $2, merchant_id = $3, service_kind = $4, billing_kind = $5,
                   unit_price_minor = $6, tax_rate_bp = $7, collection_day = $8, auto_recharge = $9,
                   invoice_activation = $10, allowed_method_kinds = $11
               WHERE id = $1";
    with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(&product.id)
        .bind(&settings.name)
        .bind(&settings.merchant_id)
        .bind(settings.service_kind.as_str())
        .bind(settings.billing_kind.as_str())
        .bind(settings.unit_price.minor())
        .bind(i64::from(settings.tax_rate.basis_points()))
        .bind(settings.collection_day.map(i64::from))
        .bind(settings.auto_recharge)
        .bind(settings.invoice_activation.as_str())
        .bind(kinds_text(settings))
        .execute(conn)
        .await
        .map(|_| ()))?;
    save_scheme(&mut tx, &product.id, settings).await?;
    audit::record_in(
        &mut tx,
        actor,
        "product.update",
        &format!("product:{}", product.code),
        &describe(settings),
    )
    .await?;
    tx.commit().await
}

/// Every product with its gateways' keys, by name (for the list page).
pub async fn list(db: &Db) -> Result<Vec<(Product, Vec<String>)>> {
    let products = Product::list(db).await?;
    let sql = "SELECT product_id, gateway_id FROM product_gateways ORDER BY product_id, position";
    let routes: Vec<(ProductId, String)> =
        with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
    Ok(products
        .into_iter()
        .map(|p| {
            let gateways =
                routes.iter().filter(|(id, _)| *id == p.id).map(|(_, g)| g.clone()).collect();
            (p, gateways)
        })
        .collect())
}

/// The gateways a product could be routed through: every configured one.
pub async fn gateway_choices(db: &Db) -> Result<Vec<Gateway>> {
    Gateway::list(db).await
}

/// The merchants a product may be sold by: (id, name), by name.
pub async fn merchant_choices(db: &Db) -> Result<Vec<(String, String)>> {
    let sql = "SELECT id, name FROM merchants ORDER BY name";
    Ok(with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
}
