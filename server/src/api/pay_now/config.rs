//! Seed 004's configuration calls: a product's billing scheme, the operator's rules (the
//! operator is the merchant of the bearer token) and the default provider per medium type. The
//! rules live in `settle::billing::config`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use settle::billing::config;
use settle::payment_method::MethodKind;

use super::wire::{ConfigQuery, DefaultProvider, DefaultQuery, RulesView, SchemeView};
use crate::api::bearer::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /configurations/billingScheme/Product/{productId}`.
#[utoipa::path(
    get,
    path = "/configurations/billingScheme/Product/{product_id}",
    tag = crate::api::openapi::SEED_004,
    params(("product_id" = String, Path, description = "The product id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The billing scheme", body = crate::api::pay_now::wire::SchemeView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn billing_scheme(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(product_id): Path<String>,
) -> Result<Json<SchemeView>, ApiError> {
    let scheme = config::product_scheme(&state.db, &caller.viewer, &product_id).await?;
    Ok(Json(SchemeView::from(&scheme)))
}

/// `GET /config[?productId=]`: the operator's rules.
#[utoipa::path(
    get,
    path = "/config",
    tag = crate::api::openapi::SEED_004,
    params(ConfigQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules", body = crate::api::pay_now::wire::RulesView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn rules(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ConfigQuery>,
) -> Result<Json<RulesView>, ApiError> {
    let rules =
        config::operator_rules(&state.db, &caller.viewer, query.product_id.as_deref()).await?;
    Ok(Json(RulesView::from(&rules)))
}

/// `GET /default?mediumType=1|2`: the default provider for bank accounts (1) or cards (2).
#[utoipa::path(
    get,
    path = "/default",
    tag = crate::api::openapi::SEED_004,
    params(DefaultQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{id}", body = crate::api::pay_now::wire::DefaultProvider, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn default_provider(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<DefaultQuery>,
) -> Result<Json<DefaultProvider>, ApiError> {
    let (kind, id) = match query.medium_type.as_deref().map(str::trim) {
        Some("1") => (MethodKind::BankAccount, 1),
        Some("2") => (MethodKind::Card, 2),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "mediumType is 1 (bank account) or 2 (credit card).",
            ));
        }
    };
    let gateway = config::default_provider(&state.db, &caller.viewer, kind).await?;
    Ok(Json(DefaultProvider::new(&gateway, kind, id)))
}
