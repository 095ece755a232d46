//! `/metrics`: the Prometheus scrape. Open in development; in production it answers only the
//! bearer `metrics_token`, or, when none is set, a loopback client that no proxy forwarded (a
//! proxy on the same host would otherwise make every visitor look local).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api::bearer::{bearer_token, challenge};
use crate::api::routes::{GET, Guard, Routes};
use crate::config::Mode;
use crate::error::ApiError;
use crate::state::AppState;

/// The scrape route, behind the operations guard.
pub fn routes() -> Routes {
    Routes::new().add(Guard::Operations, GET, "/metrics", get(metrics))
}

/// Every series in the Prometheus text format; the job queue's depth and age are read now.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = crate::api::openapi::SETTLE,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "Production: the metrics token is missing or wrong"),
        (status = 403, description = "Production without a token: only local clients may scrape"),
    )
)]
pub async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    if let Some(refusal) = refusal(&state, &request) {
        return refusal;
    }
    match settle::job::depth(&state.db).await {
        Ok(queue) => settle::telemetry::job_queue(queue.waiting, queue.oldest_due),
        Err(e) => tracing::warn!(error = %e, "reading the job queue for /metrics failed"),
    }
    let body = crate::telemetry::metrics().render();
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Why this request may not scrape, as its answer; `None` when it may.
fn refusal(state: &AppState, request: &Request) -> Option<Response> {
    if state.config.mode == Mode::Development {
        return None;
    }
    if let Some(expected) = &state.config.metrics_token {
        let expected = settle::secret::hash(expected);
        return match bearer_token(request.headers()) {
            Some(sent) if settle::secret::matches(sent, &expected) => None,
            _ => Some(challenge(ApiError::unauthorized(
                "Send the metrics token: Authorization: Bearer <metrics_token>.",
            ))),
        };
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded =
        ["forwarded", "x-forwarded-for"].iter().any(|h| request.headers().contains_key(*h));
    if peer.is_some_and(|ip| ip.is_loopback()) && !forwarded {
        return None;
    }
    Some(
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Metrics answer local clients only; set `metrics_token` to scrape from elsewhere.",
        )
        .into_response(),
    )
}
