//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::api::routes::{GET, Guard, Routes};
use crate::state::AppState;

/// Liveness and readiness, open to anyone (load balancers, orchestrators).
pub fn routes() -> Routes {
    Routes::new().add(Guard::Public, GET, "/healthz", get(healthz)).add(
        Guard::Public,
        GET,
        "/readyz",
        get(readyz),
    )
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = crate::api::openapi::SETTLE,
    responses((status = 200, description = "The process is up", content_type = "application/json"))
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The server can serve requests: its database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = crate::api::openapi::SETTLE,
    responses(
        (status = 200, description = "Ready: the database answers", content_type = "application/json"),
        (status = 503, description = "Not ready", content_type = "application/json"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let backend = state.db.backend().name();
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "database": backend }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": backend })),
            )
        }
    }
}
