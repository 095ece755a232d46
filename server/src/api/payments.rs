//! Settle's own payments API (bearer token): start a payment for a purchase and read it back
//! with its timeline. The seed-compatible APIs are adapters over the same core calls.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use settle::FieldError;
use settle::access::{self, Viewer};
use settle::checkout::card::{self, FieldNames};
use settle::checkout::{self, AddressEntry, CardEntry, Method, PayRequest, ReturnTo};
use settle::iban::Iban;
use settle::merchant::Merchant;
use settle::payment::Payment;
use settle::payment::event::timeline;
use settle::payment_method::PaymentMethodId;
use settle::purchase::PurchaseId;

use crate::api::bearer::ApiCaller;
use crate::api::idempotency::{IdempotencyKey, idempotent};
use crate::api::json::ApiJson;
use crate::api::routes::{GET, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// Card fields as clients send them. Not `Debug`: it holds the number and security code.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CardInput {
    holder: Option<String>,
    number: Option<String>,
    expiry: Option<String>,
    cvv: Option<String>,
    /// The scheme, if the client names it (`VISA`).
    #[serde(rename = "type")]
    r#type: Option<String>,
}

/// A billing address as clients send it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AddressInput {
    house: Option<String>,
    street: Option<String>,
    city: Option<String>,
    county: Option<String>,
    postcode: Option<String>,
}

/// `POST /api/payments` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartPayment {
    purchase_id: Option<String>,
    /// One gateway key, or several to try in order.
    gateway: Option<GatewayChoice>,
    /// `hosted_checkout`, `card`, `saved_method`, `direct_debit` or `invoice`.
    method: Option<String>,
    #[serde(default)]
    save_card: bool,
    card: Option<CardInput>,
    billing_address: Option<AddressInput>,
    payment_method_id: Option<String>,
    iban: Option<String>,
    account_holder: Option<String>,
    return_url: Option<String>,
}

/// A gateway key or an ordered list of them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum GatewayChoice {
    /// One gateway.
    One(String),
    /// Gateways to try in order.
    Many(Vec<String>),
}

/// A payment as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    reference: String,
    purchase_id: String,
    gateway: String,
    payment_status: i16,
    payment_status_state: &'static str,
    client_feedback: &'static str,
    amount: String,
    currency: &'static str,
    gateway_reference: Option<String>,
    redirect_url: Option<String>,
    creq: Option<String>,
    acsurl: Option<String>,
    three_ds_session_data: Option<String>,
    #[schema(value_type = Option<Object>)]
    card: Option<settle::payment::CardSummary>,
    failure_reason: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<Vec<EventView>>,
}

/// One timeline entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    from: Option<&'static str>,
    to: Option<&'static str>,
    cause: String,
    gateway_reference: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> PaymentView {
        PaymentView {
            reference: p.reference.clone(),
            purchase_id: p.purchase_id.to_string(),
            gateway: p.gateway_id.clone(),
            payment_status: p.state.code(),
            payment_status_state: p.state.name(),
            client_feedback: p.state.sentence(),
            amount: p.amount.to_decimal().to_string(),
            currency: p.amount.currency().code(),
            gateway_reference: p.gateway_reference.clone(),
            redirect_url: p.redirect_url.clone(),
            creq: p.three_ds.as_ref().map(|t| t.creq.clone()),
            acsurl: p.three_ds.as_ref().map(|t| t.acs_url.clone()),
            three_ds_session_data: p.three_ds.as_ref().map(|t| t.session_data.clone()),
            card: p.card.clone(),
            failure_reason: p.failure_reason.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            timeline: None,
        }
    }
}

/// Settle's own payments API. Starting a payment moves money: it honours `Idempotency-Key`.
pub fn routes(state: &AppState) -> Routes {
    let start = post(start).layer(from_fn_with_state(state.clone(), idempotent));
    Routes::new().add(Guard::Bearer, POST, "/api/payments", start).add(
        Guard::Bearer,
        GET,
        "/api/payments/{reference}",
        get(show),
    )
}

/// `POST /api/payments`: starts a payment. 201 with the payment and its address in `Location`;
/// 422 with errors per field.
#[utoipa::path(
    post,
    path = "/api/payments",
    tag = crate::api::openapi::SETTLE,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key answers the first outcome")),
    request_body(content = StartPayment, content_type = "application/json", description = "purchase_id, gateway, method and the method’s fields"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The payment started", body = crate::api::payments::PaymentView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    caller: ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<StartPayment>,
) -> Result<Response, ApiError> {
    let merchant = Merchant::find(&state.db, caller.merchant_id())
        .await?
        .ok_or(settle::Error::Unauthorized)?;
    let mut request = parse_request(&merchant, &caller.viewer, body)?;
    request.idempotency_key = key;
    let started = checkout::pay(&state.payments, request)
        .await
        .map_err(|e| card::rename_error(e, &[("payment_method", "payment_method_id")]))?;
    let location = format!("/api/payments/{}", started.payment.reference);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(PaymentView::from(&started.payment)),
    )
        .into_response())
}

