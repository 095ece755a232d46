//! What an event is about, as it stands when the webhook is delivered: the purchase (seed 001's
//! invoice), its latest payment, and how that payment was made.
//!
//! Bodies are rendered from this current state at delivery time, not from a copy taken when the
//! event happened: retries can reorder deliveries (an `invoice.payment_rejected` retried after
//! a later `invoice.payment_executed` went through), and whichever a merchant processes last
//! then still carries the latest status.

use chrono::{DateTime, Utc};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::GatewayKind;
use crate::payment::Payment;
use crate::purchase::{Purchase, PurchaseId, PurchaseStatus};
use crate::service::Service;
use crate::text_enum::stored;
use crate::{text_enum, with_db};

text_enum!(
    /// How a payment was made, in seed 001's words (`data.paymentMode`).
    PaymentMode, field = "paymentMode", {
        /// Cash allocated off-system.
        Cash = "CASH",
        /// Collected from the customer's account (direct debit).
        DirectPayment = "DIRECT_PAYMENT",
        /// A mobile-money wallet.
        MobileMoney = "MOBILE_MONEY",
        /// A transfer against an invoice, or an EFT allocated off-system.
        BankTransfer = "BANK_TRANSFER",
        /// A card: card gateway, hosted checkout, payment link, Apple Pay.
        Card = "CARD",
    }
);

impl PaymentMode {
    /// The mode of a payment through a gateway of `kind`; off-system payments are told apart by
    /// their purchase source's name (`Cash`, `EFT`, a mobile-money channel).
    pub fn of(kind: GatewayKind, source_name: Option<&str>) -> PaymentMode {
        match kind {
            GatewayKind::Card3ds
            | GatewayKind::HostedCheckout
            | GatewayKind::PaymentLink
            | GatewayKind::ApplePay => PaymentMode::Card,
            GatewayKind::DirectDebit => PaymentMode::DirectPayment,
            GatewayKind::Invoice => PaymentMode::BankTransfer,
            GatewayKind::OffSystem => {
                let name = source_name.unwrap_or_default().to_ascii_lowercase();
                if name.contains("cash") {
                    PaymentMode::Cash
                } else if name.contains("mobile") || name.contains("money") {
                    PaymentMode::MobileMoney
                } else {
                    PaymentMode::BankTransfer
                }
            }
        }
    }
}

/// One `{code, value}` of seed 001's `additionalFields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdditionalField {
    /// The field's code.
    pub code: Option<String>,
    /// Its value.
    pub value: Option<String>,
}

/// The payment side of a subject.
#[derive(Clone, Debug)]
pub struct PaidWith {
    /// The payment.
    pub payment: Payment,
    /// How it was made.
    pub mode: PaymentMode,
    /// The gateway's provider: seed 001's `collector` and `bankCode`.
    pub provider: String,
}

/// The current state of what an event is about.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The purchase (seed 001's invoice).
    pub purchase: Purchase,
    /// The invoice id clients know: the purchase's public reference if it has one, else its id.
    pub invoice_id: String,
    /// The merchant's own reference for it (seed 001's `documentNo`).
    pub merchant_reference: Option<String>,
    /// Seed 001's `additionalFields`, as the merchant sent them.
    pub additional_fields: Vec<AdditionalField>,
    /// The service it pays for (policy number or service id).
    pub service_reference: String,
    /// Until when the service is paid up.
    pub period_end: Option<DateTime<Utc>>,
    /// The payment the event is about, or the purchase's latest one.
    pub paid_with: Option<PaidWith>,
}

impl Subject {
    /// Whether the purchase is paid.
    pub fn is_paid(&self) -> bool {
        self.purchase.status == PurchaseStatus::Paid
    }

    /// When it was paid, or when its payment last moved.
    pub fn payment_date(&self) -> Option<DateTime<Utc>> {
        self.purchase.paid_at.or(self.paid_with.as_ref().map(|p| p.payment.updated_at))
    }

    /// Loads `subject` as it is now: a payment reference, or a purchase's public reference or
    /// id.
    pub async fn load(db: &Db, subject: &str) -> Result<Subject> {
        let (purchase, payment) = match Payment::find_by_reference(db, subject).await? {
            Some(payment) => {
                let purchase = Purchase::find(db, &payment.purchase_id).await?;
                (purchase, Some(payment))
            }
            None => match Purchase::find_by_reference(db, subject).await? {
                Some(purchase) => (Some(purchase), None),
                None => (Purchase::find(db, &PurchaseId::from_string(subject)).await?, None),
            },
        };
        let purchase = purchase.ok_or(Error::NotFound("purchase"))?;
        let payment = match payment {
            Some(p) => Some(p),
            None => Payment::for_purchase(db, &purchase.id)
                .await?
                .into_iter()
                .max_by_key(|p| p.created_at),
        };
        let service =
            Service::find(db, &purchase.service_id).await?.ok_or(Error::NotFound("service"))?;
        let paid_with = match payment {
            Some(payment) => Some(paid_with(db, payment).await?),
            None => None,
        };
        // The merchant's fields live with the purchase; a payment started by seed 001 may
        // carry its own.
        let additional_fields = additional_fields(&purchase.details)
            .or_else(|| paid_with.as_ref().and_then(|p| additional_fields(&p.payment.details)))
            .unwrap_or_default();
        Ok(Subject {
            invoice_id: if purchase.reference.is_empty() {
                purchase.id.to_string()
            } else {
                purchase.reference.clone()
            },
            merchant_reference: purchase.merchant_reference.clone(),
            additional_fields,
            service_reference: service.reference,
            period_end: service.period_end,
            purchase,
            paid_with,
        })
    }
}

/// Seed 001's `additionalFields` kept in a JSON `details` value, if it has them.
fn additional_fields(details: &serde_json::Value) -> Option<Vec<AdditionalField>> {
    let fields = details.get("additionalFields")?.as_array()?;
    Some(
        fields
            .iter()
            .map(|f| AdditionalField {
                code: f.get("code").and_then(|v| v.as_str()).map(str::to_owned),
                value: f.get("value").and_then(|v| v.as_str()).map(str::to_owned),
            })
            .collect(),
    )
}

async fn paid_with(db: &Db, payment: Payment) -> Result<PaidWith> {
    let sql = "SELECT kind, provider FROM gateways WHERE id = $1";
    let (kind, provider): (String, String) = with_db!(db, pool => sqlx::query_as(sql)
        .bind(&payment.gateway_id)
        .fetch_one(pool)
        .await)?;
    let kind: GatewayKind = stored("gateways.kind", &kind)?;
    let source = match &payment.purchase_source_id {
        Some(id) => crate::purchase_source::PurchaseSource::find(db, id).await?.map(|s| s.name),
        None => None,
    };
    Ok(PaidWith { mode: PaymentMode::of(kind, source.as_deref()), provider, payment })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_gateway() {
        assert_eq!(PaymentMode::of(GatewayKind::Card3ds, None), PaymentMode::Card);
        assert_eq!(PaymentMode::of(GatewayKind::DirectDebit, None), PaymentMode::DirectPayment);
        assert_eq!(PaymentMode::of(GatewayKind::Invoice, None), PaymentMode::BankTransfer);
        assert_eq!(PaymentMode::of(GatewayKind::OffSystem, Some("Cash")), PaymentMode::Cash);
        assert_eq!(PaymentMode::of(GatewayKind::OffSystem, Some("EFT")), PaymentMode::BankTransfer);
    }
}
