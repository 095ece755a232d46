//! Seed 000's insurance checkout API (`/api/v3/payment/...`, bearer token): gateways for a
//! policy, initiate, token, Apple Pay session validation, status and complete. The gateway's
//! return (`/api/v3/payment/process/`) lives with the other callbacks. Every path answers with and
//! without its trailing slash. The use cases are in `settle::checkout`; this module parses and
//! shapes.
//!
//! Errors are problem details, except the token answer, whose `status` carries the message as
//! the seed specifies (with `url`, `token` and `form` null and the HTTP status telling the kind).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use settle::FieldError;
use settle::checkout::{self, Outcome};
use settle::connector::{ConnectorError, HostedForm};
use settle::merchant::Merchant;
use settle::payment::{Payment, PaymentState};

use crate::api::bearer::ApiCaller;
use crate::api::callbacks::continue_url;
use crate::api::idempotency::{IdempotencyKey, idempotent};
use crate::error::ApiError;
use crate::state::AppState;

/// The routes of this API. Initiate and token can move money, so they honour `Idempotency-Key`.
pub fn router(state: &AppState) -> Router<AppState> {
    let money = Router::new()
        .route("/api/v3/payment/initiate/", post(initiate))
        .route("/api/v3/payment/initiate", post(initiate))
        .route("/api/v3/payment/token/", get(token))
        .route("/api/v3/payment/token", get(token))
        .layer(from_fn_with_state(state.clone(), idempotent));
    Router::new()
        .route("/api/v3/payment/gateways/", get(gateways).post(gateways))
        .route("/api/v3/payment/gateways", get(gateways).post(gateways))
        .route("/api/v3/payment/validate-session/", post(validate_session))
        .route("/api/v3/payment/validate-session", post(validate_session))
        .route("/api/v3/payment/status/", get(status))
        .route("/api/v3/payment/status", get(status))
        .route("/api/v3/payment/complete/", get(complete).post(complete))
        .route("/api/v3/payment/complete", get(complete).post(complete))
        .merge(money)
}

/// One gateway of the list.
#[derive(Debug, Serialize)]
pub struct GatewayView {
    gateway: String,
    name: String,
    provider: String,
}

/// `GET|POST /api/v3/payment/gateways/?policy_number=`: the policy's gateways in its product's
/// order; without a policy number, every gateway the merchant's policy products offer. POST may
/// carry `policy_number` in a JSON or form body instead of the query.
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
        None => text(&body_fields(&headers, &body)?, "policy_number", &mut errors),
    };
    if !errors.is_empty() {
        return Err(settle::Error::Validation(errors).into());
    }
    let list = match policy_number {
        Some(number) => checkout::policy(&state.db, &caller.viewer, &number).await?.gateways,
        None => checkout::gateways_for_merchant(&state.db, &caller.viewer).await?,
    };
    Ok(Json(
        list.into_iter()
            .map(|g| GatewayView { gateway: g.id, name: g.name, provider: g.provider })
            .collect(),
    ))
}

/// The initiate answer, as the seed shows it.
#[derive(Debug, Serialize)]
pub struct InitiateView {
    action: &'static str,
    url: Option<String>,
    token: String,
}

