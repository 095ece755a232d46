//! Server-function answers with the right status.
//!
//! server_fn 0.8 answers every error with `500` and a `serverfnerror` header, whatever went
//! wrong. Settle's server functions fail with [`PageError`], which carries its status in its
//! JSON body, so this layer puts that status on the response: `400` for arguments that can't be
//! read, `404` for something that isn't the caller's, `500` only for our own faults.
//!
//! A form posted without script is answered with a redirect back to its page (Leptos does that,
//! with the error in `__err` query parameters that pages here don't read). That redirect stays a
//! redirect, so the browser still lands on the page; the error's message becomes the page's
//! flash message and the query parameters are dropped (post/redirect/get, as everywhere else).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
use settle_app::PageError;
use settle_app::flash::Flash;
use tower_sessions::Session;

/// Longest error body read back (a `PageError` is a sentence).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Sets a failed server function's status from its [`PageError`], or turns a no-script form
/// post's error into a flash message on the page it goes back to.
pub async fn error_status(session: Session, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if !response.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let error: Option<PageError> = serde_json::from_slice(&bytes).ok();
    if parts.status.is_redirection() {
        if let Some(error) = &error
            && let Err(e) = Flash::error(error.message.clone()).store(&session).await
        {
            tracing::warn!(error = %e, "keeping a server function's error for the page failed");
        }
        let location = parts.headers.get(header::LOCATION).and_then(|v| v.to_str().ok());
        if let Some(location) = location.and_then(without_error_info)
            && let Ok(value) = HeaderValue::from_str(&location)
        {
            parts.headers.insert(header::LOCATION, value);
        }
    } else if let Some(error) = &error {
        parts.status = error.status_code();
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// Every server function the app registered, as (path, method): what the router serves.
pub fn registered() -> Vec<(&'static str, axum::http::Method)> {
    let mut all: Vec<_> = leptos::server_fn::axum::server_fn_paths().collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    all
}

/// `location` without Leptos's `__path` and `__err` parameters, the rest of the query as it was;
/// `None` if it has none.
fn without_error_info(location: &str) -> Option<String> {
    let mut url = url::Url::parse(location).ok()?;
    let query = url.query()?;
    let is_error_info = |pair: &&str| {
        let key = pair.split('=').next().unwrap_or_default();
        key == "__path" || key == "__err"
    };
    if !query.split('&').any(|pair| is_error_info(&pair)) {
        return None;
    }
    let kept: Vec<&str> = query.split('&').filter(|pair| !is_error_info(pair)).collect();
    let kept = kept.join("&");
    url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_parameters_are_dropped_and_the_rest_kept_as_written() {
        assert_eq!(
            without_error_info(
                "http://127.0.0.1:3000/account/checkout?policy=DEMO/0001/MOTOR/WEB&__path=%2Fx&__err=e30"
            )
            .as_deref(),
            Some("http://127.0.0.1:3000/account/checkout?policy=DEMO/0001/MOTOR/WEB")
        );
        assert_eq!(
            without_error_info("http://127.0.0.1:3000/login?__path=%2Fx&__err=e30").as_deref(),
            Some("http://127.0.0.1:3000/login")
        );
        assert_eq!(without_error_info("http://127.0.0.1:3000/login?next=%2Fadmin"), None);
        assert_eq!(without_error_info("/relative?__err=x"), None);
    }
}
