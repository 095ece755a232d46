//! What reaches Settle from outside during a payment: a gateway's server-to-server notification,
//! and the customer's browser coming back from the issuer's 3-D Secure page. Neither is trusted
//! on its own word: a notification's signature is checked and its claim confirmed by asking the
//! gateway; a challenge result is completed with the acquirer, which decides.

use chrono::Utc;

use crate::connector::{ConnectorError, GatewayStatus, ThreeDsCompletion};
use crate::error::{Error, Result};
use crate::payment::PaymentState::{self, *};
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::Payment;
use crate::payment::transition::{self, Change, TransitionError};
use crate::with_db;

/// What the orchestrator did with a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// It changed the payment (to this state, after the gateway confirmed it).
    Applied(PaymentState),
    /// The same event was processed before; recorded, nothing changed.
    Duplicate,
    /// It told Settle nothing new (the payment already reflects it); recorded.
    Late,
}

/// What a 3-D Secure completion did.
#[derive(Clone, Debug)]
pub enum ChallengeOutcome {
    /// The acquirer took the result (or it was taken before); the payment as it now is.
    Completed(Payment),
    /// The acquirer refused the result (forged, misdirected, or sent before the customer
    /// answered): the payment still waits for its challenge.
    Refused(Payment),
}

/// How long a challenge result waits for another result being completed at the same time.
const COMPLETION_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Orchestrator {
    /// Handles a gateway's server-to-server notification: the signature is verified with the
    /// gateway's key before anything is read, the payment found by the gateway's id or, before
    /// Settle has learnt it, by Settle's reference, and the claim confirmed with a status query
    /// before any money state changes. Repeats are recorded and change nothing. A notification
    /// for no payment of this gateway is `NotFound` (and not remembered, so a resend is
    /// processed).
    pub async fn handle_notification(
        &self,
        gateway_id: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<NotificationOutcome> {
        let connector = self.connector(gateway_id).map_err(|_| Error::NotFound("gateway"))?;
        let notification = connector.verify_notification(signature, body).map_err(|e| {
            tracing::warn!(gateway = gateway_id, error = %e, "notification refused");
            Error::Unauthorized
        })?;
        let claim = notification.result;
        let by_gateway_reference =
            Payment::find_by_gateway_reference(&self.db, gateway_id, &claim.gateway_reference)
                .await?;
        let payment = match (by_gateway_reference, &claim.payment_reference) {
            (Some(payment), _) => payment,
            // Before Settle has stored the gateway's id (its answer is still on the way).
            (None, Some(reference)) => Payment::find_by_reference(&self.db, reference)
                .await?
                .filter(|p| p.gateway_id == gateway_id)
                .filter(|p| {
                    p.gateway_reference.as_deref().is_none_or(|r| r == claim.gateway_reference)
                })
                .ok_or(Error::NotFound("payment"))?,
            (None, None) => return Err(Error::NotFound("payment")),
        };
        // This instance is still sending the payment's request: its answer is about to settle
        // the payment, so wait for that rather than ask the gateway the same question.
        let payment = if self.in_flight.wait(&payment.id).await {
            self.reload(&payment).await?
        } else {
            payment
        };
        let event = &notification.event_id;
        if self.seen_notification(gateway_id, &claim.gateway_reference, event).await? {
            let mut tx = self.db.begin().await?;
            let cause = format!("duplicate notification {event} ignored");
            transition::note(&mut tx, &payment, &cause, Some(&claim.raw)).await?;
            tx.commit().await?;
            return Ok(NotificationOutcome::Duplicate);
        }
        let outcome = if tells_nothing_new(payment.state, &claim.status) {
            let mut tx = self.db.begin().await?;
            let cause = format!("notification {event} recorded; the payment already reflects it");
            transition::note(&mut tx, &payment, &cause, Some(&claim.raw)).await?;
            tx.commit().await?;
            NotificationOutcome::Late
        } else {
            // The notification says something changed: ask the gateway itself before acting.
            let mut asked = payment.clone();
            asked.gateway_reference.get_or_insert_with(|| claim.gateway_reference.clone());
            let confirmed = match self.ask_gateway(&asked).await {
                Ok(Some(result)) => result,
                Ok(None) => return Err(Error::NotFound("payment")),
                Err(e) => {
                    tracing::warn!(payment = %payment.reference, error = %e, "could not confirm a notification; the gateway will resend it");
                    return Err(Error::Internal(format!("confirming a notification: {e}")));
                }
            };
            let cause = format!("notification {event}, confirmed by a status query");
            let updated = self.apply_result(&payment, confirmed, &cause).await?;
            NotificationOutcome::Applied(updated.state)
        };
        self.remember_notification(gateway_id, &claim.gateway_reference, event, &payment).await?;
        Ok(outcome)
    }

    async fn seen_notification(&self, gateway: &str, reference: &str, event: &str) -> Result<bool> {
        let sql = "SELECT 1 FROM gateway_notifications WHERE gateway_id = $1 AND gateway_reference = $2 AND event_id = $3";
        let seen: Option<i32> = with_db!(&self.db, pool => sqlx::query_scalar(sql)
            .bind(gateway)
            .bind(reference)
            .bind(event)
            .fetch_optional(pool)
            .await)?;
        Ok(seen.is_some())
    }

    /// Remembers a processed notification, so a resend of it changes nothing.
    async fn remember_notification(
        &self,
        gateway: &str,
        reference: &str,
        event: &str,
        payment: &Payment,
    ) -> Result<()> {
        let sql = "INSERT INTO gateway_notifications (gateway_id, gateway_reference, event_id, payment_id, outcome, received_at)
                   VALUES ($1, $2, $3, $4, 'processed', $5) ON CONFLICT DO NOTHING";
        with_db!(&self.db, pool => sqlx::query(sql)
            .bind(gateway)
            .bind(reference)
            .bind(event)
            .bind(&payment.id)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Completes a 3-D Secure challenge with the result the issuer's page posted. The attempt
    /// is marked possibly charged first (so it can't be replaced meanwhile); if the acquirer
    /// refuses the result, the acquirer is asked where the payment stands and it goes back to
    /// waiting for its challenge. A repeated post answers the payment as it is.
    ///
    /// A result that arrives while another is being completed (a forged post racing the
    /// customer's, or the same frame posting twice) waits for it, briefly: if the acquirer
    /// refused the other, the payment waits for its challenge again and this result is tried.
    pub async fn complete_challenge(
        &self,
        reference: &str,
        cres: &str,
    ) -> Result<ChallengeOutcome> {
        let deadline = tokio::time::Instant::now() + COMPLETION_WAIT;
        loop {
            let payment = Payment::find_by_reference(&self.db, reference)
                .await?
                .ok_or(Error::NotFound("payment"))?;
            let completing = payment.state == Processing
                && Utc::now() - payment.updated_at < chrono::Duration::seconds(30);
            match payment.state {
                Payment3dAuth => {
                    if let Some(outcome) = self.try_complete(&payment, cres).await? {
                        return Ok(outcome);
                    }
                }
                _ if completing && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                _ => return Ok(ChallengeOutcome::Completed(payment)),
            }
        }
    }

    /// One try at completing a waiting challenge; `None` when another completion got to the
    /// payment first.
    async fn try_complete(
        &self,
        payment: &Payment,
        cres: &str,
    ) -> Result<Option<ChallengeOutcome>> {
        let reference = &payment.reference;
        let Some(gateway_reference) = payment.gateway_reference.clone() else {
            return Err(Error::Internal("a challenged payment has no gateway reference".into()));
        };
        let challenge = payment.three_ds.clone();
        let mut tx = self.db.begin().await?;
        let submitting = match transition::apply(
            &mut tx,
            payment,
            Change::to(Processing, "challenge answered; completing it with the acquirer")
                .settle_after(self.first_ask(&payment.gateway_id)),
        )
        .await
        {
            Ok(p) => {
                tx.commit().await?;
                p
            }
            // Another post, or a replacement, got there first.
            Err(TransitionError::Moved { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let connector = self.connector(&submitting.gateway_id)?;
        let completion = ThreeDsCompletion { gateway_reference, cres: cres.to_owned() };
        match connector.complete_challenge(&completion).await {
            Ok(result) => {
                let updated = self
                    .apply_result(&submitting, result, "3-D Secure challenge completed")
                    .await?;
                Ok(Some(ChallengeOutcome::Completed(updated)))
            }
            Err(ConnectorError::Refused { message, .. }) => {
                tracing::warn!(payment = %reference, %message, "the acquirer refused a 3-D Secure result");
                let current = match self.ask_gateway(&submitting).await {
                    Ok(Some(result)) => {
                        let waiting = matches!(result.status, GatewayStatus::ChallengeRequired(_));
                        if waiting {
                            self.back_to_challenge(&submitting, result.raw, challenge).await?
                        } else {
                            self.apply_result(
                                &submitting,
                                result,
                                "status query after a refused challenge result",
                            )
                            .await?
                        }
                    }
                    // Reconciliation settles it from the acquirer's word.
                    _ => submitting,
                };
                Ok(Some(ChallengeOutcome::Refused(current)))
            }
            Err(e) => {
                // No clear answer: the attempt stays possibly charged until the acquirer says.
                let updated = self.record_send_failure(&submitting, e).await?;
                Ok(Some(ChallengeOutcome::Completed(updated)))
            }
        }
    }

    /// The acquirer says the challenge still waits: so does the payment, with its challenge.
    async fn back_to_challenge(
        &self,
        payment: &Payment,
        raw: serde_json::Value,
        challenge: Option<crate::connector::ThreeDsChallenge>,
    ) -> Result<Payment> {
        let mut change = Change::to(
            Payment3dAuth,
            "the acquirer refused the challenge result; the challenge still waits",
        )
        .payload(raw)
        .settle_after(self.first_ask(&payment.gateway_id));
        if let Some(challenge) = challenge {
            change = change.three_ds(challenge);
        }
        let mut tx = self.db.begin().await?;
        let waiting = transition::apply(&mut tx, payment, change).await?;
        tx.commit().await?;
        Ok(waiting)
    }
}

/// Whether a notification's claim is already what Settle has recorded.
fn tells_nothing_new(state: PaymentState, claim: &GatewayStatus) -> bool {
    match claim {
        GatewayStatus::Succeeded => state.money_moved(),
        GatewayStatus::Failed { .. } => matches!(state, PaymentFailed | Cancelled | TimedOut),
        GatewayStatus::Error { .. } => state == TerminalError,
        GatewayStatus::ChallengeRequired(_) => state == Payment3dAuth,
        GatewayStatus::Pending => !matches!(state, Created | Processing),
    }
}
