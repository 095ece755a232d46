//! Purchases: what a customer owes a merchant, with lines priced from the product.

use chrono::Utc;

use crate::access::{self, Viewer};
use crate::billing::pricing::{self, NewPurchaseLine};
use crate::billing::services::account_service;
use crate::billing::{Created, Limit, Page, optional_text};
use crate::customer::Customer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::payment::Payment;
use crate::product::Product;
use crate::purchase::{Inserted, Purchase, PurchaseFilter, PurchaseId, PurchaseStatus};
use crate::service::Service;

/// Which service a purchase is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceChoice {
    /// A service the merchant created, by its reference.
    Existing {
        /// The policy number or service id.
        reference: String,
    },
    /// The customer's one account service of this product, created on first use (an invoice
    /// or an order that names no service).
    ForProduct {
        /// One of the merchant's product codes.
        product_code: String,
    },
}

/// A purchase as the merchant asks for it.
#[derive(Clone, Debug)]
pub struct NewPurchase {
    /// Who owes it (the merchant's customer code).
    pub customer_code: String,
    /// What it pays for.
    pub service: ServiceChoice,
    /// Its lines, priced by [`pricing`]'s rule.
    pub lines: Vec<NewPurchaseLine>,
    /// The merchant's own reference, unique per merchant: a repeated create with the same
    /// content answers the first purchase; with other content it is a conflict.
    pub merchant_reference: Option<String>,
    /// A campaign code.
    pub campaign: Option<String>,
    /// Extras kept with the purchase (additional fields, item name, beneficiary code).
    pub details: serde_json::Value,
}

/// Creates an open purchase for one of the merchant's customers, or answers the one an earlier
/// create with the same merchant reference made (concurrent creates make one: the unique index
/// decides, the losers read the winner's).
pub async fn create_purchase(
    db: &Db,
    merchant: &MerchantId,
    new: NewPurchase,
) -> Result<(Purchase, Created)> {
    let merchant_reference = optional_text(new.merchant_reference, "merchant_reference")?;
    let campaign = optional_text(new.campaign, "campaign")?;
    if !(new.details.is_object() || new.details.is_null()) {
        return Err(Error::invalid("details", "must be an object"));
    }
    let customer = Customer::find_by_code(db, merchant, new.customer_code.trim())
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let (service, product) = chosen_service(db, merchant, &customer, new.service).await?;
    let lines = pricing::price(&product, new.lines).map_err(Error::Validation)?;
    let mut purchase =
        Purchase::new(&service, String::new(), PurchaseStatus::Open, Utc::now(), lines)?;
    purchase.merchant_reference = merchant_reference;
    purchase.campaign = campaign;
    purchase.details = if new.details.is_null() { serde_json::json!({}) } else { new.details };
    if let Some(reference) = &purchase.merchant_reference
        && let Some(earlier) = Purchase::find_by_merchant_reference(db, merchant, reference).await?
    {
        return same_request(earlier, &purchase);
    }
    match purchase.insert_with_new_reference(db, &product.code).await? {
        Inserted::Stored => Ok((purchase, Created::New)),
        Inserted::MerchantReferenceTaken => {
            let reference = purchase.merchant_reference.as_deref().unwrap_or_default();
            let earlier = Purchase::find_by_merchant_reference(db, merchant, reference)
                .await?
                .ok_or_else(|| Error::Internal("a taken merchant reference vanished".into()))?;
            same_request(earlier, &purchase)
        }
    }
}

