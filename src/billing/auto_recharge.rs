//! Auto-recharge (hybrid day bundles whose product has `auto_recharge`): when a purchase of such
//! a service is fulfilled, the next one (the same lines again: the same bundle) is raised in the
//! same transaction, dated a lead time before the new period ends, with a durable job due then
//! that collects it with the service's active tokenized card through the orchestrator.
//!
//! The next purchase is a `quote` until it is collected: it is not owed yet, so the service is
//! not in arrears and its details show nothing to pay before the bundle runs out. Only when its
//! collection can't be made (no usable card, an expired card, a decline) does it become `open`
//! (owed), the service in arrears, and the card `expired`: the service's standing then says the
//! card must be updated (`card_needs_update`).
//!
//! Exactly once: the next purchase is keyed `recharge:{fulfilled purchase}` in the unique
//! `(service_id, billing_period)` index and its job by a dedupe key; the job charges through
//! the attempt protocol with an idempotency key made of the purchase, and does nothing once the
//! purchase is no longer a quote, so two workers running it charge once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::collection_day::{MonthOutcome, collect_with, owed};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::job::{self, NewJob};
use crate::money::{Currency, Money};
use crate::payment::Orchestrator;
use crate::payment_method::PaymentMethod;
use crate::purchase::{LineType, NewLine, Purchase, PurchaseId, PurchaseStatus};
use crate::service::{Service, ServiceId};
use crate::tax::TaxRate;
use crate::text_enum::stored;
use crate::with_tx;

/// The job that collects an auto-recharge purchase (payload [`RechargeJob`]).
pub const RECHARGE_JOB: &str = "billing.recharge";

/// How long before the bundle runs out the recharge is collected: a day, so a declined card
/// leaves the customer a day to update it. A constant rather than a scheme setting: no seed
/// names one. Bundles shorter than two days are recharged half-way through instead, so the
/// recharge of a one-day bundle doesn't fall due the moment it is bought.
pub const RECHARGE_LEAD: Duration = Duration::days(1);

/// What the recharge job needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RechargeJob {
    /// The future-dated purchase to collect.
    pub purchase_id: PurchaseId,
}

/// How a recharge went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RechargeOutcome {
    /// Collected (now or earlier).
    Collected,
    /// The card was declined: the purchase is owed and the card must be updated.
    Declined,
    /// The card's expiry has passed: nothing was charged, the purchase is owed and the card
    /// must be updated.
    CardExpired,
    /// No usable tokenized card: the purchase is owed.
    NoCard,
    /// The answer is still coming (reconciliation settles it), or another run is collecting.
    Pending,
    /// Nothing to do: the purchase was paid, owed or cancelled already.
    Settled,
}

#[derive(sqlx::FromRow)]
struct Scheme {
    auto_recharge: bool,
    code: String,
    service_id: ServiceId,
    currency: String,
}

#[derive(sqlx::FromRow)]
struct Line {
    line_type: i64,
    description: String,
    quantity: i64,
    unit_price_minor: i64,
    period_per_quantity: i64,
    tax_rate_bp: i64,
}

