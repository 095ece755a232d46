//! Who may see or pay what: the one access rule every API, page and document route goes through.
//!
//! A caller is a [`Viewer`]. A merchant's API client sees the services it sells; a customer sees
//! their own (through a merchant's client, only those that merchant sells too); staff see
//! everything (their role is checked by the server before they get here). Purchases, payments
//! and documents are visible exactly when the service they belong to is. Whatever a viewer may
//! not see does not exist for them: lookups answer `NotFound`, so references can't be probed.

use crate::account::{Role, User};
use crate::api_token::{ApiPrincipal, GrantType};
use crate::customer::{Customer, CustomerId};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::payment::Payment;
use crate::payment_method::{MethodNumber, PaymentMethod};
use crate::purchase::{Purchase, PurchaseId};
use crate::service::{Service, ServiceId};

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// A customer: on Settle's pages (`merchant: None`), or through a merchant's API client with
    /// a password-grant token (`merchant: Some`), which narrows them to that merchant's services.
    Customer {
        /// The customer record.
        customer: CustomerId,
        /// The merchant whose client the customer came through, if any.
        merchant: Option<MerchantId>,
    },
    /// A merchant's system (client-credentials token).
    Merchant(MerchantId),
    /// An admin or operator in the console.
    Staff,
}

impl Viewer {
    /// The viewer a bearer token stands for. Only customers and merchants hold API tokens.
    pub async fn of_principal(db: &Db, principal: &ApiPrincipal) -> Result<Viewer> {
        match (&principal.user_id, principal.grant_type) {
            (Some(user), GrantType::Password) => {
                let user = User::find(db, user).await?.ok_or(Error::Unauthorized)?;
                Viewer::of_api_user(&user, &principal.merchant_id)
            }
            (None, GrantType::ClientCredentials) => {
                Ok(Viewer::Merchant(principal.merchant_id.clone()))
            }
            _ => Err(Error::Unauthorized),
        }
    }

    /// A customer signed in to a merchant's client, or the merchant's own API login (which
    /// stands for its merchant, through that merchant's client only); staff may not act through
    /// the API.
    fn of_api_user(user: &User, merchant: &MerchantId) -> Result<Viewer> {
        match (user.role, &user.customer_id, &user.merchant_id) {
            (Role::Customer, Some(customer), _) => Ok(Viewer::Customer {
                customer: customer.clone(),
                merchant: Some(merchant.clone()),
            }),
            (Role::MerchantApi, _, Some(own)) if own == merchant => {
                Ok(Viewer::Merchant(merchant.clone()))
            }
            _ => Err(Error::Forbidden),
        }
    }

    /// The viewer a signed-in page user is.
    pub fn of_user(user: &User) -> Result<Viewer> {
        match (user.role, &user.customer_id) {
            (Role::Customer, Some(customer)) => {
                Ok(Viewer::Customer { customer: customer.clone(), merchant: None })
            }
            (Role::Admin | Role::Operator, _) => Ok(Viewer::Staff),
            (Role::Customer, None) | (Role::MerchantApi, _) => Err(Error::Forbidden),
        }
    }

    /// The merchant whose client is asking, if one is.
    pub fn merchant(&self) -> Option<&MerchantId> {
        match self {
            Viewer::Merchant(m) | Viewer::Customer { merchant: Some(m), .. } => Some(m),
            Viewer::Customer { merchant: None, .. } | Viewer::Staff => None,
        }
    }

    /// The customer asking, if a customer is.
    pub fn customer(&self) -> Option<&CustomerId> {
        match self {
            Viewer::Customer { customer, .. } => Some(customer),
            Viewer::Merchant(_) | Viewer::Staff => None,
        }
    }

    /// The rule: whether this viewer may see (and so pay for) `service`.
    pub fn may_see(&self, service: &Service) -> bool {
        let sold_by = |m: &MerchantId| service.merchant_id.as_ref() == Some(m);
        match self {
            Viewer::Staff => true,
            Viewer::Merchant(m) => sold_by(m),
            Viewer::Customer { customer, merchant } => {
                service.customer_id == *customer && merchant.as_ref().is_none_or(sold_by)
            }
        }
    }
}

