//! Seed 004's card update: `GET /payfast-payments/card-medium-update/{mediumDetailId}` answers
//! the gateway's card-update page (`pay_fast_url`, which takes `?return={returnUrl}`), and the
//! gateway sends the customer back to `GET /card-updates/{id}/return`, where Settle asks the
//! gateway how the update ended before the customer goes on to the return URL. The rules live
//! in `settle::billing::card_update`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use serde::Deserialize;
use settle::billing::card_update::{self, CardUpdateId};

use super::wire::CardUpdateUrl;
use crate::api::bearer::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// Where the gateway sends the customer back to after a card update (`{id}`: Settle's id).
pub const RETURN_PATH: &str = "/card-updates/{id}/return";

/// `GET /payfast-payments/card-medium-update/{mediumDetailId}`.
#[utoipa::path(
    get,
    path = "/payfast-payments/card-medium-update/{medium_detail_id}",
    tag = crate::api::openapi::SEED_004,
    params(("medium_detail_id" = String, Path, description = "The medium detail id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The card-update URL", body = crate::api::pay_now::wire::CardUpdateUrl, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn card_medium_update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(medium_id): Path<String>,
) -> Result<Json<CardUpdateUrl>, ApiError> {
    let started =
        card_update::start(&state.payments, &caller.viewer, &medium_id, RETURN_PATH).await?;
    Ok(Json(CardUpdateUrl { pay_fast_url: started.url.to_string() }))
}

/// What the gateway adds to Settle's return URL; only `return` (the client's way back) is used:
/// the outcome is asked of the gateway.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnQuery {
    #[serde(default, rename = "return")]
    return_to: Option<String>,
}

/// `GET /card-updates/{id}/return`: settles the update with the gateway's answer, then sends the
/// customer to the client's return URL (a registered origin) or Settle's account page.
#[utoipa::path(
    get,
    path = RETURN_PATH,
    tag = crate::api::openapi::CALLBACKS,
    params(("id" = String, Path, description = "Settle’s card-update id"), ReturnQuery),
    responses(
        (status = 303, description = "On to the client’s return URL"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn card_update_return(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ReturnQuery>,
) -> Result<Redirect, ApiError> {
    let update = card_update::finish(&state.payments, &CardUpdateId::from_string(id)).await?;
    let to = card_update::way_back(&state.db, &update, query.return_to.as_deref()).await?;
    Ok(Redirect::to(&to))
}
