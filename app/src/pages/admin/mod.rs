//! The admin console. Its start page is the dashboard ([`dashboard`]) over the headline counts.

pub mod dashboard;

pub mod audit;
pub mod jobs;
pub mod ledger;
pub mod payment_actions;
pub mod payments;
pub mod webhooks;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;

/// Headline counts for the admin console.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OverviewCounts {
    /// Customers on record.
    pub customers: i64,
    /// Services (policies and ISP services).
    pub services: i64,
    /// Open purchases (amounts owed).
    pub open_purchases: i64,
}

/// Counts for the console; admins only.
#[server(prefix = "/admin/api", endpoint = "overview")]
pub async fn admin_overview() -> Result<OverviewCounts, PageError> {
    crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let counts = settle::stats::overview(&ctx.db).await.map_err(|e| {
        tracing::error!(error = %e, "admin overview failed");
        PageError::internal("The overview can't be shown right now.")
    })?;
    Ok(OverviewCounts {
        customers: counts.customers,
        services: counts.services,
        open_purchases: counts.open_purchases,
    })
}

/// Admin console start page.
#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Layout title="Payments console".into()>
            <h1>"Payments console"</h1>
            <dashboard::Dashboard />
            <h2>"Overview"</h2>
            <PageData heading="Overview" load=admin_overview() let:o>
                <dl class="stats">
                    <div><dt>"Customers"</dt><dd>{o.customers}</dd></div>
                    <div><dt>"Services"</dt><dd>{o.services}</dd></div>
                    <div><dt>"Open purchases"</dt><dd>{o.open_purchases}</dd></div>
                </dl>
            </PageData>
        </Layout>
    }
}
