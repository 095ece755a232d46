//! The customer's payment methods, `/account/payment-methods`: every medium of theirs in words
//! ("Visa ending 4242, expires 12/29", "Pay at a store or by EFT"), which one each service's
//! future payments are collected with, a form per service to change that (posting to
//! [`set_active_medium`], the core's `service_standing::set_active_medium`: only a valid card or
//! bank account), and "Update card" for each saved card ([`update`]).

pub mod update;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;
use crate::links::{ACCOUNT, card_update_href};

/// One of the customer's mediums.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MediumLine {
    /// Its id.
    pub id: String,
    /// Its name in words.
    pub name: String,
    /// What else to know ("expires 12/29").
    pub detail: Option<String>,
    /// Why it can't be used, if it can't ("Expired").
    pub problem: Option<String>,
    /// Whether it is a saved card the provider can replace ("Update card").
    pub updatable: bool,
    /// The services it pays (product names).
    pub pays: Vec<String>,
}

/// One service and the medium its future payments are collected with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceMedium {
    /// The service id.
    pub service: String,
    /// Its product's name.
    pub product: String,
    /// The active medium's id, if it has one.
    pub active: Option<String>,
    /// The active medium in words ("Visa ending 4242").
    pub active_name: Option<String>,
    /// The mediums that can be made active: (id, name).
    pub options: Vec<(String, String)>,
}

/// What the payment methods page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodsView {
    /// The customer's mediums.
    pub mediums: Vec<MediumLine>,
    /// Their services that are collected from an active medium.
    pub services: Vec<ServiceMedium>,
}

/// The logged-in customer's mediums and services.
#[server(prefix = "/account/api", endpoint = "payment_methods")]
pub async fn load_methods() -> Result<MethodsView, PageError> {
    use settle::payment_method::MethodKind;
    use settle::service_standing::{can_be_active, wallet};

    use crate::format::{medium_detail, medium_name, medium_status};

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = crate::pages::account::shared::payer(&user)?;
    let customer = user
        .customer_id
        .as_ref()
        .ok_or_else(|| PageError::forbidden("Your account has no customer record."))?;
    let wallet = wallet(&ctx.db, &viewer, &customer.to_string())
        .await
        .map_err(PageError::logged("loading payment methods"))?;
    let mediums = wallet
        .mediums
        .iter()
        .filter(|m| m.kind != MethodKind::ProviderSelected)
        .map(|m| MediumLine {
            id: m.id.to_string(),
            name: medium_name(m),
            detail: medium_detail(m),
            problem: medium_status(m.status).map(str::to_owned),
            updatable: m.kind == MethodKind::Card && m.gateway_token.is_some(),
            pays: wallet
                .services
                .iter()
                .filter(|(s, _)| s.active_payment_method_id.as_ref() == Some(&m.id))
                .map(|(_, p)| p.name.clone())
                .collect(),
        })
        .collect();
    let options: Vec<(String, String)> = wallet
        .mediums
        .iter()
        .filter(|m| can_be_active(m))
        .map(|m| (m.id.to_string(), medium_name(m)))
        .collect();
    let services = wallet
        .services
        .iter()
        .map(|(service, product)| {
            let active = service
                .active_payment_method_id
                .as_ref()
                .and_then(|id| wallet.mediums.iter().find(|m| m.id == *id));
            ServiceMedium {
                service: service.reference.clone(),
                product: product.name.clone(),
                active: active.map(|m| m.id.to_string()),
                active_name: active.map(medium_name),
                options: options.clone(),
            }
        })
        .collect();
    Ok(MethodsView { mediums, services })
}

