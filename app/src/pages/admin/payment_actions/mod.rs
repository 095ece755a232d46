//! The admin's actions on one payment, each on a confirmation page of its own with one form:
//! refund all or part of it ([`refund`]), refund a stray charge the ledger found ([`stray`]),
//! cancel it while it still awaits the customer ([`cancel`]), ask its gateway about it now
//! ([`reconcile`]). Each form posts to its server function, which acts through the core, writes
//! the audit log, and sends the browser back to the same page with the result as a flash.

pub mod cancel;
pub mod reconcile;
pub mod refund;
pub mod stray;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;

/// The payment's detail page in the console.
pub fn payment_href(reference: &str) -> String {
    format!("/admin/payments/{}", segment(reference))
}

/// The page that refunds all or part of a payment.
pub fn refund_href(reference: &str) -> String {
    format!("{}/refund", payment_href(reference))
}

/// The page that refunds a stray charge (money the gateway holds for an attempt that lost).
pub fn stray_href(reference: &str) -> String {
    format!("{}/refund-charge", payment_href(reference))
}

/// The page that cancels a payment still awaiting the customer.
pub fn cancel_href(reference: &str) -> String {
    format!("{}/cancel", payment_href(reference))
}

/// The page that asks a payment's gateway about it now.
pub fn reconcile_href(reference: &str) -> String {
    format!("{}/reconcile", payment_href(reference))
}

/// The audit log of one payment.
pub fn audit_href(reference: &str) -> String {
    let subject = format!("payment:{reference}");
    let subject: String = url::form_urlencoded::byte_serialize(subject.as_bytes()).collect();
    format!("/admin/audit?subject={subject}")
}

fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// One refund of a payment, as the pages list it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefundLine {
    /// How much.
    pub amount: String,
    /// Pending, succeeded or failed.
    pub status: String,
    /// Why.
    pub reason: String,
    /// The gateway's reason for refusing.
    pub failure: Option<String>,
    /// When it was asked for.
    pub at: String,
}

/// What every action page shows of its payment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaymentFacts {
    /// The payment reference.
    pub reference: String,
    /// Its state in words.
    pub state: String,
    /// Its state's name (`PAYMENT_SUCCESS`).
    pub state_name: String,
    /// Its amount.
    pub amount: String,
    /// Its gateway.
    pub gateway: String,
    /// What was captured.
    pub captured: String,
    /// What has been refunded.
    pub refunded: String,
    /// What is on its way back.
    pub pending: String,
    /// What may still be refunded, as a plain decimal for the amount field.
    pub left: String,
    /// The same with its currency.
    pub left_text: String,
    /// Its currency code.
    pub currency: String,
    /// Its refunds, oldest first.
    pub refunds: Vec<RefundLine>,
    /// Why it can't be refunded now, if it can't.
    pub refund_refusal: Option<String>,
    /// Whether it can be cancelled.
    pub cancellable: bool,
    /// The key this rendering's form carries (a second submit of it refunds nothing more).
    pub request_key: String,
}

/// The payment an action page is about, for admins.
#[server(prefix = "/admin/api", endpoint = "payment_facts")]
pub async fn load_payment_facts(reference: String) -> Result<PaymentFacts, PageError> {
    crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    load_facts(&ctx, &reference).await
}

/// What the action pages show of a payment.
#[cfg(feature = "ssr")]
pub(crate) async fn load_facts(
    ctx: &crate::PageContext,
    reference: &str,
) -> Result<PaymentFacts, PageError> {
    use settle::payment::refund::requested::{new_request_key, refundable};

    let payment = staff_payment(ctx, reference).await?;
    let standing =
        refundable(&ctx.db, payment).await.map_err(PageError::logged("loading refunds"))?;
    let p = &standing.payment;
    Ok(PaymentFacts {
        reference: p.reference.clone(),
        state: p.state.label().to_owned(),
        state_name: p.state.name().to_owned(),
        amount: p.amount.to_string(),
        gateway: p.gateway_id.clone(),
        captured: standing.captured.to_string(),
        refunded: standing.refunded.to_string(),
        pending: standing.pending.to_string(),
        left: standing.left.to_decimal().to_string(),
        left_text: standing.left.to_string(),
        currency: p.amount.currency().code().to_owned(),
        refunds: standing.refunds.iter().map(refund_line).collect(),
        refund_refusal: standing.refusal(),
        cancellable: settle::payment::staff::cancellable(p.state),
        request_key: new_request_key(),
    })
}

