//! Paying a policy by card on Settle's own page, with the bank's 3-D Secure check.
//!
//! - `/account/checkout/card?policy=…` takes the card and billing address; [`pay_by_card`]
//!   validates them and starts the payment. The card number and security code are never put back
//!   into a page: after a problem only the holder's name and the address are kept (in the session,
//!   for one page view).
//! - `/account/payments/{reference}/challenge` shows the bank's check in an `<iframe>` of
//!   `/account/payments/{reference}/challenge/frame`, which holds seed 003's form (`creq`,
//!   `threeDSSessionData`, posted to `acsurl`). The issuer's pages end on Settle's
//!   `PaymentComplete` page inside the frame. With script, `/3ds.js` submits the form by itself
//!   and moves the page on when `PaymentComplete` arrives; without it, the customer presses
//!   "Continue to your bank" and, at the end, the link to the status page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::layout::Layout;
use crate::pages::checkout::{card_href, checkout_href, report_problem, status_href};

/// Session key of the card form's kept values and errors, read once by the next card page.
pub const CARD_FORM_KEY: &str = "checkout.card_form";

/// What the card form keeps across a failed attempt: never the card number or security code.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardForm {
    /// The policy the values belong to.
    pub policy: String,
    /// Name on the card.
    pub card_holder: String,
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
    /// Problems per field: (field name, message).
    pub errors: Vec<(String, String)>,
}

impl CardForm {
    /// An empty form for `policy`: billing address as the policy address.
    pub fn new(policy: &str) -> CardForm {
        CardForm {
            policy: policy.to_owned(),
            card_holder: String::new(),
            billing_same: true,
            house: String::new(),
            street: String::new(),
            city: String::new(),
            county: String::new(),
            postcode: String::new(),
            errors: Vec::new(),
        }
    }

    /// The message for `field`, if it has one.
    pub fn error(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.clone())
    }
}

/// What the card page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CardView {
    /// The policy number.
    pub policy: String,
    /// The product name.
    pub product: String,
    /// Total to pay ("51.34 GBP").
    pub total: String,
    /// The card gateway's key.
    pub gateway: String,
    /// The policy address, one line, if there is one.
    pub policy_address: Option<String>,
    /// Values and errors kept from the last attempt.
    pub form: CardForm,
}

