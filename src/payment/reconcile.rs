//! Reconciliation: asking gateways about attempts they never reported (seed 000's "background
//! process catches payments that have been missed", Kill Bill's janitor). Every unsettled
//! attempt is asked about on the [`ReconcilePolicy`](super::orchestrator::ReconcilePolicy)
//! schedule (as its gateway's own timing adjusts it), by the gateway's id or by Settle's reference, until the gateway settles it. Only
//! the gateway's word settles a payment that may have been charged; attempts merely waiting for
//! their customer are given up after `give_up_after`.

use chrono::Utc;

use crate::connector::{ConnectorError, GatewayStatus};
use crate::error::Result;
use crate::payment::PaymentState::*;
use crate::payment::fulfilment;
use crate::payment::orchestrator::Orchestrator;
use crate::payment::outcome::Noting;
use crate::payment::record::Payment;
use crate::payment::start::chrono_duration;
use crate::payment::transition::{self, Change};

/// How long one sweep holds the payments it claimed before another sweep may take them: about as
/// long as asking one gateway can take. Short, because a sweep that dies (a crash) leaves its
/// claims for this long, and two sweeps asking about one payment is harmless anyway (a status
/// query changes nothing; applying an answer is a compare-and-set).
const CLAIM_FOR: chrono::Duration = chrono::Duration::seconds(15);

/// What one reconciliation sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Payments looked at.
    pub examined: usize,
    /// Payments whose state changed.
    pub settled: usize,
    /// Payments moved to TIMED_OUT.
    pub timed_out: usize,
    /// Payments to be asked about again later.
    pub deferred: usize,
}

/// How many times a gateway must answer "no such payment", the last after the request could
/// still have been in flight, before Settle concludes the request never reached it. One answer
/// is not enough: a gateway may record a slow request late.
const NOT_FOUND_ASKS: i64 = 3;

impl Orchestrator {
    /// One sweep: claims the unsettled payments that are due (so instances sharing a database
    /// don't ask twice), asks each one's gateway, settles what it says, fulfils payments paid
    /// but not yet activated, and schedules the next ask for the rest.
    pub async fn reconcile(&self) -> Result<SweepReport> {
        let now = Utc::now();
        let due = Payment::claim_due(&self.db, now, now + CLAIM_FOR, self.reconcile.batch).await?;
        let mut report = SweepReport { examined: due.len(), ..SweepReport::default() };
        for payment in due {
            let before = payment.state;
            match self.reconcile_one(&payment).await {
                Ok(after) if after.state == TimedOut && before != TimedOut => report.timed_out += 1,
                Ok(after) if after.state != before => report.settled += 1,
                Ok(_) => report.deferred += 1,
                Err(e) => {
                    report.deferred += 1;
                    tracing::warn!(payment = %payment.reference, error = %e, "reconciliation failed for this payment; it stays due");
                }
            }
        }
        if report.examined > 0 {
            tracing::debug!(?report, "reconciliation sweep");
        }
        crate::telemetry::reconcile_sweep(report.settled, report.timed_out, report.deferred);
        Ok(report)
    }

    /// Asks about one payment as a sweep would and applies the answer (staff ask for it now too).
    pub(in crate::payment) async fn reconcile_one(&self, payment: &Payment) -> Result<Payment> {
        match payment.state {
            PaymentSuccess | ConvertingPolicy => {
                return fulfilment::fulfil(&self.db, &payment.id).await;
            }
            s if s.is_final() || s == Invoiced => return self.stop_asking(payment).await,
            _ => {}
        }
        match self.ask_gateway(payment).await {
            Ok(Some(result)) => {
                let updated = self
                    .apply_answer(payment, result, "reconciliation", Noting::OnlyChanges)
                    .await?;
                if updated.state != payment.state {
                    return Ok(updated);
                }
            }
            Ok(None)
                if payment.state == Processing
                    && Utc::now() > self.in_flight_until(payment)
                    && payment.reconcile_attempts + 1 >= NOT_FOUND_ASKS =>
            {
                return self.never_arrived(payment).await;
            }
            Ok(None) | Err(ConnectorError::Unsupported(_)) => {}
            Err(e) => {
                tracing::info!(payment = %payment.reference, error = %e, "gateway could not be asked; will ask again");
            }
        }
        let waited = (Utc::now() - payment.updated_at).to_std().unwrap_or_default();
        if waited >= self.reconcile.give_up_after
            && matches!(payment.state, AwaitingCustomer | Payment3dAuth)
        {
            return self.give_up(payment).await;
        }
        let policy = self.reconcile_policy_for(&payment.gateway_id);
        let next = Utc::now() + chrono_duration(policy.wait(payment.reconcile_attempts + 1));
        let mut tx = self.db.begin().await?;
        Payment::schedule_next_ask(&mut tx, payment, next).await?;
        tx.commit().await?;
        self.reload(payment).await
    }