/// The service and product a purchase is for: the merchant's service of this customer, or the
/// customer's account service of the merchant's product.
async fn chosen_service(
    db: &Db,
    merchant: &MerchantId,
    customer: &Customer,
    choice: ServiceChoice,
) -> Result<(Service, Product)> {
    let service = match choice {
        ServiceChoice::Existing { reference } => {
            let viewer = Viewer::Merchant(merchant.clone());
            let service = access::service_by_reference(db, &viewer, &reference).await?;
            if service.customer_id != customer.id {
                return Err(Error::invalid(
                    "service_reference",
                    "is a service of another customer",
                ));
            }
            service
        }
        ServiceChoice::ForProduct { product_code } => {
            let product = Product::find_for_merchant(db, merchant, &product_code)
                .await?
                .ok_or(Error::NotFound("product"))?;
            let service = account_service(db, customer, &product).await?;
            return Ok((service, product));
        }
    };
    let product = Product::find(db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
    Ok((service, product))
}

/// The earlier purchase with the same merchant reference, if it asked for the same thing.
fn same_request(earlier: Purchase, asked: &Purchase) -> Result<(Purchase, Created)> {
    let lines = |p: &Purchase| -> Vec<_> {
        p.lines.iter().map(|l| (l.description.clone(), l.quantity, l.amounts)).collect()
    };
    let same = earlier.service_id == asked.service_id
        && lines(&earlier) == lines(asked)
        && earlier.campaign == asked.campaign
        && earlier.details == asked.details;
    if same {
        Ok((earlier, Created::Existing))
    } else {
        Err(Error::Conflict(format!(
            "the merchant reference {} is already used by purchase {} with other content; use a new merchant reference for a new purchase",
            earlier.merchant_reference.as_deref().unwrap_or_default(),
            earlier.reference
        )))
    }
}

/// Cancels an unpaid purchase on which no payment is under way, so it can't be paid any more.
/// Cancelling a cancelled purchase answers it; a paid one, or one being paid, is a conflict.
/// Only the merchant's system (or staff) cancels; a customer can't.
pub async fn cancel_purchase(db: &Db, viewer: &Viewer, id: &PurchaseId) -> Result<Purchase> {
    let (purchase, _) = access::purchase(db, viewer, id).await?;
    if viewer.customer().is_some() {
        return Err(Error::Forbidden);
    }
    if let Some(refusal) = why_not_cancellable(db, &purchase).await? {
        return Err(refusal);
    }
    if purchase.status == PurchaseStatus::Cancelled {
        return Ok(purchase);
    }
    if !Purchase::cancel_if_unpaid(db, &purchase.id).await? {
        // Paid, or a payment started, between the checks and the update.
        let now = Purchase::find(db, &purchase.id).await?.ok_or(Error::NotFound("purchase"))?;
        return Err(why_not_cancellable(db, &now).await?.unwrap_or_else(|| {
            Error::Conflict(format!("purchase {} changed meanwhile; try again", now.reference))
        }));
    }
    Purchase::find(db, &purchase.id).await?.ok_or(Error::NotFound("purchase"))
}

async fn why_not_cancellable(db: &Db, purchase: &Purchase) -> Result<Option<Error>> {
    if purchase.status == PurchaseStatus::Paid {
        return Ok(Some(Error::Conflict(format!(
            "purchase {} is paid; a paid purchase is refunded, not cancelled",
            purchase.reference
        ))));
    }
    if let Some(open) = Payment::open_for_purchase(db, &purchase.id).await?.first() {
        return Ok(Some(Error::Conflict(format!(
            "payment {} for purchase {} is under way; it can be cancelled once that payment has ended",
            open.reference, purchase.reference
        ))));
    }
    Ok(None)
}

/// The purchase with this public reference and its service, if the viewer may see them.
pub async fn purchase_by_reference(
    db: &Db,
    viewer: &Viewer,
    reference: &str,
) -> Result<(Purchase, Service)> {
    access::purchase_by_reference(db, viewer, reference).await
}

/// The purchase with this merchant reference, of the viewer's merchant, and its service.
pub async fn purchase_by_merchant_reference(
    db: &Db,
    viewer: &Viewer,
    merchant_reference: &str,
) -> Result<(Purchase, Service)> {
    let merchant = viewer.merchant().ok_or(Error::NotFound("purchase"))?;
    let purchase = Purchase::find_by_merchant_reference(db, merchant, merchant_reference.trim())
        .await?
        .ok_or(Error::NotFound("purchase"))?;
    access::purchase(db, viewer, &purchase.id).await
}

/// What a purchase list asks for.
#[derive(Clone, Debug, Default)]
pub struct PurchaseQuery {
    /// Only this customer's (the merchant's customer code).
    pub customer_code: Option<String>,
    /// Only in this status.
    pub status: Option<PurchaseStatus>,
    /// Only after the purchase with this id (the previous page's `next_after`).
    pub after: Option<String>,
}

/// A page of the merchant system's purchases, oldest first.
pub async fn purchases(
    db: &Db,
    viewer: &Viewer,
    query: PurchaseQuery,
    limit: Limit,
) -> Result<Page<Purchase>> {
    let merchant = access::merchant_system(viewer)?;
    let customer = match query.customer_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Some(access::customer_by_code(db, viewer, code).await?.id),
        None => None,
    };
    let filter = PurchaseFilter {
        merchant: merchant.clone(),
        customer,
        status: query.status,
        after: query.after.filter(|a| !a.is_empty()).map(PurchaseId::from_string),
        limit: limit.fetch(),
    };
    let items = Purchase::list(db, &filter).await?;
    Ok(Page::of(items, limit, |p| p.id.to_string()))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::money::{Currency, Money};
    use crate::purchase::{LineType, PurchaseLine};
    use crate::service::ServiceId;
    use crate::tax::TaxRate;

    fn purchase(amount: i64, campaign: Option<&str>) -> Purchase {
        let zar = Currency::parse("ZAR").unwrap();
        let amounts = TaxRate::parse("15").unwrap().split_inclusive(Money::from_minor(amount, zar));
        Purchase {
            id: PurchaseId::generate(),
            reference: "XYZ2026-00000".into(),
            service_id: ServiceId::from_string("s"),
            merchant_id: None,
            customer_id: None,
            merchant_reference: Some("INV-1".into()),
            campaign: campaign.map(Into::into),
            details: serde_json::json!({ "itemName": "Fees" }),
            status: PurchaseStatus::Open,
            amounts,
            purchase_date: Utc::now(),
            paid_at: None,
            lines: vec![PurchaseLine {
                id: "l".into(),
                line_type: LineType::OnceOff,
                description: "Fees".into(),
                quantity: 1,
                unit_price: amounts.excl(),
                period_per_quantity: 0,
                tax_rate: TaxRate::parse("15").unwrap(),
                amounts,
            }],
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_repeated_create_answers_the_first_purchase() {
        let first = purchase(5000, None);
        let again = purchase(5000, None);
        let (answer, created) = same_request(first.clone(), &again).unwrap();
        assert_eq!((answer.id, created), (first.id, Created::Existing));
    }

    #[test]
    fn the_same_reference_with_other_content_is_a_conflict() {
        let first = purchase(5000, None);
        for other in [purchase(5001, None), purchase(5000, Some("SPRING"))] {
            assert!(matches!(same_request(first.clone(), &other), Err(Error::Conflict(_))));
        }
        let mut other_details = purchase(5000, None);
        other_details.details = serde_json::json!({ "itemName": "Other" });
        assert!(matches!(same_request(first, &other_details), Err(Error::Conflict(_))));
    }
}
