//! Seed 004's pay now: `POST /purchases/submit-for-collection` and the gateway's way back,
//! `/peach-redirect/{collectorId}?url=…`. The rules are `settle::checkout::collection`'s; here
//! are the document's field names, status codes and words.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use settle::checkout::collection::{self, Collected, Submission};
use settle::payment_method::MethodKind;

use super::wire::{CollectionAnswer, RedirectParams, SubmitForCollection};
use crate::api::bearer::ApiCaller;
use crate::api::json::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;

/// The path of the collection's way back (`{collector}` is the collector's id).
pub const PEACH_REDIRECT: &str = "/peach-redirect/{collector}";

/// A required field of the body, or a 400 naming it.
fn field(value: Option<String>, name: &str) -> Result<String, ApiError> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("{name} is required.")))
}

/// The core's refusals in this dialect's words: invalid fields are 400s naming them (the
/// document's platform answers validation errors so), and the one thing a caller may not do
/// here is allocate off-system as a customer.
fn refused(e: settle::Error) -> ApiError {
    match e {
        settle::Error::Validation(errors) => {
            let detail = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            ApiError::new(StatusCode::BAD_REQUEST, detail)
        }
        settle::Error::Forbidden => ApiError::new(
            StatusCode::FORBIDDEN,
            "Only the merchant's system or staff can allocate an off-system payment: a customer can't mark their own purchase paid.",
        ),
        other => ApiError::from(other),
    }
}

/// `POST /purchases/submit-for-collection`: collects the purchase with the chosen medium now,
/// or sends the customer to a page (`payment_link_url`), or records an off-system allocation.
#[utoipa::path(
    post,
    path = "/purchases/submit-for-collection",
    tag = crate::api::openapi::SEED_004,
    request_body(content = SubmitForCollection, content_type = "application/json", description = "service_id, medium_id, success_url, failure_url, process_immediate_purchase, purchase_id, purchase_source_id, comment"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{payment_link_url}", body = crate::api::pay_now::wire::CollectionAnswer, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "A problem object", content_type = "application/problem+json"),
    )
)]
pub async fn submit_for_collection(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<SubmitForCollection>,
) -> Result<Json<CollectionAnswer>, ApiError> {
    let submission = Submission {
        service_id: field(body.service_id, "service_id")?,
        purchase_id: field(body.purchase_id, "purchase_id")?,
        medium_id: field(body.medium_id, "medium_id")?,
        process_immediate_purchase: body.process_immediate_purchase.unwrap_or(true),
        success_url: body.success_url,
        failure_url: body.failure_url,
        purchase_source_id: body.purchase_source_id,
        comment: body.comment,
    };
    let collected =
        collection::submit(&state.payments, &caller.viewer, submission).await.map_err(refused)?;
    if let Collected::Declined(payment) = &collected {
        let reason = payment.failure_reason.as_deref().unwrap_or("declined");
        let what = match payment.card.as_ref() {
            Some(_) => "The card was declined",
            None if medium_is(&state, payment, MethodKind::BankAccount).await => {
                "The bank declined the collection"
            }
            None => "The card was declined",
        };
        return Err(ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            format!(
                "{what} ({reason}). Nothing was taken and the purchase is still owed: try another medium."
            ),
        ));
    }
    Ok(Json(CollectionAnswer { payment_link_url: collected.payment_link_url().map(str::to_owned) }))
}

/// Whether the payment was made with a saved medium of this kind.
async fn medium_is(state: &AppState, payment: &settle::payment::Payment, kind: MethodKind) -> bool {
    let Some(id) = &payment.payment_method_id else { return false };
    matches!(
        settle::payment_method::PaymentMethod::find(&state.db, id).await,
        Ok(Some(m)) if m.kind == kind
    )
}

/// `GET`/`POST /peach-redirect/{collectorId}?url=…`: the browser back from the gateway's page.
/// Answers `303` to `url` ending in `1` if the payment really succeeded, `0` otherwise; `url`
/// must be on an origin of the collector's merchant (a `400` page otherwise), and an unknown
/// collector is a `404` page.
#[utoipa::path(
    method(get, post),
    path = "/peach-redirect/{collector_id}",
    tag = crate::api::openapi::CALLBACKS,
    params(("collector_id" = String, Path, description = "The collector"), RedirectParams),
    responses(
        (status = 303, description = "On to url with the outcome"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn peach_redirect(
    State(state): State<AppState>,
    Path(collector): Path<String>,
    Query(query): Query<RedirectParams>,
    form: Result<Form<RedirectParams>, FormRejection>,
) -> Response {
    // A gateway that posts the browser back may put the reference in the body.
    let posted = form.map(|Form(f)| f).unwrap_or_default();
    let Some(url) = query.url.as_deref().or(posted.url.as_deref()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "The link is incomplete: it has no url to send you back to.",
        );
    };
    let reference = query.reference().or(posted.reference());
    match collection::payment_return(&state.payments, &collector, url, reference).await {
        Ok(next) => (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response(),
        Err(settle::Error::NotFound(_)) => {
            page(StatusCode::NOT_FOUND, "This payment link names no collector we know.")
        }
        Err(settle::Error::Validation(errors)) => {
            let why = errors.first().map(|e| e.message.clone()).unwrap_or_default();
            page(
                StatusCode::BAD_REQUEST,
                &format!("We can't send you back to that page: its address {why}."),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "collection return failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Your payment is safe: check your account for its outcome.",
            )
        }
    }
}

/// A plain page with one sentence, for a browser that can't be sent on.
fn page(status: StatusCode, sentence: &str) -> Response {
    let escaped = sentence
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Payment</title></head>\n<body><h1>We can't take you back</h1><p>{escaped}</p></body></html>\n"
    );
    (status, Html(html)).into_response()
}
