//! Seed 004's shapes (the purchase-order and payment services' pay-now calls), in the
//! document's snake_case: mediums, a service's details and actions, an arrears purchase with its
//! lines, purchase sources. Amounts are JSON decimal numbers (`378.90`), times ISO 8601 with an
//! offset (`2024-06-06T07:09:11.748470+00:00`).

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use settle::billing::config::OperatorRules;
use settle::billing::scheme::{BillingScheme, BuyKind, BuyOptions, ProductPrice};
use settle::checkout::buy_now::{self, BuyLine, BuyNow, Quote};
use settle::gateway::Gateway;
use settle::payment_method::{MethodKind, MethodStatus, PaymentMethod};
use settle::product::BillingKind;
use settle::product::Product;
use settle::purchase::{Purchase, PurchaseLine, PurchaseStatus};
use settle::purchase_source::PurchaseSource;
use settle::service_standing::{Standing, status_category};
use settle::tax::{TaxRate, TaxSplit};

mod scheme;
pub use scheme::*;

/// A time as the document writes it: microseconds and a `+00:00` offset.
fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// The document's name for a medium's kind.
fn medium_type(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Card => "CreditCard",
        MethodKind::BankAccount => "BankAccount",
        MethodKind::PaymentLink => "PaymentLink",
        MethodKind::OffSystem => "OffSystem",
        MethodKind::ProviderSelected => "ProviderSelectedOpaque",
    }
}

/// The document's name for a medium's status.
fn medium_status(status: MethodStatus) -> &'static str {
    match status {
        MethodStatus::Incomplete => "Incomplete",
        MethodStatus::Valid => "Valid",
        MethodStatus::Invalid => "Invalid",
        MethodStatus::Expired => "Expired",
    }
}

/// The partial account number shown for a medium: a card's last four digits, a bank account's
/// masked number, an empty string for a payment link, nothing otherwise.
fn account_number(m: &PaymentMethod) -> Option<String> {
    match m.kind {
        MethodKind::Card => m.card_last4.clone(),
        MethodKind::BankAccount => m.bank_account_masked.clone(),
        MethodKind::PaymentLink => Some(String::new()),
        MethodKind::OffSystem | MethodKind::ProviderSelected => None,
    }
}

/// `GET /payment-mediums` item.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MediumItem {
    medium_detail_id: String,
    medium_type: &'static str,
    bank_account: String,
    account_nr_partial: Option<String>,
    /// Whether a gateway holds a token for it (a saved card or mandate).
    is_linked: bool,
    medium_status: &'static str,
}

impl From<&PaymentMethod> for MediumItem {
    fn from(m: &PaymentMethod) -> MediumItem {
        MediumItem {
            medium_detail_id: m.id.to_string(),
            medium_type: medium_type(m.kind),
            bank_account: m.label.clone(),
            account_nr_partial: account_number(m).filter(|n| !n.is_empty()),
            is_linked: m.gateway_token.is_some(),
            medium_status: medium_status(m.status),
        }
    }
}

/// A medium as `details-and-actions` and the active-medium call show it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MediumView {
    external_reference: String,
    customer_id: Option<String>,
    medium_detail_id: String,
    medium_type: &'static str,
    medium_status: &'static str,
    created_date: String,
    account_name: String,
    account_number: Option<String>,
}

impl From<&PaymentMethod> for MediumView {
    fn from(m: &PaymentMethod) -> MediumView {
        // Settle keeps gateway tokens to itself: a global medium is named by its gateway, a
        // customer's by its own id.
        let external_reference = match (&m.customer_id, &m.gateway_id) {
            (None, Some(gateway)) => format!("Global {gateway} provider selected opaque medium"),
            _ => m.id.to_string(),
        };
        MediumView {
            external_reference,
            customer_id: m.customer_id.as_ref().map(|c| c.to_string()),
            medium_detail_id: m.id.to_string(),
            medium_type: medium_type(m.kind),
            medium_status: medium_status(m.status),
            created_date: iso(m.created_at),
            account_name: m.label.clone(),
            account_number: account_number(m),
        }
    }
}

