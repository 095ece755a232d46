//! The one place a payment changes state: checked against the state machine, applied as a
//! compare-and-set on the stored state, and recorded as an event in the same transaction, with
//! the merchant webhooks the move announces (so each is announced exactly once).

use std::time::Duration;

use chrono::Utc;

use crate::connector::ThreeDsChallenge;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::payment::PaymentState;
use crate::payment::event;
use crate::payment::record::{CardSummary, Payment};
use crate::with_tx;

/// How long fulfilment may take before reconciliation picks up a paid payment whose service
/// isn't active yet (a crash between the two steps): the customer paid, so soon.
const FULFIL_WITHIN: Duration = Duration::from_secs(5);

/// How long an unsettled payment waits before reconciliation first asks its gateway, when the
/// caller doesn't say (the orchestrator passes the first step of its schedule).
const DEFAULT_SETTLE_AFTER: Duration = Duration::from_secs(5);

/// Why a change of state was not applied.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The state machine does not allow the move.
    #[error("{0}")]
    Illegal(String),
    /// Another request changed the payment first (the compare-and-set found another state).
    #[error("payment {reference} changed while {from} → {to} was being applied")]
    Moved {
        /// The payment.
        reference: String,
        /// The state the change expected.
        from: PaymentState,
        /// The state it asked for.
        to: PaymentState,
    },
    /// Another payment of the purchase already took the money (the one-success index).
    #[error("purchase {0} is already paid by another payment")]
    PurchasePaid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<sqlx::Error> for TransitionError {
    fn from(e: sqlx::Error) -> Self {
        TransitionError::Store(Error::from(e))
    }
}

impl From<TransitionError> for Error {
    fn from(e: TransitionError) -> Error {
        match e {
            TransitionError::Store(e) => e,
            other => Error::Conflict(other.to_string()),
        }
    }
}

/// A requested change of state, with its cause and what the gateway said.
#[derive(Clone, Debug)]
pub struct Change {
    to: PaymentState,
    cause: String,
    gateway_reference: Option<String>,
    payload: Option<serde_json::Value>,
    failure_reason: Option<String>,
    redirect_url: Option<String>,
    three_ds: Option<ThreeDsChallenge>,
    card: Option<CardSummary>,
    settle_after: Option<Duration>,
}

impl Change {
    /// A change to `to`, caused by `cause` (a sentence for the timeline).
    pub fn to(to: PaymentState, cause: impl Into<String>) -> Change {
        Change {
            to,
            cause: cause.into(),
            gateway_reference: None,
            payload: None,
            failure_reason: None,
            redirect_url: None,
            three_ds: None,
            card: None,
            settle_after: None,
        }
    }

    /// The gateway's reference for the payment.
    pub fn gateway_reference(mut self, reference: impl Into<String>) -> Change {
        self.gateway_reference = Some(reference.into());
        self
    }

    /// The gateway payload behind the change (redacted before it is stored).
    pub fn payload(mut self, payload: serde_json::Value) -> Change {
        self.payload = Some(payload);
        self
    }

    /// Why the payment failed, in words safe to show the customer.
    pub fn failure_reason(mut self, reason: impl Into<String>) -> Change {
        self.failure_reason = Some(reason.into());
        self
    }

    /// Where the customer is sent to pay.
    pub fn redirect_url(mut self, url: impl Into<String>) -> Change {
        self.redirect_url = Some(url.into());
        self
    }

    /// The 3-D Secure challenge the customer must complete (kept only while in PAYMENT_3DAUTH).
    pub fn three_ds(mut self, challenge: ThreeDsChallenge) -> Change {
        self.three_ds = Some(challenge);
        self
    }

    /// The card used (brand, last four, expiry only).
    pub fn card(mut self, card: CardSummary) -> Change {
        self.card = Some(card);
        self
    }

    /// How long to wait before reconciliation asks the gateway, if the payment stays unsettled.
    pub fn settle_after(mut self, after: Duration) -> Change {
        self.settle_after = Some(after);
        self
    }
}

