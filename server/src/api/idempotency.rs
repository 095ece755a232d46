//! The `Idempotency-Key` layer for routes that can move money (Stripe's semantics; the rules
//! live in `settle::idempotency`). The key is scoped to the caller: the token's merchant, and
//! its customer for a customer's token (else the client address). Handlers receive the scoped
//! key as [`IdempotencyKey`] and pass it to the core, which ties it to the payment it starts:
//! a retry after a crash finds that payment instead of starting another.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use settle::idempotency::{self, Claim, StoredResponse};
use settle_app::auth::ClientAddr;

use crate::api::bearer::{ApiCaller, bearer_token};
use crate::error::ApiError;
use crate::state::AppState;

/// Header naming the key.
pub const HEADER: &str = "idempotency-key";
/// Largest request or response body the layer buffers.
const MAX_BODY: usize = 1024 * 1024;
/// How long a first request holds its key before a crashed attempt may be taken over: longer
/// than a request takes (gateway calls time out after 10 s by default). The takeover is safe
/// whenever it happens: a payment the first run started is found by the key, never started
/// again; one already settled lets a retry take the key over at once.
const LOCK_FOR: std::time::Duration = std::time::Duration::from_secs(15);

/// The scoped, hashed key of the request being handled, if it carried one.
#[derive(Clone, Debug, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<IdempotencyKey>().cloned().unwrap_or_default())
    }
}

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
    let (mut parts, body) = request.into_parts();
    let scope = match bearer_token(&parts.headers) {
        Some(token) => match ApiCaller::authenticate(&state, Some(token)).await {
            Ok(caller) => {
                let scope = caller.scope();
                parts.extensions.insert(caller);
                scope
            }
            Err(refused) => return refused,
        },
        None => {
            let client = parts.extensions.get::<ClientAddr>().map(|c| c.0.clone());
            format!("client:{}", client.unwrap_or_default())
        }
    };
    let scoped = idempotency::scoped_key(&scope, &key);
    parts.extensions.insert(IdempotencyKey(Some(scoped.clone())));
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.")
            .into_response();
    };
    // The query is part of the request (seed 000's token endpoint is a GET with parameters).
    let target =
        parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or_else(|| parts.uri.path());
    let fingerprint =
        idempotency::fingerprint(&state.idempotency_secret, parts.method.as_str(), target, &bytes);
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
        Ok(Claim::InProgress) if settled_attempt(&state, &scoped).await => {
            if let Err(e) = idempotency::take_over(&state.db, &scope, &key, LOCK_FOR).await {
                return ApiError::from(e).into_response();
            }
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
    if StoredResponse::is_replayable(parts.status.as_u16()) {
        let header_text =
            |name| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            content_type: header_text(header::CONTENT_TYPE),
            location: header_text(header::LOCATION),
        };
        if let Err(e) = idempotency::finish(&state.db, &scope, &key, &stored).await {
            tracing::error!(error = %e, "storing an idempotent response failed");
        }
    } else {
        // Not an answer to keep (see `is_replayable`): the key is free for a retry, which finds
        // any payment this run started by the key.
        let _ = idempotency::release(&state.db, &scope, &key).await;
    }
    parts.headers.insert("idempotent-replayed", HeaderValue::from_static("false"));
    Response::from_parts(parts, Body::from(bytes))
}

/// Whether the request holding this key started a payment that is settled: its answer can then
/// be given from the payment, whether or not that request is still alive.
async fn settled_attempt(state: &AppState, scoped_key: &str) -> bool {
    matches!(
        settle::payment::Payment::find_by_idempotency_key(&state.db, scoped_key).await,
        Ok(Some(payment)) if payment.state != settle::payment::PaymentState::Processing
    )
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    let content_type = stored.content_type.as_deref().unwrap_or("application/json");
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(location) = stored.location.as_deref().and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