/// The service with this reference (policy number, service id), if the viewer may see it.
pub async fn service_by_reference(db: &Db, viewer: &Viewer, reference: &str) -> Result<Service> {
    Service::find_by_reference(db, reference.trim())
        .await?
        .filter(|s| viewer.may_see(s))
        .ok_or(Error::NotFound("service"))
}

/// The service with this id (a reference such as seed 004's UUIDs), matching it whatever its
/// letters' case, if the viewer may see it. Each spelling is looked up exactly, so the unique
/// index on references serves every lookup.
pub async fn service_by_id_any_case(db: &Db, viewer: &Viewer, reference: &str) -> Result<Service> {
    let given = reference.trim();
    let mut spellings = vec![given.to_owned(), given.to_uppercase(), given.to_lowercase()];
    spellings.dedup();
    for spelling in spellings {
        if let Some(service) = Service::find_by_reference(db, &spelling).await? {
            return Some(service).filter(|s| viewer.may_see(s)).ok_or(Error::NotFound("service"));
        }
    }
    Err(Error::NotFound("service"))
}

/// The customer with this id, if the viewer may see them: a merchant its own customers, a
/// customer only themself.
pub async fn customer(db: &Db, viewer: &Viewer, id: &str) -> Result<Customer> {
    let found = Customer::find(db, &CustomerId::from_string(id.trim())).await?;
    let visible = |c: &Customer| match viewer {
        Viewer::Merchant(merchant) => c.merchant_id.as_ref() == Some(merchant),
        Viewer::Customer { customer, .. } => c.id == *customer,
        Viewer::Staff => true,
    };
    found.filter(visible).ok_or(Error::NotFound("customer"))
}

/// The service with this id, if the viewer may see it.
pub async fn service(db: &Db, viewer: &Viewer, id: &ServiceId) -> Result<Service> {
    Service::find(db, id).await?.filter(|s| viewer.may_see(s)).ok_or(Error::NotFound("service"))
}

/// A purchase and its service, if the viewer may see them.
pub async fn purchase(db: &Db, viewer: &Viewer, id: &PurchaseId) -> Result<(Purchase, Service)> {
    let purchase = Purchase::find(db, id).await?.ok_or(Error::NotFound("purchase"))?;
    let service = Service::find(db, &purchase.service_id)
        .await?
        .filter(|s| viewer.may_see(s))
        .ok_or(Error::NotFound("purchase"))?;
    Ok((purchase, service))
}

/// A purchase (by the public reference clients use) and its service, if the viewer may see them.
pub async fn purchase_by_reference(
    db: &Db,
    viewer: &Viewer,
    reference: &str,
) -> Result<(Purchase, Service)> {
    let purchase = Purchase::find_by_reference(db, reference.trim())
        .await?
        .ok_or(Error::NotFound("purchase"))?;
    let service = Service::find(db, &purchase.service_id)
        .await?
        .filter(|s| viewer.may_see(s))
        .ok_or(Error::NotFound("purchase"))?;
    Ok((purchase, service))
}

/// The merchant whose system is asking: only a merchant's system manages what its customers
/// owe (customers pay, staff use the console).
pub fn merchant_system(viewer: &Viewer) -> Result<&MerchantId> {
    match viewer {
        Viewer::Merchant(merchant) => Ok(merchant),
        Viewer::Customer { .. } | Viewer::Staff => Err(Error::Forbidden),
    }
}

/// The customer with this code, if the viewer may see them: a merchant sees its own customers,
/// a customer only themself. A code names a customer only within a merchant, so staff (who have
/// no merchant) find customers by id instead.
pub async fn customer_by_code(db: &Db, viewer: &Viewer, code: &str) -> Result<Customer> {
    let code = code.trim();
    let found = match viewer {
        Viewer::Merchant(merchant) => Customer::find_by_code(db, merchant, code).await?,
        Viewer::Customer { customer, merchant } => Customer::find(db, customer)
            .await?
            .filter(|c| c.code == code)
            .filter(|c| merchant.is_none() || c.merchant_id == *merchant),
        Viewer::Staff => None,
    };
    found.ok_or(Error::NotFound("customer"))
}