/// Applies `change` to `payment` inside `tx`. An illegal transition, a payment that another
/// request changed meanwhile, or a second success for one purchase is a [`TransitionError`] and
/// nothing is written. Each new state restarts the payment's reconciliation schedule.
pub async fn apply(
    tx: &mut Tx,
    payment: &Payment,
    change: Change,
) -> Result<Payment, TransitionError> {
    let to = match payment.state.transition(change.to) {
        Ok(to) => to,
        Err(e) => return Err(TransitionError::Illegal(e.to_string())),
    };
    let now = Utc::now();
    let settle_by = match to {
        PaymentState::PaymentSuccess | PaymentState::ConvertingPolicy => {
            Some(now + change.settle_after.unwrap_or(FULFIL_WITHIN).min(FULFIL_WITHIN))
        }
        s if s.is_final() || s == PaymentState::Invoiced => None,
        _ => Some(now + change.settle_after.unwrap_or(DEFAULT_SETTLE_AFTER)),
    };
    let three_ds = match (&change.three_ds, to) {
        (Some(challenge), PaymentState::Payment3dAuth) => {
            Some(serde_json::to_string(challenge).map_err(|e| Error::Internal(e.to_string()))?)
        }
        _ => None,
    };
    if to == PaymentState::PaymentSuccess {
        // Purchase first, then payment: the order a new attempt takes them in (it holds the
        // purchase, then inserts a payment, whose unique check waits for this row). The other
        // order deadlocks on PostgreSQL when a submit races the success of the attempt before.
        crate::purchase::Purchase::hold(tx, &payment.purchase_id).await?;
    }
    let sql = "UPDATE payments SET state = $3, updated_at = $4, settle_by = $5, three_ds = $6,
                   reconcile_attempts = 0,
                   gateway_reference = COALESCE($7, gateway_reference),
                   failure_reason = COALESCE($8, failure_reason),
                   redirect_url = COALESCE($9, redirect_url),
                   card_brand = COALESCE($10, card_brand),
                   card_last4 = COALESCE($11, card_last4),
                   card_expiry = COALESCE($12, card_expiry)
               WHERE id = $1 AND state = $2";
    let updated = with_tx!(tx, conn => sqlx::query(sql)
        .bind(&payment.id)
        .bind(i64::from(payment.state.code()))
        .bind(i64::from(to.code()))
        .bind(now)
        .bind(settle_by)
        .bind(three_ds)
        .bind(&change.gateway_reference)
        .bind(&change.failure_reason)
        .bind(&change.redirect_url)
        .bind(change.card.as_ref().map(|c| &c.brand))
        .bind(change.card.as_ref().map(|c| &c.last4))
        .bind(change.card.as_ref().map(|c| &c.expiry))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()));
    let updated = match updated {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(TransitionError::PurchasePaid(payment.purchase_id.to_string()));
        }
        other => other?,
    };
    if updated == 0 {
        return Err(TransitionError::Moved {
            reference: payment.reference.clone(),
            from: payment.state,
            to,
        });
    }
    let gateway_reference =
        change.gateway_reference.as_deref().or(payment.gateway_reference.as_deref());
    event::record(
        tx,
        &payment.id,
        Some(payment.state),
        Some(to),
        &change.cause,
        gateway_reference,
        change.payload.as_ref(),
    )
    .await?;
    crate::webhook::emit_for_move(tx, payment, Some(payment.state), to).await?;
    if to == PaymentState::PaymentSuccess {
        mark_purchase_paid(tx, payment).await?;
    }
    // A saved method learns from each settled collection (its status rule lives with it).
    if let Some(method) = &payment.payment_method_id
        && matches!(to, PaymentState::PaymentSuccess | PaymentState::PaymentFailed)
    {
        crate::payment_method::record_collection(tx, method, to == PaymentState::PaymentSuccess)
            .await?;
    }
    if to.is_final() {
        crate::telemetry::payment_final(&payment.gateway_id, payment.created_at, payment.state, to);
    }
    Ok(Payment::reload(tx, &payment.id).await?)
}

/// Records something that happened to a payment without changing its state (a duplicate or
/// late notification, a gateway attempt that failed before anything moved).
pub async fn note(
    tx: &mut Tx,
    payment: &Payment,
    cause: &str,
    payload: Option<&serde_json::Value>,
) -> Result<()> {
    event::record(
        tx,
        &payment.id,
        Some(payment.state),
        None,
        cause,
        payment.gateway_reference.as_deref(),
        payload,
    )
    .await
}

async fn mark_purchase_paid(tx: &mut Tx, payment: &Payment) -> Result<(), TransitionError> {
    let sql = "UPDATE purchases SET status = 'paid', paid_at = $2 WHERE id = $1 AND status IN ('open', 'quote')";
    let updated = with_tx!(tx, conn => sqlx::query(sql)
        .bind(&payment.purchase_id)
        .bind(Utc::now())
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if updated == 0 {
        // The partial unique index already stops a second successful payment; a purchase that
        // is cancelled (or somehow paid) must not be marked paid again either: money that
        // arrives for it is a stray charge, refunded like one on a second attempt.
        return Err(TransitionError::PurchasePaid(payment.purchase_id.to_string()));
    }
    Ok(())
}
