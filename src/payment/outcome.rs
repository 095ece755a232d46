//! Applying what a gateway says about an attempt: its synchronous answer, a confirmed
//! notification or a status query all come through [`Orchestrator::apply_result`].

use chrono::Utc;

use crate::connector::{ConnectorError, GatewayResult, GatewayStatus};
use crate::error::{Error, Result};
use crate::gateway::GatewayKind;
use crate::payment::PaymentState::{self, *};
use crate::payment::fulfilment;
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::Payment;
use crate::payment::start::chrono_duration;
use crate::payment::transition::{self, Change, TransitionError};

/// Whether an answer that changes nothing goes on the payment's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Noting {
    /// Every answer is recorded.
    Always,
    /// Only answers that change something (or teach Settle the gateway's id).
    OnlyChanges,
}

/// What a gateway's answer means for an attempt.
enum Decision {
    /// Move to another state.
    Move(Box<Change>),
    /// Nothing new: the attempt stays as it is (its gateway id is learnt, its next ask
    /// scheduled).
    Stay(&'static str),
    /// Money was taken for an attempt that can no longer be the purchase's payment.
    Stray,
}

impl Decision {
    fn moving(change: Change) -> Decision {
        Decision::Move(Box::new(change))
    }
}

impl Orchestrator {
    /// Applies a gateway's answer about a payment, then fulfils it if it succeeded. Money that
    /// reached an attempt which lost (cancelled, timed out, or another payment already paid the
    /// purchase) is refunded automatically. A concurrent report that applied the same outcome
    /// first is not an error: the stored payment is returned.
    pub async fn apply_result(
        &self,
        payment: &Payment,
        result: GatewayResult,
        cause: &str,
    ) -> Result<Payment> {
        self.apply_answer(payment, result, cause, Noting::Always).await
    }

    /// [`apply_result`](Self::apply_result), optionally without a timeline entry for an answer
    /// that changes nothing (reconciliation and status pages ask often).
    pub(super) async fn apply_answer(
        &self,
        payment: &Payment,
        result: GatewayResult,
        cause: &str,
        noting: Noting,
    ) -> Result<Payment> {
        let change = match self.decide(payment, &result, cause) {
            Decision::Move(change) => *change,
            Decision::Stay(what) => {
                let stayed = self.stay(payment, &result, cause, what, noting).await?;
                // Paid but not activated yet (another report is fulfilling it, or a crash left
                // it so): fulfilment is idempotent, and the caller gets the final state.
                return if matches!(stayed.state, PaymentSuccess | ConvertingPolicy) {
                    fulfilment::fulfil(&self.db, &stayed.id).await
                } else {
                    Ok(stayed)
                };
            }
            Decision::Stray => return self.stray_charge(payment, &result, cause).await,
        };
        let mut tx = self.db.begin().await?;
        if matches!(result.status, GatewayStatus::Succeeded) {
            // The purchase before the payment's row (see `transition::apply`): a new attempt
            // holds the purchase while its insert waits on this payment's row.
            crate::purchase::Purchase::hold(&mut tx, &payment.purchase_id).await?;
        }
        if payment.gateway_reference.is_none() {
            Payment::learn_gateway_reference(&mut tx, payment, &result.gateway_reference).await?;
        }
        let updated = match transition::apply(&mut tx, payment, change).await {
            Ok(updated) => {
                let updated = if updated.state == PaymentSuccess {
                    // A checkout that asked to keep its card saves it with the success, and the
                    // service it bought is activated in the same commit.
                    super::saved_card::keep(&mut tx, &updated, &result).await?;
                    fulfilment::fulfil_in(&mut tx, &updated).await?
                } else {
                    updated
                };
                tx.commit().await?;
                updated
            }
            Err(TransitionError::PurchasePaid(_)) => {
                drop(tx);
                return self.stray_charge(payment, &result, cause).await;
            }
            // Two reports raced (the customer's return and the gateway's notification); the
            // other one moved it. What it stored is the answer; apply ours to that if it adds
            // anything.
            Err(TransitionError::Moved { .. }) => {
                drop(tx);
                let current = self.reload(payment).await?;
                if current.state == payment.state {
                    return Err(Error::Conflict(format!(
                        "payment {} could not be updated",
                        payment.reference
                    )));
                }
                return Box::pin(self.apply_answer(&current, result, cause, noting)).await;
            }
            Err(e) => return Err(e.into()),
        };
        // Paid and not activated only if fulfilment failed inside the commit: reconciliation
        // finishes it, and the caller learns the money was taken.
        Ok(updated)
    }

    /// The payment as stored now.
    pub(super) async fn reload(&self, payment: &Payment) -> Result<Payment> {
        Payment::find(&self.db, &payment.id).await?.ok_or(Error::NotFound("payment"))
    }

