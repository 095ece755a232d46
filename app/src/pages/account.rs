//! The customer's home page: their services and what they owe.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::auth::current_user;
use crate::layout::Layout;

/// One service as the customer's home page lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceLine {
    /// Policy number or service id.
    pub reference: String,
    /// `policy` or `isp`.
    pub kind: String,
    /// Product name.
    pub product: String,
    /// Lifecycle status.
    pub status: String,
    /// `PaidUp`, `InArrears`, `Unbilled`.
    pub billing_status: String,
    /// What is owed, formatted ("5100.00 AED"), if anything.
    pub amount_due: Option<String>,
}

/// The logged-in customer's services.
#[server(prefix = "/account/api", endpoint = "services")]
pub async fn my_services() -> Result<Vec<ServiceLine>, PageError> {
    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let customer = user
        .customer_id
        .ok_or_else(|| PageError::forbidden("Your account has no customer record."))?;
    let summaries = settle::service::Service::summaries_for_customer(&ctx.db, &customer)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "loading services failed");
            PageError::internal(
                "Your services can't be shown right now. Please try again in a few minutes.",
            )
        })?;
    Ok(summaries
        .into_iter()
        .map(|s| ServiceLine {
            reference: s.service.reference,
            kind: s.service.kind.as_str().to_owned(),
            product: s.product_name,
            status: s.service.status,
            billing_status: s.service.billing_status.as_str().to_owned(),
            amount_due: s.amount_due.map(|m| m.to_string()),
        })
        .collect())
}

/// Greets the customer and lists their services with amounts due.
#[component]
pub fn AccountPage() -> impl IntoView {
    let name = current_user().map(|u| u.display_name).unwrap_or_default();
    let services = Resource::new_blocking(|| (), |_| my_services());
    view! {
        <Layout title="My account".into()>
            <h1>"Welcome, " {name}</h1>
            <h2>"Your services"</h2>
            <Suspense fallback=|| view! { <p>"Loading your services…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Ok(lines) if lines.is_empty() => view! { <p>"You have no services yet."</p> }.into_any(),
                        Ok(lines) => view! { <ServiceTable lines /> }.into_any(),
                        Err(e) => view! { <p class="flash error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}

#[component]
fn ServiceTable(lines: Vec<ServiceLine>) -> impl IntoView {
    view! {
        <table class="list">
            <thead>
                <tr><th>"Reference"</th><th>"Product"</th><th>"Status"</th><th>"Billing"</th><th class="num">"Amount due"</th><th><span class="visually-hidden">"Action"</span></th></tr>
            </thead>
            <tbody>
                {lines
                    .into_iter()
                    .map(|l| {
                        let kind = if l.kind == "policy" { "Policy" } else { "Service" };
                        // A policy with a premium due is paid through the checkout.
                        let pay = (l.kind == "policy" && l.amount_due.is_some()).then(|| {
                            let href = crate::pages::checkout::checkout_href(&l.reference);
                            view! { <a class="button small" href=href>"Pay now"</a> }
                        });
                        view! {
                            <tr>
                                <td><span class="tag">{kind}</span> " " <code>{l.reference}</code></td>
                                <td>{l.product}</td>
                                <td>{l.status}</td>
                                <td>{l.billing_status}</td>
                                <td class="num">{l.amount_due.unwrap_or_else(|| "Nothing due".into())}</td>
                                <td>{pay}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
