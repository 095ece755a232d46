//! The tax invoice of a payment: seller, customer, policy, the purchase's lines with their tax,
//! and totals equal to the purchase's stored amounts. Any payment of a purchase has one,
//! including an INVOICED payment still awaiting its money.

use chrono::{DateTime, Utc};

use super::metrics::Font::{Bold, Regular};
use super::pdf::{Ink, MARGIN, RIGHT, Sheet, Style, TOP};
use super::{Cover, PaymentRecords, Seller, amount, date, date_time, rate};
use crate::access::Viewer;
use crate::customer::Customer;
use crate::db::Db;
use crate::error::Result;
use crate::money::Currency;
use crate::payment::PaymentState;
use crate::purchase::PurchaseLine;
use crate::tax::TaxSplit;

/// A tax invoice, ready to render.
#[derive(Clone, Debug)]
pub struct TaxInvoice {
    /// `INV-<payment reference>`.
    pub number: String,
    /// When the payment (and so the invoice) was raised.
    pub issued_at: DateTime<Utc>,
    /// The payment it belongs to.
    pub payment_reference: String,
    /// The currency of every amount.
    pub currency: Currency,
    /// Who sells.
    pub seller: Seller,
    /// Who buys.
    pub customer: Customer,
    /// What for.
    pub cover: Cover,
    /// The purchase's lines.
    pub lines: Vec<PurchaseLine>,
    /// The purchase's totals, exactly as stored.
    pub totals: TaxSplit,
    /// The gateway's key (`sagepay-gbp`).
    pub gateway_id: String,
    /// The gateway's display name.
    pub gateway_name: String,
    /// Where the payment stands, in words (`Paid 2026-11-21 14:05 UTC`, `Awaiting payment`).
    pub status: String,
    /// How to pay an invoice still awaiting its money (an `INVOICED` payment), in words.
    pub how_to_pay: Option<String>,
}

impl TaxInvoice {
    /// The tax invoice of the payment with this reference, if `viewer` may see it.
    pub async fn load(db: &Db, payment_reference: &str, viewer: &Viewer) -> Result<TaxInvoice> {
        let records = PaymentRecords::load(db, payment_reference, viewer).await?;
        let state = records.payment.state;
        let status = if let Some(at) = records.refunded_at() {
            format!("Refunded {}", date_time(at))
        } else if let Some(at) = records.paid_at() {
            format!("Paid {}", date_time(at))
        } else if state.is_final() {
            format!("Not paid ({})", state.label().to_lowercase())
        } else if state == PaymentState::Invoiced {
            "Awaiting payment (invoiced)".to_owned()
        } else {
            "Awaiting payment".to_owned()
        };
        let PaymentRecords { payment, purchase, customer, seller, cover, gateway_name, .. } =
            records;
        let how_to_pay = (state == PaymentState::Invoiced)
            .then(|| seller.how_to_pay_invoice(purchase.amounts.gross(), &payment.reference));
        Ok(TaxInvoice {
            number: super::invoice_number(&payment.reference),
            issued_at: payment.created_at,
            currency: purchase.amounts.currency(),
            payment_reference: payment.reference,
            seller,
            customer,
            cover,
            lines: purchase.lines,
            totals: purchase.amounts,
            gateway_id: payment.gateway_id,
            gateway_name,
            status,
            how_to_pay,
        })
    }

