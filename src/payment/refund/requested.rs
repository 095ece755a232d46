//! Refunds staff ask for: all or part of a paid payment, through the gateway that took it.
//!
//! Never more than was captured: what was already refunded (or is on its way) counts, by
//! Settle's records and by the gateway's own, whichever shows more. A form carries a request
//! key stored with the refund (unique), so a second submit of the same form finds the first
//! refund instead of making another, and the gateway is asked once. The refund is marked
//! pending, noted on the payment's timeline and written to the audit log in one transaction
//! before the gateway is asked; only the gateway's answer settles it.

use crate::audit::{self, Actor};
use crate::db::Tx;
use crate::error::{Error, FieldError, Result};
use crate::money::Money;
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::Payment;
use crate::payment::transition::{self, Change};
use crate::payment::{PaymentState, refund};

use super::{NewRefund, Refund, RefundKind, RefundTotals};

/// The form field the amount is reported under.
pub const AMOUNT_FIELD: &str = "amount";

/// Longest request key accepted (the forms send a UUID).
const MAX_KEY_LEN: usize = 100;

/// Where a payment's money stands for a refund.
#[derive(Clone, Debug)]
pub struct Refundable {
    /// The payment.
    pub payment: Payment,
    /// What was taken (nothing if no money moved).
    pub captured: Money,
    /// Given back, confirmed by the gateway.
    pub refunded: Money,
    /// On its way back.
    pub pending: Money,
    /// What may still be refunded.
    pub left: Money,
    /// Its refunds, oldest first.
    pub refunds: Vec<Refund>,
}

impl Refundable {
    /// Why no refund can be asked for now, in words for staff; `None` if one can.
    pub fn refusal(&self) -> Option<String> {
        let state = self.payment.state;
        if !state.money_moved() {
            return Some(format!(
                "Payment {} was never captured ({}): there is no money to give back.",
                self.payment.reference,
                state.label()
            ));
        }
        if self.pending.minor() > 0 {
            return Some(format!(
                "A refund of {} is already on its way for payment {}: wait for the gateway's answer.",
                self.pending, self.payment.reference
            ));
        }
        if self.left.minor() <= 0 {
            return Some(format!(
                "Payment {} has been refunded in full ({}).",
                self.payment.reference, self.refunded
            ));
        }
        None
    }
}

/// A payment's money as refunds see it, by Settle's records.
pub async fn refundable(db: &crate::Db, payment: Payment) -> Result<Refundable> {
    let totals = Refund::totals(db, &payment.id).await?;
    let refunds = Refund::for_payment(db, &payment.id).await?;
    Ok(standing(payment, totals, 0, refunds))
}

fn standing(
    payment: Payment,
    totals: RefundTotals,
    at_gateway_minor: i64,
    refunds: Vec<Refund>,
) -> Refundable {
    let currency = payment.amount.currency();
    let captured = if payment.state.money_moved() { payment.amount.minor() } else { 0 };
    let given = totals.succeeded_minor.max(at_gateway_minor);
    let left = (captured - given - totals.pending_minor).max(0);
    Refundable {
        captured: Money::from_minor(captured, currency),
        refunded: Money::from_minor(given, currency),
        pending: Money::from_minor(totals.pending_minor, currency),
        left: Money::from_minor(left, currency),
        refunds,
        payment,
    }
}

/// Parses the amount a form asked for: empty means everything that is left.
pub fn parse_amount(input: Option<&str>, left: Money) -> Result<Money> {
    let input = input.map(str::trim).filter(|s| !s.is_empty());
    let Some(input) = input else { return Ok(left) };
    let amount = Money::parse_decimal(input, left.currency())
        .map_err(|e| FieldError::new(AMOUNT_FIELD, e.message))?;
    if amount.minor() <= 0 {
        return Err(Error::invalid(AMOUNT_FIELD, "must be more than zero"));
    }
    if amount.minor() > left.minor() {
        return Err(Error::invalid(
            AMOUNT_FIELD,
            format!(
                "is more than the {left} left to refund: a refund never exceeds what was captured"
            ),
        ));
    }
    Ok(amount)
}