    /// Asks the gateway now (the customer came back, or a status page polls) and applies what
    /// it says; a payment not waiting on its gateway is returned as it is.
    pub async fn refresh(&self, payment: &Payment) -> Result<Payment> {
        if !matches!(payment.state, AwaitingCustomer | Processing | Payment3dAuth) {
            return Ok(payment.clone());
        }
        match self.ask_gateway(payment).await {
            Ok(Some(result)) => {
                self.apply_answer(payment, result, "status query", Noting::OnlyChanges).await
            }
            Ok(None) | Err(ConnectorError::Unsupported(_)) => Ok(payment.clone()),
            Err(e) => {
                tracing::warn!(payment = %payment.reference, error = %e, "status query failed");
                Ok(payment.clone())
            }
        }
    }

    /// The gateway has no record of an attempt whose request can no longer be in flight: it
    /// never arrived, so nothing was charged.
    async fn never_arrived(&self, payment: &Payment) -> Result<Payment> {
        let change = Change::to(
            TimedOut,
            format!(
                "reconciliation: {} has no payment under {}; the request never reached it, nothing was charged",
                payment.gateway_id, payment.reference
            ),
        )
        .failure_reason("The payment didn't reach the payment service. Nothing was charged; please try again.");
        let mut tx = self.db.begin().await?;
        let updated = transition::apply(&mut tx, payment, change).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// A customer who never finished: a hosted checkout is cancelled at its gateway first (if
    /// they paid after all, that is applied instead); an unanswered challenge or wallet sheet
    /// can't have been charged.
    async fn give_up(&self, payment: &Payment) -> Result<Payment> {
        if let (AwaitingCustomer, Some(reference)) = (payment.state, &payment.gateway_reference) {
            let connector = self.connector(&payment.gateway_id)?;
            let cancelled = connector.cancel(reference).await;
            match cancelled {
                Ok(result) if result.status == GatewayStatus::Succeeded => {
                    return self.apply_result(payment, result, "reconciliation").await;
                }
                Ok(result) if matches!(result.status, GatewayStatus::Failed { .. }) => {}
                Err(ConnectorError::Unsupported(_)) => {}
                other => {
                    tracing::info!(payment = %payment.reference, answer = ?other.map(|r| r.status), "could not cancel an abandoned checkout; will try again");
                    let policy = self.reconcile_policy_for(&payment.gateway_id);
                    let next = Utc::now() + chrono_duration(policy.wait(i64::MAX));
                    let mut tx = self.db.begin().await?;
                    Payment::schedule_next_ask(&mut tx, payment, next).await?;
                    tx.commit().await?;
                    return self.reload(payment).await;
                }
            }
        }
        let change = Change::to(
            TimedOut,
            "reconciliation: the customer did not complete the payment in time",
        )
        .failure_reason("The payment timed out.");
        let mut tx = self.db.begin().await?;
        let updated = transition::apply(&mut tx, payment, change).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Takes a payment that needs no more asking off the schedule.
    async fn stop_asking(&self, payment: &Payment) -> Result<Payment> {
        let mut tx = self.db.begin().await?;
        crate::with_tx!(&mut tx, conn => sqlx::query("UPDATE payments SET settle_by = NULL WHERE id = $1 AND state = $2")
            .bind(&payment.id)
            .bind(i64::from(payment.state.code()))
            .execute(conn)
            .await
            .map(|_| ()))?;
        tx.commit().await?;
        Ok(payment.clone())
    }
}
