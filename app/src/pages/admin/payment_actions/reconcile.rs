//! `/admin/payments/{reference}/reconcile`: asks the payment's gateway about it now, as the
//! reconciliation sweep would, and applies what the gateway says.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use settle::account::Role;

use super::{BackLinks, FactsTable, PaymentFacts, load_payment_facts, reconcile_href};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// Re-runs reconciliation for one payment now.
#[server(prefix = "/admin/api", endpoint = "reconcile_payment")]
pub async fn reconcile_payment(reference: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};

    let (_, actor) = crate::auth::actor(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let payment = super::staff_payment(&ctx, &reference).await?;
    let flash = match ctx.payments.reconcile_for_staff(&actor, &payment).await {
        Ok(after) if after.state != payment.state => Flash::success(format!(
            "Asked {}: payment {} moved from {} to {}.",
            payment.gateway_id,
            payment.reference,
            payment.state.label().to_lowercase(),
            after.state.label().to_lowercase()
        )),
        Ok(after) => Flash::notice(format!(
            "Asked {}: payment {} stays {} ({}).",
            payment.gateway_id,
            payment.reference,
            after.state.label().to_lowercase(),
            after.state
        )),
        Err(e) => super::refusal_flash("a staff reconciliation", e)?,
    };
    redirect_with(flash, &reconcile_href(&payment.reference)).await
}

/// The reconcile page.
#[component]
pub fn ReconcilePage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    view! {
        <Layout title="Reconcile a payment".into()>
            <PageData heading="Reconcile a payment" load=load_payment_facts(reference) let:facts>
                <ReconcileBody facts />
            </PageData>
        </Layout>
    }
}

#[component]
fn ReconcileBody(facts: PaymentFacts) -> impl IntoView {
    let reconcile = ServerAction::<ReconcilePayment>::new();
    let form_reference = facts.reference.clone();
    let gateway = facts.gateway.clone();
    view! {
        <h1>"Reconcile payment " <code class="reference">{facts.reference.clone()}</code></h1>
        <FactsTable facts=facts.clone() />
        <section class="card">
            <ActionForm action=reconcile attr:class="confirm">
                <input type="hidden" name="reference" value=form_reference.clone() />
                <p>"Settle asks " {gateway.clone()} " where this payment stands now and applies its answer, as the reconciliation sweep would. Only the gateway's word changes the payment."</p>
                <SubmitButton label="Ask the gateway now" busy="Asking…" />
            </ActionForm>
        </section>
        <BackLinks reference=facts.reference.clone() />
    }
}