    fn decide(&self, payment: &Payment, result: &GatewayResult, cause: &str) -> Decision {
        let base = |to: PaymentState, what: &str| {
            Change::to(to, format!("{cause}: {what}"))
                .gateway_reference(result.gateway_reference.clone())
                .payload(result.raw.clone())
                .settle_after(self.first_ask(&payment.gateway_id))
        };
        let state = payment.state;
        match &result.status {
            GatewayStatus::Succeeded if state.can_transition_to(PaymentSuccess) => {
                Decision::moving(base(PaymentSuccess, "payment taken"))
            }
            GatewayStatus::Succeeded if state.money_moved() => {
                Decision::Stay("the payment was already recorded as paid")
            }
            GatewayStatus::Succeeded => Decision::Stray,
            GatewayStatus::Failed { reason } if state.can_transition_to(PaymentFailed) => {
                Decision::moving(base(PaymentFailed, "declined").failure_reason(reason.clone()))
            }
            GatewayStatus::Error { reason } if state.can_transition_to(TerminalError) => {
                Decision::moving(
                    base(TerminalError, "gateway error").failure_reason(customer_reason(reason)),
                )
            }
            GatewayStatus::ChallengeRequired(challenge)
                if matches!(state, Created | Processing) =>
            {
                Decision::moving(
                    base(Payment3dAuth, "3-D Secure challenge required")
                        .three_ds(challenge.clone()),
                )
            }
            GatewayStatus::Pending if matches!(state, Created | Processing) => {
                let kind =
                    self.registry().gateways.get(&payment.gateway_id).map(|g| g.gateway.kind);
                let redirect = result.raw.get("redirect_url").and_then(|u| u.as_str());
                match (kind, redirect) {
                    (Some(GatewayKind::HostedCheckout | GatewayKind::PaymentLink), Some(url)) => {
                        Decision::moving(
                            base(AwaitingCustomer, "waiting for the customer on the payment page")
                                .redirect_url(url),
                        )
                    }
                    _ => Decision::Stay("the gateway is still processing it"),
                }
            }
            _ => Decision::Stay("nothing changed"),
        }
    }

    /// Records an answer that changes nothing, learning the gateway's id if it was missing.
    async fn stay(
        &self,
        payment: &Payment,
        result: &GatewayResult,
        cause: &str,
        what: &str,
        noting: Noting,
    ) -> Result<Payment> {
        let learns = payment.gateway_reference.is_none();
        if !learns && noting == Noting::OnlyChanges {
            return Ok(payment.clone());
        }
        let mut tx = self.db.begin().await?;
        if learns {
            Payment::learn_gateway_reference(&mut tx, payment, &result.gateway_reference).await?;
        }
        transition::note(&mut tx, payment, &format!("{cause}: {what}"), Some(&result.raw)).await?;
        tx.commit().await?;
        self.reload(payment).await
    }

    /// A request to the gateway failed. If it may have acted (no answer, or an answer Settle
    /// can't read), the attempt stays possibly charged and reconciliation asks soon; if the
    /// gateway refused it or certainly never saw it, nothing was charged and it failed.
    pub(super) async fn record_send_failure(
        &self,
        payment: &Payment,
        error: ConnectorError,
    ) -> Result<Payment> {
        let gateway = &payment.gateway_id;
        let change = match &error {
            ConnectorError::Timeout(_) | ConnectorError::BadResponse(_) => {
                let mut tx = self.db.begin().await?;
                let next = Utc::now() + chrono_duration(self.first_ask(&payment.gateway_id));
                Payment::restart_asking(&mut tx, payment, next).await?;
                let cause =
                    format!("no clear answer from {gateway} ({error}); reconciliation will ask it");
                transition::note(&mut tx, payment, &cause, None).await?;
                tx.commit().await?;
                return self.reload(payment).await;
            }
            ConnectorError::Refused { message, .. } => {
                Change::to(PaymentFailed, format!("{gateway} refused the payment: {message}"))
                    .failure_reason(customer_reason(message))
            }
            _ => {
                Change::to(TerminalError, format!("{gateway} could not take the payment: {error}"))
                    .failure_reason("The payment service is unavailable. Please try again later.")
            }
        };
        let mut tx = self.db.begin().await?;
        let payment = transition::apply(&mut tx, payment, change).await?;
        tx.commit().await?;
        Ok(payment)
    }
}

/// A gateway's reason in words a customer can read: providers answer JSON errors such as
/// `{"error": "...", "field": "..."}`, which are shown by their message only.
pub(super) fn customer_reason(raw: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| raw.to_owned());
    let message = message.trim();
    if message.is_empty() || message.starts_with('{') || message.len() > 200 {
        "The payment service could not take this payment.".to_owned()
    } else {
        let mut text = message.to_owned();
        if let Some(first) = text.get(0..1) {
            text.replace_range(0..1, &first.to_uppercase());
        }
        if !text.ends_with('.') {
            text.push('.');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::customer_reason;

    #[test]
    fn gateway_errors_become_sentences() {
        assert_eq!(
            customer_reason(r#"{"error":"the card has expired","field":"card.expiry"}"#),
            "The card has expired."
        );
        assert_eq!(customer_reason("Insufficient funds"), "Insufficient funds.");
        assert_eq!(
            customer_reason(r#"{"weird":1}"#),
            "The payment service could not take this payment."
        );
    }
}
