//! Seed 004's pay-now calls (the purchase-order and payment services, bearer token): a
//! customer's mediums, a service's details and actions, its active medium, the off-system
//! purchase sources, paying ([`collection`]: submit for collection and the gateway's way back),
//! buy now ([`buy_now`]) and the configuration calls ([`config`]). The rules (who sees what,
//! which mediums are valid, what must be paid, what may be bought) live in
//! `settle::service_standing`, `settle::checkout`, `settle::billing` and `settle::access`;
//! `wire` holds the shapes.
//!
//! Errors are problem details like the document's 401 example: each carries the RFC section its
//! status comes from as `type` and the request's path as `instance`.

pub mod buy_now;
pub mod card_update;
pub mod collection;
pub mod config;
pub mod wire;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use settle::purchase_source::PurchaseSource;
use settle::service_standing;

use self::wire::{
    DetailsAndActions, MediumItem, MediumView, ServiceQuery, SourceItem, SourcesQuery, UserQuery,
};
use crate::api::bearer::ApiCaller;
use crate::api::routes::{GET, GET_POST, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// Seed 004's routes.
pub fn routes() -> Routes {
    let problems = |handler: MethodRouter<AppState>| handler.layer(from_fn(problem_details));
    Routes::new()
        .add_both(Guard::Bearer, GET, "/payment-mediums", problems(get(payment_mediums)))
        .add_both(
            Guard::Bearer,
            GET,
            "/services/{service_id}/details-and-actions",
            problems(get(details_and_actions)),
        )
        .add_both(
            Guard::Bearer,
            GET,
            "/active-payment-medium-for-service",
            problems(get(active_medium)),
        )
        .add_both(
            Guard::Bearer,
            GET_POST,
            "/purchases/sources",
            problems(get(purchase_sources).post(purchase_sources)),
        )
        .add_both(
            Guard::Bearer,
            POST,
            "/purchases/submit-for-collection",
            problems(post(collection::submit_for_collection)),
        )
        // The browser back from the gateway's page: Settle asks the gateway before it answers.
        .add(
            Guard::Gateway,
            GET_POST,
            "/peach-redirect/{collector_id}",
            get(collection::peach_redirect).post(collection::peach_redirect),
        )
        .add_both(Guard::Bearer, POST, "/purchases/buy-now", problems(post(buy_now::buy_now)))
        .add_both(
            Guard::Bearer,
            GET,
            "/configurations/billingScheme/Product/{product_id}",
            problems(get(config::billing_scheme)),
        )
        .add_both(Guard::Bearer, GET, "/config", problems(get(config::rules)))
        .add_both(Guard::Bearer, GET, "/default", problems(get(config::default_provider)))
        .add_both(
            Guard::Bearer,
            GET,
            "/payfast-payments/card-medium-update/{medium_detail_id}",
            problems(get(card_update::card_medium_update)),
        )
        .add(Guard::Public, GET, card_update::RETURN_PATH, get(card_update::card_update_return))
}

/// A required query parameter, or a 400 naming it.
fn required(value: Option<String>, name: &str) -> Result<String, ApiError> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("{name} is required.")))
}

/// `GET /payment-mediums?userId=`: the customer's valid mediums, then the global ones.
#[utoipa::path(
    get,
    path = "/payment-mediums",
    tag = crate::api::openapi::SEED_004,
    params(UserQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The mediums", body = Vec<crate::api::pay_now::wire::MediumItem>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn payment_mediums(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<UserQuery>,
) -> Result<Json<Vec<MediumItem>>, ApiError> {
    let user = required(query.user_id, "userId")?;
    let mediums = service_standing::mediums_of_customer(&state.db, &caller.viewer, &user).await?;
    Ok(Json(mediums.iter().map(MediumItem::from).collect()))
}

/// `GET /services/{serviceId}/details-and-actions`.
#[utoipa::path(
    get,
    path = "/services/{service_id}/details-and-actions",
    tag = crate::api::openapi::SEED_004,
    params(("service_id" = String, Path, description = "The service id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service’s details and actions", body = crate::api::pay_now::wire::DetailsAndActions, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn details_and_actions(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(service_id): Path<String>,
) -> Result<Json<DetailsAndActions>, ApiError> {
    let standing = service_standing::of_service(&state.db, &caller.viewer, &service_id).await?;
    Ok(Json(DetailsAndActions::from(&standing)))
}

/// `GET /active-payment-medium-for-service?serviceId=`: the medium, or `null` when none is set.
#[utoipa::path(
    get,
    path = "/active-payment-medium-for-service",
    tag = crate::api::openapi::SEED_004,
    params(ServiceQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The medium, or null", body = Option<crate::api::pay_now::wire::MediumView>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn active_medium(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ServiceQuery>,
) -> Result<Json<Option<MediumView>>, ApiError> {
    let service = required(query.service_id, "serviceId")?;
    let medium = service_standing::active_medium(&state.db, &caller.viewer, &service).await?;
    Ok(Json(medium.as_ref().map(MediumView::from)))
}

/// `GET`/`POST /purchases/sources?collectorId=&offSystem=true`: the channels an off-system
/// payment may be allocated from, by name.
#[utoipa::path(
    method(get, post),
    path = "/purchases/sources",
    tag = crate::api::openapi::SEED_004,
    params(SourcesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sources", body = Vec<crate::api::pay_now::wire::SourceItem>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn purchase_sources(
    State(state): State<AppState>,
    _caller: ApiCaller,
    Query(query): Query<SourcesQuery>,
) -> Result<Json<Vec<SourceItem>>, ApiError> {
    let collector = query.collector_id.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let off_system = match query.off_system.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(flag) if flag.eq_ignore_ascii_case("true") => true,
        Some(flag) if flag.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "offSystem is true or false."));
        }
    };
    let sources = PurchaseSource::list(&state.db, collector, off_system).await?;
    Ok(Json(sources.into_iter().map(SourceItem::from).collect()))
}

/// The RFC section a status is defined in, as the document's platform names it in `type`.
fn problem_type(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        400 => "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        401 => "https://tools.ietf.org/html/rfc7235#section-3.1",
        402 => "https://tools.ietf.org/html/rfc7231#section-6.5.2",
        403 => "https://tools.ietf.org/html/rfc7231#section-6.5.3",
        404 => "https://tools.ietf.org/html/rfc7231#section-6.5.4",
        409 => "https://tools.ietf.org/html/rfc7231#section-6.5.8",
        422 => "https://tools.ietf.org/html/rfc4918#section-11.2",
        500 => "https://tools.ietf.org/html/rfc7231#section-6.6.1",
        _ => return None,
    })
}

/// Adds the document's `type` and `instance` to every problem these routes answer, including
/// the bearer check's 401.
async fn problem_details(request: Request, next: Next) -> Response {
    let instance = request.uri().path().to_owned();
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(serde_json::Value::Object(mut problem)) = serde_json::from_slice(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(kind) = problem_type(parts.status) {
        problem.insert("type".into(), kind.into());
    }
    problem.insert("instance".into(), instance.into());
    let Ok(bytes) = serde_json::to_vec(&problem) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}
