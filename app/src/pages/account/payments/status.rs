//! A payment's status page, `/account/payments/{reference}`: where the customer lands after any
//! payment step (hosted page, card, bank check, invoice).
//!
//! While an answer is still coming the page reloads itself every 5 seconds for a minute (a meta
//! refresh, no script), then stops and leaves it to "Check status", which asks the gateway. The
//! banner is a polite live region. Looking at the page asks the gateway about a payment still
//! waiting for it (on the first look, every other reload, and on "Check status"), so a customer
//! whose return from the gateway got lost still sees the outcome.

use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;
use crate::links::{
    ACCOUNT, card_href, challenge_href, checkout_href, receipt_href, status_check_href,
    status_poll_href, tax_invoice_href,
};

/// Seconds between the page's own reloads.
pub const POLL_SECONDS: u32 = 5;

/// How many times the page reloads itself (a minute's worth) before it leaves it to the
/// "Check status" button.
pub const MAX_POLLS: u32 = 60 / POLL_SECONDS;

/// Where a payment stands, as the page treats it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Paid and the policy is active.
    Done,
    /// Paid; the policy is being activated.
    Activating,
    /// Sent to the gateway; its answer hasn't come yet.
    Answer,
    /// The bank wants the customer to confirm it (3-D Secure).
    BankCheck,
    /// The customer hasn't finished on the gateway's page.
    PaymentPage,
    /// To be paid against an invoice.
    Invoiced,
    /// Declined.
    Failed,
    /// An error the gateway can't recover from.
    Error,
    /// Not finished in time.
    TimedOut,
    /// Replaced by another attempt, or abandoned.
    Cancelled,
    /// The money was given back.
    Refunded,
}

impl Stage {
    /// Whether an answer is expected by itself, so the page reloads.
    pub fn expects_answer(self) -> bool {
        matches!(self, Stage::Activating | Stage::Answer | Stage::BankCheck | Stage::PaymentPage)
    }
}

/// The policy a converted payment activated.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicyFacts {
    /// The policy number.
    pub number: String,
    /// The product name.
    pub product: String,
    /// Its status in words ("Active").
    pub status: String,
    /// Start of cover.
    pub start: Option<String>,
    /// End of cover.
    pub end: Option<String>,
}

/// How an invoiced payment is paid, from its tax invoice.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvoiceFacts {
    /// Who is paid (the seller on the invoice).
    pub seller: String,
    /// The invoice number (`INV-…`).
    pub number: String,
    /// How to pay it, with the seller's bank details, as the invoice says it.
    pub how_to_pay: Option<String>,
    /// Whether the policy is already active (some products activate on the invoice).
    pub policy_active: bool,
}

/// What the status page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusView {
    /// The payment reference.
    pub reference: String,
    /// Where it stands.
    pub stage: Stage,
    /// Its state in words ("Paid").
    pub label: String,
    /// The amount ("AED 5,100.00").
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
    /// How to pay, for an invoiced payment.
    pub invoice: Option<InvoiceFacts>,
    /// Whether money moved (a receipt exists).
    pub receipt: bool,
    /// Whether the payment is for an insurance policy (rather than another service).
    pub is_policy: bool,
    /// Where to try again, when that is the purchase's own page (a merchant's invoice) rather
    /// than the policy's checkout.
    pub retry: Option<String>,
    /// The merchant's page a paid customer goes back to, if the client gave one.
    pub back_to_merchant: Option<String>,
}

