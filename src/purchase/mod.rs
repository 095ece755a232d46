//! Purchases: amounts owed, with lines and tax (an arrears purchase, a buy-now quote, a premium).

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::money::{Currency, Money};
use crate::service::ServiceId;
use crate::tax::{TaxRate, TaxSplit};
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

mod line;
pub use line::{LineType, NewLine, PurchaseLine};

crate::id_type!(
    /// Identifies a purchase.
    PurchaseId
);

text_enum!(
    /// Where a purchase stands.
    PurchaseStatus, field = "status", {
        /// Offered, not yet accepted (buy-now options).
        Quote = "quote",
        /// Owed.
        Open = "open",
        /// Settled by a successful payment; never paid twice.
        Paid = "paid",
        /// Withdrawn.
        Cancelled = "cancelled",
    }
);

/// An amount owed for a service.
#[derive(Clone, Debug)]
pub struct Purchase {
    /// Settle's id.
    pub id: PurchaseId,
    /// The public reference clients use (`XYZ2024-ade08`), unique.
    pub reference: String,
    /// The service it pays for.
    pub service_id: ServiceId,
    /// The merchant owed (the service's).
    pub merchant_id: Option<MerchantId>,
    /// Who owes it (the service's customer).
    pub customer_id: Option<CustomerId>,
    /// The merchant's own reference for it, unique per merchant.
    pub merchant_reference: Option<String>,
    /// The campaign it was raised for, if any.
    pub campaign: Option<String>,
    /// Extras the merchant keeps with it (additional fields, item name, beneficiary).
    pub details: serde_json::Value,
    /// Where it stands.
    pub status: PurchaseStatus,
    /// Totals: the sums of the lines' amounts.
    pub amounts: TaxSplit,
    /// The date it applies to.
    pub purchase_date: DateTime<Utc>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// Its lines.
    pub lines: Vec<PurchaseLine>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PurchaseRow {
    id: PurchaseId,
    reference: String,
    service_id: ServiceId,
    merchant_id: Option<MerchantId>,
    customer_id: Option<CustomerId>,
    merchant_reference: Option<String>,
    campaign: Option<String>,
    details: String,
    created_at: DateTime<Utc>,
    status: String,
    currency: String,
    amount_excl_minor: i64,
    tax_minor: i64,
    amount_minor: i64,
    purchase_date: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    id: String,
    line_type: i64,
    description: String,
    quantity: i64,
    unit_price_minor: i64,
    period_per_quantity: i64,
    tax_rate_bp: i64,
    amount_excl_minor: i64,
    tax_minor: i64,
    amount_minor: i64,
}

fn stored_split(currency: Currency, excl: i64, tax: i64, gross: i64) -> Result<TaxSplit> {
    TaxSplit::verify(
        Money::from_minor(excl, currency),
        Money::from_minor(tax, currency),
        Money::from_minor(gross, currency),
    )
    .map_err(|e| Error::Internal(format!("stored amounts disagree: {e}")))
}

/// The columns [`PurchaseRow`] reads.
const SELECT_PURCHASE: &str = "SELECT id, reference, service_id, merchant_id, customer_id, merchant_reference, campaign, details, created_at, status, currency, amount_excl_minor, tax_minor, amount_minor, purchase_date, paid_at FROM purchases";

/// A new public reference in the style `{PRODUCT_CODE}{YEAR}-{5 lowercase hex}`
/// (`XYZ2024-ade08`); the unique index decides whether it is free.
pub fn new_reference(product_code: &str, year: i32) -> String {
    let random = uuid::Uuid::new_v4().as_u128() & 0xF_FFFF;
    format!("{}{year}-{random:05x}", product_code.trim().to_uppercase())
}

/// How storing a new purchase went.
#[derive(Debug)]
pub enum Inserted {
    /// Stored.
    Stored,
    /// The merchant already has a purchase with this merchant reference (nothing stored).
    MerchantReferenceTaken,
}

/// Which purchases a list asks for.
#[derive(Clone, Debug)]
pub struct PurchaseFilter {
    /// The merchant whose purchases they are.
    pub merchant: MerchantId,
    /// Only this customer's.
    pub customer: Option<CustomerId>,
    /// Only in this status.
    pub status: Option<PurchaseStatus>,
    /// Only after the purchase with this id (keyset pagination; ids are time-ordered).
    pub after: Option<PurchaseId>,
    /// At most this many.
    pub limit: i64,
}

impl Purchase {
    /// A purchase of priced lines for a service, not yet stored; its totals are the sums of
    /// the lines' amounts.
    pub fn new(
        service: &crate::service::Service,
        reference: String,
        status: PurchaseStatus,
        purchase_date: DateTime<Utc>,
        lines: Vec<PurchaseLine>,
    ) -> Result<Purchase> {
        let Some(first) = lines.first() else {
            return Err(Error::invalid("purchase_lines", "a purchase needs at least one line"));
        };
        let amounts = TaxSplit::total(lines.iter().map(|l| l.amounts), first.amounts.currency())?;
        Ok(Purchase {
            id: PurchaseId::generate(),
            reference,
            service_id: service.id.clone(),
            merchant_id: service.merchant_id.clone(),
            customer_id: Some(service.customer_id.clone()),
            merchant_reference: None,
            campaign: None,
            details: serde_json::json!({}),
            status,
            amounts,
            purchase_date,
            paid_at: None,
            lines,
            created_at: Utc::now(),
        })
    }

