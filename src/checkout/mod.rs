//! Paying what is owed: the use cases every page and API dialect calls. Which gateways a service
//! can be paid through and what is owed on it ([`offer`]), starting a payment by a method or by a
//! gateway's kind ([`pay`], [`start_by_gateway`]), a hosted payment page that brings the customer
//! back to the client ([`hosted`]), paying a prepared quote by card ([`quote`]), a wallet's
//! merchant session ([`wallet`]), and where a payment stands ([`outcome`]).
//!
//! The money moves through the [`Orchestrator`] like every other flow; what a checkout adds is
//! here once: nothing owed settles at once, a product's [`InvoiceActivation`] rule decides whether
//! an invoiced service is active before it is paid, card details follow [`card`]'s rules, and a
//! client's way back ([`ReturnTo`]) carries over to the purchase's later attempts.

pub mod booking;
pub mod buy_now;
pub mod card;
pub mod collection;
pub mod hosted;
pub mod invoice;
pub mod quote;
pub mod return_to;
pub mod wallet;

use std::collections::HashSet;

use crate::access::{self, Viewer};
use crate::address::Address;
use crate::connector::CardDetails;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::iban::Iban;
use crate::payment::PaymentState::{ConvertingPolicy, PaymentSuccess};
use crate::payment::{Instrument, Orchestrator, Payment, PaymentRequest, fulfilment};
use crate::payment_method::{PaymentMethod, PaymentMethodId};
use crate::product::{Product, ServiceKind};
use crate::purchase::{Purchase, PurchaseId, PurchaseStatus};
use crate::service::Service;

pub use card::{AddressEntry, Billing, CardEntry};
pub use invoice::InvoiceActivation;
pub use return_to::ReturnTo;

/// What a viewer may pay on one service: its product, the gateways it offers (enabled, in the
/// product's order), the oldest amount owed and the attempt under way, if any.
#[derive(Clone, Debug)]
pub struct Offer {
    /// The policy or service.
    pub service: Service,
    /// Its product.
    pub product: Product,
    /// The gateways it can be paid through.
    pub gateways: Vec<Gateway>,
    /// The oldest amount owed, if anything is owed.
    pub owed: Option<Purchase>,
    /// The attempt to pay it that is not final yet, if one is.
    pub open: Option<Payment>,
}

impl Offer {
    /// The amount owed; nothing owed is a conflict (it is paid).
    pub fn owed(&self) -> Result<&Purchase> {
        self.owed.as_ref().ok_or_else(|| {
            Error::Conflict(format!(
                "{} has nothing to pay: it is already paid",
                self.service.reference
            ))
        })
    }

    /// An offered gateway, by its key.
    pub fn gateway(&self, id: &str) -> Result<&Gateway> {
        self.gateways.iter().find(|g| g.id == id).ok_or_else(|| {
            Error::invalid(
                "gateway",
                format!("{id:?} is not offered for {}", self.service.reference),
            )
        })
    }
}

/// The offer on a service, if the viewer may see it (anyone else's is `NotFound` too, so
/// references don't leak).
pub async fn offer(db: &Db, viewer: &Viewer, reference: &str) -> Result<Offer> {
    let service = access::service_by_reference(db, viewer, reference).await?;
    let product = Product::find(db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("{} has no product", service.reference)))?;
    let gateways = Gateway::for_product(db, &product.id).await?;
    let owed = Purchase::open_for_service(db, &service.id).await?.into_iter().next();
    let open = match &owed {
        Some(purchase) => Payment::open_for_purchase(db, &purchase.id).await?.into_iter().next(),
        None => None,
    };
    Ok(Offer { service, product, gateways, owed, open })
}

/// The offer on one purchase, by the public reference clients use (an invoice id), if the
/// viewer may see it, with the purchase itself: `owed` is that purchase while it is open, `open`
/// its attempt under way.
pub async fn offer_for_purchase(
    db: &Db,
    viewer: &Viewer,
    reference: &str,
) -> Result<(Offer, Purchase)> {
    let (purchase, service) = access::purchase_by_reference(db, viewer, reference).await?;
    let product = Product::find(db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("{} has no product", service.reference)))?;
    let gateways = Gateway::for_product(db, &product.id).await?;
    let open = Payment::open_for_purchase(db, &purchase.id).await?.into_iter().next();
    let owed = (purchase.status == PurchaseStatus::Open).then(|| purchase.clone());
    Ok((Offer { service, product, gateways, owed, open }, purchase))
}

/// A policy's offer (the insurance checkout's word for it): another kind of service is
/// `NotFound`.
pub async fn policy(db: &Db, viewer: &Viewer, policy_number: &str) -> Result<Offer> {
    match offer(db, viewer, policy_number).await {
        Ok(offer) if offer.service.kind == ServiceKind::Policy => Ok(offer),
        Ok(_) | Err(Error::NotFound(_)) => Err(Error::NotFound("policy")),
        Err(e) => Err(e),
    }
}

