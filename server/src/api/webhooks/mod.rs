//! Merchant webhooks on the wire: the delivery job ([`deliver`]), the bodies and API shapes
//! ([`wire`]), and Settle's endpoint API for merchants (client-credentials tokens):
//! `GET`/`PUT /api/webhook-endpoint`, `POST /api/webhook-endpoint/rotate-secret` and
//! `GET /api/webhook-endpoint/deliveries`.

pub mod deliver;
pub mod wire;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use settle::FieldError;
use settle::access::Viewer;
use settle::merchant::MerchantId;
use settle::webhook::{Endpoint, delivery};

use self::wire::{AttemptView, EndpointView, SetEndpoint};
use crate::api::bearer::ApiCaller;
use crate::api::json::ApiJson;
use crate::api::routes::{GET, GET_PUT, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// The endpoint API's routes.
pub fn routes() -> Routes {
    Routes::new()
        .add_both(Guard::Bearer, GET_PUT, "/api/webhook-endpoint", get(show).put(set))
        .add_both(Guard::Bearer, POST, "/api/webhook-endpoint/rotate-secret", post(rotate))
        .add_both(Guard::Bearer, GET, "/api/webhook-endpoint/deliveries", get(deliveries))
}

/// Only a merchant's own system (client credentials) manages its endpoint; a customer's token
/// through the merchant's client may not.
fn merchant_of(caller: &ApiCaller) -> Result<&MerchantId, ApiError> {
    match &caller.viewer {
        Viewer::Merchant(id) => Ok(id),
        _ => Err(settle::Error::Forbidden.into()),
    }
}

/// `GET /api/webhook-endpoint`: the endpoint without its secret; 404 when there is none.
#[utoipa::path(
    get,
    path = "/api/webhook-endpoint",
    tag = crate::api::openapi::SETTLE,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The endpoint", body = crate::api::webhooks::wire::EndpointView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn show(State(state): State<AppState>, caller: ApiCaller) -> Result<Response, ApiError> {
    let merchant = merchant_of(&caller)?;
    let endpoint = Endpoint::find(&state.db, merchant)
        .await?
        .ok_or(settle::Error::NotFound("webhook endpoint"))?;
    Ok(Json(EndpointView::of(&endpoint)).into_response())
}

/// `PUT /api/webhook-endpoint`: sets the URL and event types. 201 with the new secret (shown
/// this once) when the endpoint is created, 200 without it when it is updated.
#[utoipa::path(
    put,
    path = "/api/webhook-endpoint",
    tag = crate::api::openapi::SETTLE,
    request_body(content = serde_json::Value, content_type = "application/json", description = "url and event types"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = crate::api::webhooks::wire::EndpointView, content_type = "application/json"),
        (status = 201, description = "Created, with its secret", body = crate::api::webhooks::wire::EndpointView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn set(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<SetEndpoint>,
) -> Result<Response, ApiError> {
    let merchant = merchant_of(&caller)?;
    let url = body
        .url
        .ok_or_else(|| settle::Error::Validation(vec![FieldError::new("url", "is required")]))?;
    let saved = Endpoint::set(&state.db, merchant, &url, body.event_types.as_deref()).await?;
    let status = if saved.new_secret.is_some() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(EndpointView::saved(&saved))).into_response())
}

/// `POST /api/webhook-endpoint/rotate-secret`: a new secret, shown this once; the old one keeps
/// signing next to it for `webhook_secret_overlap_hours`.
#[utoipa::path(
    post,
    path = "/api/webhook-endpoint/rotate-secret",
    tag = crate::api::openapi::SETTLE,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret", body = crate::api::webhooks::wire::EndpointView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn rotate(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    let merchant = merchant_of(&caller)?;
    let saved =
        Endpoint::rotate(&state.db, merchant, state.config.webhook_secret_overlap()).await?;
    Ok(Json(EndpointView::saved(&saved)).into_response())
}

/// `GET /api/webhook-endpoint/deliveries`: the latest 100 attempts, newest first.
#[utoipa::path(
    get,
    path = "/api/webhook-endpoint/deliveries",
    tag = crate::api::openapi::SETTLE,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The latest deliveries", body = Vec<crate::api::webhooks::wire::AttemptView>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    let merchant = merchant_of(&caller)?;
    let attempts = delivery::attempts_for(&state.db, merchant, 100).await?;
    Ok(Json(attempts.into_iter().map(AttemptView::from).collect::<Vec<_>>()).into_response())
}
