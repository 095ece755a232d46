//! Taking a card payment from Settle's card page: [`pay_by_card`] checks the form, starts the
//! payment and sends the browser on. After a problem the form comes back with a message per
//! field and the values that are safe to show again (holder, expiry date, billing address),
//! never the card number or the security code.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::FieldErrors;
use crate::links::{card_href, challenge_href, checkout_href, status_href};

/// Session key of the card form's kept values and errors, read once by the next card page.
pub const CARD_FORM_KEY: &str = "checkout.card_form";

/// The card form's fields in the order the page shows them: the first with a problem gets the
/// focus.
pub const FIELD_ORDER: &[&str] = &[
    "card_holder",
    "card_number",
    "expiry_date",
    "cv2",
    "billing_same",
    "house",
    "street",
    "city",
    "county",
    "postcode",
];

/// What the card form keeps across a failed attempt: never the card number or security code.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardForm {
    /// The policy the values belong to.
    pub policy: String,
    /// Name on the card.
    pub card_holder: String,
    /// Expiry date as typed (MMYY).
    #[serde(default)]
    pub expiry_date: String,
    /// Whether the billing address is the policy address.
    pub billing_same: bool,
    /// Billing address: house number or name.
    pub house: String,
    /// Billing address: street.
    pub street: String,
    /// Billing address: town or city.
    pub city: String,
    /// Billing address: county.
    pub county: String,
    /// Billing address: postcode.
    pub postcode: String,
    /// Problems per field.
    pub errors: FieldErrors,
}

impl CardForm {
    /// An empty form for `policy`: billing address as the policy address.
    pub fn new(policy: &str) -> CardForm {
        CardForm {
            policy: policy.to_owned(),
            card_holder: String::new(),
            expiry_date: String::new(),
            billing_same: true,
            house: String::new(),
            street: String::new(),
            city: String::new(),
            county: String::new(),
            postcode: String::new(),
            errors: FieldErrors::default(),
        }
    }
}

