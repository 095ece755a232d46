//! The operator's merchants, `/operator/merchants`: every merchant system with API credentials,
//! and the form that registers one. Its client secret (and webhook signing secret) are shown
//! once, on the page after ([`secret`]).

pub mod actions;
pub mod detail;
pub mod form;
pub mod secret;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use self::form::Kept;
use crate::PageError;
use crate::components::{PageData, SubmitButton, TextField};
use crate::layout::Layout;

/// The merchants page's path.
pub const MERCHANTS: &str = "/operator/merchants";

/// The path of one merchant's page.
pub fn merchant_href(id: &str) -> String {
    format!("{MERCHANTS}/{id}")
}

/// The form on this page.
const CREATE_FORM: &str = "merchant-create";

/// The create form's fields in page order (the first with a problem gets the focus).
const CREATE_FIELDS: &[&str] = &["name", "client_id", "webhook_url", "return_origins"];

/// One merchant in the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MerchantLine {
    /// Settle's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// Its return origins, comma-separated.
    pub origins: String,
    /// When it was registered.
    pub created: String,
}

/// What the merchants page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MerchantsView {
    /// The merchants, by name.
    pub merchants: Vec<MerchantLine>,
    /// The create form after a problem.
    pub kept: Kept,
}

/// The merchants; operators only.
#[server(prefix = "/operator/api", endpoint = "merchants")]
pub async fn load_merchants() -> Result<MerchantsView, PageError> {
    crate::auth::require(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let merchants = settle::merchant::Merchant::list(&ctx.db)
        .await
        .map_err(PageError::logged("listing merchants"))?;
    Ok(MerchantsView {
        merchants: merchants
            .into_iter()
            .map(|m| MerchantLine {
                id: m.id.to_string(),
                name: m.name,
                client_id: m.client_id,
                origins: m
                    .return_origins
                    .iter()
                    .map(|o| o.as_str().to_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
                created: m.created_at.format("%Y-%m-%d").to_string(),
            })
            .collect(),
        kept: form::take().await?,
    })
}

/// Registers a merchant and shows its new secrets once; a problem comes back to the form with
/// a message per field.
#[server(prefix = "/operator/api", endpoint = "merchant_create")]
pub async fn create_merchant(
    name: String,
    client_id: String,
    webhook_url: Option<String>,
    return_origins: Option<String>,
) -> Result<(), PageError> {
    use settle::merchant::manage::{self, MerchantEntry};

    use self::form::{KeptForm, correct_message, field_errors, keep};
    use crate::flash::{Flash, redirect_with};

    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let entry = MerchantEntry {
        name,
        client_id,
        webhook_url: webhook_url.unwrap_or_default(),
        return_origins: return_origins.unwrap_or_default(),
    };
    let values = vec![
        ("name".to_owned(), entry.name.clone()),
        ("client_id".to_owned(), entry.client_id.clone()),
        ("webhook_url".to_owned(), entry.webhook_url.clone()),
        ("return_origins".to_owned(), entry.return_origins.clone()),
    ];
    match manage::create(&ctx.db, &actor, entry).await {
        Ok(created) => {
            let id = created.merchant.id.to_string();
            secret::keep(secret::NewSecrets {
                merchant_id: id.clone(),
                client_id: created.merchant.client_id.clone(),
                client_secret: Some(created.client_secret),
                webhook_secret: created.webhook_secret.map(|s| s.expose().to_owned()),
            })
            .await?;
            tracing::info!(merchant = %id, "merchant registered");
            leptos_axum::redirect(&secret::secret_href(&id));
            Ok(())
        }
        Err(settle::Error::Validation(errors)) => {
            let errors = field_errors(errors, &[]);
            let message = correct_message(errors.len());
            keep(KeptForm { form: CREATE_FORM.into(), values, errors }).await?;
            redirect_with(Flash::error(message), MERCHANTS).await
        }
        Err(e) => Err(PageError::logged("registering a merchant")(e)),
    }
}

/// The merchants page.
#[component]
pub fn MerchantsPage() -> impl IntoView {
    view! {
        <Layout title="Merchants".into()>
            <PageData heading="Merchants" load=load_merchants() let:view>
                <Merchants view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Merchants(view: MerchantsView) -> impl IntoView {
    let list = if view.merchants.is_empty() {
        view! { <p class="muted">"No merchant is registered yet: register the first below."</p> }
            .into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="list">
                    <thead><tr><th>"Name"</th><th>"Client id"</th><th>"Return origins"</th><th>"Registered"</th></tr></thead>
                    <tbody>
                        {view.merchants.into_iter().map(|m| view! {
                            <tr>
                                <td><a href=merchant_href(&m.id)>{m.name}</a></td>
                                <td><code>{m.client_id}</code></td>
                                <td>{m.origins}</td>
                                <td>{m.created}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <h1>"Merchants"</h1>
        <p class="lead">"The systems that bill customers through Settle's API, each with its own credentials."</p>
        {list}
        <CreateMerchant kept=view.kept />
    }
}

#[component]
fn CreateMerchant(kept: Kept) -> impl IntoView {
    let create = ServerAction::<CreateMerchant>::new();
    let form = kept.of(CREATE_FORM);
    let focus = form.errors.first_of(CREATE_FIELDS);
    let first = move |field: &str| focus == Some(field);
    let origins_error = form.error("return_origins");
    view! {
        <section class="card">
            <h2>"Register a merchant"</h2>
            <ActionForm action=create attr:class="console-form">
                <TextField label="Name" name="name" value=form.value("name") error=form.error("name")
                    autofocus=first("name") autocomplete="organization" required=true maxlength=200 />
                <TextField label="Client id" name="client_id" value=form.value("client_id")
                    error=form.error("client_id") autofocus=first("client_id") autocomplete="off"
                    required=true maxlength=100
                    hint="What its systems send as client_id, e.g. shop-backend. No spaces." />
                <TextField label="Webhook URL" name="webhook_url" value=form.value("webhook_url")
                    error=form.error("webhook_url") autofocus=first("webhook_url") autocomplete="off"
                    kind="url" hint="Optional. Where Settle posts payment events; a signing secret is made for it." />
                <TextArea label="Return origins" name="return_origins" value=form.value("return_origins")
                    error=origins_error autofocus=first("return_origins")
                    hint="One per line, e.g. https://shop.example: where customers may be sent back after paying." />
                <p class="muted small">"Settle makes the client secret. It is shown once, on the next page."</p>
                <SubmitButton label="Register the merchant" busy="Registering…" />
            </ActionForm>
        </section>
    }
}

/// A labelled text area with its hint and error, wired like [`TextField`].
#[component]
pub fn TextArea(
    /// The visible label.
    label: &'static str,
    /// The field's name (and id).
    name: &'static str,
    /// The value to show again.
    #[prop(into)]
    value: String,
    /// The problem with it, if any.
    error: Option<String>,
    /// Whether it gets the focus.
    autofocus: bool,
    /// A hint under the label.
    hint: &'static str,
) -> impl IntoView {
    let hint_id = format!("{name}-hint");
    let error_id = crate::components::field::error_id(name);
    let described = match &error {
        Some(_) => format!("{hint_id} {error_id}"),
        None => hint_id.clone(),
    };
    let class = if error.is_some() { "field invalid" } else { "field" };
    view! {
        <div class=class>
            <label for=name>{label}</label>
            <small class="hint" id=hint_id>{hint}</small>
            <textarea id=name name=name rows="3" autofocus=autofocus
                aria-invalid=error.as_ref().map(|_| "true") aria-describedby=described>{value}</textarea>
            {error.map(|e| view! { <span class="field-error" id=error_id>{label} " " {e} "."</span> })}
        </div>
    }
}
