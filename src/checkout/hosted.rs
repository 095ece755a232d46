//! A gateway's hosted payment page for what is owed on a service, bringing the customer back to
//! the client. Asking again while a page is open reuses it (the client's page was reloaded),
//! pointing its return at the newest rule.

use crate::access::Viewer;
use crate::checkout::{Method, Offer, PayRequest, ReturnTo, offer, pay};
use crate::connector::HostedForm;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::payment::PaymentState::AwaitingCustomer;
use crate::payment::event::timeline;
use crate::payment::{Orchestrator, Payment};

/// A hosted page ready for the customer's browser.
#[derive(Clone, Debug)]
pub struct HostedPage {
    /// The payment: `redirect_url` is the gateway's page, `reference` the client's token.
    pub payment: Payment,
    /// The form the gateway wants posted instead of a plain redirect, if it said so.
    pub form: Option<HostedForm>,
    /// Nothing was owed: the service is active and the customer goes straight back.
    pub nothing_owed: bool,
}

/// Whether customers are sent to a page of this gateway's.
pub fn has_payment_page(gateway: &Gateway) -> bool {
    matches!(gateway.kind, GatewayKind::HostedCheckout | GatewayKind::PaymentLink)
}

/// A hosted page for the service `reference`: through `gateway` if given, else the gateway of a
/// page already open, else the product's first gateway with a page. An open page through that
/// gateway is reused (after asking the gateway whether it was paid meanwhile) with `return_to`;
/// otherwise a new attempt starts. Nothing owed settles at once.
pub async fn hosted_page(
    payments: &Orchestrator,
    viewer: &Viewer,
    reference: &str,
    return_to: ReturnTo,
    gateway: Option<&str>,
    idempotency_key: Option<String>,
) -> Result<HostedPage> {
    let db = payments.db();
    let offer = offer(db, viewer, reference).await?;
    if let Some(id) = gateway
        && !has_payment_page(offer.gateway(id)?)
    {
        return Err(Error::invalid(
            "gateway",
            format!("{id} has no payment page to send the customer to"),
        ));
    }
    if let Some(payment) = payments.earlier_attempt(idempotency_key.as_deref()).await? {
        return ready(db, payment).await;
    }
    let open =
        offer.open.clone().filter(|p| p.state == AwaitingCustomer && p.redirect_url.is_some());
    let chosen = match (gateway, &open) {
        (Some(id), _) => id.to_owned(),
        (None, Some(open))
            if offer.gateways.iter().any(|g| g.id == open.gateway_id && has_payment_page(g)) =>
        {
            open.gateway_id.clone()
        }
        (None, _) => first_page(&offer)?,
    };
    if let Some(open) = open.filter(|p| p.gateway_id == chosen) {
        // The customer may have paid meanwhile without Settle hearing of it: ask first.
        let open = payments.refresh(&open).await?;
        let return_to =
            super::return_to::allowed(db, viewer, &offer.service, return_to.clone()).await?;
        if open.state == AwaitingCustomer
            && let Some(payment) = open.point_return_to(db, &return_to).await?
        {
            return ready(db, payment).await;
        }
    }
    let started = pay(
        payments,
        PayRequest {
            payer: viewer.clone(),
            purchase_id: offer.owed()?.id.clone(),
            gateways: vec![chosen],
            method: Method::HostedPage { save_card: false },
            return_to: Some(return_to),
            details: serde_json::json!({}),
            idempotency_key,
        },
    )
    .await?;
    ready(db, started.payment).await
}

fn first_page(offer: &Offer) -> Result<String> {
    offer.gateways.iter().find(|g| has_payment_page(g)).map(|g| g.id.clone()).ok_or_else(|| {
        Error::invalid(
            "gateway",
            format!(
                "the product of {} offers no gateway with a payment page",
                offer.service.reference
            ),
        )
    })
}

async fn ready(db: &Db, payment: Payment) -> Result<HostedPage> {
    let nothing_owed = payment.amount.is_zero();
    let form = if nothing_owed { None } else { hosted_form(db, &payment).await? };
    Ok(HostedPage { payment, form, nothing_owed })
}

/// The form the gateway asked the browser to post, as its answer recorded it on the timeline.
pub(crate) async fn hosted_form(db: &Db, payment: &Payment) -> Result<Option<HostedForm>> {
    let events = timeline(db, &payment.id).await?;
    Ok(events.iter().rev().find_map(|e| {
        let form = e.payload.as_ref()?.get("form")?;
        serde_json::from_value::<HostedForm>(form.clone()).ok()
    }))
}
