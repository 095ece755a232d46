//! The customer's home page, `/account`: their policies (a table) and ISP services (a card
//! each), what is due on each, and "Pay now" — or, while a payment is under way, that payment
//! and a link to where it stands, so nobody starts paying twice. A service's card also says how
//! long it is paid for and offers buying ahead ("Buy now", "Make payment") and its payment
//! methods.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::auth::current_user;
use crate::components::PageData;
use crate::layout::Layout;
use crate::links::{
    PAYMENT_METHODS, card_update_href, checkout_href, service_buy_href, service_pay_href,
    status_href,
};
use crate::pages::account::shared::{OpenPayment, Underway};

/// One service as the customer's home page lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceLine {
    /// Policy number or service id.
    pub reference: String,
    /// Whether it is an insurance policy (otherwise an ISP service).
    pub is_policy: bool,
    /// Product name.
    pub product: String,
    /// Lifecycle status in words ("Quote", "Active").
    pub status: String,
    /// Billing status in words ("In arrears").
    pub billing: String,
    /// What is owed ("AED 5,100.00"), if anything.
    pub amount_due: Option<String>,
    /// A payment of what is owed that is not final yet.
    pub open_payment: Option<OpenPayment>,
    /// How long it is paid for ("Paid up until 5 January 2027"), for a service with a period.
    pub paid_until: Option<String>,
    /// The words of the link to buy ahead ("Buy now", "Make payment"), when it can.
    pub buy: Option<String>,
    /// The card that pays the service, when it must be updated (expired or declined).
    pub update_card: Option<String>,
}

/// The logged-in customer's services.
#[server(prefix = "/account/api", endpoint = "services")]
pub async fn my_services() -> Result<Vec<ServiceLine>, PageError> {
    use settle::product::ServiceKind;

    use crate::format::{billing_status, service_status};
    use crate::pages::account::shared::open_payment;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let customer = user
        .customer_id
        .clone()
        .ok_or_else(|| PageError::forbidden("Your account has no customer record."))?;
    let summaries = settle::service::Service::summaries_for_customer(&ctx.db, &customer)
        .await
        .map_err(PageError::logged("loading services"))?;
    let mut lines = Vec::with_capacity(summaries.len());
    for s in summaries {
        let is_policy = s.service.kind == ServiceKind::Policy;
        let open = match &s.first_open {
            Some(purchase) => open_payment(&ctx, purchase).await?,
            None => None,
        };
        let (paid_until, buy, update_card) = if is_policy {
            (None, None, None)
        } else {
            let standing =
                crate::pages::account::services::standing(&ctx, &user, &s.service.reference)
                    .await?
                    .ok_or_else(|| {
                        PageError::not_found("We can't find that service on your account.")
                    })?;
            (
                crate::format::paid_until(s.service.period_end, chrono::Utc::now()),
                crate::pages::account::services::buy_words(&standing).map(str::to_owned),
                standing
                    .service
                    .active_payment_method_id
                    .as_ref()
                    .filter(|_| standing.card_needs_update)
                    .map(ToString::to_string),
            )
        };
        lines.push(ServiceLine {
            reference: s.service.reference,
            is_policy,
            product: s.product_name,
            status: service_status(&s.service.status),
            billing: billing_status(s.service.billing_status).to_owned(),
            amount_due: s.amount_due.map(|m| m.display().to_string()),
            open_payment: open,
            paid_until,
            buy,
            update_card,
        });
    }
    Ok(lines)
}

/// Greets the customer and lists their policies and services with amounts due.
#[component]
pub fn AccountPage() -> impl IntoView {
    let name = current_user().map(|u| u.display_name).unwrap_or_default();
    view! {
        <Layout title="My account".into()>
            <h1>"Welcome, " {name}</h1>
            <h2>"Your policies and services"</h2>
            <PageData heading="Your policies and services" load=my_services() let:lines>
                {if lines.is_empty() {
                    view! { <p>"You have no policies or services yet."</p> }.into_any()
                } else {
                    let (policies, services): (Vec<_>, Vec<_>) =
                        lines.into_iter().partition(|l| l.is_policy);
                    view! {
                        {(!policies.is_empty()).then(|| view! { <ServiceTable lines=policies /> })}
                        {(!services.is_empty()).then(|| view! { <ServiceCards lines=services /> })}
                    }
                    .into_any()
                }}
            </PageData>
        </Layout>
    }
}

