//! The recurring collection day: on each recurring-monthly product's collection day, every
//! service of it gets that month's purchase (raised once per service and month: the unique
//! `(service_id, billing_period)` index), collected from the service's active medium through the
//! orchestrator with an idempotency key made of the service and the month. Running the day
//! twice, or on two instances at once, raises one purchase and charges once: the second run
//! finds the month's purchase, and its attempt answers the first run's (or waits for it).
//!
//! A collection that is declined, or a service without a usable medium, leaves the purchase
//! owed and the service in arrears, so its details show what must be paid.
//!
//! A service already paid past the next month (months bought ahead) is not billed that day.
//! A collection day past the month's end (31 in a 30-day month) falls on the month's last day.

use chrono::{Datelike, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Serialize;

use crate::access::Viewer;
use crate::checkout::{self, Method, PayRequest};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::payment::{Orchestrator, PaymentState};
use crate::payment_method::{MethodKind, MethodStatus, PaymentMethod};
use crate::product::{BillingKind, Product};
use crate::purchase::{LineType, NewLine, Purchase, PurchaseStatus};
use crate::service::{Service, ServiceId};
use crate::with_db;

/// The periodic job that runs today's collection (payload `{"window_start": …}`).
pub const COLLECTION_DAY_JOB: &str = "billing.collection_day";

/// Services examined per query; the selection is keyset-paginated by service id.
const BATCH: i64 = 100;

/// What one run of a collection day did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CollectionReport {
    /// Services whose product is collected that day.
    pub due: usize,
    /// Month purchases raised by this run (not by an earlier one).
    pub raised: usize,
    /// Purchases collected (paid) by this run or found paid already.
    pub collected: usize,
    /// Collections declined: the purchase is owed, the service in arrears.
    pub declined: usize,
    /// Purchases owed because the service has no usable medium.
    pub no_medium: usize,
    /// Collections whose answer is still coming (left to reconciliation), or under way in
    /// another run.
    pub pending: usize,
    /// Services not billed (paid ahead, cancelled).
    pub skipped: usize,
    /// Services whose collection failed with an error (logged); the next run tries again.
    pub errors: usize,
}

/// How one service's month went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonthOutcome {
    /// Paid.
    Collected,
    /// Declined; owed.
    Declined,
    /// Owed: no usable medium.
    NoMedium,
    /// The attempt's answer is still coming, or another run's attempt is under way.
    Pending,
    /// Not billed this month.
    Skipped,
}

