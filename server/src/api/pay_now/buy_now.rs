//! `POST /purchases/buy-now`: the priced quote for day bundles or months ahead, made by
//! `settle::checkout::buy_now` from the service's billing scheme. A client figure that disagrees
//! with Settle's price is a 422 whose `detail` names the field and gives Settle's figure.

use axum::Json;
use axum::extract::State;
use settle::checkout::buy_now;

use super::wire::{BuyNowBody, PurchaseView};
use crate::api::bearer::ApiCaller;
use crate::api::json::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /purchases/buy-now`.
#[utoipa::path(
    post,
    path = "/purchases/buy-now",
    tag = crate::api::openapi::SEED_004,
    request_body(content = serde_json::Value, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The purchase", body = crate::api::pay_now::wire::PurchaseView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn buy_now(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<BuyNowBody>,
) -> Result<Json<PurchaseView>, ApiError> {
    match buy_now::buy_now(&state.db, &caller.viewer, body.into()).await {
        Ok(quote) => Ok(Json(PurchaseView::of_quote(&quote))),
        Err(settle::Error::Validation(errors)) => {
            let detail = match errors.as_slice() {
                [] => "The request has invalid fields.".to_owned(),
                [only] => format!("{}: {}", only.field, only.message),
                [first, rest @ ..] => format!(
                    "{}: {} (and {} more: see errors)",
                    first.field,
                    first.message,
                    rest.len()
                ),
            };
            Err(ApiError::from(settle::Error::Validation(errors)).with_detail(detail))
        }
        Err(e) => Err(e.into()),
    }
}
