//! Saved payment methods (the ISP seed's "mediums"): card tokens, bank mandates, payment links,
//! off-system, and the global "add new payment method" placeholder.

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

crate::id_type!(
    /// Identifies a payment method (`medium_detail_id`, `payment_method_id`).
    PaymentMethodId
);

/// A payment method's stable integer number, assigned by the database when it is stored: the
/// id clients that count methods use (the orders API's `payment_method_id`), so Settle's own
/// ids never reach them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
#[sqlx(transparent)]
pub struct MethodNumber(i64);

impl MethodNumber {
    /// A number a client sent; existence is checked by lookups.
    pub fn new(number: i64) -> MethodNumber {
        MethodNumber(number)
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for MethodNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

text_enum!(
    /// What a payment method is.
    MethodKind, field = "medium_type", {
        /// A card tokenised by a gateway.
        Card = "card",
        /// A bank account with a direct-debit mandate.
        BankAccount = "bank_account",
        /// A link the customer pays through.
        PaymentLink = "payment_link",
        /// Paid outside Settle and allocated by staff.
        OffSystem = "off_system",
        /// "Add new payment method": the gateway collects new details on its hosted page.
        ProviderSelected = "provider_selected",
    }
);

text_enum!(
    /// Whether a payment method can be used.
    MethodStatus, field = "medium_status", {
        /// Being set up (mandate not yet confirmed).
        Incomplete = "incomplete",
        /// Usable.
        Valid = "valid",
        /// Refused by its gateway.
        Invalid = "invalid",
        /// A card past its expiry.
        Expired = "expired",
    }
);

/// A saved way to pay. Holds a gateway token, never a card number.
#[derive(Clone, Debug)]
pub struct PaymentMethod {
    /// Settle's id.
    pub id: PaymentMethodId,
    /// Its integer number; `None` until it is stored.
    pub number: Option<MethodNumber>,
    /// Whose it is; `None` for the global "add new payment method".
    pub customer_id: Option<CustomerId>,
    /// What it is.
    pub kind: MethodKind,
    /// Whether it can be used.
    pub status: MethodStatus,
    /// How it is shown (`test 4242`, `Add new payment method`).
    pub label: String,
    /// Card brand, for cards.
    pub card_brand: Option<String>,
    /// Last four card digits, for cards.
    pub card_last4: Option<String>,
    /// Card expiry as MMYY, for cards.
    pub card_expiry: Option<String>,
    /// Masked account number, for bank accounts.
    pub bank_account_masked: Option<String>,
    /// The gateway holding the token.
    pub gateway_id: Option<String>,
    /// The gateway's token for the card or mandate.
    pub gateway_token: Option<String>,
    /// Whether it has been used successfully before.
    pub verified: bool,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct MethodRow {
    id: PaymentMethodId,
    number: Option<MethodNumber>,
    customer_id: Option<CustomerId>,
    kind: String,
    status: String,
    label: String,
    card_brand: Option<String>,
    card_last4: Option<String>,
    card_expiry: Option<String>,
    bank_account_masked: Option<String>,
    gateway_id: Option<String>,
    gateway_token: Option<String>,
    verified: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<MethodRow> for PaymentMethod {
    type Error = Error;

    fn try_from(r: MethodRow) -> Result<PaymentMethod> {
        Ok(PaymentMethod {
            kind: stored("payment_methods.kind", &r.kind)?,
            status: stored("payment_methods.status", &r.status)?,
            id: r.id,
            number: r.number,
            customer_id: r.customer_id,
            label: r.label,
            card_brand: r.card_brand,
            card_last4: r.card_last4,
            card_expiry: r.card_expiry,
            bank_account_masked: r.bank_account_masked,
            gateway_id: r.gateway_id,
            gateway_token: r.gateway_token,
            verified: r.verified,
            created_at: r.created_at,
        })
    }
}

const SELECT_METHOD: &str = "SELECT id, number, customer_id, kind, status, label, card_brand, card_last4, card_expiry, bank_account_masked, gateway_id, gateway_token, verified, created_at FROM payment_methods";

impl PaymentMethod {
    /// A new method for `customer_id` (or a global one), not yet stored.
    pub fn new(
        customer_id: Option<CustomerId>,
        kind: MethodKind,
        label: impl Into<String>,
    ) -> PaymentMethod {
        PaymentMethod {
            id: PaymentMethodId::generate(),
            number: None,
            customer_id,
            kind,
            status: MethodStatus::Valid,
            label: label.into(),
            card_brand: None,
            card_last4: None,
            card_expiry: None,
            bank_account_masked: None,
            gateway_id: None,
            gateway_token: None,
            verified: false,
            created_at: Utc::now(),
        }
    }

    /// Stores the method.
    pub async fn insert(&self, db: &Db) -> Result<()> {
        let mut tx = db.begin().await?;
        self.insert_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the method inside `tx` (with the payment whose success saved it).
    pub async fn insert_in(&self, tx: &mut Tx) -> Result<()> {
        let sql = "INSERT INTO payment_methods (id, customer_id, kind, status, label, card_brand, card_last4, card_expiry, bank_account_masked, gateway_id, gateway_token, verified, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(&self.id)
            .bind(&self.customer_id)
            .bind(self.kind.as_str())
            .bind(self.status.as_str())
            .bind(&self.label)
            .bind(&self.card_brand)
            .bind(&self.card_last4)
            .bind(&self.card_expiry)
            .bind(&self.bank_account_masked)
            .bind(&self.gateway_id)
            .bind(&self.gateway_token)
            .bind(self.verified)
            .bind(self.created_at)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Loads a payment method.
    pub async fn find(db: &Db, id: &PaymentMethodId) -> Result<Option<PaymentMethod>> {
        let sql = format!("{SELECT_METHOD} WHERE id = $1");
        let row: Option<MethodRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(PaymentMethod::try_from).transpose()
    }

    /// The customer's own methods followed by the global ones everyone may use.
    pub async fn available_to(db: &Db, customer: &CustomerId) -> Result<Vec<PaymentMethod>> {
        let sql = format!(
            "{SELECT_METHOD} WHERE customer_id = $1 OR customer_id IS NULL
             ORDER BY CASE WHEN customer_id IS NULL THEN 1 ELSE 0 END, created_at"
        );
        let rows: Vec<MethodRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(customer).fetch_all(pool).await)?;
        rows.into_iter().map(PaymentMethod::try_from).collect()
    }
}

impl PaymentMethod {
    /// Stores the method and loads it back with the number the database gave it.
    pub async fn store(&self, db: &Db) -> Result<PaymentMethod> {
        self.insert(db).await?;
        PaymentMethod::find(db, &self.id)
            .await?
            .ok_or_else(|| Error::Internal(format!("payment method {} vanished", self.id)))
    }

    /// Loads a payment method by its number.
    pub async fn find_by_number(db: &Db, number: MethodNumber) -> Result<Option<PaymentMethod>> {
        let sql = format!("{SELECT_METHOD} WHERE number = $1");
        let row: Option<MethodRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(number).fetch_optional(pool).await)?;
        row.map(PaymentMethod::try_from).transpose()
    }

    /// The customer's own methods, oldest first (not the global ones).
    pub async fn of_customer(db: &Db, customer: &CustomerId) -> Result<Vec<PaymentMethod>> {
        let sql = format!("{SELECT_METHOD} WHERE customer_id = $1 ORDER BY created_at, number");
        let rows: Vec<MethodRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(customer).fetch_all(pool).await)?;
        rows.into_iter().map(PaymentMethod::try_from).collect()
    }

    /// A new bank account with a direct-debit mandate: `incomplete` until its first collection
    /// settles (see [`record_collection`]).
    pub fn bank_account(
        customer_id: CustomerId,
        iban: &crate::iban::Iban,
        gateway_id: &str,
        mandate_id: String,
    ) -> PaymentMethod {
        let mut method =
            PaymentMethod::new(Some(customer_id), MethodKind::BankAccount, iban.masked());
        method.status = MethodStatus::Incomplete;
        method.bank_account_masked = Some(iban.masked());
        method.gateway_id = Some(gateway_id.to_owned());
        method.gateway_token = Some(mandate_id);
        method
    }
}

/// The rule for a saved method once a payment through it is settled, inside the payment's
/// transaction: a paid collection makes it verified (it has been used successfully) and a
/// mandate still being set up usable; a bank account whose collection failed (bounced: the
/// account is closed, or the customer revoked the mandate) is no longer usable. A declined card
/// stays as it is: the next charge may pass.
pub async fn record_collection(tx: &mut Tx, method: &PaymentMethodId, paid: bool) -> Result<()> {
    let sql = if paid {
        "UPDATE payment_methods SET verified = TRUE,
                status = CASE WHEN status = 'incomplete' THEN 'valid' ELSE status END
          WHERE id = $1"
    } else {
        "UPDATE payment_methods SET status = 'invalid' WHERE id = $1 AND kind = 'bank_account'"
    };
    with_tx!(tx, conn => sqlx::query(sql).bind(method).execute(conn).await.map(|_| ()))?;
    Ok(())
}

/// The card facts a gateway reports after a card update: the new token and the card it stands
/// for (never its number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplacementCard {
    /// The gateway's token for the new card.
    pub token: String,
    /// Card brand.
    pub brand: Option<String>,
    /// Last four digits.
    pub last4: Option<String>,
    /// Expiry as MMYY.
    pub expiry: Option<String>,
}

impl PaymentMethod {
    /// Whether this is a card the gateway holds a token for: the only kind a job can charge
    /// unattended, and the only kind a card update can replace.
    pub fn is_tokenized_card(&self) -> bool {
        self.kind == MethodKind::Card && self.gateway_token.is_some() && self.gateway_id.is_some()
    }

    /// Whether the card's expiry month is over on `today` (a card without an expiry is taken
    /// at its word).
    pub fn card_expired_at(&self, today: chrono::NaiveDate) -> bool {
        self.card_expiry
            .as_deref()
            .and_then(|e| crate::card::ExpiryDate::parse(e).ok())
            .is_some_and(|e| e.is_expired_at(today))
    }

    /// Marks the card expired: it can't be collected from until the customer updates it.
    pub async fn mark_expired(db: &Db, id: &PaymentMethodId) -> Result<()> {
        let sql = "UPDATE payment_methods SET status = 'expired' WHERE id = $1 AND kind = 'card'";
        with_db!(db, pool => sqlx::query(sql).bind(id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Puts the gateway's new token and card on a saved card inside `tx` and makes it usable
    /// again (a card update).
    pub(crate) async fn replace_card(
        tx: &mut Tx,
        id: &PaymentMethodId,
        card: &ReplacementCard,
    ) -> Result<()> {
        let sql = "UPDATE payment_methods SET gateway_token = $2,
                       card_brand = COALESCE($3, card_brand), card_last4 = COALESCE($4, card_last4),
                       card_expiry = COALESCE($5, card_expiry), status = 'valid',
                       label = CASE WHEN $4 IS NULL THEN label ELSE 'card ' || $4 END
                   WHERE id = $1 AND kind = 'card'";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(id)
            .bind(&card.token)
            .bind(&card.brand)
            .bind(&card.last4)
            .bind(&card.expiry)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
