//! Where a customer's service stands and what may be done about it: the mediums its customer
//! may pay with, the purchase that must be paid now, whether a payment for it is in flight,
//! and what may be bought ahead once nothing is owed.
//! Pages and APIs that show a service's "pay now" state read it from here.

use crate::access::{self, Viewer};
use crate::billing::scheme::{BillingScheme, BuyOptions};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::payment::Payment;
use crate::payment_method::{MethodKind, MethodStatus, PaymentMethod};
use crate::product::Product;
use crate::purchase::Purchase;
use crate::service::Service;

/// A service's standing, as its customer (or the merchant selling it) sees it.
#[derive(Clone, Debug)]
pub struct Standing {
    /// The service.
    pub service: Service,
    /// Its product (billing scheme, collection day).
    pub product: Product,
    /// The mediums its customer may pay with now, the global ones last.
    pub mediums: Vec<PaymentMethod>,
    /// The oldest open purchase: what must be paid before anything else; `None` when paid up.
    pub must_pay: Option<Purchase>,
    /// Whether a payment for `must_pay` has started and has no final answer yet.
    pub last_purchase_is_pending: bool,
    /// What the customer may buy now (day bundles, months ahead): `None` while something must
    /// be paid, or when the service can't buy.
    pub can_buy: Option<BuyOptions>,
    /// Whether the card future purchases are collected with must be updated: the service's
    /// active medium is a card that expired, or that an auto-recharge could not be collected
    /// with (see [`card_needs_update`]).
    pub card_needs_update: bool,
}

/// The words pages show when [`Standing::card_needs_update`] is set.
pub const CARD_NEEDS_UPDATE: &str = "Your card has expired or was declined: update your card so the next recharge can be collected.";

