//! Services: what payments activate or extend — an insurance policy or an ISP service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::customer::CustomerId;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::money::Money;
use crate::payment_method::PaymentMethodId;
use crate::product::{Product, ProductId, ServiceKind};
use crate::purchase::Purchase;
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

crate::id_type!(
    /// Identifies a service.
    ServiceId
);

text_enum!(
    /// Whether a service's bills are paid.
    BillingStatus, field = "billing_status", {
        /// Nothing owed.
        PaidUp = "PaidUp",
        /// An amount is overdue.
        InArrears = "InArrears",
        /// Not billed yet (a quote awaiting checkout).
        Unbilled = "Unbilled",
    }
);

/// The quote a policy was bought from, as the insurer described it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteDetails {
    /// The quote's id or reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The insurer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer_name: Option<String>,
    /// The scheme's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme_code: Option<String>,
    /// The scheme's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme_name: Option<String>,
}

/// What a merchant told Settle about a service beyond its product: a policy's quote, address and
/// vehicle; an ISP service's collector and type. Every part is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceDetails {
    /// The quote a policy came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<QuoteDetails>,
    /// The policy's (insured) address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_address: Option<Address>,
    /// The insured vehicle's attributes (registration, make, model, …), as the insurer gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<serde_json::Map<String, serde_json::Value>>,
    /// The ISP's collector that bills the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_id: Option<String>,
    /// How the ISP bills it (`Recurring`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
}

impl ServiceDetails {
    /// The policy address, if one with any line filled in was given.
    pub fn policy_address(&self) -> Option<&Address> {
        self.policy_address.as_ref().filter(|a| !a.is_empty())
    }

    /// The insured vehicle in words (`Toyota Corolla (2019), registration CA 123-456`), from
    /// its make, model, year of manufacture and registration; `None` without a make or model.
    pub fn vehicle_description(&self) -> Option<String> {
        let vehicle = self.vehicle.as_ref()?;
        let text = |key: &str| match vehicle.get(key) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let name: Vec<String> = [text("make"), text("model")].into_iter().flatten().collect();
        let year = text("year_of_manufacture").map(|y| format!(" ({y})"));
        let reg = text("reg_no").map(|r| format!(", registration {r}"));
        (!name.is_empty()).then(|| {
            format!("{}{}{}", name.join(" "), year.unwrap_or_default(), reg.unwrap_or_default())
        })
    }
}

