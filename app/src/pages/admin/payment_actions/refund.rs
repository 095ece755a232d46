//! `/admin/payments/{reference}/refund`: refunds all or part of a paid payment. The page shows
//! what was captured, what was already refunded and what is left; the amount field holds all
//! that is left (a full refund) unless the admin types less. The form carries a request key, so
//! pressing twice refunds once. After the post the same page explains the result.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::{BackLinks, FactsTable, PaymentFacts, RefundTable, refund_href};
use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;

/// Session key of the amount typed and its problem, read once by the next refund page.
pub const REFUND_FORM_KEY: &str = "admin.refund_form";

/// What the refund form keeps after a refused amount.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeptAmount {
    /// The payment it was for.
    pub reference: String,
    /// The amount as typed.
    pub amount: String,
    /// What is wrong with it.
    pub error: String,
}

/// What the refund page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefundView {
    /// The payment.
    pub facts: PaymentFacts,
    /// The amount typed before, and its problem.
    pub kept: Option<KeptAmount>,
}

/// The refund page's data, for admins.
#[server(prefix = "/admin/api", endpoint = "refund_page")]
pub async fn load_refund(reference: String) -> Result<RefundView, PageError> {
    crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let facts = super::load_facts(&ctx, &reference).await?;
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    let kept = session
        .remove::<KeptAmount>(REFUND_FORM_KEY)
        .await
        .ok()
        .flatten()
        .filter(|k| k.reference == facts.reference);
    Ok(RefundView { facts, kept })
}

/// Refunds `amount` of a payment (all that is left when empty), once per `request_key`.
#[server(prefix = "/admin/api", endpoint = "refund_payment")]
pub async fn refund_payment(
    reference: String,
    amount: Option<String>,
    request_key: String,
) -> Result<(), PageError> {
    use settle::payment::refund::RefundStatus;
    use settle::payment::refund::requested::AMOUNT_FIELD;

    use crate::flash::{Flash, redirect_with};

    let (_, actor) = crate::auth::actor(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let payment = super::staff_payment(&ctx, &reference).await?;
    let back = refund_href(&payment.reference);
    let refunded =
        ctx.payments.refund_requested(&actor, &payment, amount.as_deref(), &request_key).await;
    let flash = match refunded {
        Ok(refund) => {
            let left = settle::payment::refund::requested::refundable(&ctx.db, payment.clone())
                .await
                .map(|s| s.left.to_string())
                .unwrap_or_default();
            match refund.status {
                RefundStatus::Succeeded => Flash::success(format!(
                    "Refunded {} of payment {} through {}. Left to refund: {left}.",
                    refund.amount, payment.reference, payment.gateway_id
                )),
                RefundStatus::Pending => Flash::notice(format!(
                    "The refund of {} is marked and {} has not confirmed it yet; Settle asks again until it does. Nothing more will be refunded for this form.",
                    refund.amount, payment.gateway_id
                )),
                RefundStatus::Failed => Flash::error(format!(
                    "{} refused the refund of {}: {}.",
                    payment.gateway_id,
                    refund.amount,
                    refund.failure_reason.as_deref().unwrap_or("no reason given")
                )),
            }
        }
        Err(settle::Error::Validation(fields))
            if fields.iter().any(|f| f.field == AMOUNT_FIELD) =>
        {
            let error = fields
                .iter()
                .find(|f| f.field == AMOUNT_FIELD)
                .map(|f| f.message.clone())
                .unwrap_or_default();
            let kept = KeptAmount {
                reference: payment.reference.clone(),
                amount: amount.unwrap_or_default().chars().take(20).collect(),
                error: error.clone(),
            };
            let session: tower_sessions::Session = leptos_axum::extract().await?;
            session.insert(REFUND_FORM_KEY, kept).await.map_err(|e| {
                tracing::error!(error = %e, "keeping the refund form failed");
                PageError::unavailable(crate::error::SESSIONS_UNAVAILABLE)
            })?;
            Flash::error(format!("Nothing was refunded: the amount {error}."))
        }
        Err(e) => super::refusal_flash("a staff refund", e)?,
    };
    redirect_with(flash, &back).await
}

/// The refund page.
#[component]
pub fn RefundPage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    view! {
        <Layout title="Refund a payment".into()>
            <PageData heading="Refund a payment" load=load_refund(reference) let:view>
                <RefundBody view />
            </PageData>
        </Layout>
    }
}

#[component]
fn RefundBody(view: RefundView) -> impl IntoView {
    let facts = view.facts;
    let form = match facts.refund_refusal.clone() {
        Some(refusal) => view! { <p class="flash notice">{refusal}</p> }.into_any(),
        None => {
            let refund = ServerAction::<RefundPayment>::new();
            let form_reference = facts.reference.clone();
            let form_key = facts.request_key.clone();
            let gateway = facts.gateway.clone();
            let currency = facts.currency.clone();
            let (amount, error) = match view.kept {
                Some(k) => (k.amount, Some(k.error)),
                None => (facts.left.clone(), None),
            };
            view! {
                <ActionForm action=refund attr:class="confirm">
                    <input type="hidden" name="reference" value=form_reference.clone() />
                    <input type="hidden" name="request_key" value=form_key.clone() />
                    <TextField
                        label="Amount to refund"
                        name="amount"
                        value=amount
                        error=error.clone()
                        autocomplete="off"
                        inputmode="decimal"
                        maxlength=20
                        hint="All that is left is refunded unless you type less."
                        autofocus=error.is_some()
                    />
                    <p class="muted">"In " {currency.clone()} ", with a decimal point (12.50)."</p>
                    <p>"The money goes back through " {gateway.clone()} " to the card or account that paid. This can't be undone."</p>
                    <SubmitButton label="Refund" busy="Refunding…" />
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        <h1>"Refund payment " <code class="reference">{facts.reference.clone()}</code></h1>
        <FactsTable facts=facts.clone() />
        <dl class="facts money">
            <dt>"Captured"</dt><dd>{facts.captured.clone()}</dd>
            <dt>"Already refunded"</dt><dd>{facts.refunded.clone()}</dd>
            <dt>"On its way back"</dt><dd>{facts.pending.clone()}</dd>
            <dt>"Left to refund"</dt><dd>{facts.left_text.clone()}</dd>
        </dl>
        <section class="card">{form}</section>
        <RefundTable refunds=facts.refunds.clone() />
        <BackLinks reference=facts.reference.clone() />
    }
}
