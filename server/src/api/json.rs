//! The JSON body extractor for Settle's own APIs: problem details instead of axum's plain-text
//! rejections, with the field's path, and messages that never repeat what was sent.
//!
//! serde's messages quote the offending value (`invalid type: integer 4111111111111111, expected
//! a string`), and a card number must never come back in a response (or reach a log through
//! one). So only the parts serde takes from the *type* — the field path and what was
//! expected — are kept; the value is dropped.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use settle::FieldError;

use crate::error::ApiError;

/// A JSON request body read into `T`; a bad body is answered with RFC 9457 problem details:
/// `415` for another content type, `400` for text that is not JSON, `422` with
/// `errors: [{field, message}]` for a missing or wrongly typed field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send the body as JSON, with `Content-Type: application/json`.",
            ));
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            let status = rejection.status();
            let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "The request body is too large."
            } else {
                "The request body could not be read."
            };
            ApiError::new(status, detail)
        })?;
        read(&body).map(ApiJson)
    }
}

/// `T` from JSON text, or the problem to answer with.
pub fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| problem(&e.path().to_string(), e.inner()))?;
    // Text after the value is refused too, as `serde_json::from_slice` does.
    deserializer.end().map_err(|e| problem("", &e))?;
    Ok(value)
}

fn problem(path: &str, error: &serde_json::Error) -> ApiError {
    if !error.is_data() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The body is not valid JSON (line {}, column {}).",
                error.line(),
                error.column()
            ),
        );
    }
    let path = if path == "." { "" } else { path };
    let (field, message) = describe(path, &error.to_string());
    settle::Error::Validation(vec![FieldError::new(field, message)]).into()
}

/// The field and a message for one of serde's data errors, built only from what serde took from
/// the target type. Anything unrecognised gets a generic message rather than serde's text.
fn describe(path: &str, serde_message: &str) -> (String, String) {
    // serde_json appends the position; the position is no secret, but it reads badly here.
    let message = match serde_message.rfind(" at line ") {
        Some(at) => &serde_message[..at],
        None => serde_message,
    };
    // The expectation comes last and from the type (`expected a string`), never from the input;
    // the last occurrence is serde's own even if the value contains the same words.
    let expected = message.rsplit_once(", expected ").map(|(_, exp)| exp);
    let field = |name: &str| {
        if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
    };
    let at_path = || if path.is_empty() { "body".to_owned() } else { path.to_owned() };
    if let Some(name) =
        message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'))
    {
        return (field(name), "is required".into());
    }
    let what = if message.starts_with("invalid type: ")
        || message.starts_with("invalid value: ")
        || message.starts_with("invalid length ")
    {
        expected.map(must_be)
    } else if message.starts_with("unknown variant ") {
        // serde lists the variants: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
        Some(match expected {
            Some(choices) => format!("must be {choices}"),
            None => "is not one of the accepted values".into(),
        })
    } else if message.starts_with("data did not match any variant of untagged enum") {
        Some("does not have any of the accepted forms".into())
    } else if message.starts_with("duplicate field `") {
        Some("is given more than once".into())
    } else if message.starts_with("unknown field `") {
        Some("has a field that is not accepted".into())
    } else {
        None
    };
    (at_path(), what.unwrap_or_else(|| "is not valid".into()))
}

/// "must be …" in words a client author reads, from serde's description of the expected type.
fn must_be(expected: &str) -> String {
    let words = match expected {
        e if e.starts_with("struct ") || e == "a map" => "an object",
        e if e.starts_with("tuple") || e == "a sequence" => "a list",
        "a boolean" => "true or false",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a string" | "a borrowed string" => "a string",
        other => return format!("must be {other}"),
    };
    format!("must be {words}")
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // read only through Debug
    struct Card {
        number: Option<String>,
        expiry: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        card: Option<Card>,
        save_card: Option<bool>,
        method: Option<Method>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Method {
        Card,
        Invoice,
    }

    fn errors(json: &str) -> (u16, String) {
        let problem = read::<Body>(json.as_bytes()).expect_err(json);
        let response = axum::response::IntoResponse::into_response(problem);
        let status = response.status().as_u16();
        let body = futures_body(response);
        (status, body)
    }

    fn futures_body(response: axum::response::Response) -> String {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn wrong_types_name_the_path_and_never_the_value() {
        let (status, body) = errors(r#"{"card": {"number": 4111111111111111, "expiry": "1030"}}"#);
        assert_eq!(status, 422);
        assert!(body.contains(r#""field":"card.number""#), "{body}");
        assert!(body.contains("must be a string"), "{body}");
        assert!(!body.contains("4111"), "{body}");

        let (_, body) = errors(
            r#"{"card": {"number": "4111111111111111", "expiry": "1030"}, "method": "4111111111111111"}"#,
        );
        assert!(body.contains(r#""field":"method""#), "{body}");
        assert!(body.contains("must be `card` or `invoice`"), "{body}");
        assert!(!body.contains("4111"), "{body}");

        let (_, body) = errors(r#"{"save_card": "4111111111111111, expected a cat"}"#);
        assert!(body.contains("must be true or false") && !body.contains("4111"), "{body}");

        let (_, body) = errors(r#"{"card": "4111111111111111"}"#);
        assert!(body.contains(r#""field":"card""#) && body.contains("must be an object"), "{body}");
    }

    #[test]
    fn missing_fields_are_required() {
        let (status, body) = errors(r#"{"card": {"number": "4111111111111111"}}"#);
        assert_eq!(status, 422);
        assert!(
            body.contains(r#""field":"card.expiry""#) && body.contains("is required"),
            "{body}"
        );
        assert!(!body.contains("4111"), "{body}");
    }

    #[test]
    fn text_that_is_not_json_is_a_bad_request() {
        for text in ["", "{", "{\"card\": {\"number\": \"4111", "{} trailing 4111", "nonsense"] {
            let (status, body) = errors(text);
            assert_eq!(status, 400, "{text}: {body}");
            assert!(!body.contains("4111") && body.contains("not valid JSON"), "{body}");
        }
        let (status, _) = errors("[]");
        assert_eq!(status, 422);
    }

    #[test]
    fn content_types_that_count_as_json() {
        let mut headers = axum::http::HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), ok, "{value}");
        }
    }
}
