//! Seed 003's card payments API (`/api/v1/payments/...`, bearer token): prepare a quote's payment
//! object, take a card payment (3-D Secure challenge or not) and poll it until the policy is
//! converted. The rules live in `settle::checkout` (`quote`, `card`); these handlers only
//! translate HTTP, and `wire` holds the document's shapes.
//!
//! The document fixes no error shape, so errors are problem details as in the rest of Settle's
//! API, except that invalid input is a 400 (the status the document's platform uses).

pub mod wire;

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use settle::FieldError;
use settle::checkout::quote::{self, QuotePayment, QuoteRef};

use self::wire::{AddressObject, PaymentObject, TakePayment};
use crate::api::bearer::ApiCaller;
use crate::api::body;
use crate::api::idempotency::{IdempotencyKey, idempotent};
use crate::api::routes::{GET, GET_POST, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// The routes of this API, each with and without the trailing slash the document shows. Taking
/// a payment moves money: it honours `Idempotency-Key`.
pub fn routes(state: &AppState) -> Routes {
    let take = post(take_payment).layer(from_fn_with_state(state.clone(), idempotent));
    Routes::new()
        .add_both(Guard::Bearer, GET_POST, "/api/v1/payments/", get(list).post(prepare))
        .add_both(Guard::Bearer, GET, "/api/v1/payments/{uuid}/", get(show))
        .add_both(Guard::Bearer, POST, "/api/v1/payments/{uuid}/take-payment/", take)
        .add_both(Guard::Bearer, GET, "/api/v1/user/address/{uuid}/", get(address))
}

/// An error of this API: invalid input is a 400 with errors per field, the rest as elsewhere.
#[derive(Debug)]
pub struct Seed003Error(settle::Error);

impl From<settle::Error> for Seed003Error {
    fn from(e: settle::Error) -> Seed003Error {
        Seed003Error(e)
    }
}

#[derive(Serialize)]
struct BadRequest<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: &'static str,
    errors: &'a [FieldError],
}

impl IntoResponse for Seed003Error {
    fn into_response(self) -> Response {
        match self.0 {
            settle::Error::Validation(errors) => {
                let problem = BadRequest {
                    kind: "about:blank",
                    title: "Bad Request",
                    status: 400,
                    detail: "The request has invalid fields.",
                    errors: &errors,
                };
                let mut response = (StatusCode::BAD_REQUEST, Json(&problem)).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/problem+json"),
                );
                response
            }
            other => ApiError::from(other).into_response(),
        }
    }
}

type Answer<T> = Result<T, Seed003Error>;

/// A uuid from the path; anything else names no payment (404, not 400: it is a URL).
fn path_uuid(raw: &str, what: &'static str) -> Answer<String> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| settle::Error::NotFound(what).into())
}

/// The request body as JSON, whatever its `Content-Type` says: the document's own curl examples
/// send JSON with `-d` and no content type (so curl labels it a form).
fn json_body(body: &Bytes) -> Answer<Value> {
    body::json_object(body)
        .map(Value::Object)
        .ok_or_else(|| settle::Error::invalid("body", "must be a JSON object").into())
}

async fn object(state: &AppState, payment: &QuotePayment) -> Answer<PaymentObject> {
    let view = quote::view(&state.db, payment).await?;
    Ok(wire::payment_object(&view, &state.config.public_url()))
}

