//! Stray charges: money a gateway holds for an attempt that is not the purchase's payment (the
//! attempt was cancelled or timed out, or another payment had already paid the purchase).
//! Settle refunds one on its own when a gateway reports it ([`Orchestrator::stray_charge`]);
//! staff refund one the ledger check found ([`Orchestrator::refund_stray`]), all of what the
//! gateway still holds, once.

use chrono::Utc;

use crate::audit::{self, Actor};
use crate::connector::GatewayResult;
use crate::error::{Error, Result};
use crate::job::{self, NewJob};
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::Payment;
use crate::payment::transition;
use crate::with_tx;

use super::{NewRefund, REFUND_JOB, Refund, RefundId, RefundJob, RefundKind, refunded_at_gateway};

/// What the gateway holds of a stray charge, and whether it may be refunded.
#[derive(Clone, Debug)]
pub struct StrayCharge {
    /// The attempt the money reached.
    pub payment: Payment,
    /// The gateway's id for the charge (`None`: the gateway lists no charge for it).
    pub gateway_reference: Option<String>,
    /// Taken, by the gateway's own records.
    pub captured: crate::money::Money,
    /// Taken and not given back, by the gateway's own records.
    pub held: crate::money::Money,
    /// A refund of it is on its way.
    pub refund_pending: bool,
}

impl StrayCharge {
    /// Why it can't be refunded now, in words for staff; `None` if it can.
    pub fn refusal(&self) -> Option<String> {
        let reference = &self.payment.reference;
        if self.payment.state.is_success() {
            return Some(format!(
                "Payment {reference} is the purchase's payment, not a stray charge: refund it from its own refund page."
            ));
        }
        if self.refund_pending {
            return Some(format!(
                "A refund of payment {reference}'s charge is already on its way: wait for the gateway's answer."
            ));
        }
        if self.held.minor() <= 0 {
            return Some(format!(
                "{} holds no money for payment {reference}: there is nothing to refund.",
                self.payment.gateway_id
            ));
        }
        None
    }
}

