//! The orders API of a membership/campaign system (`api/v1/payments/orders`, `…/orders/total`,
//! `…/payment_methods`, bearer token of the merchant's client): orders paid at once by a saved
//! method, a new bank account (direct debit) or the gateway's hosted page, totals of what was
//! paid, and the customer's payment methods. The rules live in the core
//! (`settle::checkout::booking`, `settle::billing::totals`, `settle::access`); these handlers
//! translate HTTP, and `wire` holds the document's shapes.
//!
//! Errors: invalid parameters are `422 {"errors": {"<parameter>": ["<message>"]}}`; an unknown
//! person on the methods list and an unknown method are `422 {}` and `404 {}` as the document
//! says; the rest as elsewhere in Settle's API.

pub mod wire;

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use settle::FieldError;
use settle::access;
use settle::billing::totals::{self, OrderFilter};
use settle::checkout::booking::{self, NewBooking};
use settle::payment_method::MethodNumber;

use self::wire::{Bound, Errors, FormView, MethodView, OrderCreated, OrderRequest, Total};
use crate::api::bearer::ApiCaller;
use crate::api::body;
use crate::api::idempotency::{IdempotencyKey, idempotent};
use crate::api::routes::{GET, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// The routes, each with and without the trailing slash. The paths are static, so they are
/// matched before seed 003's `api/v1/payments/{uuid}/`. Creating an order moves money: it
/// honours `Idempotency-Key`.
pub fn routes(state: &AppState) -> Routes {
    let create = post(create_order).layer(from_fn_with_state(state.clone(), idempotent));
    Routes::new()
        .add_both(Guard::Bearer, POST, "/api/v1/payments/orders/", create)
        .add_both(Guard::Bearer, GET, "/api/v1/payments/orders/total/", get(total))
        .add_both(Guard::Bearer, GET, "/api/v1/payments/payment_methods/", get(payment_methods))
        .add_both(Guard::Bearer, GET, "/api/v1/payments/payment_methods/{id}/", get(payment_method))
}

/// An error of this API: field errors are Rails-style 422s, the rest as elsewhere.
#[derive(Debug)]
pub enum OrdersError {
    /// `422 {"errors": …}`.
    Invalid(Vec<FieldError>),
    /// A bare status with `{}` (the document's answer for an unknown person or method).
    Empty(StatusCode),
    /// Anything else.
    Other(ApiError),
}

impl From<settle::Error> for OrdersError {
    fn from(e: settle::Error) -> OrdersError {
        match e {
            settle::Error::Validation(errors) => OrdersError::Invalid(errors),
            other => OrdersError::Other(other.into()),
        }
    }
}

impl IntoResponse for OrdersError {
    fn into_response(self) -> Response {
        match self {
            OrdersError::Invalid(errors) => {
                (StatusCode::UNPROCESSABLE_ENTITY, Json(Errors::of(errors))).into_response()
            }
            OrdersError::Empty(status) => (status, Json(serde_json::json!({}))).into_response(),
            OrdersError::Other(e) => e.into_response(),
        }
    }
}

type Answer<T> = Result<T, OrdersError>;

/// `POST api/v1/payments/orders` (JSON or form): `201 {"payment_method_id"}`, or for
/// `credit_card_external` `202 {"payment_method_id": null, "form": {action, fields}}`.
#[utoipa::path(
    post,
    path = "/api/v1/payments/orders/",
    tag = crate::api::openapi::SEED_002,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key answers the first outcome")),
    request_body(content((serde_json::Value = "application/json"), (serde_json::Value = "application/x-www-form-urlencoded")), description = "The order"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "{payment_method_id}", body = crate::api::campaign_orders::wire::OrderCreated, content_type = "application/json"),
        (status = 202, description = "{payment_method_id, form} for a hosted checkout", body = crate::api::campaign_orders::wire::OrderCreated, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn create_order(
    State(state): State<AppState>,
    caller: ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    headers: HeaderMap,
    body: Bytes,
) -> Answer<Response> {
    let fields = body::fields(&headers, &body).map_err(OrdersError::Other)?;
    let order = OrderRequest::parse(&fields).map_err(OrdersError::Invalid)?;
    let booked = booking::book(
        &state.payments,
        &caller.viewer,
        NewBooking {
            customer_code: order.person_id,
            description: order.description,
            amount_minor: order.amount,
            campaign: order.campaign_code,
            payment: order.payment,
            idempotency_key: key,
        },
    )
    .await?;
    let payment_method_id = booked.method.as_ref().and_then(|m| m.number).map(MethodNumber::get);
    let (status, form) = match &booked.form {
        Some(form) => (StatusCode::ACCEPTED, Some(FormView::from(form))),
        None => (StatusCode::CREATED, None),
    };
    Ok((status, Json(OrderCreated { payment_method_id, form })).into_response())
}

/// `GET api/v1/payments/orders/total?campaign_code=&person_id=&from_date=&until_date=`:
/// `{"amount": <cents>}` of the paid orders.
#[utoipa::path(
    get,
    path = "/api/v1/payments/orders/total/",
    tag = crate::api::openapi::SEED_002,
    params(("campaign_code" = Option<String>, Query, description = "The campaign"), ("person_id" = Option<String>, Query, description = "The person"), ("from_date" = Option<String>, Query, description = "ISO 8601 date or date-time"), ("until_date" = Option<String>, Query, description = "ISO 8601 date or date-time")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{amount} in cents", body = crate::api::campaign_orders::wire::Total, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn total(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Json<Total>> {
    let text = |key: &str| query.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut errors = Vec::new();
    let mut time = |key: &str, bound: Bound| {
        let raw = text(key)?;
        let parsed = wire::iso_time(&raw, bound);
        if parsed.is_none() {
            errors.push(FieldError::new(key, "must be an ISO 8601 date or date-time"));
        }
        parsed
    };
    let from = time("from_date", Bound::From);
    let until = time("until_date", Bound::Until);
    if !errors.is_empty() {
        return Err(OrdersError::Invalid(errors));
    }
    let filter = OrderFilter {
        campaign: text("campaign_code"),
        customer_code: text("person_id"),
        from,
        until,
    };
    let amount = totals::paid_orders_total(&state.db, &caller.viewer, filter).await?;
    Ok(Json(Total { amount: amount.minor() }))
}

/// `GET api/v1/payments/payment_methods?person_id=`: the person's methods; `422 {}` for an
/// unknown person.
#[utoipa::path(
    get,
    path = "/api/v1/payments/payment_methods/",
    tag = crate::api::openapi::SEED_002,
    params(("person_id" = Option<String>, Query, description = "The person")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The person’s payment methods", body = Vec<crate::api::campaign_orders::wire::MethodView>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn payment_methods(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Answer<Json<Vec<MethodView>>> {
    let code = query.get("person_id").map(|v| v.trim()).unwrap_or_default();
    match access::payment_methods_of(&state.db, &caller.viewer, code).await {
        Ok(methods) => Ok(Json(methods.iter().filter_map(MethodView::of).collect())),
        Err(settle::Error::NotFound(_)) => {
            Err(OrdersError::Empty(StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET api/v1/payments/payment_methods/{id}`: the method; `404 {}` for an unknown one (or
/// another merchant's).
#[utoipa::path(
    get,
    path = "/api/v1/payments/payment_methods/{id}/",
    tag = crate::api::openapi::SEED_002,
    params(("id" = String, Path, description = "The payment method id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The payment method", body = crate::api::campaign_orders::wire::MethodView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn payment_method(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(raw): Path<String>,
) -> Answer<Json<MethodView>> {
    let not_found = || OrdersError::Empty(StatusCode::NOT_FOUND);
    let number = raw.trim().parse::<i64>().map_err(|_| not_found())?;
    match access::payment_method(&state.db, &caller.viewer, MethodNumber::new(number)).await {
        Ok(method) => MethodView::of(&method).map(Json).ok_or_else(not_found),
        Err(settle::Error::NotFound(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}