/// The standing of the service with this id, if the viewer may see it.
pub async fn of_service(db: &Db, viewer: &Viewer, service_id: &str) -> Result<Standing> {
    let service = access::service_by_id_any_case(db, viewer, service_id).await?;
    let product = Product::find(db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
    let mediums = usable_mediums(db, &service.customer_id).await?;
    let must_pay = Purchase::open_for_service(db, &service.id).await?.into_iter().next();
    let last_purchase_is_pending = match &must_pay {
        Some(p) => !Payment::open_for_purchase(db, &p.id).await?.is_empty(),
        None => false,
    };
    let can_buy = match must_pay {
        Some(_) => None,
        None => BillingScheme::of_product(db, product.clone())
            .await?
            .buy_options(&service, chrono::Utc::now())
            .ok(),
    };
    let card_needs_update = card_needs_update(db, &service).await?;
    Ok(Standing {
        service,
        product,
        mediums,
        must_pay,
        last_purchase_is_pending,
        can_buy,
        card_needs_update,
    })
}

/// The rule for "update your card": the service's active medium is a card that is no longer
/// valid (marked expired after a failed auto-recharge, or refused) or whose expiry has passed.
pub async fn card_needs_update(db: &Db, service: &Service) -> Result<bool> {
    let Some(id) = &service.active_payment_method_id else { return Ok(false) };
    let Some(method) = PaymentMethod::find(db, id).await? else { return Ok(false) };
    Ok(method.kind == MethodKind::Card
        && (method.status != MethodStatus::Valid
            || method.card_expired_at(chrono::Utc::now().date_naive())))
}

/// The mediums a customer (by id) may pay with now, if the viewer may see the customer: their
/// valid ones, then the global ones such as "Add new payment method".
pub async fn mediums_of_customer(
    db: &Db,
    viewer: &Viewer,
    customer_id: &str,
) -> Result<Vec<PaymentMethod>> {
    let customer = access::customer(db, viewer, customer_id).await?;
    usable_mediums(db, &customer.id).await
}

/// The rule for "valid mediums": only those whose status is valid can be paid with.
async fn usable_mediums(
    db: &Db,
    customer: &crate::customer::CustomerId,
) -> Result<Vec<PaymentMethod>> {
    let all = PaymentMethod::available_to(db, customer).await?;
    Ok(all.into_iter().filter(|m| m.status == MethodStatus::Valid).collect())
}

/// The medium future purchases of the service are collected with, if the viewer may see the
/// service and it has one: only a valid card or bank account can be the active medium.
pub async fn active_medium(
    db: &Db,
    viewer: &Viewer,
    service_id: &str,
) -> Result<Option<PaymentMethod>> {
    let service = access::service_by_id_any_case(db, viewer, service_id).await?;
    let Some(id) = &service.active_payment_method_id else { return Ok(None) };
    let method = PaymentMethod::find(db, id).await?;
    Ok(method.filter(can_be_active))
}

/// Whether a medium can be a service's active medium: only a valid card or bank account can be
/// collected from without the customer there.
pub fn can_be_active(method: &PaymentMethod) -> bool {
    method.status == MethodStatus::Valid
        && matches!(method.kind, MethodKind::Card | MethodKind::BankAccount)
}

/// Whether a product's future purchases are collected from the service's active medium: monthly
/// billing, and day bundles that recharge themselves.
pub fn collects_from_active_medium(product: &Product) -> bool {
    use crate::product::{BillingKind, ServiceKind};
    product.service_kind == ServiceKind::Isp
        && (product.billing_kind == BillingKind::RecurringMonthly || product.auto_recharge)
}

/// Makes the medium with this id the one future purchases of the service are collected with, if
/// the viewer may see the service: only a valid card or bank account of the service's own
/// customer can be (anything else is refused under `medium_id`). Answers the updated service.
pub async fn set_active_medium(
    db: &Db,
    viewer: &Viewer,
    service_id: &str,
    medium_id: &str,
) -> Result<Service> {
    let mut service = access::service_by_id_any_case(db, viewer, service_id).await?;
    let id = crate::payment_method::PaymentMethodId::from_string(medium_id.trim().to_lowercase());
    let method = PaymentMethod::find(db, &id)
        .await?
        .filter(|m| m.customer_id.as_ref() == Some(&service.customer_id))
        .ok_or_else(|| Error::invalid("medium_id", "is not a payment method of this customer"))?;
    if !can_be_active(&method) {
        return Err(Error::invalid(
            "medium_id",
            "only a valid card or bank account can be the active medium",
        ));
    }
    Service::set_active_payment_method(db, &service.id, &method.id).await?;
    service.active_payment_method_id = Some(method.id);
    Ok(service)
}

/// A customer's mediums and the services that are collected from one, for their payment methods
/// page.
#[derive(Clone, Debug)]
pub struct Wallet {
    /// Every medium of the customer's, whatever its status, oldest first.
    pub mediums: Vec<PaymentMethod>,
    /// Their services collected from an active medium, each with its product.
    pub services: Vec<(Service, Product)>,
}

/// The wallet of the customer with this id, if the viewer may see the customer.
pub async fn wallet(db: &Db, viewer: &Viewer, customer_id: &str) -> Result<Wallet> {
    let customer = access::customer(db, viewer, customer_id).await?;
    let mediums = PaymentMethod::of_customer(db, &customer.id).await?;
    let mut services = Vec::new();
    for service in Service::of_customer(db, &customer.id).await? {
        if !viewer.may_see(&service) {
            continue;
        }
        let product = Product::find(db, &service.product_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
        if collects_from_active_medium(&product) {
            services.push((service, product));
        }
    }
    Ok(Wallet { mediums, services })
}

/// The group a service's status belongs to (the ISP seed's `service_status_category`).
pub fn status_category(status: &str) -> &'static str {
    match status.to_ascii_lowercase().as_str() {
        "active" => "ActiveStatuses",
        "suspended" => "SuspendedStatuses",
        "cancelled" | "canceled" | "terminated" => "CancelledStatuses",
        s if s.starts_with("pending") || s == "quoted" => "PreActivationStatuses",
        _ => "OtherStatuses",
    }
}

#[cfg(test)]
mod tests {
    use super::status_category;

    #[test]
    fn statuses_fall_into_the_seeds_categories() {
        assert_eq!(status_category("PendingIspApplication"), "PreActivationStatuses");
        assert_eq!(status_category("Active"), "ActiveStatuses");
        assert_eq!(status_category("Suspended"), "SuspendedStatuses");
        assert_eq!(status_category("Whatever"), "OtherStatuses");
    }
}
