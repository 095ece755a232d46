//! One merchant, `/operator/merchants/:id`: its credentials (the client secret only as "set",
//! with a button that makes a new one), its API logins, its webhook endpoint and signing
//! secret, the origins customers may return to and its default return URL per gateway.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::actions::{
    CreateApiUser, NO_SUCH_MERCHANT, RotateClientSecret, RotateWebhookSecret, SetOrigins,
    SetReturnUrl, SetWebhook, form_name,
};
use super::form::Kept;
use super::{MERCHANTS, TextArea};
use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;

/// A merchant's webhook endpoint as the page shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhookLine {
    /// Where deliveries go.
    pub url: String,
    /// Healthy or failing, in words.
    pub status: String,
    /// Until when the previous secret signs too, if it does.
    pub previous_until: Option<String>,
}

/// One API login.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiUserLine {
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Whether it was disabled.
    pub disabled: bool,
}

/// What the merchant page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MerchantView {
    /// Settle's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// Whether customers' logins may get tokens without the secret.
    pub public_client: bool,
    /// When it was registered.
    pub created: String,
    /// Its return origins, one per line.
    pub origins: Vec<String>,
    /// Its webhook endpoint.
    pub webhook: Option<WebhookLine>,
    /// Default return URLs: (gateway key, gateway in words, URL).
    pub return_urls: Vec<(String, String, String)>,
    /// Gateways to choose from: (key, name).
    pub gateways: Vec<(String, String)>,
    /// Its API logins.
    pub api_users: Vec<ApiUserLine>,
    /// A form kept after a problem.
    pub kept: Kept,
}

/// One merchant; operators only.
#[server(prefix = "/operator/api", endpoint = "merchant")]
pub async fn load_merchant(id: String) -> Result<MerchantView, PageError> {
    use settle::merchant::manage::{ALL_GATEWAYS, completion_pages};
    use settle::merchant::{Merchant, MerchantId};

    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let failed = PageError::logged("loading a merchant");
    let merchant_id = MerchantId::from_string(id.trim());
    let merchant = Merchant::find(&ctx.db, &merchant_id)
        .await
        .map_err(&failed)?
        .ok_or_else(|| PageError::not_found(NO_SUCH_MERCHANT))?;
    let endpoint = settle::webhook::Endpoint::find(&ctx.db, &merchant_id).await.map_err(&failed)?;
    let gateways = settle::gateway::Gateway::list(&ctx.db).await.map_err(&failed)?;
    let pages = completion_pages(&ctx.db, &merchant_id).await.map_err(&failed)?;
    let users = settle::account::User::of_merchant(&ctx.db, &merchant_id).await.map_err(&failed)?;
    let now = chrono::Utc::now();
    let gateway_words = |key: &str| {
        if key == ALL_GATEWAYS {
            "Every other gateway".to_owned()
        } else {
            gateways
                .iter()
                .find(|g| g.id == key)
                .map_or_else(|| key.to_owned(), |g| format!("{} ({})", g.name, g.id))
        }
    };
    Ok(MerchantView {
        id: merchant.id.to_string(),
        name: merchant.name,
        client_id: merchant.client_id,
        public_client: merchant.public_client,
        created: crate::format::long_date(merchant.created_at),
        origins: merchant.return_origins.iter().map(|o| o.as_str().to_owned()).collect(),
        webhook: endpoint.map(|e| WebhookLine {
            url: e.url.to_string(),
            status: match e.status {
                settle::webhook::EndpointStatus::Healthy => "Healthy".to_owned(),
                settle::webhook::EndpointStatus::Failing => {
                    format!("Failing ({} failed attempts in a row)", e.consecutive_failures)
                }
            },
            previous_until: e
                .previous_expires_at
                .filter(|t| *t > now)
                .map(crate::format::date_time),
        }),
        return_urls: pages
            .into_iter()
            .map(|(g, url)| (g.clone(), gateway_words(&g), url))
            .collect(),
        gateways: gateways.iter().map(|g| (g.id.clone(), g.name.clone())).collect(),
        api_users: users
            .into_iter()
            .map(|u| ApiUserLine {
                email: u.email.to_string(),
                name: u.display_name,
                disabled: u.disabled_at.is_some(),
            })
            .collect(),
        kept: super::form::take().await?,
    })
}

