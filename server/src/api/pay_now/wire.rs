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
#[derive(Serialize)]
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
#[derive(Serialize)]
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
#[derive(Serialize)]
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
#[derive(Serialize)]
pub struct MustPayInfo {
    must_pay: bool,
    arrears_purchase: PurchaseView,
}

/// A purchase in the document's shape.
#[derive(Serialize)]
pub struct PurchaseView {
    id: String,
    service_id: String,
    #[serde(with = "settle::money::decimal_number")]
    amount_excl: Decimal,
    #[serde(with = "settle::money::decimal_number")]
    tax_amount: Decimal,
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
#[derive(Serialize)]
pub struct LineView {
    id: String,
    purchase_id: String,
    original_purchase_line_id: Option<String>,
    purchase_line_type_id: i64,
    description: String,
    #[serde(with = "settle::money::decimal_number")]
    total_amount: Decimal,
    #[serde(with = "settle::money::decimal_number")]
    amount_per_quantity: Decimal,
    #[serde(with = "settle::money::decimal_number")]
    net_amount_excl: Decimal,
    #[serde(with = "settle::money::decimal_number")]
    tax_rate: Decimal,
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
#[derive(Serialize)]
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
#[derive(Deserialize)]
pub struct UserQuery {
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
}

/// `?serviceId=`.
#[derive(Deserialize)]
pub struct ServiceQuery {
    #[serde(rename = "serviceId")]
    pub service_id: Option<String>,
}

/// `?collectorId=&offSystem=`.
#[derive(Deserialize)]
pub struct SourcesQuery {
    #[serde(rename = "collectorId")]
    pub collector_id: Option<String>,
    /// `true` or `false`; read by the handler so a bad value is a problem object.
    #[serde(rename = "offSystem")]
    pub off_system: Option<String>,
}

/// `POST /purchases/submit-for-collection` body. Every field is read as sent and checked by the
/// handler and the core, so a missing one is a problem object naming it.
#[derive(Deserialize)]
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
#[derive(Serialize)]
pub struct CollectionAnswer {
    pub payment_link_url: Option<String>,
}

/// `/peach-redirect/{collectorId}` parameters (query or posted form): the UI URL, and the
/// payment's reference under any of the names a gateway or Settle's own return gives it.
#[derive(Debug, Default, Deserialize)]
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

/// How a product is billed, in the document's words (`service_type`, a scheme's type).
fn billing_type(product: &Product) -> &'static str {
    match product.billing_kind {
        BillingKind::RecurringMonthly => "Recurring",
        BillingKind::DayBundle if product.auto_recharge => "HybridDayBundle",
        BillingKind::DayBundle => "DayBundle",
        BillingKind::OnceOff => "OnceOff",
    }
}

/// A scheme's price option, as the scheme and `can_buy_info` show it: everything a client
/// needs to build a buy-now line.
#[derive(Serialize)]
pub struct PriceOption {
    /// The line's `product_price_id`.
    product_price_id: String,
    description: String,
    purchase_line_type_id: i64,
    /// Days (line type 1) or months (2) one quantity adds.
    period_contribution_per_quantity: i64,
    /// One quantity, excluding tax.
    #[serde(with = "settle::money::decimal_number")]
    amount_per_quantity: Decimal,
    /// One quantity with its tax (a guide: a line's tax is rounded once, on its total).
    #[serde(with = "settle::money::decimal_number")]
    amount_per_quantity_incl: Decimal,
    #[serde(with = "settle::money::decimal_number")]
    tax_rate: Decimal,
    min_quantity: i64,
    max_quantity: i64,
}

impl PriceOption {
    fn new(price: &ProductPrice, unit: TaxSplit, rate: TaxRate, max_quantity: i64) -> PriceOption {
        PriceOption {
            product_price_id: price.id.to_string(),
            description: price.description.clone(),
            purchase_line_type_id: price.line_type.id(),
            period_contribution_per_quantity: price.period_per_quantity,
            amount_per_quantity: unit.excl().to_decimal(),
            amount_per_quantity_incl: unit.gross().to_decimal(),
            tax_rate: rate.percent(),
            min_quantity: price.min_quantity,
            max_quantity,
        }
    }
}

/// `can_buy_info`: the options the customer may buy now.
#[derive(Serialize)]
pub struct CanBuyInfo {
    can_buy: bool,
    /// `DayBundles` or `MonthsAhead`.
    buy_type: &'static str,
    currency: &'static str,
    /// The latest the service may be paid up to (the scheme's months-ahead limit).
    furthest_period_end_date: String,
    options: Vec<PriceOption>,
}

impl CanBuyInfo {
    fn new(c: &BuyOptions, product: &Product) -> CanBuyInfo {
        CanBuyInfo {
            can_buy: true,
            buy_type: match c.kind {
                BuyKind::DayBundles => "DayBundles",
                BuyKind::MonthsAhead => "MonthsAhead",
            },
            currency: product.unit_price.currency().code(),
            furthest_period_end_date: iso(c.furthest_period_end),
            options: c
                .options
                .iter()
                .map(|o| PriceOption::new(&o.price, o.unit, product.tax_rate, o.max_quantity))
                .collect(),
        }
    }
}

/// `POST /purchases/buy-now` body, with every field the document's two examples send.
#[derive(Deserialize)]
pub struct BuyNowBody {
    pub service_id: String,
    pub purchase_lines: Vec<BuyNowLine>,
    #[serde(default)]
    pub customer_statement_ref: Option<String>,
    #[serde(default)]
    pub purchase_date: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    pub purchase_source_id: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A buy-now line; its amounts are checked against Settle's price, never used.
#[derive(Deserialize)]
pub struct BuyNowLine {
    /// Ignored: Settle gives each line its own id.
    #[serde(default)]
    pub id: Option<String>,
    pub purchase_line_type_id: i64,
    /// Ignored: the line takes the option's description.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, with = "settle::money::decimal_number::option")]
    pub total_amount: Option<Decimal>,
    #[serde(default, with = "settle::money::decimal_number::option")]
    pub amount_per_quantity: Option<Decimal>,
    #[serde(default, with = "settle::money::decimal_number::option")]
    pub amount_per_quantity_incl: Option<Decimal>,
    #[serde(default, with = "settle::money::decimal_number::option")]
    pub net_amount_excl: Option<Decimal>,
    #[serde(default, with = "settle::money::decimal_number::option")]
    pub tax_rate: Option<Decimal>,
    #[serde(default, with = "settle::money::decimal_number::option")]
    pub tax_amount: Option<Decimal>,
    pub quantity: i64,
    pub period_contribution_per_quantity: i64,
    #[serde(default)]
    pub product_price_id: Option<String>,
}

impl From<BuyNowBody> for BuyNow {
    fn from(b: BuyNowBody) -> BuyNow {
        BuyNow {
            service_id: b.service_id,
            lines: b
                .purchase_lines
                .into_iter()
                .map(|l| BuyLine {
                    product_price_id: l.product_price_id,
                    line_type_id: l.purchase_line_type_id,
                    period_per_quantity: l.period_contribution_per_quantity,
                    quantity: l.quantity,
                    total_amount: l.total_amount,
                    amount_per_quantity: l.amount_per_quantity,
                    amount_per_quantity_incl: l.amount_per_quantity_incl,
                    net_amount_excl: l.net_amount_excl,
                    tax_rate: l.tax_rate,
                    tax_amount: l.tax_amount,
                })
                .collect(),
            customer_statement_ref: b.customer_statement_ref,
            purchase_date: b.purchase_date.map(|d| d.with_timezone(&Utc)),
            purchase_source_id: b.purchase_source_id,
            comment: b.comment,
        }
    }
}

/// The document's `purchase_creation_event_id` of a buy-now purchase (its example's 6).
const BUY_NOW_CREATION_EVENT: i64 = 6;

impl PurchaseView {
    /// A buy-now quote as `POST /purchases/buy-now` answers it.
    pub fn of_quote(q: &Quote) -> PurchaseView {
        let p = &q.purchase;
        PurchaseView {
            id: p.id.to_string(),
            service_id: q.service.reference.clone(),
            amount_excl: p.amounts.excl().to_decimal(),
            tax_amount: p.amounts.tax().to_decimal(),
            amount: p.amounts.gross().to_decimal(),
            medium_id: None,
            purchase_date: iso(p.purchase_date),
            purchase_status_id: purchase_status_id(p.status),
            payment_reference: None,
            small_key: None,
            purchase_plan_id: None,
            period_applied: p.status == PurchaseStatus::Paid,
            purchase_source_id: buy_now::purchase_source_id(p),
            purchase_creation_event_id: Some(BUY_NOW_CREATION_EVENT),
            purchase_lines: p
                .lines
                .iter()
                .map(|l| LineView {
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
                    product_price_id: buy_now::product_price_id(p, l).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// `GET /configurations/billingScheme/Product/{productId}`: a product's billing scheme.
#[derive(Serialize)]
pub struct SchemeView {
    product_id: String,
    product_code: String,
    product_name: String,
    operator_id: Option<String>,
    /// `Recurring`, `DayBundle`, `HybridDayBundle` (a day bundle with auto-recharge), `OnceOff`.
    billing_type: &'static str,
    currency: &'static str,
    #[serde(with = "settle::money::decimal_number")]
    tax_rate: Decimal,
    collection_day: Option<u8>,
    auto_recharge: bool,
    recharge_days_before: i64,
    months_ahead_limit: i64,
    accepts_immediate_payments: bool,
    product_prices: Vec<PriceOption>,
}

impl From<&BillingScheme> for SchemeView {
    fn from(s: &BillingScheme) -> SchemeView {
        let p = &s.product;
        SchemeView {
            product_id: p.id.to_string(),
            product_code: p.code.clone(),
            product_name: p.name.clone(),
            operator_id: p.merchant_id.as_ref().map(|m| m.to_string()),
            billing_type: billing_type(p),
            currency: p.unit_price.currency().code(),
            tax_rate: p.tax_rate.percent(),
            collection_day: p.collection_day,
            auto_recharge: p.auto_recharge,
            recharge_days_before: s.settings.recharge_days_before,
            months_ahead_limit: s.settings.months_ahead_limit,
            accepts_immediate_payments: s.settings.accepts_immediate_payments,
            product_prices: s
                .prices
                .iter()
                .filter_map(|price| {
                    let unit = s.unit_amounts(price).ok()?;
                    Some(PriceOption::new(price, unit, p.tax_rate, price.max_quantity))
                })
                .collect(),
        }
    }
}

/// `GET /config`: the operator's rules, each product's scheme.
#[derive(Serialize)]
pub struct RulesView {
    operator_id: String,
    operator_name: String,
    products: Vec<SchemeView>,
}

impl From<&OperatorRules> for RulesView {
    fn from(r: &OperatorRules) -> RulesView {
        RulesView {
            operator_id: r.merchant.id.to_string(),
            operator_name: r.merchant.name.clone(),
            products: r.schemes.iter().map(SchemeView::from).collect(),
        }
    }
}

/// `?productId=` (optional on `GET /config`).
#[derive(Deserialize)]
pub struct ConfigQuery {
    #[serde(rename = "productId")]
    pub product_id: Option<String>,
}

/// `?mediumType=1|2`; read by the handler so a bad value is a problem object.
#[derive(Deserialize)]
pub struct DefaultQuery {
    #[serde(rename = "mediumType")]
    pub medium_type: Option<String>,
}

/// `GET /default`: the provider new mediums of a type are set up with.
#[derive(Serialize)]
pub struct DefaultProvider {
    /// The gateway's key (`peach-zar`).
    id: String,
    name: String,
    provider: String,
    medium_type: &'static str,
    medium_type_id: u8,
}

impl DefaultProvider {
    /// The gateway as the default for mediums of `kind` (seed number `kind_id`).
    pub fn new(g: &Gateway, kind: MethodKind, kind_id: u8) -> DefaultProvider {
        DefaultProvider {
            id: g.id.clone(),
            name: g.name.clone(),
            provider: g.provider.clone(),
            medium_type: medium_type(kind),
            medium_type_id: kind_id,
        }
    }
}

/// `GET /payfast-payments/card-medium-update/{mediumDetailId}`: the gateway's card-update page.
#[derive(Serialize)]
pub struct CardUpdateUrl {
    /// Where to send the customer (add `?return={returnUrl}`).
    pub pay_fast_url: String,
}
