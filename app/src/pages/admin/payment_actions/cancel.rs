//! `/admin/payments/{reference}/cancel`: cancels a payment still awaiting the customer. A hosted
//! page is cancelled at its gateway first; a customer who paid meanwhile keeps their payment.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use settle::account::Role;

use super::{BackLinks, FactsTable, PaymentFacts, cancel_href, load_payment_facts};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// Cancels a payment still awaiting the customer.
#[server(prefix = "/admin/api", endpoint = "cancel_payment")]
pub async fn cancel_payment(reference: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};

    let (_, actor) = crate::auth::actor(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let payment = super::staff_payment(&ctx, &reference).await?;
    let flash = match ctx.payments.cancel_for_staff(&actor, &payment).await {
        Ok(p) => Flash::success(format!(
            "Payment {} is cancelled: the customer can no longer pay it.",
            p.reference
        )),
        Err(e) => super::refusal_flash("a staff cancel", e)?,
    };
    redirect_with(flash, &cancel_href(&payment.reference)).await
}

/// The cancel page.
#[component]
pub fn CancelPage() -> impl IntoView {
    let reference = use_params_map().with_untracked(|p| p.get("reference")).unwrap_or_default();
    view! {
        <Layout title="Cancel a payment".into()>
            <PageData heading="Cancel a payment" load=load_payment_facts(reference) let:facts>
                <CancelBody facts />
            </PageData>
        </Layout>
    }
}

#[component]
fn CancelBody(facts: PaymentFacts) -> impl IntoView {
    let form = if facts.cancellable {
        let cancel = ServerAction::<CancelPayment>::new();
        let form_reference = facts.reference.clone();
        let gateway = facts.gateway.clone();
        view! {
            <ActionForm action=cancel attr:class="confirm">
                <input type="hidden" name="reference" value=form_reference.clone() />
                <p>"The customer has not paid yet. Cancelling closes the payment page at " {gateway.clone()} " so it can't be paid any more; the customer can start a new payment."</p>
                <SubmitButton label="Cancel this payment" busy="Cancelling…" class="danger" />
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <p class="flash notice">
                "This payment is " {facts.state.to_lowercase()} ": only a payment still awaiting the customer can be cancelled."
            </p>
        }
        .into_any()
    };
    view! {
        <h1>"Cancel payment " <code class="reference">{facts.reference.clone()}</code></h1>
        <FactsTable facts=facts.clone() />
        <section class="card">{form}</section>
        <BackLinks reference=facts.reference.clone() />
    }
}