/// A payment (by the reference clients use) and its service, if the viewer may see them.
pub async fn payment(db: &Db, viewer: &Viewer, reference: &str) -> Result<(Payment, Service)> {
    let payment = Payment::find_by_reference(db, reference.trim())
        .await?
        .ok_or(Error::NotFound("payment"))?;
    let service = service_of_purchase(db, &payment.purchase_id)
        .await?
        .filter(|s| viewer.may_see(s))
        .ok_or(Error::NotFound("payment"))?;
    Ok((payment, service))
}

/// The service a purchase is for.
async fn service_of_purchase(db: &Db, purchase: &PurchaseId) -> Result<Option<Service>> {
    match Purchase::find(db, purchase).await? {
        Some(purchase) => Service::find(db, &purchase.service_id).await,
        None => Ok(None),
    }
}

/// A customer's own payment methods, by the merchant's code for them (see
/// [`customer_by_code`]); an unknown customer is `NotFound`.
pub async fn payment_methods_of(
    db: &Db,
    viewer: &Viewer,
    code: &str,
) -> Result<Vec<PaymentMethod>> {
    let customer = customer_by_code(db, viewer, code).await?;
    PaymentMethod::of_customer(db, &customer.id).await
}

/// A payment method by its number, if it belongs to a customer the viewer may see: a
/// merchant's own customer's, or the customer's own.
pub async fn payment_method(
    db: &Db,
    viewer: &Viewer,
    number: MethodNumber,
) -> Result<PaymentMethod> {
    let method = PaymentMethod::find_by_number(db, number).await?;
    let owner = match method.as_ref().and_then(|m| m.customer_id.as_ref()) {
        Some(id) => Customer::find(db, id).await?,
        None => None,
    };
    let visible = owner.is_some_and(|c| match viewer {
        Viewer::Merchant(merchant) => c.merchant_id.as_ref() == Some(merchant),
        Viewer::Customer { customer, .. } => c.id == *customer,
        Viewer::Staff => true,
    });
    match method {
        Some(method) if visible => Ok(method),
        _ => Err(Error::NotFound("payment method")),
    }
}

/// A product (its billing scheme), if the viewer may see it: a merchant's own products, and
/// to a customer those of the merchant whose client they came through; staff see all.
pub async fn product(db: &Db, viewer: &Viewer, id: &str) -> Result<crate::product::Product> {
    use crate::product::{Product, ProductId};
    let id = id.trim();
    let mut found = Product::find(db, &ProductId::from_string(id)).await?;
    if found.is_none() && id != id.to_lowercase() {
        found = Product::find(db, &ProductId::from_string(id.to_lowercase())).await?;
    }
    let visible = |p: &Product| match viewer {
        Viewer::Staff => true,
        _ => viewer.merchant().is_some_and(|m| p.merchant_id.as_ref() == Some(m)),
    };
    found.filter(visible).ok_or(Error::NotFound("product"))
}

