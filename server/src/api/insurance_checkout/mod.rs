//! Seed 000's insurance checkout API (`/api/v3/payment/...`): gateways for a policy, initiate,
//! token, Apple Pay session validation, status and complete (bearer token), the gateway's return
//! (`process/`) and the payment's documents. Every path answers with and without its trailing
//! slash. The use cases are `settle::checkout`'s; this module reads requests and `wire` shapes
//! the answers.
//!
//! Errors are problem details, except the token answer, whose `status` carries the message as
//! the document specifies (with `url`, `token` and `form` null and the HTTP status telling the
//! kind).

pub mod wire;

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use settle::FieldError;
use settle::checkout::{self, ReturnTo, hosted, wallet};
use settle::connector::ConnectorError;
use settle::document;
use settle::merchant::Merchant;
use settle::payment::{Payment, PaymentState};

use self::wire::{GatewayView, InitiateView, OutcomeView, TokenView, checkout_form};
use crate::api::bearer::ApiCaller;
use crate::api::body::{self, non_empty, required, text};
use crate::api::idempotency::{IdempotencyKey, idempotent};
use crate::api::pdf;
use crate::api::routes::{GET, GET_POST, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// The return every hosted flow's gateway sends the customer to (the document's path).
pub const PROCESS_PATH: &str = "/api/v3/payment/process/";

/// The routes of this API. Initiate and token can move money, so they honour `Idempotency-Key`.
pub fn routes(state: &AppState) -> Routes {
    let money = |handler: axum::routing::MethodRouter<AppState>| {
        handler.layer(from_fn_with_state(state.clone(), idempotent))
    };
    Routes::new()
        .add_both(
            Guard::Bearer,
            GET_POST,
            "/api/v3/payment/gateways/",
            get(gateways).post(gateways),
        )
        .add_both(Guard::Bearer, POST, "/api/v3/payment/initiate/", money(post(initiate)))
        .add_both(Guard::Bearer, GET, "/api/v3/payment/token/", money(get(token)))
        .add_both(Guard::Bearer, POST, "/api/v3/payment/validate-session/", post(validate_session))
        .add_both(Guard::Bearer, GET, "/api/v3/payment/status/", get(status))
        .add_both(
            Guard::Bearer,
            GET_POST,
            "/api/v3/payment/complete/",
            get(complete).post(complete),
        )
        .add_both(Guard::Gateway, GET_POST, PROCESS_PATH, get(process).post(process))
        .add_both(Guard::Bearer, GET, "/api/v3/payment/{reference}/tax-invoice/", get(tax_invoice))
        .add_both(Guard::Bearer, GET, "/api/v3/payment/{reference}/receipt/", get(receipt))
}

/// `GET|POST /api/v3/payment/gateways/?policy_number=`: the policy's gateways in its product's
/// order; without a policy number, every gateway the merchant's policy products offer. POST may
/// carry `policy_number` in a JSON or form body instead of the query.
#[utoipa::path(
    method(get, post),
    path = "/api/v3/payment/gateways/",
    tag = crate::api::openapi::SEED_000,
    params(("policy_number" = Option<String>, Query, description = "The policy number")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The gateways", body = Vec<crate::api::insurance_checkout::wire::GatewayView>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn gateways(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Vec<GatewayView>>, ApiError> {
    let mut errors = Vec::new();
    let policy_number = match non_empty(query.get("policy_number")) {
        Some(number) => Some(number),
        None => text(&body::fields(&headers, &body)?, "policy_number", &mut errors),
    };
    if !errors.is_empty() {
        return Err(settle::Error::Validation(errors).into());
    }
    let list = match policy_number {
        Some(number) => checkout::policy(&state.db, &caller.viewer, &number).await?.gateways,
        None => checkout::policy_gateways_of_merchant(&state.db, &caller.viewer).await?,
    };
    Ok(Json(list.into_iter().map(GatewayView::from).collect()))
}

/// The client's `url`, as the document's rule: back there with the outcome appended.
fn return_rule(merchant: &Merchant, raw: &str) -> Result<ReturnTo, FieldError> {
    let url = checkout::return_to::registered_url(merchant, raw, "url")?;
    Ok(ReturnTo::AppendOutcome { url })
}

/// `POST /api/v3/payment/initiate/` `{policy_number, gateway}` (and optionally `url`, where the
/// customer returns after a hosted page) → `{action, url, token}`.
#[utoipa::path(
    post,
    path = "/api/v3/payment/initiate/",
    tag = crate::api::openapi::SEED_000,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key answers the first outcome")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "policy_number, gateway, url"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{action, url, token}", body = crate::api::insurance_checkout::wire::InitiateView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn initiate(
    State(state): State<AppState>,
    caller: ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let merchant = merchant(&state, caller.merchant_id()).await?;
    let fields = body::fields(&headers, &body)?;
    let mut errors = Vec::new();
    let policy_number = required(&fields, "policy_number", &mut errors);
    let gateway = required(&fields, "gateway", &mut errors);
    let return_to = text(&fields, "url", &mut errors)
        .and_then(|raw| return_rule(&merchant, &raw).map_err(|e| errors.push(e)).ok());
    let (Some(policy_number), Some(gateway), true) = (policy_number, gateway, errors.is_empty())
    else {
        return Err(settle::Error::Validation(errors).into());
    };
    // This API pays policies: another kind of service is "no such policy".
    checkout::policy(&state.db, &caller.viewer, &policy_number).await?;
    let started = checkout::start_by_gateway(
        &state.payments,
        &caller.viewer,
        &policy_number,
        &gateway,
        return_to,
        key,
    )
    .await?;
    if let Some(failure) = gateway_failure(&started.payment) {
        return Err(failure);
    }
    Ok(Json(InitiateView::from(&started)).into_response())
}

/// `GET /api/v3/payment/token/?url=&policy_number=` (optionally `&gateway=`) → `{url, token,
/// form, status}`: a hosted page whose end sends the customer to `url`, which must be on an
/// origin the merchant registered. Refusals keep the shape: `status` says why, the rest is null.
#[utoipa::path(
    get,
    path = "/api/v3/payment/token/",
    tag = crate::api::openapi::SEED_000,
    params(("url" = Option<String>, Query, description = "Where the customer returns"), ("policy_number" = Option<String>, Query, description = "The policy number"), ("gateway" = Option<String>, Query, description = "The gateway key"), ("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key answers the first outcome")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{url, token, form, status}", body = crate::api::insurance_checkout::wire::TokenView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    caller: ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let merchant = match merchant(&state, caller.merchant_id()).await {
        Ok(merchant) => merchant,
        Err(e) => return TokenView::from_error(e),
    };
    let mut errors = Vec::new();
    let return_to = match non_empty(query.get("url")) {
        Some(raw) => return_rule(&merchant, &raw).map_err(|e| errors.push(e)).ok(),
        None => {
            errors.push(FieldError::new(
                "url",
                "is required: where the customer returns after paying",
            ));
            None
        }
    };
    let policy_number = non_empty(query.get("policy_number"));
    if policy_number.is_none() {
        errors.push(FieldError::new("policy_number", "is required"));
    }
    let gateway = non_empty(query.get("gateway"));
    let (Some(return_to), Some(policy_number), true) =
        (return_to, policy_number, errors.is_empty())
    else {
        return TokenView::from_error(settle::Error::Validation(errors));
    };
    if let Err(e) = checkout::policy(&state.db, &caller.viewer, &policy_number).await {
        return TokenView::from_error(e);
    }
    let ready = match hosted::hosted_page(
        &state.payments,
        &caller.viewer,
        &policy_number,
        return_to,
        gateway.as_deref(),
        key,
    )
    .await
    {
        Ok(ready) => ready,
        Err(e) => return TokenView::from_error(e),
    };
    let payment = &ready.payment;
    if ready.nothing_owed {
        // Nothing to pay: the policy is active and the browser goes straight back.
        let back = match continue_url(&state, payment).await {
            Ok(url) => url,
            Err(e) => return TokenView::from_error(e),
        };
        let view = TokenView {
            url: Some(back),
            token: Some(payment.reference.clone()),
            form: None,
            status: "OK".into(),
            errors: Vec::new(),
        };
        return Json(view).into_response();
    }
    let Some(redirect) = payment.redirect_url.clone() else {
        let reason = payment.failure_reason.clone().unwrap_or_else(|| {
            "The payment gateway did not answer in time; try again shortly.".into()
        });
        let view = TokenView {
            url: None,
            token: Some(payment.reference.clone()),
            form: None,
            status: format!("The payment gateway could not start the payment: {reason}"),
            errors: Vec::new(),
        };
        return (StatusCode::BAD_GATEWAY, Json(view)).into_response();
    };
    let form = checkout_form(&redirect, ready.form.as_ref());
    Json(TokenView {
        url: Some(redirect),
        token: Some(payment.reference.clone()),
        form,
        status: "OK".into(),
        errors: Vec::new(),
    })
    .into_response()
}

