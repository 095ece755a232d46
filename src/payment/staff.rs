//! What staff do to one payment besides refunding it: cancel one still awaiting its customer,
//! and ask its gateway about it now instead of waiting for the sweep. Both are written to the
//! audit log.

use crate::audit::{self, Actor};
use crate::connector::{ConnectorError, GatewayStatus};
use crate::error::{Error, Result};
use crate::payment::PaymentState::{self, *};
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::Payment;
use crate::payment::transition::{self, Change};

/// Whether staff may cancel a payment in `state`: only while nothing can have been charged or
/// the customer still has to act (a hosted page is then cancelled at its gateway first).
pub fn cancellable(state: PaymentState) -> bool {
    matches!(state, Created | AwaitingCustomer | Invoiced)
}

impl Orchestrator {
    /// Cancels a payment still awaiting its customer, for staff. A hosted page is cancelled at
    /// its gateway first: if the customer paid meanwhile, that is applied instead and the
    /// payment is not cancelled. The change and its audit entry are one transaction.
    pub async fn cancel_for_staff(&self, actor: &Actor, payment: &Payment) -> Result<Payment> {
        if !cancellable(payment.state) {
            return Err(Error::Conflict(format!(
                "Payment {} can't be cancelled: it is {} ({}). Only a payment still awaiting the customer can be.",
                payment.reference,
                payment.state.label(),
                payment.state
            )));
        }
        let subject = format!("payment:{}", payment.reference);
        let mut gateway_note = "";
        if let (AwaitingCustomer, Some(reference)) = (payment.state, &payment.gateway_reference) {
            let connector = self.connector(&payment.gateway_id)?;
            match connector.cancel(reference).await {
                Ok(result) if result.status == GatewayStatus::Succeeded => {
                    let paid = self.apply_result(payment, result, "staff cancel").await?;
                    let detail = format!(
                        "asked to cancel, but the customer had already paid at {}: the payment is {}",
                        payment.gateway_id, paid.state
                    );
                    audit::record(&self.db, actor, "payment.cancel_refused", &subject, &detail)
                        .await?;
                    return Err(Error::Conflict(format!(
                        "The customer paid payment {} at {} before it could be cancelled; it is now {}.",
                        payment.reference,
                        payment.gateway_id,
                        paid.state.label()
                    )));
                }
                Ok(result) if matches!(result.status, GatewayStatus::Failed { .. }) => {
                    gateway_note = "; its page was cancelled at the gateway";
                }
                Err(ConnectorError::Unsupported(_)) => {
                    gateway_note = "; the gateway can't cancel its page: money that still arrives is refunded automatically";
                }
                other => {
                    tracing::warn!(payment = %payment.reference, answer = ?other.map(|r| r.status), "a staff cancel could not reach the gateway");
                    return Err(Error::Conflict(format!(
                        "{} could not confirm that payment {}'s page is cancelled; nothing was changed. Try again in a minute.",
                        payment.gateway_id, payment.reference
                    )));
                }
            }
        }
        let cause = format!("cancelled by {}{gateway_note}", actor.name);
        let change = Change::to(Cancelled, cause.clone())
            .failure_reason("The payment was cancelled by Settle's staff.");
        let mut tx = self.db.begin().await?;
        let cancelled = transition::apply(&mut tx, payment, change).await?;
        let detail = format!("{} → {}: {cause}", payment.state, cancelled.state);
        audit::record_in(&mut tx, actor, "payment.cancel", &subject, &detail).await?;
        tx.commit().await?;
        Ok(cancelled)
    }

    /// Asks the payment's gateway about it now, as the reconciliation sweep would, and applies
    /// the answer, for staff. Audited with the state before and after.
    pub async fn reconcile_for_staff(&self, actor: &Actor, payment: &Payment) -> Result<Payment> {
        let after = self.reconcile_one(payment).await?;
        let outcome = if after.state == payment.state {
            format!("still {}", after.state)
        } else {
            format!("{} → {}", payment.state, after.state)
        };
        let detail = format!("asked {} now: {outcome}", payment.gateway_id);
        audit::record(
            &self.db,
            actor,
            "payment.reconcile",
            &format!("payment:{}", payment.reference),
            &detail,
        )
        .await?;
        Ok(after)
    }
}
