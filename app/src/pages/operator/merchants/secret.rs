//! `/operator/merchants/:id/secret`: a merchant's new secrets, shown once. The server function
//! that made them keeps them in the operator's session; this page takes them out, so a reload
//! (or the back button) shows them no more. Settle stores the client secret only as a hash.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::merchant_href;
use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;

/// Session key of the secrets waiting to be shown.
#[cfg(feature = "ssr")]
const NEW_SECRETS_KEY: &str = "operator.new_secrets";

/// Secrets just made for a merchant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewSecrets {
    /// Whose.
    pub merchant_id: String,
    /// Its client id (shown next to the secret).
    pub client_id: String,
    /// A new client secret.
    pub client_secret: Option<String>,
    /// A new webhook signing secret.
    pub webhook_secret: Option<String>,
}

/// The page that shows a merchant's new secrets.
pub fn secret_href(id: &str) -> String {
    format!("{}/secret", merchant_href(id))
}

/// Keeps new secrets for the page that shows them once.
#[cfg(feature = "ssr")]
pub async fn keep(secrets: NewSecrets) -> Result<(), PageError> {
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    session.insert(NEW_SECRETS_KEY, secrets).await.map_err(|e| {
        tracing::error!(error = %e, "keeping new secrets failed");
        PageError::unavailable(crate::error::SESSIONS_UNAVAILABLE)
    })
}

/// What the page shows: the secrets, or that they were shown already.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecretView {
    /// The merchant's id.
    pub merchant_id: String,
    /// The secrets, the first time.
    pub secrets: Option<NewSecrets>,
}

/// The merchant's new secrets, once; operators only.
#[server(prefix = "/operator/api", endpoint = "merchant_new_secret")]
pub async fn take_new_secrets(id: String) -> Result<SecretView, PageError> {
    crate::auth::require(Role::Operator)?;
    let session: tower_sessions::Session = leptos_axum::extract().await?;
    let waiting: Option<NewSecrets> = session.get(NEW_SECRETS_KEY).await.ok().flatten();
    // Only this merchant's secrets are taken: another tab's stay for their own page.
    let secrets = match waiting {
        Some(secrets) if secrets.merchant_id == id => {
            let _ = session.remove::<NewSecrets>(NEW_SECRETS_KEY).await;
            Some(secrets)
        }
        _ => None,
    };
    Ok(SecretView { merchant_id: id, secrets })
}

/// The page.
#[component]
pub fn MerchantSecretPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id")).unwrap_or_default();
    view! {
        <Layout title="New secret".into()>
            <PageData heading="New secret" load=take_new_secrets(id) let:view>
                <Secrets view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Secrets(view: SecretView) -> impl IntoView {
    let back = merchant_href(&view.merchant_id);
    let Some(secrets) = view.secrets else {
        return view! {
            <h1>"New secret"</h1>
            <p class="flash notice" role="status">
                "This secret was shown once and can't be shown again: Settle keeps only what checks it. "
                "If it was lost, make a new one on the merchant's page."
            </p>
            <p><a href=back>"Back to the merchant"</a></p>
        }
        .into_any();
    };
    view! {
        <h1>"Copy the new secret now"</h1>
        <p class="status-banner pending" role="status">
            "This is the only time Settle shows it. Give it to the merchant over a safe channel; "
            "after you leave this page nobody can see it again."
        </p>
        <section class="card secrets">
            <dl class="facts">
                <dt>"Client id"</dt><dd><code>{secrets.client_id}</code></dd>
                {secrets.client_secret.map(|s| view! {
                    <dt>"Client secret"</dt><dd><code class="secret" id="client-secret">{s}</code></dd>
                })}
                {secrets.webhook_secret.map(|s| view! {
                    <dt>"Webhook signing secret"</dt><dd><code class="secret" id="webhook-secret">{s}</code></dd>
                })}
            </dl>
        </section>
        <p><a href=back>"I have copied it: go to the merchant"</a></p>
    }
    .into_any()
}