/// The ISP services, one card each: what it is, where it stands, what is owed, how long it is
/// paid for, and what the customer can do.
#[component]
fn ServiceCards(lines: Vec<ServiceLine>) -> impl IntoView {
    view! {
        <ul class="service-cards">
            {lines.into_iter().map(|line| view! { <ServiceCard line /> }).collect_view()}
        </ul>
    }
}

#[component]
fn ServiceCard(line: ServiceLine) -> impl IntoView {
    let owing = line.amount_due.is_some();
    let tag = if owing { "tag notice" } else { "tag" };
    let pay = match (&line.open_payment, owing) {
        (Some(open), _) => view! {
            <span class="in-progress">
                <span class="tag notice">"Payment in progress"</span>
                " "
                <a href=status_href(&open.reference)>"See where it stands"</a>
            </span>
        }
        .into_any(),
        (None, true) => {
            view! { <a class="button" href=service_pay_href(&line.reference)>"Pay now"</a> }
                .into_any()
        }
        (None, false) => ().into_any(),
    };
    let buy = line.buy.clone().map(|words| {
        view! { <a class="button secondary" href=service_buy_href(&line.reference)>{words}</a> }
    });
    view! {
        <li class="card service-card">
            <div class="service-head">
                <h3>{line.product.clone()}</h3>
                <span class=tag>{line.billing.clone()}</span>
            </div>
            <dl class="facts">
                <dt>"Service"</dt><dd><code class="reference">{line.reference.clone()}</code></dd>
                <dt>"Status"</dt><dd>{line.status.clone()}</dd>
                <dt>"Billing"</dt><dd>{line.billing.clone()}</dd>
                <dt>"Amount due"</dt>
                <dd class="amount">{line.amount_due.clone().unwrap_or_else(|| "Nothing due".into())}</dd>
                {line.paid_until.clone().map(|p| view! { <dt>"Paid for"</dt><dd>{p}</dd> })}
            </dl>
            {line.update_card.clone().map(|card| view! {
                <p class="flash notice">
                    {settle::service_standing::CARD_NEEDS_UPDATE} " "
                    <a href=card_update_href(&card)>"Update card"</a>
                </p>
            })}
            <p class="actions">
                {pay}
                {buy}
                <a href=PAYMENT_METHODS>"Payment methods"</a>
            </p>
        </li>
    }
}

/// The services as a table; on a phone each row becomes a card of its own (see the
/// stylesheet's `table.reflow`), so nothing runs off the screen.
#[component]
fn ServiceTable(lines: Vec<ServiceLine>) -> impl IntoView {
    view! {
        <table class="list reflow services">
            <thead>
                <tr>
                    <th scope="col">"Reference"</th>
                    <th scope="col">"Product"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Billing"</th>
                    <th scope="col" class="num">"Amount due"</th>
                    <th scope="col"><span class="visually-hidden">"What you can do"</span></th>
                </tr>
            </thead>
            <tbody>
                {lines.into_iter().map(|line| view! { <ServiceRow line /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn ServiceRow(line: ServiceLine) -> impl IntoView {
    let kind = if line.is_policy { "Policy" } else { "Service" };
    // A policy with a premium due is paid through the checkout, unless a payment of it is
    // already under way: then that payment is shown instead.
    let action = match (&line.open_payment, line.is_policy && line.amount_due.is_some()) {
        (Some(open), _) => {
            let (note, link) = match open.underway {
                Underway::Invoice => ("Invoice issued", "How to pay it"),
                Underway::BankCheck => ("Waiting for your bank's check", "Continue"),
                Underway::PaymentPage => ("Payment started", "Continue"),
                Underway::Answer => ("Payment in progress", "See where it stands"),
            };
            view! {
                <span class="in-progress">
                    <span class="tag notice">{note}</span>
                    " "
                    <a href=status_href(&open.reference)>{link}</a>
                </span>
            }
            .into_any()
        }
        (None, true) => {
            view! { <a class="button small" href=checkout_href(&line.reference)>"Pay now"</a> }
                .into_any()
        }
        (None, false) => ().into_any(),
    };
    view! {
        <tr>
            <td data-label="Reference">
                <span><span class="tag">{kind}</span> " " <code class="reference">{line.reference}</code></span>
            </td>
            <td data-label="Product">{line.product}</td>
            <td data-label="Status">{line.status}</td>
            <td data-label="Billing">{line.billing}</td>
            <td data-label="Amount due" class="num">
                {line.amount_due.unwrap_or_else(|| "Nothing due".into())}
            </td>
            <td class="action">{action}</td>
        </tr>
    }
}