    /// Creates a purchase from its lines, computing each line's tax and the totals, with a new
    /// public reference from the service's product code.
    pub async fn create(
        db: &Db,
        service_id: &ServiceId,
        status: PurchaseStatus,
        purchase_date: DateTime<Utc>,
        new_lines: Vec<NewLine>,
    ) -> Result<Purchase> {
        let lines = Self::price_lines(new_lines)?;
        let service = crate::service::Service::find(db, service_id)
            .await?
            .ok_or(Error::NotFound("service"))?;
        let product = crate::product::Product::find(db, &service.product_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
        let mut purchase = Purchase::new(&service, String::new(), status, purchase_date, lines)?;
        purchase.insert_with_new_reference(db, &product.code).await?;
        Ok(purchase)
    }

    /// Stores the purchase under a fresh public reference, drawing again while one is taken; an
    /// open purchase of a merchant is announced to it (`invoice.created`) in the same
    /// transaction, so a stored invoice is never left unannounced by a crash.
    pub async fn insert_with_new_reference(
        &mut self,
        db: &Db,
        product_code: &str,
    ) -> Result<Inserted> {
        use chrono::Datelike;
        // 16⁵ references per product and year: a handful of draws finds a free one long
        // before the space fills.
        for _ in 0..8 {
            self.reference = new_reference(product_code, self.created_at.year());
            match self.insert_and_announce(db).await {
                Err(Error::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    if self.merchant_reference.is_some()
                        && Self::merchant_reference_taken(db, self).await?
                    {
                        return Ok(Inserted::MerchantReferenceTaken);
                    }
                }
                other => return other.map(|()| Inserted::Stored),
            }
        }
        Err(Error::Internal(format!("no free purchase reference for {product_code}")))
    }

    async fn merchant_reference_taken(db: &Db, purchase: &Purchase) -> Result<bool> {
        match (&purchase.merchant_id, &purchase.merchant_reference) {
            (Some(merchant), Some(reference)) => {
                Ok(Self::find_by_merchant_reference(db, merchant, reference).await?.is_some())
            }
            _ => Ok(false),
        }
    }

    /// Stores the purchase and its lines, and announces an open one to its merchant, in one
    /// transaction.
    async fn insert_and_announce(&self, db: &Db) -> Result<()> {
        let mut tx = db.begin().await?;
        self.insert_in(&mut tx, None).await?;
        if let (Some(merchant), PurchaseStatus::Open) = (&self.merchant_id, self.status) {
            let kind = crate::webhook::EventType::InvoiceCreated;
            crate::webhook::emit_in(&mut tx, merchant, kind, self.id.as_str()).await?;
        }
        tx.commit().await
    }

    /// Stores the purchase and its lines inside `tx`; `false` (nothing stored) when it bills a
    /// `billing_period` the service already has a purchase for, or its reference is taken.
    async fn insert_in(&self, tx: &mut Tx, billing_period: Option<&str>) -> Result<bool> {
        let purchase = self;
        let amounts = purchase.amounts;
        let details = serde_json::to_string(&purchase.details)
            .map_err(|e| Error::Internal(format!("purchase details: {e}")))?;
        with_tx!(tx, tx => {
            let inserted = sqlx::query(
                // A billed period is claimed by the unique index on (service_id, billing_period):
                // a second run's insert does nothing instead of failing the transaction.
                if billing_period.is_some() {
                    "INSERT INTO purchases (id, reference, service_id, merchant_id, customer_id, merchant_reference, campaign, details, status, currency, amount_excl_minor, tax_minor, amount_minor, purchase_date, paid_at, created_at, billing_period)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
                     ON CONFLICT DO NOTHING"
                } else {
                    "INSERT INTO purchases (id, reference, service_id, merchant_id, customer_id, merchant_reference, campaign, details, status, currency, amount_excl_minor, tax_minor, amount_minor, purchase_date, paid_at, created_at, billing_period)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                },
            )
            .bind(&purchase.id)
            .bind(&purchase.reference)
            .bind(&purchase.service_id)
            .bind(&purchase.merchant_id)
            .bind(&purchase.customer_id)
            .bind(&purchase.merchant_reference)
            .bind(&purchase.campaign)
            .bind(&details)
            .bind(purchase.status.as_str())
            .bind(amounts.currency().code())
            .bind(amounts.excl().minor())
            .bind(amounts.tax().minor())
            .bind(amounts.gross().minor())
            .bind(purchase.purchase_date)
            .bind(purchase.paid_at)
            .bind(purchase.created_at)
            .bind(billing_period)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Ok(false);
            }
            for line in &purchase.lines {
                sqlx::query(
                    "INSERT INTO purchase_lines (id, purchase_id, line_type, description, quantity, unit_price_minor, period_per_quantity, tax_rate_bp, amount_excl_minor, tax_minor, amount_minor)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&line.id)
                .bind(&purchase.id)
                .bind(line.line_type.id())
                .bind(&line.description)
                .bind(line.quantity)
                .bind(line.unit_price.minor())
                .bind(line.period_per_quantity)
                .bind(i64::from(line.tax_rate.basis_points()))
                .bind(line.amounts.excl().minor())
                .bind(line.amounts.tax().minor())
                .bind(line.amounts.gross().minor())
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(true)
    }

    /// Stores a purchase a billing job raised for `billing_period` (a recurring month, an
    /// auto-recharge) inside `tx`, under a fresh reference; `false` when the service already has
    /// a purchase for that period (another run raised it), and nothing is stored. An open one is
    /// announced to its merchant like any other.
    pub(crate) async fn insert_for_period(
        &mut self,
        tx: &mut Tx,
        product_code: &str,
        billing_period: &str,
    ) -> Result<bool> {
        use chrono::Datelike;
        for _ in 0..8 {
            self.reference = new_reference(product_code, self.created_at.year());
            if self.insert_in(tx, Some(billing_period)).await? {
                if let (Some(merchant), PurchaseStatus::Open) = (&self.merchant_id, self.status) {
                    let kind = crate::webhook::EventType::InvoiceCreated;
                    crate::webhook::emit_in(tx, merchant, kind, self.id.as_str()).await?;
                }
                return Ok(true);
            }
            if Self::period_taken(tx, &self.service_id, billing_period).await? {
                return Ok(false);
            }
            // Otherwise the reference was taken: draw another.
        }
        Err(Error::Internal(format!("no free purchase reference for {product_code}")))
    }

    /// Whether the service has a purchase for `billing_period`.
    pub(crate) async fn period_taken(
        tx: &mut Tx,
        service: &ServiceId,
        billing_period: &str,
    ) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM purchases WHERE service_id = $1 AND billing_period = $2";
        let n: i64 = with_tx!(tx, conn => sqlx::query_scalar(sql).bind(service).bind(billing_period).fetch_one(conn).await)?;
        Ok(n > 0)
    }

    /// Makes a due quote (an auto-recharge that couldn't be collected) owed, inside `tx`.
    pub(crate) async fn make_owed(tx: &mut Tx, id: &PurchaseId) -> Result<()> {
        let sql = "UPDATE purchases SET status = 'open' WHERE id = $1 AND status = 'quote'";
        with_tx!(tx, conn => sqlx::query(sql).bind(id).execute(conn).await.map(|_| ()))?;
        Ok(())
    }

    /// The service's purchase for `billing_period`, if it has one.
    pub async fn for_period(
        db: &Db,
        service: &ServiceId,
        billing_period: &str,
    ) -> Result<Option<Purchase>> {
        let sql = format!("{SELECT_PURCHASE} WHERE service_id = $1 AND billing_period = $2");
        let row: Option<PurchaseRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(service)
            .bind(billing_period)
            .fetch_optional(pool)
            .await)?;
        match row {
            Some(row) => Ok(Some(Self::load_lines(db, row).await?)),
            None => Ok(None),
        }
    }

    /// Loads a purchase by its public reference.
    pub async fn find_by_reference(db: &Db, reference: &str) -> Result<Option<Purchase>> {
        let sql = format!("{SELECT_PURCHASE} WHERE reference = $1");
        let row: Option<PurchaseRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(reference).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(Self::load_lines(db, row).await?)),
            None => Ok(None),
        }
    }

    /// Loads the merchant's purchase with this merchant reference.
    pub async fn find_by_merchant_reference(
        db: &Db,
        merchant: &MerchantId,
        merchant_reference: &str,
    ) -> Result<Option<Purchase>> {
        let sql = format!("{SELECT_PURCHASE} WHERE merchant_id = $1 AND merchant_reference = $2");
        let row: Option<PurchaseRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(merchant)
            .bind(merchant_reference)
            .fetch_optional(pool)
            .await)?;
        match row {
            Some(row) => Ok(Some(Self::load_lines(db, row).await?)),
            None => Ok(None),
        }
    }

