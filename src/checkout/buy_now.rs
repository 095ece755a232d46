//! Buy now: a customer picks options of their service's billing scheme (day bundles, months
//! ahead) and Settle makes the priced purchase, a quote, which is then paid like any purchase.
//! When it is paid, fulfilment extends the service by each line's quantity × days or months.
//!
//! Settle prices every line itself from the scheme (`tax`'s rule: net = unit price × quantity,
//! tax = net × rate rounded half away from zero to the cent, total = net + tax). The client's
//! figures are checked, never used: one that disagrees with Settle's at cent precision (after
//! rounding the client's number half away from zero to the cent) is refused with Settle's figure.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;

use crate::access::{self, Viewer};
use crate::billing::scheme::{BillingScheme, BuyOption, BuyOptions, ProductPriceId};
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::money::Money;
use crate::product::Product;
use crate::purchase::{LineType, Purchase, PurchaseLine, PurchaseStatus};
use crate::purchase_source::PurchaseSource;
use crate::service::Service;
use crate::tax::TaxRate;

/// The most lines one buy-now purchase takes.
const MAX_LINES: usize = 20;

/// A line as the client asks for it; its figures are only checked.
#[derive(Clone, Debug, Default)]
pub struct BuyLine {
    /// The option bought; absent (or the zero UUID): matched by line type and period.
    pub product_price_id: Option<String>,
    /// 1 day, 2 monthly, 3 once-off.
    pub line_type_id: i64,
    /// Days or months one quantity adds.
    pub period_per_quantity: i64,
    /// How many.
    pub quantity: i64,
    /// The client's total (incl. tax) for the line.
    pub total_amount: Option<Decimal>,
    /// The client's price of one quantity excluding tax.
    pub amount_per_quantity: Option<Decimal>,
    /// The client's price of one quantity including tax.
    pub amount_per_quantity_incl: Option<Decimal>,
    /// The client's line amount excluding tax.
    pub net_amount_excl: Option<Decimal>,
    /// The client's tax rate (percent).
    pub tax_rate: Option<Decimal>,
    /// The client's tax for the line.
    pub tax_amount: Option<Decimal>,
}

/// A buy-now request.
#[derive(Clone, Debug, Default)]
pub struct BuyNow {
    /// The service (its id in any case).
    pub service_id: String,
    /// What to buy.
    pub lines: Vec<BuyLine>,
    /// The customer's reference for their statement.
    pub customer_statement_ref: Option<String>,
    /// The date the purchase applies to; now when absent.
    pub purchase_date: Option<DateTime<Utc>>,
    /// The off-system channel it will be paid through, if any.
    pub purchase_source_id: Option<String>,
    /// A note kept with the purchase.
    pub comment: Option<String>,
}

/// The quote made.
#[derive(Clone, Debug)]
pub struct Quote {
    /// The stored purchase (status quote).
    pub purchase: Purchase,
    /// Its service.
    pub service: Service,
}