/// `POST /api/v1/payments/` with `{"policy_number": …}` or `{"quote": …}` (a quote id or URL):
/// prepares the quote's payment object. 201 when created, 200 when it existed already.
#[utoipa::path(
    post,
    path = "/api/v1/payments/",
    tag = crate::api::openapi::SEED_003,
    request_body(content = serde_json::Value, content_type = "application/json", description = "policy_number or quote"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The existing payment object", body = crate::api::quote_payments::wire::PaymentObject, content_type = "application/json"),
        (status = 201, description = "The payment object", body = crate::api::quote_payments::wire::PaymentObject, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn prepare(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: Bytes,
) -> Answer<Response> {
    // JSON, or a plain form (`-d policy_number=…`).
    let fields = body::json_object(&body).or_else(|| body::form(&body)).ok_or_else(|| {
        settle::Error::invalid("body", "must be a JSON object with policy_number or quote")
    })?;
    let text = |key: &str| {
        fields.get(key).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty())
    };
    let quote = match (text("policy_number"), text("quote")) {
        (Some(number), _) => QuoteRef::PolicyNumber(number.to_owned()),
        (None, Some(quote)) => wire::quote_ref(quote),
        (None, None) => {
            return Err(settle::Error::invalid(
                "policy_number",
                "send the policy_number (or the quote) to pay",
            )
            .into());
        }
    };
    let viewer = &caller.viewer;
    let prepared = quote::prepare(&state.db, viewer, &quote).await?;
    let view = object(&state, &prepared.payment).await?;
    let status = if prepared.created { StatusCode::CREATED } else { StatusCode::OK };
    let mut response = (status, Json(&view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&view.url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /api/v1/payments/?policy_number=…` (or `?quote=…`): the quote's payment objects, newest
/// first (an empty list for a quote not prepared or not visible).
#[utoipa::path(
    get,
    path = "/api/v1/payments/",
    tag = crate::api::openapi::SEED_003,
    params(("policy_number" = Option<String>, Query, description = "The policy number"), ("quote" = Option<String>, Query, description = "A quote id or URL")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The quote’s payment objects", body = Vec<crate::api::quote_payments::wire::PaymentObject>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Json<Vec<PaymentObject>>> {
    let text = |key: &str| query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let quote = match (text("policy_number"), text("quote")) {
        (Some(number), _) => QuoteRef::PolicyNumber(number.to_owned()),
        (None, Some(quote)) => wire::quote_ref(quote),
        (None, None) => {
            return Err(settle::Error::invalid(
                "policy_number",
                "filter by policy_number (or quote)",
            )
            .into());
        }
    };
    let viewer = &caller.viewer;
    let mut views = Vec::new();
    for payment in quote::for_quote(&state.db, viewer, &quote).await? {
        views.push(object(&state, &payment).await?);
    }
    Ok(Json(views))
}

/// `GET /api/v1/payments/{uuid}/`: the payment object, for polling.
#[utoipa::path(
    get,
    path = "/api/v1/payments/{uuid}/",
    tag = crate::api::openapi::SEED_003,
    params(("uuid" = String, Path, description = "The payment object’s id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The payment object", body = crate::api::quote_payments::wire::PaymentObject, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> Answer<Json<PaymentObject>> {
    let id = path_uuid(&raw, "payment")?;
    let viewer = &caller.viewer;
    let payment = quote::find(&state.db, viewer, &id).await?;
    Ok(Json(object(&state, &payment).await?))
}

/// `POST /api/v1/payments/{uuid}/take-payment/`: a card payment with `card_details` and the
/// billing choice. 200 with the payment object whatever the card's outcome (success, 3-D Secure
/// challenge, failure); 400 with errors per field for invalid input, 409 once paid.
#[utoipa::path(
    post,
    path = "/api/v1/payments/{uuid}/take-payment/",
    tag = crate::api::openapi::SEED_003,
    params(("uuid" = String, Path, description = "The payment object’s id"), ("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key answers the first outcome")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "card_details and the billing choice"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The payment object", body = crate::api::quote_payments::wire::PaymentObject, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn take_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(raw): Path<String>,
    body: Bytes,
) -> Answer<Json<PaymentObject>> {
    let id = path_uuid(&raw, "payment")?;
    let viewer = &caller.viewer;
    // An unknown payment is a 404 even with a bad body.
    quote::find(&state.db, viewer, &id).await?;
    let body = json_body(&body)?;
    let request = TakePayment::parse(&body, chrono::Utc::now().date_naive())
        .map_err(settle::Error::Validation)?;
    let payment =
        quote::take_card_payment(&state.payments, viewer, &id, request.card, request.billing, key)
            .await
            .map_err(|e| {
                settle::checkout::card::rename_error(
                    e,
                    &[("billing_address", "billing_use_policy_address")],
                )
            })?;
    Ok(Json(object(&state, &payment).await?))
}

/// `GET /api/v1/user/address/{uuid}/`: an address a visible payment object shows (its `url`).
#[utoipa::path(
    get,
    path = "/api/v1/user/address/{uuid}/",
    tag = crate::api::openapi::SEED_003,
    params(("uuid" = String, Path, description = "The address id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The address", body = crate::api::quote_payments::wire::AddressObject, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn address(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> Answer<Json<AddressObject>> {
    let id = path_uuid(&raw, "address")?;
    let viewer = &caller.viewer;
    let address = quote::find_address(&state.db, viewer, &id).await?;
    Ok(Json(wire::address_object(&address, &state.config.public_url())))
}