/// `POST /api/v3/payment/validate-session/?token=` `{policy_number, gateway}` → the Apple Pay
/// merchant session, exactly as the provider answered it.
#[utoipa::path(
    post,
    path = "/api/v3/payment/validate-session/",
    tag = crate::api::openapi::SEED_000,
    params(("token" = Option<String>, Query, description = "The payment token")),
    request_body(content = serde_json::Value, content_type = "application/json", description = "policy_number, gateway"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The Apple Pay merchant session", content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn validate_session(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let merchant = merchant(&state, caller.merchant_id()).await?;
    let fields = body::fields(&headers, &body)?;
    let mut errors = Vec::new();
    let token = non_empty(query.get("token")).or_else(|| text(&fields, "token", &mut errors));
    if token.is_none() {
        errors.push(FieldError::new("token", "is required: the token initiate answered"));
    }
    let policy_number = required(&fields, "policy_number", &mut errors);
    let gateway = required(&fields, "gateway", &mut errors);
    let (Some(token), Some(policy_number), Some(gateway), true) =
        (token, policy_number, gateway, errors.is_empty())
    else {
        return Err(settle::Error::Validation(errors).into());
    };
    let session = wallet::session(
        &state.payments,
        &caller.viewer,
        &merchant,
        &token,
        &policy_number,
        &gateway,
    )
    .await?;
    match session {
        Ok(session) => Ok(Json(session).into_response()),
        Err(e) => {
            tracing::warn!(error = %e, %gateway, "Apple Pay merchant validation failed");
            let detail = match e {
                ConnectorError::Refused { message, .. } => {
                    format!("The Apple Pay gateway refused the session: {message}")
                }
                _ => "The Apple Pay gateway could not be reached; try again shortly.".to_owned(),
            };
            Err(ApiError::new(StatusCode::BAD_GATEWAY, detail))
        }
    }
}

