//! The insurance checkout summary: what the customer buys, the premium with tax, and how to pay.
//!
//! `/account/checkout?policy=DEMO/0001/MOTOR/WEB` (policy numbers contain slashes, so they travel
//! in the query). The form posts to [`start_checkout`]: a hosted-checkout gateway sends the
//! browser to the gateway's page, a card gateway to Settle's card page, the invoice gateway to
//! the payment's status page. The button says which of those happens ([`summary`]).
//!
//! `/account/checkout/card?policy=…` is the card page ([`card`], posting to [`card_pay`]).

pub mod card;
pub mod card_pay;
mod summary;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;
use crate::links::{ACCOUNT, card_href, checkout_href, status_href};
use crate::pages::account::shared::OpenPayment;

/// One premium line of the purchase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PremiumLine {
    /// What the line is for.
    pub description: String,
    /// Amount excluding tax ("AED 4,857.14").
    pub excl: String,
    /// Tax on it.
    pub tax: String,
    /// Amount including tax.
    pub total: String,
}

/// What choosing a way to pay leads to: decides the button's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayKind {
    /// Settle's card page comes next, with its own Pay button.
    Card,
    /// The gateway's payment page comes next.
    PaymentPage,
    /// An invoice is issued.
    Invoice,
}

impl PayKind {
    /// The button's words when this way is chosen.
    pub fn button(self) -> &'static str {
        match self {
            PayKind::Card => "Continue to card details",
            PayKind::PaymentPage => "Continue to the payment page",
            PayKind::Invoice => "Get the invoice",
        }
    }

    /// The name the stylesheet knows this kind by (`data-kind`, `when-…`).
    pub fn css(self) -> &'static str {
        match self {
            PayKind::Card => "card",
            PayKind::PaymentPage => "page",
            PayKind::Invoice => "invoice",
        }
    }
}

/// A way to pay the customer may choose.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewayChoice {
    /// The gateway's key (the radio button's value).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// One sentence on what happens when it is chosen.
    pub note: String,
    /// What comes next.
    pub kind: PayKind,
}

/// What the checkout summary shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckoutView {
    /// The policy number.
    pub policy: String,
    /// The product name.
    pub product: String,
    /// The insurer, if the quote names one.
    pub insurer: Option<String>,
    /// The scheme, if it adds something to the insurer's and product's names.
    pub scheme: Option<String>,
    /// How long the cover lasts ("12 months").
    pub cover: Option<String>,
    /// The current period, if the policy already has one.
    pub period: Option<String>,
    /// The insured vehicle, if any.
    pub vehicle: Option<String>,
    /// The policy address, one line.
    pub policy_address: Option<String>,
    /// Whether something is owed (an open purchase).
    pub due: bool,
    /// Whether what is owed comes to zero: no payment is required, only a confirmation.
    pub nothing_owed: bool,
    /// The premium lines.
    pub lines: Vec<PremiumLine>,
    /// Total excluding tax.
    pub excl: String,
    /// "Tax (5 %)".
    pub tax_label: String,
    /// Total tax.
    pub tax: String,
    /// Total to pay ("AED 5,100.00").
    pub total: String,
    /// The ways to pay, in the product's order.
    pub gateways: Vec<GatewayChoice>,
    /// A payment already under way for this purchase.
    pub open_payment: Option<OpenPayment>,
}

/// The checkout summary of one of the customer's policies.
#[server(prefix = "/account/api", endpoint = "checkout")]
pub async fn load_checkout(policy: String) -> Result<CheckoutView, PageError> {
    use crate::error::NO_SUCH_POLICY;
    use crate::format::{cover_length, long_date, scheme_name};
    use crate::pages::account::shared::{payer, policy_offer};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    if policy.trim().is_empty() {
        return Err(PageError::bad_request(
            "No policy was chosen. Choose the policy to pay on your account page.",
        ));
    }
    let settle::checkout::Offer { service, product, gateways, owed: purchase, open } =
        policy_offer(&ctx, &payer(&user)?, &policy)
            .await?
            .ok_or_else(|| PageError::not_found(NO_SUCH_POLICY))?;
    let open_payment = open.as_ref().map(OpenPayment::of);
    let details = &service.details;
    let quote = details.quote.clone().unwrap_or_default();
    let insurer = quote.insurer_name.filter(|s| !s.trim().is_empty());
    let scheme = scheme_name(insurer.as_deref(), quote.scheme_name.as_deref(), &product.name);
    let vehicle = details.vehicle_description();
    let period = match (service.period_start, service.period_end) {
        (Some(start), Some(end)) => Some(format!("{} to {}", long_date(start), long_date(end))),
        _ => None,
    };
    // "5 %", not the "5.0 %" a whole-number rate prints as.
    let rate = product.tax_rate.percent().to_string();
    let tax_label = format!("Tax ({} %)", rate.strip_suffix(".0").unwrap_or(&rate));
    let shown = |m: settle::money::Money| m.display().to_string();
    let (lines, excl, tax, total) = match &purchase {
        Some(p) => (
            p.lines
                .iter()
                .map(|l| PremiumLine {
                    description: l.description.clone(),
                    excl: shown(l.amounts.excl()),
                    tax: shown(l.amounts.tax()),
                    total: shown(l.amounts.gross()),
                })
                .collect(),
            shown(p.amounts.excl()),
            shown(p.amounts.tax()),
            shown(p.amounts.gross()),
        ),
        None => (Vec::new(), String::new(), String::new(), String::new()),
    };
    Ok(CheckoutView {
        policy: service.reference.clone(),
        product: product.name,
        insurer,
        scheme,
        cover: purchase.as_ref().and_then(|p| cover_length(&p.lines)),
        period,
        vehicle,
        policy_address: details.policy_address().map(|a| a.one_line()),
        due: purchase.is_some(),
        nothing_owed: purchase.as_ref().is_some_and(|p| p.amounts.gross().is_zero()),
        lines,
        excl,
        tax_label,
        tax,
        total,
        gateways: gateways
            .into_iter()
            .filter_map(|g| {
                let (kind, note) = payable_here(g.kind, &g.name)?;
                Some(GatewayChoice { id: g.id, name: g.name, note, kind })
            })
            .collect(),
        open_payment,
    })
}

