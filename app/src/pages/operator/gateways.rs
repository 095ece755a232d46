//! `/operator/gateways`: the connector instances, and the form that configures a new one.
//! A change applies on every instance within about a second, without a restart.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::form::FormState;
use super::gateway_form::{GatewayFields, GatewayForm};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// Where the list is.
pub const GATEWAYS: &str = "/operator/gateways";

/// The edit page of a gateway.
pub fn gateway_href(id: &str) -> String {
    format!("{GATEWAYS}/{id}")
}

/// One gateway in the list (secrets only as set or not).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewayLine {
    /// Key.
    pub id: String,
    /// Name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// Kind.
    pub kind: String,
    /// Currency.
    pub currency: String,
    /// Base URL or "sandbox".
    pub base_url: String,
    /// "set" / "not set".
    pub secrets: String,
    /// Enabled.
    pub enabled: bool,
}

/// The list page's data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewaysView {
    /// Every gateway, by key.
    pub gateways: Vec<GatewayLine>,
    /// The create form.
    pub form: FormState,
}

/// The gateways and the create form; operators only.
#[server(prefix = "/operator/api", endpoint = "gateways")]
pub async fn load_gateways() -> Result<GatewaysView, PageError> {
    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let gateways = settle::gateway_config::store::list(&ctx.db)
        .await
        .map_err(PageError::logged("loading gateways"))?;
    let form = super::form::kept("gateway.create").await?.unwrap_or_else(|| {
        FormState::of(&GatewayForm {
            kind: "hosted_checkout".into(),
            currency: "ZAR".into(),
            timeout_ms: "10000".into(),
            enabled: "on".into(),
            ..GatewayForm::default()
        })
    });
    let set = |b: bool| if b { "set" } else { "not set" };
    Ok(GatewaysView {
        gateways: gateways
            .into_iter()
            .map(|g| GatewayLine {
                secrets: format!(
                    "API key {}, signing secret {}",
                    set(g.api_key_set),
                    set(g.signing_secret_set)
                ),
                base_url: g.base_url.unwrap_or_else(|| "Settle's sandbox".into()),
                kind: g.kind.to_string(),
                currency: g.currency.code().to_owned(),
                enabled: g.enabled,
                id: g.id,
                name: g.name,
                provider: g.provider,
            })
            .collect(),
        form,
    })
}

/// Configures a new gateway.
#[server(prefix = "/operator/api", endpoint = "gateway_create")]
pub async fn create_gateway(#[server(flatten)] form: GatewayForm) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let input = form.input();
    let created = match input.check_new() {
        Ok((id, settings)) => {
            settle::gateway_config::store::create(&ctx.db, &actor, &id, &settings).await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(g) => {
            // This server applies it at once (a payment routed here next must find it); the
            // others follow through the configuration watcher.
            if let Err(e) = ctx.payments.reload_gateways().await {
                tracing::warn!(error = %e, "reloading gateways after a change failed");
            }
            let flash = Flash::success(format!(
                "Gateway {} configured. It applies here at once and on every other server within a few seconds.",
                g.id
            ));
            redirect_with(flash, &gateway_href(&g.id)).await
        }
        Err(e) => super::form::fail("gateway.create", form.shown(), e, GATEWAYS).await,
    }
}

/// The gateways page.
#[component]
pub fn GatewaysPage() -> impl IntoView {
    let create = ServerAction::<CreateGateway>::new();
    view! {
        <Layout title="Gateways".into()>
            <h1>"Gateways"</h1>
            <PageData heading="Gateways" load=load_gateways() let:v>
                <div class="table-scroll">
                    <table class="list">
                        <thead><tr><th>"Key"</th><th>"Name"</th><th>"Provider"</th><th>"Kind"</th><th>"Currency"</th><th>"Address"</th><th>"Secrets"</th><th>"Status"</th></tr></thead>
                        <tbody>
                            {v.gateways.into_iter().map(|g| view! {
                                <tr>
                                    <td><a href=gateway_href(&g.id)><code>{g.id.clone()}</code></a></td>
                                    <td>{g.name}</td><td>{g.provider}</td><td>{g.kind}</td><td>{g.currency}</td>
                                    <td>{g.base_url}</td><td>{g.secrets}</td>
                                    <td>{if g.enabled { "Enabled" } else { "Disabled" }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <section class="card">
                    <h2>"New gateway"</h2>
                    <ActionForm action=create>
                        <GatewayFields state=v.form creating=true secrets=(false, false) />
                        <SubmitButton label="Configure gateway" busy="Saving…" />
                    </ActionForm>
                </section>
            </PageData>
        </Layout>
    }
}
