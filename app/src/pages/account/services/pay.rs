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
    use settle::payment_method::MethodKind;

    use crate::format::{billing_status, paid_until, service_status};
    use crate::pages::account::services::{NO_SUCH_SERVICE, buy_words, choices, owed, standing};
    use crate::pages::account::shared::open_payment;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let Some(standing) = standing(&ctx, &user, &service).await? else {
        return Err(PageError::not_found(NO_SUCH_SERVICE));
    };
    let open = match &standing.must_pay {
        Some(purchase) => open_payment(&ctx, &purchase.id).await?,
        None => None,
    };
    Ok(PayView {
        service: standing.service.reference.clone(),
        product: standing.product.name.clone(),
        status: service_status(&standing.service.status),
        billing: billing_status(standing.service.billing_status).to_owned(),
        paid_until: paid_until(standing.service.period_end, chrono::Utc::now()),
        owed: standing.must_pay.as_ref().map(owed),
        open,
        mediums: choices(&standing),
        off_system: standing.mediums.iter().any(|m| m.kind == MethodKind::OffSystem),
        buy: buy_words(&standing).map(str::to_owned),
    })
}

/// Pays what is owed on the customer's service with the chosen medium: a saved card or bank
/// account is collected now and the result page follows; a new card or a payment link goes to
/// the provider's page, which comes back to the result page.
#[server(prefix = "/account/api", endpoint = "service_pay")]
pub async fn pay_service(
    service: String,
    purchase: String,
    medium: Option<String>,
) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    use crate::links::service_pay_href;
    use crate::pages::account::services::{NO_SUCH_SERVICE, standing};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let Some(standing) = standing(&ctx, &user, &service).await? else {
        return redirect_with(Flash::error(NO_SUCH_SERVICE), ACCOUNT).await;
    };
    let back = service_pay_href(&standing.service.reference);
    let Some(medium) = medium.filter(|m| !m.trim().is_empty()) else {
        return redirect_with(Flash::error("Please choose how to pay."), &back).await;
    };
    let _ = (purchase, medium);
    redirect_with(
        Flash::notice("Paying from this page isn't available yet. Nothing was charged."),
        &back,
    )
    .await
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
                    "There is nothing to pay on this service: it is paid up."
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
