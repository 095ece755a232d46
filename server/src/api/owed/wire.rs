//! The merchant API's request and response shapes. Field names are snake_case like the rest
//! of Settle's own API; amounts are exact decimals (JSON numbers or strings) in the product's
//! currency.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use settle::FieldError;
use settle::billing::{LineAmount, NewPurchaseLine, Page};
use settle::customer::Customer;
use settle::payment::Payment;
use settle::purchase::{Purchase, PurchaseLine};
use settle::service::{Service, ServiceDetails};
use settle::tax::TaxSplit;

use crate::api::payments::PaymentView;

/// `PUT /api/customers/{customer_code}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CustomerBody {
    /// Full name.
    #[serde(default)]
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// A customer as the API shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    customer_code: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> CustomerView {
        CustomerView {
            customer_code: c.code,
            name: c.name,
            email: c.email,
            phone: c.phone,
            created_at: c.created_at,
        }
    }
}

/// A page of a list: its items and the cursor of the next page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageView<T> {
    items: Vec<T>,
    /// Pass as `after` for the next page; `null` on the last page.
    next_after: Option<String>,
}

impl<T> PageView<T> {
    /// The page with each item shown as `T`.
    pub fn of<S>(page: Page<S>, view: impl FnMut(S) -> T) -> PageView<T> {
        PageView { items: page.items.into_iter().map(view).collect(), next_after: page.next_after }
    }
}

/// The `after` and `limit` of a list, with its filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The previous page's `next_after`.
    pub after: Option<String>,
    /// Items per page, 1 to 100 (20).
    pub limit: Option<String>,
    /// Only this customer's.
    pub customer_code: Option<String>,
    /// Only purchases in this status.
    pub status: Option<String>,
}

/// `POST /api/services` body: a policy (quote, dates, addresses, vehicle) or an ISP service
/// (collector, type).
#[derive(Debug, Deserialize)]
pub struct ServiceBody {
    /// Policy number or service id; generated when absent.
    pub reference: Option<String>,
    /// Whose it is.
    #[serde(default)]
    pub customer_code: String,
    /// Which of the merchant's products.
    #[serde(default)]
    pub product_code: String,
    /// Status in the merchant's words.
    pub status: Option<String>,
    /// Start: a date (`2026-01-01`) or an RFC 3339 time.
    pub period_start: Option<String>,
    /// End, the same way.
    pub period_end: Option<String>,
    /// Quote, policy address, vehicle; collector id, service type.
    #[serde(flatten)]
    pub details: ServiceDetails,
}

/// A date (midnight UTC) or an RFC 3339 time.
pub fn moment(raw: Option<String>, field: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(raw) = raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    crate::api::body::iso_moment(&raw)
        .map(|(time, _)| Some(time))
        .ok_or_else(|| FieldError::new(field, "must be a date (2026-01-31) or an RFC 3339 time"))
}

/// A service as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceView {
    reference: String,
    kind: &'static str,
    customer_code: String,
    product_code: String,
    status: String,
    billing_status: &'static str,
    period_start: Option<DateTime<Utc>>,
    period_end: Option<DateTime<Utc>>,
    #[schema(ignore)]
    #[serde(flatten)]
    details: ServiceDetails,
    created_at: DateTime<Utc>,
}

impl ServiceView {
    /// The service, with the codes of its customer and product.
    pub fn new(s: Service, customer_code: String, product_code: String) -> ServiceView {
        ServiceView {
            reference: s.reference,
            kind: s.kind.as_str(),
            customer_code,
            product_code,
            status: s.status,
            billing_status: s.billing_status.as_str(),
            period_start: s.period_start,
            period_end: s.period_end,
            details: s.details,
            created_at: s.created_at,
        }
    }
}

/// `POST /api/purchases` body. Name the service by `service_reference`, or a product by
/// `product_code` (the customer's account service of it is used).
#[derive(Debug, Deserialize)]
pub struct PurchaseBody {
    /// Who owes it.
    #[serde(default)]
    pub customer_code: String,
    /// A service of the customer.
    pub service_reference: Option<String>,
    /// Or one of the merchant's products.
    pub product_code: Option<String>,
    /// The lines.
    #[serde(default)]
    pub lines: Vec<LineBody>,
    /// The merchant's own reference, unique per merchant.
    pub merchant_reference: Option<String>,
    /// A campaign code.
    pub campaign: Option<String>,
    /// Extras kept with the purchase (an object).
    #[serde(default)]
    pub details: serde_json::Value,
}