/// Makes the quote for what the viewer asks to buy on a service it may see: only the service's
/// customer or the merchant selling it (through its system) may buy.
pub async fn buy_now(db: &Db, viewer: &Viewer, request: BuyNow) -> Result<Quote> {
    if matches!(viewer, Viewer::Staff) {
        return Err(Error::Forbidden);
    }
    let service = access::service_by_id_any_case(db, viewer, &request.service_id).await?;
    if let Some(owed) = Purchase::open_for_service(db, &service.id).await?.first() {
        return Err(Error::Conflict(format!(
            "This service owes {}: pay the amount owed first (must_pay_info), then buy more.",
            owed.amounts.gross().display()
        )));
    }
    let product = Product::find(db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
    let scheme = BillingScheme::of_product(db, product).await?;
    let options = scheme
        .buy_options(&service, Utc::now())
        .map_err(|why| Error::Conflict(format!("Nothing can be bought now: {}.", why.0)))?;

    if request.lines.is_empty() || request.lines.len() > MAX_LINES {
        return Err(Error::invalid(
            "purchase_lines",
            format!("buy from 1 to {MAX_LINES} lines at once"),
        ));
    }
    let mut errors = Vec::new();
    let mut chosen = Vec::with_capacity(request.lines.len());
    for (i, line) in request.lines.iter().enumerate() {
        match choose(&options, line) {
            Ok(option) => chosen.push(option),
            Err(e) => {
                let field = format!("purchase_lines[{i}].{}", e.field);
                errors.push(e.at(field));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let new_lines =
        chosen.iter().zip(&request.lines).map(|(o, l)| scheme.line(&o.price, l.quantity));
    let priced = Purchase::price_lines(new_lines.collect())?;
    for (i, ((line, asked), option)) in priced.iter().zip(&request.lines).zip(&chosen).enumerate() {
        for e in disagreements(&scheme, option, line, asked) {
            errors.push(FieldError { field: format!("purchase_lines[{i}].{}", e.field), ..e });
        }
    }
    let purchase_source_id = match text(request.purchase_source_id, "purchase_source_id", 100)? {
        Some(id) => Some(
            PurchaseSource::find(db, &id)
                .await?
                .ok_or_else(|| Error::invalid("purchase_source_id", "is no known purchase source"))?
                .id,
        ),
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let statement_ref = text(request.customer_statement_ref, "customer_statement_ref", 100)?;
    let comment = text(request.comment, "comment", 500)?;
    let date = request.purchase_date.unwrap_or_else(Utc::now);
    let mut purchase = Purchase::new(&service, String::new(), PurchaseStatus::Quote, date, priced)?;
    let line_prices: serde_json::Map<String, serde_json::Value> = purchase
        .lines
        .iter()
        .zip(&chosen)
        .map(|(l, o)| (l.id.clone(), json!(o.price.id.as_str())))
        .collect();
    purchase.details = json!({
        "created_by": "buy_now",
        "customer_statement_ref": statement_ref,
        "purchase_source_id": purchase_source_id,
        "comment": comment,
        "product_price_ids": line_prices,
    });
    purchase.insert_with_new_reference(db, &scheme.product.code).await?;
    Ok(Quote { purchase, service })
}

/// The scheme option a purchase line of a buy-now quote was priced from.
pub fn product_price_id(purchase: &Purchase, line: &PurchaseLine) -> Option<String> {
    purchase.details["product_price_ids"][&line.id].as_str().map(str::to_owned)
}

/// The purchase source a buy-now quote was made for, if one was named.
pub fn purchase_source_id(purchase: &Purchase) -> Option<String> {
    purchase.details["purchase_source_id"].as_str().map(str::to_owned)
}

/// Whether the purchase is a buy-now quote.
pub fn is_buy_now(purchase: &Purchase) -> bool {
    purchase.details["created_by"] == "buy_now"
}

/// The option a line asks for, with its quantity checked against what may be bought now.
fn choose<'a>(options: &'a BuyOptions, line: &BuyLine) -> Result<&'a BuyOption, FieldError> {
    let line_type = LineType::from_id(line.line_type_id)?;
    let by_id = line
        .product_price_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty() && uuid::Uuid::parse_str(id).is_ok_and(|u| !u.is_nil()));
    let option = match by_id {
        Some(id) => {
            let wanted = ProductPriceId::from_string(id.to_lowercase());
            let option =
                options.options.iter().find(|o| o.price.id == wanted).ok_or_else(|| {
                    FieldError::new("product_price_id", "is not an option this service may buy")
                })?;
            if option.price.line_type != line_type {
                return Err(FieldError::new(
                    "purchase_line_type_id",
                    format!(
                        "{} is line type {}",
                        option.price.description,
                        option.price.line_type.id()
                    ),
                ));
            }
            option
        }
        None => options
            .options
            .iter()
            .find(|o| {
                o.price.line_type == line_type
                    && o.price.period_per_quantity == line.period_per_quantity
            })
            .ok_or_else(|| {
                FieldError::new(
                    "period_contribution_per_quantity",
                    format!(
                        "no option of line type {} adds {} per quantity; see can_buy_info",
                        line.line_type_id, line.period_per_quantity
                    ),
                )
            })?,
    };
    if option.price.period_per_quantity != line.period_per_quantity {
        return Err(FieldError::new(
            "period_contribution_per_quantity",
            format!(
                "{} adds {} per quantity",
                option.price.description,
                period(option.price.line_type, option.price.period_per_quantity)
            ),
        ));
    }
    if !(option.price.min_quantity..=option.max_quantity).contains(&line.quantity) {
        return Err(FieldError::new(
            "quantity",
            format!(
                "{} is sold {} to {} at a time now",
                option.price.description, option.price.min_quantity, option.max_quantity
            ),
        ));
    }
    Ok(option)
}

/// "7 days", "1 month".
fn period(line_type: LineType, n: i64) -> String {
    let unit = if line_type == LineType::Day { "day" } else { "month" };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The client's figures that disagree with Settle's price of the line, each as an error naming
/// its field and Settle's figure.
fn disagreements(
    scheme: &BillingScheme,
    option: &BuyOption,
    line: &PurchaseLine,
    asked: &BuyLine,
) -> Vec<FieldError> {
    let price = &option.price;
    let what = if price.period_per_quantity == 1 {
        format!("{} of {}", period(price.line_type, line.quantity), price.description)
    } else if price.period_per_quantity > 1 {
        let total =
            period(price.line_type, line.quantity.saturating_mul(price.period_per_quantity));
        format!("{} × {} ({total})", line.quantity, price.description)
    } else {
        format!("{} × {}", line.quantity, price.description)
    };
    let verb = if line.quantity == 1 { "costs" } else { "cost" };
    let amounts = line.amounts;
    let cost = format!(
        "{what} {verb} {} ({} + {} tax)",
        amounts.gross().to_decimal(),
        amounts.excl().to_decimal(),
        amounts.tax().to_decimal()
    );
    let unit = format!(
        "one quantity of {} costs {} excluding tax, {} with tax",
        price.description,
        option.unit.excl().to_decimal(),
        option.unit.gross().to_decimal()
    );
    let mut errors = Vec::new();
    let mut check = |field: &str, sent: Option<Decimal>, settle: Money, why: &str| {
        if let Some(sent) = sent
            && !same_cents(sent, settle)
        {
            errors.push(FieldError::new(
                field,
                format!("{field} {sent} disagrees with the price: {why}"),
            ));
        }
    };
    check("total_amount", asked.total_amount, amounts.gross(), &cost);
    check("net_amount_excl", asked.net_amount_excl, amounts.excl(), &cost);
    check("tax_amount", asked.tax_amount, amounts.tax(), &cost);
    check("amount_per_quantity", asked.amount_per_quantity, option.unit.excl(), &unit);
    check("amount_per_quantity_incl", asked.amount_per_quantity_incl, option.unit.gross(), &unit);
    if let Some(sent) = asked.tax_rate {
        let rate = scheme.product.tax_rate;
        if TaxRate::from_percent(sent).ok() != Some(rate) {
            errors.push(FieldError::new(
                "tax_rate",
                format!(
                    "tax_rate {sent} disagrees with the price: {} is taxed at {} %",
                    scheme.product.name,
                    rate.percent()
                ),
            ));
        }
    }
    errors
}

/// Whether a client's number, rounded half away from zero to the currency's minor unit, is
/// Settle's amount.
fn same_cents(sent: Decimal, settle: Money) -> bool {
    let places = settle.currency().exponent();
    sent.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
        == settle.to_decimal()
}

/// A client's optional text: trimmed, empty is absent, bounded, no control characters.
fn text(raw: Option<String>, field: &str, max: usize) -> Result<Option<String>> {
    let Some(text) = raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters, without control characters"),
        ));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn client_figures_are_compared_at_cent_precision() {
        let zar = Currency::parse("ZAR").unwrap();
        let amount = Money::from_minor(86786, zar);
        assert!(same_cents(Decimal::from_str_exact("867.8550266666667").unwrap(), amount));
        assert!(same_cents(Decimal::from_str_exact("867.855").unwrap(), amount), "half up");
        assert!(!same_cents(Decimal::from_str_exact("867.8549").unwrap(), amount));
        assert!(same_cents(Decimal::from(30), Money::from_minor(3000, zar)));
    }
}