    /// A page of a merchant's purchases, oldest first, by the filter.
    pub async fn list(db: &Db, filter: &PurchaseFilter) -> Result<Vec<Purchase>> {
        // One statement per shape, so each is served by its index (see the migration).
        let (by, key) = match &filter.customer {
            Some(customer) => ("customer_id", customer.as_str()),
            None => ("merchant_id", filter.merchant.as_str()),
        };
        let status = if filter.status.is_some() { "AND status = $4" } else { "AND $4 = ''" };
        let sql = format!(
            "{SELECT_PURCHASE} WHERE {by} = $1 AND merchant_id = $2 AND id > $3 {status} ORDER BY id LIMIT $5"
        );
        let rows: Vec<PurchaseRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(key)
            .bind(&filter.merchant)
            .bind(filter.after.as_ref().map(|a| a.as_str()).unwrap_or(""))
            .bind(filter.status.map(|s| s.as_str()).unwrap_or(""))
            .bind(filter.limit)
            .fetch_all(pool)
            .await)?;
        let mut purchases = Vec::with_capacity(rows.len());
        for row in rows {
            purchases.push(Self::load_lines(db, row).await?);
        }
        Ok(purchases)
    }

    /// Cancels an open purchase on which no payment attempt is open; `false` when it wasn't
    /// cancelled. The purchase row is locked first, as a new attempt locks it
    /// ([`Purchase::hold_payable`]), so the two can't pass each other: whichever comes second
    /// sees what the first committed.
    pub async fn cancel_if_unpaid(db: &Db, id: &PurchaseId) -> Result<bool> {
        let mut tx = db.begin().await?;
        if !Self::lock(&mut tx, id, "status IN ('open', 'quote')").await? {
            return Ok(false);
        }
        let open =
            "SELECT COUNT(*) FROM payments WHERE purchase_id = $1 AND state IN (1, 2, 3, 4, 5)";
        let open: i64 =
            with_tx!(&mut tx, conn => sqlx::query_scalar(open).bind(id).fetch_one(conn).await)?;
        if open > 0 {
            return Ok(false);
        }
        let sql = "UPDATE purchases SET status = 'cancelled' WHERE id = $1";
        with_tx!(&mut tx, conn => sqlx::query(sql).bind(id).execute(conn).await.map(|_| ()))?;
        tx.commit().await?;
        Ok(true)
    }

