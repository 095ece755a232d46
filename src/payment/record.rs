//! The payment record: one attempt to collect a purchase through a gateway, and its storage.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::connector::ThreeDsChallenge;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::money::{Currency, Money};
use crate::payment::{PaymentState, ReturnTo};
use crate::payment_method::PaymentMethodId;
use crate::purchase::PurchaseId;
use crate::text_enum::stored;
use crate::{with_db, with_tx};

crate::id_type!(
    /// Identifies a payment internally.
    PaymentId
);

/// What Settle keeps of a card: never the number or the security code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    /// Brand (`VISA`, `MASTERCARD`).
    pub brand: String,
    /// Last four digits.
    pub last4: String,
    /// Expiry as MMYY.
    pub expiry: String,
}

crate::text_enum!(
    /// Where a payment was started: a client's API, or Settle's own customer pages (whose bank
    /// check ends on a page of Settle's own rather than the API's blank completion page).
    Channel, field = "channel", {
        /// A merchant's system, a customer through a merchant's client, or staff.
        Api = "api",
        /// Settle's customer pages.
        Pages = "pages",
    }
);

impl Channel {
    /// The channel a payer uses: a customer without a merchant's client is on the pages.
    pub fn of(payer: &crate::access::Viewer) -> Channel {
        match payer {
            crate::access::Viewer::Customer { merchant: None, .. } => Channel::Pages,
            _ => Channel::Api,
        }
    }
}

/// One attempt to collect a purchase.
#[derive(Clone, Debug)]
pub struct Payment {
    /// Internal id.
    pub id: PaymentId,
    /// The reference clients see (payment token, `<payment reference>` in URLs).
    pub reference: String,
    /// What it pays.
    pub purchase_id: PurchaseId,
    /// The merchant whose API started it.
    pub merchant_id: Option<MerchantId>,
    /// The gateway it goes through.
    pub gateway_id: String,
    /// The saved method used, if any.
    pub payment_method_id: Option<PaymentMethodId>,
    /// Off-system channel, for allocations.
    pub purchase_source_id: Option<String>,
    /// Where it stands.
    pub state: PaymentState,
    /// How much.
    pub amount: Money,
    /// The gateway's id for it.
    pub gateway_reference: Option<String>,
    /// Where the customer is sent to pay (hosted page, payment link).
    pub redirect_url: Option<String>,
    /// How the customer is sent back to the client, if the client named it.
    pub return_to: Option<ReturnTo>,
    /// The card, for card payments.
    pub card: Option<CardSummary>,
    /// The pending 3-D Secure challenge.
    pub three_ds: Option<ThreeDsChallenge>,
    /// Why it failed, in words safe to show.
    pub failure_reason: Option<String>,
    /// Seed-specific extras (billing address, additional fields).
    pub details: serde_json::Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When reconciliation should ask the gateway about it, while it is unsettled.
    pub settle_by: Option<DateTime<Utc>>,
    /// How often reconciliation has asked about it in its current state.
    pub reconcile_attempts: i64,
    /// The scoped, hashed `Idempotency-Key` of the request that started it.
    pub idempotency_key: Option<String>,
    /// Where it was started.
    pub channel: Channel,
    /// The address a card payment was billed to, whatever the entry point.
    pub billing_address: Option<crate::address::Address>,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: PaymentId,
    reference: String,
    purchase_id: PurchaseId,
    merchant_id: Option<MerchantId>,
    gateway_id: String,
    payment_method_id: Option<PaymentMethodId>,
    purchase_source_id: Option<String>,
    state: i64,
    currency: String,
    amount_minor: i64,
    gateway_reference: Option<String>,
    redirect_url: Option<String>,
    return_to: Option<String>,
    card_brand: Option<String>,
    card_last4: Option<String>,
    card_expiry: Option<String>,
    three_ds: Option<String>,
    failure_reason: Option<String>,
    details: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    settle_by: Option<DateTime<Utc>>,
    reconcile_attempts: i64,
    idempotency_key: Option<String>,
    channel: String,
    billing_address: Option<String>,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = Error;

