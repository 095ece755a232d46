//! `/admin/payments/:reference`: one payment for the admin. Customer, purchase and its lines,
//! service, gateway, method (brand and last four only), and the timeline of everything that
//! happened to it; the actions (refund, cancel, reconcile) have their own pages.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::{PAYMENTS, page_error};
use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;
use crate::pages::admin::payment_actions::{audit_href, cancel_href, reconcile_href, refund_href};

/// A label and its value.
pub type Fact = (String, String);

/// One line of the purchase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LineView {
    /// What the line is for.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Price of one, excluding tax.
    pub unit_price: String,
    /// Tax.
    pub tax: String,
    /// Total.
    pub total: String,
}

/// One entry of the timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryView {
    /// When.
    pub at: String,
    /// Machine time (for `<time datetime>`).
    pub at_iso: String,
    /// Kind, short (CSS class).
    pub kind: String,
    /// Kind in words.
    pub kind_label: String,
    /// What happened.
    pub title: String,
    /// Facts.
    pub detail: Vec<String>,
    /// The exchanged message, masked.
    pub payload: Option<String>,
}

/// What the detail page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DetailView {
    /// The payment reference.
    pub reference: String,
    /// The state's name and code.
    pub state: String,
    /// Whether money was taken and not all of it given back (the refund page applies).
    pub can_refund: bool,
    /// Whether the payment still awaits its customer (the cancel page applies).
    pub can_cancel: bool,
    /// The payment's own facts (amount, gateway, method, times).
    pub payment: Vec<Fact>,
    /// The customer.
    pub customer: Vec<Fact>,
    /// The purchase.
    pub purchase: Vec<Fact>,
    /// The purchase's lines.
    pub lines: Vec<LineView>,
    /// The service.
    pub service: Vec<Fact>,
    /// Everything that happened, oldest first.
    pub timeline: Vec<EntryView>,
}