/// A policy or ISP service belonging to a customer.
#[derive(Clone, Debug)]
pub struct Service {
    /// Settle's id.
    pub id: ServiceId,
    /// The policy number or service id clients use.
    pub reference: String,
    /// Policy or ISP service.
    pub kind: ServiceKind,
    /// Whose it is.
    pub customer_id: CustomerId,
    /// What product it is.
    pub product_id: ProductId,
    /// The merchant selling it.
    pub merchant_id: Option<MerchantId>,
    /// Lifecycle status in the seed's words (`quoted`, `active`, `PendingIspApplication`).
    pub status: String,
    /// Whether bills are paid.
    pub billing_status: BillingStatus,
    /// The method future recurring purchases are collected with.
    pub active_payment_method_id: Option<PaymentMethodId>,
    /// Start of the paid period (policy start date).
    pub period_start: Option<DateTime<Utc>>,
    /// End of the paid period (policy end date).
    pub period_end: Option<DateTime<Utc>>,
    /// What the merchant told Settle about it: the quote, the policy address, the vehicle.
    pub details: ServiceDetails,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ServiceRow {
    id: ServiceId,
    reference: String,
    kind: String,
    customer_id: CustomerId,
    product_id: ProductId,
    merchant_id: Option<MerchantId>,
    status: String,
    billing_status: String,
    active_payment_method_id: Option<PaymentMethodId>,
    period_start: Option<DateTime<Utc>>,
    period_end: Option<DateTime<Utc>>,
    details: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ServiceRow> for Service {
    type Error = Error;

    fn try_from(r: ServiceRow) -> Result<Service> {
        Ok(Service {
            kind: stored("services.kind", &r.kind)?,
            billing_status: stored("services.billing_status", &r.billing_status)?,
            details: serde_json::from_str(&r.details).map_err(|e| {
                Error::Internal(format!("services.details of {} can't be read: {e}", r.id))
            })?,
            id: r.id,
            reference: r.reference,
            customer_id: r.customer_id,
            product_id: r.product_id,
            merchant_id: r.merchant_id,
            status: r.status,
            active_payment_method_id: r.active_payment_method_id,
            period_start: r.period_start,
            period_end: r.period_end,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const SELECT_SERVICE: &str = "SELECT id, reference, kind, customer_id, product_id, merchant_id, status, billing_status, active_payment_method_id, period_start, period_end, details, created_at, updated_at FROM services";

/// A line of a customer's home page: a service and what is owed on it.
#[derive(Clone, Debug)]
pub struct ServiceSummary {
    /// The service.
    pub service: Service,
    /// Its product's name.
    pub product_name: String,
    /// The total of its open purchases, if anything is owed.
    pub amount_due: Option<Money>,
    /// The oldest open purchase, the one to pay first.
    pub first_open: Option<crate::purchase::PurchaseId>,
}

impl Service {
    /// A new service, not yet stored.
    pub fn new(
        reference: impl Into<String>,
        product: &Product,
        customer_id: CustomerId,
        status: impl Into<String>,
        billing_status: BillingStatus,
    ) -> Service {
        let now = Utc::now();
        Service {
            id: ServiceId::generate(),
            reference: reference.into(),
            kind: product.service_kind,
            customer_id,
            product_id: product.id.clone(),
            merchant_id: product.merchant_id.clone(),
            status: status.into(),
            billing_status,
            active_payment_method_id: None,
            period_start: None,
            period_end: None,
            details: ServiceDetails::default(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Stores the service; its reference must be unique.
    pub async fn insert(&self, db: &Db) -> Result<()> {
        if self.insert_if_absent(db).await? {
            Ok(())
        } else {
            Err(Error::Conflict(format!("service reference {} is taken", self.reference)))
        }
    }

    /// Stores the service unless its reference is taken; `false` when it was.
    pub async fn insert_if_absent(&self, db: &Db) -> Result<bool> {
        let sql = "INSERT INTO services (id, reference, kind, customer_id, product_id, merchant_id, status, billing_status, active_payment_method_id, period_start, period_end, details, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                   ON CONFLICT (reference) DO NOTHING";
        let done = with_db!(db, pool => sqlx::query(sql)
            .bind(&self.id)
            .bind(&self.reference)
            .bind(self.kind.as_str())
            .bind(&self.customer_id)
            .bind(&self.product_id)
            .bind(&self.merchant_id)
            .bind(&self.status)
            .bind(self.billing_status.as_str())
            .bind(&self.active_payment_method_id)
            .bind(self.period_start)
            .bind(self.period_end)
            .bind(serde_json::to_string(&self.details).map_err(|e| Error::Internal(e.to_string()))?)
            .bind(self.created_at)
            .bind(self.updated_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// A page of the merchant's services of one customer, in reference order after `after`.
    pub async fn list_for_customer(
        db: &Db,
        merchant: &MerchantId,
        customer: &CustomerId,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Service>> {
        let sql = format!(
            "{SELECT_SERVICE} WHERE customer_id = $1 AND merchant_id = $2 AND reference > $3 ORDER BY reference LIMIT $4"
        );
        let rows: Vec<ServiceRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(customer)
            .bind(merchant)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Service::try_from).collect()
    }

    /// A page of the merchant's services, in reference order after `after`.
    pub async fn list_for_merchant(
        db: &Db,
        merchant: &MerchantId,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Service>> {
        let sql = format!(
            "{SELECT_SERVICE} WHERE merchant_id = $1 AND reference > $2 ORDER BY reference LIMIT $3"
        );
        let rows: Vec<ServiceRow> = with_db!(db, pool => sqlx::query_as(&sql)
            .bind(merchant)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Service::try_from).collect()
    }

    /// Loads a service by id.
    pub async fn find(db: &Db, id: &ServiceId) -> Result<Option<Service>> {
        let sql = format!("{SELECT_SERVICE} WHERE id = $1");
        let row: Option<ServiceRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(Service::try_from).transpose()
    }

    /// Loads a service inside `tx`.
    pub(crate) async fn find_in(tx: &mut Tx, id: &ServiceId) -> Result<Service> {
        let sql = format!("{SELECT_SERVICE} WHERE id = $1");
        let row: ServiceRow =
            with_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_one(conn).await)?;
        Service::try_from(row)
    }

    /// Loads a service by the reference clients use (policy number, service id).
    pub async fn find_by_reference(db: &Db, reference: &str) -> Result<Option<Service>> {
        let sql = format!("{SELECT_SERVICE} WHERE reference = $1");
        let row: Option<ServiceRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(reference).fetch_optional(pool).await)?;
        row.map(Service::try_from).transpose()
    }

    /// Sets the method the service's future purchases are collected with (the caller checks
    /// that it may be: a valid card or bank account of the service's customer).
    pub async fn set_active_payment_method(
        db: &Db,
        id: &ServiceId,
        method: &PaymentMethodId,
    ) -> Result<()> {
        let sql =
            "UPDATE services SET active_payment_method_id = $2, updated_at = $3 WHERE id = $1";
        with_db!(db, pool => sqlx::query(sql)
            .bind(id)
            .bind(method)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Activates a service inside `tx`: a policy becomes `active`, a suspended ISP service
    /// `Active` (statuses keep their seeds' spelling); the period starts now unless it started
    /// already. With `paid_until`, its paid-up period ends then and its billing status follows what
    /// is still owed; without (a policy activated on invoice, before it is paid), both are left.
    pub(crate) async fn activate(
        tx: &mut Tx,
        id: &ServiceId,
        start: DateTime<Utc>,
        paid_until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let sql = "UPDATE services SET
                       status = CASE WHEN kind = 'policy' THEN 'active' WHEN status = 'Suspended' THEN 'Active' ELSE status END,
                       period_start = COALESCE(period_start, $2),
                       period_end = COALESCE($3, period_end),
                       billing_status = CASE
                           WHEN $3 IS NULL THEN billing_status
                           WHEN EXISTS (SELECT 1 FROM purchases WHERE service_id = $1 AND status = 'open') THEN 'InArrears'
                           ELSE 'PaidUp' END,
                       updated_at = $4
                   WHERE id = $1";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(id)
            .bind(start)
            .bind(paid_until)
            .bind(Utc::now())
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Marks the service in arrears (a purchase a billing job raised is owed and was not
    /// collected).
    pub async fn mark_in_arrears(tx: &mut Tx, id: &ServiceId) -> Result<()> {
        let sql = "UPDATE services SET billing_status = 'InArrears', updated_at = $2 WHERE id = $1";
        with_tx!(tx, conn => sqlx::query(sql).bind(id).bind(Utc::now()).execute(conn).await.map(|_| ()))?;
        Ok(())
    }

    /// A customer's services with what is owed on each, for their home page.
    pub async fn summaries_for_customer(
        db: &Db,
        customer: &CustomerId,
    ) -> Result<Vec<ServiceSummary>> {
        let sql = format!("{SELECT_SERVICE} WHERE customer_id = $1 ORDER BY created_at");
        let rows: Vec<ServiceRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(customer).fetch_all(pool).await)?;
        let mut summaries = Vec::with_capacity(rows.len());
        // A customer's services share a handful of products: each is read once.
        let mut product_names: std::collections::HashMap<_, String> = Default::default();
        for row in rows {
            let service = Service::try_from(row)?;
            let product_name = match product_names.get(&service.product_id) {
                Some(name) => name.clone(),
                None => {
                    let product =
                        Product::find(db, &service.product_id).await?.ok_or_else(|| {
                            Error::Internal(format!("service {} has no product", service.id))
                        })?;
                    product_names.insert(service.product_id.clone(), product.name.clone());
                    product.name
                }
            };
            let open = Purchase::open_for_service(db, &service.id).await?;
            let amount_due = match open.first() {
                Some(first) => Some(Money::checked_sum(
                    open.iter().map(|p| p.amounts.gross()),
                    first.amounts.currency(),
                )?),
                None => None,
            };
            let first_open = open.first().map(|p| p.id.clone());
            summaries.push(ServiceSummary { service, product_name, amount_due, first_open });
        }
        Ok(summaries)
    }

    /// A customer's services, oldest first.
    pub async fn of_customer(db: &Db, customer: &CustomerId) -> Result<Vec<Service>> {
        let sql = format!("{SELECT_SERVICE} WHERE customer_id = $1 ORDER BY created_at");
        let rows: Vec<ServiceRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(customer).fetch_all(pool).await)?;
        rows.into_iter().map(Service::try_from).collect()
    }
}
