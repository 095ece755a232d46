//! Policy checkout: the use cases behind seed 000's `/api/v3/payment/...`. Which gateways a policy
//! can be paid through, starting its payment (payment required, nothing owed, or invoiced), the
//! hosted-checkout token that brings the customer back to the client's URL, Apple Pay merchant
//! validation, and a payment's outcome. The REST handlers only parse requests and shape answers.
//!
//! The money moves through the [`Orchestrator`] like every other flow; what is specific to a
//! checkout lives here: a premium of zero settles at once, and a product's
//! [`InvoiceActivation`] rule decides whether an invoiced policy is active before it is paid.

use std::collections::HashSet;

use chrono::Utc;
use url::Url;

use crate::access::{self, Viewer};
use crate::connector::{ConnectorError, HostedForm};
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::merchant::Merchant;
use crate::payment::PaymentState::{AwaitingCustomer, ConvertingPolicy, PaymentSuccess};
use crate::payment::event::timeline;
use crate::payment::transition;
use crate::payment::{Instrument, Orchestrator, Payment, PaymentRequest, fulfilment};
use crate::product::{Product, ProductId, ServiceKind};
use crate::purchase::Purchase;
use crate::service::{Service, ServiceId};
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

text_enum!(
    /// When a policy paid by invoice becomes active: a product setting.
    InvoiceActivation, field = "invoice_activation", {
        /// The policy waits until the invoice is paid (the default).
        OnPayment = "on_payment",
        /// The policy is activated when the invoice is issued: cover now, bill later.
        OnInvoice = "on_invoice",
    }
);

impl InvoiceActivation {
    /// The rule of a product.
    pub async fn of_product(db: &Db, product: &ProductId) -> Result<InvoiceActivation> {
        let sql = "SELECT invoice_activation FROM products WHERE id = $1";
        let rule: Option<String> = with_db!(db, pool => sqlx::query_scalar(sql)
            .bind(product)
            .fetch_optional(pool)
            .await)?;
        stored("products.invoice_activation", &rule.ok_or(Error::NotFound("product"))?)
    }

    /// Sets a product's rule.
    pub async fn set_for_product(self, db: &Db, product: &ProductId) -> Result<()> {
        let sql = "UPDATE products SET invoice_activation = $2 WHERE id = $1";
        let updated = with_db!(db, pool => sqlx::query(sql)
            .bind(product)
            .bind(self.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Err(Error::NotFound("product"));
        }
        Ok(())
    }
}

/// What the client does after initiating a payment: seed 000's `action` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the customer to `url` (a hosted page), or show the wallet sheet (Apple Pay).
    PaymentRequired,
    /// Nothing is owed; the policy is active already.
    NoPaymentRequired,
    /// An invoice was issued; the policy follows its product's [`InvoiceActivation`] rule.
    PaymentToBeInvoiced,
}

impl Action {
    /// The action exactly as seed 000 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::PaymentRequired => "Payment required",
            Action::NoPaymentRequired => "No payment required",
            Action::PaymentToBeInvoiced => "Payment to be invoiced",
        }
    }
}

/// A policy as a merchant's checkout sees it.
#[derive(Clone, Debug)]
pub struct PolicyCheckout {
    /// The policy (a service).
    pub policy: Service,
    /// Its product.
    pub product: Product,
    /// The enabled gateways it can be paid through, in the product's order.
    pub gateways: Vec<Gateway>,
}

/// A started checkout: what the client does next, and the payment (its reference is the token).
#[derive(Clone, Debug)]
pub struct Initiated {
    /// The seed's action.
    pub action: Action,
    /// The payment.
    pub payment: Payment,
}

/// A hosted checkout ready for the customer's browser.
#[derive(Clone, Debug)]
pub struct HostedToken {
    /// The payment: `redirect_url` is the gateway's page, `reference` the token.
    pub payment: Payment,
    /// The form the gateway wants posted instead of a plain redirect, if it said so.
    pub form: Option<HostedForm>,
    /// Nothing was owed: the policy is active and the customer goes straight back.
    pub nothing_owed: bool,
}

/// A payment with the policy it pays for.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The payment.
    pub payment: Payment,
    /// Its policy, as it is now.
    pub policy: Service,
}

/// The policy with this number, if the viewer may check it out (anyone else's is `NotFound`
/// too, so numbers don't leak).
pub async fn policy(db: &Db, viewer: &Viewer, policy_number: &str) -> Result<PolicyCheckout> {
    let policy = access::service_by_reference(db, viewer, policy_number)
        .await
        .ok()
        .filter(|p| p.kind == ServiceKind::Policy)
        .ok_or(Error::NotFound("policy"))?;
    let product = Product::find(db, &policy.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("policy {} has no product", policy.reference)))?;
    let gateways = Gateway::for_product(db, &product.id).await?;
    Ok(PolicyCheckout { policy, product, gateways })
}

