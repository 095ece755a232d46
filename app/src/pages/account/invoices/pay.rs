//! Paying an invoice from its page: by card here ([`pay_invoice_by_card`], the core's card and
//! billing rules, 3-D Secure through the challenge pages), or on a gateway's own page
//! ([`pay_invoice_on_page`]). Both call `settle::checkout::pay` for that one invoice; its
//! way back (the merchant's `redirectionUrl`) carries over from the invoice, so a paid customer
//! goes back to the merchant and anyone else comes back here.

use leptos::prelude::*;
use settle::account::Role;

use crate::PageError;

/// Takes a card payment for one of the customer's invoices. Invalid details come back as one
/// message naming each field; a declined card comes back with "try another card"; a card the
/// bank wants to check goes to the challenge page; a paid invoice goes back to the merchant.
#[server(prefix = "/account/api", endpoint = "invoice_card_pay")]
#[allow(clippy::too_many_arguments)] // one argument per form field: the form posts them flat
pub async fn pay_invoice_by_card(
    invoice: String,
    gateway: String,
    card_holder: String,
    card_number: String,
    expiry_date: String,
    cv2: String,
    house: Option<String>,
    street: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
) -> Result<(), PageError> {
    use settle::checkout::card::{self as rules, FieldNames};
    use settle::checkout::{AddressEntry, CardEntry, Method};

    use crate::flash::{Flash, redirect_with};

    let back = crate::links::invoice_page_href(&invoice);
    let entry = CardEntry {
        holder: Some(card_holder),
        number: Some(card_number),
        expiry: Some(expiry_date),
        cvv: Some(cv2),
        card_type: None,
    };
    let address = AddressEntry { house, street, city, county: None, postcode };
    let mut errors = Vec::new();
    let card = entry.check(chrono::Utc::now().date_naive()).map_err(|e| errors.extend(e)).ok();
    let address = address.check().map_err(|e| errors.extend(e)).ok();
    let (Some(card), Some(billing_address), true) = (card, address, errors.is_empty()) else {
        const LABELS: &[(&str, &str)] = &[
            (FieldNames::HOLDER, "Name on the card"),
            (FieldNames::NUMBER, "Card number"),
            (FieldNames::EXPIRY, "Expiry date"),
            (FieldNames::CVV, "Security code"),
            (FieldNames::BILLING, "Billing address"),
        ];
        let problems: Vec<String> = rules::rename(errors, LABELS)
            .into_iter()
            .map(|e| format!("{} {}", e.field.replace("Billing address.", "Billing "), e.message))
            .collect();
        return redirect_with(
            Flash::error(format!("Please correct: {}.", problems.join("; "))),
            &back,
        )
        .await;
    };
    start(&invoice, &gateway, Method::Card { card, billing_address }).await
}

/// Starts paying one of the customer's invoices on a gateway's own page (bank transfer, mobile
/// money) and sends the browser there.
#[server(prefix = "/account/api", endpoint = "invoice_page_pay")]
pub async fn pay_invoice_on_page(invoice: String, gateway: String) -> Result<(), PageError> {
    start(&invoice, &gateway, settle::checkout::Method::HostedPage { save_card: false }).await
}