/// The merchant page.
#[component]
pub fn MerchantPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id")).unwrap_or_default();
    view! {
        <Layout title="Merchant".into()>
            <PageData heading="Merchant" load=load_merchant(id) let:view>
                <Merchant view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Merchant(view: MerchantView) -> impl IntoView {
    let id = view.id.clone();
    let rotate = ServerAction::<RotateClientSecret>::new();
    let access = if view.public_client {
        "Public client: its customers' logins get tokens without the secret."
    } else {
        "Confidential client: every token request needs the secret."
    };
    view! {
        <h1>{view.name.clone()}</h1>
        <p><a href=MERCHANTS>"All merchants"</a></p>
        <section class="card">
            <h2>"API credentials"</h2>
            <dl class="facts">
                <dt>"Client id"</dt><dd><code>{view.client_id.clone()}</code></dd>
                <dt>"Client secret"</dt><dd>"Set (Settle keeps only what checks it)"</dd>
                <dt>"Access"</dt><dd>{access}</dd>
                <dt>"Registered"</dt><dd>{view.created.clone()}</dd>
            </dl>
            <ActionForm action=rotate attr:class="console-form">
                <input type="hidden" name="id" value=view.id.clone() />
                <p class="muted small">"A new secret works at once and the old one stops working: the merchant must switch straight away."</p>
                <SubmitButton label="Make a new client secret" busy="Making a new secret…" class="secondary" />
            </ActionForm>
        </section>
        <ApiUsers id=id.clone() users=view.api_users.clone() kept=view.kept.clone() />
        <Webhook id=id.clone() webhook=view.webhook.clone() kept=view.kept.clone() />
        <Origins id=id.clone() origins=view.origins.clone() kept=view.kept.clone() />
        <ReturnUrls id=id return_urls=view.return_urls.clone() gateways=view.gateways.clone() kept=view.kept />
    }
}

#[component]
fn ApiUsers(id: String, users: Vec<ApiUserLine>, kept: Kept) -> impl IntoView {
    let create = ServerAction::<CreateApiUser>::new();
    let form = kept.of(&form_name("api-user", &id));
    let focus = form.errors.first_of(&["api_email", "api_name", "api_password"]);
    let first = move |field: &str| focus == Some(field);
    let list = if users.is_empty() {
        view! { <p class="muted">"No API login yet."</p> }.into_any()
    } else {
        view! {
            <ul class="plain">
                {users.into_iter().map(|u| view! {
                    <li>
                        <code>{u.email}</code> " · " {u.name}
                        {u.disabled.then(|| view! { " " <span class="tag notice">"Disabled"</span> })}
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section class="card">
            <h2>"API logins"</h2>
            <p class="muted">"Logins the merchant's systems use for the password grant; their tokens stand for the merchant."</p>
            {list}
            <ActionForm action=create attr:class="console-form">
                <input type="hidden" name="id" value=id />
                <TextField label="Email" name="api_email" value=form.value("api_email") error=form.error("api_email")
                    autofocus=first("api_email") kind="email" autocomplete="off" required=true />
                <TextField label="Name" name="api_name" value=form.value("api_name") error=form.error("api_name")
                    autofocus=first("api_name") autocomplete="off" hint="Optional, e.g. Invoice system." />
                <TextField label="Password" name="api_password" error=form.error("api_password")
                    autofocus=first("api_password") kind="password" autocomplete="new-password" required=true
                    hint="At least 10 characters; give it to the merchant over a safe channel." />
                <SubmitButton label="Open the API login" busy="Opening…" />
            </ActionForm>
        </section>
    }
}

#[component]
fn Webhook(id: String, webhook: Option<WebhookLine>, kept: Kept) -> impl IntoView {
    let set = ServerAction::<SetWebhook>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let form = kept.of(&form_name("webhook", &id));
    let current = webhook.as_ref().map(|w| w.url.clone()).unwrap_or_default();
    let value = if form.values.is_empty() { current } else { form.value("webhook_url") };
    let facts = match &webhook {
        Some(w) => view! {
            <dl class="facts">
                <dt>"Status"</dt><dd>{w.status.clone()}</dd>
                <dt>"Signing secret"</dt><dd>"Set"</dd>
                {w.previous_until.clone().map(|t| view! { <dt>"Previous secret"</dt><dd>{format!("Signs too until {t}")}</dd> })}
            </dl>
        }
        .into_any(),
        None => view! { <p class="muted">"No webhook endpoint: the merchant gets no events."</p> }.into_any(),
    };
    let rotate_id = id.clone();
    let rotate_form = webhook.is_some().then(move || {
        view! {
            <ActionForm action=rotate attr:class="console-form">
                <input type="hidden" name="id" value=rotate_id />
                <p class="muted small">"The old secret keeps signing next to the new one for a day, so the merchant can switch."</p>
                <SubmitButton label="Make a new signing secret" busy="Making a new secret…" class="secondary" />
            </ActionForm>
        }
    });
    let has_error = form.error("webhook_url").is_some();
    view! {
        <section class="card">
            <h2>"Webhooks"</h2>
            {facts}
            <ActionForm action=set attr:class="console-form">
                <input type="hidden" name="id" value=id.clone() />
                <TextField label="Webhook URL" name="webhook_url" value=value error=form.error("webhook_url")
                    autofocus=has_error kind="url" autocomplete="off" required=true />
                <SubmitButton label="Save the webhook URL" busy="Saving…" />
            </ActionForm>
            {rotate_form}
        </section>
    }
}

#[component]
fn Origins(id: String, origins: Vec<String>, kept: Kept) -> impl IntoView {
    let set = ServerAction::<SetOrigins>::new();
    let form = kept.of(&form_name("origins", &id));
    let value =
        if form.values.is_empty() { origins.join("\n") } else { form.value("return_origins") };
    let error = form.error("return_origins");
    let focus = error.is_some();
    view! {
        <section class="card">
            <h2>"Return origins"</h2>
            <ActionForm action=set attr:class="console-form">
                <input type="hidden" name="id" value=id />
                <TextArea label="Return origins" name="return_origins" value=value error=error autofocus=focus
                    hint="One per line, e.g. https://shop.example: the only places customers are sent back to." />
                <SubmitButton label="Save the return origins" busy="Saving…" />
            </ActionForm>
        </section>
    }
}

#[component]
fn ReturnUrls(
    id: String,
    return_urls: Vec<(String, String, String)>,
    gateways: Vec<(String, String)>,
    kept: Kept,
) -> impl IntoView {
    use settle::merchant::manage::ALL_GATEWAYS;
    let set = ServerAction::<SetReturnUrl>::new();
    let form = kept.of(&form_name("return-url", &id));
    let chosen = form.value("gateway");
    let focus = form.errors.first_of(&["gateway", "return_url"]);
    let gateway_error = form.error("gateway");
    let list = if return_urls.is_empty() {
        view! { <p class="muted">"None: without a return URL of its own, a payment ends on Settle's status page."</p> }
            .into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="list">
                    <thead><tr><th>"Gateway"</th><th>"Return URL"</th></tr></thead>
                    <tbody>
                        {return_urls.into_iter().map(|(_, words, url)| view! {
                            <tr><td>{words}</td><td><code>{url}</code></td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let options =
        std::iter::once((ALL_GATEWAYS.to_owned(), "Every gateway without its own".to_owned()))
            .chain(gateways.into_iter().map(|(key, name)| (key.clone(), format!("{name} ({key})"))))
            .map(|(key, words)| {
                let selected = key == chosen;
                view! { <option value=key selected=selected>{words}</option> }
            })
            .collect_view();
    let class = if gateway_error.is_some() { "field invalid" } else { "field" };
    view! {
        <section class="card">
            <h2>"Default return URLs"</h2>
            <p class="muted">"Where a customer goes after paying when the payment names no return URL of its own (the completion page), per gateway."</p>
            {list}
            <ActionForm action=set attr:class="console-form">
                <input type="hidden" name="id" value=id />
                <div class=class>
                    <label for="gateway">"Gateway"</label>
                    <select id="gateway" name="gateway" autofocus=focus == Some("gateway")
                        aria-invalid=gateway_error.as_ref().map(|_| "true")>{options}</select>
                    {gateway_error.clone().map(|e| view! { <span class="field-error" id="gateway-error">"Gateway " {e} "."</span> })}
                </div>
                <TextField label="Return URL" name="return_url" value=form.value("return_url")
                    error=form.error("return_url") autofocus=focus == Some("return_url") kind="url"
                    autocomplete="off" hint="On one of the return origins above. Empty removes it." />
                <SubmitButton label="Save the return URL" busy="Saving…" />
            </ActionForm>
        </section>
    }
}
