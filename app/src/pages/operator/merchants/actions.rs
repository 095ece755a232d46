//! What the merchant page's forms post to: rotate the client secret or the webhook signing
//! secret (both shown once on the next page), point the webhook endpoint, set the return
//! origins and the default return URL per gateway, open an API login. Operators only; each
//! change is audited by the core. A problem comes back to the page with a message per field.

use leptos::prelude::*;
use settle::account::Role;

use super::form::{KeptForm, correct_message, field_errors, keep};
use super::merchant_href;
use crate::PageError;

/// The sentence for a merchant that doesn't exist.
pub const NO_SUCH_MERCHANT: &str = "We can't find that merchant.";

/// The form names on the merchant page (one kept form at a time, for one merchant).
pub fn form_name(form: &str, merchant: &str) -> String {
    format!("{form}:{merchant}")
}

#[cfg(feature = "ssr")]
fn merchant_id(id: &str) -> settle::merchant::MerchantId {
    settle::merchant::MerchantId::from_string(id.trim())
}

/// Answers a core result: success flashes `done` on the merchant page; field problems come back
/// to `form` with `values`; a missing merchant goes back to the list.
#[cfg(feature = "ssr")]
async fn answer<T>(
    result: settle::Result<T>,
    id: &str,
    form: &str,
    values: Vec<(&str, String)>,
    renames: &[(&str, &str)],
    done: &str,
) -> Result<Option<T>, PageError> {
    use crate::flash::{Flash, redirect_with};
    let back = merchant_href(id);
    match result {
        Ok(value) => Ok(Some(value)),
        Err(settle::Error::Validation(errors)) => {
            let errors = field_errors(errors, renames);
            let message = correct_message(errors.len());
            let values = values.into_iter().map(|(f, v)| (f.to_owned(), v)).collect();
            keep(KeptForm { form: form_name(form, id), values, errors }).await?;
            redirect_with(Flash::error(message), &back).await.map(|()| None)
        }
        Err(settle::Error::NotFound("merchant")) => {
            redirect_with(Flash::error(NO_SUCH_MERCHANT), super::MERCHANTS).await.map(|()| None)
        }
        Err(settle::Error::NotFound(_)) => {
            let flash =
                Flash::error("This merchant has no webhook endpoint yet: set its URL first.");
            redirect_with(flash, &back).await.map(|()| None)
        }
        Err(e) => Err(PageError::logged("changing a merchant")(e)),
    }
    .inspect(|value| {
        if value.is_some() {
            tracing::info!(merchant = %id, "{done}");
        }
    })
}

/// Makes a new client secret (the old one stops working) and shows it once.
#[server(prefix = "/operator/api", endpoint = "merchant_rotate_secret")]
pub async fn rotate_client_secret(id: String) -> Result<(), PageError> {
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let merchant = merchant_id(&id);
    let result = settle::merchant::manage::rotate_client_secret(&ctx.db, &actor, &merchant).await;
    let Some(secret) = answer(result, &id, "rotate", vec![], &[], "client secret rotated").await?
    else {
        return Ok(());
    };
    let client_id = settle::merchant::Merchant::find(&ctx.db, &merchant)
        .await
        .map_err(PageError::logged("loading a merchant"))?
        .map(|m| m.client_id)
        .unwrap_or_default();
    super::secret::keep(super::secret::NewSecrets {
        merchant_id: id.clone(),
        client_id,
        client_secret: Some(secret),
        webhook_secret: None,
    })
    .await?;
    leptos_axum::redirect(&super::secret::secret_href(&id));
    Ok(())
}

/// Points the webhook endpoint at a URL; a new endpoint's signing secret is shown once.
#[server(prefix = "/operator/api", endpoint = "merchant_webhook")]
pub async fn set_webhook(id: String, webhook_url: String) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let merchant = merchant_id(&id);
    let result =
        settle::merchant::manage::set_webhook_url(&ctx.db, &actor, &merchant, &webhook_url).await;
    let values = vec![("webhook_url", webhook_url.clone())];
    let Some(secret) = answer(result, &id, "webhook", values, &[], "webhook URL set").await? else {
        return Ok(());
    };
    match secret {
        Some(secret) => {
            show_webhook_secret(&ctx, &id, secret.expose().to_owned()).await?;
            Ok(())
        }
        None => {
            redirect_with(Flash::success("The webhook URL is saved."), &merchant_href(&id)).await
        }
    }
}