/// `GET /services/{serviceId}/details-and-actions`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DetailsAndActions {
    service_id: String,
    service_status: String,
    service_status_category: &'static str,
    collector_id: Option<String>,
    service_type: String,
    billing_status: &'static str,
    latest_period_end_date: Option<String>,
    /// Settle does not schedule suspensions yet, so there is never a date.
    suspension_date: Option<String>,
    collection_day: Option<u8>,
    plan_id: String,
    mediums: Vec<MediumView>,
    must_pay_info: Option<MustPayInfo>,
    /// What may be bought now; `null` while something must be paid.
    can_buy_info: Option<CanBuyInfo>,
    last_purchase_is_pending: bool,
    on_network_date: Option<String>,
}

impl From<&Standing> for DetailsAndActions {
    fn from(s: &Standing) -> DetailsAndActions {
        let service = &s.service;
        let service_type = service
            .details
            .service_type
            .clone()
            .unwrap_or_else(|| billing_type(&s.product).to_owned());
        DetailsAndActions {
            service_id: service.reference.clone(),
            service_status: service.status.clone(),
            service_status_category: status_category(&service.status),
            collector_id: service.details.collector_id.clone(),
            service_type,
            billing_status: service.billing_status.as_str(),
            latest_period_end_date: service.period_end.map(iso),
            suspension_date: None,
            collection_day: s.product.collection_day,
            plan_id: s.product.id.to_string(),
            mediums: s.mediums.iter().map(MediumView::from).collect(),
            must_pay_info: s
                .must_pay
                .as_ref()
                .map(|p| MustPayInfo { must_pay: true, arrears_purchase: PurchaseView::new(p, s) }),
            can_buy_info: s.can_buy.as_ref().map(|c| CanBuyInfo::new(c, &s.product)),
            last_purchase_is_pending: s.last_purchase_is_pending,
            on_network_date: None,
        }
    }
}

/// What must be paid now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MustPayInfo {
    must_pay: bool,
    arrears_purchase: PurchaseView,
}

/// A purchase in the document's shape.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = pay_now::PurchaseView)]
pub struct PurchaseView {
    id: String,
    service_id: String,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    amount_excl: Decimal,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    tax_amount: Decimal,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    amount: Decimal,
    medium_id: Option<String>,
    purchase_date: String,
    purchase_status_id: u8,
    payment_reference: Option<String>,
    small_key: Option<i64>,
    purchase_plan_id: Option<String>,
    period_applied: bool,
    purchase_source_id: Option<String>,
    purchase_creation_event_id: Option<i64>,
    purchase_lines: Vec<LineView>,
}

/// The document's numbers for a purchase's status: 3 owed, 6 a quote (its examples); Settle
/// adds 4 for paid and 5 for cancelled.
fn purchase_status_id(status: PurchaseStatus) -> u8 {
    match status {
        PurchaseStatus::Open => 3,
        PurchaseStatus::Paid => 4,
        PurchaseStatus::Cancelled => 5,
        PurchaseStatus::Quote => 6,
    }
}

impl PurchaseView {
    fn new(p: &Purchase, s: &Standing) -> PurchaseView {
        PurchaseView {
            id: p.id.to_string(),
            service_id: s.service.reference.clone(),
            amount_excl: p.amounts.excl().to_decimal(),
            tax_amount: p.amounts.tax().to_decimal(),
            amount: p.amounts.gross().to_decimal(),
            medium_id: s.service.active_payment_method_id.as_ref().map(|m| m.to_string()),
            purchase_date: iso(p.purchase_date),
            purchase_status_id: purchase_status_id(p.status),
            payment_reference: None,
            small_key: None,
            purchase_plan_id: None,
            period_applied: p.status == PurchaseStatus::Paid,
            purchase_source_id: None,
            purchase_creation_event_id: None,
            purchase_lines: p.lines.iter().map(|l| LineView::new(l, p, s)).collect(),
        }
    }
}

