//! Seed 003's card payments for a quote (`/api/v1/payments/{uuid}/`): the payment object built
//! from the policy service, its purchase and the latest payment attempt, and the take-payment
//! use case that checks card details and the billing address before the orchestrator sees them.
//!
//! A quote is prepared once per purchase ([`prepare`]): that stores a payment object with its own
//! uuid and a copy of the quote's policy address. Every take-payment is a new attempt through
//! [`Orchestrator::start`]; the object shows the newest one, so its uuid survives retries.
//! Of the card, only what the orchestrator keeps (brand, last four digits, expiry) is stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::access::Viewer;
use crate::card::{CardBrand, CardNumber, Cvv, ExpiryDate};
use crate::connector::{Address, CardDetails};
use crate::customer::CustomerId;
use crate::db::{Db, Tx};
use crate::error::{Error, FieldError, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::payment::{Instrument, Orchestrator, Payment, PaymentRequest, PaymentState};
use crate::product::ServiceKind;
use crate::purchase::{Purchase, PurchaseId, PurchaseStatus};
use crate::service::{Service, ServiceId};
use crate::{with_db, with_tx};

crate::id_type!(
    /// Identifies a quote's payment object: the `uuid` of seed 003's payment.
    QuotePaymentId
);

crate::id_type!(
    /// Identifies a postal address (seed 003's address `uuid`).
    AddressId
);

/// Longest address line accepted.
const MAX_ADDRESS_LINE: usize = 100;
/// Longest card holder name accepted (what card acquirers take).
const MAX_CARD_HOLDER: usize = 50;
/// The vehicle fields of seed 003's policy object, in its order; missing ones are `null`.
const VEHICLE_FIELDS: [&str; 15] = [
    "vehicle_type",
    "reg_no",
    "abi_code",
    "year_of_manufacture",
    "cc",
    "number_of_doors",
    "number_of_seats",
    "make",
    "model",
    "gearbox_type_id",
    "gearbox_type_name",
    "body_type_id",
    "body_type_name",
    "fuel_type_id",
    "fuel_type_name",
];

/// Whether a viewer may see a quote: a policy the access rule lets them see.
fn may_see(viewer: &Viewer, service: &Service) -> bool {
    service.kind == ServiceKind::Policy && viewer.may_see(service)
}

/// How a client names the quote it wants to pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuoteRef {
    /// The policy number (`DEMO/0002/SHORT/WEB`).
    PolicyNumber(String),
    /// The quote id, as in the payment object's `quote` URL.
    Quote(String),
}

impl QuoteRef {
    /// A quote given by its id or by its URL (`…/api/v1/quote-requests/quotes/{id}/`).
    pub fn quote(id_or_url: &str) -> QuoteRef {
        let trimmed = id_or_url.trim().trim_end_matches('/');
        let id = trimmed.rsplit('/').next().unwrap_or(trimmed);
        QuoteRef::Quote(id.to_owned())
    }
}