/// One payment with its timeline; admins only.
#[server(prefix = "/admin/api", endpoint = "payment")]
pub async fn admin_payment(reference: String) -> Result<DetailView, PageError> {
    use settle::access::{self, Viewer};
    use settle::customer::Customer;
    use settle::product::Product;
    use settle::purchase::Purchase;

    use crate::format::date_time;

    let user = crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let db = &ctx.db;
    let fail = page_error("payment detail");
    let viewer = Viewer::of_user(&user).map_err(&fail)?;
    let (payment, service) = access::payment(db, &viewer, &reference).await.map_err(&fail)?;
    let purchase = Purchase::find(db, &payment.purchase_id).await.map_err(&fail)?;
    let customer = Customer::find(db, &service.customer_id).await.map_err(&fail)?;
    let product = Product::find(db, &service.product_id).await.map_err(&fail)?;
    let gateway = settle::gateway::Gateway::list(db)
        .await
        .map_err(&fail)?
        .into_iter()
        .find(|g| g.id == payment.gateway_id);
    let merchant = match purchase.as_ref().and_then(|p| p.merchant_id.clone()) {
        Some(id) => settle::merchant::Merchant::find(db, &id).await.map_err(&fail)?,
        None => None,
    };
    let timeline =
        settle::payment::timeline::of_payment(db, &viewer, &payment).await.map_err(&fail)?;
    let fact = |k: &str, v: String| (k.to_owned(), v);
    // Brand and last four only: never the expiry, the token or a number.
    let saved = match (&payment.card, &payment.payment_method_id) {
        (None, Some(id)) => {
            settle::payment_method::PaymentMethod::find(db, id).await.map_err(&fail)?
        }
        _ => None,
    };
    let method = match (&payment.card, saved) {
        (Some(card), _) => format!("{} •••• {}", card.brand, card.last4),
        (None, Some(m)) => match (m.card_brand, m.card_last4, m.bank_account_masked) {
            (brand, Some(last4), _) => {
                format!("{} •••• {last4}", brand.unwrap_or_else(|| "Card".into()))
            }
            (_, None, Some(account)) => format!("Bank account {account}"),
            _ => m.label,
        },
        (None, None) => "—".to_owned(),
    };
    let mut payment_facts = vec![
        fact("Amount", payment.amount.display().to_string()),
        fact(
            "Gateway",
            gateway.as_ref().map_or_else(
                || payment.gateway_id.clone(),
                |g| format!("{} ({}, {})", g.name, g.id, g.provider),
            ),
        ),
        fact("Method", method),
        fact("Gateway reference", payment.gateway_reference.clone().unwrap_or_else(|| "—".into())),
        fact("Channel", payment.channel.as_str().to_owned()),
        fact("Created", date_time(payment.created_at)),
        fact("Last change", date_time(payment.updated_at)),
    ];
    if let Some(reason) = &payment.failure_reason {
        payment_facts.push(fact("Failure", reason.clone()));
    }
    let customer_facts = match customer {
        Some(c) => vec![
            fact("Name", c.name),
            fact("Code", c.code),
            fact("Email", c.email.unwrap_or_else(|| "—".into())),
            fact("Customer id", c.id.to_string()),
        ],
        None => vec![fact("Customer id", service.customer_id.to_string())],
    };
    let (purchase_facts, lines) = match purchase {
        Some(p) => (
            vec![
                fact("Reference (invoice id)", p.reference.clone()),
                fact("Purchase id (order id)", p.id.to_string()),
                fact(
                    "Merchant reference",
                    p.merchant_reference.clone().unwrap_or_else(|| "—".into()),
                ),
                fact("Merchant", merchant.map_or_else(|| "—".into(), |m| m.name)),
                fact("Status", p.status.as_str().to_owned()),
                fact("Excluding tax", p.amounts.excl().display().to_string()),
                fact("Tax", p.amounts.tax().display().to_string()),
                fact("Total", p.amounts.gross().display().to_string()),
            ],
            p.lines
                .iter()
                .map(|l| LineView {
                    description: l.description.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price.display().to_string(),
                    tax: l.amounts.tax().display().to_string(),
                    total: l.amounts.gross().display().to_string(),
                })
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let service_facts = vec![
        fact("Reference (policy number / service id)", service.reference.clone()),
        fact("Kind", format!("{:?}", service.kind)),
        fact("Status", service.status.clone()),
        fact(
            "Product",
            product.map_or_else(
                || service.product_id.to_string(),
                |p| format!("{} ({})", p.name, p.code),
            ),
        ),
    ];
    Ok(DetailView {
        state: format!("{} ({})", payment.state.name(), payment.state.code()),
        can_refund: payment.state.money_moved()
            && payment.state != settle::payment::PaymentState::Refunded,
        can_cancel: settle::payment::staff::cancellable(payment.state),
        reference: payment.reference,
        payment: payment_facts,
        customer: customer_facts,
        purchase: purchase_facts,
        lines,
        service: service_facts,
        timeline: timeline
            .into_iter()
            .map(|e| EntryView {
                at: e.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
                at_iso: e.at.to_rfc3339(),
                kind: e.kind.as_str().to_owned(),
                kind_label: e.kind.label().to_owned(),
                title: e.title,
                detail: e.detail,
                payload: e.payload,
            })
            .collect(),
    })
}

/// The payment detail page.
#[component]
pub fn PaymentDetailPage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference").unwrap_or_default());
    view! {
        <Layout title=format!("Payment {reference}")>
            <p><a href=PAYMENTS>"← All payments"</a></p>
            <PageData heading="Payment" load=admin_payment(reference.clone()) let:v>
                <PaymentDetail v />
            </PageData>
        </Layout>
    }
}

fn facts(heading: &'static str, items: Vec<Fact>) -> impl IntoView {
    view! {
        <section class="facts">
            <h2>{heading}</h2>
            <dl>
                {items.into_iter().map(|(k, v)| view! { <div><dt>{k}</dt><dd>{v}</dd></div> }).collect_view()}
            </dl>
        </section>
    }
}

#[component]
fn PaymentDetail(v: DetailView) -> impl IntoView {
    view! {
        <h1>"Payment " {v.reference.clone()}</h1>
        <p><span class="state">{v.state}</span></p>
        <nav class="payment-actions" aria-label="Actions">
            {v.can_refund.then(|| view! { <a class="button" href=refund_href(&v.reference)>"Refund"</a> })}
            {v.can_cancel.then(|| view! { <a class="button" href=cancel_href(&v.reference)>"Cancel"</a> })}
            <a class="button" href=reconcile_href(&v.reference)>"Ask the gateway now"</a>
            <a href=audit_href(&v.reference)>"Audit log"</a>
        </nav>
        <div class="detail-grid">
            {facts("Payment", v.payment)}
            {facts("Customer", v.customer)}
            {facts("Service", v.service)}
            {facts("Purchase", v.purchase)}
        </div>
        {(!v.lines.is_empty()).then(|| view! {
            <section>
                <h2>"Purchase lines"</h2>
                <div class="table-scroll">
                    <table class="list">
                        <thead><tr>
                            <th scope="col">"Description"</th>
                            <th scope="col" class="num">"Quantity"</th>
                            <th scope="col" class="num">"Unit price"</th>
                            <th scope="col" class="num">"Tax"</th>
                            <th scope="col" class="num">"Total"</th>
                        </tr></thead>
                        <tbody>
                            {v.lines.into_iter().map(|l| view! {
                                <tr>
                                    <td>{l.description}</td>
                                    <td class="num">{l.quantity}</td>
                                    <td class="num">{l.unit_price}</td>
                                    <td class="num">{l.tax}</td>
                                    <td class="num">{l.total}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </section>
        })}
        <section>
            <h2>"Timeline"</h2>
            <ol class="timeline">
                {v.timeline.into_iter().map(|e| view! {
                    <li class=format!("timeline-entry timeline-{}", e.kind)>
                        <time datetime=e.at_iso>{e.at}</time>
                        " "
                        <span class="timeline-kind">{e.kind_label}</span>
                        <p class="timeline-title">{e.title}</p>
                        {(!e.detail.is_empty()).then(|| view! {
                            <ul>{e.detail.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul>
                        })}
                        {e.payload.map(|p| view! {
                            <details><summary>"Message (secrets masked)"</summary><pre>{p}</pre></details>
                        })}
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}
