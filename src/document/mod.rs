//! Documents of a payment: the tax invoice (any payment of a purchase) and the receipt (only once
//! money moved), as PDF files.
//!
//! The REST API (a bearer token) and the customer's account pages (the session's customer) call
//! the same two functions, [`tax_invoice_pdf`] and [`receipt_pdf`], naming who asks as an
//! access [`Viewer`]. A payment the viewer may not see is reported as not found (the access
//! rule's answer), so its reference can't be probed. The figures come from the stored purchase, never recomputed, so a
//! document always agrees with what the customer was charged.

mod metrics;
mod pdf;
pub mod receipt;
pub mod seller;
pub mod tax_invoice;

use chrono::{DateTime, Utc};

use crate::access::{self, Viewer};
use crate::customer::Customer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::Gateway;
use crate::money::Money;
use crate::payment::event::{self, PaymentEvent};
use crate::payment::{Payment, PaymentState};
use crate::product::{Product, ServiceKind};
use crate::purchase::Purchase;
use crate::tax::TaxRate;

pub use receipt::Receipt;
pub use seller::Seller;
pub use tax_invoice::TaxInvoice;

/// The media type of every document.
pub const PDF_CONTENT_TYPE: &str = "application/pdf";

/// A rendered document and the file name to offer it under.
#[derive(Clone, Debug)]
pub struct PdfFile {
    /// `tax-invoice-INV-PAY-….pdf` or `receipt-RCT-PAY-….pdf`.
    pub file_name: String,
    /// The PDF.
    pub bytes: Vec<u8>,
}

/// The tax invoice of a payment as a PDF, if `viewer` may see the payment.
pub async fn tax_invoice_pdf(db: &Db, payment_reference: &str, viewer: &Viewer) -> Result<PdfFile> {
    let invoice = TaxInvoice::load(db, payment_reference, viewer).await?;
    Ok(PdfFile { file_name: file_name("tax-invoice", &invoice.number), bytes: invoice.to_pdf() })
}

/// The receipt of a payment as a PDF, if `viewer` may see the payment and money moved
/// (`Error::Conflict` otherwise).
pub async fn receipt_pdf(db: &Db, payment_reference: &str, viewer: &Viewer) -> Result<PdfFile> {
    let receipt = Receipt::load(db, payment_reference, viewer).await?;
    Ok(PdfFile { file_name: file_name("receipt", &receipt.number), bytes: receipt.to_pdf() })
}

/// `{kind}-{number}.pdf`, keeping only characters that are safe unquoted in any header or
/// file system (references are generated that way, but a name must never depend on it).
fn file_name(kind: &str, number: &str) -> String {
    let number: String = number
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    format!("{kind}-{number}.pdf")
}

/// The invoice number of a payment: deterministic, so every download is the same invoice.
pub fn invoice_number(payment_reference: &str) -> String {
    format!("INV-{payment_reference}")
}

/// The receipt number of a payment.
pub fn receipt_number(payment_reference: &str) -> String {
    format!("RCT-{payment_reference}")
}

/// What the documents say about the policy or service a payment is for.
#[derive(Clone, Debug)]
pub struct Cover {
    /// Policy number or service id.
    pub reference: String,
    /// Policy or ISP service (decides the labels).
    pub kind: ServiceKind,
    /// The product's name.
    pub product_name: String,
    /// The period this payment bought, once the policy or service was activated by it.
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Cover {
    /// "Policy number" or "Service id".
    pub fn reference_label(&self) -> &'static str {
        match self.kind {
            ServiceKind::Policy => "Policy number",
            ServiceKind::Isp => "Service id",
        }
    }

    /// "Policy period" or "Service period".
    pub fn period_label(&self) -> &'static str {
        match self.kind {
            ServiceKind::Policy => "Policy period",
            ServiceKind::Isp => "Service period",
        }
    }
}

/// Everything the documents of one payment draw on, loaded once and checked against the viewer.
struct PaymentRecords {
    payment: Payment,
    purchase: Purchase,
    customer: Customer,
    seller: Seller,
    cover: Cover,
    gateway_name: String,
    timeline: Vec<PaymentEvent>,
}

