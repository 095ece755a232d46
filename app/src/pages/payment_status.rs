//! A payment's status page, `/account/payments/{reference}`: where the customer lands after any
//! payment step (hosted page, card, bank check, invoice).
//!
//! While the outcome is still coming the page reloads itself every two seconds (a meta refresh,
//! no script) for a bounded number of times, and always offers "Check status". Looking at the
//! page asks the gateway about a payment still waiting for the customer, so a customer whose
//! return from the gateway got lost still sees the outcome.

use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::layout::Layout;
use crate::pages::card_payment::challenge_href;
use crate::pages::checkout::{card_href, checkout_href, report_problem, status_href};

/// How many times the page reloads itself before it leaves it to the "Check status" button.
pub const MAX_POLLS: u32 = 60;

/// The policy a converted payment activated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicyFacts {
    /// The policy number.
    pub number: String,
    /// The product name.
    pub product: String,
    /// Its status ("active").
    pub status: String,
    /// Start of cover.
    pub start: Option<String>,
    /// End of cover.
    pub end: Option<String>,
}

/// What the status page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusView {
    /// The payment reference.
    pub reference: String,
    /// `POLICY_CONVERTED`.
    pub state: String,
    /// 11.
    pub code: i16,
    /// The sentence for the customer ("Your policy is ready").
    pub feedback: String,
    /// The amount ("5100.00 AED").
    pub amount: String,
    /// The gateway's display name.
    pub gateway: String,
    /// Whether the gateway takes card details on Settle's page (retry goes to the card page).
    pub card_gateway: bool,
    /// "VISA ending 3220", for card payments.
    pub card: Option<String>,
    /// Why it failed, in words safe to show.
    pub failure_reason: Option<String>,
    /// When it started.
    pub started: String,
    /// The gateway's page, while the customer still has to pay there.
    pub redirect_url: Option<String>,
    /// The policy number the payment is for.
    pub policy: String,
    /// The policy, once the payment activated it.
    pub activated: Option<PolicyFacts>,
    /// Whether the payment is for an insurance policy (rather than another service).
    pub is_policy: bool,
}

/// The status of one of the customer's payments; asks the gateway first if the payment is still
/// waiting for the customer or the gateway.
#[server(prefix = "/account/api", endpoint = "payment_status")]
pub async fn payment_status(reference: String, ask_gateway: bool) -> Result<StatusView, PageError> {
    use settle::gateway::{Gateway, GatewayKind};
    use settle::payment::PaymentState;

    use crate::pages::checkout::{internal, long_date, owned_payment};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let (mut payment, summary) = owned_payment(&ctx, &user, &reference)
        .await?
        .ok_or_else(|| PageError::not_found("We can't find that payment on your account."))?;
    if ask_gateway
        && matches!(payment.state, PaymentState::AwaitingCustomer | PaymentState::Processing)
    {
        match ctx.payments.refresh(&payment).await {
            Ok(fresh) => payment = fresh,
            // What is stored is still right; the next look asks again.
            Err(e) => {
                tracing::warn!(payment = %payment.reference, error = %e, "status refresh failed")
            }
        }
    }
    // Fulfilment changed the policy if the payment converted it: read it again.
    let service =
        match settle::service::Service::find_by_reference(&ctx.db, &summary.service.reference)
            .await
            .map_err(internal("loading the policy"))?
        {
            Some(service) => service,
            None => summary.service.clone(),
        };
    let gateway = Gateway::list(&ctx.db)
        .await
        .map_err(internal("loading the gateways"))?
        .into_iter()
        .find(|g| g.id == payment.gateway_id);
    let activated = (payment.state == PaymentState::PolicyConverted).then(|| PolicyFacts {
        number: service.reference.clone(),
        product: summary.product_name.clone(),
        status: service.status.clone(),
        start: service.period_start.map(long_date),
        end: service.period_end.map(long_date),
    });
    Ok(StatusView {
        reference: payment.reference.clone(),
        state: payment.state.name().to_owned(),
        code: payment.state.code(),
        feedback: payment.state.client_feedback().to_owned(),
        amount: payment.amount.to_string(),
        gateway: gateway
            .as_ref()
            .map(|g| g.name.clone())
            .unwrap_or_else(|| payment.gateway_id.clone()),
        card_gateway: gateway.as_ref().is_some_and(|g| g.kind == GatewayKind::Card3ds),
        card: payment.card.as_ref().map(|c| format!("{} ending {}", c.brand, c.last4)),
        failure_reason: payment.failure_reason.clone(),
        started: payment.created_at.format("%-d %B %Y, %H:%M UTC").to_string(),
        redirect_url: payment
            .redirect_url
            .clone()
            .filter(|_| payment.state == PaymentState::AwaitingCustomer),
        is_policy: service.kind == settle::product::ServiceKind::Policy,
        policy: service.reference,
        activated,
    })
}

