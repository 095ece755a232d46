//! `/operator/gateways/:id`: one gateway's settings. Its secrets are shown only as set or not;
//! a blank secret field keeps the stored one.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::form::FormState;
use super::gateway_form::{GatewayFields, GatewayForm};
use super::gateways::{GATEWAYS, gateway_href};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// The edit page's data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewayEditView {
    /// Key.
    pub id: String,
    /// Name.
    pub name: String,
    /// The form.
    pub form: FormState,
    /// Whether the API key and the signing secret are set.
    pub secrets: (bool, bool),
}

const NO_SUCH_GATEWAY: &str = "There is no gateway with that key.";

/// A gateway as the operator edits it; operators only.
#[server(prefix = "/operator/api", endpoint = "gateway")]
pub async fn load_gateway(id: String) -> Result<GatewayEditView, PageError> {
    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let g = settle::gateway_config::store::find(&ctx.db, &id)
        .await
        .map_err(PageError::logged("loading a gateway"))?
        .ok_or_else(|| PageError::not_found(NO_SUCH_GATEWAY))?;
    let form = super::form::kept(&format!("gateway:{}", g.id))
        .await?
        .unwrap_or_else(|| FormState::of(&GatewayForm::of(&g)));
    Ok(GatewayEditView {
        id: g.id.clone(),
        name: g.name.clone(),
        form,
        secrets: (g.api_key_set, g.signing_secret_set),
    })
}

/// Saves a gateway; every instance reloads it within about a second.
#[server(prefix = "/operator/api", endpoint = "gateway_update")]
pub async fn update_gateway(
    gateway: String,
    #[server(flatten)] form: GatewayForm,
) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let saved = match form.input().check() {
        Ok(settings) => {
            settle::gateway_config::store::update(&ctx.db, &actor, &gateway, &settings).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(g) => {
            // This server applies it at once (a payment routed here next must find it); the
            // others follow through the configuration watcher.
            if let Err(e) = ctx.payments.reload_gateways().await {
                tracing::warn!(error = %e, "reloading gateways after a change failed");
            }
            let flash = Flash::success(format!(
                "Gateway {} saved. It applies here at once and on every other server within a few seconds.",
                g.id
            ));
            redirect_with(flash, &gateway_href(&g.id)).await
        }
        Err(settle::Error::NotFound(_)) => {
            redirect_with(Flash::error(NO_SUCH_GATEWAY), GATEWAYS).await
        }
        Err(e) => {
            super::form::fail(
                &format!("gateway:{gateway}"),
                form.shown(),
                e,
                &gateway_href(&gateway),
            )
            .await
        }
    }
}

/// The gateway page.
#[component]
pub fn GatewayEditPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id")).unwrap_or_default();
    view! {
        <Layout title="Gateway".into()>
            <PageData heading="Gateway" load=load_gateway(id) let:v>
                <GatewayEdit v />
            </PageData>
        </Layout>
    }
}

#[component]
fn GatewayEdit(v: GatewayEditView) -> impl IntoView {
    let update = ServerAction::<UpdateGateway>::new();
    view! {
        <h1>{v.name.clone()} " " <code>{v.id.clone()}</code></h1>
        <p><a href=GATEWAYS>"All gateways"</a></p>
        <section class="card">
            <ActionForm action=update>
                <input type="hidden" name="gateway" value=v.id.clone() />
                <GatewayFields state=v.form creating=false secrets=v.secrets />
                <SubmitButton label="Save gateway" busy="Saving…" />
            </ActionForm>
        </section>
    }
}
