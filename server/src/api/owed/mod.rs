//! Settle's merchant API for what is owed (bearer, client-credentials token): customers,
//! services (a policy or an ISP service) and purchases with lines, which `POST /api/payments`
//! then pays. Each handler reads the request, calls a `settle::billing` use case and shapes
//! its answer; the rules (pricing, tax, merchant references, who sees what) live in the core.

pub mod wire;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use settle::access;
use settle::billing::{
    self, Created, CustomerInput, Limit, NewPurchase, NewService, PurchaseQuery, ServiceChoice,
};
use settle::customer::Customer;
use settle::merchant::MerchantId;
use settle::payment::Payment;
use settle::product::Product;
use settle::purchase::Purchase;
use settle::service::Service;
use settle::{Error, FieldError};

use self::wire::{
    CustomerBody, CustomerView, ListQuery, PageView, PurchaseBody, PurchaseView, ServiceBody,
    ServiceView, moment,
};
use crate::api::bearer::ApiCaller;
use crate::api::idempotency::idempotent;
use crate::api::json::ApiJson;
use crate::api::routes::{GET, GET_POST, GET_PUT, Guard, POST, Routes};
use crate::error::ApiError;
use crate::state::AppState;

/// The merchant API's routes. Creating a purchase honours `Idempotency-Key`.
pub fn routes(state: &AppState) -> Routes {
    let purchases = post(create_purchase)
        .layer(from_fn_with_state(state.clone(), idempotent))
        .get(list_purchases);
    Routes::new()
        .add_both(Guard::Bearer, GET, "/api/customers", get(list_customers))
        .add_both(
            Guard::Bearer,
            GET_PUT,
            "/api/customers/{customer_code}",
            put(upsert_customer).get(show_customer),
        )
        .add_both(Guard::Bearer, GET_POST, "/api/services", post(create_service).get(list_services))
        .add_both(Guard::Bearer, GET, "/api/services/{reference}", get(show_service))
        .add_both(Guard::Bearer, GET_POST, "/api/purchases", purchases)
        .add_both(Guard::Bearer, GET, "/api/purchases/{reference}", get(show_purchase))
        .add_both(Guard::Bearer, POST, "/api/purchases/{reference}/cancel", post(cancel_purchase))
}

/// The merchant whose system is calling; a customer's token is refused (403).
fn merchant(caller: &ApiCaller) -> Result<&MerchantId, ApiError> {
    access::merchant_system(&caller.viewer).map_err(|_| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "This API is for merchant systems: use a client-credentials token.",
        )
    })
}

/// A list's page size, or the 422 naming `limit`.
fn limit(query: &ListQuery) -> Result<Limit, ApiError> {
    Ok(Limit::parse(query.limit.as_deref()).map_err(Error::from)?)
}

