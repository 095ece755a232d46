//! The `Idempotency-Key` layer for routes that can move money (Stripe's semantics; the rules
//! live in `settle::idempotency`). The key is scoped to the caller: the merchant of the bearer
//! token, else the client address.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use settle::idempotency::{self, Claim, StoredResponse};
use settle_app::auth::ClientAddr;

use crate::error::ApiError;
use crate::state::AppState;

/// Header naming the key.
pub const HEADER: &str = "idempotency-key";
/// Largest request or response body the layer buffers.
const MAX_BODY: usize = 1024 * 1024;
/// How long a first request holds its key before a crashed attempt may be taken over.
const LOCK_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the request once per key; replays, refuses mismatches (422) and concurrent duplicates (409).
pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(raw_key) =
        request.headers().get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned)
    else {
        return next.run(request).await;
    };
    let key = match idempotency::parse_key(&raw_key) {
        Ok(key) => key,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Read what the scope needs before awaiting: a `&Request` held across an await isn't Send.
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let client = request.extensions().get::<ClientAddr>().map(|c| c.0.clone()).unwrap_or_default();
    let scope = scope_of(&state, bearer, client).await;
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.")
            .into_response();
    };
    // The query is part of the request (seed 000's token endpoint is a GET with parameters).
    let target =
        parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or_else(|| parts.uri.path());
    let fingerprint = idempotency::fingerprint(parts.method.as_str(), target, &bytes);
    match idempotency::claim(&state.db, &scope, &key, &fingerprint, LOCK_FOR).await {
        Ok(Claim::Run) => {}
        Ok(Claim::Replay(stored)) => return replay(stored),
        Ok(Claim::Mismatch) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "This Idempotency-Key was used for a different request. Use a new key for a new request.",
            )
            .into_response();
        }
        Ok(Claim::InProgress) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "A request with this Idempotency-Key is still being processed. Retry after it finishes.",
            )
            .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        let _ = idempotency::release(&state.db, &scope, &key).await;
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The response could not be stored.",
        )
        .into_response();
    };
    if parts.status.is_server_error() {
        // Our failure, before any answer the client could rely on: let them retry with the key.
        let _ = idempotency::release(&state.db, &scope, &key).await;
    } else {
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        if let Err(e) = idempotency::finish(&state.db, &scope, &key, &stored).await {
            tracing::error!(error = %e, "storing an idempotent response failed");
        }
    }
    parts.headers.insert("idempotent-replayed", HeaderValue::from_static("false"));
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

async fn scope_of(state: &AppState, bearer: Option<String>, client: String) -> String {
    if let Some(token) = bearer
        && let Ok(principal) = settle::api_token::authenticate(&state.db, &token).await
    {
        return format!("merchant:{}", principal.merchant_id);
    }
    format!("client:{client}")
}
