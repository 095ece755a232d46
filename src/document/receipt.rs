//! The receipt of a payment: proof that money moved. Only a payment that took money has one
//! (PAYMENT_SUCCESS, CONVERTING_POLICY, POLICY_CONVERTED, and REFUNDED, which the receipt shows
//! as refunded); asking for any other payment's receipt is a conflict, not an empty document.

use chrono::{DateTime, Utc};

use super::metrics::Font::{Bold, Regular};
use super::pdf::{Ink, MARGIN, RIGHT, Sheet, Style};
use super::tax_invoice::{header, parties};
use super::{Cover, PaymentRecords, Seller, date, date_time};
use crate::access::Viewer;
use crate::customer::Customer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::money::Money;

/// A receipt, ready to render.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// `RCT-<payment reference>`.
    pub number: String,
    /// The payment's tax invoice.
    pub invoice_number: String,
    /// The payment.
    pub payment_reference: String,
    /// Who was paid.
    pub seller: Seller,
    /// Who paid.
    pub customer: Customer,
    /// What for, with the period once the payment activated it.
    pub cover: Cover,
    /// The gateway's key (`sagepay-gbp`).
    pub gateway_id: String,
    /// The gateway's display name.
    pub gateway_name: String,
    /// `VISA ending 0006` for a card: the brand and the last four digits, never more.
    pub card: Option<String>,
    /// When the money was taken.
    pub paid_at: DateTime<Utc>,
    /// How much.
    pub amount: Money,
    /// When it was given back, for a refunded payment.
    pub refunded_at: Option<DateTime<Utc>>,
}

impl Receipt {
    /// The receipt of the payment with this reference, if `viewer` may see it and money moved.
    pub async fn load(db: &Db, payment_reference: &str, viewer: &Viewer) -> Result<Receipt> {
        let records = PaymentRecords::load(db, payment_reference, viewer).await?;
        let state = records.payment.state;
        if !state.money_moved() {
            return Err(Error::Conflict(format!(
                "payment {} is {} ({}): a receipt exists only once money has moved",
                records.payment.reference,
                state.name(),
                state.meaning().trim_end_matches('.').to_lowercase()
            )));
        }
        let paid_at = records.paid_at().unwrap_or(records.payment.updated_at);
        let refunded_at = records.refunded_at();
        let PaymentRecords { payment, customer, seller, cover, gateway_name, .. } = records;
        Ok(Receipt {
            number: super::receipt_number(&payment.reference),
            invoice_number: super::invoice_number(&payment.reference),
            card: payment.card.as_ref().map(|c| format!("{} ending {}", c.brand, c.last4)),
            payment_reference: payment.reference,
            seller,
            customer,
            cover,
            gateway_id: payment.gateway_id,
            gateway_name,
            paid_at,
            amount: payment.amount,
            refunded_at,
        })
    }

    /// The receipt as a PDF (one A4 page).
    pub fn to_pdf(&self) -> Vec<u8> {
        let mut sheet = Sheet::new(
            format!("Receipt {}", self.number),
            format!("Receipt {} issued by {}", self.number, self.seller.name),
        );
        let status = match self.refunded_at {
            Some(at) => format!("Refunded {}", date(at)),
            None => "Paid".to_owned(),
        };
        let details = [
            ("Receipt number", self.number.clone()),
            ("Date paid", date(self.paid_at)),
            ("Payment reference", self.payment_reference.clone()),
            ("Tax invoice", self.invoice_number.clone()),
            ("Status", status),
        ];
        header(&mut sheet, "RECEIPT", &self.seller, &details);
        parties(&mut sheet, &self.customer, &self.cover);

        // The amount, large, in a band.
        sheet.y -= 8.0;
        let y = sheet.y;
        sheet.band(MARGIN, y - 16.0, RIGHT - MARGIN, 36.0, 0.93);
        sheet.text(MARGIN + 10.0, y - 2.0, Style(Bold, 11.0, Ink::Text), "Amount paid");
        sheet.text_right(
            RIGHT - 10.0,
            y - 4.0,
            Style(Bold, 16.0, Ink::Text),
            &self.amount.display().to_string(),
        );
        sheet.y -= 44.0;

        let mut rows = vec![
            ("Paid with", self.gateway_name.clone()),
            ("Date paid", date_time(self.paid_at)),
            ("Payment reference", self.payment_reference.clone()),
            ("Tax invoice", self.invoice_number.clone()),
        ];
        if let Some(card) = &self.card {
            rows.insert(1, ("Card", card.clone()));
        }
        if let Some((start, end)) = self.cover.period {
            rows.push((self.cover.period_label(), format!("{} to {}", date(start), date(end))));
        }
        for (label, value) in rows {
            sheet.text(MARGIN + 10.0, sheet.y, Style(Regular, 9.5, Ink::Muted), label);
            sheet.text_fit(170.0, sheet.y, Style(Regular, 9.5, Ink::Text), RIGHT - 170.0, &value);
            sheet.y -= 8.0;
            sheet.rule(MARGIN, RIGHT, sheet.y, 0.5, 0.88);
            sheet.y -= 12.0;
        }

        if let Some(at) = self.refunded_at {
            sheet.y -= 10.0;
            sheet.text(
                MARGIN,
                sheet.y,
                Style(Bold, 11.0, Ink::Alert),
                &format!(
                    "REFUNDED on {}: {} was returned to the customer.",
                    date_time(at),
                    self.amount.display()
                ),
            );
            sheet.y -= 18.0;
        }
        sheet.y -= 12.0;
        let received = format!(
            "{} received {} from {} on {}",
            self.seller.name,
            self.amount.display(),
            self.customer.name,
            date(self.paid_at)
        );
        let note = match self.refunded_at {
            Some(at) => format!(
                "This receipt confirms that {received} and returned it on {}. The tax is shown on tax invoice {}.",
                date(at),
                self.invoice_number
            ),
            None => format!(
                "Thank you for your payment. This receipt confirms that {received}. The tax is shown on tax invoice {}.",
                self.invoice_number
            ),
        };
        for text in Sheet::wrap(Regular, 8.5, RIGHT - MARGIN, &note) {
            sheet.text(MARGIN, sheet.y, Style(Regular, 8.5, Ink::Muted), &text);
            sheet.y -= 12.0;
        }
        sheet.finish()
    }
}