/// `PUT /api/customers/{customer_code}`: creates (201) or updates (200) a customer.
#[utoipa::path(
    put,
    path = "/api/customers/{customer_code}",
    tag = crate::api::openapi::SETTLE,
    params(("customer_code" = String, Path, description = "The merchant’s customer code")),
    request_body(content = crate::api::owed::wire::CustomerBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = crate::api::owed::wire::CustomerView, content_type = "application/json"),
        (status = 201, description = "Created", body = crate::api::owed::wire::CustomerView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn upsert_customer(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<CustomerBody>,
) -> Result<Response, ApiError> {
    let merchant = merchant(&caller)?;
    let input = CustomerInput { code, name: body.name, email: body.email, phone: body.phone };
    let (customer, created) = billing::upsert_customer(&state.db, merchant, input).await?;
    let status = match created {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    };
    let location = path_with_segment("/api/customers", &customer.code);
    Ok((status, [(header::LOCATION, location)], Json(CustomerView::from(customer))).into_response())
}

/// `GET /api/customers/{customer_code}`.
#[utoipa::path(
    get,
    path = "/api/customers/{customer_code}",
    tag = crate::api::openapi::SETTLE,
    params(("customer_code" = String, Path, description = "The merchant’s customer code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The customer", body = crate::api::owed::wire::CustomerView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn show_customer(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    let customer = access::customer_by_code(&state.db, &caller.viewer, &code).await?;
    Ok(Json(customer.into()))
}

/// `GET /api/customers?after=&limit=`: the merchant's customers in code order.
#[utoipa::path(
    get,
    path = "/api/customers",
    tag = crate::api::openapi::SETTLE,
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of customers", body = crate::api::owed::wire::PageView<crate::api::owed::wire::CustomerView>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn list_customers(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ListQuery>,
) -> Result<Json<PageView<CustomerView>>, ApiError> {
    merchant(&caller)?;
    let page =
        billing::customers(&state.db, &caller.viewer, query.after.as_deref(), limit(&query)?)
            .await?;
    Ok(Json(PageView::of(page, CustomerView::from)))
}

/// `POST /api/services`: 201 with the service; 422 naming each bad field.
#[utoipa::path(
    post,
    path = "/api/services",
    tag = crate::api::openapi::SETTLE,
    request_body(content = serde_json::Value, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The service", body = crate::api::owed::wire::ServiceView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn create_service(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<ServiceBody>,
) -> Result<Response, ApiError> {
    let merchant = merchant(&caller)?;
    let mut errors = Vec::new();
    let period_start = moment(body.period_start, "period_start").map_err(|e| errors.push(e));
    let period_end = moment(body.period_end, "period_end").map_err(|e| errors.push(e));
    let (Ok(period_start), Ok(period_end)) = (period_start, period_end) else {
        return Err(Error::Validation(errors).into());
    };
    let new = NewService {
        reference: body.reference,
        customer_code: body.customer_code,
        product_code: body.product_code,
        status: body.status,
        period_start,
        period_end,
        details: body.details,
    };
    let service = billing::create_service(&state.db, merchant, new).await?;
    let location = path_with_segment("/api/services", &service.reference);
    let view = service_view(&state, service).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view)).into_response())
}

/// `base/segment` with the segment percent-encoded (policy numbers hold slashes).
fn path_with_segment(base: &str, segment: &str) -> String {
    let mut url = url::Url::parse("http://settle.invalid").expect("a valid URL");
    url.set_path(base);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.push(segment);
    }
    url.path().to_owned()
}

/// `GET /api/services/{reference}` (a reference with `/` is sent as `%2F`).
#[utoipa::path(
    get,
    path = "/api/services/{reference}",
    tag = crate::api::openapi::SETTLE,
    params(("reference" = String, Path, description = "The service reference")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The service", body = crate::api::owed::wire::ServiceView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn show_service(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Json<ServiceView>, ApiError> {
    let service = access::service_by_reference(&state.db, &caller.viewer, &reference).await?;
    Ok(Json(service_view(&state, service).await?))
}

/// `GET /api/services?customer_code=&after=&limit=`: the merchant's services in reference order.
#[utoipa::path(
    get,
    path = "/api/services",
    tag = crate::api::openapi::SETTLE,
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of services", body = crate::api::owed::wire::PageView<crate::api::owed::wire::ServiceView>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn list_services(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ListQuery>,
) -> Result<Json<PageView<ServiceView>>, ApiError> {
    merchant(&caller)?;
    let page = billing::services(
        &state.db,
        &caller.viewer,
        query.customer_code.as_deref().filter(|c| !c.trim().is_empty()),
        query.after.as_deref(),
        limit(&query)?,
    )
    .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for service in page.items {
        items.push(service_view(&state, service).await?);
    }
    Ok(Json(PageView::of(billing::Page { items, next_after: page.next_after }, |v| v)))
}

async fn service_view(state: &AppState, service: Service) -> Result<ServiceView, Error> {
    let customer = Customer::find(&state.db, &service.customer_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("service {} has no customer", service.id)))?;
    let product = Product::find(&state.db, &service.product_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
    Ok(ServiceView::new(service, customer.code, product.code))
}