    fn try_from(r: PaymentRow) -> Result<Payment> {
        let currency: Currency = stored("payments.currency", &r.currency)?;
        let state = i16::try_from(r.state)
            .ok()
            .and_then(PaymentState::from_code)
            .ok_or_else(|| Error::Internal(format!("payments.state {} is unknown", r.state)))?;
        let card = match (r.card_brand, r.card_last4, r.card_expiry) {
            (Some(brand), Some(last4), Some(expiry)) => Some(CardSummary { brand, last4, expiry }),
            _ => None,
        };
        let bad = |field: &str, e: serde_json::Error| {
            Error::Internal(format!("payments.{field} of {}: {e}", r.id))
        };
        let three_ds = match r.three_ds.as_deref() {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| bad("three_ds", e))?),
            None => None,
        };
        let details = serde_json::from_str(&r.details).map_err(|e| bad("details", e))?;
        let billing_address = match r.billing_address.as_deref() {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| bad("billing_address", e))?),
            None => None,
        };
        let return_to = match r.return_to.as_deref() {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| bad("return_to", e))?),
            None => None,
        };
        Ok(Payment {
            three_ds,
            details,
            id: r.id,
            reference: r.reference,
            purchase_id: r.purchase_id,
            merchant_id: r.merchant_id,
            gateway_id: r.gateway_id,
            payment_method_id: r.payment_method_id,
            purchase_source_id: r.purchase_source_id,
            state,
            amount: Money::from_minor(r.amount_minor, currency),
            gateway_reference: r.gateway_reference,
            redirect_url: r.redirect_url,
            return_to,
            card,
            failure_reason: r.failure_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
            settle_by: r.settle_by,
            reconcile_attempts: r.reconcile_attempts,
            idempotency_key: r.idempotency_key,
            channel: stored("payments.channel", &r.channel)?,
            billing_address,
        })
    }
}

const COLUMNS: &str = "id, reference, purchase_id, merchant_id, gateway_id, payment_method_id, purchase_source_id, state, currency, amount_minor, gateway_reference, redirect_url, return_to, card_brand, card_last4, card_expiry, three_ds, failure_reason, details, created_at, updated_at, settle_by, reconcile_attempts, idempotency_key, channel, billing_address";

/// A new payment reference: `PAY-` and 12 Crockford base-32 characters (60 random bits), short
/// enough to read over the phone, unambiguous (no I, L, O, U).
pub fn new_reference() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::thread_rng();
    let code: String = (0..12).map(|_| ALPHABET[rng.gen_range(0..32)] as char).collect();
    format!("PAY-{code}")
}

impl Payment {
    /// A new payment in state CREATED, not yet stored.
    pub fn new(purchase_id: PurchaseId, gateway_id: &str, amount: Money) -> Payment {
        let now = Utc::now();
        Payment {
            id: PaymentId::generate(),
            reference: new_reference(),
            purchase_id,
            merchant_id: None,
            gateway_id: gateway_id.to_owned(),
            payment_method_id: None,
            purchase_source_id: None,
            state: PaymentState::Created,
            amount,
            gateway_reference: None,
            redirect_url: None,
            return_to: None,
            card: None,
            three_ds: None,
            failure_reason: None,
            details: serde_json::json!({}),
            created_at: now,
            updated_at: now,
            settle_by: None,
            reconcile_attempts: 0,
            idempotency_key: None,
            channel: Channel::Api,
            billing_address: None,
        }
    }