/// One line of a new purchase.
#[derive(Debug, Deserialize)]
pub struct LineBody {
    /// What it is for (the product's name when absent).
    #[serde(default)]
    pub description: String,
    /// How many units (1 when absent).
    pub quantity: Option<i64>,
    /// The total for the line, tax included, where the product lets the merchant set it.
    pub amount: Option<Decimal>,
}

/// An exact decimal as a JSON number (kept as written) or a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Decimal {
    /// `5100.00`
    Number(serde_json::Number),
    /// `"5100.00"`
    Text(String),
}

impl From<LineBody> for NewPurchaseLine {
    fn from(l: LineBody) -> NewPurchaseLine {
        NewPurchaseLine {
            description: l.description,
            quantity: l.quantity.unwrap_or(1),
            amount: l.amount.map(|a| match a {
                Decimal::Number(n) => LineAmount::Decimal(n.to_string()),
                Decimal::Text(t) => LineAmount::Decimal(t),
            }),
        }
    }
}

/// Amounts as the API shows them: excluding tax, tax, total.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AmountsView {
    amount_excl_tax: String,
    tax: String,
    amount: String,
}

impl From<TaxSplit> for AmountsView {
    fn from(a: TaxSplit) -> AmountsView {
        AmountsView {
            amount_excl_tax: a.excl().to_decimal().to_string(),
            tax: a.tax().to_decimal().to_string(),
            amount: a.gross().to_decimal().to_string(),
        }
    }
}

/// One line as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineView {
    description: String,
    quantity: i64,
    unit_price: String,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    tax_rate: settle::tax::TaxRate,
    #[serde(flatten)]
    amounts: AmountsView,
}

impl From<PurchaseLine> for LineView {
    fn from(l: PurchaseLine) -> LineView {
        LineView {
            description: l.description,
            quantity: l.quantity,
            unit_price: l.unit_price.to_decimal().to_string(),
            tax_rate: l.tax_rate,
            amounts: l.amounts.into(),
        }
    }
}

/// A purchase as the API shows it. `purchase_id` is what `POST /api/payments` pays.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurchaseView {
    reference: String,
    purchase_id: String,
    service_reference: String,
    status: &'static str,
    currency: &'static str,
    #[serde(flatten)]
    totals: AmountsView,
    lines: Vec<LineView>,
    merchant_reference: Option<String>,
    campaign: Option<String>,
    details: serde_json::Value,
    paid_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payments: Option<Vec<PaymentView>>,
}

impl PurchaseView {
    /// The purchase, with its service's reference, and its payments when given.
    pub fn new(p: Purchase, service_reference: String, payments: Option<&[Payment]>) -> Self {
        PurchaseView {
            reference: p.reference,
            purchase_id: p.id.to_string(),
            service_reference,
            status: p.status.as_str(),
            currency: p.amounts.currency().code(),
            totals: p.amounts.into(),
            lines: p.lines.into_iter().map(LineView::from).collect(),
            merchant_reference: p.merchant_reference,
            campaign: p.campaign,
            details: p.details,
            paid_at: p.paid_at,
            created_at: p.created_at,
            payments: payments.map(|ps| ps.iter().map(PaymentView::from).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_dates_or_times() {
        let day = moment(Some("2026-01-31".into()), "period_start").unwrap().unwrap();
        assert_eq!(day.to_rfc3339(), "2026-01-31T00:00:00+00:00");
        let time = moment(Some("2026-01-31T10:00:00+02:00".into()), "p").unwrap().unwrap();
        assert_eq!(time.to_rfc3339(), "2026-01-31T08:00:00+00:00");
        assert_eq!(moment(None, "p").unwrap(), None);
        assert_eq!(
            moment(Some("31/01/2026".into()), "period_end").unwrap_err().field,
            "period_end"
        );
    }
}
