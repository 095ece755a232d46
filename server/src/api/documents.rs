//! Seed 000's "Generate Tax Invoice" and "Generate Receipt": a payment's documents as PDF for
//! the merchant's API client. The seed prints the tax-invoice URL for the receipt too; that is
//! read as a copy error, so the receipt is served at `/api/v3/payment/{reference}/receipt/`
//! (README, "Tax invoice and receipt").

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use settle::document::{self, PdfFile};

use crate::api::bearer::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// The routes of this API, with and without the trailing slash the seed shows.
pub fn router(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v3/payment/{reference}/tax-invoice/", get(tax_invoice))
        .route("/api/v3/payment/{reference}/tax-invoice", get(tax_invoice))
        .route("/api/v3/payment/{reference}/receipt/", get(receipt))
        .route("/api/v3/payment/{reference}/receipt", get(receipt))
}

/// `GET /api/v3/payment/{reference}/tax-invoice/`: the payment's tax invoice.
async fn tax_invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let file = document::tax_invoice_pdf(&state.db, &reference, &caller.viewer).await?;
    Ok(pdf(file))
}

/// `GET /api/v3/payment/{reference}/receipt/`: the payment's receipt (409 before money moved).
async fn receipt(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let file = document::receipt_pdf(&state.db, &reference, &caller.viewer).await?;
    Ok(pdf(file))
}

/// A PDF answer, shown in the browser (`inline`) with a file name for saving; never cached by
/// shared caches, since it carries a customer's details.
pub fn pdf(file: PdfFile) -> Response {
    // The core keeps file names to letters, digits, '-', '_' and '.', so the header is valid.
    let disposition = HeaderValue::from_str(&format!("inline; filename=\"{}\"", file.file_name))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(document::PDF_CONTENT_TYPE)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        file.bytes,
    )
        .into_response()
}