    /// The invoice as a PDF (A4, one page unless the lines need more).
    pub fn to_pdf(&self) -> Vec<u8> {
        let mut sheet = Sheet::new(
            format!("Tax invoice {}", self.number),
            format!("Tax invoice {} issued by {}", self.number, self.seller.name),
        );
        let currency = self.currency.code();
        let details = [
            ("Invoice number", self.number.clone()),
            ("Issue date", date(self.issued_at)),
            ("Payment reference", self.payment_reference.clone()),
            ("Currency", currency.to_owned()),
            ("Status", self.status.clone()),
        ];
        header(&mut sheet, "TAX INVOICE", &self.seller, &details);
        parties(&mut sheet, &self.customer, &self.cover);

        // The lines.
        let columns: [(&str, f32); 6] = [
            ("Qty", 272.0),
            ("Unit price", 330.0),
            ("Excl. tax", 392.0),
            ("Tax rate", 440.0),
            ("Tax", 490.0),
            ("Total", RIGHT - 6.0),
        ];
        let description_width = 200.0;
        let table_header = |sheet: &mut Sheet| {
            let y = sheet.y;
            sheet.band(MARGIN, y - 7.0, RIGHT - MARGIN, 20.0, 0.93);
            sheet.text(MARGIN + 6.0, y, Style(Bold, 8.5, Ink::Text), "Description");
            for (label, right) in columns {
                sheet.text_right(right, y, Style(Bold, 8.5, Ink::Text), label);
            }
            sheet.y -= 24.0;
        };
        table_header(&mut sheet);
        for line in &self.lines {
            let wrapped = Sheet::wrap(Regular, 9.0, description_width, &line.description);
            let height = 12.0 * wrapped.len() as f32 + 8.0;
            if sheet.ensure_room(height) {
                let continued = format!("Tax invoice {} (continued)", self.number);
                sheet.text(MARGIN, sheet.y, Style(Bold, 9.0, Ink::Muted), &continued);
                sheet.y -= 22.0;
                table_header(&mut sheet);
            }
            let y = sheet.y;
            for (i, text) in wrapped.iter().enumerate() {
                sheet.text(MARGIN + 6.0, y - 12.0 * i as f32, Style(Regular, 9.0, Ink::Text), text);
            }
            let cells = [
                line.quantity.to_string(),
                amount(line.unit_price),
                amount(line.amounts.excl()),
                rate(line.tax_rate),
                amount(line.amounts.tax()),
                amount(line.amounts.gross()),
            ];
            for ((_, right), cell) in columns.iter().zip(cells) {
                sheet.text_right(*right, y, Style(Regular, 9.0, Ink::Text), &cell);
            }
            sheet.y -= height;
            sheet.rule(MARGIN, RIGHT, sheet.y + 8.0, 0.5, 0.85);
        }

        // The totals, under the amount columns.
        sheet.ensure_room(80.0);
        sheet.y -= 10.0;
        let label_x = 340.0;
        let value_right = RIGHT - 6.0;
        for (label, value) in
            [("Total excl. tax", amount(self.totals.excl())), ("Tax", amount(self.totals.tax()))]
        {
            sheet.text(label_x, sheet.y, Style(Regular, 9.5, Ink::Muted), label);
            sheet.text_right(value_right, sheet.y, Style(Regular, 9.5, Ink::Text), &value);
            sheet.y -= 16.0;
        }
        sheet.y -= 6.0;
        sheet.band(label_x - 8.0, sheet.y - 8.0, RIGHT - label_x + 8.0, 24.0, 0.93);
        sheet.text(label_x, sheet.y, Style(Bold, 11.0, Ink::Text), &format!("Total ({currency})"));
        sheet.text_right(
            value_right,
            sheet.y,
            Style(Bold, 11.0, Ink::Text),
            &amount(self.totals.gross()),
        );
        sheet.y -= 44.0;

        // How it is paid, and how tax was worked out.
        sheet.ensure_room(60.0);
        let mut notes = vec![format!(
            "Payment {} through {}. {}.",
            self.payment_reference, self.gateway_name, self.status
        )];
        notes.extend(self.how_to_pay.clone());
        notes.push(
            format!(
                "All amounts are in {currency}. Tax is charged per line on the amount excluding tax and rounded half away from zero to the currency's smallest unit."
            ),
        );
        for note in notes {
            for text in Sheet::wrap(Regular, 8.5, RIGHT - MARGIN, &note) {
                sheet.text(MARGIN, sheet.y, Style(Regular, 8.5, Ink::Muted), &text);
                sheet.y -= 12.0;
            }
            sheet.y -= 4.0;
        }
        sheet.finish()
    }
}

/// The top of a document: the seller on the left, the title and the document's particulars on
/// the right; leaves `sheet.y` under whichever is taller.
pub(super) fn header(sheet: &mut Sheet, title: &str, seller: &Seller, details: &[(&str, String)]) {
    let mut left = TOP - 14.0;
    sheet.text_fit(MARGIN, left, Style(Bold, 15.0, Ink::Text), 240.0, &seller.name);
    left -= 16.0;
    for line in seller.address_lines() {
        sheet.text_fit(MARGIN, left, Style(Regular, 9.0, Ink::Muted), 240.0, line);
        left -= 12.0;
    }
    if let Some(number) = &seller.tax_number {
        sheet.text_fit(
            MARGIN,
            left,
            Style(Regular, 9.0, Ink::Muted),
            240.0,
            &format!("VAT number {number}"),
        );
        left -= 12.0;
    }

    let mut right = TOP - 16.0;
    sheet.text_right(RIGHT, right, Style(Bold, 20.0, Ink::Accent), title);
    right -= 24.0;
    for (label, value) in details {
        sheet.text(330.0, right, Style(Regular, 8.5, Ink::Muted), label);
        sheet.text_right(RIGHT, right, Style(Bold, 8.5, Ink::Text), value);
        right -= 13.0;
    }
    sheet.y = left.min(right) - 14.0;
    sheet.rule(MARGIN, RIGHT, sheet.y, 1.0, 0.75);
    sheet.y -= 24.0;
}