/// Without a policy number: every enabled gateway that one of the merchant's policy products
/// offers, each once, in product (by name) then offer order.
pub async fn gateways_for_merchant(db: &Db, viewer: &Viewer) -> Result<Vec<Gateway>> {
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

/// Checks a client's return URL: absolute http(s), on an origin the merchant registered.
pub fn return_url(merchant: &Merchant, raw: &str, field: &str) -> Result<Url, FieldError> {
    match Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            if merchant.allows_return_to(&url) {
                Ok(url)
            } else {
                Err(FieldError::new(
                    field,
                    format!(
                        "{} is not an origin this merchant registered for customers to return to",
                        url.origin().ascii_serialization()
                    ),
                ))
            }
        }
        _ => Err(FieldError::new(field, "must be an absolute http(s) URL")),
    }
}

/// The oldest amount owed on a policy; none is a conflict (the policy is paid).
async fn owed(db: &Db, policy: &Service) -> Result<Purchase> {
    Purchase::open_for_service(db, &policy.id).await?.into_iter().next().ok_or_else(|| {
        Error::Conflict(format!(
            "policy {} has nothing to pay: it is already paid",
            policy.reference
        ))
    })
}

/// The gateway a client chose, if the policy's product offers it.
fn offered<'a>(checkout: &'a PolicyCheckout, gateway: &str) -> Result<&'a Gateway> {
    checkout.gateways.iter().find(|g| g.id == gateway).ok_or_else(|| {
        Error::invalid(
            "gateway",
            format!(
                "{gateway:?} is not offered for policy {}; /api/v3/payment/gateways/?policy_number= lists the choices",
                checkout.policy.reference
            ),
        )
    })
}

/// Whether the customer is sent to a gateway page for this gateway.
fn has_payment_page(gateway: &Gateway) -> bool {
    matches!(gateway.kind, GatewayKind::HostedCheckout | GatewayKind::PaymentLink)
}

/// Seed 000's initiate: starts paying a policy through the chosen gateway.
///
/// Nothing owed → the policy is activated at once (`No payment required`). The `invoice` kind →
/// an INVOICED payment and the product's [`InvoiceActivation`] rule (`Payment to be invoiced`).
/// A gateway with a payment page → a hosted checkout awaiting the customer, and Apple Pay → a
/// payment awaiting the customer's authorisation (`Payment required`). Card, bank and off-system
/// gateways take details this API doesn't carry, and are refused.
pub async fn initiate(
    payments: &Orchestrator,
    viewer: &Viewer,
    policy_number: &str,
    gateway: &str,
    return_url: Option<&Url>,
    idempotency_key: Option<String>,
) -> Result<Initiated> {
    let db = payments.db();
    let checkout = policy(db, viewer, policy_number).await?;
    let gateway = offered(&checkout, gateway)?;
    if let Some(earlier) = payments.earlier_attempt(idempotency_key.as_deref()).await? {
        return Ok(Initiated { action: action_of(&earlier, gateway), payment: earlier });
    }
    let purchase = owed(db, &checkout.policy).await?;
    let instrument = match gateway.kind {
        GatewayKind::Invoice => Instrument::Invoice,
        GatewayKind::HostedCheckout | GatewayKind::PaymentLink => {
            Instrument::HostedCheckout { save_card: false }
        }
        GatewayKind::ApplePay => Instrument::Wallet,
        GatewayKind::Card3ds | GatewayKind::DirectDebit | GatewayKind::OffSystem => {
            return Err(Error::invalid(
                "gateway",
                format!(
                    "{} takes card, bank or staff-entered details that this API does not carry; pay it through the card payments API or the customer pages",
                    gateway.id
                ),
            ));
        }
    };
    let payment = payments
        .start(PaymentRequest {
            payer: viewer.clone(),
            purchase_id: purchase.id.clone(),
            gateways: vec![gateway.id.clone()],
            instrument,
            return_url: return_url.cloned(),
            details: serde_json::json!({}),
            idempotency_key,
        })
        .await?;
    let action = if purchase.amounts.gross().is_zero() {
        Action::NoPaymentRequired
    } else if gateway.kind == GatewayKind::Invoice {
        let rule = InvoiceActivation::of_product(db, &checkout.product.id).await?;
        if rule == InvoiceActivation::OnInvoice
            && payment.state == crate::payment::PaymentState::Invoiced
        {
            activate_on_invoice(db, &checkout.policy.id, &payment).await?;
        }
        Action::PaymentToBeInvoiced
    } else {
        Action::PaymentRequired
    };
    Ok(Initiated { action, payment })
}

