//! Multi-row inserts for the demo's history: a few statements for hundreds of purchases,
//! payments and events, so loading the demo (which every integration test does) stays fast.

use chrono::{DateTime, Utc};

use crate::customer::Customer;
use crate::db::Tx;
use crate::error::Result;
use crate::merchant::MerchantId;
use crate::money::Money;
use crate::payment::PaymentState;
use crate::payment::record::PaymentId;
use crate::purchase::{Purchase, PurchaseId};
use crate::service::Service;
use crate::with_tx;

/// The history's payments say what they are, so a check of real money (the ledger's, a test's)
/// can leave them out: the sandbox never charged them.
pub const HISTORY_DETAILS: &str = r#"{"demo_history":true}"#;

/// Rows per statement: well under both backends' limits on bound parameters.
const CHUNK: usize = 100;

/// A history payment as stored.
pub(super) struct PaymentRow {
    pub id: PaymentId,
    pub reference: String,
    pub purchase_id: PurchaseId,
    pub merchant_id: MerchantId,
    pub gateway_id: String,
    pub state: PaymentState,
    pub amount: Money,
    pub gateway_reference: Option<String>,
    /// The card's last four digits (a Visa expiring 12/29), for card gateways.
    pub card: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One step of a history payment's timeline.
pub(super) struct EventRow {
    pub payment_id: PaymentId,
    pub from: Option<PaymentState>,
    pub to: PaymentState,
    pub cause: String,
    pub gateway_reference: Option<String>,
    pub at: DateTime<Utc>,
}

/// `($1, $2, …), ($n+1, …)` for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stores the customers and their services inside `tx`.
pub(super) async fn insert_customers(
    tx: &mut Tx,
    customers: &[Customer],
    services: &[Service],
) -> Result<()> {
    let sql = format!(
        "INSERT INTO customers (id, merchant_id, code, name, email, phone, created_at) VALUES {}",
        placeholders(customers.len(), 7)
    );
    with_tx!(tx, conn => {
        let mut q = sqlx::query(&sql);
        for c in customers {
            q = q
                .bind(&c.id)
                .bind(&c.merchant_id)
                .bind(&c.code)
                .bind(&c.name)
                .bind(&c.email)
                .bind(&c.phone)
                .bind(c.created_at);
        }
        q.execute(conn).await.map(|_| ())
    })?;
    let sql = format!(
        "INSERT INTO services (id, reference, kind, customer_id, product_id, merchant_id, status, billing_status, details, created_at, updated_at) VALUES {}",
        placeholders(services.len(), 11)
    );
    let details = serde_json::to_string(&crate::service::ServiceDetails::default())
        .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
    with_tx!(tx, conn => {
        let mut q = sqlx::query(&sql);
        for s in services {
            q = q
                .bind(&s.id)
                .bind(&s.reference)
                .bind(s.kind.as_str())
                .bind(&s.customer_id)
                .bind(&s.product_id)
                .bind(&s.merchant_id)
                .bind(&s.status)
                .bind(s.billing_status.as_str())
                .bind(&details)
                .bind(s.created_at)
                .bind(s.updated_at);
        }
        q.execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

/// Stores the purchases (with their lines), payments and events inside `tx`.
pub(super) async fn insert(
    tx: &mut Tx,
    purchases: &[Purchase],
    payments: &[PaymentRow],
    events: &[EventRow],
) -> Result<()> {
    for chunk in purchases.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO purchases (id, reference, service_id, merchant_id, customer_id, status, currency, amount_excl_minor, tax_minor, amount_minor, purchase_date, paid_at, created_at) VALUES {}",
            placeholders(chunk.len(), 13)
        );
        with_tx!(tx, conn => {
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q
                    .bind(&p.id)
                    .bind(&p.reference)
                    .bind(&p.service_id)
                    .bind(&p.merchant_id)
                    .bind(&p.customer_id)
                    .bind(p.status.as_str())
                    .bind(p.amounts.currency().code())
                    .bind(p.amounts.excl().minor())
                    .bind(p.amounts.tax().minor())
                    .bind(p.amounts.gross().minor())
                    .bind(p.purchase_date)
                    .bind(p.paid_at)
                    .bind(p.created_at);
            }
            q.execute(conn).await.map(|_| ())
        })?;
        let lines: Vec<_> =
            chunk.iter().flat_map(|p| p.lines.iter().map(move |l| (p, l))).collect();
        let sql = format!(
            "INSERT INTO purchase_lines (id, purchase_id, line_type, description, quantity, unit_price_minor, period_per_quantity, tax_rate_bp, amount_excl_minor, tax_minor, amount_minor) VALUES {}",
            placeholders(lines.len(), 11)
        );
        with_tx!(tx, conn => {
            let mut q = sqlx::query(&sql);
            for (p, line) in &lines {
                q = q
                    .bind(&line.id)
                    .bind(&p.id)
                    .bind(line.line_type.id())
                    .bind(&line.description)
                    .bind(line.quantity)
                    .bind(line.unit_price.minor())
                    .bind(line.period_per_quantity)
                    .bind(i64::from(line.tax_rate.basis_points()))
                    .bind(line.amounts.excl().minor())
                    .bind(line.amounts.tax().minor())
                    .bind(line.amounts.gross().minor());
            }
            q.execute(conn).await.map(|_| ())
        })?;
    }
    for chunk in payments.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO payments (id, reference, purchase_id, merchant_id, gateway_id, state, currency, amount_minor, gateway_reference, card_brand, card_last4, card_expiry, failure_reason, details, created_at, updated_at) VALUES {}",
            placeholders(chunk.len(), 16)
        );
        with_tx!(tx, conn => {
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q
                    .bind(&p.id)
                    .bind(&p.reference)
                    .bind(&p.purchase_id)
                    .bind(&p.merchant_id)
                    .bind(&p.gateway_id)
                    .bind(i64::from(p.state.code()))
                    .bind(p.amount.currency().code())
                    .bind(p.amount.minor())
                    .bind(&p.gateway_reference)
                    .bind(p.card.as_ref().map(|_| "VISA"))
                    .bind(&p.card)
                    .bind(p.card.as_ref().map(|_| "1229"))
                    .bind(&p.failure_reason)
                    .bind(HISTORY_DETAILS)
                    .bind(p.created_at)
                    .bind(p.updated_at);
            }
            q.execute(conn).await.map(|_| ())
        })?;
    }
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO payment_events (payment_id, from_state, to_state, cause, gateway_reference, created_at) VALUES {}",
            placeholders(chunk.len(), 6)
        );
        with_tx!(tx, conn => {
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(&e.payment_id)
                    .bind(e.from.map(|s| i64::from(s.code())))
                    .bind(i64::from(e.to.code()))
                    .bind(&e.cause)
                    .bind(&e.gateway_reference)
                    .bind(e.at);
            }
            q.execute(conn).await.map(|_| ())
        })?;
    }
    Ok(())
}