impl Orchestrator {
    /// Money was taken for an attempt that can't be the purchase's payment: records it, starts
    /// its refund (once, however often it is reported) and notes it on this payment's timeline
    /// and on that of the purchase's successful payment.
    pub(in crate::payment) async fn stray_charge(
        &self,
        payment: &Payment,
        result: &GatewayResult,
        cause: &str,
    ) -> Result<Payment> {
        let winner = Payment::successful_for_purchase(&self.db, &payment.purchase_id)
            .await?
            .filter(|w| w.id != payment.id);
        let now = Utc::now();
        let refund_id = RefundId::generate();
        let reason = match &winner {
            Some(w) => format!("a second charge for a purchase already paid by {}", w.reference),
            None => format!("money taken for an attempt that is {}", payment.state),
        };
        let mut tx = self.db.begin().await?;
        if payment.gateway_reference.is_none() {
            Payment::learn_gateway_reference(&mut tx, payment, &result.gateway_reference).await?;
        }
        let sql = "INSERT INTO refunds (id, payment_id, currency, amount_minor, reason, kind, status, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, 'stray', 'pending', $6, $6) ON CONFLICT DO NOTHING";
        let inserted = with_tx!(&mut tx, conn => sqlx::query(sql)
            .bind(&refund_id)
            .bind(&payment.id)
            .bind(payment.amount.currency().code())
            .bind(payment.amount.minor())
            .bind(&reason)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if inserted == 1 {
            let payload = serde_json::to_value(RefundJob { refund_id: refund_id.clone() })
                .map_err(|e| Error::Internal(e.to_string()))?;
            job::enqueue_in(
                &mut tx,
                NewJob::new(REFUND_JOB, payload).dedupe_key(format!("{REFUND_JOB}:{refund_id}")),
            )
            .await?;
            let note = format!(
                "{cause}: the gateway took the money although this attempt is {}; refunding it automatically ({reason})",
                payment.state
            );
            transition::note(&mut tx, payment, &note, Some(&result.raw)).await?;
            if let Some(winner) = &winner {
                let note = format!(
                    "a second charge ({}) reached {} for this purchase; it is being refunded",
                    payment.reference, payment.gateway_id
                );
                transition::note(&mut tx, winner, &note, None).await?;
            }
            tracing::warn!(payment = %payment.reference, %reason, "stray charge: refunding automatically");
        } else {
            transition::note(
                &mut tx,
                payment,
                &format!("{cause}: the stray charge is already being refunded"),
                None,
            )
            .await?;
        }
        tx.commit().await?;
        self.reload(payment).await
    }

    /// What the gateway holds for `payment`, asked now.
    pub async fn stray_charge_of(&self, payment: &Payment) -> Result<StrayCharge> {
        let connector = self.connector(&payment.gateway_id)?;
        let charge = refunded_at_gateway(connector.as_ref(), payment).await;
        let totals = Refund::totals(&self.db, &payment.id).await?;
        let currency = payment.amount.currency();
        let (captured, refunded) =
            charge.as_ref().map_or((0, 0), |c| (c.captured.minor(), c.refunded.minor()));
        let held = crate::money::Money::from_minor((captured - refunded).max(0), currency);
        Ok(StrayCharge {
            payment: payment.clone(),
            captured: crate::money::Money::from_minor(captured, currency),
            gateway_reference: charge.map(|c| c.gateway_reference),
            held,
            refund_pending: totals.pending_minor > 0,
        })
    }

    /// Refunds, for staff, all the gateway still holds of a stray charge on `payment`, once per
    /// `request_key` (a repeated key answers the refund it made). Marked, noted and audited
    /// before the gateway is asked; the answer is awaited.
    pub async fn refund_stray(
        &self,
        actor: &Actor,
        payment: &Payment,
        request_key: &str,
    ) -> Result<Refund> {
        let request_key = request_key.trim();
        if request_key.is_empty() || request_key.len() > 100 {
            return Err(Error::invalid("request_key", "is missing: reload the page and try again"));
        }
        if let Some(done) = Refund::find_by_request_key(&self.db, request_key).await? {
            return if done.payment_id == payment.id {
                Ok(done)
            } else {
                Err(Error::invalid("request_key", "belongs to another refund: reload the page"))
            };
        }
        let charge = self.stray_charge_of(payment).await?;
        if let Some(refusal) = charge.refusal() {
            return Err(Error::Conflict(refusal));
        }
        let Some(gateway_reference) = charge.gateway_reference.clone() else {
            return Err(Error::Conflict("the gateway lists no charge to refund".into()));
        };
        let mut tx = self.db.begin().await?;
        if !super::hold_payment(&mut tx, payment).await? {
            return Err(Error::Conflict(format!(
                "payment {} changed meanwhile: look at it again",
                payment.reference
            )));
        }
        if payment.gateway_reference.is_none() {
            Payment::learn_gateway_reference(&mut tx, payment, &gateway_reference).await?;
        }
        let reason =
            format!("stray charge found by the ledger, refunded at the request of {}", actor.name);
        let new = NewRefund {
            payment,
            amount: charge.held,
            reason: reason.clone(),
            kind: RefundKind::Requested,
            request_key: Some(request_key),
            // Everything back: the gateway then shows the whole charge refunded.
            refunded_after_minor: Some(charge.captured.minor()),
        };
        let Some(id) = Refund::insert_pending(&mut tx, new).await? else {
            drop(tx);
            return match Refund::find_by_request_key(&self.db, request_key).await? {
                Some(done) if done.payment_id == payment.id => Ok(done),
                _ => Err(Error::Conflict(format!(
                    "a refund of payment {}'s charge is already on its way",
                    payment.reference
                ))),
            };
        };
        let note = format!(
            "{reason}: asking {} to give back the {} it holds although this attempt is {}",
            payment.gateway_id, charge.held, payment.state
        );
        transition::note(&mut tx, payment, &note, None).await?;
        let detail = format!(
            "refund {id} of the stray charge {gateway_reference} ({}) through {}; the payment is {}",
            charge.held, payment.gateway_id, payment.state
        );
        audit::record_in(
            &mut tx,
            actor,
            "payment.refund_stray",
            &format!("payment:{}", payment.reference),
            &detail,
        )
        .await?;
        tx.commit().await?;
        if let Err(e) = self.process_refund(&id).await {
            tracing::warn!(payment = %payment.reference, error = %e, "a stray refund is waiting for its gateway; its job will finish it");
        }
        Refund::find(&self.db, &id).await?.ok_or(Error::NotFound("refund"))
    }
}