/// Makes a medium the one a service's future payments are collected with.
#[server(prefix = "/account/api", endpoint = "set_active_medium")]
pub async fn set_active_medium(service: String, medium: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    use crate::links::PAYMENT_METHODS;
    use crate::pages::account::services::NO_SUCH_SERVICE;
    use crate::pages::account::shared::payer;

    let user = crate::auth::require(Role::Customer)?;
    let ctx = crate::context::page_context()?;
    let viewer = payer(&user)?;
    let flash = match settle::service_standing::set_active_medium(
        &ctx.db, &viewer, &service, &medium,
    )
    .await
    {
        Ok(service) => {
            let active = match &service.active_payment_method_id {
                Some(id) => settle::payment_method::PaymentMethod::find(&ctx.db, id)
                    .await
                    .map_err(PageError::logged("loading the payment method"))?,
                None => None,
            };
            let name = active
                .map(|m| crate::format::medium_name(&m))
                .unwrap_or_else(|| "chosen payment method".into());
            Flash::success(format!(
                "Done: future payments for service {} are collected with your {name}.",
                service.reference
            ))
        }
        Err(settle::Error::NotFound(_)) => Flash::error(NO_SUCH_SERVICE),
        Err(settle::Error::Validation(_)) => Flash::error(
            "Only a valid card or bank account of yours can pay a service's future payments.",
        ),
        Err(e) => return Err(PageError::logged("setting the active medium")(e)),
    };
    redirect_with(flash, PAYMENT_METHODS).await
}

/// The payment methods page.
#[component]
pub fn PaymentMethodsPage() -> impl IntoView {
    view! {
        <Layout title="Payment methods".into()>
            <h1>"Payment methods"</h1>
            <PageData heading="Payment methods" load=load_methods() let:view>
                <Methods view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Methods(view: MethodsView) -> impl IntoView {
    let mediums = if view.mediums.is_empty() {
        view! { <p>"You have no saved payment methods yet. A card you pay with is saved here."</p> }
            .into_any()
    } else {
        let items = view
            .mediums
            .into_iter()
            .map(|m| {
                let update = m.updatable.then(|| {
                    view! { <a class="button small secondary" href=card_update_href(&m.id)>"Update card"</a> }
                });
                let pays = (!m.pays.is_empty())
                    .then(|| view! { <small>{format!("Pays {}", m.pays.join(", "))}</small> });
                view! {
                    <li class="medium">
                        <span>
                            <strong>{m.name}</strong>
                            {m.problem.map(|p| view! { " " <span class="tag notice">{p}</span> })}
                            {m.detail.map(|d| view! { <small>{d}</small> })}
                            {pays}
                        </span>
                        {update}
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="mediums">{items}</ul> }.into_any()
    };
    let services = (!view.services.is_empty()).then(|| {
        let items = view.services.into_iter().map(|s| view! { <ServiceForm s /> }).collect_view();
        view! {
            <section class="card">
                <h2>"How each service is paid"</h2>
                <p class="muted">"Future payments of each service are collected with its active payment method."</p>
                {items}
            </section>
        }
    });
    view! {
        <section class="card">
            <h2>"Your payment methods"</h2>
            {mediums}
        </section>
        {services}
        <p><a href=ACCOUNT>"Back to your account"</a></p>
    }
}

/// A service's active medium and the form that changes it.
#[component]
fn ServiceForm(s: ServiceMedium) -> impl IntoView {
    let set = ServerAction::<SetActiveMedium>::new();
    let select_id = format!("medium-for-{}", s.service);
    let options = s
        .options
        .iter()
        .map(|(id, name)| {
            let selected = s.active.as_deref() == Some(id.as_str());
            view! { <option value=id.clone() selected=selected>{name.clone()}</option> }
        })
        .collect_view();
    let current = match &s.active_name {
        Some(name) => format!("✓ Active: {name}"),
        None => "No active payment method: choose one so future payments can be collected.".into(),
    };
    view! {
        <div class="service-medium">
            <h3>{s.product.clone()} " " <code class="reference">{s.service.clone()}</code></h3>
            <p>{current}</p>
            {(!s.options.is_empty()).then(|| view! {
                <ActionForm action=set attr:class="set-medium">
                    <input type="hidden" name="service" value=s.service.clone() />
                    <div class="field">
                        <label for=select_id.clone()>"Pay this service with"</label>
                        <select id=select_id name="medium">{options}</select>
                    </div>
                    <SubmitButton label="Use this payment method" busy="Saving…" class="secondary" />
                </ActionForm>
            })}
        </div>
    }
}