/// The billing period of a month: `YYYY-MM`.
pub fn billing_month(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// The collection days due on `date`: the day itself, and on a month's last day every later
/// day too (31 in a 30-day month).
fn due_days(date: NaiveDate) -> (i64, i64) {
    let day = i64::from(date.day());
    let last_day = date.succ_opt().is_none_or(|next| next.month() != date.month());
    (day, if last_day { 31 } else { day })
}

/// Runs the collection day `date` (UTC): raises and collects the month's purchase of every
/// recurring-monthly service whose product is collected that day. The job and the CLI call this.
pub async fn run_collection_day(
    payments: &Orchestrator,
    date: NaiveDate,
) -> Result<CollectionReport> {
    let db = payments.db();
    let (from, to) = due_days(date);
    let mut report = CollectionReport::default();
    let mut after = String::new();
    loop {
        let batch = due_services(db, from, to, &after, BATCH).await?;
        for id in &batch {
            report.due += 1;
            match collect_month(payments, id, date).await {
                Ok((outcome, raised)) => {
                    report.raised += usize::from(raised);
                    match outcome {
                        MonthOutcome::Collected => report.collected += 1,
                        MonthOutcome::Declined => report.declined += 1,
                        MonthOutcome::NoMedium => report.no_medium += 1,
                        MonthOutcome::Pending => report.pending += 1,
                        MonthOutcome::Skipped => report.skipped += 1,
                    }
                }
                Err(e) => {
                    tracing::warn!(service = %id, error = %e, "collection failed; the next run tries again");
                    report.errors += 1;
                }
            }
        }
        match batch.last() {
            Some(last) if batch.len() as i64 == BATCH => after = last.to_string(),
            _ => break,
        }
    }
    tracing::info!(%date, ?report, "collection day run");
    Ok(report)
}

/// A page of the services due, in id order after `after`: products collected on a day from
/// `from` to `to` (index on products' billing kind and collection day), then their services
/// (index on services' product and id).
async fn due_services(
    db: &Db,
    from: i64,
    to: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<ServiceId>> {
    let sql = "SELECT s.id FROM products p JOIN services s ON s.product_id = p.id
               WHERE p.billing_kind = 'recurring_monthly' AND p.collection_day BETWEEN $1 AND $2
                 AND s.id > $3
               ORDER BY s.id LIMIT $4";
    let ids: Vec<String> = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(from)
        .bind(to)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    Ok(ids.into_iter().map(ServiceId::from_string).collect())
}

/// Raises (once) and collects one service's purchase for the month of `date`; the bool says
/// whether this call raised it.
pub async fn collect_month(
    payments: &Orchestrator,
    service_id: &ServiceId,
    date: NaiveDate,
) -> Result<(MonthOutcome, bool)> {
    let db = payments.db();
    let service = Service::find(db, service_id).await?.ok_or(Error::NotFound("service"))?;
    let product = Product::find(db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
    let period = billing_month(date);
    let (purchase, raised) = match Purchase::for_period(db, &service.id, &period).await? {
        Some(existing) => (existing, false),
        None => {
            if !is_billed(&service, &product, date) {
                return Ok((MonthOutcome::Skipped, false));
            }
            raise_month(db, &service, &product, date, &period).await?
        }
    };
    if purchase.status != PurchaseStatus::Open {
        let outcome = if purchase.status == PurchaseStatus::Paid {
            MonthOutcome::Collected
        } else {
            MonthOutcome::Skipped
        };
        return Ok((outcome, raised));
    }
    let key = format!("billing:{}:{period}", service.id);
    let outcome = collect(payments, &service, &purchase, key).await?;
    Ok((outcome, raised))
}

/// Whether the service is billed this month: not cancelled, and not paid past the next month.
fn is_billed(service: &Service, product: &Product, date: NaiveDate) -> bool {
    if product.billing_kind != BillingKind::RecurringMonthly {
        return false;
    }
    if crate::service_standing::status_category(&service.status) == "CancelledStatuses" {
        return false;
    }
    let day_start = Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN));
    let next_month = day_start.checked_add_months(Months::new(1)).unwrap_or(day_start);
    service.period_end.is_none_or(|end| end <= next_month)
}

/// Raises the month's purchase (1 month × the product's unit price, taxed at its rate) and puts
/// the service in arrears until it is paid, in one transaction. If another run raised it first,
/// that one is answered.
async fn raise_month(
    db: &Db,
    service: &Service,
    product: &Product,
    date: NaiveDate,
    period: &str,
) -> Result<(Purchase, bool)> {
    let lines = Purchase::price_lines(vec![NewLine {
        line_type: LineType::Monthly,
        description: format!("{}, {}", product.name, date.format("%B %Y")),
        quantity: 1,
        unit_price: product.unit_price,
        period_per_quantity: 1,
        tax_rate: product.tax_rate,
    }])?;
    let purchase_date = Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN));
    let mut purchase =
        Purchase::new(service, String::new(), PurchaseStatus::Open, purchase_date, lines)?;
    let mut tx = db.begin().await?;
    let raised = purchase.insert_for_period(&mut tx, &product.code, period).await?;
    if raised {
        Service::mark_in_arrears(&mut tx, &service.id).await?;
    }
    tx.commit().await?;
    if raised {
        return Ok((purchase, true));
    }
    let existing = Purchase::for_period(db, &service.id, period)
        .await?
        .ok_or_else(|| Error::Internal(format!("purchase for {period} vanished")))?;
    Ok((existing, false))
}