/// The status of one of the customer's payments; asks the gateway first if the payment is still
/// waiting for the customer or the gateway.
#[server(prefix = "/account/api", endpoint = "payment_status")]
pub async fn payment_status(reference: String, ask_gateway: bool) -> Result<StatusView, PageError> {
    use settle::gateway::{Gateway, GatewayKind};
    use settle::payment::PaymentState;

    use crate::error::NO_SUCH_PAYMENT;
    use crate::format::{date_time, long_date, service_status};
    use crate::pages::account::shared::{own_payment, payer};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    // Asking the gateway also fulfils a paid payment, so the service read here is as it is now.
    let settle::checkout::Outcome { payment, service } =
        own_payment(&ctx, &viewer, &reference, ask_gateway)
            .await?
            .ok_or_else(|| PageError::not_found(NO_SUCH_PAYMENT))?;
    let product_name = settle::product::Product::find(&ctx.db, &service.product_id)
        .await
        .map_err(PageError::logged("loading the product"))?
        .map(|p| p.name)
        .unwrap_or_default();
    let gateway = Gateway::list(&ctx.db)
        .await
        .map_err(PageError::logged("loading the gateways"))?
        .into_iter()
        .find(|g| g.id == payment.gateway_id);
    let stage = match payment.state {
        PaymentState::PolicyConverted => Stage::Done,
        PaymentState::PaymentSuccess | PaymentState::ConvertingPolicy => Stage::Activating,
        PaymentState::Created | PaymentState::Processing => Stage::Answer,
        PaymentState::Payment3dAuth => Stage::BankCheck,
        PaymentState::AwaitingCustomer => Stage::PaymentPage,
        PaymentState::Invoiced => Stage::Invoiced,
        PaymentState::PaymentFailed => Stage::Failed,
        PaymentState::TerminalError => Stage::Error,
        PaymentState::TimedOut => Stage::TimedOut,
        PaymentState::Cancelled => Stage::Cancelled,
        PaymentState::Refunded => Stage::Refunded,
    };
    // The page still shows the payment if its invoice can't be made (no seller on record).
    let invoice = if stage == Stage::Invoiced {
        match settle::document::TaxInvoice::load(&ctx.db, &payment.reference, &viewer).await {
            Ok(invoice) => Some(InvoiceFacts {
                seller: invoice.seller.name,
                number: invoice.number,
                how_to_pay: invoice.how_to_pay,
                policy_active: service.status.eq_ignore_ascii_case("active"),
            }),
            Err(e) => {
                tracing::warn!(payment = %payment.reference, error = %e, "loading the invoice failed");
                None
            }
        }
    } else {
        None
    };
    // A merchant's invoice is paid (and tried again) on its own page.
    let purchase = settle::purchase::Purchase::find(&ctx.db, &payment.purchase_id)
        .await
        .map_err(PageError::logged("loading the purchase"))?;
    let retry = purchase
        .filter(|p| p.merchant_reference.is_some())
        .map(|p| crate::links::invoice_page_href(&p.reference));
    let back_to_merchant = if payment.state.is_success() {
        settle::checkout::return_to::continue_url(&ctx.db, &payment)
            .await
            .map_err(PageError::logged("the way back"))?
    } else {
        None
    };
    let activated = (payment.state == PaymentState::PolicyConverted).then(|| PolicyFacts {
        number: service.reference.clone(),
        product: product_name,
        status: service_status(&service.status),
        start: service.period_start.map(long_date),
        end: service.period_end.map(long_date),
    });
    Ok(StatusView {
        reference: payment.reference.clone(),
        stage,
        label: payment.state.label().to_owned(),
        amount: payment.amount.display().to_string(),
        gateway: gateway
            .as_ref()
            .map(|g| g.name.clone())
            .unwrap_or_else(|| payment.gateway_id.clone()),
        card_gateway: gateway.as_ref().is_some_and(|g| g.kind == GatewayKind::Card3ds),
        card: payment.card.as_ref().map(|c| format!("{} ending {}", c.brand, c.last4)),
        failure_reason: payment.failure_reason.clone(),
        started: date_time(payment.created_at),
        redirect_url: payment
            .redirect_url
            .clone()
            .filter(|_| payment.state == PaymentState::AwaitingCustomer),
        is_policy: service.kind == settle::product::ServiceKind::Policy,
        policy: service.reference,
        activated,
        invoice,
        receipt: payment.state.money_moved(),
        retry,
        back_to_merchant,
    })
}

/// The payment status page.
#[component]
pub fn PaymentStatusPage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    let (poll, checked) = use_query_map().with_untracked(|q| {
        (q.get("poll").and_then(|p| p.parse::<u32>().ok()).unwrap_or(0), q.get("check").is_some())
    });
    // Ask the gateway on the first look, on "Check status", and every other reload.
    let ask_gateway = checked || poll.is_multiple_of(2);
    view! {
        <Layout title="Your payment".into()>
            <PageData heading="Your payment" load=payment_status(reference, ask_gateway) let:view>
                <Status view poll checked />
            </PageData>
        </Layout>
    }
}