#[cfg(feature = "ssr")]
fn refund_line(r: &settle::payment::refund::Refund) -> RefundLine {
    RefundLine {
        amount: r.amount.to_string(),
        status: r.status.as_str().to_owned(),
        reason: r.reason.clone(),
        failure: r.failure_reason.clone(),
        at: crate::format::date_time(r.created_at),
    }
}

/// A payment by reference, as staff see it (404 when there is none).
#[cfg(feature = "ssr")]
pub(crate) async fn staff_payment(
    ctx: &crate::PageContext,
    reference: &str,
) -> Result<settle::payment::Payment, PageError> {
    use settle::access::{self, Viewer};

    match access::payment(&ctx.db, &Viewer::Staff, reference.trim()).await {
        Ok((payment, _)) => Ok(payment),
        Err(settle::Error::NotFound(_)) => {
            Err(PageError::not_found(format!("There is no payment {}.", reference.trim())))
        }
        Err(e) => Err(PageError::logged("loading the payment")(e)),
    }
}

/// An action's refusal or failure as the flash the page shows; faults on our side are logged
/// and answered with a 500.
#[cfg(feature = "ssr")]
pub(crate) fn refusal_flash(
    what: &'static str,
    e: settle::Error,
) -> Result<crate::flash::Flash, PageError> {
    use crate::flash::Flash;

    match e {
        settle::Error::Conflict(message) => Ok(Flash::error(message)),
        settle::Error::Validation(fields) => Ok(Flash::error(
            fields
                .iter()
                .map(|f| format!("{} {}.", capitalised(&f.field), f.message.trim_end_matches('.')))
                .collect::<Vec<_>>()
                .join(" "),
        )),
        settle::Error::NotFound(thing) => Ok(Flash::error(format!("No such {thing}."))),
        other => {
            tracing::error!(error = %other, "{what} failed");
            Err(PageError::internal(
                "Something went wrong on our side; nothing was confirmed. Look at the payment before trying again.",
            ))
        }
    }
}

#[cfg(feature = "ssr")]
fn capitalised(field: &str) -> String {
    let field = field.replace('_', " ");
    let mut chars = field.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => field,
    }
}

/// The facts every action page shows at its top.
#[component]
pub fn FactsTable(facts: PaymentFacts) -> impl IntoView {
    view! {
        <dl class="facts">
            <dt>"Payment"</dt><dd><a href=payment_href(&facts.reference)><code class="reference">{facts.reference.clone()}</code></a></dd>
            <dt>"State"</dt><dd>{facts.state.clone()} " " <small class="muted">{facts.state_name.clone()}</small></dd>
            <dt>"Amount"</dt><dd>{facts.amount.clone()}</dd>
            <dt>"Gateway"</dt><dd>{facts.gateway.clone()}</dd>
        </dl>
    }
}

/// A payment's refunds as a table (nothing when it has none).
#[component]
pub fn RefundTable(refunds: Vec<RefundLine>) -> impl IntoView {
    (!refunds.is_empty()).then(|| {
        let rows = refunds
            .into_iter()
            .map(|r| {
                let class = format!("tag refund-{}", r.status);
                view! {
                    <tr>
                        <td>{r.at}</td>
                        <td>{r.amount}</td>
                        <td><span class=class>{r.status}</span>{r.failure.map(|f| view! { <small>{f}</small> })}</td>
                        <td>{r.reason}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <h2>"Refunds of this payment"</h2>
            <div class="table-scroll">
                <table class="list refunds">
                    <thead><tr><th scope="col">"Asked for"</th><th scope="col">"Amount"</th><th scope="col">"Status"</th><th scope="col">"Why"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
    })
}

/// The links back from an action page.
#[component]
pub fn BackLinks(reference: String) -> impl IntoView {
    view! {
        <p class="back">
            <a href=payment_href(&reference)>"Back to the payment"</a>
            " · "
            <a href=audit_href(&reference)>"Its audit log"</a>
        </p>
    }
}
