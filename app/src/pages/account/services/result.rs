//! The result of paying a service's purchase, `/account/services/{serviceId}/pay/{purchaseId}/{1|0}`:
//! where the pay now form, and the provider's page after a new card or a payment link, bring the
//! customer. Like the document's return URLs the address ends in `1` (the provider reported
//! success) or `0`; the page believes only what Settle knows of the payment (asking the gateway
//! if it has no answer yet), so a `1` on a failed payment still says it failed. While the answer
//! is awaited the page reloads itself (meta refresh, no script) for a minute.

use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;
use crate::links::{ACCOUNT, service_pay_href, service_result_href, status_href};

/// Seconds between reloads while the answer is awaited.
const POLL_SECONDS: u32 = 5;
/// Reloads before the page stops and leaves it to "Check again".
const MAX_POLLS: u32 = 12;

/// Where paying stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Paid: the service is paid up (until the date, if it has a period).
    Paid(Option<String>),
    /// The provider hasn't answered yet.
    Waiting,
    /// It didn't go through (with the provider's reason, if it gave one).
    Failed(Option<String>),
    /// The customer left the provider's page without paying, or nothing was started.
    NotPaid,
}

/// What the result page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultView {
    /// The service id.
    pub service: String,
    /// Its product's name.
    pub product: String,
    /// The purchase's id.
    pub purchase: String,
    /// The amount ("ZAR 379.16").
    pub amount: String,
    /// The latest payment's reference, if one was started.
    pub payment: Option<String>,
    /// Where it stands.
    pub outcome: Outcome,
}

/// Where paying the customer's purchase of their service stands.
#[server(prefix = "/account/api", endpoint = "service_pay_result")]
pub async fn load_result(service: String, purchase: String) -> Result<ResultView, PageError> {
    use settle::payment::Payment;
    use settle::purchase::{PurchaseId, PurchaseStatus};

    use crate::format::paid_until;
    use crate::pages::account::services::{NO_SUCH_SERVICE, standing};
    use crate::pages::account::shared::{own_payment, payer};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let Some(found) = standing(&ctx, &user, &service).await? else {
        return Err(PageError::not_found(NO_SUCH_SERVICE));
    };
    let id = PurchaseId::from_string(purchase.trim().to_lowercase());
    let bought = match settle::access::purchase(&ctx.db, &viewer, &id).await {
        Ok((bought, of)) if of.id == found.service.id => bought,
        Ok(_) | Err(settle::Error::NotFound(_)) => {
            return Err(PageError::not_found("We can't find that payment on your account."));
        }
        Err(e) => return Err(PageError::logged("loading the purchase")(e)),
    };
    let latest = Payment::for_purchase(&ctx.db, &bought.id)
        .await
        .map_err(PageError::logged("loading payments"))?
        .into_iter()
        .next();
    // Ask the gateway about an unanswered payment, then read the purchase and service again.
    let payment = match latest {
        Some(p) if !p.state.is_final() => {
            own_payment(&ctx, &viewer, &p.reference, true).await?.map(|o| o.payment).or(Some(p))
        }
        other => other,
    };
    let (bought, found) = match settle::access::purchase(&ctx.db, &viewer, &id).await {
        Ok((bought, _)) => (bought, standing(&ctx, &user, &service).await?.unwrap_or(found)),
        Err(e) => return Err(PageError::logged("loading the purchase")(e)),
    };
    let outcome = if bought.status == PurchaseStatus::Paid {
        Outcome::Paid(paid_until(found.service.period_end, chrono::Utc::now()))
    } else {
        match &payment {
            Some(p) if !p.state.is_final() => Outcome::Waiting,
            Some(p) if p.state.is_success() => Outcome::Waiting,
            Some(p) => Outcome::Failed(p.failure_reason.clone()),
            None => Outcome::NotPaid,
        }
    };
    Ok(ResultView {
        service: found.service.reference.clone(),
        product: found.product.name.clone(),
        purchase: bought.id.to_string(),
        amount: bought.amounts.gross().display().to_string(),
        payment: payment.map(|p| p.reference),
        outcome,
    })
}

/// The result page.
#[component]
pub fn ServicePayResultPage() -> impl IntoView {
    let (service, purchase) = use_params_map().with_untracked(|p| {
        (p.get("service").unwrap_or_default(), p.get("purchase").unwrap_or_default())
    });
    let poll = use_query_map()
        .with_untracked(|q| q.get("poll").and_then(|p| p.parse::<u32>().ok()).unwrap_or(0));
    view! {
        <Layout title="Your payment".into()>
            <PageData heading="Your payment" load=load_result(service, purchase) let:view>
                <PayResult view poll />
            </PageData>
        </Layout>
    }
}

#[component]
fn PayResult(view: ResultView, poll: u32) -> impl IntoView {
    let waiting = view.outcome == Outcome::Waiting;
    let polling = waiting && poll < MAX_POLLS;
    let here = service_result_href(&view.service, &view.purchase, true);
    let refresh = polling.then(|| {
        let content = format!("{POLL_SECONDS};url={here}?poll={}", poll + 1);
        view! { <Meta http_equiv="refresh" content=content /> }
    });
    let (class, headline, body) = match view.outcome.clone() {
        Outcome::Paid(until) => (
            "status-banner done",
            "Payment received. Thank you!".to_owned(),
            view! {
                <p>{format!("We received {} for {}.", view.amount, view.product)}</p>
                {until.map(|u| view! { <p><strong>{format!("{u}.")}</strong></p> })}
            }
            .into_any(),
        ),
        Outcome::Waiting => (
            "status-banner pending",
            "We're waiting for the payment provider's answer.".to_owned(),
            view! {
                <p>"You won't be charged twice. "
                    {if polling {
                        format!("This page checks again every {POLL_SECONDS} seconds.")
                    } else {
                        "We keep checking in the background; your account shows where it stands.".to_owned()
                    }}
                </p>
                <p><a class="button secondary" href=here.clone()>"Check again"</a></p>
            }
            .into_any(),
        ),
        Outcome::Failed(reason) => (
            "status-banner failed",
            "Your payment didn't go through.".to_owned(),
            view! {
                <p>
                    "Nothing was taken"
                    {reason.map(|r| format!(" (the provider's answer: {})", r.trim_end_matches('.')))}
                    ". Please try again, or choose another way to pay."
                </p>
                <p><a class="button" href=service_pay_href(&view.service)>"Try again"</a></p>
            }
            .into_any(),
        ),
        Outcome::NotPaid => (
            "status-banner failed",
            "You haven't paid yet.".to_owned(),
            view! {
                <p>"Nothing was taken. You can pay whenever you are ready."</p>
                <p><a class="button" href=service_pay_href(&view.service)>"Pay now"</a></p>
            }
            .into_any(),
        ),
    };
    view! {
        {refresh}
        <h1>"Your payment"</h1>
        <div class=class role="status" aria-live="polite">
            <p class="feedback">{headline}</p>
            {body}
        </div>
        <section class="card">
            <dl class="facts">
                <dt>"Service"</dt><dd>{view.product.clone()} " " <code class="reference">{view.service.clone()}</code></dd>
                <dt>"Amount"</dt><dd class="amount">{view.amount.clone()}</dd>
                {view.payment.clone().map(|p| view! {
                    <dt>"Payment"</dt><dd><a href=status_href(&p)><code class="reference">{p.clone()}</code></a></dd>
                })}
            </dl>
        </section>
        <p><a href=ACCOUNT>"Back to your account"</a></p>
    }
}
