//! `/admin/payments/{reference}/refund-charge`: refunds a stray charge the ledger found, money a
//! gateway holds for an attempt that is not its purchase's payment. The page asks the gateway
//! what it holds now and refunds all of it, once per rendered form.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::{BackLinks, FactsTable, PaymentFacts, RefundTable, stray_href};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// What the stray-charge page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StrayView {
    /// The payment the money reached.
    pub facts: PaymentFacts,
    /// The gateway's id for the charge, if it lists one.
    pub charge: Option<String>,
    /// What the gateway took.
    pub captured: String,
    /// What it still holds.
    pub held: String,
    /// Why it can't be refunded now, if it can't.
    pub refusal: Option<String>,
}

/// The stray-charge page's data (asks the gateway), for admins.
#[server(prefix = "/admin/api", endpoint = "stray_charge")]
pub async fn load_stray_charge(reference: String) -> Result<StrayView, PageError> {
    crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let facts = super::load_facts(&ctx, &reference).await?;
    let payment = super::staff_payment(&ctx, &reference).await?;
    let charge = ctx
        .payments
        .stray_charge_of(&payment)
        .await
        .map_err(PageError::logged("asking the gateway for its charge"))?;
    Ok(StrayView {
        facts,
        refusal: charge.refusal(),
        charge: charge.gateway_reference,
        captured: charge.captured.to_string(),
        held: charge.held.to_string(),
    })
}

/// Refunds all a gateway holds of a stray charge, once per `request_key`.
#[server(prefix = "/admin/api", endpoint = "refund_stray_charge")]
pub async fn refund_stray_charge(reference: String, request_key: String) -> Result<(), PageError> {
    use settle::payment::refund::RefundStatus;

    use crate::flash::{Flash, redirect_with};

    let (_, actor) = crate::auth::actor(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let payment = super::staff_payment(&ctx, &reference).await?;
    let flash = match ctx.payments.refund_stray(&actor, &payment, &request_key).await {
        Ok(refund) => match refund.status {
            RefundStatus::Succeeded => Flash::success(format!(
                "Refunded the stray charge of {} on payment {} through {}.",
                refund.amount, payment.reference, payment.gateway_id
            )),
            RefundStatus::Pending => Flash::notice(format!(
                "The refund of {} is marked and {} has not confirmed it yet; Settle asks again until it does.",
                refund.amount, payment.gateway_id
            )),
            RefundStatus::Failed => Flash::error(format!(
                "{} refused the refund of {}: {}.",
                payment.gateway_id,
                refund.amount,
                refund.failure_reason.as_deref().unwrap_or("no reason given")
            )),
        },
        Err(e) => super::refusal_flash("a stray-charge refund", e)?,
    };
    redirect_with(flash, &stray_href(&payment.reference)).await
}

/// The stray-charge refund page.
#[component]
pub fn StrayRefundPage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    view! {
        <Layout title="Refund a stray charge".into()>
            <PageData heading="Refund a stray charge" load=load_stray_charge(reference) let:view>
                <StrayBody view />
            </PageData>
        </Layout>
    }
}

#[component]
fn StrayBody(view: StrayView) -> impl IntoView {
    let facts = view.facts;
    let form = match view.refusal.clone() {
        Some(refusal) => view! { <p class="flash notice">{refusal}</p> }.into_any(),
        None => {
            let refund = ServerAction::<RefundStrayCharge>::new();
            let form_reference = facts.reference.clone();
            let form_key = facts.request_key.clone();
            let gateway = facts.gateway.clone();
            let state = facts.state.to_lowercase();
            let held = view.held.clone();
            let label = format!("Refund {}", view.held);
            view! {
                <ActionForm action=refund attr:class="confirm">
                    <input type="hidden" name="reference" value=form_reference.clone() />
                    <input type="hidden" name="request_key" value=form_key.clone() />
                    <p>
                        {gateway.clone()} " holds " <strong>{held.clone()}</strong>
                        " for this attempt, which Settle counts as " {state.clone()}
                        ". Refunding gives all of it back to the customer. This can't be undone."
                    </p>
                    <SubmitButton label=label busy="Refunding…" />
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        <h1>"Refund the stray charge on " <code class="reference">{facts.reference.clone()}</code></h1>
        <FactsTable facts=facts.clone() />
        <dl class="facts money">
            <dt>"Charge at the gateway"</dt><dd>{view.charge.clone().unwrap_or_else(|| "none listed".into())}</dd>
            <dt>"Taken"</dt><dd>{view.captured.clone()}</dd>
            <dt>"Still held"</dt><dd>{view.held.clone()}</dd>
        </dl>
        <section class="card">{form}</section>
        <RefundTable refunds=facts.refunds.clone() />
        <p><a href="/admin/ledger">"Back to the ledger"</a></p>
        <BackLinks reference=facts.reference.clone() />
    }
}
