//! Merchant webhooks: one durable delivery system for every event a merchant is told about
//! (seed 001's invoice events and Settle's own payment events).
//!
//! - [`endpoint`]: one endpoint per merchant (URL, `whsec_` secret shown once, rotation with an
//!   overlap during which both secrets sign, event types, health).
//! - [`event`]: events with numeric ids, emitted inside the transaction of what they announce
//!   ([`emit_in`]); the payment moments are emitted where a payment is recorded
//!   ([`Payment::insert`]) and where it changes state ([`crate::payment::transition::apply`]).
//! - [`delivery`]: one durable job per attempt, a log row per attempt, seed 001's statuses.
//! - [`schedule`]: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (configurable).
//! - [`signing`]: Standard Webhooks signatures.
//! - [`subject`]: the current state of what an event is about, rendered into each body at
//!   delivery time (so a retried older event still carries the latest status).
//!
//! The server renders the bodies and makes the HTTP requests; every rule is here.

pub mod admin;
pub mod delivery;
pub mod endpoint;
pub mod event;
pub mod schedule;
pub mod signing;
pub mod subject;

use chrono::Utc;

pub use delivery::{AttemptResult, DELIVER_JOB, DeliverJob, Delivery, Response};
pub use endpoint::{Endpoint, EndpointStatus, Saved};
pub use event::{Event, EventId};
pub use schedule::Schedule;
pub use signing::SigningSecret;
pub use subject::{PaymentMode, Subject};

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::merchant::MerchantId;
use crate::payment::{Payment, PaymentState};
use crate::with_tx;

crate::text_enum!(
    /// What happened, as the webhook's `type` says.
    EventType, field = "event_types", {
        /// A purchase (invoice) was created for the merchant's customer.
        InvoiceCreated = "invoice.created",
        /// The customer opened the invoice's pay page.
        InvoiceViewed = "invoice.viewed",
        /// A payment of the invoice was started.
        InvoicePaymentInitiated = "invoice.payment_initiated",
        /// A payment of the invoice ended in an error or timed out.
        InvoicePaymentError = "invoice.payment_error",
        /// The invoice was paid.
        InvoicePaymentExecuted = "invoice.payment_executed",
        /// A payment of the invoice was declined.
        InvoicePaymentRejected = "invoice.payment_rejected",
        /// A payment succeeded and its service is active (Settle's own view).
        PaymentSucceeded = "payment.succeeded",
        /// A payment was declined, failed or timed out (Settle's own view).
        PaymentFailed = "payment.failed",
        /// A payment's money was given back (Settle's own view).
        PaymentRefunded = "payment.refunded",
    }
);

impl EventType {
    /// Whether the body's `data` is seed 001's invoice view (else Settle's payment view).
    pub fn is_invoice(self) -> bool {
        self.as_str().starts_with("invoice.")
    }
}

/// Records that `kind` happened to `subject` (a payment reference or a purchase id) for
/// `merchant`, inside the caller's transaction, and enqueues its first delivery attempt, due at
/// once. Nothing is stored, and `None` answered, when the merchant has no endpoint subscribed
/// to `kind`. Each call is one event: call it once per moment.
pub async fn emit_in(
    tx: &mut Tx,
    merchant: &MerchantId,
    kind: EventType,
    subject: &str,
) -> Result<Option<EventId>> {
    let Some(endpoint) = Endpoint::find_in(tx, merchant).await? else { return Ok(None) };
    if !endpoint.subscribes(kind) {
        return Ok(None);
    }
    let id = Event::insert(tx, merchant, kind, subject).await?;
    delivery::enqueue(tx, id, 1, Utc::now()).await?;
    tracing::debug!(event = %id, %kind, subject, merchant = %merchant, "webhook event emitted");
    Ok(Some(id))
}

/// [`emit_in`] in a transaction of its own, for callers without one.
pub async fn emit(
    db: &Db,
    merchant: &MerchantId,
    kind: EventType,
    subject: &str,
) -> Result<Option<EventId>> {
    let mut tx = db.begin().await?;
    let id = emit_in(&mut tx, merchant, kind, subject).await?;
    tx.commit().await?;
    Ok(id)
}

/// The events a payment announces when it is recorded (`from` is `None`: it started) or moves
/// from `from` to `to`: paid, declined, errored or timed out, converted, refunded.
pub fn events_of_move(from: Option<PaymentState>, to: PaymentState) -> Vec<EventType> {
    use EventType::*;
    use PaymentState as S;
    let mut events = Vec::new();
    if from.is_none() {
        events.push(InvoicePaymentInitiated);
    }
    match to {
        S::PaymentSuccess => events.push(InvoicePaymentExecuted),
        // Paid and the service active: the payment view carries the new period end.
        S::PolicyConverted => events.push(PaymentSucceeded),
        S::PaymentFailed => events.extend([InvoicePaymentRejected, PaymentFailed]),
        S::TerminalError | S::TimedOut => events.extend([InvoicePaymentError, PaymentFailed]),
        S::Refunded => events.push(PaymentRefunded),
        _ => {}
    }
    events
}

/// Emits the events of `payment`'s recording (`from` `None`) or move from `from` to `to`,
/// inside the transaction that records or moves it (the insert and the compare-and-set succeed
/// once, so each moment is announced once however often fulfilment or a notification runs).
pub(crate) async fn emit_for_move(
    tx: &mut Tx,
    payment: &Payment,
    from: Option<PaymentState>,
    to: PaymentState,
) -> Result<()> {
    let events = events_of_move(from, to);
    if events.is_empty() {
        return Ok(());
    }
    let merchant = match &payment.merchant_id {
        Some(m) => Some(m.clone()),
        None => {
            let sql = "SELECT s.merchant_id FROM services s JOIN purchases p ON p.service_id = s.id WHERE p.id = $1";
            let found: Option<Option<MerchantId>> = with_tx!(tx, conn => sqlx::query_scalar(sql)
                .bind(&payment.purchase_id)
                .fetch_optional(conn)
                .await)?;
            found.flatten()
        }
    };
    let Some(merchant) = merchant else { return Ok(()) };
    for kind in events {
        emit_in(tx, &merchant, kind, &payment.reference).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::*;
    use PaymentState as S;

    #[test]
    fn each_payment_moment_announces_its_events() {
        assert_eq!(events_of_move(None, S::Processing), [InvoicePaymentInitiated]);
        assert_eq!(events_of_move(None, S::Invoiced), [InvoicePaymentInitiated]);
        assert_eq!(events_of_move(Some(S::Created), S::Cancelled), []);
        let paid = events_of_move(Some(S::Processing), S::PaymentSuccess);
        assert_eq!(paid, [InvoicePaymentExecuted]);
        let converted = events_of_move(Some(S::ConvertingPolicy), S::PolicyConverted);
        assert_eq!(converted, [PaymentSucceeded]);
        let declined = events_of_move(Some(S::Processing), S::PaymentFailed);
        assert_eq!(declined, [InvoicePaymentRejected, PaymentFailed]);
        let timed_out = events_of_move(Some(S::Payment3dAuth), S::TimedOut);
        assert_eq!(timed_out, [InvoicePaymentError, PaymentFailed]);
        assert_eq!(events_of_move(Some(S::AwaitingCustomer), S::Payment3dAuth), []);
        assert_eq!(events_of_move(Some(S::PolicyConverted), S::Refunded), [PaymentRefunded]);
    }

    #[test]
    fn invoice_types_are_told_apart() {
        assert!(InvoicePaymentExecuted.is_invoice());
        assert!(!PaymentSucceeded.is_invoice());
        assert_eq!(EventType::ALL.len(), 9);
    }
}
