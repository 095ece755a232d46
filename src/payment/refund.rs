//! Refunds: money given back through the gateway that took it. Today Settle refunds on its own
//! what reached an attempt that lost (a "stray" charge: the attempt was cancelled or timed out,
//! or another payment had already paid the purchase). Each refund is a row and a durable job,
//! so it happens once however often the charge is reported, and survives restarts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connector::{Connector, ConnectorError, GatewayResult, GatewayStatus};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::job::{self, NewJob};
use crate::money::{Currency, Money};
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::{Payment, PaymentId};
use crate::payment::transition;
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

/// Job kind: carry out one refund through its gateway.
pub const REFUND_JOB: &str = "payments.refund";

crate::id_type!(
    /// Identifies a refund.
    RefundId
);

text_enum!(
    /// Where a refund stands.
    RefundStatus, field = "status", {
        /// Not yet confirmed by the gateway.
        Pending = "pending",
        /// The gateway gave the money back.
        Succeeded = "succeeded",
        /// The gateway refused; a person must look at it (the ledger lists it).
        Failed = "failed",
    }
);

text_enum!(
    /// Why a refund exists.
    RefundKind, field = "kind", {
        /// Money that reached an attempt which is not the purchase's payment.
        Stray = "stray",
        /// Asked for by staff.
        Requested = "requested",
    }
);

/// A refund of (part of) a payment.
#[derive(Clone, Debug)]
pub struct Refund {
    /// Its id.
    pub id: RefundId,
    /// The payment whose money goes back.
    pub payment_id: PaymentId,
    /// How much.
    pub amount: Money,
    /// Why, in words.
    pub reason: String,
    /// Stray or requested.
    pub kind: RefundKind,
    /// Where it stands.
    pub status: RefundStatus,
    /// The gateway's id for the refund.
    pub gateway_reference: Option<String>,
    /// The gateway's reason for refusing.
    pub failure_reason: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
}

/// The refund job's payload.
#[derive(Debug, Serialize, Deserialize)]
pub struct RefundJob {
    /// The refund to carry out.
    pub refund_id: RefundId,
}

type RefundRow = (
    RefundId,
    PaymentId,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
);

const REFUND_COLUMNS: &str = "id, payment_id, currency, amount_minor, reason, kind, status, gateway_reference, failure_reason, created_at";

impl Refund {
    fn from_row(r: RefundRow) -> Result<Refund> {
        let currency: Currency = stored("refunds.currency", &r.2)?;
        Ok(Refund {
            id: r.0,
            payment_id: r.1,
            amount: Money::from_minor(r.3, currency),
            reason: r.4,
            kind: stored("refunds.kind", &r.5)?,
            status: stored("refunds.status", &r.6)?,
            gateway_reference: r.7,
            failure_reason: r.8,
            created_at: r.9,
        })
    }

    /// Loads a refund.
    pub async fn find(db: &Db, id: &RefundId) -> Result<Option<Refund>> {
        let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1");
        let row: Option<RefundRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(Refund::from_row).transpose()
    }

