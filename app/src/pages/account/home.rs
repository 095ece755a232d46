//! The customer's home page, `/account`: their policies and services, what is due on each,
//! and "Pay now" — or, while a payment of that policy is under way, that payment and a link
//! to where it stands, so nobody starts paying twice.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::auth::current_user;
use crate::components::PageData;
use crate::layout::Layout;
use crate::links::{checkout_href, status_href};
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
}

/// The logged-in customer's services.
#[server(prefix = "/account/api", endpoint = "services")]
pub async fn my_services() -> Result<Vec<ServiceLine>, PageError> {
    use settle::product::ServiceKind;
    use settle::purchase::Purchase;

    use crate::format::{billing_status, service_status};
    use crate::pages::account::shared::open_payment;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let customer = user
        .customer_id
        .ok_or_else(|| PageError::forbidden("Your account has no customer record."))?;
    let summaries = settle::service::Service::summaries_for_customer(&ctx.db, &customer)
        .await
        .map_err(PageError::logged("loading services"))?;
    let mut lines = Vec::with_capacity(summaries.len());
    for s in summaries {
        let is_policy = s.service.kind == ServiceKind::Policy;
        let open = if is_policy && s.amount_due.is_some() {
            match Purchase::open_for_service(&ctx.db, &s.service.id)
                .await
                .map_err(PageError::logged("loading what is due"))?
                .first()
            {
                Some(purchase) => open_payment(&ctx, &purchase.id).await?,
                None => None,
            }
        } else {
            None
        };
        lines.push(ServiceLine {
            reference: s.service.reference,
            is_policy,
            product: s.product_name,
            status: service_status(&s.service.status),
            billing: billing_status(s.service.billing_status).to_owned(),
            amount_due: s.amount_due.map(|m| m.display().to_string()),
            open_payment: open,
        });
    }
    Ok(lines)
}

/// Greets the customer and lists their services with amounts due.
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
                    view! { <ServiceTable lines /> }.into_any()
                }}
            </PageData>
        </Layout>
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
