//! Fulfilment: a successful payment activates or extends its service, exactly once.
//!
//! PAYMENT_SUCCESS → CONVERTING_POLICY → POLICY_CONVERTED, each step a compare-and-set on the
//! payment's state with its event, all in one transaction: usually the very transaction that
//! records the gateway's success ([`fulfil_in`]), so a paid payment costs one commit after its
//! "possibly charged" mark. Running fulfilment twice, concurrently or after a crash, does the
//! work once; reconciliation resumes a payment left paid but not activated.
//!
//! Periods: each purchase line adds `quantity × period_per_quantity` days (day lines) or months
//! (monthly and once-off lines) to the service, counted from the end of the current period if
//! it is still running, else from now.

use chrono::{DateTime, Months, Utc};
use serde_json::json;

use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::payment::PaymentState::{ConvertingPolicy, PaymentSuccess, PolicyConverted};
use crate::payment::record::{Payment, PaymentId};
use crate::payment::transition::{self, Change, TransitionError};
use crate::with_tx;

/// The service period a payment bought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// Policy number or service id.
    pub service_reference: String,
    /// Start of the period bought.
    pub period_start: DateTime<Utc>,
    /// End of the period bought.
    pub period_end: DateTime<Utc>,
}

/// Moves a paid payment through fulfilment in one transaction; a payment in any other state is
/// returned as it is.
pub async fn fulfil(db: &Db, id: &PaymentId) -> Result<Payment> {
    let payment = Payment::find(db, id).await?.ok_or(Error::NotFound("payment"))?;
    if !matches!(payment.state, PaymentSuccess | ConvertingPolicy) {
        return Ok(payment);
    }
    let mut tx = db.begin().await?;
    match steps(&mut tx, &payment).await {
        Ok(done) => {
            tx.commit().await?;
            Ok(done)
        }
        // Another fulfilment got there first; it did the work.
        Err(Stop::Moved) => {
            drop(tx);
            reloaded(db, id).await
        }
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Fulfils `paid` inside the transaction that records its success, so one commit stores the
/// money and what it bought. Fulfilment runs behind a savepoint: if it fails, only its own
/// writes are undone and the success still commits (the payment stays paid, and
/// reconciliation activates it later), because the gateway's word must never be lost to an
/// error of ours.
pub(crate) async fn fulfil_in(tx: &mut Tx, paid: &Payment) -> Result<Payment> {
    const SAVEPOINT: &str = "fulfilment";
    tx.savepoint(SAVEPOINT).await?;
    match steps(tx, paid).await {
        Ok(done) => {
            tx.release(SAVEPOINT).await?;
            Ok(done)
        }
        Err(stop) => {
            let error = match stop {
                Stop::Moved => "the payment moved meanwhile".to_owned(),
                Stop::Failed(e) => e.to_string(),
            };
            tracing::warn!(payment = %paid.reference, %error, "fulfilment left to reconciliation");
            tx.rollback_to(SAVEPOINT).await?;
            Ok(paid.clone())
        }
    }
}

/// Why fulfilment stopped.
enum Stop {
    /// Another run moved the payment first.
    Moved,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

impl From<TransitionError> for Stop {
    fn from(e: TransitionError) -> Stop {
        match e {
            TransitionError::Moved { .. } => Stop::Moved,
            other => Stop::Failed(other.into()),
        }
    }
}

/// PAYMENT_SUCCESS → CONVERTING_POLICY → POLICY_CONVERTED with the service activated, the
/// period noted and the customer's messages queued, inside `tx`.
async fn steps(tx: &mut Tx, paid: &Payment) -> Result<Payment, Stop> {
    let mut payment = paid.clone();
    if payment.state == PaymentSuccess {
        let change = Change::to(ConvertingPolicy, "payment taken; activating the service");
        payment = transition::apply(tx, &payment, change).await?;
    }
    let converted =
        transition::apply(tx, &payment, Change::to(PolicyConverted, "service activated")).await?;
    let activation = activate_service(tx, &payment).await?;
    transition::note(
        tx,
        &converted,
        &format!(
            "{} paid up until {}",
            activation.service_reference,
            activation.period_end.format("%Y-%m-%d %H:%M UTC")
        ),
        Some(&json!({ "period_start": activation.period_start, "period_end": activation.period_end })),
    )
    .await?;
    crate::notify::enqueue_for(tx, &converted).await?;
    Ok(converted)
}

async fn reloaded(db: &Db, id: &PaymentId) -> Result<Payment> {
    Payment::find(db, id).await?.ok_or(Error::NotFound("payment"))
}

/// Extends the payment's service by the periods its purchase bought, inside `tx`.
async fn activate_service(tx: &mut Tx, payment: &Payment) -> Result<Activation> {
    let service_sql = "SELECT s.id, s.reference, s.kind, s.period_end FROM services s
                       JOIN purchases p ON p.service_id = s.id WHERE p.id = $1";
    let (service_id, reference, kind, period_end): (String, String, String, Option<DateTime<Utc>>) =
        with_tx!(tx, conn => sqlx::query_as(service_sql).bind(&payment.purchase_id).fetch_one(conn).await)?;
    let lines_sql = "SELECT line_type, quantity, period_per_quantity FROM purchase_lines WHERE purchase_id = $1";
    let lines: Vec<(i64, i64, i64)> = with_tx!(tx, conn => sqlx::query_as(lines_sql).bind(&payment.purchase_id).fetch_all(conn).await)?;
    let now = Utc::now();
    let start = period_end.filter(|end| *end > now).unwrap_or(now);
    let (days, months) = lines.iter().fold((0i64, 0i64), |(d, m), (line_type, quantity, per)| {
        let units = quantity.saturating_mul(*per);
        if *line_type == 1 { (d.saturating_add(units), m) } else { (d, m.saturating_add(units)) }
    });
    let end = u32::try_from(months)
        .ok()
        .and_then(|m| start.checked_add_months(Months::new(m)))
        .and_then(|t| t.checked_add_signed(chrono::Duration::days(days)))
        .ok_or_else(|| {
            Error::Internal(format!("service period of payment {} overflows", payment.reference))
        })?;
    let service_id = crate::service::ServiceId::from_string(service_id);
    crate::service::Service::activate(tx, &service_id, start, Some(end)).await?;
    // Same transaction: the next bundle of an auto-recharge product is raised exactly when this
    // one is fulfilled, or not at all.
    crate::billing::auto_recharge::schedule_next(tx, &payment.purchase_id, start, end).await?;
    tracing::info!(payment = %payment.reference, service = %reference, %kind, until = %end, "service activated");
    Ok(Activation { service_reference: reference, period_start: start, period_end: end })
}
