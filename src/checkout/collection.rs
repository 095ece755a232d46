//! Submitting a purchase for collection with a medium the customer chose (seed 004's pay now),
//! and where the customer goes when the gateway's page sends them back.
//!
//! [`submit`]: the purchase must be the service's and still payable (owed, or a buy-now quote).
//! The medium decides how it is collected, always through [`pay`] and the attempt protocol (so a
//! double or concurrent submit charges once):
//! - a saved card or bank account is charged now through the gateway holding its token;
//! - "Add new payment method" (the global provider-selected medium) opens its gateway's hosted
//!   checkout asking to keep the card ([`crate::payment::saved_card`] saves it on success);
//! - a payment link opens its gateway's page;
//! - off-system: the merchant's system or staff allocate money that arrived through a purchase
//!   source of the service's collector; customers may not.
//!
//! Without immediate processing nothing is collected: a card or bank account becomes the
//! service's active medium, which later collections use.
//!
//! [`payment_return`]: the collection's way back (`/peach-redirect/{collector}`) decides success
//! from the payment itself (asking its gateway while it is open), never from which URL the
//! gateway used, and sends the customer only to the collector's merchant's origins.

use serde_json::json;

use crate::access::{self, Viewer};
use crate::checkout::return_to::{payers_merchant, registered_or_own, registered_url};
use crate::checkout::{Method, PayRequest, ReturnTo, pay};
use crate::collector::Collector;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::merchant::Merchant;
use crate::payment::{Orchestrator, Payment, PaymentState};
use crate::payment_method::{MethodKind, MethodStatus, PaymentMethod, PaymentMethodId};
use crate::product::Product;
use crate::purchase::{Purchase, PurchaseId, PurchaseStatus};
use crate::purchase_source::PurchaseSource;
use crate::service::Service;

/// What a client submits for collection (seed 004's fields).
#[derive(Clone, Debug, Default)]
pub struct Submission {
    /// The service (any letter case).
    pub service_id: String,
    /// The purchase to collect: the service's arrears purchase or a buy-now quote.
    pub purchase_id: String,
    /// The medium chosen.
    pub medium_id: String,
    /// Collect now (`true`), or only make the medium the one later collections use.
    pub process_immediate_purchase: bool,
    /// Where the customer goes after a hosted page when paid (or through Settle's collection
    /// return, which decides).
    pub success_url: Option<String>,
    /// Where they go otherwise; the success URL when not given.
    pub failure_url: Option<String>,
    /// For an off-system allocation: the channel the money came through.
    pub purchase_source_id: Option<String>,
    /// For an off-system allocation: a note kept with the payment.
    pub comment: Option<String>,
}

/// How a submission went.
#[derive(Clone, Debug)]
pub enum Collected {
    /// Collected from the saved medium (paid, or accepted and settling later).
    Charged(Payment),
    /// The saved medium's gateway declined: the purchase is still owed.
    Declined(Payment),
    /// The customer pays on this page of the gateway's.
    Page {
        /// The attempt waiting for them.
        payment: Payment,
        /// Where the browser goes.
        url: String,
    },
    /// Recorded as paid off-system.
    Allocated(Payment),
    /// Not collected now; the medium is the service's active medium.
    Deferred(PaymentMethodId),
}

impl Collected {
    /// The page the customer must go to, if any (seed 004's `payment_link_url`).
    pub fn payment_link_url(&self) -> Option<&str> {
        match self {
            Collected::Page { url, .. } => Some(url),
            _ => None,
        }
    }
}