#[component]
fn Status(view: StatusView, poll: u32, checked: bool) -> impl IntoView {
    let stage = view.stage;
    let polling = stage.expects_answer() && poll < MAX_POLLS && !checked;
    let refresh = polling.then(|| {
        let content = format!("{POLL_SECONDS};url={}", status_poll_href(&view.reference, poll + 1));
        view! { <Meta http_equiv="refresh" content=content /> }
    });
    let class = match stage {
        Stage::Done => "status-banner done",
        Stage::Failed | Stage::Error | Stage::TimedOut => "status-banner failed",
        _ => "status-banner pending",
    };
    let service_word = if view.is_policy { "policy" } else { "service" };
    let headline = headline(&view);
    let polling_note = if polling {
        format!("This page checks again every {POLL_SECONDS} seconds.")
    } else {
        "We keep checking in the background. Check again now, or come back later: your account shows where it stands.".to_owned()
    };
    let check = stage.expects_answer().then(|| {
        view! {
            <p class="muted">{polling_note}</p>
            <p><a class="button secondary" href=status_check_href(&view.reference)>"Check status"</a></p>
        }
    });
    view! {
        {refresh}
        <h1>"Your payment"</h1>
        <div class=class role="status" aria-live="polite">
            <p class="feedback">{headline}</p>
            <Explanation view=view.clone() service_word />
            {check}
        </div>
        {view.activated.clone().map(|p| view! { <PolicyCard facts=p is_policy=view.is_policy /> })}
        {view.receipt.then(|| view! { <Documents reference=view.reference.clone() /> })}
        <section class="card">
            <h2>"Payment details"</h2>
            <dl class="facts">
                <dt>"Reference"</dt><dd><code class="reference">{view.reference.clone()}</code></dd>
                <dt>"Amount"</dt><dd class="amount">{view.amount.clone()}</dd>
                <dt>"Payment method"</dt><dd>{view.gateway.clone()}</dd>
                {view.card.clone().map(|c| view! { <dt>"Card"</dt><dd>{c}</dd> })}
                <dt>{if view.is_policy { "For policy" } else { "For service" }}</dt>
                <dd><code class="reference">{view.policy.clone()}</code></dd>
                <dt>"Started"</dt><dd>{view.started.clone()}</dd>
                <dt>"Status"</dt><dd><span class="tag">{view.label.clone()}</span></dd>
            </dl>
        </section>
        <p><a href=ACCOUNT>"Back to your account"</a></p>
    }
}

/// The banner's first line: where the payment stands, in a few words.
fn headline(view: &StatusView) -> String {
    let who = if view.card_gateway { "your bank".to_owned() } else { view.gateway.clone() };
    match view.stage {
        Stage::Done => {
            format!("Your {} is ready", if view.is_policy { "policy" } else { "service" })
        }
        Stage::Activating => "Payment received".into(),
        Stage::Answer => format!("Waiting for {who}"),
        Stage::BankCheck => "Your bank needs you to confirm this payment".into(),
        Stage::PaymentPage => "Waiting for you to finish paying".into(),
        Stage::Invoiced => "Your invoice is ready".into(),
        Stage::Failed => "Payment failed".into(),
        Stage::Error => "Your payment could not be completed".into(),
        Stage::TimedOut => "Your payment timed out".into(),
        Stage::Cancelled => "This payment was cancelled".into(),
        Stage::Refunded => "This payment was refunded".into(),
    }
}