    /// Stores a new payment with its creation event. The database refuses a second open payment
    /// for the same purchase, and a second payment for the same idempotency key
    /// (`Error::Conflict`; the caller finds out which).
    pub async fn insert(&self, tx: &mut Tx, cause: &str) -> Result<()> {
        let sql = format!(
            "INSERT INTO payments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
        );
        let three_ds =
            self.three_ds.as_ref().map(serde_json::to_string).transpose().map_err(internal)?;
        let inserted = with_tx!(tx, conn => sqlx::query(&sql)
            .bind(&self.id)
            .bind(&self.reference)
            .bind(&self.purchase_id)
            .bind(&self.merchant_id)
            .bind(&self.gateway_id)
            .bind(&self.payment_method_id)
            .bind(&self.purchase_source_id)
            .bind(i64::from(self.state.code()))
            .bind(self.amount.currency().code())
            .bind(self.amount.minor())
            .bind(&self.gateway_reference)
            .bind(&self.redirect_url)
            .bind(self.return_to.as_ref().map(serde_json::to_string).transpose().map_err(internal)?)
            .bind(self.card.as_ref().map(|c| &c.brand))
            .bind(self.card.as_ref().map(|c| &c.last4))
            .bind(self.card.as_ref().map(|c| &c.expiry))
            .bind(three_ds)
            .bind(&self.failure_reason)
            .bind(self.details.to_string())
            .bind(self.created_at)
            .bind(self.updated_at)
            .bind(self.settle_by)
            .bind(self.reconcile_attempts)
            .bind(&self.idempotency_key)
            .bind(self.channel.as_str())
            .bind(self.billing_address.as_ref().map(serde_json::to_string).transpose().map_err(internal)?)
            .execute(conn)
            .await
            .map(|_| ()));
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(Error::Conflict(
                    "another payment for this purchase is already under way".into(),
                ));
            }
            other => other?,
        }
        crate::payment::event::record(tx, &self.id, None, Some(self.state), cause, None, None)
            .await?;
        // The payment started: the merchant hears of it in the same transaction.
        crate::webhook::emit_for_move(tx, self, None, self.state).await
    }

    /// Loads a payment by internal id.
    pub async fn find(db: &Db, id: &PaymentId) -> Result<Option<Payment>> {
        Self::find_where(db, "id", id.as_str()).await
    }

    /// Loads a payment by the reference clients use.
    pub async fn find_by_reference(db: &Db, reference: &str) -> Result<Option<Payment>> {
        Self::find_where(db, "reference", reference).await
    }

    /// The payment a request with this (scoped, hashed) idempotency key started.
    pub async fn find_by_idempotency_key(db: &Db, key: &str) -> Result<Option<Payment>> {
        Self::find_where(db, "idempotency_key", key).await
    }

    /// The attempts of a purchase that are not final yet (at most one, by a unique index).
    pub async fn open_for_purchase(db: &Db, purchase: &PurchaseId) -> Result<Vec<Payment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE purchase_id = $1 AND state IN (1, 2, 3, 4, 5)"
        );
        let rows: Vec<PaymentRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(purchase).fetch_all(pool).await)?;
        rows.into_iter().map(Payment::try_from).collect()
    }

    /// The purchase's payment in a state where money moved, if any (at most one, by an index).
    pub async fn successful_for_purchase(
        db: &Db,
        purchase: &PurchaseId,
    ) -> Result<Option<Payment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE purchase_id = $1 AND state IN (6, 10, 11, 12)"
        );
        let row: Option<PaymentRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(purchase).fetch_optional(pool).await)?;
        row.map(Payment::try_from).transpose()
    }

    /// Loads a payment by its gateway's id for it.
    pub async fn find_by_gateway_reference(
        db: &Db,
        gateway_id: &str,
        gateway_reference: &str,
    ) -> Result<Option<Payment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE gateway_id = $1 AND gateway_reference = $2"
        );
        let row: Option<PaymentRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(gateway_id)
            .bind(gateway_reference)
            .fetch_optional(pool)
            .await)?;
        row.map(Payment::try_from).transpose()
    }

    async fn find_where(db: &Db, column: &'static str, value: &str) -> Result<Option<Payment>> {
        // No stored value holds NUL, and PostgreSQL refuses it in text outright: it names nothing.
        if value.contains('\0') {
            return Ok(None);
        }
        // `column` is one of the constants above, never input.
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE {column} = $1");
        let row: Option<PaymentRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(value).fetch_optional(pool).await)?;
        row.map(Payment::try_from).transpose()
    }

    /// Reloads a payment inside a transaction (after a compare-and-set).
    pub(crate) async fn reload(tx: &mut Tx, id: &PaymentId) -> Result<Payment> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1");
        let row: PaymentRow =
            with_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_one(conn).await)?;
        Payment::try_from(row)
    }

    /// The payments of a purchase, newest first.
    pub async fn for_purchase(db: &Db, purchase: &PurchaseId) -> Result<Vec<Payment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE purchase_id = $1 ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<PaymentRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(purchase).fetch_all(pool).await)?;
        rows.into_iter().map(Payment::try_from).collect()
    }

    /// Claims up to `limit` unsettled payments whose `settle_by` has passed, oldest first, for
    /// one reconciliation pass: their `settle_by` moves to `lease_until`, so another instance's
    /// sweep skips them meanwhile, and a sweep that dies leaves them due again afterwards.
    pub async fn claim_due(
        db: &Db,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Payment>> {
        let rows: Vec<PaymentRow> = match db {
            Db::Postgres(pool) => {
                let sql = format!(
                    "UPDATE payments SET settle_by = $2 WHERE id IN (
                         SELECT id FROM payments WHERE settle_by IS NOT NULL AND settle_by <= $1
                         ORDER BY settle_by LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}"
                );
                sqlx::query_as(&sql).bind(now).bind(lease_until).bind(limit).fetch_all(pool).await?
            }
            // One writer at a time on SQLite: the statement is atomic on its own.
            Db::Sqlite(pool) => {
                let sql = format!(
                    "UPDATE payments SET settle_by = $2 WHERE id IN (
                         SELECT id FROM payments WHERE settle_by IS NOT NULL AND settle_by <= $1
                         ORDER BY settle_by LIMIT $3)
                     RETURNING {COLUMNS}"
                );
                sqlx::query_as(&sql).bind(now).bind(lease_until).bind(limit).fetch_all(pool).await?
            }
        };
        rows.into_iter().map(Payment::try_from).collect()
    }

    /// Points an open hosted page's return at a new rule (the client asked for the page again);
    /// `None` if the page stopped being open meanwhile.
    pub async fn point_return_to(&self, db: &Db, return_to: &ReturnTo) -> Result<Option<Payment>> {
        let rule = serde_json::to_string(return_to).map_err(internal)?;
        let mut tx = db.begin().await?;
        let sql =
            "UPDATE payments SET return_to = $3, updated_at = $4 WHERE id = $1 AND state = $2";
        let updated = with_tx!(&mut tx, conn => sqlx::query(sql)
            .bind(&self.id)
            .bind(i64::from(PaymentState::AwaitingCustomer.code()))
            .bind(rule)
            .bind(Utc::now())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Ok(None);
        }
        crate::payment::transition::note(
            &mut tx,
            self,
            "the client's return set by a new request for the page",
            None,
        )
        .await?;
        tx.commit().await?;
        Payment::find(db, &self.id).await
    }

    /// Starts the reconciliation schedule again from its first wait: the gateway's answer to
    /// the request was lost, so nothing has been asked yet about where it stands.
    pub(crate) async fn restart_asking(
        tx: &mut Tx,
        payment: &Payment,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE payments SET settle_by = $3, reconcile_attempts = 0 WHERE id = $1 AND state = $2";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(&payment.id)
            .bind(i64::from(payment.state.code()))
            .bind(at)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Sets when reconciliation next asks about a payment still in `state`, counting the ask.
    pub(crate) async fn schedule_next_ask(
        tx: &mut Tx,
        payment: &Payment,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE payments SET settle_by = $3, reconcile_attempts = reconcile_attempts + 1
                   WHERE id = $1 AND state = $2";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(&payment.id)
            .bind(i64::from(payment.state.code()))
            .bind(at)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Records the gateway's id for a payment that had none yet (found by Settle's reference).
    pub(crate) async fn learn_gateway_reference(
        tx: &mut Tx,
        payment: &Payment,
        gateway_reference: &str,
    ) -> Result<()> {
        let sql = "UPDATE payments SET gateway_reference = $2 WHERE id = $1 AND gateway_reference IS NULL";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(&payment.id)
            .bind(gateway_reference)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

fn internal(e: serde_json::Error) -> Error {
    Error::Internal(format!("serialising a payment field: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_short_unambiguous_and_distinct() {
        let a = new_reference();
        assert_eq!(a.len(), 16);
        assert!(a.starts_with("PAY-"));
        assert!(!a[4..].contains(['I', 'L', 'O', 'U']));
        assert_ne!(a, new_reference());
    }
}
