//! `/operator/purchase-sources`: the channels off-system payments arrive through (cash, EFT,
//! Yoco…), which staff allocate payments to. A disabled source is offered to nobody; payments
//! already allocated to it keep it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::form::FormState;
use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;

/// Where the page is.
pub const PURCHASE_SOURCES: &str = "/operator/purchase-sources";

/// One source as listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceLine {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The collector it is scoped to, or "all".
    pub collector: String,
    /// Off-system or a gateway's.
    pub off_system: bool,
    /// Enabled.
    pub enabled: bool,
}

/// The page's data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourcesView {
    /// Every source, by name.
    pub sources: Vec<SourceLine>,
    /// The add form.
    pub form: FormState,
}

/// The purchase sources; operators only.
#[server(prefix = "/operator/api", endpoint = "purchase_sources")]
pub async fn load_sources() -> Result<SourcesView, PageError> {
    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let sources = settle::purchase_source::PurchaseSource::all(&ctx.db)
        .await
        .map_err(PageError::logged("loading purchase sources"))?;
    let form = super::form::kept("purchase_source").await?.unwrap_or_default();
    Ok(SourcesView {
        sources: sources
            .into_iter()
            .map(|s| SourceLine {
                collector: s.collector_id.unwrap_or_else(|| "All collectors".into()),
                id: s.id,
                name: s.name,
                off_system: s.off_system,
                enabled: s.enabled,
            })
            .collect(),
        form,
    })
}

/// Adds an off-system source.
#[server(prefix = "/operator/api", endpoint = "purchase_source_add")]
pub async fn add_source(name: String, collector_id: Option<String>) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let collector = collector_id.clone().unwrap_or_default();
    match settle::purchase_source::PurchaseSource::add(&ctx.db, &actor, &name, Some(&collector))
        .await
    {
        Ok(s) => {
            redirect_with(Flash::success(format!("{} added.", s.name)), PURCHASE_SOURCES).await
        }
        Err(e) => {
            let state = FormState::with(vec![("name", name), ("collector_id", collector)]);
            super::form::fail("purchase_source", state, e, PURCHASE_SOURCES).await
        }
    }
}

/// Enables (`enable` = `yes`) or disables a source.
#[server(prefix = "/operator/api", endpoint = "purchase_source_enable")]
pub async fn enable_source(source: String, enable: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let on = enable == "yes";
    match settle::purchase_source::PurchaseSource::set_enabled(&ctx.db, &actor, &source, on).await {
        Ok(()) => {
            let words = if on { "enabled" } else { "disabled" };
            redirect_with(Flash::success(format!("Purchase source {words}.")), PURCHASE_SOURCES)
                .await
        }
        Err(e) => {
            super::form::fail("purchase_source", FormState::default(), e, PURCHASE_SOURCES).await
        }
    }
}

/// The purchase sources page.
#[component]
pub fn PurchaseSourcesPage() -> impl IntoView {
    let add = ServerAction::<AddSource>::new();
    let toggle = ServerAction::<EnableSource>::new();
    view! {
        <Layout title="Purchase sources".into()>
            <h1>"Purchase sources"</h1>
            <p>"Where off-system payments come from, for staff allocating them."</p>
            <PageData heading="Purchase sources" load=load_sources() let:v>
                <div class="table-scroll">
                    <table class="list">
                        <thead><tr><th>"Name"</th><th>"Collector"</th><th>"Kind"</th><th>"Status"</th><th>"Change"</th></tr></thead>
                        <tbody>
                            {v.sources.into_iter().map(|s| {
                                let (label, value) = if s.enabled {
                                    (format!("Disable {}", s.name), "no")
                                } else {
                                    (format!("Enable {}", s.name), "yes")
                                };
                                view! {
                                    <tr>
                                        <td>{s.name.clone()}</td><td>{s.collector}</td>
                                        <td>{if s.off_system { "Off-system" } else { "Gateway" }}</td>
                                        <td>{if s.enabled { "Enabled" } else { "Disabled" }}</td>
                                        <td>
                                            <ActionForm action=toggle>
                                                <input type="hidden" name="source" value=s.id />
                                                <input type="hidden" name="enable" value=value />
                                                <SubmitButton label=label busy="Saving…" class="secondary" />
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <section class="card">
                    <h2>"New purchase source"</h2>
                    <ActionForm action=add>
                        <TextField label="Name" name="name" value=v.form.value("name") error=v.form.error("name") autocomplete="off" required=true maxlength=100 autofocus=v.form.error("name").is_some() />
                        <TextField label="Collector" name="collector_id" value=v.form.value("collector_id") error=v.form.error("collector_id") autocomplete="off" hint="Blank: every collector may use it." />
                        <SubmitButton label="Add purchase source" busy="Adding…" />
                    </ActionForm>
                </section>
            </PageData>
        </Layout>
    }
}
