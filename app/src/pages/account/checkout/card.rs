//! Settle's card page, `/account/checkout/card?policy=…&gateway=…`: card details and the
//! billing address (the policy's, or another), posted to [`pay_by_card`]. After a problem the
//! first field with an error gets the focus and every error is linked to its field.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;
use settle::checkout::card::{MAX_ADDRESS_LINE, MAX_CARD_HOLDER};

use super::card_pay::{CardForm, FIELD_ORDER, PayByCard};
use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField, field::error_id};
use crate::layout::Layout;
use crate::links::checkout_href;

/// What the card page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CardView {
    /// The policy number.
    pub policy: String,
    /// The product name.
    pub product: String,
    /// Total to pay ("GBP 51.34").
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
    use super::card_pay::{CARD_FORM_KEY, card_gateway};
    use crate::error::NO_SUCH_POLICY;
    use crate::pages::account::shared::{payer, policy_offer};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let offer = policy_offer(&ctx, &payer(&user)?, &policy)
        .await?
        .ok_or_else(|| PageError::not_found(NO_SUCH_POLICY))?;
    let purchase = offer
        .owed
        .clone()
        .filter(|p| !p.amounts.gross().is_zero())
        .ok_or_else(|| PageError::conflict("Nothing is due on this policy."))?;
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
        total: purchase.amounts.gross().display().to_string(),
        gateway: gateway.id,
        policy_address: service.details.policy_address().map(|a| a.one_line()),
        form: kept.unwrap_or_else(|| CardForm::new(&service.reference)),
    })
}

/// The card entry page.
#[component]
pub fn CardPaymentPage() -> impl IntoView {
    let (policy, gateway) =
        use_query_map().with_untracked(|q| (q.get("policy").unwrap_or_default(), q.get("gateway")));
    view! {
        <Layout title="Pay by card".into()>
            <PageData heading="Pay by card" load=load_card_page(policy, gateway) let:view>
                <CardEntry view />
            </PageData>
        </Layout>
    }
}

#[component]
fn CardEntry(view: CardView) -> impl IntoView {
    let pay = ServerAction::<PayByCard>::new();
    let CardView { policy, product, total, gateway, policy_address, form } = view;
    let CardForm {
        card_holder,
        expiry_date,
        billing_same,
        house,
        street,
        city,
        county,
        postcode,
        errors,
        ..
    } = form;
    let focus = errors.first_of(FIELD_ORDER);
    let err = move |field: &str| errors.get(field);
    let first = move |field: &str| focus == Some(field);
    let back = checkout_href(&policy);
    let same_label = match &policy_address {
        Some(address) => view! {
            "My billing address is my policy address: " <span class="muted">{address.clone()}</span>
        }
        .into_any(),
        None => view! { "My billing address is my policy address" }.into_any(),
    };
    let same_error = err("billing_same");
    let same_class = if same_error.is_some() { "check invalid" } else { "check" };
    let same_invalid = same_error.as_ref().map(|_| "true");
    let same_described = same_error.as_ref().map(|_| error_id("billing_same"));
    view! {
        <h1>"Pay by card"</h1>
        <p class="lead">
            "Policy " <code class="reference">{policy.clone()}</code> " · " {product} ". Total to pay: "
            <strong class="amount">{total.clone()}</strong> "."
        </p>
        <section class="card card-entry">
            <ActionForm action=pay>
                <input type="hidden" name="policy" value=policy />
                <input type="hidden" name="gateway" value=gateway />
                <h2>"Your card"</h2>
                <TextField label="Name on the card" name="card_holder" value=card_holder
                    error=err("card_holder") autofocus=first("card_holder")
                    autocomplete="cc-name" required=true maxlength=MAX_CARD_HOLDER as u32 />
                <TextField label="Card number" name="card_number" error=err("card_number")
                    autofocus=first("card_number") autocomplete="cc-number" required=true
                    inputmode="numeric" maxlength=23 />
                <div class="pair">
                    <TextField label="Expiry date" name="expiry_date" value=expiry_date
                        error=err("expiry_date") autofocus=first("expiry_date")
                        autocomplete="cc-exp" required=true hint="MMYY, e.g. 1028"
                        inputmode="numeric" maxlength=5 />
                    <TextField label="Security code" name="cv2" error=err("cv2")
                        autofocus=first("cv2") autocomplete="cc-csc" required=true
                        hint="3 digits (4 for AMEX)" inputmode="numeric" maxlength=4 />
                </div>
                <h2>"Billing address"</h2>
                <label class=same_class>
                    <input type="checkbox" name="billing_same" value="on" checked=billing_same
                        autofocus=first("billing_same") aria-invalid=same_invalid
                        aria-describedby=same_described />
                    <span>{same_label}</span>
                </label>
                {same_error.map(|e| view! {
                    <p class="field-error" id=error_id("billing_same")>"Billing address " {e} "."</p>
                })}
                <fieldset class="billing-address">
                    <legend>"Billing address, if different"</legend>
                    <p class="muted">"Used when the box above is not ticked: the address your card statements go to."</p>
                    <TextField label="House number or name" name="house" value=house
                        error=err("house") autofocus=first("house") autocomplete="address-line1" maxlength=MAX_ADDRESS_LINE as u32 />
                    <TextField label="Street" name="street" value=street
                        error=err("street") autofocus=first("street") autocomplete="address-line2" maxlength=MAX_ADDRESS_LINE as u32 />
                    <TextField label="Town or city" name="city" value=city
                        error=err("city") autofocus=first("city") autocomplete="address-level2" maxlength=MAX_ADDRESS_LINE as u32 />
                    <TextField label="County" name="county" value=county
                        error=err("county") autofocus=first("county") autocomplete="address-level1" maxlength=MAX_ADDRESS_LINE as u32 />
                    <TextField label="Postcode" name="postcode" value=postcode
                        error=err("postcode") autofocus=first("postcode") autocomplete="postal-code" maxlength=MAX_ADDRESS_LINE as u32 />
                </fieldset>
                <p class="muted small">
                    "Your card details go straight to the payment provider. Settle keeps only the card type "
                    "and its last four digits."
                </p>
                <SubmitButton label=format!("Pay {total}") busy="Paying…" />
            </ActionForm>
        </section>
        <p><a href=back>"Back to the checkout"</a></p>
    }
}
