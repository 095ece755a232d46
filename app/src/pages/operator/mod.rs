//! The operator console's start page: merchants, gateways and products as configured, with
//! the ways into each configuration page.

pub mod form;
pub mod gateway_edit;
pub mod gateway_form;
pub mod gateways;
pub mod product_edit;
pub mod product_form;
pub mod products;
pub mod purchase_sources;

pub mod merchants;
pub mod users;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;

/// What the operator console shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigurationView {
    /// Gateways: (key, name, provider, kind, currency).
    pub gateways: Vec<(String, String, String, String, String)>,
    /// Products: (code, name, billing kind, unit price or "set by the merchant", tax rate %).
    pub products: Vec<(String, String, String, String, String)>,
}

/// The current configuration; operators only.
#[server(prefix = "/operator/api", endpoint = "configuration")]
pub async fn configuration() -> Result<ConfigurationView, PageError> {
    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let fail = |e: settle::Error| {
        tracing::error!(error = %e, "loading configuration failed");
        PageError::internal("The configuration can't be shown right now.")
    };
    let gateways = settle::gateway::Gateway::list(&ctx.db).await.map_err(fail)?;
    let products = settle::product::Product::list(&ctx.db).await.map_err(fail)?;
    Ok(ConfigurationView {
        gateways: gateways
            .into_iter()
            .map(|g| (g.id, g.name, g.provider, g.kind.to_string(), g.currency.code().to_owned()))
            .collect(),
        products: products
            .into_iter()
            .map(|p| {
                (
                    p.code,
                    p.name,
                    billing_words(p.billing_kind).to_owned(),
                    if p.merchant_sets_amount {
                        "Set by the merchant (tax included)".to_owned()
                    } else {
                        p.unit_price.display().to_string()
                    },
                    p.tax_rate.percent().to_string(),
                )
            })
            .collect(),
    })
}

/// Operator console start page.
#[component]
pub fn OperatorPage() -> impl IntoView {
    view! {
        <Layout title="Configuration".into()>
            <h1>"Configuration"</h1>
            <nav aria-label="Configuration">
                <ul class="console-links">
                    <li><a href=products::PRODUCTS>"Products and billing schemes"</a></li>
                    <li><a href=gateways::GATEWAYS>"Gateways"</a></li>
                    <li><a href=purchase_sources::PURCHASE_SOURCES>"Purchase sources"</a></li>
                </ul>
            </nav>
            <PageData heading="Configuration" load=configuration() let:c>
                <h2>"Gateways"</h2>
                <div class="table-scroll">
                    <table class="list">
                        <thead><tr><th>"Key"</th><th>"Name"</th><th>"Provider"</th><th>"Kind"</th><th>"Currency"</th></tr></thead>
                        <tbody>
                            {c.gateways.into_iter().map(|(key, name, provider, kind, cur)| view! {
                                <tr><td><a href=gateways::gateway_href(&key)><code>{key.clone()}</code></a></td><td>{name}</td><td>{provider}</td><td>{kind}</td><td>{cur}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <h2>"Products and billing schemes"</h2>
                <div class="table-scroll">
                    <table class="list">
                        <thead><tr><th>"Code"</th><th>"Name"</th><th>"Billing"</th><th class="num">"Unit price (excl. tax)"</th><th class="num">"Tax %"</th></tr></thead>
                        <tbody>
                            {c.products.into_iter().map(|(code, name, billing, price, tax)| view! {
                                <tr><td><a href=products::product_href(&code)><code>{code.clone()}</code></a></td><td>{name}</td><td>{billing}</td><td class="num">{price}</td><td class="num">{tax}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </PageData>
        </Layout>
    }
}

/// A billing kind in words.
pub fn billing_words(kind: settle::product::BillingKind) -> &'static str {
    use settle::product::BillingKind;
    match kind {
        BillingKind::RecurringMonthly => "Recurring monthly",
        BillingKind::DayBundle => "Day bundles",
        BillingKind::OnceOff => "Once-off",
    }
}
