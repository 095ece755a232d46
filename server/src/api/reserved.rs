//! Paths of dialects to come, reserved so that requests for them don't fall into another
//! dialect's handlers (seed 002's `api/v1/payments/orders` and `.../payment_methods` share
//! their prefix with seed 003's `api/v1/payments/{uuid}/`).

use axum::http::StatusCode;
use axum::routing::get;

use crate::api::bearer::ApiCaller;
use crate::api::routes::{GET, GET_POST, Guard, Routes};
use crate::error::ApiError;

/// Seed 002's paths, each with and without the trailing slash.
pub fn routes() -> Routes {
    Routes::new()
        .add_both(Guard::Bearer, GET_POST, "/api/v1/payments/orders/", get(not_yet).post(not_yet))
        .add_both(Guard::Bearer, GET, "/api/v1/payments/orders/total/", get(not_yet))
        .add_both(Guard::Bearer, GET, "/api/v1/payments/payment_methods/", get(not_yet))
        .add_both(Guard::Bearer, GET, "/api/v1/payments/payment_methods/{id}/", get(not_yet))
}

/// 501 (after the token is checked): the orders API isn't served by this version of Settle.
async fn not_yet(_caller: ApiCaller) -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "The orders API is not available on this server yet.",
    )
}