/// The payment status page.
#[component]
pub fn PaymentStatusPage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    let poll: u32 =
        use_query_map().with_untracked(|q| q.get("poll").and_then(|p| p.parse().ok())).unwrap_or(0);
    // Ask the gateway on the first look and then every fifth reload, not on every one.
    let ask_gateway = poll.is_multiple_of(5);
    let data = Resource::new_blocking(
        move || reference.clone(),
        move |reference| payment_status(reference, ask_gateway),
    );
    view! {
        <Layout title="Your payment".into()>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(view) => view! { <Status view poll /> }.into_any(),
                        Err(e) => view! {
                            <h1>"Your payment"</h1>
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

/// How the page treats a state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Paid and the policy is active.
    Done,
    /// Paid, or being paid: the outcome comes shortly.
    Pending,
    /// The customer has something to do (gateway page, bank check).
    Waiting,
    /// To be paid against an invoice.
    Invoiced,
    /// Declined, failed or timed out: try again.
    Failed,
    /// Replaced by another attempt, or refunded.
    Closed,
}

fn outcome(state: &str) -> Outcome {
    match state {
        "POLICY_CONVERTED" => Outcome::Done,
        "AWAITING_CUSTOMER" | "PAYMENT_3DAUTH" => Outcome::Waiting,
        "INVOICED" => Outcome::Invoiced,
        "PAYMENT_FAILED" | "TERMINAL_ERROR" | "TIMED_OUT" => Outcome::Failed,
        "CANCELLED" | "REFUNDED" => Outcome::Closed,
        _ => Outcome::Pending,
    }
}

#[component]
fn Status(view: StatusView, poll: u32) -> impl IntoView {
    let outcome = outcome(&view.state);
    let here = status_href(&view.reference);
    // Reload while an answer is expected soon, a bounded number of times.
    let polling = matches!(outcome, Outcome::Pending | Outcome::Waiting) && poll < MAX_POLLS;
    let refresh = polling.then(|| {
        let content = format!("2;url={here}?poll={}", poll + 1);
        view! { <Meta http_equiv="refresh" content=content /> }
    });
    let retry_href =
        if view.card_gateway { card_href(&view.policy, None) } else { checkout_href(&view.policy) };
    let retry_label = if view.card_gateway { "Try another card" } else { "Try again" };
    let class = match outcome {
        Outcome::Done => "status-banner done",
        Outcome::Failed => "status-banner failed",
        _ => "status-banner pending",
    };
    let explanation = match outcome {
        Outcome::Done => view! {
            <p>
                "Thank you: your payment is complete and your "
                {if view.is_policy { "policy" } else { "service" }}
                " is active. We have also sent you the details."
            </p>
        }
        .into_any(),
        Outcome::Pending => view! {
            <p>"We are confirming your payment. This page updates by itself; it usually takes a few seconds."</p>
        }
        .into_any(),
        Outcome::Waiting if view.state == "PAYMENT_3DAUTH" => view! {
            <p>"Your bank needs you to confirm this payment."</p>
            <p><a class="button" href=challenge_href(&view.reference)>"Continue with your bank's check"</a></p>
        }
        .into_any(),
        Outcome::Waiting => view! {
            <p>"We are waiting for you to finish paying on " {view.gateway.clone()} "'s page."</p>
            {view.redirect_url.clone().map(|url| view! {
                <p><a class="button" href=url>"Continue to the payment page"</a></p>
            })}
        }
        .into_any(),
        Outcome::Invoiced => view! {
            <p>
                "We will send you an invoice for " {view.amount.clone()} ". Pay it by bank transfer, "
                "quoting the reference " <code>{view.reference.clone()}</code>
                ". Your policy starts once the payment arrives."
            </p>
        }
        .into_any(),
        Outcome::Failed => view! {
            <p>
                "Your payment did not go through"
                {view.failure_reason.clone().map(|r| format!(": {}", r.trim_end_matches('.')))}
                "."
                {(view.state == "PAYMENT_FAILED").then_some(" Nothing was taken for this attempt.")}
            </p>
            <p><a class="button" href=retry_href.clone()>{retry_label}</a></p>
        }
        .into_any(),
        Outcome::Closed => view! {
            <p>"This payment is no longer in progress."</p>
            <p><a href=checkout_href(&view.policy)>"Go to the checkout for this policy"</a></p>
        }
        .into_any(),
    };
    let check = matches!(outcome, Outcome::Pending | Outcome::Waiting).then(|| {
        let slow = (!polling).then(|| {
            view! {
                <p class="muted">"This is taking longer than usual. You can check again, or come back later: your account shows the outcome."</p>
            }
        });
        view! {
            {slow}
            <p><a class="button secondary" href=here.clone()>"Check status"</a></p>
        }
    });
    let policy = view.activated.clone().map(|p| {
        let period = match (p.start, p.end) {
            (Some(start), Some(end)) => format!("{start} to {end}"),
            (Some(start), None) => format!("from {start}"),
            _ => "being set up".to_owned(),
        };
        let docs = format!("/account/payments/{}", view.reference);
        view! {
            <section class="card">
                <h2>{if view.is_policy { "Your policy" } else { "Your service" }}</h2>
                <dl class="facts">
                    <dt>{if view.is_policy { "Policy number" } else { "Reference" }}</dt><dd><code>{p.number}</code></dd>
                    <dt>"Product"</dt><dd>{p.product}</dd>
                    <dt>"Status"</dt><dd>{p.status}</dd>
                    <dt>"Cover"</dt><dd>{period}</dd>
                </dl>
                <h3>"Your documents"</h3>
                <ul class="documents">
                    <li><a href=format!("{docs}/tax-invoice.pdf")>"Download the tax invoice (PDF)"</a></li>
                    <li><a href=format!("{docs}/receipt.pdf")>"Download the receipt (PDF)"</a></li>
                </ul>
            </section>
        }
    });
    view! {
        {refresh}
        <h1>"Your payment"</h1>
        <div class=class role="status">
            <p class="feedback">{view.feedback.clone()}</p>
            {explanation}
            {check}
        </div>
        {policy}
        <section class="card">
            <h2>"Payment details"</h2>
            <dl class="facts">
                <dt>"Reference"</dt><dd><code>{view.reference.clone()}</code></dd>
                <dt>"Amount"</dt><dd>{view.amount.clone()}</dd>
                <dt>"Payment method"</dt><dd>{view.gateway.clone()}</dd>
                {view.card.clone().map(|c| view! { <dt>"Card"</dt><dd>{c}</dd> })}
                <dt>{if view.is_policy { "For policy" } else { "For service" }}</dt><dd><code>{view.policy.clone()}</code></dd>
                <dt>"Started"</dt><dd>{view.started.clone()}</dd>
                <dt>"Status"</dt><dd><span class="tag">{view.state.clone()}</span></dd>
            </dl>
        </section>
        <p><a href="/account">"Back to your account"</a></p>
    }
}
