//! Seed 004's shapes of billing schemes: the options `can_buy_info` offers, the buy-now body and
//! its quote, a product's scheme, the operator's rules and the default provider.

use super::*;

/// How a product is billed, in the document's words (`service_type`, a scheme's type).
pub(super) fn billing_type(product: &Product) -> &'static str {
    match product.billing_kind {
        BillingKind::RecurringMonthly => "Recurring",
        BillingKind::DayBundle if product.auto_recharge => "HybridDayBundle",
        BillingKind::DayBundle => "DayBundle",
        BillingKind::OnceOff => "OnceOff",
    }
}

/// A scheme's price option, as the scheme and `can_buy_info` show it: everything a client
/// needs to build a buy-now line.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PriceOption {
    /// The line's `product_price_id`.
    product_price_id: String,
    description: String,
    purchase_line_type_id: i64,
    /// Days (line type 1) or months (2) one quantity adds.
    period_contribution_per_quantity: i64,
    /// One quantity, excluding tax.
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    amount_per_quantity: Decimal,
    /// One quantity with its tax (a guide: a line's tax is rounded once, on its total).
    #[schema(schema_with = crate::api::openapi::decimal_number)]
    #[serde(with = "settle::money::decimal_number")]
    amount_per_quantity_incl: Decimal,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
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
#[derive(Serialize, utoipa::ToSchema)]
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
    pub(super) fn new(c: &BuyOptions, product: &Product) -> CanBuyInfo {
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
#[derive(Serialize, utoipa::ToSchema)]
pub struct SchemeView {
    product_id: String,
    product_code: String,
    product_name: String,
    operator_id: Option<String>,
    /// `Recurring`, `DayBundle`, `HybridDayBundle` (a day bundle with auto-recharge), `OnceOff`.
    billing_type: &'static str,
    currency: &'static str,
    #[schema(schema_with = crate::api::openapi::decimal_number)]
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
#[derive(Serialize, utoipa::ToSchema)]
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
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    #[serde(rename = "productId")]
    pub product_id: Option<String>,
}

/// `?mediumType=1|2`; read by the handler so a bad value is a problem object.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DefaultQuery {
    #[serde(rename = "mediumType")]
    pub medium_type: Option<String>,
}

/// `GET /default`: the provider new mediums of a type are set up with.
#[derive(Serialize, utoipa::ToSchema)]
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