    /// Inside the transaction that stores a new payment attempt: locks the purchase and answers
    /// whether it is still payable (open or a quote), so a cancel can't slip in between.
    pub(crate) async fn hold_payable(tx: &mut Tx, id: &PurchaseId) -> Result<bool> {
        Self::lock(tx, id, "status IN ('open', 'quote')").await
    }

    /// Locks the purchase's row for the rest of `tx`, whatever its status: a payment about to
    /// succeed takes it before it touches its own row, in the order a new attempt takes them.
    pub(crate) async fn hold(tx: &mut Tx, id: &PurchaseId) -> Result<()> {
        Self::lock(tx, id, "TRUE").await.map(|_| ())
    }

    /// Locks the purchase's row for the rest of `tx` if it matches `condition`.
    async fn lock(tx: &mut Tx, id: &PurchaseId, condition: &str) -> Result<bool> {
        // A no-op update takes the row lock on PostgreSQL; SQLite's transactions hold the
        // database's write lock from their start (`Db::begin`).
        let sql = format!("UPDATE purchases SET status = status WHERE id = $1 AND {condition}");
        let rows = with_tx!(tx, conn => sqlx::query(&sql).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(rows == 1)
    }

    /// Loads a purchase with its lines.
    pub async fn find(db: &Db, id: &PurchaseId) -> Result<Option<Purchase>> {
        let sql = format!("{SELECT_PURCHASE} WHERE id = $1");
        let row: Option<PurchaseRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(Self::load_lines(db, row).await?)),
            None => Ok(None),
        }
    }

    /// The open (owed) purchases of a service, oldest first.
    pub async fn open_for_service(db: &Db, service: &ServiceId) -> Result<Vec<Purchase>> {
        let sql = format!(
            "{SELECT_PURCHASE} WHERE service_id = $1 AND status = 'open' ORDER BY purchase_date"
        );
        let rows: Vec<PurchaseRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(service).fetch_all(pool).await)?;
        let mut purchases = Vec::with_capacity(rows.len());
        for row in rows {
            purchases.push(Self::load_lines(db, row).await?);
        }
        Ok(purchases)
    }

    async fn load_lines(db: &Db, row: PurchaseRow) -> Result<Purchase> {
        let currency: Currency = stored("purchases.currency", &row.currency)?;
        let sql = "SELECT id, line_type, description, quantity, unit_price_minor, period_per_quantity, tax_rate_bp, amount_excl_minor, tax_minor, amount_minor
                   FROM purchase_lines WHERE purchase_id = $1 ORDER BY id";
        let line_rows: Vec<LineRow> =
            with_db!(db, pool => sqlx::query_as(sql).bind(&row.id).fetch_all(pool).await)?;
        let mut lines = Vec::with_capacity(line_rows.len());
        for l in line_rows {
            let tax_rate = u32::try_from(l.tax_rate_bp)
                .ok()
                .and_then(|bp| TaxRate::from_basis_points(bp).ok())
                .ok_or_else(|| {
                    Error::Internal(format!(
                        "purchase_lines.tax_rate_bp {} is invalid",
                        l.tax_rate_bp
                    ))
                })?;
            lines.push(PurchaseLine {
                line_type: LineType::from_id(l.line_type)
                    .map_err(|e| Error::Internal(format!("purchase_lines.line_type: {e}")))?,
                amounts: stored_split(currency, l.amount_excl_minor, l.tax_minor, l.amount_minor)?,
                id: l.id,
                description: l.description,
                quantity: l.quantity,
                unit_price: Money::from_minor(l.unit_price_minor, currency),
                period_per_quantity: l.period_per_quantity,
                tax_rate,
            });
        }
        Ok(Purchase {
            amounts: stored_split(
                currency,
                row.amount_excl_minor,
                row.tax_minor,
                row.amount_minor,
            )?,
            status: stored("purchases.status", &row.status)?,
            details: serde_json::from_str(&row.details).map_err(|e| {
                Error::Internal(format!("purchases.details of {} can't be read: {e}", row.id))
            })?,
            id: row.id,
            reference: row.reference,
            service_id: row.service_id,
            merchant_id: row.merchant_id,
            customer_id: row.customer_id,
            merchant_reference: row.merchant_reference,
            campaign: row.campaign,
            created_at: row.created_at,
            purchase_date: row.purchase_date,
            paid_at: row.paid_at,
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_read_like_the_invoice_ids_of_seed_001() {
        let reference = new_reference("xyz", 2024);
        let (head, tail) = reference.split_once('-').unwrap();
        assert_eq!(head, "XYZ2024");
        assert_eq!(tail.len(), 5);
        assert!(tail.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(new_reference("XYZ", 2024), new_reference("XYZ", 2024), "drawn at random");
    }
}