/// `POST /api/v3/payment/initiate/` `{policy_number, gateway}` (and optionally `url`, where the
/// customer returns after a hosted page) → `{action, url, token}`.
pub async fn initiate(
    State(state): State<AppState>,
    caller: ApiCaller,
    IdempotencyKey(key): IdempotencyKey,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let merchant = merchant(&state, caller.merchant_id()).await?;
    let fields = body_fields(&headers, &body)?;
    let mut errors = Vec::new();
    let policy_number = required(&fields, "policy_number", &mut errors);
    let gateway = required(&fields, "gateway", &mut errors);
    let return_url = text(&fields, "url", &mut errors).and_then(|raw| {
        checkout::return_url(&merchant, &raw, "url").map_err(|e| errors.push(e)).ok()
    });
    let (Some(policy_number), Some(gateway), true) = (policy_number, gateway, errors.is_empty())
    else {
        return Err(settle::Error::Validation(errors).into());
    };
    let started = checkout::initiate(
        &state.payments,
        &caller.viewer,
        &policy_number,
        &gateway,
        return_url.as_ref(),
        key,
    )
    .await?;
    if let Some(failure) = gateway_failure(&started.payment) {
        return Err(failure);
    }
    let url = match started.action {
        checkout::Action::PaymentRequired => started.payment.redirect_url.clone(),
        _ => None,
    };
    Ok(Json(InitiateView {
        action: started.action.as_str(),
        url,
        token: started.payment.reference.clone(),
    })
    .into_response())
}

/// The token answer, as the seed shows it.
#[derive(Debug, Serialize)]
pub struct TokenView {
    url: Option<String>,
    token: Option<String>,
    form: Option<String>,
    status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

impl TokenView {
    fn refused(
        status: StatusCode,
        message: impl Into<String>,
        errors: Vec<FieldError>,
    ) -> Response {
        let view = TokenView { url: None, token: None, form: None, status: message.into(), errors };
        (status, Json(view)).into_response()
    }

