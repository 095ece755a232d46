//! The pay now page of an ISP service, `/account/services/{serviceId}/pay`: the amount payable
//! (the core's `must_pay` purchase), the mediums to choose from with the active one marked, "Add
//! new payment method", and one pay button. The form posts to [`pay_service`]; the result is
//! shown on [`super::result`]'s page. With nothing owed the page says how long the service is
//! paid for; with a payment under way it shows that payment instead of a second pay form.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::{MediumChoice, Owed};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;
use crate::links::{ACCOUNT, PAYMENT_METHODS, service_buy_href, status_href};
use crate::pages::account::shared::OpenPayment;

/// What the pay now page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PayView {
    /// The service id.
    pub service: String,
    /// Its product's name.
    pub product: String,
    /// Its status in words ("Active").
    pub status: String,
    /// Its billing status in words ("In arrears").
    pub billing: String,
    /// How long it is paid for, if it has a period.
    pub paid_until: Option<String>,
    /// What is owed now; `None` when paid up.
    pub owed: Option<Owed>,
    /// The payment of it under way, if one is.
    pub open: Option<OpenPayment>,
    /// The ways to pay.
    pub mediums: Vec<MediumChoice>,
    /// Whether the customer may also pay at a store or by EFT (an off-system medium).
    pub off_system: bool,
    /// The words of the link to buy ahead, when nothing is owed and the service can.
    pub buy: Option<String>,
}

/// The customer's service with what is owed and the ways to pay it.
#[server(prefix = "/account/api", endpoint = "service_pay_view")]
pub async fn load_pay(service: String) -> Result<PayView, PageError> {
    use crate::pages::account::services::{NO_SUCH_SERVICE, standing};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let Some(standing) = standing(&ctx, &user, &service).await? else {
        return Err(PageError::not_found(NO_SUCH_SERVICE));
    };
    let owed = standing.must_pay.clone();
    pay_view(&ctx, &standing, owed.as_ref()).await
}

/// A buy-now quote of the customer's service (the core's priced purchase) and the ways to pay
/// it; a quote that is paid says so.
#[server(prefix = "/account/api", endpoint = "service_quote_view")]
pub async fn load_quote(service: String, purchase: String) -> Result<PayView, PageError> {
    use settle::purchase::{PurchaseId, PurchaseStatus};

    use crate::pages::account::services::{NO_SUCH_SERVICE, standing};
    use crate::pages::account::shared::payer;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let Some(standing) = standing(&ctx, &user, &service).await? else {
        return Err(PageError::not_found(NO_SUCH_SERVICE));
    };
    let id = PurchaseId::from_string(purchase.trim().to_lowercase());
    let quote = match settle::access::purchase(&ctx.db, &payer(&user)?, &id).await {
        Ok((quote, of)) if of.id == standing.service.id => quote,
        Ok(_) | Err(settle::Error::NotFound(_)) => {
            return Err(PageError::not_found("We can't find that purchase on your account."));
        }
        Err(e) => return Err(PageError::logged("loading the purchase")(e)),
    };
    let payable = matches!(quote.status, PurchaseStatus::Quote | PurchaseStatus::Open);
    let mut view = pay_view(&ctx, &standing, payable.then_some(&quote)).await?;
    view.buy = None;
    Ok(view)
}

/// The pay page's data for `owed` (what must be paid now, or a quote) on a service.
#[cfg(feature = "ssr")]
async fn pay_view(
    ctx: &crate::PageContext,
    standing: &settle::service_standing::Standing,
    owed: Option<&settle::purchase::Purchase>,
) -> Result<PayView, PageError> {
    use settle::payment_method::MethodKind;

    use crate::format::{billing_status, paid_until, service_status};
    use crate::pages::account::services::{buy_words, choices};
    use crate::pages::account::shared::open_payment;

    let open = match owed {
        Some(purchase) => open_payment(ctx, &purchase.id).await?,
        None => None,
    };
    Ok(PayView {
        service: standing.service.reference.clone(),
        product: standing.product.name.clone(),
        status: service_status(&standing.service.status),
        billing: billing_status(standing.service.billing_status).to_owned(),
        paid_until: paid_until(standing.service.period_end, chrono::Utc::now()),
        owed: owed.map(super::owed),
        open,
        mediums: choices(standing),
        off_system: standing.mediums.iter().any(|m| m.kind == MethodKind::OffSystem),
        buy: buy_words(standing).map(str::to_owned),
    })
}