/// The medium a job may collect from without the customer: the service's active medium, if it
/// is a valid card or bank account a gateway holds a token for.
pub(crate) async fn collectable_medium(
    db: &Db,
    service: &Service,
) -> Result<Option<PaymentMethod>> {
    let Some(id) = &service.active_payment_method_id else { return Ok(None) };
    let method = PaymentMethod::find(db, id).await?;
    Ok(method.filter(|m| {
        m.status == MethodStatus::Valid
            && matches!(m.kind, MethodKind::Card | MethodKind::BankAccount)
            && m.gateway_token.is_some()
            && m.gateway_id.is_some()
    }))
}

/// Collects an owed (or due) purchase from the service's active medium through the orchestrator,
/// as the merchant's system (the job acts for the merchant billing its customer). Anything but
/// a payment leaves the purchase owed and the service in arrears.
pub(crate) async fn collect(
    payments: &Orchestrator,
    service: &Service,
    purchase: &Purchase,
    idempotency_key: String,
) -> Result<MonthOutcome> {
    let db = payments.db();
    let Some(medium) = collectable_medium(db, service).await? else {
        owed(db, service, purchase).await?;
        return Ok(MonthOutcome::NoMedium);
    };
    collect_with(payments, service, purchase, &medium, idempotency_key).await
}

/// [`collect`] with a medium already chosen.
pub(crate) async fn collect_with(
    payments: &Orchestrator,
    service: &Service,
    purchase: &Purchase,
    medium: &PaymentMethod,
    idempotency_key: String,
) -> Result<MonthOutcome> {
    let db = payments.db();
    let payer = match &service.merchant_id {
        Some(merchant) => Viewer::Merchant(merchant.clone()),
        None => Viewer::Staff,
    };
    let request = PayRequest {
        payer,
        purchase_id: purchase.id.clone(),
        gateways: medium.gateway_id.iter().cloned().collect(),
        method: Method::SavedMethod(medium.id.clone()),
        return_to: None,
        details: serde_json::json!({ "collected_by": "billing job" }),
        idempotency_key: Some(idempotency_key),
    };
    match checkout::pay(payments, request).await {
        Ok(started) => match started.payment.state {
            s if s.is_success() => Ok(MonthOutcome::Collected),
            s if s.is_final() => {
                tracing::info!(payment = %started.payment.reference, state = %s, "collection declined");
                owed(db, service, purchase).await?;
                Ok(MonthOutcome::Declined)
            }
            PaymentState::Processing | PaymentState::AwaitingCustomer => Ok(MonthOutcome::Pending),
            _ => Ok(MonthOutcome::Pending),
        },
        Err(Error::PaymentInProgress(_)) => Ok(MonthOutcome::Pending),
        // Paid meanwhile (by the customer, or another run that finished first).
        Err(Error::Conflict(_)) => Ok(MonthOutcome::Collected),
        Err(e) => Err(e),
    }
}

/// Leaves the purchase owed: a due quote (an auto-recharge) becomes open, and the service is in
/// arrears, so its details show what must be paid.
pub(crate) async fn owed(db: &Db, service: &Service, purchase: &Purchase) -> Result<()> {
    let mut tx = db.begin().await?;
    Purchase::make_owed(&mut tx, &purchase.id).await?;
    Service::mark_in_arrears(&mut tx, &service.id).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn collection_days_past_the_months_end_fall_on_its_last_day() {
        assert_eq!(due_days(day(2026, 12, 15)), (15, 15));
        assert_eq!(due_days(day(2026, 11, 30)), (30, 31));
        assert_eq!(due_days(day(2027, 2, 28)), (28, 31));
        assert_eq!(due_days(day(2026, 12, 31)), (31, 31));
        assert_eq!(billing_month(day(2026, 3, 15)), "2026-03");
    }
}