/// This API's names for the core's card fields.
const CARD_FIELDS: &[(&str, &str)] = &[(FieldNames::CARD_TYPE, "card.type")];

fn parse_request(
    merchant: &Merchant,
    viewer: &Viewer,
    body: StartPayment,
) -> Result<PayRequest, settle::Error> {
    let mut errors = Vec::new();
    let purchase_id = body.purchase_id.filter(|p| !p.is_empty());
    if purchase_id.is_none() {
        errors.push(FieldError::new("purchase_id", "is required"));
    }
    let gateways = match body.gateway {
        Some(GatewayChoice::One(g)) => vec![g],
        Some(GatewayChoice::Many(gs)) => gs,
        None => Vec::new(),
    };
    if gateways.is_empty() {
        errors.push(FieldError::new("gateway", "is required"));
    }
    let return_to = body.return_url.and_then(|raw| {
        checkout::return_to::registered_url(merchant, &raw, "return_url")
            .map(|url| ReturnTo::AppendOutcome { url })
            .map_err(|e| errors.push(e))
            .ok()
    });
    let method = match body.method.as_deref() {
        Some("hosted_checkout") => Some(Method::HostedPage { save_card: body.save_card }),
        Some("invoice") => Some(Method::Invoice),
        Some("card") => card_method(body.card, body.billing_address, &mut errors),
        Some("direct_debit") => {
            let iban = body.iban.as_deref().map(Iban::parse);
            let holder = body.account_holder.filter(|h| !h.trim().is_empty());
            match (iban, holder) {
                (Some(Ok(iban)), Some(account_holder)) => {
                    Some(Method::BankAccount { iban, account_holder })
                }
                (iban, holder) => {
                    match iban {
                        None => errors.push(FieldError::new("iban", "is required")),
                        Some(Err(e)) => errors.push(e.at("iban")),
                        Some(Ok(_)) => {}
                    }
                    if holder.is_none() {
                        errors.push(FieldError::new("account_holder", "is required"));
                    }
                    None
                }
            }
        }
        Some("saved_method") => match body.payment_method_id {
            Some(id) => Some(Method::SavedMethod(PaymentMethodId::from_string(id))),
            None => {
                errors.push(FieldError::new("payment_method_id", "is required"));
                None
            }
        },
        _ => {
            errors.push(FieldError::new(
                "method",
                "must be hosted_checkout, card, saved_method, direct_debit or invoice",
            ));
            None
        }
    };
    match (errors.is_empty(), purchase_id, method) {
        (true, Some(purchase_id), Some(method)) => Ok(PayRequest {
            payer: viewer.clone(),
            purchase_id: PurchaseId::from_string(purchase_id),
            gateways,
            method,
            return_to,
            details: serde_json::json!({}),
            idempotency_key: None,
        }),
        _ => Err(settle::Error::Validation(errors)),
    }
}

/// A card with its billing address, by the core's rules (the address is required here: this API
/// knows no policy address to default to).
fn card_method(
    card: Option<CardInput>,
    address: Option<AddressInput>,
    errors: &mut Vec<FieldError>,
) -> Option<Method> {
    let Some(card) = card else {
        errors.push(FieldError::new("card", "is required"));
        return None;
    };
    let entry = CardEntry {
        holder: card.holder,
        number: card.number,
        expiry: card.expiry,
        cvv: card.cvv,
        card_type: card.r#type,
    };
    let checked = entry
        .check(chrono::Utc::now().date_naive())
        .map_err(|e| errors.extend(card::rename(e, CARD_FIELDS)))
        .ok();
    let billing_address = match address {
        Some(a) => AddressEntry {
            house: a.house,
            street: a.street,
            city: a.city,
            county: a.county,
            postcode: a.postcode,
        }
        .check()
        .map_err(|e| errors.extend(e))
        .ok(),
        None => {
            errors.push(FieldError::new("billing_address", "is required"));
            None
        }
    };
    Some(Method::Card { card: checked?, billing_address: billing_address? })
}

/// `GET /api/payments/{reference}`: the payment with its timeline.
#[utoipa::path(
    get,
    path = "/api/payments/{reference}",
    tag = crate::api::openapi::SETTLE,
    params(("reference" = String, Path, description = "The payment reference")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The payment and its timeline", body = crate::api::payments::PaymentView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    let (payment, _) = access::payment(&state.db, &caller.viewer, &reference).await?;
    let mut view = PaymentView::from(&payment);
    view.timeline = Some(
        timeline(&state.db, &payment.id)
            .await?
            .into_iter()
            .map(|e| EventView {
                from: e.from.map(|s| s.name()),
                to: e.to.map(|s| s.name()),
                cause: e.cause,
                gateway_reference: e.gateway_reference,
                at: e.at,
            })
            .collect(),
    );
    Ok(Json(view))
}
