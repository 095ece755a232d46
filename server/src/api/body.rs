//! Request bodies the seed dialects take: a JSON object or a form, field by field. The seeds'
//! own clients send either (seed 000's examples are JSON, its browsers post forms; seed 003's
//! curl sends JSON labelled as a form).

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};
use settle::FieldError;

use crate::error::ApiError;

/// The fields of a JSON object or a form body (by its `Content-Type`); empty if there is none.
pub fn fields(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form && let Some(fields) = form(body) {
        return Ok(fields);
    }
    json_object(body).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON object (or a form), e.g. {\"policy_number\": \"...\"}.",
        )
    })
}

/// The body as a JSON object, whatever its `Content-Type` says, if it is one.
pub fn json_object(body: &Bytes) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

/// The body as form fields (values as JSON strings), if it reads as a form.
pub fn form(body: &Bytes) -> Option<Map<String, Value>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    Some(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// A text field: absent, null or blank is `None`; anything but a string is an error.
pub fn text(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
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
pub fn required(
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

/// A trimmed text, `None` when blank.
pub fn non_empty(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// An ISO 8601 moment as clients send it: a date (`2026-12-05`, its midnight UTC, with `true`:
/// only the day was given) or a date-time (RFC 3339 with `Z` or an offset, or without one,
/// meaning UTC).
pub fn iso_moment(raw: &str) -> Option<(chrono::DateTime<chrono::Utc>, bool)> {
    let raw = raw.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some((t.with_timezone(&chrono::Utc), false));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw, format) {
            return Some((t.and_utc(), false));
        }
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some((date.and_time(chrono::NaiveTime::MIN).and_utc(), true))
}
