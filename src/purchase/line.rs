//! A purchase's lines: what each is (a day, a month, a once-off item), its quantity, price and
//! tax, priced when the purchase is made.

use crate::error::{Error, Result};
use crate::money::Money;
use crate::tax::{TaxRate, TaxSplit};

use super::Purchase;

/// The kind of a purchase line (the ISP seed's `purchase_line_type_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineType {
    /// 1: days (bundles).
    Day,
    /// 2: months.
    Monthly,
    /// 3: installation or once-off.
    OnceOff,
}

impl LineType {
    /// The seed's numeric id.
    pub fn id(self) -> i64 {
        match self {
            LineType::Day => 1,
            LineType::Monthly => 2,
            LineType::OnceOff => 3,
        }
    }

    /// The line type with this numeric id.
    pub fn from_id(id: i64) -> Result<LineType, crate::error::FieldError> {
        match id {
            1 => Ok(LineType::Day),
            2 => Ok(LineType::Monthly),
            3 => Ok(LineType::OnceOff),
            _ => Err(crate::error::FieldError::new(
                "purchase_line_type_id",
                "must be 1 (day), 2 (monthly) or 3 (once-off)",
            )),
        }
    }
}

/// A line to put on a new purchase; its tax is computed, not given.
#[derive(Clone, Debug)]
pub struct NewLine {
    /// Day, monthly or once-off.
    pub line_type: LineType,
    /// What the line is for.
    pub description: String,
    /// How many units.
    pub quantity: i64,
    /// Price of one unit, excluding tax.
    pub unit_price: Money,
    /// Days or months each unit adds to the service period.
    pub period_per_quantity: i64,
    /// Tax rate of the line.
    pub tax_rate: TaxRate,
}

/// One line of a purchase.
#[derive(Clone, Debug)]
pub struct PurchaseLine {
    /// Line id.
    pub id: String,
    /// Day, monthly or once-off.
    pub line_type: LineType,
    /// What the line is for.
    pub description: String,
    /// How many units.
    pub quantity: i64,
    /// Price of one unit, excluding tax.
    pub unit_price: Money,
    /// Days or months each unit adds.
    pub period_per_quantity: i64,
    /// Tax rate of the line.
    pub tax_rate: TaxRate,
    /// The line's amount excluding tax, tax, and total.
    pub amounts: TaxSplit,
}

impl Purchase {
    /// Computes each line's tax (on its unit price × quantity, tax excluded) and checks that
    /// the lines share one currency.
    pub fn price_lines(new_lines: Vec<NewLine>) -> Result<Vec<PurchaseLine>> {
        let Some(first) = new_lines.first() else {
            return Err(Error::invalid("purchase_lines", "a purchase needs at least one line"));
        };
        let currency = first.unit_price.currency();
        let mut lines = Vec::with_capacity(new_lines.len());
        for (i, line) in new_lines.into_iter().enumerate() {
            let at = |field: &str| format!("purchase_lines[{i}].{field}");
            if line.quantity <= 0 {
                return Err(Error::invalid(at("quantity"), "must be at least 1"));
            }
            if line.unit_price.currency() != currency {
                return Err(Error::invalid(
                    at("amount_per_quantity"),
                    "all lines must share one currency",
                ));
            }
            let excl =
                line.unit_price.checked_mul(line.quantity).map_err(|e| e.at(at("quantity")))?;
            let amounts =
                line.tax_rate.split_exclusive(excl).map_err(|e| e.at(at("total_amount")))?;
            lines.push(PurchaseLine {
                id: uuid::Uuid::now_v7().to_string(),
                line_type: line.line_type,
                description: line.description,
                quantity: line.quantity,
                unit_price: line.unit_price,
                period_per_quantity: line.period_per_quantity,
                tax_rate: line.tax_rate,
                amounts,
            });
        }
        Ok(lines)
    }
}