impl Orchestrator {
    /// Refunds `amount` of a paid payment (everything left when `None`) for staff, once per
    /// `request_key`: a repeated key answers the refund it made. The refund is marked, noted and
    /// audited before the gateway is asked; the answer is awaited, so the refund comes back
    /// succeeded or failed, or still pending if the gateway did not answer (a job finishes it).
    pub async fn refund_requested(
        &self,
        actor: &Actor,
        payment: &Payment,
        amount: Option<&str>,
        request_key: &str,
    ) -> Result<Refund> {
        let request_key = request_key.trim();
        if request_key.is_empty() || request_key.len() > MAX_KEY_LEN {
            return Err(Error::invalid("request_key", "is missing: reload the page and try again"));
        }
        if let Some(done) = Refund::find_by_request_key(&self.db, request_key).await? {
            return self.same_request(done, payment);
        }
        // The gateway's own count first (a call, so outside the transaction).
        let connector = self.connector(&payment.gateway_id)?;
        let at_gateway =
            refund::refunded_at_gateway(connector.as_ref(), payment).await.map(|c| c.refunded);
        let at_gateway_minor = at_gateway.map_or(0, Money::minor);
        let mut tx = self.db.begin().await?;
        if !refund::hold_payment(&mut tx, payment).await? {
            return Err(Error::Conflict(format!(
                "payment {} changed meanwhile: look at it again",
                payment.reference
            )));
        }
        let totals = Refund::totals_in(&mut tx, &payment.id).await?;
        let now = standing(payment.clone(), totals, at_gateway_minor, Vec::new());
        if let Some(refusal) = now.refusal() {
            return Err(Error::Conflict(refusal));
        }
        let amount = parse_amount(amount, now.left)?;
        let after = now.refunded.minor() + amount.minor();
        let reason = format!("refund of {amount} requested by {}", actor.name);
        let new = NewRefund {
            payment,
            amount,
            reason: reason.clone(),
            kind: RefundKind::Requested,
            request_key: Some(request_key),
            refunded_after_minor: Some(after),
        };
        let Some(id) = Refund::insert_pending(&mut tx, new).await? else {
            drop(tx);
            return match Refund::find_by_request_key(&self.db, request_key).await? {
                Some(done) => self.same_request(done, payment),
                None => Err(Error::Conflict(format!(
                    "a refund of payment {} is already on its way: wait for the gateway's answer",
                    payment.reference
                ))),
            };
        };
        let note = format!("{reason}; asking {} to give it back", payment.gateway_id);
        transition::note(&mut tx, payment, &note, None).await?;
        let detail = format!(
            "refund {id} of {amount} (captured {}, refunded before {}) through {}",
            now.captured, now.refunded, payment.gateway_id
        );
        audit::record_in(
            &mut tx,
            actor,
            "payment.refund",
            &format!("payment:{}", payment.reference),
            &detail,
        )
        .await?;
        tx.commit().await?;
        if let Err(e) = self.process_refund(&id).await {
            tracing::warn!(payment = %payment.reference, error = %e, "a staff refund is waiting for its gateway; its job will finish it");
        }
        Refund::find(&self.db, &id).await?.ok_or(Error::NotFound("refund"))
    }

    /// A request key seen before: the refund it made, if it was for this payment.
    fn same_request(&self, done: Refund, payment: &Payment) -> Result<Refund> {
        if done.payment_id == payment.id {
            Ok(done)
        } else {
            Err(Error::invalid("request_key", "belongs to another refund: reload the page"))
        }
    }
}

/// After a staff refund succeeded: a paid payment whose whole amount has been given back moves
/// to `REFUNDED` (in `tx`); a partial refund leaves its state as it is.
pub(super) async fn refunded_in_full(tx: &mut Tx, payment: &Payment) -> Result<()> {
    let totals = Refund::totals_in(tx, &payment.id).await?;
    let now = Payment::reload(tx, &payment.id).await?;
    let whole = totals.succeeded_minor >= now.amount.minor();
    if whole && now.state.can_transition_to(PaymentState::Refunded) {
        let change = Change::to(
            PaymentState::Refunded,
            format!("refunded in full: {} given back through {}", now.amount, now.gateway_id),
        );
        transition::apply(tx, &now, change).await?;
    }
    Ok(())
}

/// A fresh request key for a refund form (each rendered form carries its own).
pub fn new_request_key() -> String {
    super::RefundId::generate().to_string()
}
