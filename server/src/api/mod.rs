//! Every byte on the wire for merchant systems and gateways: Settle's own API, one folder per
//! seed dialect (its routes in `mod.rs`, its request and response shapes in `wire.rs`), the
//! gateways' callbacks, and what they share (bearer tokens, idempotency, bodies, errors). Each
//! handler reads the request, calls a core use case and shapes its answer; no rule lives here.

pub mod bearer;
pub mod body;
pub mod callbacks;
pub mod campaign_orders;
pub mod fallback;
pub mod health;
pub mod idempotency;
pub mod insurance_checkout;
pub mod invoice_payments;
pub mod json;
pub mod oauth;
pub mod openapi;
pub mod operations;
pub mod owed;
pub mod pay_now;
pub mod payments;
pub mod pdf;
pub mod quote_payments;
pub mod routes;
pub mod webhooks;

use axum::Router;

use crate::state::AppState;

use self::routes::{Route, Routes};

/// All the API's routes, each with its guard.
pub fn routes(state: &AppState) -> Routes {
    Routes::new()
        .merge(health::routes())
        .merge(oauth::routes())
        .merge(callbacks::routes())
        .merge(payments::routes(state))
        .merge(owed::routes(state))
        .merge(insurance_checkout::routes(state))
        .merge(quote_payments::routes(state))
        .merge(webhooks::routes())
        .merge(campaign_orders::routes(state))
        .merge(invoice_payments::routes())
        .merge(pay_now::routes())
        .merge(openapi::routes())
        .merge(operations::routes())
}

/// The API's router.
pub fn router(state: &AppState) -> Router<AppState> {
    routes(state).into_parts().0
}

/// The API's route table (method, path, guard), for tests and documentation.
pub fn route_table(state: &AppState) -> Vec<Route> {
    routes(state).into_parts().1
}