/// Without a service: every enabled gateway that one of the merchant's policy products offers,
/// each once, in product (by name) then offer order.
pub async fn policy_gateways_of_merchant(db: &Db, viewer: &Viewer) -> Result<Vec<Gateway>> {
    let mut seen = HashSet::new();
    let mut gateways = Vec::new();
    for product in Product::list(db).await? {
        let ours = viewer.merchant().is_some_and(|m| product.merchant_id.as_ref() == Some(m));
        if !ours || product.service_kind != ServiceKind::Policy {
            continue;
        }
        for gateway in Gateway::for_product(db, &product.id).await? {
            if seen.insert(gateway.id.clone()) {
                gateways.push(gateway);
            }
        }
    }
    Ok(gateways)
}

/// What the client does next after starting a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the customer to the gateway's page (or show the wallet sheet, or take the card's
    /// 3-D Secure challenge): the payment waits for them.
    PaymentRequired,
    /// Nothing is owed; the service is active already.
    NoPaymentRequired,
    /// An invoice was issued; the service follows its product's [`InvoiceActivation`] rule.
    PaymentToBeInvoiced,
}

/// A started payment and what it calls for.
#[derive(Clone, Debug)]
pub struct Started {
    /// What the client does next.
    pub action: Action,
    /// The payment (its reference is the client's token).
    pub payment: Payment,
}

/// How a payment is to be made.
#[derive(Clone, Debug)]
pub enum Method {
    /// The gateway's own payment page (or payment link).
    HostedPage {
        /// Keep the card as a token for later collections.
        save_card: bool,
    },
    /// Card details, checked by [`CardEntry::check`], billed to this address.
    Card {
        /// The card.
        card: CardDetails,
        /// The billing address.
        billing_address: Address,
    },
    /// A saved payment method (card token or bank mandate) of the payer's.
    SavedMethod(PaymentMethodId),
    /// A bank account, collected by direct debit.
    BankAccount {
        /// The account.
        iban: Iban,
        /// Its holder.
        account_holder: String,
    },
    /// An invoice, paid later by bank transfer.
    Invoice,
    /// A wallet (Apple Pay) the customer authorises in its sheet.
    Wallet,
    /// Nothing: the amount owed is zero (any other amount is refused).
    NothingOwed,
    /// Money that arrived outside Settle, allocated by the merchant's system or staff.
    OffSystem {
        /// The purchase source (Cash, EFT, …) it came through.
        purchase_source_id: String,
        /// What the allocating person noted.
        comment: Option<String>,
    },
}

impl Method {
    /// The method a gateway's kind implies when the client names only the gateway; card, bank
    /// and off-system gateways need details (`None`).
    pub fn for_gateway(kind: GatewayKind) -> Option<Method> {
        match kind {
            GatewayKind::HostedCheckout | GatewayKind::PaymentLink => {
                Some(Method::HostedPage { save_card: false })
            }
            GatewayKind::Invoice => Some(Method::Invoice),
            GatewayKind::ApplePay => Some(Method::Wallet),
            GatewayKind::Card3ds | GatewayKind::DirectDebit | GatewayKind::OffSystem => None,
        }
    }
}

/// A request to pay a purchase.
#[derive(Clone, Debug)]
pub struct PayRequest {
    /// Who asks (the access rule decides whether they may pay it).
    pub payer: Viewer,
    /// What to pay.
    pub purchase_id: PurchaseId,
    /// The gateways to try, in order.
    pub gateways: Vec<String>,
    /// How.
    pub method: Method,
    /// How the customer returns to the client (checked against the merchant's origins); `None`
    /// carries over the purchase's last one.
    pub return_to: Option<ReturnTo>,
    /// Extras kept with the payment.
    pub details: serde_json::Value,
    /// The caller's scoped idempotency key.
    pub idempotency_key: Option<String>,
}

