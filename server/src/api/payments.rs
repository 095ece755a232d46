//! Settle's own payments API (bearer token): start a payment for a purchase and read it back
//! with its timeline. The seed-compatible APIs are adapters over the same core calls.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use settle::FieldError;
use settle::access::{self, Viewer};
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::connector::{Address, CardDetails};
use settle::iban::Iban;
use settle::merchant::Merchant;
use settle::payment::event::timeline;
use settle::payment::{Instrument, Payment, PaymentRequest};
use settle::payment_method::{PaymentMethod, PaymentMethodId};
use settle::purchase::PurchaseId;

use crate::api::bearer::ApiCaller;
use crate::api::idempotency::IdempotencyKey;
use crate::api::json::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;

/// Card fields as clients send them.
#[derive(Debug, Deserialize)]
pub struct CardInput {
    holder: Option<String>,
    number: Option<String>,
    expiry: Option<String>,
    cvv: Option<String>,
}

/// `POST /api/payments` body.
#[derive(Debug, Deserialize)]
pub struct StartPayment {
    purchase_id: Option<String>,
    /// One gateway key, or several to try in order.
    gateway: Option<GatewayChoice>,
    /// `hosted_checkout`, `card`, `saved_method`, `direct_debit` or `invoice`.
    method: Option<String>,
    #[serde(default)]
    save_card: bool,
    card: Option<CardInput>,
    billing_address: Option<Address>,
    payment_method_id: Option<String>,
    iban: Option<String>,
    account_holder: Option<String>,
    return_url: Option<String>,
}

/// A gateway key or an ordered list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum GatewayChoice {
    /// One gateway.
    One(String),
    /// Gateways to try in order.
    Many(Vec<String>),
}

/// A payment as the API shows it.
#[derive(Debug, Serialize)]
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
    card: Option<settle::payment::CardSummary>,
    failure_reason: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<Vec<EventView>>,
}

/// One timeline entry.
#[derive(Debug, Serialize)]
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
            client_feedback: p.state.client_feedback(),
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

/// `POST /api/payments`: starts a payment. 201 with the payment; 422 with errors per field.
pub async fn start(
    State(state): State<AppState>,
    caller: ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<StartPayment>,
) -> Result<Response, ApiError> {
    let merchant = Merchant::find(&state.db, caller.merchant_id())
        .await?
        .ok_or(settle::Error::Unauthorized)?;
    let mut request = parse_request(&state, &merchant, &caller.viewer, body).await?;
    request.idempotency_key = key;
    let payment = state.payments.start(request).await?;
    Ok((StatusCode::CREATED, Json(PaymentView::from(&payment))).into_response())
}

async fn parse_request(
    state: &AppState,
    merchant: &Merchant,
    viewer: &Viewer,
    body: StartPayment,
) -> Result<PaymentRequest, settle::Error> {
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
    let return_url = body.return_url.and_then(|raw| {
        settle::checkout::return_url(merchant, &raw, "return_url").map_err(|e| errors.push(e)).ok()
    });
    let instrument = match body.method.as_deref() {
        Some("hosted_checkout") => Some(Instrument::HostedCheckout { save_card: body.save_card }),
        Some("invoice") => Some(Instrument::Invoice),
        Some("card") => parse_card(body.card, body.billing_address, &mut errors),
        Some("direct_debit") => {
            let iban = body.iban.as_deref().map(Iban::parse);
            let holder = body.account_holder.filter(|h| !h.trim().is_empty());
            match (iban, holder) {
                (Some(Ok(iban)), Some(account_holder)) => {
                    Some(Instrument::DirectDebit { iban, account_holder })
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
            Some(id) => match find_method(state, &id).await? {
                Some(method) => Some(Instrument::SavedMethod(Box::new(method))),
                None => {
                    errors.push(FieldError::new("payment_method_id", "no such payment method"));
                    None
                }
            },
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
    match (errors.is_empty(), purchase_id, instrument) {
        (true, Some(purchase_id), Some(instrument)) => Ok(PaymentRequest {
            payer: viewer.clone(),
            purchase_id: PurchaseId::from_string(purchase_id),
            gateways,
            instrument,
            return_url,
            details: serde_json::json!({}),
            idempotency_key: None,
        }),
        _ => Err(settle::Error::Validation(errors)),
    }
}

fn parse_card(
    card: Option<CardInput>,
    address: Option<Address>,
    errors: &mut Vec<FieldError>,
) -> Option<Instrument> {
    let Some(card) = card else {
        errors.push(FieldError::new("card", "is required"));
        return None;
    };
    let required = |v: Option<String>, field: &str, errors: &mut Vec<FieldError>| {
        let v = v.filter(|v| !v.trim().is_empty());
        if v.is_none() {
            errors.push(FieldError::new(field, "is required"));
        }
        v
    };
    let holder = required(card.holder, "card.holder", errors);
    let number = required(card.number, "card.number", errors)
        .and_then(|n| CardNumber::parse(&n).map_err(|e| errors.push(e.at("card.number"))).ok());
    let expiry = required(card.expiry, "card.expiry", errors)
        .and_then(|e| ExpiryDate::parse(&e).map_err(|e| errors.push(e.at("card.expiry"))).ok());
    let cvv = required(card.cvv, "card.cvv", errors)
        .and_then(|c| Cvv::parse(&c).map_err(|e| errors.push(e.at("card.cvv"))).ok());
    if let Some(expiry) = &expiry
        && expiry.is_expired_at(chrono::Utc::now().date_naive())
    {
        errors.push(FieldError::new("card.expiry", "the card has expired"));
    }
    match (holder, number, expiry, cvv) {
        (Some(holder), Some(number), Some(expiry), Some(cvv)) => Some(Instrument::Card {
            card: CardDetails { holder, number, expiry, cvv },
            billing_address: address.unwrap_or_default(),
        }),
        _ => None,
    }
}

async fn find_method(state: &AppState, id: &str) -> Result<Option<PaymentMethod>, settle::Error> {
    PaymentMethod::find(&state.db, &PaymentMethodId::from_string(id)).await
}

/// `GET /api/payments/{reference}`: the payment with its timeline.
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
