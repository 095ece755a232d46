//! Pricing a purchase's lines from its product.
//!
//! The rule: a line is priced from the product — unit price (tax excluded) × quantity, tax on
//! top by the product's rate (`TaxRate::split_exclusive`, rounded half away from zero to the
//! minor unit). Only a product that lets the merchant set the amount (an invoice payment) takes
//! the line's `amount` instead: the total the customer pays, tax included, of which the tax is
//! `round(amount × rate / (1 + rate))` (`TaxRate::split_inclusive`); such a line is one unit.
//! Either way `amount == amount_excl + tax`.

use crate::error::FieldError;
use crate::money::Money;
use crate::product::{BillingKind, Product};
use crate::purchase::{LineType, PurchaseLine};

/// An amount a merchant sets, read in the product's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineAmount {
    /// An exact decimal (`"378.90"`).
    Decimal(String),
    /// Minor units (cents).
    Minor(i64),
}

/// A line as the merchant asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPurchaseLine {
    /// What the line is for; empty: the product's name.
    pub description: String,
    /// How many units (days, months, or items).
    pub quantity: i64,
    /// The total the customer pays for the line, tax included; only where the product lets
    /// the merchant set the amount.
    pub amount: Option<LineAmount>,
}

/// Prices the lines by the rule above; errors name `lines[i].field`.
pub(crate) fn price(
    product: &Product,
    lines: Vec<NewPurchaseLine>,
) -> Result<Vec<PurchaseLine>, Vec<FieldError>> {
    if lines.is_empty() {
        return Err(vec![FieldError::new("lines", "a purchase needs at least one line")]);
    }
    let mut priced = Vec::with_capacity(lines.len());
    let mut errors = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        match price_line(product, line) {
            Ok(line) => priced.push(line),
            Err(e) => errors.push(FieldError::new(format!("lines[{i}].{}", e.field), e.message)),
        }
    }
    if errors.is_empty() { Ok(priced) } else { Err(errors) }
}

/// The largest quantity a line takes (a sanity bound, far above any real bundle).
const MAX_QUANTITY: i64 = 100_000;

