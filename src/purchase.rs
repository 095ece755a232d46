//! Purchases: amounts owed, with lines and tax (an arrears purchase, a buy-now quote, a premium).

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::service::ServiceId;
use crate::tax::{TaxRate, TaxSplit};
use crate::text_enum::stored;
use crate::{text_enum, with_db};

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

/// The kind of a purchase line (the ISP seed's `purchase_line_type_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineType {
    /// 1: days (bundles).
    Day,
    /// 2: months.
    Monthly,
    /// 3: installation or once-off.
    OnceOff,
}

impl LineType {
    /// The seed's numeric id.
    pub fn id(self) -> i64 {
        match self {
            LineType::Day => 1,
            LineType::Monthly => 2,
            LineType::OnceOff => 3,
        }
    }

    /// The line type with this numeric id.
    pub fn from_id(id: i64) -> Result<LineType, crate::error::FieldError> {
        match id {
            1 => Ok(LineType::Day),
            2 => Ok(LineType::Monthly),
            3 => Ok(LineType::OnceOff),
            _ => Err(crate::error::FieldError::new(
                "purchase_line_type_id",
                "must be 1 (day), 2 (monthly) or 3 (once-off)",
            )),
        }
    }
}

/// A line to put on a new purchase; its tax is computed, not given.
#[derive(Clone, Debug)]
pub struct NewLine {
    /// Day, monthly or once-off.
    pub line_type: LineType,
    /// What the line is for.
    pub description: String,
    /// How many units.
    pub quantity: i64,
    /// Price of one unit, excluding tax.
    pub unit_price: Money,
    /// Days or months each unit adds to the service period.
    pub period_per_quantity: i64,
    /// Tax rate of the line.
    pub tax_rate: TaxRate,
}

/// One line of a purchase.
#[derive(Clone, Debug)]
pub struct PurchaseLine {
    /// Line id.
    pub id: String,
    /// Day, monthly or once-off.
    pub line_type: LineType,
    /// What the line is for.
    pub description: String,
    /// How many units.
    pub quantity: i64,
    /// Price of one unit, excluding tax.
    pub unit_price: Money,
    /// Days or months each unit adds.
    pub period_per_quantity: i64,
    /// Tax rate of the line.
    pub tax_rate: TaxRate,
    /// The line's amount excluding tax, tax, and total.
    pub amounts: TaxSplit,
}

/// An amount owed for a service.
#[derive(Clone, Debug)]
pub struct Purchase {
    /// Settle's id.
    pub id: PurchaseId,
    /// The service it pays for.
    pub service_id: ServiceId,
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
}

#[derive(sqlx::FromRow)]
struct PurchaseRow {
    id: PurchaseId,
    service_id: ServiceId,
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

impl Purchase {
    /// Creates a purchase from its lines, computing each line's tax and the totals.
    pub async fn create(
        db: &Db,
        service_id: &ServiceId,
        status: PurchaseStatus,
        purchase_date: DateTime<Utc>,
        new_lines: Vec<NewLine>,
    ) -> Result<Purchase> {
        let Some(first) = new_lines.first() else {
            return Err(Error::invalid("purchase_lines", "a purchase needs at least one line"));
        };
        let currency = first.unit_price.currency();
        let mut lines = Vec::with_capacity(new_lines.len());
        for (i, line) in new_lines.into_iter().enumerate() {
            let at = |field: &str| format!("purchase_lines[{i}].{field}");
            if line.quantity <= 0 {
                return Err(Error::invalid(at("quantity"), "must be at least 1"));
            }
            if line.unit_price.currency() != currency {
                return Err(Error::invalid(
                    at("amount_per_quantity"),
                    "all lines must share one currency",
                ));
            }
            let excl =
                line.unit_price.checked_mul(line.quantity).map_err(|e| e.at(at("quantity")))?;
            let amounts =
                line.tax_rate.split_exclusive(excl).map_err(|e| e.at(at("total_amount")))?;
            lines.push(PurchaseLine {
                id: uuid::Uuid::now_v7().to_string(),
                line_type: line.line_type,
                description: line.description,
                quantity: line.quantity,
                unit_price: line.unit_price,
                period_per_quantity: line.period_per_quantity,
                tax_rate: line.tax_rate,
                amounts,
            });
        }
        let amounts = TaxSplit::total(lines.iter().map(|l| l.amounts), currency)?;
        let purchase = Purchase {
            id: PurchaseId::generate(),
            service_id: service_id.clone(),
            status,
            amounts,
            purchase_date,
            paid_at: None,
            lines,
        };
        with_db!(db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO purchases (id, service_id, status, currency, amount_excl_minor, tax_minor, amount_minor, purchase_date, paid_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&purchase.id)
            .bind(&purchase.service_id)
            .bind(purchase.status.as_str())
            .bind(currency.code())
            .bind(amounts.excl().minor())
            .bind(amounts.tax().minor())
            .bind(amounts.gross().minor())
            .bind(purchase.purchase_date)
            .bind(purchase.paid_at)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
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
            tx.commit().await?;
        });
        Ok(purchase)
    }

    /// Loads a purchase with its lines.
    pub async fn find(db: &Db, id: &PurchaseId) -> Result<Option<Purchase>> {
        let sql = "SELECT id, service_id, status, currency, amount_excl_minor, tax_minor, amount_minor, purchase_date, paid_at
                   FROM purchases WHERE id = $1";
        let row: Option<PurchaseRow> =
            with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(Self::load_lines(db, row).await?)),
            None => Ok(None),
        }
    }

    /// The open (owed) purchases of a service, oldest first.
    pub async fn open_for_service(db: &Db, service: &ServiceId) -> Result<Vec<Purchase>> {
        let sql = "SELECT id, service_id, status, currency, amount_excl_minor, tax_minor, amount_minor, purchase_date, paid_at
                   FROM purchases WHERE service_id = $1 AND status = 'open' ORDER BY purchase_date";
        let rows: Vec<PurchaseRow> =
            with_db!(db, pool => sqlx::query_as(sql).bind(service).fetch_all(pool).await)?;
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
            id: row.id,
            service_id: row.service_id,
            purchase_date: row.purchase_date,
            paid_at: row.paid_at,
            lines,
        })
    }
}
