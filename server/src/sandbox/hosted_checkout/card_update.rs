//! The sandbox provider's card update (the PayFast "update card" pattern): the merchant starts
//! an update for a saved token (`POST /card-updates` → `redirect_url`), the customer enters a
//! new card on `GET /update/{id}` (which takes `?return={url}` and carries it along), and the
//! provider issues a new token for the new card, revokes the old one, and sends the browser to
//! the merchant's `return_url` with `card_update_id`, `status` and the customer's `return`
//! added to its query. The merchant learns the new card from `GET /card-updates/{id}`.
//!
//! Cards: [`TEST_CARD`] (or any valid number) succeeds; [`DECLINED_CARD`] is declined; an
//! expiry (MM/YY) in the past is refused on the page.

use axum::Form;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use settle::card::{CardNumber, ExpiryDate};

use super::*;
use crate::sandbox::html::escape;
use crate::sandbox::request::{Refusal, error};

/// A card update: the token being replaced and, once done, the new one.
#[derive(Clone, Debug)]
pub(super) struct CardUpdate {
    id: String,
    merchant_reference: String,
    old_token: String,
    return_url: Url,
    status: Status,
    failure_reason: Option<String>,
    card: Option<SavedCard>,
    expiry: Option<String>,
    new_token: Option<String>,
}

#[derive(Serialize)]
struct CardUpdateView {
    id: String,
    object: &'static str,
    status: &'static str,
    merchant_reference: String,
    redirect_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_last4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_expiry: Option<String>,
}

impl Provider {
    fn update_page_url(&self, id: &str) -> String {
        format!("{}/sandbox/{PROVIDER}/update/{id}", self.sandbox.public_url)
    }

    fn update_view(&self, u: &CardUpdate) -> CardUpdateView {
        CardUpdateView {
            id: u.id.clone(),
            object: "card_update",
            status: u.status.as_str(),
            merchant_reference: u.merchant_reference.clone(),
            redirect_url: self.update_page_url(&u.id),
            failure_reason: u.failure_reason.clone(),
            card_token: u.new_token.clone(),
            card_brand: u.card.as_ref().map(|c| c.brand.clone()),
            card_last4: u.card.as_ref().map(|c| c.last4.clone()),
            card_expiry: u.expiry.clone(),
        }
    }
}

#[derive(Deserialize)]
struct CreateCardUpdate {
    token: String,
    merchant_reference: String,
    return_url: String,
}