/// The action an initiated payment called for (for a retried initiate).
fn action_of(payment: &Payment, gateway: &Gateway) -> Action {
    if payment.amount.is_zero() {
        Action::NoPaymentRequired
    } else if gateway.kind == GatewayKind::Invoice {
        Action::PaymentToBeInvoiced
    } else {
        Action::PaymentRequired
    }
}

/// Seed 000's token: a hosted checkout for the policy that sends the customer back to
/// `return_url` (checked by the caller with [`return_url`]).
///
/// The gateway is the one asked for, else that of an open checkout on the policy, else the
/// product's first gateway with a payment page. An open checkout through that gateway is reused
/// (the client's page was reloaded, or initiate came first) with the new return URL; otherwise a
/// new one is started, replacing any open attempt. Nothing owed settles at once.
pub async fn hosted_token(
    payments: &Orchestrator,
    viewer: &Viewer,
    policy_number: &str,
    return_url: &Url,
    gateway: Option<&str>,
    idempotency_key: Option<String>,
) -> Result<HostedToken> {
    let db = payments.db();
    let checkout = policy(db, viewer, policy_number).await?;
    if let Some(id) = gateway {
        let chosen = offered(&checkout, id)?;
        if !has_payment_page(chosen) {
            return Err(Error::invalid(
                "gateway",
                format!(
                    "{id} has no payment page to send the customer to; use /api/v3/payment/initiate/"
                ),
            ));
        }
    }
    if let Some(payment) = payments.earlier_attempt(idempotency_key.as_deref()).await? {
        let nothing_owed = payment.amount.is_zero();
        let form = if nothing_owed { None } else { hosted_form(db, &payment).await? };
        return Ok(HostedToken { payment, form, nothing_owed });
    }
    let purchase = owed(db, &checkout.policy).await?;
    let open = Payment::open_for_purchase(db, &purchase.id)
        .await?
        .into_iter()
        .find(|p| p.state == AwaitingCustomer && p.redirect_url.is_some());
    let gateway = match (gateway, &open) {
        (Some(id), _) => id.to_owned(),
        (None, Some(open))
            if checkout.gateways.iter().any(|g| g.id == open.gateway_id && has_payment_page(g)) =>
        {
            open.gateway_id.clone()
        }
        (None, _) => checkout
            .gateways
            .iter()
            .find(|g| has_payment_page(g))
            .ok_or_else(|| no_payment_page(&checkout))?
            .id
            .clone(),
    };
    if let Some(open) = open.filter(|p| p.gateway_id == gateway) {
        // The customer may have paid meanwhile without Settle hearing of it: ask first.
        let open = payments.refresh(&open).await?;
        if open.state == AwaitingCustomer
            && let Some(payment) = set_return_url(db, &open, return_url).await?
        {
            let form = hosted_form(db, &payment).await?;
            return Ok(HostedToken { payment, form, nothing_owed: false });
        }
    }
    let payment = payments
        .start(PaymentRequest {
            payer: viewer.clone(),
            purchase_id: purchase.id.clone(),
            gateways: vec![gateway],
            instrument: Instrument::HostedCheckout { save_card: false },
            return_url: Some(return_url.clone()),
            details: serde_json::json!({}),
            idempotency_key,
        })
        .await?;
    let nothing_owed = purchase.amounts.gross().is_zero();
    let form = if nothing_owed { None } else { hosted_form(db, &payment).await? };
    Ok(HostedToken { payment, form, nothing_owed })
}

fn no_payment_page(checkout: &PolicyCheckout) -> Error {
    Error::invalid(
        "policy_number",
        format!(
            "the product of policy {} offers no gateway with a payment page; use /api/v3/payment/initiate/",
            checkout.policy.reference
        ),
    )
}