/// A purchase line in the document's shape.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = pay_now::LineView)]
pub struct LineView {
    id: String,
    purchase_id: String,
    original_purchase_line_id: Option<String>,
    purchase_line_type_id: i64,
    description: String,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    total_amount: Decimal,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    amount_per_quantity: Decimal,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    net_amount_excl: Decimal,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    tax_rate: Decimal,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    tax_amount: Decimal,
    quantity: i64,
    period_contribution_per_quantity: i64,
    product_price_id: String,
}

impl LineView {
    fn new(l: &PurchaseLine, p: &Purchase, s: &Standing) -> LineView {
        LineView {
            id: l.id.clone(),
            purchase_id: p.id.to_string(),
            original_purchase_line_id: None,
            purchase_line_type_id: l.line_type.id(),
            description: l.description.clone(),
            total_amount: l.amounts.gross().to_decimal(),
            amount_per_quantity: l.unit_price.to_decimal(),
            net_amount_excl: l.amounts.excl().to_decimal(),
            tax_rate: l.tax_rate.percent(),
            tax_amount: l.amounts.tax().to_decimal(),
            quantity: l.quantity,
            period_contribution_per_quantity: l.period_per_quantity,
            product_price_id: s.product.id.to_string(),
        }
    }
}

/// `GET /purchases/sources` item.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SourceItem {
    id: String,
    name: String,
}

impl From<PurchaseSource> for SourceItem {
    fn from(s: PurchaseSource) -> SourceItem {
        SourceItem { id: s.id, name: s.name }
    }
}

/// `?userId=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
}

/// `?serviceId=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    #[serde(rename = "serviceId")]
    pub service_id: Option<String>,
}

/// `?collectorId=&offSystem=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SourcesQuery {
    #[serde(rename = "collectorId")]
    pub collector_id: Option<String>,
    /// `true` or `false`; read by the handler so a bad value is a problem object.
    #[serde(rename = "offSystem")]
    pub off_system: Option<String>,
}

/// `POST /purchases/submit-for-collection` body. Every field is read as sent and checked by the
/// handler and the core, so a missing one is a problem object naming it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SubmitForCollection {
    pub service_id: Option<String>,
    pub medium_id: Option<String>,
    pub success_url: Option<String>,
    pub failure_url: Option<String>,
    /// `true` when absent: the call is "pay now".
    pub process_immediate_purchase: Option<bool>,
    pub purchase_id: Option<String>,
    pub purchase_source_id: Option<String>,
    pub comment: Option<String>,
}

/// `POST /purchases/submit-for-collection` answer: the page to send the customer to, if any.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CollectionAnswer {
    pub payment_link_url: Option<String>,
}

/// `/peach-redirect/{collectorId}` parameters (query or posted form): the UI URL, and the
/// payment's reference under any of the names a gateway or Settle's own return gives it.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RedirectParams {
    pub url: Option<String>,
    pub token: Option<String>,
    pub merchant_reference: Option<String>,
    #[serde(rename = "merchantTransactionId")]
    pub merchant_transaction_id: Option<String>,
}

impl RedirectParams {
    /// The payment's reference, however it was named.
    pub fn reference(&self) -> Option<&str> {
        [&self.token, &self.merchant_reference, &self.merchant_transaction_id]
            .into_iter()
            .find_map(|r| r.as_deref().map(str::trim).filter(|r| !r.is_empty()))
    }
}

/// `GET /payfast-payments/card-medium-update/{mediumDetailId}`: the gateway's card-update page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CardUpdateUrl {
    /// Where to send the customer (add `?return={returnUrl}`).
    pub pay_fast_url: String,
}
