//! Refunds: money given back through the gateway that took it. Settle refunds on its own what
//! reached an attempt that lost (a "stray" charge: the attempt was cancelled or timed out, or
//! another payment had already paid the purchase; [`stray`]), staff refund a paid payment in full
//! or in part ([`requested`]) and a stray charge the ledger found ([`stray`]). Each refund is a
//! row marked pending before the gateway is asked, and a durable job, so it happens once however
//! often it is asked for, and survives restarts: only the gateway's answer settles it.

pub mod requested;
pub mod stray;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connector::{Connector, ConnectorError, GatewayResult, GatewayStatus};
use crate::db::{Db, Tx};
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
    /// The key of the form that asked for it (staff refunds): a second submit finds this one.
    pub request_key: Option<String>,
    /// What the gateway shows refunded on the charge once this refund is done (in the charge's
    /// minor units): how a refund whose answer was lost is recognised at the gateway.
    pub refunded_after_minor: Option<i64>,
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
    Option<String>,
    Option<i64>,
);

const REFUND_COLUMNS: &str = "id, payment_id, currency, amount_minor, reason, kind, status, gateway_reference, failure_reason, created_at, request_key, refunded_after_minor";

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
            request_key: r.10,
            refunded_after_minor: r.11,
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
        if already_refunded(connector.as_ref(), &payment, &gateway_reference, &refund).await {
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
                if already_refunded(connector.as_ref(), &payment, &gateway_reference, &refund).await
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
        if refund.kind == RefundKind::Requested {
            requested::refunded_in_full(&mut tx, payment).await?;
        }
        tx.commit().await?;
        Ok(RefundStatus::Succeeded)
    }
}

/// Whether the gateway already shows this refund done: at least what it should show refunded
/// afterwards (or, for a refund from before that was kept, at least its amount).
async fn already_refunded(
    connector: &dyn Connector,
    payment: &Payment,
    gateway_reference: &str,
    refund: &Refund,
) -> bool {
    let after = refund.refunded_after_minor.unwrap_or(refund.amount.minor());
    let since = payment.created_at - chrono::Duration::hours(1);
    match connector.charges(since).await {
        Ok(charges) => charges
            .iter()
            .find(|c| c.gateway_reference == gateway_reference)
            .is_some_and(|c| c.refunded.minor() >= after),
        Err(_) => false,
    }
}

/// What has been given back of a payment so far, by Settle's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundTotals {
    /// Refunds the gateway confirmed, in minor units.
    pub succeeded_minor: i64,
    /// Refunds on their way (marked, the gateway's answer not in yet), in minor units.
    pub pending_minor: i64,
}

/// A refund about to be recorded, pending, before its gateway is asked.
pub(crate) struct NewRefund<'a> {
    /// Whose money goes back.
    pub payment: &'a Payment,
    /// How much.
    pub amount: Money,
    /// Why, in words.
    pub reason: String,
    /// Stray or requested.
    pub kind: RefundKind,
    /// The form's key (staff refunds).
    pub request_key: Option<&'a str>,
    /// What the gateway should show refunded once it is done.
    pub refunded_after_minor: Option<i64>,
}

/// How long a staff refund's backstop job waits before it carries out a refund the request
/// itself did not finish (a crash, a lost answer): longer than any gateway call, so the job never
/// asks the gateway while the request still does.
const BACKSTOP_AFTER: chrono::Duration = chrono::Duration::minutes(2);

impl Refund {
    /// The refund a form with `request_key` asked for, if any.
    pub async fn find_by_request_key(db: &Db, request_key: &str) -> Result<Option<Refund>> {
        let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE request_key = $1");
        let row: Option<RefundRow> = with_db!(db, pool => sqlx::query_as(&sql).bind(request_key).fetch_optional(pool).await)?;
        row.map(Refund::from_row).transpose()
    }

    /// A payment's refund totals.
    pub async fn totals(db: &Db, payment: &PaymentId) -> Result<RefundTotals> {
        let row: (i64, i64) =
            with_db!(db, pool => sqlx::query_as(TOTALS).bind(payment).fetch_one(pool).await)?;
        Ok(RefundTotals { succeeded_minor: row.0, pending_minor: row.1 })
    }

    /// A payment's refund totals as `tx` sees them (after it holds the payment).
    pub(crate) async fn totals_in(tx: &mut Tx, payment: &PaymentId) -> Result<RefundTotals> {
        let row: (i64, i64) =
            with_tx!(tx, conn => sqlx::query_as(TOTALS).bind(payment).fetch_one(conn).await)?;
        Ok(RefundTotals { succeeded_minor: row.0, pending_minor: row.1 })
    }

    /// Records a pending refund with its backstop job. `Ok(None)` when a unique index refused
    /// it: its request key is taken, or a refund of the payment is already on its way.
    pub(crate) async fn insert_pending(
        tx: &mut Tx,
        new: NewRefund<'_>,
    ) -> Result<Option<RefundId>> {
        let id = RefundId::generate();
        let now = Utc::now();
        let sql = "INSERT INTO refunds (id, payment_id, currency, amount_minor, reason, kind, status, request_key, refunded_after_minor, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $9) ON CONFLICT DO NOTHING";
        let inserted = with_tx!(tx, conn => sqlx::query(sql)
            .bind(&id)
            .bind(&new.payment.id)
            .bind(new.amount.currency().code())
            .bind(new.amount.minor())
            .bind(&new.reason)
            .bind(new.kind.as_str())
            .bind(new.request_key)
            .bind(new.refunded_after_minor)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Ok(None);
        }
        let payload = serde_json::to_value(RefundJob { refund_id: id.clone() })
            .map_err(|e| Error::Internal(e.to_string()))?;
        job::enqueue_in(
            tx,
            NewJob::new(REFUND_JOB, payload)
                .run_at(now + BACKSTOP_AFTER)
                .dedupe_key(format!("{REFUND_JOB}:{id}")),
        )
        .await?;
        Ok(Some(id))
    }
}

const TOTALS: &str = "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'succeeded' THEN amount_minor ELSE 0 END), 0) AS BIGINT),
                             CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN amount_minor ELSE 0 END), 0) AS BIGINT)
                      FROM refunds WHERE payment_id = $1";

/// Holds a payment's row for the rest of `tx` while it is in `state`, so two refunds of one
/// payment are decided one after the other. `false` if it is no longer in that state.
pub(crate) async fn hold_payment(tx: &mut Tx, payment: &Payment) -> Result<bool> {
    // A no-op update takes the row lock on PostgreSQL; SQLite's transactions hold the
    // database's write lock from their start (`Db::begin`).
    let sql = "UPDATE payments SET updated_at = updated_at WHERE id = $1 AND state = $2";
    let rows = with_tx!(tx, conn => sqlx::query(sql)
        .bind(&payment.id)
        .bind(i64::from(payment.state.code()))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(rows == 1)
}

/// What the gateway shows refunded on a payment's charge, if it can be asked.
pub(crate) async fn refunded_at_gateway(
    connector: &dyn Connector,
    payment: &Payment,
) -> Option<crate::connector::GatewayCharge> {
    let since = payment.created_at - chrono::Duration::hours(1);
    let charges = connector.charges(since).await.ok()?;
    charges.into_iter().find(|c| {
        Some(&c.gateway_reference) == payment.gateway_reference.as_ref()
            || c.payment_reference == payment.reference
    })
}
