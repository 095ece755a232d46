//! Quotes paid by card: a quote is prepared once per amount owed, as a payment object with its own
//! id and a copy of the quote's policy address; every card payment of it is a new attempt through
//! the orchestrator, and the object shows the newest, so its id survives retries. The billing
//! choice of the last attempt is kept with it (the policy address, or an address of its own).
//! What clients see of it (seed 003's payment object) is built by the server from [`QuoteView`].

use chrono::{DateTime, Utc};

use crate::access::Viewer;
use crate::address::Address;
use crate::checkout::card::Billing;
use crate::checkout::{Method, PayRequest, pay};
use crate::connector::CardDetails;
use crate::customer::CustomerId;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::payment::{Orchestrator, Payment};
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

/// Whether a viewer may see a quote: a policy the access rule lets them see.
fn may_see(viewer: &Viewer, service: &Service) -> bool {
    service.kind == ServiceKind::Policy && viewer.may_see(service)
}

/// How a client names the quote it wants to pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuoteRef {
    /// The policy number (`DEMO/0002/SHORT/WEB`).
    PolicyNumber(String),
    /// The quote id.
    Quote(String),
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
    let policy_address = service
        .details
        .policy_address()
        .map(|lines| PostalAddress::new(service.customer_id.clone(), lines.clone()));
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

/// The quote id a policy's payment object links to: the quote's reference, else the policy's id.
pub fn quote_id_of(service: &Service) -> String {
    service
        .details
        .quote
        .as_ref()
        .and_then(|q| q.reference.clone())
        .unwrap_or_else(|| service.id.to_string())
}

/// Takes a card payment for a prepared quote: the card (checked by
/// [`CardEntry::check`](crate::checkout::CardEntry::check)) through the product's card gateways,
/// billed to the policy address or another, then records the billing choice. A retry of the same
/// request answers its first attempt; refused attempts store nothing.
pub async fn take_card_payment(
    payments: &Orchestrator,
    viewer: &Viewer,
    id: &str,
    card: CardDetails,
    billing: Billing,
    idempotency_key: Option<String>,
) -> Result<QuotePayment> {
    let db = payments.db();
    let quote_payment = find(db, viewer, id).await?;
    if payments.earlier_attempt(idempotency_key.as_deref()).await?.is_some() {
        return find_by_id(db, id).await?.ok_or(Error::NotFound("payment"));
    }
    let policy_address = match &quote_payment.policy_address_id {
        Some(id) => PostalAddress::find(db, id).await?.map(|a| a.lines),
        None => None,
    };
    let billing_address = billing.address(policy_address.as_ref()).map_err(Error::from)?;
    let purchase = Purchase::find(db, &quote_payment.purchase_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("purchase of payment {id} vanished")))?;
    if !matches!(purchase.status, PurchaseStatus::Open | PurchaseStatus::Quote) {
        return Err(Error::Conflict("this quote has been paid already".into()));
    }
    let service = Service::find(db, &quote_payment.service_id)
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
    pay(
        payments,
        PayRequest {
            payer: viewer.clone(),
            purchase_id: purchase.id.clone(),
            gateways,
            method: Method::Card { card, billing_address },
            return_to: None,
            details: serde_json::json!({ "quote_payment": quote_payment.id }),
            idempotency_key,
        },
    )
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

/// A prepared quote as clients see it: the object, its policy, its newest attempt and the
/// addresses it shows.
#[derive(Clone, Debug)]
pub struct QuoteView {
    /// The prepared payment object.
    pub payment: QuotePayment,
    /// The policy it pays for.
    pub service: Service,
    /// The newest attempt, if a card payment was tried.
    pub latest: Option<Payment>,
    /// The copy of the quote's policy address.
    pub policy_address: Option<PostalAddress>,
    /// The address the newest attempt was billed to (the policy address when chosen).
    pub billing_address: Option<PostalAddress>,
}

/// What clients see of a prepared quote.
pub async fn view(db: &Db, payment: &QuotePayment) -> Result<QuoteView> {
    let service = Service::find(db, &payment.service_id)
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
    Ok(QuoteView { payment: payment.clone(), service, latest, policy_address, billing_address })
}
