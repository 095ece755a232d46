//! The admin console's start page.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
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
    let overview = Resource::new_blocking(|| (), |_| admin_overview());
    view! {
        <Layout title="Payments console".into()>
            <h1>"Payments console"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! {
                            <dl class="stats">
                                <div><dt>"Customers"</dt><dd>{o.customers}</dd></div>
                                <div><dt>"Services"</dt><dd>{o.services}</dd></div>
                                <div><dt>"Open purchases"</dt><dd>{o.open_purchases}</dd></div>
                            </dl>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="flash error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