fn price_line(product: &Product, line: NewPurchaseLine) -> Result<PurchaseLine, FieldError> {
    if !(1..=MAX_QUANTITY).contains(&line.quantity) {
        return Err(FieldError::new("quantity", format!("must be from 1 to {MAX_QUANTITY}")));
    }
    let description = match line.description.trim() {
        "" => product.name.clone(),
        d if d.chars().count() > 500 || d.chars().any(char::is_control) => {
            return Err(FieldError::new("description", "must be at most 500 characters"));
        }
        d => d.to_owned(),
    };
    let currency = product.unit_price.currency();
    let (unit_price, amounts) = match (line.amount, product.merchant_sets_amount) {
        (Some(amount), true) => {
            let gross = match amount {
                LineAmount::Decimal(text) => Money::parse_decimal(&text, currency),
                LineAmount::Minor(minor) => Ok(Money::from_minor(minor, currency)),
            }
            .map_err(|e| e.at("amount"))?;
            if gross.is_negative() || gross.is_zero() {
                return Err(FieldError::new("amount", "must be more than zero"));
            }
            if line.quantity != 1 {
                return Err(FieldError::new(
                    "quantity",
                    "must be 1 when the line's amount is given",
                ));
            }
            let amounts = product.tax_rate.split_inclusive(gross);
            (amounts.excl(), amounts)
        }
        (Some(_), false) => {
            return Err(FieldError::new(
                "amount",
                format!(
                    "{} is priced by Settle from its unit price; leave the amount out",
                    product.code
                ),
            ));
        }
        (None, true) => {
            return Err(FieldError::new(
                "amount",
                format!("is required: the merchant sets the amount of {}", product.code),
            ));
        }
        (None, false) => {
            let excl =
                product.unit_price.checked_mul(line.quantity).map_err(|e| e.at("quantity"))?;
            (
                product.unit_price,
                product.tax_rate.split_exclusive(excl).map_err(|e| e.at("amount"))?,
            )
        }
    };
    let (line_type, period_per_quantity) = match product.billing_kind {
        BillingKind::DayBundle => (LineType::Day, 1),
        BillingKind::RecurringMonthly => (LineType::Monthly, 1),
        // A once-off purchase buys no period of its own: the service keeps the dates the
        // merchant gave it.
        BillingKind::OnceOff => (LineType::OnceOff, 0),
    };
    Ok(PurchaseLine {
        id: uuid::Uuid::now_v7().to_string(),
        line_type,
        description,
        quantity: line.quantity,
        unit_price,
        period_per_quantity,
        tax_rate: product.tax_rate,
        amounts,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::money::Currency;
    use crate::product::{ProductId, ServiceKind};
    use crate::tax::TaxRate;

    fn product(price: &str, rate: &str, merchant_sets_amount: bool) -> Product {
        let zar = Currency::parse("ZAR").unwrap();
        Product {
            id: ProductId::from_string("p"),
            code: "XYZ".into(),
            name: "Invoice payment".into(),
            merchant_id: None,
            service_kind: ServiceKind::Isp,
            billing_kind: BillingKind::DayBundle,
            unit_price: Money::parse_decimal(price, zar).unwrap(),
            tax_rate: TaxRate::parse(rate).unwrap(),
            collection_day: None,
            auto_recharge: false,
            allowed_method_kinds: Vec::new(),
            merchant_sets_amount,
            created_at: Utc::now(),
        }
    }

    fn line(quantity: i64, amount: Option<LineAmount>) -> NewPurchaseLine {
        NewPurchaseLine { description: String::new(), quantity, amount }
    }

    #[test]
    fn settle_prices_from_the_unit_price_with_tax_on_top() {
        // 3 × 10.33 = 30.99; 15 % of it is 4.6485, rounded half away from zero to 4.65.
        let lines = price(&product("10.33", "15", false), vec![line(3, None)]).unwrap();
        let l = &lines[0];
        assert_eq!((l.amounts.excl().minor(), l.amounts.tax().minor()), (3099, 465));
        assert_eq!(l.amounts.gross().minor(), 3564);
        assert_eq!(l.unit_price.minor(), 1033);
        assert_eq!((l.line_type, l.period_per_quantity), (LineType::Day, 1));
        assert_eq!(l.description, "Invoice payment", "the product's name by default");
    }

    #[test]
    fn a_merchant_set_amount_includes_its_tax() {
        // 115.00 at 15 %: tax = 115 × 15 / 115 = 15.00 exactly; 100.01 → 13.045… → 13.04.
        let p = product("0", "15", true);
        let lines = price(&p, vec![line(1, Some(LineAmount::Decimal("115.00".into())))]).unwrap();
        assert_eq!(
            (lines[0].amounts.excl().minor(), lines[0].amounts.tax().minor()),
            (10000, 1500)
        );
        let lines = price(&p, vec![line(1, Some(LineAmount::Minor(10001)))]).unwrap();
        assert_eq!((lines[0].amounts.excl().minor(), lines[0].amounts.tax().minor()), (8697, 1304));
        assert_eq!(lines[0].amounts.gross().minor(), 10001);
    }

    #[test]
    fn amounts_only_where_the_product_allows_them() {
        let fixed = product("10.00", "15", false);
        let refused = price(&fixed, vec![line(1, Some(LineAmount::Minor(500)))]).unwrap_err();
        assert_eq!(refused[0].field, "lines[0].amount");
        let open = product("0", "15", true);
        let missing = price(&open, vec![line(1, None), line(1, None)]).unwrap_err();
        let fields: Vec<&str> = missing.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[0].amount", "lines[1].amount"], "each line is reported");
    }

    #[test]
    fn bad_lines_are_refused_with_their_field() {
        let open = product("0", "15", true);
        let cases = [
            (line(1, Some(LineAmount::Decimal("0".into()))), "lines[0].amount"),
            (line(1, Some(LineAmount::Decimal("-5".into()))), "lines[0].amount"),
            (line(1, Some(LineAmount::Decimal("1.001".into()))), "lines[0].amount"),
            (line(2, Some(LineAmount::Decimal("5".into()))), "lines[0].quantity"),
            (line(0, Some(LineAmount::Decimal("5".into()))), "lines[0].quantity"),
        ];
        for (l, field) in cases {
            let errors = price(&open, vec![l.clone()]).unwrap_err();
            assert_eq!(errors[0].field, field, "{l:?}");
        }
        assert_eq!(price(&open, vec![]).unwrap_err()[0].field, "lines");
    }
}