/// `GET /api/v3/payment/status/?token=`: where the payment stands now (no gateway call; poll it).
#[utoipa::path(
    get,
    path = "/api/v3/payment/status/",
    tag = crate::api::openapi::SEED_000,
    params(("token" = Option<String>, Query, description = "The payment token")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where the payment stands", body = crate::api::insurance_checkout::wire::OutcomeView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<OutcomeView>, ApiError> {
    let token = non_empty(query.get("token"))
        .ok_or_else(|| settle::Error::invalid("token", "is required"))?;
    let outcome = checkout::outcome(&state.payments, &caller.viewer, &token, false).await?;
    Ok(Json(OutcomeView::from(outcome)))
}

/// `GET|POST /api/v3/payment/complete/` with `token` in the query or a JSON or form body: the
/// client's completion page. Asks the gateway about a payment still open, finishes a paid one,
/// and answers the outcome as status does.
#[utoipa::path(
    method(get, post),
    path = "/api/v3/payment/complete/",
    tag = crate::api::openapi::SEED_000,
    params(("token" = Option<String>, Query, description = "The payment token")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The outcome", body = crate::api::insurance_checkout::wire::OutcomeView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn complete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<OutcomeView>, ApiError> {
    let mut errors = Vec::new();
    let token = match non_empty(query.get("token")) {
        Some(token) => Some(token),
        None => text(&body::fields(&headers, &body)?, "token", &mut errors),
    };
    let token = match (token, errors.is_empty()) {
        (Some(token), true) => token,
        (None, true) => return Err(settle::Error::invalid("token", "is required").into()),
        _ => return Err(settle::Error::Validation(errors).into()),
    };
    let outcome = checkout::outcome(&state.payments, &caller.viewer, &token, true).await?;
    Ok(Json(OutcomeView::from(outcome)))
}