/// `POST /card-updates`: an update page for a token this provider knows.
pub(super) async fn create(
    State(provider): State<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let request: CreateCardUpdate = parse_body(&body)?;
    let update = CardUpdate {
        id: new_id("cu"),
        merchant_reference: parse_reference(&request.merchant_reference)?,
        old_token: request.token.trim().to_owned(),
        return_url: parse_url("return_url", &request.return_url)?,
        status: Status::Pending,
        failure_reason: None,
        card: None,
        expiry: None,
        new_token: None,
    };
    let mut books = provider.books();
    if books.token_card(&update.old_token).is_none() {
        return Err(invalid("token", "is not a card token this provider holds"));
    }
    let view = provider.update_view(&update);
    books.card_updates.insert(update.id.clone(), update);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /card-updates/{id}`
pub(super) async fn show(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let found = provider.books().card_updates.get(&id).cloned();
    match found {
        Some(u) => Ok(Json(provider.update_view(&u)).into_response()),
        None => Err(error(StatusCode::NOT_FOUND, &format!("no card update {id}"))),
    }
}

#[derive(Deserialize)]
pub(super) struct ReturnQuery {
    #[serde(default, rename = "return")]
    return_to: Option<String>,
}

/// `GET /update/{id}?return=…`: the page where the customer enters the new card.
pub(super) async fn page(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    Query(query): Query<ReturnQuery>,
) -> Response {
    let found = provider.books().card_updates.get(&id).cloned();
    match found {
        Some(u) => form_page(StatusCode::OK, &provider, &u, query.return_to.as_deref(), None),
        None => not_found(),
    }
}

#[derive(Deserialize)]
pub(super) struct UpdateForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default, rename = "return")]
    return_to: String,
}

/// `POST /update/{id}`: `update` with a card number and expiry, or `cancel`.
pub(super) async fn submit(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    Form(form): Form<UpdateForm>,
) -> Response {
    let mut books = provider.books();
    let Some(update) = books.card_updates.get(&id).cloned() else { return not_found() };
    if update.status != Status::Pending {
        return back(&update, &form.return_to);
    }
    let (status, reason, card, expiry) = match form.action.as_str() {
        "update" => {
            let number = match CardNumber::parse(&form.card_number) {
                Ok(n) => n,
                Err(e) => {
                    let message = format!("The card number {}.", e.message);
                    return form_page(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &provider,
                        &update,
                        Some(&form.return_to),
                        Some(&message),
                    );
                }
            };
            let expiry = match ExpiryDate::parse(&form.expiry) {
                Ok(e) if !e.is_expired_at(Utc::now().date_naive()) => e,
                _ => {
                    let message = "The expiry must be MM/YY and not in the past.";
                    return form_page(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &provider,
                        &update,
                        Some(&form.return_to),
                        Some(message),
                    );
                }
            };
            let card = SavedCard {
                brand: number.brand().name().to_owned(),
                last4: number.last4().to_owned(),
            };
            if number.expose_digits() == DECLINED_CARD.replace(' ', "") {
                (Status::Failed, Some("declined by the issuer"), Some(card), None)
            } else {
                (Status::Succeeded, None, Some(card), Some(expiry.to_mmyy()))
            }
        }
        "cancel" => (Status::Cancelled, Some("cancelled by the customer"), None, None),
        _ => {
            return error(StatusCode::BAD_REQUEST, "action must be update or cancel")
                .into_response();
        }
    };
    let new_token = match (&card, status) {
        (Some(card), Status::Succeeded) => {
            let token = new_id("tok");
            books.tokens.insert(token.clone(), card.clone());
            // The old token stands for the old card, which is replaced: it charges no more.
            books.revoked.insert(update.old_token.clone());
            Some(token)
        }
        _ => None,
    };
    let Some(stored) = books.card_updates.get_mut(&id) else { return not_found() };
    stored.status = status;
    stored.failure_reason = reason.map(str::to_owned);
    stored.card = card;
    stored.expiry = expiry;
    stored.new_token = new_token;
    let finished = stored.clone();
    drop(books);
    back(&finished, &form.return_to)
}

/// `303` to the merchant's return URL with the update's id, status and the customer's `return`.
fn back(u: &CardUpdate, return_to: &str) -> Response {
    let mut url = u.return_url.clone();
    url.query_pairs_mut()
        .append_pair("card_update_id", &u.id)
        .append_pair("status", u.status.as_str());
    if !return_to.trim().is_empty() {
        url.query_pairs_mut().append_pair("return", return_to.trim());
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response()
}

fn form_page(
    status: StatusCode,
    provider: &Provider,
    u: &CardUpdate,
    return_to: Option<&str>,
    problem: Option<&str>,
) -> Response {
    let title = "Update your card";
    if u.status != Status::Pending {
        let content = format!(
            "<h1>{title}</h1>\n<p class=\"flash\">This card update is {}.</p>",
            u.status.as_str()
        );
        return crate::sandbox::html::page(status, "Sandbox checkout", title, &content);
    }
    let problem = problem
        .map(|m| format!("<p class=\"flash error\" role=\"alert\">{}</p>\n", escape(m)))
        .unwrap_or_default();
    let content = format!(
        r#"<p><span class="tag">Sandbox hosted checkout</span></p>
<h1>{title}</h1>
{problem}<form method="post" action="{action}">
<input type="hidden" name="return" value="{return_to}">
<label>New card number
<input name="card_number" value="{card}" inputmode="numeric" autocomplete="off" required>
</label>
<label>Expiry (MM/YY)
<input name="expiry" value="12/30" autocomplete="off" required>
</label>
<p>Test cards: <code>{card}</code> is saved, <code>{declined}</code> is declined.</p>
<p>
<button type="submit" name="action" value="update">Save card</button>
<button type="submit" name="action" value="cancel" class="link" formnovalidate>Cancel</button>
</p>
</form>"#,
        action = escape(&provider.update_page_url(&u.id)),
        return_to = escape(return_to.unwrap_or_default()),
        card = TEST_CARD,
        declined = DECLINED_CARD,
    );
    crate::sandbox::html::page(status, "Sandbox checkout", title, &content)
}

fn not_found() -> Response {
    crate::sandbox::html::page(
        StatusCode::NOT_FOUND,
        "Sandbox checkout",
        "No such card update",
        "<h1>No such card update</h1>\n<p>This card update does not exist.</p>",
    )
}