/// The "Bill to" and policy blocks side by side; leaves `sheet.y` under both.
pub(super) fn parties(sheet: &mut Sheet, customer: &Customer, cover: &Cover) {
    let top = sheet.y;
    let column = 230.0;
    let mut y = top;
    sheet.text(MARGIN, y, Style(Bold, 8.0, Ink::Muted), "BILL TO");
    y -= 15.0;
    sheet.text_fit(MARGIN, y, Style(Bold, 11.0, Ink::Text), column, &customer.name);
    y -= 14.0;
    sheet.text_fit(
        MARGIN,
        y,
        Style(Regular, 9.0, Ink::Text),
        column,
        &format!("Customer code {}", customer.code),
    );
    y -= 12.0;
    if let Some(email) = &customer.email {
        sheet.text_fit(MARGIN, y, Style(Regular, 9.0, Ink::Text), column, email);
        y -= 12.0;
    }
    let left_bottom = y;

    let x = 300.0;
    let width = RIGHT - x;
    let mut y = top;
    let heading = match cover.kind {
        crate::product::ServiceKind::Policy => "POLICY",
        crate::product::ServiceKind::Isp => "SERVICE",
    };
    sheet.text(x, y, Style(Bold, 8.0, Ink::Muted), heading);
    y -= 15.0;
    sheet.text_fit(x, y, Style(Bold, 11.0, Ink::Text), width, &cover.reference);
    y -= 14.0;
    sheet.text_fit(x, y, Style(Regular, 9.0, Ink::Text), width, &cover.product_name);
    y -= 12.0;
    if let Some((start, end)) = cover.period {
        sheet.text_fit(
            x,
            y,
            Style(Regular, 9.0, Ink::Text),
            width,
            &format!("{} {} to {}", cover.period_label(), date(start), date(end)),
        );
        y -= 12.0;
    }
    sheet.y = left_bottom.min(y) - 22.0;
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::customer::CustomerId;
    use crate::merchant::MerchantId;
    use crate::money::Money;
    use crate::product::ServiceKind;
    use crate::purchase::LineType;
    use crate::tax::TaxRate;

    fn invoice(line_count: usize) -> TaxInvoice {
        let zar = Currency::parse("ZAR").unwrap();
        let rate = TaxRate::parse("15").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).unwrap();
        let lines: Vec<PurchaseLine> = (0..line_count)
            .map(|i| PurchaseLine {
                id: i.to_string(),
                line_type: LineType::Day,
                description: format!("LTE day bundle number {i}, a long description that wraps"),
                quantity: 3,
                unit_price: Money::from_minor(1000, zar),
                period_per_quantity: 1,
                tax_rate: rate,
                amounts: rate.split_exclusive(Money::from_minor(3000, zar)).unwrap(),
            })
            .collect();
        let totals = TaxSplit::total(lines.iter().map(|l| l.amounts), zar).unwrap();
        TaxInvoice {
            number: "INV-PAY-TEST".into(),
            issued_at: at,
            payment_reference: "PAY-TEST".into(),
            currency: zar,
            seller: Seller {
                id: MerchantId::from_string("m"),
                name: "Shop (Pty) Ltd".into(),
                tax_number: None,
                address: None,
                payment_instructions: None,
            },
            customer: Customer {
                merchant_id: None,
                id: CustomerId::from_string("c"),
                code: "C-1".into(),
                name: "Zoë Ndlovu".into(),
                email: None,
                phone: None,
                created_at: at,
            },
            cover: Cover {
                reference: "SVC-1".into(),
                kind: ServiceKind::Isp,
                product_name: "LTE".into(),
                period: None,
            },
            lines,
            totals,
            gateway_id: "peach-zar".into(),
            gateway_name: "Peach Payments".into(),
            status: "Awaiting payment".into(),
            how_to_pay: None,
        }
    }

    #[test]
    fn many_lines_flow_onto_further_pages() {
        let one = String::from_utf8_lossy(&invoice(1).to_pdf()).into_owned();
        assert!(one.contains("/Count 1"));
        let many = String::from_utf8_lossy(&invoice(60).to_pdf()).into_owned();
        assert!(!many.contains("/Count 1") && many.contains("/Count "));
        // The column headings are repeated on every page.
        assert!(many.matches("(Unit price)").count() > 1);
        // 60 × 34.50 = 2070.00.
        assert!(many.contains("(2,070.00)"));
    }

    #[test]
    fn the_same_invoice_renders_to_the_same_bytes() {
        assert_eq!(invoice(2).to_pdf(), invoice(2).to_pdf());
    }
}