/// Takes a card payment for a policy. Invalid details come back to the card page with a message
/// per field; a declined card comes back with "try another card"; a card the bank wants to check
/// goes to the challenge page; anything else to the payment's status page.
#[server(prefix = "/account/api", endpoint = "card_pay")]
#[allow(clippy::too_many_arguments)] // one argument per form field: the form posts them flat
pub async fn pay_by_card(
    policy: String,
    gateway: Option<String>,
    card_holder: String,
    card_number: String,
    expiry_date: String,
    cv2: String,
    billing_same: Option<String>,
    house: Option<String>,
    street: Option<String>,
    city: Option<String>,
    county: Option<String>,
    postcode: Option<String>,
) -> Result<(), PageError> {
    use settle::checkout::card::{self as rules, FieldNames};
    use settle::checkout::{AddressEntry, Billing, CardEntry, Method, PayRequest};
    use settle::payment::PaymentState;

    use crate::error::NO_SUCH_POLICY;
    use crate::flash::{Flash, redirect_with};
    use crate::links::ACCOUNT;
    use crate::pages::account::shared::{
        in_progress_flash, payer, policy_offer, start_error_message,
    };

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let Some(offer) = policy_offer(&ctx, &viewer, &policy).await? else {
        return redirect_with(Flash::error(NO_SUCH_POLICY), ACCOUNT).await;
    };
    let service = offer.service.clone();
    let Some(gateway) = card_gateway(&offer, gateway.as_deref()) else {
        return redirect_with(
            Flash::error("This policy can't be paid by card. Choose another way to pay."),
            &checkout_href(&service.reference),
        )
        .await;
    };
    let back = card_href(&service.reference, Some(&gateway.id));
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).unwrap_or_default();
    let mut form = CardForm {
        policy: service.reference.clone(),
        card_holder: card_holder.trim().to_owned(),
        // Only digits, a slash or spaces are kept: what an expiry can hold, never more.
        expiry_date: expiry_date
            .trim()
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '/' || *c == ' ')
            .take(5)
            .collect(),
        billing_same: billing_same.is_some(),
        house: clean(house),
        street: clean(street),
        city: clean(city),
        county: clean(county),
        postcode: clean(postcode),
        errors: FieldErrors::default(),
    };

    // The core's one card and billing rule set, under this form's field names.
    const FIELDS: &[(&str, &str)] = &[
        (FieldNames::HOLDER, "card_holder"),
        (FieldNames::NUMBER, "card_number"),
        (FieldNames::EXPIRY, "expiry_date"),
        (FieldNames::CVV, "cv2"),
        (FieldNames::BILLING, "billing"),
    ];
    let entry = CardEntry {
        holder: Some(form.card_holder.clone()),
        number: Some(card_number),
        expiry: Some(expiry_date),
        cvv: Some(cv2),
        card_type: None,
    };
    let mut errors = Vec::new();
    let card = entry.check(chrono::Utc::now().date_naive()).map_err(|e| errors.extend(e)).ok();
    let billing = if form.billing_same {
        Billing::PolicyAddress
    } else {
        let entered = AddressEntry {
            house: Some(form.house.clone()),
            street: Some(form.street.clone()),
            city: Some(form.city.clone()),
            county: Some(form.county.clone()),
            postcode: Some(form.postcode.clone()),
        };
        match entered.check() {
            Ok(address) => Billing::Address(address),
            Err(e) => {
                errors.extend(e);
                Billing::PolicyAddress
            }
        }
    };
    let billing_address = match billing.address(service.details.policy_address()) {
        Ok(address) => Some(address),
        Err(e) => {
            errors.push(e.at("billing_same"));
            None
        }
    };
    let (Some(card), Some(billing_address), true) = (card, billing_address, errors.is_empty())
    else {
        let errors = rules::rename(errors, FIELDS);
        let count = errors.len();
        form.errors = FieldErrors(
            errors
                .into_iter()
                .map(|e| {
                    (e.field.strip_prefix("billing.").unwrap_or(&e.field).to_owned(), e.message)
                })
                .collect(),
        );
        keep_form(&form).await?;
        let message = if count == 1 {
            "Please correct the detail marked below.".to_owned()
        } else {
            format!("Please correct the {count} details marked below.")
        };
        return redirect_with(Flash::error(message), &back).await;
    };
    let Some(purchase) = offer.owed.clone() else {
        // The checkout page says so.
        leptos_axum::redirect(&checkout_href(&service.reference));
        return Ok(());
    };
    let started = settle::checkout::pay(
        &ctx.payments,
        PayRequest {
            payer: viewer,
            purchase_id: purchase.id,
            gateways: vec![gateway.id.clone()],
            method: Method::Card { card, billing_address },
            return_to: None,
            details: serde_json::json!({}),
            idempotency_key: None,
        },
    )
    .await
    .map(|started| started.payment);
    let payment = match started {
        Ok(payment) => payment,
        Err(settle::Error::PaymentInProgress(reference)) => {
            return redirect_with(in_progress_flash(), &status_href(&reference)).await;
        }
        Err(e @ settle::Error::Conflict(_)) => {
            return redirect_with(
                Flash::error(start_error_message(&e)),
                &checkout_href(&service.reference),
            )
            .await;
        }
        Err(e) => {
            keep_form(&form).await?;
            return redirect_with(Flash::error(start_error_message(&e)), &back).await;
        }
    };
    tracing::info!(payment = %payment.reference, state = %payment.state, "card payment started");
    let reason = payment
        .failure_reason
        .as_deref()
        .map(|r| format!(" (the bank's answer: {})", r.trim_end_matches('.')))
        .unwrap_or_default();
    match payment.state {
        PaymentState::Payment3dAuth => {
            leptos_axum::redirect(&challenge_href(&payment.reference));
            Ok(())
        }
        PaymentState::PaymentFailed => {
            keep_form(&form).await?;
            redirect_with(
                Flash::error(format!(
                    "Your card was declined{reason}. Nothing was taken. Please try another card."
                )),
                &back,
            )
            .await
        }
        PaymentState::TerminalError | PaymentState::TimedOut => {
            keep_form(&form).await?;
            redirect_with(
                Flash::error(format!(
                    "Your payment could not be completed{reason}. Please try again in a few minutes, or try another card."
                )),
                &back,
            )
            .await
        }
        _ => {
            leptos_axum::redirect(&status_href(&payment.reference));
            Ok(())
        }
    }
}

/// The card gateway to pay through: the requested one if it is one of the product's card
/// gateways, otherwise the product's first card gateway.
#[cfg(feature = "ssr")]
pub(super) fn card_gateway(
    offer: &settle::checkout::Offer,
    requested: Option<&str>,
) -> Option<settle::gateway::Gateway> {
    use settle::gateway::GatewayKind;

    let mut cards = offer.gateways.iter().filter(|g| g.kind == GatewayKind::Card3ds);
    match requested.map(str::trim).filter(|r| !r.is_empty()) {
        Some(requested) => cards.find(|g| g.id == requested).cloned(),
        None => cards.next().cloned(),
    }
}

/// Keeps the form's safe values (holder, expiry, address, errors) for the next card page.
#[cfg(feature = "ssr")]
async fn keep_form(form: &CardForm) -> Result<(), PageError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    session.insert(CARD_FORM_KEY, form).await.map_err(|e| {
        tracing::error!(error = %e, "keeping the card form failed");
        PageError::unavailable(crate::error::SESSIONS_UNAVAILABLE)
    })
}
