//! Request handling shared by the sandbox providers: API-key check, JSON bodies, field errors,
//! amounts and callback URLs, and late answers for injected hangs.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use settle::money::{Currency, Money};

use super::faults::RequestFault;

/// A refused request's answer. Boxed because a `Response` is large and travels in `Err`.
pub(super) struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Refusal {
        Refusal(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A `422` listing field errors, the way the sandbox providers refuse invalid requests.
pub(super) fn invalid(errors: Vec<(&str, String)>) -> Refusal {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|(field, message)| json!({ "field": field, "message": message }))
        .collect();
    let summary = errors
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["field"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({ "error": summary, "errors": errors })))
        .into_response()
        .into()
}

/// A JSON error with `status`.
pub(super) fn error(status: StatusCode, message: &str) -> Refusal {
    (status, axum::Json(json!({ "error": message }))).into_response().into()
}

/// Refuses requests without `Authorization: Bearer <key>`; any non-empty key is accepted.
pub(super) fn check_api_key(headers: &HeaderMap) -> Result<(), Refusal> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        Err(error(StatusCode::UNAUTHORIZED, "missing API key: send Authorization: Bearer <key>"))
    } else {
        Ok(())
    }
}

/// Parses a JSON body. serde's messages can quote the offending value (a card number sent as
/// a number, say), so the answer names only the position.
pub(super) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        invalid(vec![(
            "body",
            format!(
                "is not a valid request ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        )])
    })
}

/// An absolute http(s) URL, or why not.
pub(super) fn parse_callback_url(value: Option<&str>) -> Result<String, String> {
    let text = value.map(str::trim).filter(|v| !v.is_empty()).ok_or("is required")?;
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url.to_string()),
        _ => Err("must be an absolute http(s) URL".into()),
    }
}

/// Reads `amount` (a decimal string) in `currency`; it must be above zero.
pub(super) fn parse_amount(amount: Option<&Value>, currency: Currency) -> Result<Money, String> {
    let text = match amount {
        Some(Value::String(text)) => text,
        Some(_) => return Err("must be a decimal string such as \"378.90\"".into()),
        None => return Err("is required".into()),
    };
    let money = Money::parse_decimal(text, currency).map_err(|e| e.message)?;
    if money.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(money)
}

/// Answers after the fault's hang and any extra hang the request itself calls for: the work is
/// already done, only the answer is late.
pub(super) async fn answer_after(
    fault: RequestFault,
    extra: Option<Duration>,
    response: Response,
) -> Response {
    let fault_hang = match fault {
        RequestFault::Hang(d) => d,
        RequestFault::None | RequestFault::Unavailable => Duration::ZERO,
    };
    let wait = fault_hang.max(extra.unwrap_or(Duration::ZERO));
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    response
}

/// Reads the `currency`, `amount` (a decimal string above zero) and `notification_url` that
/// every money-moving request carries, adding what is wrong to `errors`.
pub(super) fn money_and_callback(
    currency: Option<&str>,
    amount: Option<&Value>,
    notification_url: Option<&str>,
    errors: &mut Vec<(&str, String)>,
) -> (Option<Money>, Option<String>) {
    let currency = match currency.map(Currency::parse) {
        Some(Ok(currency)) => Some(currency),
        Some(Err(e)) => {
            errors.push(("currency", e.message));
            None
        }
        None => {
            errors.push(("currency", "is required".into()));
            None
        }
    };
    let amount =
        currency.and_then(|c| parse_amount(amount, c).map_err(|m| errors.push(("amount", m))).ok());
    let notification_url =
        parse_callback_url(notification_url).map_err(|m| errors.push(("notification_url", m))).ok();
    (amount, notification_url)
}
