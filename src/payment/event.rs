//! A payment's timeline: every transition and every gateway message, in order.

use chrono::{DateTime, Utc};

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::payment::PaymentState;
use crate::payment::record::PaymentId;
use crate::{with_db, with_tx};

/// One entry of a payment's timeline.
#[derive(Clone, Debug)]
pub struct PaymentEvent {
    /// State before (`None` for the creation event).
    pub from: Option<PaymentState>,
    /// State after (`None` when the event changed nothing, e.g. a duplicate notification).
    pub to: Option<PaymentState>,
    /// What happened, in words.
    pub cause: String,
    /// The gateway's reference at the time.
    pub gateway_reference: Option<String>,
    /// The gateway's payload, with secrets and card data removed.
    pub payload: Option<serde_json::Value>,
    /// When.
    pub at: DateTime<Utc>,
}

type EventRow = (Option<i64>, Option<i64>, String, Option<String>, Option<String>, DateTime<Utc>);

/// Appends an event inside the transaction that made the change.
pub(crate) async fn record(
    tx: &mut Tx,
    payment: &PaymentId,
    from: Option<PaymentState>,
    to: Option<PaymentState>,
    cause: &str,
    gateway_reference: Option<&str>,
    payload: Option<&serde_json::Value>,
) -> Result<()> {
    let sql = "INSERT INTO payment_events (payment_id, from_state, to_state, cause, gateway_reference, payload, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)";
    with_tx!(tx, conn => sqlx::query(sql)
        .bind(payment)
        .bind(from.map(|s| i64::from(s.code())))
        .bind(to.map(|s| i64::from(s.code())))
        .bind(cause)
        .bind(gateway_reference)
        .bind(payload.map(|p| redact(p).to_string()))
        .bind(Utc::now())
        .execute(conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// A payment's timeline, oldest first.
pub async fn timeline(db: &Db, payment: &PaymentId) -> Result<Vec<PaymentEvent>> {
    let sql = "SELECT from_state, to_state, cause, gateway_reference, payload, created_at
               FROM payment_events WHERE payment_id = $1 ORDER BY id";
    let rows: Vec<EventRow> =
        with_db!(db, pool => sqlx::query_as(sql).bind(payment).fetch_all(pool).await)?;
    let state = |code: Option<i64>| {
        code.and_then(|c| i16::try_from(c).ok()).and_then(PaymentState::from_code)
    };
    Ok(rows
        .into_iter()
        .map(|(from, to, cause, gateway_reference, payload, at)| PaymentEvent {
            from: state(from),
            to: state(to),
            cause,
            gateway_reference,
            payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
            at,
        })
        .collect())
}

/// Fields that may carry secrets (besides card data); their values are replaced before storing.
const SECRET_KEYS: &[&str] = &[
    "password",
    "secret",
    "client_secret",
    "api_key",
    "token",
    "card_token",
    "authorization",
    "iban",
];

/// A copy of a gateway payload with secret-looking fields replaced by `"[redacted]"` at any
/// depth, so the timeline can show what the gateway said without keeping what it must not.
pub fn redact(value: &serde_json::Value) -> serde_json::Value {
    let keys: Vec<&str> =
        crate::redact::CARD_DATA_KEYS.iter().chain(SECRET_KEYS).copied().collect();
    crate::redact::redact(value, &keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn card_data_and_secrets_are_redacted_at_any_depth() {
        let raw = json!({
            "status": "Ok",
            "card": { "number": "4929000000006", "cvv": "123", "last4": "0006" },
            "items": [{ "api_key": "k", "amount": "10.00" }],
            "token": null
        });
        let clean = redact(&raw);
        assert_eq!(clean["card"]["number"], "[redacted]");
        assert_eq!(clean["card"]["cvv"], "[redacted]");
        assert_eq!(clean["card"]["last4"], "0006");
        assert_eq!(clean["items"][0]["api_key"], "[redacted]");
        assert_eq!(clean["items"][0]["amount"], "10.00");
        assert!(clean["token"].is_null());
        assert!(!clean.to_string().contains("4929000000006"));
    }
}