/// What the stage means for the customer, and what they can do.
#[component]
fn Explanation(view: StatusView, service_word: &'static str) -> impl IntoView {
    let retry_href = match &view.retry {
        Some(page) => page.clone(),
        None if view.card_gateway => card_href(&view.policy, None),
        None => checkout_href(&view.policy),
    };
    let back = view.back_to_merchant.clone().map(|url| {
        view! { <p><a class="button" href=url>"Return to the merchant's site"</a></p> }
    });
    let retry_label = if view.card_gateway { "Try another card" } else { "Try again" };
    let why = view.failure_reason.clone().map(|r| format!(": {}", r.trim_end_matches('.')));
    match view.stage {
        Stage::Done => view! {
            <p>"Thank you: your payment is complete and your " {service_word} " is active."</p>
            {back}
        }
        .into_any(),
        Stage::Activating => view! {
            <p>"Your payment has been taken. We are activating your " {service_word} " now."</p>
            {back}
        }
        .into_any(),
        Stage::Answer => {
            let who = if view.card_gateway { "Your bank".to_owned() } else { view.gateway.clone() };
            view! {
                <p>{who} " hasn't answered yet; we're checking with them — you won't be charged twice."</p>
            }
            .into_any()
        }
        Stage::BankCheck => view! {
            <p><a class="button" href=challenge_href(&view.reference)>"Continue with your bank's check"</a></p>
        }
        .into_any(),
        Stage::PaymentPage => view! {
            <p>"You haven't finished paying on " {view.gateway.clone()} "'s page yet."</p>
            {view.redirect_url.clone().map(|url| view! {
                <p><a class="button" href=url>"Continue to the payment page"</a></p>
            })}
        }
        .into_any(),
        Stage::Invoiced => view! { <InvoiceSteps view /> }.into_any(),
        Stage::Failed => view! {
            <p>"Your payment did not go through" {why} ". Nothing was taken for this attempt."</p>
            <p><a class="button" href=retry_href>{retry_label}</a></p>
        }
        .into_any(),
        Stage::Error | Stage::TimedOut => view! {
            <p>"This payment was not completed" {why} "."</p>
            <p><a class="button" href=retry_href>{retry_label}</a></p>
        }
        .into_any(),
        Stage::Cancelled | Stage::Refunded => view! {
            <p>"This payment is no longer in progress."</p>
            <p><a href=checkout_href(&view.policy)>"Go to the checkout for this policy"</a></p>
        }
        .into_any(),
    }
}

/// How to pay an invoiced payment: what the invoice carries, and the invoice itself.
#[component]
fn InvoiceSteps(view: StatusView) -> impl IntoView {
    let facts = view.invoice.clone();
    let seller = facts.as_ref().map(|f| f.seller.clone()).unwrap_or_else(|| "the seller".into());
    let active = facts.as_ref().is_some_and(|f| f.policy_active);
    let how_to_pay = facts.as_ref().and_then(|f| f.how_to_pay.clone());
    let number = facts.map(|f| f.number).unwrap_or_default();
    view! {
        {match how_to_pay {
            Some(how) => view! { <p class="how-to-pay">{how}</p> }.into_any(),
            None => view! {
                <p>
                    "Pay " <strong class="amount">{view.amount.clone()}</strong>
                    " by bank transfer to " {seller} ", quoting "
                    <code class="reference">{view.reference.clone()}</code>
                    " as the payment reference; the invoice shows how to pay."
                </p>
            }
            .into_any(),
        }}
        <p>
            <a class="button" href=tax_invoice_href(&view.reference)>
                "Download the invoice " {number} " (PDF)"
            </a>
        </p>
        {(!active).then(|| view! { <p>"Your policy starts once your payment has arrived."</p> })}
        <p class="muted">
            "Rather pay another way? " <a href=checkout_href(&view.policy)>"Choose another way to pay"</a>
            " (the invoice is then cancelled)."
        </p>
    }
}

/// The policy a payment activated.
#[component]
fn PolicyCard(facts: PolicyFacts, is_policy: bool) -> impl IntoView {
    let period = match (facts.start, facts.end) {
        (Some(start), Some(end)) => format!("{start} to {end}"),
        (Some(start), None) => format!("from {start}"),
        _ => "being set up".to_owned(),
    };
    view! {
        <section class="card">
            <h2>{if is_policy { "Your policy" } else { "Your service" }}</h2>
            <dl class="facts">
                <dt>{if is_policy { "Policy number" } else { "Reference" }}</dt>
                <dd><code class="reference">{facts.number}</code></dd>
                <dt>"Product"</dt><dd>{facts.product}</dd>
                <dt>"Status"</dt><dd>{facts.status}</dd>
                <dt>"Cover"</dt><dd>{period}</dd>
            </dl>
        </section>
    }
}

/// The payment's documents, once money moved.
#[component]
fn Documents(reference: String) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Your documents"</h2>
            <ul class="documents">
                <li><a href=tax_invoice_href(&reference)>"Download the tax invoice (PDF)"</a></li>
                <li><a href=receipt_href(&reference)>"Download the receipt (PDF)"</a></li>
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_reloads_for_a_minute_at_most() {
        assert_eq!(POLL_SECONDS * MAX_POLLS, 60);
        assert!(Stage::Answer.expects_answer());
        assert!(!Stage::Invoiced.expects_answer());
        assert!(!Stage::Done.expects_answer());
    }
}