    /// The refunds of a payment, oldest first.
    pub async fn for_payment(db: &Db, payment: &PaymentId) -> Result<Vec<Refund>> {
        let sql = format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at"
        );
        let rows: Vec<RefundRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(payment).fetch_all(pool).await)?;
        rows.into_iter().map(Refund::from_row).collect()
    }

    async fn finish(
        &self,
        db: &Db,
        status: RefundStatus,
        gateway_reference: Option<&str>,
        failure: Option<&str>,
    ) -> Result<()> {
        let sql = "UPDATE refunds SET status = $2, gateway_reference = COALESCE($3, gateway_reference), failure_reason = $4, updated_at = $5
                   WHERE id = $1 AND status = 'pending'";
        with_db!(db, pool => sqlx::query(sql)
            .bind(&self.id)
            .bind(status.as_str())
            .bind(gateway_reference)
            .bind(failure)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

impl Orchestrator {
    /// Money was taken for an attempt that can't be the purchase's payment: records it, starts
    /// its refund (once, however often it is reported) and notes it on this payment's timeline
    /// and on that of the purchase's successful payment.
    pub(super) async fn stray_charge(
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

    /// Carries out a pending refund through the gateway (the refund job). A refund whose earlier
    /// answer was lost is found at the gateway first, so money is never given back twice.
    /// `Err` means "try again later".
    pub async fn process_refund(&self, id: &RefundId) -> Result<RefundStatus> {
        let refund = Refund::find(&self.db, id).await?.ok_or(Error::NotFound("refund"))?;
        if refund.status != RefundStatus::Pending {
            return Ok(refund.status);
        }
        let payment =
            Payment::find(&self.db, &refund.payment_id).await?.ok_or(Error::NotFound("payment"))?;
        let gateway_reference = payment.gateway_reference.clone().ok_or_else(|| {
            Error::Internal(format!(
                "payment {} has no gateway reference to refund",
                payment.reference
            ))
        })?;
        let connector = self.connector(&payment.gateway_id)?;
        if already_refunded(connector.as_ref(), &payment, &gateway_reference, refund.amount).await {
            return self.refunded(&refund, &payment, None).await;
        }
        match connector.refund(&gateway_reference, refund.amount).await {
            Ok(result) if result.status == GatewayStatus::Succeeded => {
                self.refunded(&refund, &payment, Some(&result.gateway_reference)).await
            }
            Ok(GatewayResult {
                status: GatewayStatus::Failed { reason } | GatewayStatus::Error { reason },
                ..
            })
            | Err(ConnectorError::Refused { message: reason, .. }) => {
                if already_refunded(connector.as_ref(), &payment, &gateway_reference, refund.amount)
                    .await
                {
                    return self.refunded(&refund, &payment, None).await;
                }
                refund.finish(&self.db, RefundStatus::Failed, None, Some(&reason)).await?;
                let mut tx = self.db.begin().await?;
                let note = format!(
                    "refund of {} refused by {}: {reason}; a person must look at it",
                    refund.amount, payment.gateway_id
                );
                transition::note(&mut tx, &payment, &note, None).await?;
                tx.commit().await?;
                tracing::error!(payment = %payment.reference, %reason, "a refund was refused by the gateway");
                Ok(RefundStatus::Failed)
            }
            Ok(other) => Err(Error::Internal(format!("refund answer {:?}", other.status))),
            Err(e) => {
                Err(Error::Internal(format!("refunding through {}: {e}", payment.gateway_id)))
            }
        }
    }

    async fn refunded(
        &self,
        refund: &Refund,
        payment: &Payment,
        gateway_reference: Option<&str>,
    ) -> Result<RefundStatus> {
        refund.finish(&self.db, RefundStatus::Succeeded, gateway_reference, None).await?;
        let mut tx = self.db.begin().await?;
        let note = format!(
            "refunded {} through {} ({})",
            refund.amount, payment.gateway_id, refund.reason
        );
        transition::note(&mut tx, payment, &note, None).await?;
        if refund.kind == RefundKind::Stray
            && let Some(winner) =
                Payment::successful_for_purchase(&self.db, &payment.purchase_id).await?
            && winner.id != payment.id
        {
            let note = format!("the second charge ({}) was refunded", payment.reference);
            transition::note(&mut tx, &winner, &note, None).await?;
        }
        tx.commit().await?;
        Ok(RefundStatus::Succeeded)
    }
}

/// Whether the gateway already shows at least `amount` refunded on the charge.
async fn already_refunded(
    connector: &dyn Connector,
    payment: &Payment,
    gateway_reference: &str,
    amount: Money,
) -> bool {
    let since = payment.created_at - chrono::Duration::hours(1);
    match connector.charges(since).await {
        Ok(charges) => charges
            .iter()
            .find(|c| c.gateway_reference == gateway_reference)
            .is_some_and(|c| c.refunded.minor() >= amount.minor()),
        Err(_) => false,
    }
}