/// A postal address with the uuid and times seed 003's address objects show.
#[derive(Clone, Debug)]
pub struct PostalAddress {
    /// The address uuid.
    pub id: AddressId,
    /// Whose address it is.
    pub customer_id: CustomerId,
    /// House, street, city, county, postcode.
    pub lines: Address,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AddressRow {
    id: AddressId,
    customer_id: CustomerId,
    house: Option<String>,
    street: Option<String>,
    city: Option<String>,
    county: Option<String>,
    postcode: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AddressRow> for PostalAddress {
    fn from(r: AddressRow) -> PostalAddress {
        PostalAddress {
            id: r.id,
            customer_id: r.customer_id,
            lines: Address {
                house: r.house,
                street: r.street,
                city: r.city,
                county: r.county,
                postcode: r.postcode,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl PostalAddress {
    fn new(customer_id: CustomerId, lines: Address) -> PostalAddress {
        let now = Utc::now();
        PostalAddress {
            id: AddressId::generate(),
            customer_id,
            lines,
            created_at: now,
            updated_at: now,
        }
    }

    async fn insert(&self, tx: &mut Tx) -> Result<()> {
        let sql = "INSERT INTO customer_addresses (id, customer_id, house, street, city, county, postcode, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(&self.id)
            .bind(&self.customer_id)
            .bind(&self.lines.house)
            .bind(&self.lines.street)
            .bind(&self.lines.city)
            .bind(&self.lines.county)
            .bind(&self.lines.postcode)
            .bind(self.created_at)
            .bind(self.updated_at)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Loads an address by its uuid.
    pub async fn find(db: &Db, id: &AddressId) -> Result<Option<PostalAddress>> {
        let sql =
            "SELECT id, customer_id, house, street, city, county, postcode, created_at, updated_at
                   FROM customer_addresses WHERE id = $1";
        let row: Option<AddressRow> =
            with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        Ok(row.map(PostalAddress::from))
    }

    /// Seed 003's address object.
    pub fn object(&self, base_url: &str) -> AddressObject {
        let uuid = self.id.to_string();
        AddressObject {
            url: format!("{}/api/v1/user/address/{uuid}/", base(base_url)),
            uuid,
            created_at: timestamp(self.created_at),
            updated_at: timestamp(self.updated_at),
            house: self.lines.house.clone(),
            street: self.lines.street.clone(),
            city: self.lines.city.clone(),
            county: self.lines.county.clone(),
            postcode: self.lines.postcode.clone(),
        }
    }
}

/// A quote prepared for card payment: seed 003's payment, before its latest attempt is added.
#[derive(Clone, Debug)]
pub struct QuotePayment {
    /// The payment uuid clients use in URLs.
    pub id: QuotePaymentId,
    /// What it pays.
    pub purchase_id: PurchaseId,
    /// The policy it pays for.
    pub service_id: ServiceId,
    /// The policy's number.
    pub policy_number: String,
    /// The copy of the quote's policy address, if the quote has one.
    pub policy_address_id: Option<AddressId>,
    /// Whether the last take-payment billed the policy address.
    pub billing_use_policy_address: bool,
    /// The billing address of the last take-payment, when it was not the policy address.
    pub billing_address_id: Option<AddressId>,
    /// When it was prepared.
    pub created_at: DateTime<Utc>,
    /// When a take-payment last changed it.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct QuotePaymentRow {
    id: QuotePaymentId,
    purchase_id: PurchaseId,
    service_id: ServiceId,
    policy_number: String,
    policy_address_id: Option<AddressId>,
    billing_use_policy_address: bool,
    billing_address_id: Option<AddressId>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<QuotePaymentRow> for QuotePayment {
    fn from(r: QuotePaymentRow) -> QuotePayment {
        QuotePayment {
            id: r.id,
            purchase_id: r.purchase_id,
            service_id: r.service_id,
            policy_number: r.policy_number,
            policy_address_id: r.policy_address_id,
            billing_use_policy_address: r.billing_use_policy_address,
            billing_address_id: r.billing_address_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT_QUOTE_PAYMENT: &str = "SELECT qp.id, qp.purchase_id, qp.service_id, s.reference AS policy_number, qp.policy_address_id, qp.billing_use_policy_address, qp.billing_address_id, qp.created_at, qp.updated_at
     FROM quote_payments qp JOIN services s ON s.id = qp.service_id";

/// What [`prepare`] did.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The payment object.
    pub payment: QuotePayment,
    /// Whether this call created it (false: it existed already).
    pub created: bool,
}

/// Prepares a quote for card payment: the payment object of its open purchase, created on first
/// call. A quote already paid returns the object it was paid through; a quote with nothing to pay
/// and no such object is a conflict.
pub async fn prepare(db: &Db, viewer: &Viewer, quote: &QuoteRef) -> Result<Prepared> {
    let service = visible_service(db, viewer, quote).await?;
    let open = Purchase::open_for_service(db, &service.id).await?;
    let Some(purchase) = open.into_iter().next() else {
        return match for_service(db, &service.id).await?.into_iter().next() {
            Some(payment) => Ok(Prepared { payment, created: false }),
            None => {
                Err(Error::Conflict(format!("policy {} has nothing to pay", service.reference)))
            }
        };
    };
    if let Some(payment) = for_purchase(db, &purchase.id).await? {
        return Ok(Prepared { payment, created: false });
    }
    let policy_address = policy_address_lines(&service)
        .map(|lines| PostalAddress::new(service.customer_id.clone(), lines));
    let now = Utc::now();
    let payment = QuotePayment {
        id: QuotePaymentId::from_string(uuid::Uuid::new_v4().to_string()),
        purchase_id: purchase.id.clone(),
        service_id: service.id.clone(),
        policy_number: service.reference.clone(),
        policy_address_id: policy_address.as_ref().map(|a| a.id.clone()),
        billing_use_policy_address: true,
        billing_address_id: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.begin().await?;
    if let Some(address) = &policy_address {
        address.insert(&mut tx).await?;
    }
    let sql = "INSERT INTO quote_payments (id, purchase_id, service_id, policy_address_id, billing_use_policy_address, billing_address_id, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (purchase_id) DO NOTHING";
    let inserted = with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(&payment.id)
        .bind(&payment.purchase_id)
        .bind(&payment.service_id)
        .bind(&payment.policy_address_id)
        .bind(payment.billing_use_policy_address)
        .bind(&payment.billing_address_id)
        .bind(payment.created_at)
        .bind(payment.updated_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if inserted == 0 {
        // A concurrent prepare of the same purchase won; its object is the one.
        drop(tx);
        let payment = for_purchase(db, &purchase.id)
            .await?
            .ok_or_else(|| Error::Internal("a prepared quote payment vanished".into()))?;
        return Ok(Prepared { payment, created: false });
    }
    tx.commit().await?;
    Ok(Prepared { payment, created: true })
}

/// The payment object with this uuid, if the viewer may see it.
pub async fn find(db: &Db, viewer: &Viewer, id: &str) -> Result<QuotePayment> {
    let payment = find_by_id(db, id).await?.ok_or(Error::NotFound("payment"))?;
    let service = Service::find_by_reference(db, &payment.policy_number).await?;
    match service {
        Some(service) if may_see(viewer, &service) => Ok(payment),
        _ => Err(Error::NotFound("payment")),
    }
}

/// The payment objects of a quote the viewer may see, newest first.
pub async fn for_quote(db: &Db, viewer: &Viewer, quote: &QuoteRef) -> Result<Vec<QuotePayment>> {
    match visible_service(db, viewer, quote).await {
        Ok(service) => for_service(db, &service.id).await,
        Err(Error::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// An address the viewer may see: one a visible payment object shows.
pub async fn find_address(db: &Db, viewer: &Viewer, id: &str) -> Result<PostalAddress> {
    let sql = format!(
        "{SELECT_QUOTE_PAYMENT} WHERE qp.policy_address_id = $1 OR qp.billing_address_id = $1"
    );
    let rows: Vec<QuotePaymentRow> =
        with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_all(pool).await)?;
    for row in rows {
        if find(db, viewer, row.id.as_str()).await.is_ok() {
            return PostalAddress::find(db, &AddressId::from_string(id))
                .await?
                .ok_or(Error::NotFound("address"));
        }
    }
    Err(Error::NotFound("address"))
}

async fn find_by_id(db: &Db, id: &str) -> Result<Option<QuotePayment>> {
    let sql = format!("{SELECT_QUOTE_PAYMENT} WHERE qp.id = $1");
    let row: Option<QuotePaymentRow> =
        with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    Ok(row.map(QuotePayment::from))
}

async fn for_purchase(db: &Db, purchase: &PurchaseId) -> Result<Option<QuotePayment>> {
    let sql = format!("{SELECT_QUOTE_PAYMENT} WHERE qp.purchase_id = $1");
    let row: Option<QuotePaymentRow> =
        with_db!(db, pool => sqlx::query_as(&sql).bind(purchase).fetch_optional(pool).await)?;
    Ok(row.map(QuotePayment::from))
}

async fn for_service(db: &Db, service: &ServiceId) -> Result<Vec<QuotePayment>> {
    let sql = format!(
        "{SELECT_QUOTE_PAYMENT} WHERE qp.service_id = $1 ORDER BY qp.created_at DESC, qp.id DESC"
    );
    let rows: Vec<QuotePaymentRow> =
        with_db!(db, pool => sqlx::query_as(&sql).bind(service).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(QuotePayment::from).collect())
}

/// The policy a quote reference names, if it exists and the viewer may see it.
async fn visible_service(db: &Db, viewer: &Viewer, quote: &QuoteRef) -> Result<Service> {
    let service = match quote {
        QuoteRef::PolicyNumber(number) => Service::find_by_reference(db, number.trim()).await?,
        QuoteRef::Quote(id) => service_by_quote_id(db, id).await?,
    };
    service.filter(|s| may_see(viewer, s)).ok_or(Error::NotFound("quote"))
}

/// The policy whose quote has this id (its `details.quote.reference`, else the policy's own id).
async fn service_by_quote_id(db: &Db, quote_id: &str) -> Result<Option<Service>> {
    // Quote ids are uuids or references like `Q-2026-000173`; anything else names no quote, and
    // this keeps LIKE's wildcards out of the pattern.
    if quote_id.is_empty() || !quote_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Ok(None);
    }
    // The text match narrows the candidates; the JSON comparison below decides.
    let sql =
        "SELECT reference FROM services WHERE kind = 'policy' AND (id = $1 OR details LIKE $2)";
    let references: Vec<String> = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(quote_id)
        .bind(format!("%{quote_id}%"))
        .fetch_all(pool)
        .await)?;
    for reference in references {
        if let Some(service) = Service::find_by_reference(db, &reference).await?
            && quote_id_of(&service) == quote_id
        {
            return Ok(Some(service));
        }
    }
    Ok(None)
}

/// The quote id a policy's payment object links to.
fn quote_id_of(service: &Service) -> String {
    service.details["quote"]["reference"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| service.id.to_string())
}

/// The policy address in a quote's details, if it has one.
fn policy_address_lines(service: &Service) -> Option<Address> {
    let lines: Address =
        serde_json::from_value(service.details.get("policy_address")?.clone()).ok()?;
    (lines != Address::default()).then_some(lines)
}

/// A take-payment request, checked: the card and where to bill it.
#[derive(Clone, Debug)]
pub struct TakePayment {
    /// The card (its `Debug` shows only the last four digits).
    pub card: CardDetails,
    /// The billing address choice.
    pub billing: Billing,
}

/// Where a card payment is billed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Billing {
    /// `billing_use_policy_address: true`.
    PolicyAddress,
    /// `billing_use_policy_address: false` with this `billing_address`.
    Address(Address),
}

impl TakePayment {
    /// Reads seed 003's take-payment body. Every problem is reported under the client's own
    /// field name (`card_details.card_number`, `billing_address.postcode`).
    pub fn parse(body: &Value, today: NaiveDate) -> Result<TakePayment> {
        let mut errors = Vec::new();
        let Some(body) = body.as_object() else {
            return Err(Error::invalid("body", "must be a JSON object"));
        };
        let card = match body.get("card_details") {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("card_details", "is required"));
                None
            }
            Some(Value::Object(card)) => parse_card(card, today, &mut errors),
            Some(_) => {
                errors.push(FieldError::new("card_details", "must be an object"));
                None
            }
        };
        let billing = parse_billing(body, &mut errors);
        match (card, billing) {
            (Some(card), Some(billing)) if errors.is_empty() => Ok(TakePayment { card, billing }),
            _ => Err(Error::Validation(errors)),
        }
    }
}

/// A required string field, trimmed.
fn required_text(
    object: &Map<String, Value>,
    key: &str,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match optional_text(object, key, field, errors) {
        Ok(Some(text)) => Some(text),
        Ok(None) => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Err(()) => None,
    }
}

/// An optional string field, trimmed; empty is absent. `Err` once the error is recorded.
fn optional_text(
    object: &Map<String, Value>,
    key: &str,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Option<String>, ()> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            Err(())
        }
    }
}

fn parse_card(
    card: &Map<String, Value>,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<CardDetails> {
    let field = |name: &str| format!("card_details.{name}");
    let holder = required_text(card, "card_holder", &field("card_holder"), errors);
    if let Some(holder) = &holder
        && holder.chars().count() > MAX_CARD_HOLDER
    {
        errors.push(FieldError::new(
            field("card_holder"),
            format!("must be at most {MAX_CARD_HOLDER} characters"),
        ));
    }
    let number = required_text(card, "card_number", &field("card_number"), errors).and_then(|n| {
        CardNumber::parse(&n).map_err(|e| errors.push(e.at(field("card_number")))).ok()
    });
    let expiry = required_text(card, "expiry_date", &field("expiry_date"), errors).and_then(|e| {
        ExpiryDate::parse(&e).map_err(|e| errors.push(e.at(field("expiry_date")))).ok()
    });
    if let Some(expiry) = expiry
        && expiry.is_expired_at(today)
    {
        errors.push(FieldError::new(field("expiry_date"), "the card has expired"));
    }
    let cvv = required_text(card, "cv2", &field("cv2"), errors)
        .and_then(|c| Cvv::parse(&c).map_err(|e| errors.push(e.at(field("cv2")))).ok());
    if let (Some(cvv), Some(number)) = (&cvv, &number)
        && let Err(e) = cvv.check_for(number.brand())
    {
        errors.push(e.at(field("cv2")));
    }
    // `card_type` is optional; when sent it must name the number's scheme (`VISA DEBIT` is VISA).
    if let Ok(Some(card_type)) = optional_text(card, "card_type", &field("card_type"), errors) {
        match card_type.parse::<CardBrand>() {
            Ok(brand) => {
                if let Some(number) = &number
                    && number.brand() != brand
                {
                    errors.push(FieldError::new(
                        field("card_type"),
                        format!(
                            "{card_type} does not match the card number, which is a {} card",
                            number.brand()
                        ),
                    ));
                }
            }
            Err(e) => errors.push(e.at(field("card_type"))),
        }
    }
    match (holder, number, expiry, cvv) {
        (Some(holder), Some(number), Some(expiry), Some(cvv)) => {
            Some(CardDetails { holder, number, expiry, cvv })
        }
        _ => None,
    }
}

fn parse_billing(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Billing> {
    let address = match body.get("billing_address") {
        None | Some(Value::Null) => None,
        Some(Value::Object(address)) => Some(address),
        Some(_) => {
            errors.push(FieldError::new("billing_address", "must be an object"));
            return None;
        }
    };
    let use_policy = match body.get("billing_use_policy_address") {
        // Absent: bill the address sent, else the policy address.
        None | Some(Value::Null) => address.is_none(),
        Some(Value::Bool(flag)) => *flag,
        Some(_) => {
            errors.push(FieldError::new("billing_use_policy_address", "must be true or false"));
            return None;
        }
    };
    if use_policy {
        return Some(Billing::PolicyAddress);
    }
    let Some(address) = address else {
        errors.push(FieldError::new(
            "billing_address",
            "is required when billing_use_policy_address is false",
        ));
        return None;
    };
    let before = errors.len();
    let mut line = |key: &str| {
        let field = format!("billing_address.{key}");
        match optional_text(address, key, &field, errors) {
            Ok(Some(text)) if text.chars().count() > MAX_ADDRESS_LINE => {
                errors.push(FieldError::new(
                    field,
                    format!("must be at most {MAX_ADDRESS_LINE} characters"),
                ));
                None
            }
            Ok(text) => text,
            Err(()) => None,
        }
    };
    let lines = Address {
        house: line("house"),
        street: line("street"),
        city: line("city"),
        county: line("county"),
        postcode: line("postcode"),
    };
    if errors.len() != before {
        return None;
    }
    if lines.house.is_none() && lines.street.is_none() {
        errors.push(FieldError::new("billing_address.street", "a house or a street is required"));
    }
    if lines.postcode.is_none() {
        errors.push(FieldError::new("billing_address.postcode", "is required"));
    }
    (errors.len() == before).then_some(Billing::Address(lines))
}

/// Takes a card payment for a prepared quote: checks the request, starts a new attempt through
/// the product's card gateways (any open attempt is replaced), then records the billing choice.
/// Validation failures and refused attempts (409) store nothing.
pub async fn take_payment(
    payments: &Orchestrator,
    viewer: &Viewer,
    id: &str,
    body: &Value,
    idempotency_key: Option<String>,
) -> Result<QuotePayment> {
    let db = payments.db();
    let quote_payment = find(db, viewer, id).await?;
    let request = TakePayment::parse(body, Utc::now().date_naive())?;
    let billing_address = match &request.billing {
        Billing::Address(lines) => lines.clone(),
        Billing::PolicyAddress => match &quote_payment.policy_address_id {
            Some(id) => PostalAddress::find(db, id)
                .await?
                .map(|a| a.lines)
                .ok_or_else(|| Error::Internal(format!("policy address {id} vanished")))?,
            None => {
                return Err(Error::invalid(
                    "billing_use_policy_address",
                    "this quote has no policy address; send a billing_address",
                ));
            }
        },
    };
    let purchase = Purchase::find(db, &quote_payment.purchase_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("purchase of payment {id} vanished")))?;
    // A retry of a request that already started an attempt answers that attempt.
    if payments.earlier_attempt(idempotency_key.as_deref()).await?.is_some() {
        return find_by_id(db, id).await?.ok_or(Error::NotFound("payment"));
    }
    if !matches!(purchase.status, PurchaseStatus::Open | PurchaseStatus::Quote) {
        return Err(Error::Conflict("this quote has been paid already".into()));
    }
    let service = Service::find_by_reference(db, &quote_payment.policy_number)
        .await?
        .ok_or_else(|| Error::Internal(format!("policy of payment {id} vanished")))?;
    let gateways: Vec<String> = Gateway::for_product(db, &service.product_id)
        .await?
        .into_iter()
        .filter(|g| g.kind == GatewayKind::Card3ds && g.currency == purchase.amounts.currency())
        .map(|g| g.id)
        .collect();
    if gateways.is_empty() {
        return Err(Error::Conflict("no card gateway takes payments for this quote".into()));
    }
    let billing = request.billing;
    payments
        .start(PaymentRequest {
            payer: viewer.clone(),
            purchase_id: purchase.id.clone(),
            gateways,
            instrument: Instrument::Card { card: request.card, billing_address },
            return_url: None,
            details: json!({ "quote_payment": quote_payment.id }),
            idempotency_key,
        })
        .await?;
    // The attempt exists (whatever its outcome): the object shows the address it was billed to.
    record_billing(db, &quote_payment, &service.customer_id, &billing).await?;
    find_by_id(db, id).await?.ok_or(Error::NotFound("payment"))
}

/// Stores the billing choice of a take-payment; an address equal to the last one keeps its uuid.
async fn record_billing(
    db: &Db,
    payment: &QuotePayment,
    customer: &CustomerId,
    billing: &Billing,
) -> Result<()> {
    let billing_address_id = match billing {
        Billing::PolicyAddress => None,
        Billing::Address(lines) => {
            let current = match &payment.billing_address_id {
                Some(id) => PostalAddress::find(db, id).await?,
                None => None,
            };
            match current {
                Some(current) if current.lines == *lines => Some(current.id),
                _ => {
                    let address = PostalAddress::new(customer.clone(), lines.clone());
                    let mut tx = db.begin().await?;
                    address.insert(&mut tx).await?;
                    tx.commit().await?;
                    Some(address.id)
                }
            }
        }
    };
    let sql = "UPDATE quote_payments SET billing_use_policy_address = $2, billing_address_id = $3, updated_at = $4 WHERE id = $1";
    with_db!(db, pool => sqlx::query(sql)
        .bind(&payment.id)
        .bind(billing_address_id.is_none())
        .bind(&billing_address_id)
        .bind(Utc::now())
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Seed 003's payment object.
#[derive(Clone, Debug, Serialize)]
pub struct PaymentObject {
    /// The payment uuid.
    pub uuid: String,
    /// Where to poll it.
    pub url: String,
    /// When it was prepared.
    pub created_at: String,
    /// When it or its latest attempt last changed.
    pub updated_at: String,
    /// The quote's URL.
    pub quote: String,
    /// The policy, once POLICY_CONVERTED.
    pub policy: Option<PolicyObject>,
    /// The policy address.
    pub policy_address: Option<AddressObject>,
    /// The billing address (the policy address when `billing_use_policy_address`).
    pub billing_address: Option<AddressObject>,
    /// Whether the policy address is billed.
    pub billing_use_policy_address: bool,
    /// The state's name (`PAYMENT_SUCCESS`).
    pub payment_status_state: &'static str,
    /// The state's number (6).
    pub payment_status: i16,
    /// A sentence for the customer.
    pub client_feedback: &'static str,
    /// The 3-D Secure challenge request, while PAYMENT_3DAUTH.
    pub creq: Option<String>,
    /// The issuer's challenge page, while PAYMENT_3DAUTH.
    pub acsurl: Option<String>,
    /// The session data to post with `creq`, while PAYMENT_3DAUTH.
    pub three_ds_session_data: Option<String>,
}

/// Seed 003's policy object.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyObject {
    /// The policy's uuid.
    pub uuid: String,
    /// Its URL.
    pub url: String,
    /// When the payment converted it.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// The insured vehicle, if the quote has one.
    pub vehicle: Option<Value>,
    /// The policy number.
    pub policy_number: String,
    /// The insurer.
    pub insurer_name: Option<String>,
    /// The scheme's code.
    pub scheme_code: Option<String>,
    /// The scheme's name.
    pub scheme_name: Option<String>,
    /// When cover starts.
    pub policy_start_date: Option<String>,
    /// When cover ends.
    pub policy_end_date: Option<String>,
    /// Whole percent of the cover period elapsed (0–100).
    pub policy_progress: i64,
}

/// Seed 003's address object.
#[derive(Clone, Debug, Serialize)]
pub struct AddressObject {
    /// Its URL.
    pub url: String,
    /// Its uuid.
    pub uuid: String,
    /// When it was stored.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// House number or name.
    pub house: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// County.
    pub county: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
}

/// Builds the payment object: the prepared quote with its latest attempt's state. `base_url` is
/// Settle's public URL, for the object's links.
pub async fn payment_object(
    db: &Db,
    payment: &QuotePayment,
    base_url: &str,
) -> Result<PaymentObject> {
    let service = Service::find_by_reference(db, &payment.policy_number)
        .await?
        .ok_or_else(|| Error::Internal(format!("policy of payment {} vanished", payment.id)))?;
    let latest = Payment::for_purchase(db, &payment.purchase_id).await?.into_iter().next();
    let policy_address = match &payment.policy_address_id {
        Some(id) => PostalAddress::find(db, id).await?,
        None => None,
    };
    let billing_address = match (&payment.billing_address_id, payment.billing_use_policy_address) {
        (Some(id), false) => PostalAddress::find(db, id).await?,
        _ => policy_address.clone(),
    };
    // Before the first take-payment nothing was sent anywhere: CREATED.
    let state = latest.as_ref().map_or(PaymentState::Created, |p| p.state);
    let challenge = latest
        .as_ref()
        .and_then(|p| p.three_ds.as_ref())
        .filter(|_| state == PaymentState::Payment3dAuth);
    let updated_at =
        latest.as_ref().map_or(payment.updated_at, |p| p.updated_at.max(payment.updated_at));
    let policy = match &latest {
        Some(converted) if converted.state == PaymentState::PolicyConverted => {
            Some(policy_object(&service, converted.updated_at, base_url, Utc::now()))
        }
        _ => None,
    };
    let uuid = payment.id.to_string();
    Ok(PaymentObject {
        url: format!("{}/api/v1/payments/{uuid}/", base(base_url)),
        uuid,
        created_at: timestamp(payment.created_at),
        updated_at: timestamp(updated_at),
        quote: format!(
            "{}/api/v1/quote-requests/quotes/{}/",
            base(base_url),
            quote_id_of(&service)
        ),
        policy,
        policy_address: policy_address.as_ref().map(|a| a.object(base_url)),
        billing_address: billing_address.as_ref().map(|a| a.object(base_url)),
        billing_use_policy_address: payment.billing_use_policy_address,
        payment_status_state: state.name(),
        payment_status: state.code(),
        client_feedback: state.client_feedback(),
        creq: challenge.map(|c| c.creq.clone()),
        acsurl: challenge.map(|c| c.acs_url.clone()),
        three_ds_session_data: challenge.map(|c| c.session_data.clone()),
    })
}

/// The policy object of a converted quote; `converted_at` is when its payment converted it.
fn policy_object(
    service: &Service,
    converted_at: DateTime<Utc>,
    base_url: &str,
    now: DateTime<Utc>,
) -> PolicyObject {
    let quote = &service.details["quote"];
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let uuid = service.id.to_string();
    PolicyObject {
        url: format!("{}/api/v1/policies/{uuid}/", base(base_url)),
        uuid,
        created_at: timestamp(converted_at),
        updated_at: timestamp(service.updated_at.max(converted_at)),
        vehicle: vehicle_object(service, base_url),
        policy_number: service.reference.clone(),
        insurer_name: text(&quote["insurer_name"]),
        scheme_code: text(&quote["scheme_code"]),
        scheme_name: text(&quote["scheme_name"]),
        policy_start_date: service.period_start.map(timestamp),
        policy_end_date: service.period_end.map(timestamp),
        policy_progress: progress(service.period_start, service.period_end, now),
    }
}

/// The vehicle of a quote's details with seed 003's fields (missing ones `null`). Its uuid is the
/// one in the details, else derived from the policy's id, so it is the same on every read.
fn vehicle_object(service: &Service, base_url: &str) -> Option<Value> {
    let details = service.details.get("vehicle")?.as_object()?;
    let uuid = details
        .get("uuid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| derived_uuid("vehicle", service.id.as_str()));
    let mut vehicle = Map::new();
    vehicle.insert("url".into(), json!(format!("{}/api/v1/user/vehicles/{uuid}/", base(base_url))));
    vehicle.insert("uuid".into(), json!(uuid));
    vehicle.insert("created_at".into(), json!(timestamp(service.created_at)));
    vehicle.insert("updated_at".into(), json!(timestamp(service.created_at)));
    for field in VEHICLE_FIELDS {
        vehicle.insert(field.into(), details.get(field).cloned().unwrap_or(Value::Null));
    }
    for (key, value) in details {
        vehicle.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Some(Value::Object(vehicle))
}

/// A stable uuid for something stored without one (a quote's vehicle): SHA-256 of its kind and
/// owner, as a version 8 (custom) uuid.
fn derived_uuid(kind: &str, owner: &str) -> String {
    let digest = Sha256::digest(format!("settle:{kind}:{owner}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// Whole percent of the cover period elapsed at `now`, 0–100.
fn progress(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    match (start, end) {
        (Some(start), Some(end)) if end > start => {
            let total = (end - start).num_seconds().max(1);
            let elapsed = (now - start).num_seconds().clamp(0, total);
            elapsed * 100 / total
        }
        _ => 0,
    }
}

/// Seed 003's time format (Django REST framework's): RFC 3339 in UTC with `Z`, microseconds
/// when there are any (`2025-02-04T13:04:48.374818Z`, `2025-02-08T12:00:00Z`).
pub fn timestamp(t: DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros().min(999_999);
    if micros == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        format!("{}.{micros:06}Z", t.format("%Y-%m-%dT%H:%M:%S"))
    }
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn body(card_number: &str, expiry: &str) -> Value {
        json!({
            "card_details": {
                "card_holder": "J SMITH",
                "card_number": card_number,
                "expiry_date": expiry,
                "cv2": "123",
                "card_type": "VISA"
            },
            "billing_use_policy_address": true
        })
    }

    fn fields(result: Result<TakePayment>) -> Vec<String> {
        match result {
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn seed_003_test_cards_are_accepted_with_their_card_types() {
        for (number, card_type) in [
            ("4929 0000 0000 6", "VISA"),
            ("4462 0000 0000 0003", "VISA DEBIT"),
            ("5186 1506 6000 0009", "MASTERCARD"),
            ("5185 6900 6000 0001", "MASTERCARD DEBIT"),
        ] {
            let mut request = body(number, "1028");
            request["card_details"]["card_type"] = json!(card_type);
            let parsed = TakePayment::parse(&request, today()).unwrap();
            assert_eq!(parsed.card.number.expose_digits(), number.replace(' ', ""));
            assert_eq!(parsed.billing, Billing::PolicyAddress);
        }
    }

    #[test]
    fn the_documents_own_examples_are_refused_field_by_field() {
        // The first example's number fails the Luhn check.
        assert_eq!(
            fields(TakePayment::parse(&body("1234567890121234", "1028"), today())),
            ["card_details.card_number"]
        );
        // The second: the same number, a card that expired in October 2024.
        let mut second = body("1234567890121234", "1024");
        second["card_details"]["cv2"] = json!("588");
        assert_eq!(
            fields(TakePayment::parse(&second, today())),
            ["card_details.card_number", "card_details.expiry_date"]
        );
    }

    #[test]
    fn card_type_must_match_the_number() {
        let mut request = body("5186150660000009", "1028");
        request["card_details"]["card_type"] = json!("VISA");
        assert_eq!(fields(TakePayment::parse(&request, today())), ["card_details.card_type"]);
        request["card_details"]["card_type"] = json!("DINERS");
        assert_eq!(fields(TakePayment::parse(&request, today())), ["card_details.card_type"]);
        request["card_details"].as_object_mut().unwrap().remove("card_type");
        assert!(TakePayment::parse(&request, today()).is_ok(), "card_type may be left out");
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        assert_eq!(fields(TakePayment::parse(&json!({}), today())), ["card_details"]);
        assert_eq!(fields(TakePayment::parse(&json!([1]), today())), ["body"]);
        let request = json!({
            "card_details": { "card_number": 4462000000000003_u64, "expiry_date": "13/28", "cv2": "12" },
            "billing_use_policy_address": "yes"
        });
        assert_eq!(
            fields(TakePayment::parse(&request, today())),
            [
                "card_details.card_holder",
                "card_details.card_number",
                "card_details.expiry_date",
                "card_details.cv2",
                "billing_use_policy_address"
            ]
        );
        let mut amex_cvv = body("4462000000000003", "1028");
        amex_cvv["card_details"]["cv2"] = json!("1234");
        assert_eq!(fields(TakePayment::parse(&amex_cvv, today())), ["card_details.cv2"]);
    }

    #[test]
    fn billing_address_is_required_unless_the_policy_address_is_used() {
        let mut request = body("4462000000000003", "1028");
        request["billing_use_policy_address"] = json!(false);
        assert_eq!(fields(TakePayment::parse(&request, today())), ["billing_address"]);
        request["billing_address"] = json!({ "house": "23", "street": "North Lake str.", "city": null, "county": "Norfolk", "postcode": "PE301KM" });
        let parsed = TakePayment::parse(&request, today()).unwrap();
        assert_eq!(
            parsed.billing,
            Billing::Address(Address {
                house: Some("23".into()),
                street: Some("North Lake str.".into()),
                city: None,
                county: Some("Norfolk".into()),
                postcode: Some("PE301KM".into()),
            })
        );
        request["billing_address"] = json!({ "city": 12, "postcode": "" });
        assert_eq!(fields(TakePayment::parse(&request, today())), ["billing_address.city"]);
        request["billing_address"] = json!({ "city": "King's Lynn" });
        assert_eq!(
            fields(TakePayment::parse(&request, today())),
            ["billing_address.street", "billing_address.postcode"]
        );
        // Left out, the flag follows whether an address was sent.
        request.as_object_mut().unwrap().remove("billing_use_policy_address");
        request["billing_address"] = json!({ "street": "North Lake str.", "postcode": "PE301KM" });
        assert!(matches!(
            TakePayment::parse(&request, today()).unwrap().billing,
            Billing::Address(_)
        ));
        request.as_object_mut().unwrap().remove("billing_address");
        assert_eq!(TakePayment::parse(&request, today()).unwrap().billing, Billing::PolicyAddress);
    }

    #[test]
    fn cards_expire_after_their_month() {
        assert!(TakePayment::parse(&body("4462000000000003", "1126"), today()).is_ok());
        assert_eq!(
            fields(TakePayment::parse(&body("4462000000000003", "1026"), today())),
            ["card_details.expiry_date"]
        );
    }

    #[test]
    fn parsed_requests_never_show_the_card_number() {
        let parsed = TakePayment::parse(&body("4462000000000003", "1028"), today()).unwrap();
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("4462000000000003") && !shown.contains("123"), "{shown}");
    }

    #[test]
    fn timestamps_follow_the_document() {
        let t = Utc.with_ymd_and_hms(2025, 2, 4, 13, 4, 48).unwrap()
            + chrono::Duration::nanoseconds(374_818_123);
        assert_eq!(timestamp(t), "2025-02-04T13:04:48.374818Z");
        let whole = Utc.with_ymd_and_hms(2025, 2, 8, 12, 0, 0).unwrap();
        assert_eq!(timestamp(whole), "2025-02-08T12:00:00Z");
    }

    #[test]
    fn progress_is_the_elapsed_share_of_cover() {
        let start = Utc.with_ymd_and_hms(2025, 2, 4, 0, 0, 0).unwrap();
        let end = start + chrono::Duration::days(4);
        assert_eq!(progress(Some(start), Some(end), start), 0);
        assert_eq!(progress(Some(start), Some(end), start + chrono::Duration::days(1)), 25);
        assert_eq!(progress(Some(start), Some(end), end + chrono::Duration::days(9)), 100);
        assert_eq!(progress(Some(start), Some(end), start - chrono::Duration::days(1)), 0);
        assert_eq!(progress(None, Some(end), start), 0);
    }

    #[test]
    fn quote_refs_take_ids_or_urls_and_derived_uuids_are_stable() {
        let id = "0e02575f-f9e1-4061-8408-f960f2a91173";
        assert_eq!(QuoteRef::quote(id), QuoteRef::Quote(id.into()));
        assert_eq!(
            QuoteRef::quote(&format!("https://x.test/api/v1/quote-requests/quotes/{id}/")),
            QuoteRef::Quote(id.into())
        );
        let a = derived_uuid("vehicle", "p1");
        assert_eq!(a, derived_uuid("vehicle", "p1"));
        assert_ne!(a, derived_uuid("vehicle", "p2"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