/// Submits a purchase for collection with the chosen medium (see the module's rules).
pub async fn submit(payments: &Orchestrator, viewer: &Viewer, s: Submission) -> Result<Collected> {
    let db = payments.db();
    let service = access::service_by_id_any_case(db, viewer, &s.service_id).await?;
    let purchase = purchase_of(db, &service, &s.purchase_id).await?;
    let product = Product::find(db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
    let medium = medium_of(db, &service, &product, &s.medium_id).await?;
    match purchase.status {
        PurchaseStatus::Open | PurchaseStatus::Quote => {}
        PurchaseStatus::Paid => {
            return Err(Error::Conflict(
                "This purchase is already paid: nothing was charged.".into(),
            ));
        }
        PurchaseStatus::Cancelled => {
            return Err(Error::Conflict(
                "This purchase was cancelled: there is nothing to pay.".into(),
            ));
        }
    }
    if !s.process_immediate_purchase {
        return defer(db, &service, &medium).await;
    }
    let request = |gateway: String, method: Method, return_to: Option<ReturnTo>| PayRequest {
        payer: viewer.clone(),
        purchase_id: purchase.id.clone(),
        gateways: vec![gateway],
        method,
        return_to,
        details: json!({}),
        idempotency_key: None,
    };
    match medium.kind {
        MethodKind::Card | MethodKind::BankAccount => {
            let method = Method::SavedMethod(medium.id.clone());
            let started = pay(payments, request(gateway_of(&medium)?, method, None)).await?;
            Ok(if is_declined(started.payment.state) {
                Collected::Declined(started.payment)
            } else {
                Collected::Charged(started.payment)
            })
        }
        MethodKind::ProviderSelected | MethodKind::PaymentLink => {
            let save_card = medium.kind == MethodKind::ProviderSelected;
            let return_to = way_back(payments, viewer, &service, &s).await?;
            let method = Method::HostedPage { save_card };
            let started = pay(payments, request(gateway_of(&medium)?, method, return_to)).await?;
            let payment = started.payment;
            Ok(match payment.redirect_url.clone() {
                Some(url) if payment.state == PaymentState::AwaitingCustomer => {
                    Collected::Page { payment, url }
                }
                // Nothing was owed (settled at once), or the gateway answered already.
                _ if is_declined(payment.state) => Collected::Declined(payment),
                _ => Collected::Charged(payment),
            })
        }
        MethodKind::OffSystem => {
            if !matches!(viewer, Viewer::Merchant(_) | Viewer::Staff) {
                // Checked by the orchestrator too; refused before anything else is asked.
                return Err(Error::Forbidden);
            }
            let source = source_of(db, &service, s.purchase_source_id.as_deref()).await?;
            let gateway = Gateway::for_product(db, &product.id)
                .await?
                .into_iter()
                .find(|g| g.kind == GatewayKind::OffSystem)
                .ok_or_else(|| {
                    Error::invalid("medium_id", "this service takes no off-system allocations")
                })?;
            let comment = s.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
            let method = Method::OffSystem { purchase_source_id: source.id, comment };
            let started = pay(payments, request(gateway.id, method, None)).await?;
            Ok(Collected::Allocated(started.payment))
        }
    }
}

/// A declined or failed collection (the purchase is still owed).
fn is_declined(state: PaymentState) -> bool {
    matches!(state, PaymentState::PaymentFailed | PaymentState::TerminalError)
}

/// The purchase, if it is this service's (ids in any letter case).
async fn purchase_of(db: &Db, service: &Service, id: &str) -> Result<Purchase> {
    let id = id.trim();
    let mut found = Purchase::find(db, &PurchaseId::from_string(id)).await?;
    if found.is_none() && id != id.to_lowercase() {
        found = Purchase::find(db, &PurchaseId::from_string(id.to_lowercase())).await?;
    }
    found.filter(|p| p.service_id == service.id).ok_or(Error::NotFound("purchase"))
}

/// The medium, if the service's customer may pay with it: their own or a global one, valid, of
/// a kind the product takes.
async fn medium_of(
    db: &Db,
    service: &Service,
    product: &Product,
    id: &str,
) -> Result<PaymentMethod> {
    let id = id.trim();
    let mut found = PaymentMethod::find(db, &PaymentMethodId::from_string(id)).await?;
    if found.is_none() && id != id.to_lowercase() {
        found = PaymentMethod::find(db, &PaymentMethodId::from_string(id.to_lowercase())).await?;
    }
    let medium = found
        .filter(|m| m.customer_id.is_none() || m.customer_id.as_ref() == Some(&service.customer_id))
        .ok_or_else(|| Error::invalid("medium_id", "is not a medium of this service's customer"))?;
    if medium.status != MethodStatus::Valid {
        return Err(Error::invalid(
            "medium_id",
            format!("this medium is {}: choose a valid one", medium.status),
        ));
    }
    if !product.allows(medium.kind) {
        return Err(Error::invalid(
            "medium_id",
            format!("{} can't be paid with a {} medium", product.name, medium.kind),
        ));
    }
    Ok(medium)
}

/// The gateway a medium is collected through.
fn gateway_of(medium: &PaymentMethod) -> Result<String> {
    medium
        .gateway_id
        .clone()
        .ok_or_else(|| Error::invalid("medium_id", "this medium has no gateway to collect through"))
}

/// Not collecting now: only a valid card or bank account may be the active medium.
async fn defer(db: &Db, service: &Service, medium: &PaymentMethod) -> Result<Collected> {
    if !matches!(medium.kind, MethodKind::Card | MethodKind::BankAccount) {
        return Err(Error::invalid(
            "medium_id",
            "only a valid card or bank account can be kept for later collection; submit with process_immediate_purchase true to pay with this medium now",
        ));
    }
    Service::set_active_payment_method(db, &service.id, &medium.id).await?;
    Ok(Collected::Deferred(medium.id.clone()))
}

/// The off-system channel: required, off-system, and the service's collector's (or anyone's).
async fn source_of(db: &Db, service: &Service, id: Option<&str>) -> Result<PurchaseSource> {
    let field = "purchase_source_id";
    let id = id.map(str::trim).filter(|i| !i.is_empty()).ok_or_else(|| {
        Error::invalid(
            field,
            "is required for an off-system allocation: name the channel the money came through (see /purchases/sources)",
        )
    })?;
    let mut found = PurchaseSource::find(db, id).await?;
    if found.is_none() && id != id.to_lowercase() {
        found = PurchaseSource::find(db, &id.to_lowercase()).await?;
    }
    let collector = service.details.collector_id.as_deref();
    let ours = |s: &PurchaseSource| match (&s.collector_id, collector) {
        (None, _) => true,
        (Some(theirs), Some(ours)) => theirs.eq_ignore_ascii_case(ours),
        (Some(_), None) => false,
    };
    found.filter(|s| s.off_system && ours(s)).ok_or_else(|| {
        Error::invalid(field, "is not an off-system purchase source of this service's collector")
    })
}

/// The client's way back after a hosted page: each URL on a registered origin of the merchant,
/// or Settle's own collection return (which then carries the payment's reference).
async fn way_back(
    payments: &Orchestrator,
    viewer: &Viewer,
    service: &Service,
    s: &Submission,
) -> Result<Option<ReturnTo>> {
    fn given(u: &Option<String>) -> Option<&str> {
        u.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }
    let (success, failure) = match (given(&s.success_url), given(&s.failure_url)) {
        (None, None) => return Ok(None),
        (Some(success), failure) => (success, failure.unwrap_or(success)),
        (None, Some(failure)) => (failure, failure),
    };
    let merchant = payers_merchant(payments.db(), viewer, service).await?;
    let own = payments.urls();
    let success = registered_or_own(&merchant, own, success, "success_url")?;
    let failure = registered_or_own(&merchant, own, failure, "failure_url")?;
    let carry_reference = own.is_collection_return(&success) || own.is_collection_return(&failure);
    Ok(Some(ReturnTo::SuccessOrFailure { success, failure, carry_reference }))
}

/// Where the collection's return sends the browser: the client's `url` (on an origin of the
/// collector's merchant) with its last character set to `1` if the payment `reference` names
/// really succeeded and `0` otherwise (no reference, someone else's payment, still open at its
/// gateway, declined). A URL not ending in `0` or `1` gets the digit appended. An unknown
/// collector is `NotFound`; a URL elsewhere is refused (no open redirect).
pub async fn payment_return(
    payments: &Orchestrator,
    collector_id: &str,
    url: &str,
    reference: Option<&str>,
) -> Result<String> {
    let db = payments.db();
    let collector = Collector::find(db, collector_id).await?.ok_or(Error::NotFound("collector"))?;
    let merchant = Merchant::find(db, &collector.merchant_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("collector {} has no merchant", collector.id)))?;
    let url = url.trim();
    registered_url(&merchant, url, "url")?;
    let paid = match reference.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reference) => paid(payments, &collector, reference).await?,
        None => false,
    };
    Ok(with_outcome(url, paid))
}

