//! Request handling shared by the sandbox providers: API-key check, JSON bodies, field errors,
//! amounts and callback URLs, list filters. A provider whose wire format differs (the hosted
//! checkout's errors, Apple's) shapes its own refusals around the same checks.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use settle::money::{Currency, Money};

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

/// Whether the request carries `Authorization: Bearer <key>`; any non-empty key will do.
pub(super) fn has_api_key(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| !key.trim().is_empty())
}

/// Refuses requests without `Authorization: Bearer <key>`; any non-empty key is accepted.
pub(super) fn check_api_key(headers: &HeaderMap) -> Result<(), Refusal> {
    if has_api_key(headers) {
        Ok(())
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "missing API key: send Authorization: Bearer <key>"))
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
pub(super) fn parse_http_url(text: &str) -> Result<url::Url, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        _ => Err("must be an absolute http(s) URL".into()),
    }
}

/// A required absolute http(s) URL, or why not.
pub(super) fn parse_callback_url(value: Option<&str>) -> Result<String, String> {
    let text = value.map(str::trim).filter(|v| !v.is_empty()).ok_or("is required")?;
    parse_http_url(text).map(|url| url.to_string())
}

/// A text field's trimmed value, if it has one.
pub(super) fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// An amount as the wire carries it: an exact decimal string (`"378.90"`).
pub(super) fn decimal(amount: Money) -> String {
    amount.to_decimal().to_string()
}

/// Why an amount that is not a decimal string is refused.
pub(super) const NOT_A_DECIMAL: &str = "must be a decimal string such as \"378.90\"";

/// Reads `amount` (a decimal string) in `currency`; it must be above zero.
pub(super) fn parse_amount(amount: Option<&Value>, currency: Currency) -> Result<Money, String> {
    match amount {
        Some(Value::String(text)) => parse_decimal_amount(text, currency),
        Some(_) => Err(NOT_A_DECIMAL.into()),
        None => Err("is required".into()),
    }
}

/// Reads an amount written as a decimal in `currency`; it must be above zero.
pub(super) fn parse_decimal_amount(text: &str, currency: Currency) -> Result<Money, String> {
    let money = Money::parse_decimal(text, currency).map_err(|e| e.message)?;
    if money.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(money)
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

/// The query of a provider's list endpoint: `?merchant_reference=…` (a merchant looking up a
/// payment by its own reference), `?since=<RFC 3339>` (everything since a time, for a ledger
/// check), or both.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    merchant_reference: Option<String>,
    since: Option<String>,
}

/// What a list keeps, read from a [`ListQuery`].
#[derive(Debug)]
pub(super) struct ListFilter {
    reference: Option<String>,
    since: Option<DateTime<Utc>>,
}

impl ListQuery {
    /// The filter, or the field at fault and why. At least one filter is required: a provider
    /// doesn't hand out its whole book unasked.
    pub(super) fn filter(&self) -> Result<ListFilter, (&'static str, String)> {
        let reference = self
            .merchant_reference
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        let since = match self.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(parse_time(text).ok_or((
                "since",
                "must be an RFC 3339 time such as 2026-03-01T10:00:00Z".to_owned(),
            ))?),
        };
        if reference.is_none() && since.is_none() {
            return Err(("merchant_reference", "or since is required".to_owned()));
        }
        Ok(ListFilter { reference, since })
    }
}

/// An RFC 3339 time. A `+` that arrived unencoded in a query string reads as a space; take it
/// back rather than refuse `2026-03-01T10:00:00+02:00` typed into a shell.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc3339(&text.replace(' ', "+")))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl ListFilter {
    /// Whether an object made under `reference` at `created_at` is listed.
    pub(super) fn matches(&self, reference: &str, created_at: DateTime<Utc>) -> bool {
        self.reference.as_deref().is_none_or(|r| r == reference)
            && self.since.is_none_or(|since| created_at >= since)
    }
}

/// Orders a list the way every provider answers one: newest first, ties by id (descending).
pub(super) fn newest_first<T>(items: &mut [T], key: impl Fn(&T) -> (DateTime<Utc>, &str)) {
    items.sort_by(|a, b| {
        let ((a_created, a_id), (b_created, b_id)) = (key(a), key(b));
        b_created.cmp(&a_created).then_with(|| b_id.cmp(a_id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(reference: Option<&str>, since: Option<&str>) -> ListQuery {
        ListQuery { merchant_reference: reference.map(Into::into), since: since.map(Into::into) }
    }

    #[test]
    fn lists_are_newest_first_then_by_id() {
        let at = |t: &str| parse_time(t).unwrap_or_else(|| panic!("{t}"));
        let (early, late) = (at("2026-03-01T10:00:00Z"), at("2026-03-01T11:00:00Z"));
        let mut items = vec![(early, "a"), (late, "a"), (early, "b"), (late, "c")];
        newest_first(&mut items, |&(created, id)| (created, id));
        assert_eq!(items, vec![(late, "c"), (late, "a"), (early, "b"), (early, "a")]);
    }

    #[test]
    fn list_filters_need_a_reference_or_a_time() {
        let at = |t: &str| parse_time(t).unwrap_or_else(|| panic!("{t}"));
        let filter = query(Some("PAY-1"), None).filter().unwrap_or_else(|e| panic!("{e:?}"));
        assert!(filter.matches("PAY-1", at("2000-01-01T00:00:00Z")));
        assert!(!filter.matches("PAY-2", at("2000-01-01T00:00:00Z")));

        let filter = query(None, Some("2026-03-01T10:00:00 02:00")).filter();
        let filter = filter.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(filter.matches("any", at("2026-03-01T08:00:00Z")), "at the time itself");
        assert!(!filter.matches("any", at("2026-03-01T07:59:59Z")));

        let both = query(Some("PAY-1"), Some("2026-03-01T10:00:00Z")).filter();
        let both = both.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!both.matches("PAY-1", at("2026-02-01T10:00:00Z")));

        assert_eq!(query(None, None).filter().err().map(|e| e.0), Some("merchant_reference"));
        assert_eq!(query(Some(" "), None).filter().err().map(|e| e.0), Some("merchant_reference"));
        assert_eq!(query(None, Some("yesterday")).filter().err().map(|e| e.0), Some("since"));
    }
}