#[cfg(feature = "ssr")]
async fn show_webhook_secret(
    ctx: &crate::PageContext,
    id: &str,
    secret: String,
) -> Result<(), PageError> {
    let client_id = settle::merchant::Merchant::find(&ctx.db, &merchant_id(id))
        .await
        .map_err(PageError::logged("loading a merchant"))?
        .map(|m| m.client_id)
        .unwrap_or_default();
    super::secret::keep(super::secret::NewSecrets {
        merchant_id: id.to_owned(),
        client_id,
        client_secret: None,
        webhook_secret: Some(secret),
    })
    .await?;
    leptos_axum::redirect(&super::secret::secret_href(id));
    Ok(())
}

/// Makes a new webhook signing secret (the old one signs too for a day) and shows it once.
#[server(prefix = "/operator/api", endpoint = "merchant_rotate_webhook")]
pub async fn rotate_webhook_secret(id: String) -> Result<(), PageError> {
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let overlap = settle::webhook::endpoint::DEFAULT_OVERLAP;
    let result = settle::merchant::manage::rotate_webhook_secret(
        &ctx.db,
        &actor,
        &merchant_id(&id),
        overlap,
    )
    .await;
    let Some(secret) =
        answer(result, &id, "rotate-webhook", vec![], &[], "webhook secret rotated").await?
    else {
        return Ok(());
    };
    show_webhook_secret(&ctx, &id, secret.expose().to_owned()).await
}

/// Replaces the origins customers may be sent back to (one per line).
#[server(prefix = "/operator/api", endpoint = "merchant_origins")]
pub async fn set_origins(id: String, return_origins: Option<String>) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let lines = return_origins.unwrap_or_default();
    let result =
        settle::merchant::manage::set_return_origins(&ctx.db, &actor, &merchant_id(&id), &lines)
            .await;
    let values = vec![("return_origins", lines.clone())];
    if answer(result, &id, "origins", values, &[], "return origins set").await?.is_some() {
        redirect_with(Flash::success("The return origins are saved."), &merchant_href(&id)).await?;
    }
    Ok(())
}

/// Sets (or, empty, removes) the default return URL for a gateway or for all of them.
#[server(prefix = "/operator/api", endpoint = "merchant_return_url")]
pub async fn set_return_url(
    id: String,
    gateway: String,
    return_url: Option<String>,
) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let url = return_url.unwrap_or_default();
    let result = settle::merchant::manage::set_return_url(
        &ctx.db,
        &actor,
        &merchant_id(&id),
        &gateway,
        &url,
    )
    .await;
    let values = vec![("gateway", gateway.clone()), ("return_url", url.clone())];
    let renames = [("url", "return_url")];
    if answer(result, &id, "return-url", values, &renames, "return URL set").await?.is_some() {
        let message = if url.trim().is_empty() {
            "The default return URL is removed."
        } else {
            "The default return URL is saved."
        };
        redirect_with(Flash::success(message), &merchant_href(&id)).await?;
    }
    Ok(())
}

/// Opens an API login (password grant) for the merchant's systems.
#[server(prefix = "/operator/api", endpoint = "merchant_api_user")]
pub async fn create_api_user(
    id: String,
    api_email: String,
    api_name: Option<String>,
    api_password: String,
) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    let (_, actor) = crate::auth::actor(Role::Operator)?;
    let ctx = crate::context::page_context()?;
    let merchant = settle::merchant::Merchant::find(&ctx.db, &merchant_id(&id))
        .await
        .map_err(PageError::logged("loading a merchant"))?;
    let Some(merchant) = merchant else {
        return redirect_with(Flash::error(NO_SUCH_MERCHANT), super::MERCHANTS).await;
    };
    let name = api_name.unwrap_or_default();
    let result = settle::account::manage::create_merchant_api_user(
        &ctx.db,
        &actor,
        &merchant,
        &api_email,
        &name,
        api_password,
    )
    .await;
    // Never the password.
    let values = vec![("api_email", api_email.clone()), ("api_name", name)];
    let renames =
        [("email", "api_email"), ("password", "api_password"), ("display_name", "api_name")];
    if let Some(user) =
        answer(result, &id, "api-user", values, &renames, "API login opened").await?
    {
        let message =
            format!("{} can now get API tokens through {}.", user.email, merchant.client_id);
        redirect_with(Flash::success(message), &merchant_href(&id)).await?;
    }
    Ok(())
}
