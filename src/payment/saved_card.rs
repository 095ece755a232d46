//! Keeping the card a hosted checkout was paid with ("Add new payment method"): the attempt asks
//! for it when it is recorded ([`expect`]), and the success that carries the gateway's token
//! saves the card as the customer's payment method ([`keep`]), in the transaction that records
//! the success, exactly once however often that success is reported (notification, the
//! customer's return, reconciliation). Checkouts that did not ask never save anything, whatever
//! the gateway sends back.

use crate::connector::GatewayResult;
use crate::customer::CustomerId;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::payment::record::{Payment, PaymentId};
use crate::payment_method::{MethodKind, PaymentMethod, PaymentMethodId};
use crate::with_tx;

/// Records, with the new attempt, that its card is to be kept once it is paid.
pub(crate) async fn expect(tx: &mut Tx, payment: &PaymentId) -> Result<()> {
    let sql = "INSERT INTO payment_card_saves (payment_id) VALUES ($1)";
    with_tx!(tx, conn => sqlx::query(sql).bind(payment).execute(conn).await.map(|_| ()))?;
    Ok(())
}

/// Saves the card of a paid checkout that asked for it, if the gateway issued a token: a valid,
/// verified card of the purchase's customer, held by the payment's gateway. Claims the
/// checkout's row first (a compare-and-set on an empty method), so a second report saves
/// nothing. Returns the new method, if one was saved.
pub(crate) async fn keep(
    tx: &mut Tx,
    payment: &Payment,
    result: &GatewayResult,
) -> Result<Option<PaymentMethodId>> {
    let Some(token) = result.token.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    // Only the report that moved the payment to success gets here (the move is a
    // compare-and-set), so reading the claim first is safe; the update checks it again anyway.
    let asked = "SELECT payment_method_id FROM payment_card_saves WHERE payment_id = $1";
    let row: Option<Option<PaymentMethodId>> = with_tx!(tx, conn => sqlx::query_scalar(asked)
        .bind(&payment.id)
        .fetch_optional(conn)
        .await)?;
    if !matches!(row, Some(None)) {
        // Not asked for, or saved already.
        return Ok(None);
    }
    let owner = "SELECT s.customer_id FROM services s JOIN purchases p ON p.service_id = s.id
                 WHERE p.id = $1";
    let customer: Option<CustomerId> = with_tx!(tx, conn => sqlx::query_scalar(owner)
        .bind(&payment.purchase_id)
        .fetch_optional(conn)
        .await)?;
    let Some(customer) = customer else { return Ok(None) };
    let card = card_of(&result.raw);
    let mut method = PaymentMethod::new(Some(customer), MethodKind::Card, card.label());
    method.card_brand = card.brand;
    method.card_last4 = card.last4;
    method.card_expiry = card.expiry;
    method.gateway_id = Some(payment.gateway_id.clone());
    method.gateway_token = Some(token.to_owned());
    // It has just paid: usable and known to work.
    method.verified = true;
    method.insert_in(tx).await?;
    let claim = "UPDATE payment_card_saves SET payment_method_id = $2
                 WHERE payment_id = $1 AND payment_method_id IS NULL";
    let claimed = with_tx!(tx, conn => sqlx::query(claim)
        .bind(&payment.id)
        .bind(&method.id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if claimed == 0 {
        return Err(Error::Conflict(format!(
            "the card of payment {} was saved meanwhile",
            payment.reference
        )));
    }
    let method_id = method.id;
    tracing::info!(payment = %payment.reference, method = %method_id, "card saved for the customer");
    Ok(Some(method_id))
}

/// What a gateway said about the card it charged (never its number).
#[derive(Default)]
struct CardFacts {
    brand: Option<String>,
    last4: Option<String>,
    expiry: Option<String>,
}

impl CardFacts {
    /// How the medium is shown: `VISA 4242`, or just `Card`.
    fn label(&self) -> String {
        match (&self.brand, &self.last4) {
            (Some(brand), Some(last4)) => format!("{brand} {last4}"),
            (None, Some(last4)) => format!("Card {last4}"),
            _ => "Card".to_owned(),
        }
    }
}

/// The card's brand, last four digits and expiry (MMYY) as the gateway's answer names them,
/// each only if it looks right.
fn card_of(raw: &serde_json::Value) -> CardFacts {
    let text = |key: &str| raw.get(key).and_then(|v| v.as_str()).map(str::trim).map(str::to_owned);
    let digits = |s: &String, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    CardFacts {
        brand: text("card_brand").filter(|b| !b.is_empty() && b.len() <= 32),
        last4: text("card_last4").filter(|d| digits(d, 4)),
        expiry: text("card_expiry").filter(|d| digits(d, 4)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateways_card_facts_are_kept_only_when_well_formed() {
        let raw = serde_json::json!({ "card_brand": "VISA", "card_last4": "4242", "card_expiry": "1230" });
        let card = card_of(&raw);
        assert_eq!(card.label(), "VISA 4242");
        assert_eq!(card.expiry.as_deref(), Some("1230"));
        let odd = card_of(&serde_json::json!({ "card_last4": "42x2", "card_expiry": "12/30" }));
        assert_eq!((odd.label(), odd.expiry), ("Card".to_owned(), None));
    }
}