    fn from_error(e: settle::Error) -> Response {
        use settle::Error as E;
        match e {
            E::Validation(errors) => {
                let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                TokenView::refused(StatusCode::UNPROCESSABLE_ENTITY, message, errors)
            }
            E::NotFound(what) => {
                TokenView::refused(StatusCode::NOT_FOUND, format!("No such {what}."), Vec::new())
            }
            E::Conflict(why) => TokenView::refused(StatusCode::CONFLICT, why, Vec::new()),
            E::PaymentInProgress(reference) => TokenView::refused(
                StatusCode::CONFLICT,
                format!(
                    "Payment {reference} for this policy is still in progress; check its status before paying again."
                ),
                Vec::new(),
            ),
            // Everything else keeps the problem-details mapping (auth, throttling, our faults).
            other => ApiError::from(other).into_response(),
        }
    }
}

/// `GET /api/v3/payment/token/?url=&policy_number=` (optionally `&gateway=`) → `{url, token,
/// form, status}`: a hosted checkout whose end sends the customer to `url`, which must be on an
/// origin the merchant registered. Refusals keep the shape: `status` says why, the rest is null.
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
    let return_url = match non_empty(query.get("url")) {
        Some(raw) => checkout::return_url(&merchant, &raw, "url").map_err(|e| errors.push(e)).ok(),
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
    let (Some(return_url), Some(policy_number), true) =
        (return_url, policy_number, errors.is_empty())
    else {
        return TokenView::from_error(settle::Error::Validation(errors));
    };
    let ready = match checkout::hosted_token(
        &state.payments,
        &caller.viewer,
        &policy_number,
        &return_url,
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
        let view = TokenView {
            url: Some(continue_url(payment)),
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
pub async fn validate_session(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let merchant = merchant(&state, caller.merchant_id()).await?;
    let fields = body_fields(&headers, &body)?;
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
    let session = checkout::apple_pay_session(
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

/// A payment's outcome as status and complete answer it.
#[derive(Debug, Serialize)]
pub struct OutcomeView {
    token: String,
    status: &'static str,
    payment_status: i16,
    client_feedback: &'static str,
    #[serde(rename = "final")]
    is_final: bool,
    policy_number: String,
    policy_status: String,
    policy_start: Option<chrono::DateTime<chrono::Utc>>,
    policy_end: Option<chrono::DateTime<chrono::Utc>>,
    amount: String,
    currency: &'static str,
    gateway: String,
    url: Option<String>,
    failure_reason: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Outcome> for OutcomeView {
    fn from(Outcome { payment, policy }: Outcome) -> OutcomeView {
        let state = payment.state;
        OutcomeView {
            token: payment.reference,
            status: state.name(),
            payment_status: state.code(),
            client_feedback: state.client_feedback(),
            is_final: state.is_final(),
            policy_number: policy.reference,
            policy_status: policy.status,
            policy_start: policy.period_start,
            policy_end: policy.period_end,
            amount: payment.amount.to_decimal().to_string(),
            currency: payment.amount.currency().code(),
            gateway: payment.gateway_id,
            url: payment.redirect_url.filter(|_| state == PaymentState::AwaitingCustomer),
            failure_reason: payment.failure_reason,
            updated_at: payment.updated_at,
        }
    }
}

/// `GET /api/v3/payment/status/?token=`: where the payment stands now (no gateway call; poll it).
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
        None => text(&body_fields(&headers, &body)?, "token", &mut errors),
    };
    let token = match (token, errors.is_empty()) {
        (Some(token), true) => token,
        (None, true) => return Err(settle::Error::invalid("token", "is required").into()),
        _ => return Err(settle::Error::Validation(errors).into()),
    };
    let outcome = checkout::outcome(&state.payments, &caller.viewer, &token, true).await?;
    Ok(Json(OutcomeView::from(outcome)))
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

/// The fields of a JSON object or form-encoded body (clients send either); empty if no body.
fn body_fields(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "The form body could not be read.")
        })?;
        return Ok(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON object (or a form), e.g. {\"policy_number\": \"...\", \"gateway\": \"...\"}.",
        )),
    }
}

/// A text field: absent, null or blank is `None`; anything but a string is an error.
fn text(fields: &Map<String, Value>, name: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match fields.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => non_empty(Some(s)),
        Some(_) => {
            errors.push(FieldError::new(name, "must be a string"));
            None
        }
    }
}

/// A text field that must be there.
fn required(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let before = errors.len();
    let value = text(fields, name, errors);
    if value.is_none() && errors.len() == before {
        errors.push(FieldError::new(name, "is required"));
    }
    value
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// The seed's `form`: a small HTML form that takes the browser to the gateway, posting the
/// gateway's fields where it asked for a POST, else a GET of the redirect URL (its query as
/// hidden fields, since a GET form replaces the action's query). No script: the client submits it
/// or simply redirects to `url`.
fn checkout_form(redirect: &str, form: Option<&HostedForm>) -> Option<String> {
    let (method, action, fields) = match form {
        Some(form) => ("post", form.action.clone(), form.fields.clone()),
        None => {
            let url = url::Url::parse(redirect).ok()?;
            let fields: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let mut action = url;
            action.set_query(None);
            ("get", action.to_string(), fields)
        }
    };
    let mut html = format!(r#"<form method="{method}" action="{}">"#, escape(&action));
    for (name, value) in &fields {
        html.push_str(&format!(
            r#"<input type="hidden" name="{}" value="{}">"#,
            escape(name),
            escape(value)
        ));
    }
    html.push_str(r#"<button type="submit">Continue to payment</button></form>"#);
    Some(html)
}

/// Escapes text for HTML content and double-quoted attribute values.
fn escape(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_get_the_redirect_or_post_the_gateway_fields() {
        let get = checkout_form("https://pay.example/pay/co_1?lang=en&x=%22", None).unwrap();
        assert_eq!(
            get,
            r#"<form method="get" action="https://pay.example/pay/co_1"><input type="hidden" name="lang" value="en"><input type="hidden" name="x" value="&quot;"><button type="submit">Continue to payment</button></form>"#
        );
        let post = HostedForm {
            action: "https://pay.example/post".into(),
            fields: vec![("signature".into(), "a<b".into())],
        };
        let html = checkout_form("https://pay.example/pay/co_1", Some(&post)).unwrap();
        assert!(html.starts_with(r#"<form method="post" action="https://pay.example/post">"#));
        assert!(html.contains(r#"name="signature" value="a&lt;b""#));
    }
}