/// Seed 000's validate-session: the Apple Pay merchant session for an initiated payment, as the
/// provider answered it. The outer error is about the request (unknown token, wrong policy or
/// gateway, a finished payment); the inner one is the gateway's refusal or failure.
///
/// The session is for the domain of the payment's return URL (where the client's checkout page
/// runs), else Settle's own public host, under the merchant's name.
pub async fn apple_pay_session(
    payments: &Orchestrator,
    viewer: &Viewer,
    merchant: &Merchant,
    token: &str,
    policy_number: &str,
    gateway: &str,
) -> Result<std::result::Result<serde_json::Value, ConnectorError>> {
    let db = payments.db();
    let Outcome { payment, policy: paid_for } = payment_for(db, viewer, token).await?;
    let checkout = policy(db, viewer, policy_number).await?;
    if paid_for.id != checkout.policy.id {
        return Err(Error::invalid(
            "policy_number",
            format!("payment {token} is not for policy {policy_number}"),
        ));
    }
    let chosen = offered(&checkout, gateway)?;
    if chosen.kind != GatewayKind::ApplePay {
        return Err(Error::invalid("gateway", format!("{gateway} is not an Apple Pay gateway")));
    }
    if payment.gateway_id != chosen.id {
        return Err(Error::invalid(
            "gateway",
            format!("payment {token} was initiated for {}", payment.gateway_id),
        ));
    }
    if payment.state.is_final() || payment.state.is_success() {
        return Err(Error::Conflict(format!(
            "payment {token} is {}; initiate a new payment",
            payment.state
        )));
    }
    let public_url = &payments.urls().public_url;
    let domain = payment
        .return_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .or_else(|| public_url.host_str().map(str::to_owned))
        .ok_or_else(|| Error::Internal("public_url has no host".into()))?;
    let display_name: String = merchant.name.chars().take(64).collect();
    let connector = payments.connector(&chosen.id)?;
    Ok(connector.validate_merchant(&domain, &display_name).await)
}

/// A payment by its token, with its policy, if the viewer may see it.
pub async fn payment_for(db: &Db, viewer: &Viewer, token: &str) -> Result<Outcome> {
    let (payment, policy) = access::payment(db, viewer, token).await?;
    Ok(Outcome { payment, policy })
}

/// Seed 000's status and complete: where a payment stands. With `refresh`, a payment still open
/// at its gateway is asked about first, and a paid one whose policy isn't active yet is fulfilled,
/// so the answer is as final as it can be.
pub async fn outcome(
    payments: &Orchestrator,
    viewer: &Viewer,
    token: &str,
    refresh: bool,
) -> Result<Outcome> {
    let db = payments.db();
    let found = payment_for(db, viewer, token).await?;
    if !refresh {
        return Ok(found);
    }
    let payment = payments.refresh(&found.payment).await?;
    let payment = if matches!(payment.state, PaymentSuccess | ConvertingPolicy) {
        fulfilment::fulfil(db, &payment.id).await?
    } else {
        payment
    };
    let policy = Service::find(db, &found.policy.id).await?.unwrap_or(found.policy);
    Ok(Outcome { payment, policy })
}

/// The product rule `on_invoice`: the policy is active from now; its paid-up period is set when
/// the invoice's payment succeeds (fulfilment counts it from then), so it is never given twice.
async fn activate_on_invoice(db: &Db, policy: &ServiceId, payment: &Payment) -> Result<()> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    let sql = "UPDATE services SET
                   status = CASE WHEN kind = 'policy' THEN 'active' WHEN status = 'Suspended' THEN 'Active' ELSE status END,
                   period_start = COALESCE(period_start, $2),
                   updated_at = $2
               WHERE id = $1";
    with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(policy)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ()))?;
    transition::note(
        &mut tx,
        payment,
        "policy activated on invoice (product rule on_invoice); paid-up period set on payment",
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Points an open checkout's return at a new client URL; `None` if it stopped being open.
async fn set_return_url(db: &Db, payment: &Payment, return_url: &Url) -> Result<Option<Payment>> {
    let mut tx = db.begin().await?;
    let sql = "UPDATE payments SET return_url = $3, updated_at = $4 WHERE id = $1 AND state = $2";
    let updated = with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(&payment.id)
        .bind(i64::from(AwaitingCustomer.code()))
        .bind(return_url.as_str())
        .bind(Utc::now())
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Ok(None);
    }
    transition::note(&mut tx, payment, "client return URL set by a token request", None).await?;
    tx.commit().await?;
    Payment::find(db, &payment.id).await
}

/// The form the gateway asked the browser to post, as its answer recorded it on the timeline.
async fn hosted_form(db: &Db, payment: &Payment) -> Result<Option<HostedForm>> {
    let events = timeline(db, &payment.id).await?;
    Ok(events.iter().rev().find_map(|e| {
        let form = e.payload.as_ref()?.get("form")?;
        serde_json::from_value::<HostedForm>(form.clone()).ok()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_spelled_as_the_seed_spells_them() {
        let actions =
            [Action::PaymentRequired, Action::NoPaymentRequired, Action::PaymentToBeInvoiced];
        assert_eq!(
            actions.map(Action::as_str),
            ["Payment required", "No payment required", "Payment to be invoiced"]
        );
    }
}