/// Where the gateway sends the customer back (`?token=<payment reference>`, GET or POST).
#[derive(Debug, Default, Deserialize)]
pub struct ProcessQuery {
    token: Option<String>,
}

/// `/api/v3/payment/process/`: the customer is back from the gateway's page (every hosted flow
/// returns here). Settle asks the gateway where the payment stands (the redirect itself proves
/// nothing: anyone can type this URL), records the outcome, activates the service on success,
/// and sends the customer on by the payment's return rule, so a failed payment can be retried.
#[utoipa::path(
    method(get, post),
    path = PROCESS_PATH,
    tag = crate::api::openapi::CALLBACKS,
    params(("token" = Option<String>, Query, description = "The payment token")),
    responses(
        (status = 303, description = "On to the payment’s return URL"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn process(
    State(state): State<AppState>,
    Query(query): Query<ProcessQuery>,
    form: Result<Form<ProcessQuery>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    // Gateways that POST the customer back may carry the token in the body instead.
    let posted = form.ok().and_then(|Form(f)| f.token);
    let token = query
        .token
        .or(posted)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| settle::Error::invalid("token", "is required"))?;
    let payment = Payment::find_by_reference(&state.db, &token)
        .await?
        .ok_or(settle::Error::NotFound("payment"))?;
    let mut payment = state.payments.refresh(&payment).await?;
    // A notification racing this return may be mid-way through fulfilment; give it a moment
    // so the client learns the final outcome rather than CONVERTING_POLICY.
    for _ in 0..20 {
        if !matches!(payment.state, PaymentState::PaymentSuccess | PaymentState::ConvertingPolicy) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        payment = Payment::find(&state.db, &payment.id)
            .await?
            .ok_or(settle::Error::NotFound("payment"))?;
    }
    Ok(Redirect::to(&continue_url(&state, &payment).await?).into_response())
}

/// Where a customer goes after a payment step: the payment's return rule (or its merchant's
/// completion page), else their status page in Settle.
pub async fn continue_url(state: &AppState, payment: &Payment) -> settle::Result<String> {
    Ok(checkout::return_to::continue_url(&state.db, payment)
        .await?
        .unwrap_or_else(|| format!("/account/payments/{}", payment.reference)))
}

/// `GET /api/v3/payment/{reference}/tax-invoice/`: the payment's tax invoice.
#[utoipa::path(
    get,
    path = "/api/v3/payment/{reference}/tax-invoice/",
    tag = crate::api::openapi::SEED_000,
    params(("reference" = String, Path, description = "The payment reference")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tax invoice", content_type = "application/pdf"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
async fn tax_invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    Ok(pdf::answer(document::tax_invoice_pdf(&state.db, &reference, &caller.viewer).await?))
}

/// `GET /api/v3/payment/{reference}/receipt/`: the payment's receipt (409 before money moved).
/// The document prints the tax-invoice URL for the receipt too; that is read as a copy error.
#[utoipa::path(
    get,
    path = "/api/v3/payment/{reference}/receipt/",
    tag = crate::api::openapi::SEED_000,
    params(("reference" = String, Path, description = "The payment reference")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The receipt", content_type = "application/pdf"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
async fn receipt(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    Ok(pdf::answer(document::receipt_pdf(&state.db, &reference, &caller.viewer).await?))
}

async fn merchant(state: &AppState, id: &settle::merchant::MerchantId) -> settle::Result<Merchant> {
    Merchant::find(&state.db, id).await?.ok_or(settle::Error::Unauthorized)
}

/// A payment the gateway wouldn't start: 502 with the gateway's reason (the payment is recorded;
/// the client may initiate again).
fn gateway_failure(payment: &Payment) -> Option<ApiError> {
    use PaymentState::{PaymentFailed, Processing, TerminalError};
    match payment.state {
        PaymentFailed | TerminalError => Some(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "The payment gateway could not start payment {}: {}",
                payment.reference,
                payment.failure_reason.as_deref().unwrap_or("no reason given")
            ),
        )),
        Processing if payment.redirect_url.is_none() => Some(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "The payment gateway did not answer in time for payment {}; Settle will find out what happened. Check /api/v3/payment/status/?token={}",
                payment.reference, payment.reference
            ),
        )),
        _ => None,
    }
}