/// Starts paying a policy through the chosen gateway and sends the browser on: to the gateway's
/// hosted page, to the card page, or to the payment's status page. Problems come back as a flash
/// message on the checkout page.
#[server(prefix = "/account/api", endpoint = "checkout_pay")]
pub async fn start_checkout(policy: String, gateway: Option<String>) -> Result<(), PageError> {
    use settle::gateway::GatewayKind;
    use settle::payment::PaymentState;

    use crate::error::NO_SUCH_POLICY;
    use crate::flash::{Flash, redirect_with};
    use crate::pages::account::shared::{
        in_progress_flash, payer, policy_offer, start_error_message,
    };

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let back = checkout_href(&policy);
    let viewer = payer(&user)?;
    let Some(offer) = policy_offer(&ctx, &viewer, &policy).await? else {
        return redirect_with(Flash::error(NO_SUCH_POLICY), ACCOUNT).await;
    };
    let Some(owed) = &offer.owed else {
        // The checkout page says so.
        leptos_axum::redirect(&back);
        return Ok(());
    };
    let gateway = if owed.amounts.gross().is_zero() {
        // Nothing to take: any gateway the product offers settles it, without a call.
        offer.gateways.first().cloned()
    } else {
        let Some(gateway_id) = gateway.filter(|g| !g.trim().is_empty()) else {
            return redirect_with(Flash::error("Choose how you would like to pay."), &back).await;
        };
        let Some(gateway) = offer
            .gateways
            .iter()
            .find(|g| g.id == gateway_id && payable_here(g.kind, &g.name).is_some())
            .cloned()
        else {
            return redirect_with(
                Flash::error("That way of paying isn't available for this policy. Choose another."),
                &back,
            )
            .await;
        };
        if gateway.kind == GatewayKind::Card3ds {
            leptos_axum::redirect(&card_href(&offer.service.reference, Some(&gateway.id)));
            return Ok(());
        }
        Some(gateway)
    };
    let Some(gateway) = gateway else {
        return redirect_with(
            Flash::error("This policy can't be paid online. Please contact us."),
            &back,
        )
        .await;
    };
    let started = settle::checkout::start_by_gateway(
        &ctx.payments,
        &viewer,
        &offer.service.reference,
        &gateway.id,
        None,
        None,
    )
    .await;
    let payment = match started {
        Ok(started) => started.payment,
        Err(settle::Error::PaymentInProgress(reference)) => {
            return redirect_with(in_progress_flash(), &status_href(&reference)).await;
        }
        Err(e) => return redirect_with(Flash::error(start_error_message(&e)), &back).await,
    };
    tracing::info!(payment = %payment.reference, gateway = %gateway.id, state = %payment.state, "checkout started");
    match (payment.state, payment.redirect_url.as_deref()) {
        (PaymentState::AwaitingCustomer, Some(url)) => {
            leptos_axum::redirect(url);
            Ok(())
        }
        (PaymentState::PaymentFailed | PaymentState::TerminalError, _) => {
            let why = payment.failure_reason.as_deref().unwrap_or("the payment provider said no");
            redirect_with(
                Flash::error(format!(
                    "{gateway} could not start your payment ({why}). Please try again, or choose another way to pay.",
                    gateway = gateway.name,
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

/// The checkout summary page.
#[component]
pub fn CheckoutPage() -> impl IntoView {
    let policy = use_query_map().with_untracked(|q| q.get("policy")).unwrap_or_default();
    view! {
        <Layout title="Checkout".into()>
            <PageData heading="Pay for your policy" load=load_checkout(policy) let:view>
                <summary::CheckoutSummary view />
            </PageData>
        </Layout>
    }
}

/// What a gateway kind leads to and the sentence a customer sees for it, or `None` if this page
/// can't take it (Apple Pay needs script and an Apple device; direct debit and off-system
/// payments are set up elsewhere).
#[cfg(feature = "ssr")]
fn payable_here(kind: settle::gateway::GatewayKind, name: &str) -> Option<(PayKind, String)> {
    use settle::gateway::GatewayKind;
    match kind {
        GatewayKind::HostedCheckout | GatewayKind::PaymentLink => Some((
            PayKind::PaymentPage,
            format!("Pay by card on {name}'s secure payment page; you come back here afterwards."),
        )),
        GatewayKind::Card3ds => Some((
            PayKind::Card,
            "Enter your card details on the next page. Your bank may ask you to confirm the payment."
                .into(),
        )),
        GatewayKind::Invoice => Some((
            PayKind::Invoice,
            "Get an invoice now and pay it later by bank transfer.".into(),
        )),
        GatewayKind::ApplePay | GatewayKind::DirectDebit | GatewayKind::OffSystem => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_button_says_what_comes_next() {
        assert_eq!(PayKind::Card.button(), "Continue to card details");
        assert_eq!(PayKind::Invoice.button(), "Get the invoice");
        assert!(!PayKind::PaymentPage.button().starts_with("Pay "));
    }
}