/// Pays the invoice through `gateway` (one its product offers, of the kind `method` needs) and
/// sends the browser where the payment leads.
#[cfg(feature = "ssr")]
async fn start(
    invoice: &str,
    gateway: &str,
    method: settle::checkout::Method,
) -> Result<(), PageError> {
    use settle::checkout::{Method, PayRequest};
    use settle::gateway::GatewayKind;
    use settle::payment::PaymentState;

    use crate::flash::{Flash, redirect_with};
    use crate::links::{ACCOUNT, challenge_href, invoice_page_href, status_href};
    use crate::pages::account::shared::{in_progress_flash, payer, start_error_message};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let back = invoice_page_href(invoice);
    let (offer, purchase) =
        match settle::checkout::offer_for_purchase(&ctx.db, &viewer, invoice).await {
            Ok(found) => found,
            Err(settle::Error::NotFound(_)) => {
                let flash = Flash::error("We can't find that invoice on your account.");
                return redirect_with(flash, ACCOUNT).await;
            }
            Err(e) => return Err(PageError::logged("loading the invoice")(e)),
        };
    let kind_fits = |kind: GatewayKind| match &method {
        Method::Card { .. } => kind == GatewayKind::Card3ds,
        _ => matches!(kind, GatewayKind::HostedCheckout | GatewayKind::PaymentLink),
    };
    let Some(gateway) = offer.gateways.iter().find(|g| g.id == gateway && kind_fits(g.kind)) else {
        let flash = Flash::error("That way of paying isn't available for this invoice.");
        return redirect_with(flash, &back).await;
    };
    let started = settle::checkout::pay(
        &ctx.payments,
        PayRequest {
            payer: viewer,
            purchase_id: purchase.id.clone(),
            gateways: vec![gateway.id.clone()],
            method,
            // The merchant's way back, given with the invoice, carries over.
            return_to: None,
            details: serde_json::json!({}),
            idempotency_key: None,
        },
    )
    .await;
    let payment = match started {
        Ok(started) => started.payment,
        Err(settle::Error::PaymentInProgress(reference)) => {
            return redirect_with(in_progress_flash(), &status_href(&reference)).await;
        }
        Err(settle::Error::Conflict(_)) => {
            let flash =
                Flash::notice("This invoice is already paid: there is nothing more to pay.");
            return redirect_with(flash, &back).await;
        }
        Err(e) => return redirect_with(Flash::error(start_error_message(&e)), &back).await,
    };
    tracing::info!(payment = %payment.reference, invoice = %purchase.reference, state = %payment.state, "invoice payment started");
    let reason = payment
        .failure_reason
        .as_deref()
        .map(|r| format!(" (the provider's answer: {})", r.trim_end_matches('.')))
        .unwrap_or_default();
    match (payment.state, payment.redirect_url.as_deref()) {
        (PaymentState::AwaitingCustomer, Some(url)) => {
            leptos_axum::redirect(url);
            Ok(())
        }
        (PaymentState::Payment3dAuth, _) => {
            leptos_axum::redirect(&challenge_href(&payment.reference));
            Ok(())
        }
        (PaymentState::PaymentFailed, _) => {
            let flash = Flash::error(format!(
                "Your payment was declined{reason}. Nothing was taken. Please try another card or another way to pay."
            ));
            redirect_with(flash, &back).await
        }
        (PaymentState::TerminalError | PaymentState::TimedOut, _) => {
            let flash = Flash::error(format!(
                "Your payment could not be completed{reason}. Please try again in a few minutes."
            ));
            redirect_with(flash, &back).await
        }
        _ => {
            // Paid: back to the merchant; anything else: the payment's status page.
            let next = settle::checkout::return_to::continue_url(&ctx.db, &payment)
                .await
                .map_err(PageError::logged("the way back"))?
                .unwrap_or_else(|| status_href(&payment.reference));
            leptos_axum::redirect(&next);
            Ok(())
        }
    }
}

/// Where a customer who paid `purchase` goes back to: the merchant's URL, if it gave one.
#[cfg(feature = "ssr")]
pub(super) async fn way_back(
    ctx: &crate::PageContext,
    purchase: &settle::purchase::Purchase,
) -> settle::Result<Option<String>> {
    let paid = settle::payment::Payment::for_purchase(&ctx.db, &purchase.id)
        .await?
        .into_iter()
        .find(|p| p.state.is_success());
    match paid {
        Some(payment) => settle::checkout::return_to::continue_url(&ctx.db, &payment).await,
        None => Ok(None),
    }
}

/// Tells the merchant its customer looked at the invoice (`invoice.viewed`); a notice that
/// can't be recorded is logged, never shown to the customer.
#[cfg(feature = "ssr")]
pub(super) async fn viewed(ctx: &crate::PageContext, purchase: &settle::purchase::Purchase) {
    use settle::webhook::{EventType, emit};
    let Some(merchant) = &purchase.merchant_id else { return };
    let subject = purchase.id.to_string();
    if let Err(e) = emit(&ctx.db, merchant, EventType::InvoiceViewed, &subject).await {
        tracing::warn!(invoice = %purchase.reference, error = %e, "recording invoice.viewed failed");
    }
}