/// Whether the collector's payment `reference` succeeded, asking its gateway if still open.
async fn paid(payments: &Orchestrator, collector: &Collector, reference: &str) -> Result<bool> {
    let viewer = Viewer::Merchant(collector.merchant_id.clone());
    let (payment, service) = match access::payment(payments.db(), &viewer, reference).await {
        Ok(found) => found,
        Err(Error::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let of_collector = service
        .details
        .collector_id
        .as_deref()
        .is_none_or(|c| c.eq_ignore_ascii_case(&collector.id));
    if !of_collector {
        return Ok(false);
    }
    let payment =
        if payment.state.is_final() { payment } else { payments.refresh(&payment).await? };
    Ok(payment.state.is_success())
}

/// `url` with its last character set to the outcome (`1` paid, `0` not).
fn with_outcome(url: &str, paid: bool) -> String {
    let digit = if paid { '1' } else { '0' };
    let mut out = url.strip_suffix(['0', '1']).unwrap_or(url).to_owned();
    out.push(digit);
    out
}

#[cfg(test)]
mod tests {
    use super::with_outcome;

    #[test]
    fn the_outcome_is_the_urls_last_character() {
        let ui = "https://ui.test/ext-pay/a40efeb6/5a41b6fe/1";
        assert_eq!(with_outcome(ui, false), "https://ui.test/ext-pay/a40efeb6/5a41b6fe/0");
        assert_eq!(with_outcome(ui, true), ui);
        assert_eq!(with_outcome("https://ui.test/done/", true), "https://ui.test/done/1");
    }
}
