//! Services (a policy or an ISP service) as merchants tell Settle about them.

use chrono::{DateTime, Utc};

use crate::access::{self, Viewer};
use crate::billing::{Limit, Page, optional_text};
use crate::customer::Customer;
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::merchant::MerchantId;
use crate::product::{Product, ServiceKind};
use crate::service::{BillingStatus, Service, ServiceDetails};

/// A service a merchant sells a customer.
#[derive(Clone, Debug, Default)]
pub struct NewService {
    /// The policy number or service id clients will use; generated when absent.
    pub reference: Option<String>,
    /// Whose it is (the merchant's customer code).
    pub customer_code: String,
    /// What it is (one of the merchant's product codes).
    pub product_code: String,
    /// Its status in the merchant's words; `quoted` for a policy, `Active` for an ISP service
    /// when absent.
    pub status: Option<String>,
    /// Start of the period it covers.
    pub period_start: Option<DateTime<Utc>>,
    /// End of the period it covers.
    pub period_end: Option<DateTime<Utc>>,
    /// The quote, addresses and vehicle of a policy; the collector and type of an ISP service.
    pub details: ServiceDetails,
}

/// Creates a service of one of the merchant's products for one of its customers. A reference
/// already in use is a conflict.
pub async fn create_service(db: &Db, merchant: &MerchantId, new: NewService) -> Result<Service> {
    let mut errors = Vec::new();
    let reference = optional_text(new.reference, "reference").map_err(|e| errors.push(e)).ok();
    let status = optional_text(new.status, "status").map_err(|e| errors.push(e)).ok();
    if let (Some(start), Some(end)) = (new.period_start, new.period_end)
        && end < start
    {
        errors.push(FieldError::new("period_end", "must not be before period_start"));
    }
    let customer = Customer::find_by_code(db, merchant, new.customer_code.trim()).await?;
    let product = Product::find_for_merchant(db, merchant, &new.product_code).await?;
    if customer.is_none() {
        errors.push(FieldError::new("customer_code", "is not one of your customers"));
    }
    if product.is_none() {
        errors.push(FieldError::new("product_code", "is not one of your products"));
    }
    let (Some(customer), Some(product), Some(reference), Some(status), true) =
        (customer, product, reference, status, errors.is_empty())
    else {
        return Err(Error::Validation(errors));
    };
    let reference = reference.unwrap_or_else(|| generated_reference(&product.code));
    let status = status.unwrap_or_else(|| match product.service_kind {
        ServiceKind::Policy => "quoted".into(),
        ServiceKind::Isp => "Active".into(),
    });
    let mut service =
        Service::new(reference, &product, customer.id, status, BillingStatus::Unbilled);
    service.period_start = new.period_start;
    service.period_end = new.period_end;
    service.details = new.details;
    if !service.insert_if_absent(db).await? {
        return Err(Error::Conflict(format!(
            "a service with the reference {} exists already; choose another reference",
            service.reference
        )));
    }
    Ok(service)
}

/// A reference for a service the merchant gave none: its product code and 10 random hex digits.
fn generated_reference(product_code: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", product_code, random[..10].to_uppercase())
}

/// The customer's one account service of a product, created on first use: purchases that name
/// a product rather than a service (an invoice, an order) are raised on it. Its reference is
/// derived from the customer and product, so concurrent first uses make one.
pub(crate) async fn account_service(
    db: &Db,
    customer: &Customer,
    product: &Product,
) -> Result<Service> {
    let reference = format!("{}-{}", product.code, customer.id);
    let status = match product.service_kind {
        ServiceKind::Policy => "active",
        ServiceKind::Isp => "Active",
    };
    let service =
        Service::new(&reference, product, customer.id.clone(), status, BillingStatus::PaidUp);
    service.insert_if_absent(db).await?;
    Service::find_by_reference(db, &reference)
        .await?
        .filter(|s| s.customer_id == customer.id && s.product_id == product.id)
        .ok_or_else(|| {
            Error::Internal(format!("account service {reference} is not the customer's"))
        })
}

/// A page of the merchant system's services in reference order — one customer's when a code is
/// given — after the reference `after`.
pub async fn services(
    db: &Db,
    viewer: &Viewer,
    customer_code: Option<&str>,
    after: Option<&str>,
    limit: Limit,
) -> Result<Page<Service>> {
    let merchant = access::merchant_system(viewer)?;
    let items = match customer_code {
        Some(code) => {
            let customer = access::customer_by_code(db, viewer, code).await?;
            Service::list_for_customer(db, merchant, &customer.id, after, limit.fetch()).await?
        }
        None => Service::list_for_merchant(db, merchant, after, limit.fetch()).await?,
    };
    Ok(Page::of(items, limit, |s| s.reference.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_references_carry_the_product_code() {
        let reference = generated_reference("MOTOR-COMP");
        assert!(reference.starts_with("MOTOR-COMP-"), "{reference}");
        assert_eq!(reference.len(), "MOTOR-COMP-".len() + 10);
        assert_ne!(reference, generated_reference("MOTOR-COMP"));
    }
}