/// Pays what is owed on the customer's service with the chosen medium, through the core's
/// `checkout::collection::submit` (the same use case as seed 004's submit-for-collection): a
/// saved card or bank account is collected now and the result page follows; a new card or a
/// payment link goes to the provider's page, which comes back to the result page. A payment
/// already under way is shown instead of starting another.
#[server(prefix = "/account/api", endpoint = "service_pay")]
pub async fn pay_service(
    service: String,
    purchase: String,
    medium: Option<String>,
) -> Result<(), PageError> {
    use settle::checkout::collection::{Collected, Submission, submit};

    use crate::flash::{Flash, redirect_with};
    use crate::links::{service_pay_href, service_result_href};
    use crate::pages::account::services::{NO_SUCH_SERVICE, standing};
    use crate::pages::account::shared::{ALREADY_UNDER_WAY, payer, start_error_message};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let Some(standing) = standing(&ctx, &user, &service).await? else {
        return redirect_with(Flash::error(NO_SUCH_SERVICE), ACCOUNT).await;
    };
    let service = standing.service.reference.clone();
    let back = service_pay_href(&service);
    let Some(medium) = medium.filter(|m| !m.trim().is_empty()) else {
        return redirect_with(Flash::error("Please choose how to pay."), &back).await;
    };
    let purchase = purchase.trim().to_owned();
    // The provider's page comes back to the result page (Settle's own page: the core takes it
    // as a way back like a merchant's registered origin).
    let public = &ctx.payments.urls().public_url;
    let result_url = |ok: bool| {
        public.join(&service_result_href(&service, &purchase, ok)).map(|u| u.to_string()).ok()
    };
    let submission = Submission {
        service_id: service.clone(),
        purchase_id: purchase.clone(),
        medium_id: medium,
        process_immediate_purchase: true,
        success_url: result_url(true),
        failure_url: result_url(false),
        purchase_source_id: None,
        comment: None,
    };
    let result = |ok: bool| service_result_href(&service, &purchase, ok);
    match submit(&ctx.payments, &viewer, submission).await {
        Ok(Collected::Page { payment, url }) => {
            tracing::info!(payment = %payment.reference, %service, "pay now: to the provider's page");
            leptos_axum::redirect(&url);
            Ok(())
        }
        Ok(Collected::Charged(payment) | Collected::Declined(payment)) => {
            tracing::info!(payment = %payment.reference, %service, state = %payment.state, "pay now: collected");
            leptos_axum::redirect(&result(payment.state.is_success()));
            Ok(())
        }
        Ok(Collected::Allocated(_) | Collected::Deferred(_)) => {
            leptos_axum::redirect(&result(true));
            Ok(())
        }
        Err(settle::Error::PaymentInProgress(_)) => {
            redirect_with(Flash::notice(ALREADY_UNDER_WAY), &result(true)).await
        }
        Err(settle::Error::Conflict(message)) => {
            redirect_with(Flash::notice(message), &result(true)).await
        }
        Err(settle::Error::NotFound(_)) => {
            let flash =
                Flash::error("That payment is no longer due: here is what your service owes now.");
            redirect_with(flash, &back).await
        }
        Err(settle::Error::Forbidden) => {
            let flash =
                Flash::error("That way of paying isn't available here: please choose another.");
            redirect_with(flash, &back).await
        }
        Err(e) => redirect_with(Flash::error(start_error_message(&e)), &back).await,
    }
}

/// The pay now page.
#[component]
pub fn ServicePayPage() -> impl IntoView {
    let service = use_params_map().with_untracked(|p| p.get("service")).unwrap_or_default();
    view! {
        <Layout title="Pay now".into()>
            <PageData heading="Pay now" load=load_pay(service) let:view>
                <Pay view />
            </PageData>
        </Layout>
    }
}