/// The card page's data: the policy, the amount, the card gateway and any kept form values.
#[server(prefix = "/account/api", endpoint = "card")]
pub async fn load_card_page(
    policy: String,
    gateway: Option<String>,
) -> Result<CardView, PageError> {
    use crate::pages::checkout::{internal, payer};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let offer =
        settle::checkout::policy(&ctx.db, &payer(&user)?, &policy).await.map_err(|e| match e {
            settle::Error::NotFound(_) => {
                PageError::not_found("We can't find that policy on your account.")
            }
            other => internal("loading the policy")(other),
        })?;
    let purchase =
        offer.owed.clone().ok_or_else(|| PageError::conflict("Nothing is due on this policy."))?;
    let gateway = card_gateway(&offer, gateway.as_deref()).ok_or_else(|| {
        PageError::conflict(
            "This policy can't be paid by card. Choose another way to pay on the checkout page.",
        )
    })?;
    let (service, product) = (offer.service, offer.product);
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    let kept = session
        .remove::<CardForm>(CARD_FORM_KEY)
        .await
        .ok()
        .flatten()
        .filter(|f| f.policy == service.reference);
    Ok(CardView {
        policy: service.reference.clone(),
        product: product.name,
        total: purchase.amounts.gross().to_string(),
        gateway: gateway.id,
        policy_address: service.details.policy_address().map(|a| a.one_line()),
        form: kept.unwrap_or_else(|| CardForm::new(&service.reference)),
    })
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

    use crate::flash::Flash;
    use crate::pages::checkout::{flash_redirect, internal, payer, start_error_message};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let offer = match settle::checkout::policy(&ctx.db, &viewer, &policy).await {
        Ok(offer) => offer,
        Err(settle::Error::NotFound(_)) => {
            return flash_redirect(
                Flash::error("We can't find that policy on your account."),
                "/account",
            )
            .await;
        }
        Err(e) => return Err(internal("loading the policy")(e)),
    };
    let service = offer.service.clone();
    let Some(gateway) = card_gateway(&offer, gateway.as_deref()) else {
        return flash_redirect(
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
        billing_same: billing_same.is_some(),
        house: clean(house),
        street: clean(street),
        city: clean(city),
        county: clean(county),
        postcode: clean(postcode),
        errors: Vec::new(),
    };
    // The core's card and billing rules, under this form's field names.
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
        form.errors = errors
            .into_iter()
            .map(|e| (e.field.strip_prefix("billing.").unwrap_or(&e.field).to_owned(), e.message))
            .collect();
        keep_form(&form).await?;
        let message = if count == 1 {
            "Please correct the detail marked below.".to_owned()
        } else {
            format!("Please correct the {count} details marked below.")
        };
        return flash_redirect(Flash::error(message), &back).await;
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
            details: serde_json::json!({ "channel": "settle-web", "billing_use_policy_address": form.billing_same }),
            idempotency_key: None,
        },
    )
    .await
    .map(|started| started.payment);
    let payment = match started {
        Ok(payment) => payment,
        Err(settle::Error::PaymentInProgress(reference)) => {
            return flash_redirect(
                crate::pages::checkout::in_progress_flash(),
                &status_href(&reference),
            )
            .await;
        }
        Err(e @ settle::Error::Conflict(_)) => {
            return flash_redirect(
                Flash::error(start_error_message(&e)),
                &checkout_href(&service.reference),
            )
            .await;
        }
        Err(e) => {
            keep_form(&form).await?;
            return flash_redirect(Flash::error(start_error_message(&e)), &back).await;
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
            flash_redirect(
                Flash::error(format!(
                    "Your card was declined{reason}. Nothing was taken. Please try another card."
                )),
                &back,
            )
            .await
        }
        PaymentState::TerminalError | PaymentState::TimedOut => {
            keep_form(&form).await?;
            flash_redirect(
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

/// What the challenge page and its frame need: the pending 3-D Secure challenge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChallengeView {
    /// The payment reference.
    pub reference: String,
    /// The amount ("51.34 GBP").
    pub amount: String,
    /// The policy number.
    pub policy: String,
    /// The issuer's page (`acsurl`), while the challenge is pending.
    pub acs_url: Option<String>,
    /// The challenge request (`creq`).
    pub creq: Option<String>,
    /// `threeDSSessionData`.
    pub session_data: Option<String>,
}

/// The customer's pending challenge. With `leave_when_done`, a payment no longer waiting for
/// its challenge sends the browser to its status page instead.
#[server(prefix = "/account/api", endpoint = "challenge")]
pub async fn load_challenge(
    reference: String,
    leave_when_done: bool,
) -> Result<ChallengeView, PageError> {
    use settle::payment::PaymentState;

    use crate::pages::checkout::owned_payment;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let (payment, summary) = owned_payment(&ctx, &user, &reference)
        .await?
        .ok_or_else(|| PageError::not_found("We can't find that payment on your account."))?;
    let challenge =
        payment.three_ds.clone().filter(|_| payment.state == PaymentState::Payment3dAuth);
    if challenge.is_none() && leave_when_done {
        leptos_axum::redirect(&status_href(&payment.reference));
    }
    Ok(ChallengeView {
        reference: payment.reference.clone(),
        amount: payment.amount.to_string(),
        policy: summary.service.reference,
        acs_url: challenge.as_ref().map(|c| c.acs_url.clone()),
        creq: challenge.as_ref().map(|c| c.creq.clone()),
        session_data: challenge.map(|c| c.session_data),
    })
}

/// The link to a payment's challenge page.
pub fn challenge_href(reference: &str) -> String {
    format!("{}/challenge", status_href(reference))
}

/// The card entry page.
#[component]
pub fn CardPaymentPage() -> impl IntoView {
    let (policy, gateway) =
        use_query_map().with_untracked(|q| (q.get("policy").unwrap_or_default(), q.get("gateway")));
    let data = Resource::new_blocking(
        move || (policy.clone(), gateway.clone()),
        |(policy, gateway)| load_card_page(policy, gateway),
    );
    view! {
        <Layout title="Pay by card".into()>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(view) => view! { <CardEntry view /> }.into_any(),
                        Err(e) => view! {
                            <h1>"Pay by card"</h1>
                            <p class="flash error">{report_problem(&e)}</p>
                            <p><a href="/account">"Back to your account"</a></p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

/// One labelled input with its error, if any.
#[component]
fn Field(
    /// The visible label.
    label: &'static str,
    /// The input's name (and id).
    name: &'static str,
    /// The value to show again (never for card number or security code).
    #[prop(optional, into)]
    value: String,
    /// The problem with it, if any.
    error: Option<String>,
    /// Autocomplete token.
    autocomplete: &'static str,
    /// Whether the browser should insist on a value.
    #[prop(optional)]
    required: bool,
    /// A hint shown under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// `numeric` for digit-only fields.
    #[prop(optional)]
    inputmode: Option<&'static str>,
    /// Longest input accepted.
    #[prop(optional)]
    maxlength: Option<u32>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let hint_id = format!("{name}-hint");
    let described = match (hint.is_some(), error.is_some()) {
        (true, true) => Some(format!("{hint_id} {error_id}")),
        (true, false) => Some(hint_id.clone()),
        (false, true) => Some(error_id.clone()),
        (false, false) => None,
    };
    let invalid = error.as_ref().map(|_| "true");
    let class = error.is_some().then_some("invalid");
    view! {
        <label for=name class=class>
            {label}
            {hint.map(|h| view! { <small class="hint" id=hint_id>{h}</small> })}
            <input
                type="text"
                id=name
                name=name
                value=value
                autocomplete=autocomplete
                required=required
                inputmode=inputmode
                maxlength=maxlength
                aria-invalid=invalid
                aria-describedby=described
            />
            {error.map(|e| view! { <span class="field-error" id=error_id>{label} " " {e} "."</span> })}
        </label>
    }
}

#[component]
fn CardEntry(view: CardView) -> impl IntoView {
    let pay = ServerAction::<PayByCard>::new();
    let CardView { policy, product, total, gateway, policy_address, form } = view;
    let errors = form.clone();
    let err = move |field: &str| errors.error(field);
    let CardForm { card_holder, billing_same, house, street, city, county, postcode, .. } = form;
    let back = checkout_href(&policy);
    let policy_shown = policy.clone();
    let pay_label = format!("Pay {total}");
    let same_label = match &policy_address {
        Some(address) => view! {
            "My billing address is my policy address: " <span class="muted">{address.clone()}</span>
        }
        .into_any(),
        None => view! { "My billing address is my policy address" }.into_any(),
    };
    let same_error = err("billing_same");
    view! {
        <h1>"Pay by card"</h1>
        <p class="lead">
            "Policy " <code>{policy_shown}</code> " · " {product} ". Total to pay: "
            <strong>{total.clone()}</strong> "."
        </p>
        <section class="card card-entry">
            <ActionForm action=pay>
                <input type="hidden" name="policy" value=policy />
                <input type="hidden" name="gateway" value=gateway />
                <h2>"Your card"</h2>
                <Field label="Name on the card" name="card_holder" value=card_holder
                    error=err("card_holder") autocomplete="cc-name" required=true maxlength=100 />
                <Field label="Card number" name="card_number" error=err("card_number")
                    autocomplete="cc-number" required=true inputmode="numeric" maxlength=23 />
                <div class="pair">
                    <Field label="Expiry date" name="expiry_date" error=err("expiry_date")
                        autocomplete="cc-exp" required=true hint="MMYY, e.g. 1028" inputmode="numeric" maxlength=5 />
                    <Field label="Security code" name="cv2" error=err("cv2") autocomplete="cc-csc"
                        required=true hint="3 digits (4 for AMEX)" inputmode="numeric" maxlength=4 />
                </div>
                <h2>"Billing address"</h2>
                <label class=if same_error.is_some() { "check invalid" } else { "check" }>
                    <input type="checkbox" name="billing_same" value="on" checked=billing_same />
                    <span>{same_label}</span>
                </label>
                {same_error.map(|e| view! { <p class="field-error">"Billing address " {e} "."</p> })}
                <fieldset class="billing-address">
                    <legend>"Billing address, if different"</legend>
                    <p class="muted">"Used when the box above is not ticked: the address your card statements go to."</p>
                    <Field label="House number or name" name="house" value=house
                        error=err("house") autocomplete="address-line1" />
                    <Field label="Street" name="street" value=street
                        error=err("street") autocomplete="address-line2" />
                    <Field label="Town or city" name="city" value=city
                        error=err("city") autocomplete="address-level2" />
                    <Field label="County" name="county" value=county
                        error=err("county") autocomplete="address-level1" />
                    <Field label="Postcode" name="postcode" value=postcode
                        error=err("postcode") autocomplete="postal-code" />
                </fieldset>
                <p class="muted small">
                    "Your card details go straight to the payment provider. Settle keeps only the card type "
                    "and its last four digits."
                </p>
                <button type="submit">{pay_label}</button>
            </ActionForm>
        </section>
        <p><a href=back>"Back to the checkout"</a></p>
    }
}

/// The page that shows the bank's check in a frame.
#[component]
pub fn ChallengePage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    let data = Resource::new_blocking(move || reference.clone(), |r| load_challenge(r, true));
    view! {
        <Layout title="Confirm with your bank".into()>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(view) => {
                            let status = status_href(&view.reference);
                            let frame = format!("{}/frame", challenge_href(&view.reference));
                            view! {
                                <h1>"Confirm the payment with your bank"</h1>
                                <p class="lead">
                                    "Your bank wants to make sure it is really you paying " {view.amount}
                                    " for policy " <code>{view.policy}</code> ". Follow its steps in the box below."
                                </p>
                                <div class="challenge">
                                    <iframe
                                        src=frame
                                        title="Your bank's security check"
                                        name="three-ds-challenge"
                                        data-status-url=status.clone()
                                    ></iframe>
                                </div>
                                <p class="challenge-done">
                                    "When your bank has finished, continue here: "
                                    <a class="button" id="challenge-done" href=status>
                                        "I've finished with my bank — show my payment"
                                    </a>
                                </p>
                                <script src="/3ds.js" defer></script>
                            }
                            .into_any()
                        }
                        Err(e) => view! {
                            <h1>"Confirm with your bank"</h1>
                            <p class="flash error">{report_problem(&e)}</p>
                            <p><a href="/account">"Back to your account"</a></p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

/// The tiny page inside the challenge frame: seed 003's form that takes the browser to the
/// issuer's page (`acsurl`) with `creq` and `threeDSSessionData`.
#[component]
pub fn ChallengeFramePage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    let data = Resource::new_blocking(move || reference.clone(), |r| load_challenge(r, false));
    view! {
        <Title text="Your bank's check" />
        <main class="frame">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(ChallengeView { acs_url: Some(acs_url), creq, session_data, .. }) => view! {
                            <form action=acs_url method="post" data-autosubmit="">
                                <input type="hidden" name="creq" value=creq.unwrap_or_default() />
                                <input type="hidden" name="threeDSSessionData" value=session_data.unwrap_or_default() />
                                <p>"Your bank will now check that it is you. This opens your bank's page here."</p>
                                <button type="submit">"Continue to your bank"</button>
                            </form>
                            <script src="/3ds.js" defer></script>
                        }
                        .into_any(),
                        Ok(view) => view! {
                            <p>"Your bank's check for this payment is over."</p>
                            <p><a href=status_href(&view.reference) target="_top">"Show my payment"</a></p>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="flash error">{report_problem(&e)}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// The card gateway to pay through: the requested one if it is one of the product's card
/// gateways, otherwise the product's first card gateway.
#[cfg(feature = "ssr")]
fn card_gateway(
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

/// Keeps the form's safe values (holder, address, errors) for the next card page.
#[cfg(feature = "ssr")]
async fn keep_form(form: &CardForm) -> Result<(), PageError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    session.insert(CARD_FORM_KEY, form).await.map_err(|e| {
        tracing::error!(error = %e, "keeping the card form failed");
        PageError::unavailable(
            "Sessions are unavailable right now. Please try again in a few minutes.",
        )
    })
}