impl PaymentRecords {
    async fn load(db: &Db, reference: &str, viewer: &Viewer) -> Result<PaymentRecords> {
        let (payment, service) = access::payment(db, viewer, reference).await?;
        let missing = |what: &str| Error::Internal(format!("payment {reference} has no {what}"));
        let purchase =
            Purchase::find(db, &payment.purchase_id).await?.ok_or_else(|| missing("purchase"))?;
        let product =
            Product::find(db, &service.product_id).await?.ok_or_else(|| missing("product"))?;
        let customer =
            Customer::find(db, &service.customer_id).await?.ok_or_else(|| missing("customer"))?;
        // The seller is whoever sells the service; the payment's API client otherwise.
        let seller_id = service
            .merchant_id
            .clone()
            .or_else(|| product.merchant_id.clone())
            .or_else(|| payment.merchant_id.clone())
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "{} {} is sold by no merchant, so there is no seller to put on a document",
                    product.service_kind.as_str(),
                    service.reference
                ))
            })?;
        let seller = Seller::find(db, &seller_id).await?.ok_or_else(|| missing("merchant"))?;
        let gateway_name = Gateway::list(db)
            .await?
            .into_iter()
            .find(|g| g.id == payment.gateway_id)
            .map_or_else(|| payment.gateway_id.clone(), |g| g.name);
        let timeline = event::timeline(db, &payment.id).await?;
        let cover = Cover {
            reference: service.reference.clone(),
            kind: service.kind,
            product_name: product.name,
            period: period_bought(&timeline),
        };
        Ok(PaymentRecords { payment, purchase, customer, seller, cover, gateway_name, timeline })
    }

    /// When the money was taken: the first move to PAYMENT_SUCCESS.
    fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.moved_to(PaymentState::PaymentSuccess).or(if self.payment.state.money_moved() {
            self.purchase.paid_at
        } else {
            None
        })
    }

    /// When the money was given back.
    fn refunded_at(&self) -> Option<DateTime<Utc>> {
        if self.payment.state == PaymentState::Refunded {
            self.moved_to(PaymentState::Refunded).or(Some(self.payment.updated_at))
        } else {
            None
        }
    }

    fn moved_to(&self, state: PaymentState) -> Option<DateTime<Utc>> {
        self.timeline.iter().find(|e| e.to == Some(state)).map(|e| e.at)
    }
}

/// The period fulfilment recorded for this payment (its note carries `period_start` and
/// `period_end`), rather than the service's current period, which later payments extend.
fn period_bought(timeline: &[PaymentEvent]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    timeline.iter().rev().find_map(|e| {
        let payload = e.payload.as_ref()?;
        let start = serde_json::from_value(payload.get("period_start")?.clone()).ok()?;
        let end = serde_json::from_value(payload.get("period_end")?.clone()).ok()?;
        Some((start, end))
    })
}

/// An amount without its currency, as the document's columns show it (`5,100.00`; the column
/// or the document names the currency).
fn amount(money: Money) -> String {
    money.display().number().to_string()
}

/// A tax rate as a percentage (`12%`, `7.5%`).
fn rate(rate: TaxRate) -> String {
    let bp = rate.basis_points();
    if bp.is_multiple_of(100) {
        format!("{}%", bp / 100)
    } else {
        let text = format!("{}.{:02}", bp / 100, bp % 100);
        format!("{}%", text.trim_end_matches('0'))
    }
}

/// A date (`2026-11-21`), in UTC like every time Settle shows.
fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// A date and time (`2026-11-21 14:05 UTC`).
fn date_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_numbers_read_as_on_paper() {
        assert_eq!(rate(TaxRate::parse("12").unwrap()), "12%");
        assert_eq!(rate(TaxRate::parse("7.5").unwrap()), "7.5%");
        assert_eq!(rate(TaxRate::parse("0.25").unwrap()), "0.25%");
        assert_eq!(invoice_number("PAY-ABC"), "INV-PAY-ABC");
        assert_eq!(receipt_number("PAY-ABC"), "RCT-PAY-ABC");
        assert_eq!(file_name("receipt", "RCT-PAY-A\"/b"), "receipt-RCT-PAY-A__b.pdf");
    }
}