/// `POST /api/purchases`: 201 with a new purchase; 200 with the earlier one when its
/// `merchant_reference` was used before for the same purchase; 409 when for another.
#[utoipa::path(
    post,
    path = "/api/purchases",
    tag = crate::api::openapi::SETTLE,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key answers the first outcome")),
    request_body(content = serde_json::Value, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The earlier purchase with this merchant_reference", body = crate::api::owed::wire::PurchaseView, content_type = "application/json"),
        (status = 201, description = "The new purchase", body = crate::api::owed::wire::PurchaseView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn create_purchase(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<PurchaseBody>,
) -> Result<Response, ApiError> {
    let merchant = merchant(&caller)?;
    let service = match (body.service_reference, body.product_code) {
        (Some(reference), None) => ServiceChoice::Existing { reference },
        (None, Some(product_code)) => ServiceChoice::ForProduct { product_code },
        _ => {
            return Err(Error::from(FieldError::new(
                "service_reference",
                "name the service (service_reference) or the product (product_code), one of them",
            ))
            .into());
        }
    };
    let new = NewPurchase {
        customer_code: body.customer_code,
        service,
        lines: body.lines.into_iter().map(Into::into).collect(),
        merchant_reference: body.merchant_reference,
        campaign: body.campaign,
        details: body.details,
    };
    let (purchase, created) = billing::create_purchase(&state.db, merchant, new).await?;
    let status = match created {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    };
    let location = path_with_segment("/api/purchases", &purchase.reference);
    let view = purchase_view(&state, purchase, false).await?;
    Ok((status, [(header::LOCATION, location)], Json(view)).into_response())
}

/// `GET /api/purchases/{reference}`: lines, tax, totals, status and its payments.
#[utoipa::path(
    get,
    path = "/api/purchases/{reference}",
    tag = crate::api::openapi::SETTLE,
    params(("reference" = String, Path, description = "The purchase reference")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The purchase", body = crate::api::owed::wire::PurchaseView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn show_purchase(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Json<PurchaseView>, ApiError> {
    let (purchase, service) =
        billing::purchase_by_reference(&state.db, &caller.viewer, &reference).await?;
    let payments = Payment::for_purchase(&state.db, &purchase.id).await?;
    Ok(Json(PurchaseView::new(purchase, service.reference, Some(&payments))))
}

/// `GET /api/purchases?customer_code=&status=&after=&limit=`: oldest first.
#[utoipa::path(
    get,
    path = "/api/purchases",
    tag = crate::api::openapi::SETTLE,
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of purchases", body = crate::api::owed::wire::PageView<crate::api::owed::wire::PurchaseView>, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn list_purchases(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ListQuery>,
) -> Result<Json<PageView<PurchaseView>>, ApiError> {
    merchant(&caller)?;
    let status = match query.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse().map_err(Error::from)?),
        None => None,
    };
    let limit = limit(&query)?;
    let filter = PurchaseQuery { customer_code: query.customer_code, status, after: query.after };
    let page = billing::purchases(&state.db, &caller.viewer, filter, limit).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for purchase in page.items {
        items.push(purchase_view(&state, purchase, false).await?);
    }
    Ok(Json(PageView::of(billing::Page { items, next_after: page.next_after }, |v| v)))
}

/// `POST /api/purchases/{reference}/cancel`: the cancelled purchase; 409 when it is paid or
/// being paid.
#[utoipa::path(
    post,
    path = "/api/purchases/{reference}/cancel",
    tag = crate::api::openapi::SETTLE,
    params(("reference" = String, Path, description = "The purchase reference")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled purchase", body = crate::api::owed::wire::PurchaseView, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn cancel_purchase(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Json<PurchaseView>, ApiError> {
    let (purchase, _) =
        billing::purchase_by_reference(&state.db, &caller.viewer, &reference).await?;
    merchant(&caller)?;
    let cancelled = billing::cancel_purchase(&state.db, &caller.viewer, &purchase.id).await?;
    Ok(Json(purchase_view(&state, cancelled, true).await?))
}

async fn purchase_view(
    state: &AppState,
    purchase: Purchase,
    with_payments: bool,
) -> Result<PurchaseView, Error> {
    let service = Service::find(&state.db, &purchase.service_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("purchase {} has no service", purchase.id)))?;
    let payments = match with_payments {
        true => Some(Payment::for_purchase(&state.db, &purchase.id).await?),
        false => None,
    };
    Ok(PurchaseView::new(purchase, service.reference, payments.as_deref()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn locations_escape_slashes() {
        assert_eq!(
            super::path_with_segment("/api/services", "DEMO/0001/MOTOR/WEB"),
            "/api/services/DEMO%2F0001%2FMOTOR%2FWEB"
        );
    }
}