/// Pays a purchase: a retry of the same request answers its first attempt; nothing owed settles
/// at once; an invoice applies the product's activation rule and sends the invoice notice.
pub async fn pay(payments: &Orchestrator, request: PayRequest) -> Result<Started> {
    let db = payments.db();
    if let Some(earlier) = payments.earlier_attempt(request.idempotency_key.as_deref()).await? {
        return Ok(Started { action: action_of(db, &earlier).await?, payment: earlier });
    }
    let (purchase, service) = access::purchase(db, &request.payer, &request.purchase_id).await?;
    let return_to = match request.return_to {
        // Dialects check their client's URLs under their own field names first; this holds the
        // rule for every caller: customers go back only to origins the merchant registered.
        Some(rule) => {
            Some(return_to::allowed_via(db, payments.urls(), &request.payer, &service, rule).await?)
        }
        None => return_to::carried_over(db, &purchase.id).await?,
    };
    let instrument = match request.method {
        Method::HostedPage { save_card } => Instrument::HostedCheckout { save_card },
        Method::Card { card, billing_address } => Instrument::Card { card, billing_address },
        Method::SavedMethod(id) => {
            let method = PaymentMethod::find(db, &id)
                .await?
                .filter(|m| m.customer_id.as_ref() == Some(&service.customer_id))
                .ok_or_else(|| Error::invalid("payment_method", "no such payment method"))?;
            Instrument::SavedMethod(Box::new(method))
        }
        Method::BankAccount { iban, account_holder } => {
            Instrument::DirectDebit { iban, account_holder }
        }
        Method::Invoice => Instrument::Invoice,
        Method::Wallet => Instrument::Wallet,
        Method::NothingOwed => Instrument::NothingOwed,
        Method::OffSystem { purchase_source_id, comment } => {
            Instrument::OffSystem { purchase_source_id, comment }
        }
    };
    let invoiced = matches!(instrument, Instrument::Invoice);
    let payment = payments
        .start(PaymentRequest {
            payer: request.payer,
            purchase_id: purchase.id.clone(),
            gateways: request.gateways,
            instrument,
            return_to,
            details: request.details,
            idempotency_key: request.idempotency_key,
        })
        .await?;
    let action = if purchase.amounts.gross().is_zero() {
        Action::NoPaymentRequired
    } else if invoiced {
        invoice::issued(db, &service, &payment).await?;
        Action::PaymentToBeInvoiced
    } else {
        Action::PaymentRequired
    };
    Ok(Started { action, payment })
}

/// The action a payment called for (to answer a retried request).
async fn action_of(db: &Db, payment: &Payment) -> Result<Action> {
    if payment.amount.is_zero() {
        return Ok(Action::NoPaymentRequired);
    }
    let kind =
        Gateway::list(db).await?.into_iter().find(|g| g.id == payment.gateway_id).map(|g| g.kind);
    Ok(if kind == Some(GatewayKind::Invoice) {
        Action::PaymentToBeInvoiced
    } else {
        Action::PaymentRequired
    })
}

/// Starts paying what is owed on a service through the gateway chosen, the method following
/// from the gateway's kind (a hosted page, an invoice, a wallet). A gateway that needs details
/// this way of paying doesn't carry (card, bank, off-system) is refused, unless nothing is owed:
/// then any offered gateway settles it at once, without a call.
pub async fn start_by_gateway(
    payments: &Orchestrator,
    viewer: &Viewer,
    reference: &str,
    gateway: &str,
    return_to: Option<ReturnTo>,
    idempotency_key: Option<String>,
) -> Result<Started> {
    let db = payments.db();
    let offer = offer(db, viewer, reference).await?;
    let chosen = offer.gateway(gateway)?;
    let method = if offer.owed.as_ref().is_some_and(|p| p.amounts.gross().is_zero()) {
        // Whatever the gateway takes, nothing is taken: no details are needed.
        Method::NothingOwed
    } else {
        Method::for_gateway(chosen.kind).ok_or_else(|| {
            Error::invalid(
                "gateway",
                format!(
                    "{} takes card, bank or staff-entered details; pay it with those",
                    chosen.id
                ),
            )
        })?
    };
    if let Some(earlier) = payments.earlier_attempt(idempotency_key.as_deref()).await? {
        return Ok(Started { action: action_of(db, &earlier).await?, payment: earlier });
    }
    pay(
        payments,
        PayRequest {
            payer: viewer.clone(),
            purchase_id: offer.owed()?.id.clone(),
            gateways: vec![chosen.id.clone()],
            method,
            return_to,
            details: serde_json::json!({}),
            idempotency_key,
        },
    )
    .await
}

/// A payment with the service it pays for.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The payment.
    pub payment: Payment,
    /// Its service, as it is now.
    pub service: Service,
}

/// A payment by its reference, with its service, if the viewer may see it.
pub async fn payment_for(db: &Db, viewer: &Viewer, reference: &str) -> Result<Outcome> {
    let (payment, service) = access::payment(db, viewer, reference).await?;
    Ok(Outcome { payment, service })
}

/// Where a payment stands. With `refresh`, a payment still open at its gateway is asked about
/// first, and a paid one whose service isn't active yet is fulfilled, so the answer is as final
/// as it can be.
pub async fn outcome(
    payments: &Orchestrator,
    viewer: &Viewer,
    reference: &str,
    refresh: bool,
) -> Result<Outcome> {
    let db = payments.db();
    let found = payment_for(db, viewer, reference).await?;
    if !refresh {
        return Ok(found);
    }
    let payment = payments.refresh(&found.payment).await?;
    let payment = if matches!(payment.state, PaymentSuccess | ConvertingPolicy) {
        fulfilment::fulfil(db, &payment.id).await?
    } else {
        payment
    };
    let service = Service::find(db, &found.service.id).await?.unwrap_or(found.service);
    Ok(Outcome { payment, service })
}