/// The page that pays a buy-now quote, `/account/services/{serviceId}/buy/{purchaseId}`.
#[component]
pub fn QuotePayPage() -> impl IntoView {
    let (service, purchase) = use_params_map().with_untracked(|p| {
        (p.get("service").unwrap_or_default(), p.get("purchase").unwrap_or_default())
    });
    view! {
        <Layout title="Pay now".into()>
            <PageData heading="Pay now" load=load_quote(service, purchase) let:view>
                <Pay view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Pay(view: PayView) -> impl IntoView {
    let facts = view! {
        <dl class="facts">
            <dt>"Service"</dt><dd>{view.product.clone()} " " <code class="reference">{view.service.clone()}</code></dd>
            <dt>"Status"</dt><dd>{view.status.clone()}</dd>
            <dt>"Billing"</dt><dd>{view.billing.clone()}</dd>
            {view.paid_until.clone().map(|p| view! { <dt>"Paid for"</dt><dd>{p}</dd> })}
        </dl>
    };
    let body = match (view.owed.clone(), view.open.clone()) {
        (_, Some(open)) => view! {
            <p class="status-banner pending" role="status">
                "A payment of what is owed is under way (" {open.label} "), so we won't start another. "
                <a href=status_href(&open.reference)>"See where it stands"</a> "."
            </p>
        }
        .into_any(),
        (None, None) => {
            let buy = view.buy.clone().map(|words| {
                view! { <p><a class="button" href=service_buy_href(&view.service)>{words}</a></p> }
            });
            view! {
                <p class="status-banner done" role="status">
                    "There is nothing to pay here: it is paid."
                </p>
                {buy}
                <p><a href=ACCOUNT>"Back to your account"</a></p>
            }
            .into_any()
        }
        (Some(owed), None) => view! {
            <AmountPayable owed=owed.clone() />
            <PayForm service=view.service.clone() owed mediums=view.mediums.clone() />
            {view.off_system.then(|| view! {
                <p class="muted small">
                    "You can also pay at a store or by EFT, quoting your service number "
                    <code class="reference">{view.service.clone()}</code>
                    " as the reference. It shows here once the payment reaches us."
                </p>
            })}
        }
        .into_any(),
    };
    view! {
        <h1>"Pay now"</h1>
        <section class="card">{facts}</section>
        {body}
    }
}

/// The amount payable, line by line, with its tax.
#[component]
fn AmountPayable(owed: Owed) -> impl IntoView {
    let lines = owed
        .lines
        .into_iter()
        .map(|line| {
            view! {
                <dt>{line.description} {line.quantity.map(|q| format!(" ({q})"))}</dt>
                <dd class="num">{line.total}</dd>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <h2>"Amount payable"</h2>
            <dl class="totals">
                {lines}
                <dt>"Excluding tax"</dt><dd class="num">{owed.excl}</dd>
                <dt>"Tax"</dt><dd class="num">{owed.tax}</dd>
                <dt class="grand">"To pay now"</dt><dd class="num grand amount">{owed.total}</dd>
            </dl>
        </section>
    }
}

/// The ways to pay, the service's active medium chosen unless there is none, and the button.
#[component]
fn PayForm(service: String, owed: Owed, mediums: Vec<MediumChoice>) -> impl IntoView {
    let pay = ServerAction::<PayService>::new();
    let chosen = mediums
        .iter()
        .find(|m| m.active)
        .or_else(|| mediums.iter().find(|m| !m.is_new))
        .or(mediums.first())
        .map(|m| m.id.clone());
    let choices = mediums
        .into_iter()
        .map(|m| {
            let checked = chosen.as_deref() == Some(m.id.as_str());
            view! {
                <label class="choice">
                    <input type="radio" name="medium" value=m.id.clone() checked=checked required=true />
                    <span>
                        <strong>
                            {m.name}
                            {m.active.then(|| view! { " " <span class="tag active-medium">"✓ Active"</span> })}
                        </strong>
                        {m.detail.map(|d| view! { <small>{d}</small> })}
                        {m.active.then(|| view! { <small>"Your future payments for this service are collected with it."</small> })}
                    </span>
                </label>
            }
        })
        .collect_view();
    view! {
        <section class="card">
            <h2>"Pay with"</h2>
            <ActionForm action=pay attr:class="pay-now">
                <input type="hidden" name="service" value=service />
                <input type="hidden" name="purchase" value=owed.purchase />
                <fieldset class="choices">
                    <legend class="visually-hidden">"Pay with"</legend>
                    {choices}
                </fieldset>
                <SubmitButton label=format!("Pay {}", owed.total) busy="Paying…" />
            </ActionForm>
            <p class="muted small">
                "New card details go straight to the payment provider; Settle keeps only the card "
                "type, its last four digits and its expiry. "
                <a href=PAYMENT_METHODS>"Manage your payment methods"</a> "."
            </p>
        </section>
    }
}