/// A payment method by its id (seed 004's `medium_detail_id`), if it belongs to a customer the
/// viewer may see: a merchant's own customer's, or the customer's own. A global method (no
/// owner) is answered as it is: anyone may see it.
pub async fn payment_method_by_id(db: &Db, viewer: &Viewer, id: &str) -> Result<PaymentMethod> {
    let id = crate::payment_method::PaymentMethodId::from_string(id.trim().to_lowercase());
    let method = PaymentMethod::find(db, &id).await?.ok_or(Error::NotFound("payment method"))?;
    let Some(owner) = &method.customer_id else { return Ok(method) };
    let owner = Customer::find(db, owner).await?;
    let visible = owner.is_some_and(|c| match viewer {
        Viewer::Merchant(merchant) => c.merchant_id.as_ref() == Some(merchant),
        Viewer::Customer { customer, merchant } => {
            c.id == *customer && merchant.as_ref().is_none_or(|m| c.merchant_id.as_ref() == Some(m))
        }
        Viewer::Staff => true,
    });
    if visible { Ok(method) } else { Err(Error::NotFound("payment method")) }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::account::{Role, UserId};
    use crate::product::ServiceKind;
    use crate::service::BillingStatus;

    fn service(customer: &str, merchant: Option<&str>) -> Service {
        Service {
            id: ServiceId::from_string("s1"),
            reference: "P1".into(),
            kind: ServiceKind::Policy,
            customer_id: CustomerId::from_string(customer),
            product_id: crate::product::ProductId::from_string("prod"),
            merchant_id: merchant.map(MerchantId::from_string),
            status: "quoted".into(),
            billing_status: BillingStatus::Unbilled,
            active_payment_method_id: None,
            period_start: None,
            period_end: None,
            details: Default::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn customer(c: &str, m: Option<&str>) -> Viewer {
        Viewer::Customer {
            customer: CustomerId::from_string(c),
            merchant: m.map(MerchantId::from_string),
        }
    }

    #[test]
    fn merchants_see_what_they_sell_and_customers_what_is_theirs() {
        let a = service("alice", Some("m1"));
        assert!(Viewer::Merchant(MerchantId::from_string("m1")).may_see(&a));
        assert!(!Viewer::Merchant(MerchantId::from_string("m2")).may_see(&a));
        assert!(customer("alice", None).may_see(&a));
        assert!(customer("alice", Some("m1")).may_see(&a));
        assert!(!customer("alice", Some("m2")).may_see(&a), "through another merchant's client");
        assert!(!customer("bob", None).may_see(&a));
        assert!(!customer("bob", Some("m1")).may_see(&a));
        assert!(Viewer::Staff.may_see(&a));
        // A service no merchant sells is no merchant's business.
        let unsold = service("alice", None);
        assert!(!Viewer::Merchant(MerchantId::from_string("m1")).may_see(&unsold));
        assert!(customer("alice", None).may_see(&unsold));
        assert!(!customer("alice", Some("m1")).may_see(&unsold));
    }

    #[test]
    fn only_merchant_systems_manage_what_is_owed() {
        let m1 = MerchantId::from_string("m1");
        assert_eq!(merchant_system(&Viewer::Merchant(m1.clone())).unwrap(), &m1);
        assert!(matches!(merchant_system(&customer("alice", Some("m1"))), Err(Error::Forbidden)));
        assert!(matches!(merchant_system(&Viewer::Staff), Err(Error::Forbidden)));
    }

    #[test]
    fn staff_never_act_through_the_api() {
        let admin = User {
            id: UserId::from_string("u1"),
            email: crate::account::Email::parse("a@b.test").unwrap(),
            display_name: "A".into(),
            role: Role::Admin,
            customer_id: None,
            merchant_id: None,
            created_at: Utc::now(),
            disabled_at: None,
        };
        assert!(matches!(
            Viewer::of_api_user(&admin, &MerchantId::from_string("m1")),
            Err(Error::Forbidden)
        ));
        assert_eq!(Viewer::of_user(&admin).unwrap(), Viewer::Staff);
    }

    #[test]
    fn a_merchants_api_login_stands_for_its_merchant_through_its_own_client_only() {
        let api = User {
            id: UserId::from_string("u2"),
            email: crate::account::Email::parse("api@shop.test").unwrap(),
            display_name: "Shop API".into(),
            role: Role::MerchantApi,
            customer_id: None,
            merchant_id: Some(MerchantId::from_string("m1")),
            created_at: Utc::now(),
            disabled_at: None,
        };
        let m1 = MerchantId::from_string("m1");
        assert_eq!(Viewer::of_api_user(&api, &m1).unwrap(), Viewer::Merchant(m1));
        let m2 = MerchantId::from_string("m2");
        assert!(matches!(Viewer::of_api_user(&api, &m2), Err(Error::Forbidden)));
        assert!(matches!(Viewer::of_user(&api), Err(Error::Forbidden)), "no pages");
    }
}