/// Inside the fulfilment of `fulfilled`, which paid the service until `period_end` from
/// `period_start`: raises the next purchase (same lines) of an auto-recharge product and its
/// job. `None` for other products, or when it was raised already.
pub(crate) async fn schedule_next(
    tx: &mut Tx,
    fulfilled: &PurchaseId,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
) -> Result<Option<PurchaseId>> {
    let sql = "SELECT pr.auto_recharge, pr.code, s.id AS service_id, pu.currency
               FROM purchases pu JOIN services s ON s.id = pu.service_id
               JOIN products pr ON pr.id = s.product_id WHERE pu.id = $1";
    let scheme: Scheme =
        with_tx!(tx, conn => sqlx::query_as(sql).bind(fulfilled).fetch_one(conn).await)?;
    if !scheme.auto_recharge {
        return Ok(None);
    }
    let currency: Currency = stored("purchases.currency", &scheme.currency)?;
    let sql = "SELECT line_type, description, quantity, unit_price_minor, period_per_quantity, tax_rate_bp
               FROM purchase_lines WHERE purchase_id = $1 ORDER BY id";
    let rows: Vec<Line> =
        with_tx!(tx, conn => sqlx::query_as(sql).bind(fulfilled).fetch_all(conn).await)?;
    let mut lines = Vec::with_capacity(rows.len());
    for l in rows {
        let tax_rate = u32::try_from(l.tax_rate_bp)
            .ok()
            .and_then(|bp| TaxRate::from_basis_points(bp).ok())
            .ok_or_else(|| Error::Internal(format!("tax_rate_bp {} is invalid", l.tax_rate_bp)))?;
        lines.push(NewLine {
            line_type: LineType::from_id(l.line_type)
                .map_err(|e| Error::Internal(format!("purchase_lines.line_type: {e}")))?,
            description: l.description,
            quantity: l.quantity,
            unit_price: Money::from_minor(l.unit_price_minor, currency),
            period_per_quantity: l.period_per_quantity,
            tax_rate,
        });
    }
    let service = Service::find_in(tx, &scheme.service_id).await?;
    let lead = RECHARGE_LEAD.min((period_end - period_start) / 2);
    let due = (period_end - lead).max(Utc::now());
    let mut next = Purchase::new(
        &service,
        String::new(),
        PurchaseStatus::Quote,
        due,
        Purchase::price_lines(lines)?,
    )?;
    let period = format!("recharge:{fulfilled}");
    if !next.insert_for_period(tx, &scheme.code, &period).await? {
        return Ok(None);
    }
    // A recharge still waiting from an earlier bundle is superseded by this one (the customer
    // bought again before it fell due); one with an attempt on it is left to finish.
    let sql = "UPDATE purchases SET status = 'cancelled'
               WHERE service_id = $1 AND status = 'quote' AND billing_period LIKE 'recharge:%' AND id <> $2
                 AND NOT EXISTS (SELECT 1 FROM payments py WHERE py.purchase_id = purchases.id AND py.state IN (1, 2, 3, 4, 5))";
    with_tx!(tx, conn => sqlx::query(sql).bind(&service.id).bind(&next.id).execute(conn).await.map(|_| ()))?;
    let payload = serde_json::to_value(RechargeJob { purchase_id: next.id.clone() })
        .map_err(|e| Error::Internal(format!("recharge job payload: {e}")))?;
    let job = NewJob::new(RECHARGE_JOB, payload)
        .run_at(due)
        .dedupe_key(format!("{RECHARGE_JOB}:{}", next.id));
    job::enqueue_in(tx, job).await?;
    tracing::info!(service = %service.reference, purchase = %next.reference, %due, "auto-recharge scheduled");
    Ok(Some(next.id))
}

/// Collects a due auto-recharge purchase with the service's active tokenized card (the job
/// calls this when it falls due). A purchase that is no longer a quote is left as it is.
pub async fn collect_recharge(
    payments: &Orchestrator,
    purchase_id: &PurchaseId,
) -> Result<RechargeOutcome> {
    let db = payments.db();
    let purchase = Purchase::find(db, purchase_id).await?.ok_or(Error::NotFound("purchase"))?;
    if purchase.status != PurchaseStatus::Quote {
        return Ok(RechargeOutcome::Settled);
    }
    let service =
        Service::find(db, &purchase.service_id).await?.ok_or(Error::NotFound("service"))?;
    let card = match &service.active_payment_method_id {
        Some(id) => PaymentMethod::find(db, id).await?,
        None => None,
    };
    let Some(card) = card.filter(|c| {
        c.is_tokenized_card() && c.status == crate::payment_method::MethodStatus::Valid
    }) else {
        owed(db, &service, &purchase).await?;
        return Ok(RechargeOutcome::NoCard);
    };
    if card.card_expired_at(Utc::now().date_naive()) {
        PaymentMethod::mark_expired(db, &card.id).await?;
        owed(db, &service, &purchase).await?;
        return Ok(RechargeOutcome::CardExpired);
    }
    let key = format!("billing:recharge:{}", purchase.id);
    Ok(match collect_with(payments, &service, &purchase, &card, key).await? {
        MonthOutcome::Collected => RechargeOutcome::Collected,
        MonthOutcome::Declined => {
            // Unattended collection can't rely on a card that was declined: the customer
            // updates it (which makes it valid again) and pays what is owed.
            PaymentMethod::mark_expired(db, &card.id).await?;
            RechargeOutcome::Declined
        }
        MonthOutcome::NoMedium => RechargeOutcome::NoCard,
        MonthOutcome::Pending | MonthOutcome::Skipped => RechargeOutcome::Pending,
    })
}
