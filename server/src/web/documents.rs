//! The customer's downloads of their tax invoices and receipts (the same documents the seed 000
//! API serves to merchants, checked against the logged-in customer instead).

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use settle::access::Viewer;
use settle::document;
use settle_app::auth::CurrentUser;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /account/payments/{reference}/tax-invoice.pdf`
pub async fn tax_invoice(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = viewer_of(user)?;
    let file = document::tax_invoice_pdf(&state.db, &reference, &viewer).await?;
    Ok(crate::api::pdf::answer(file))
}

/// `GET /account/payments/{reference}/receipt.pdf`
pub async fn receipt(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = viewer_of(user)?;
    let file = document::receipt_pdf(&state.db, &reference, &viewer).await?;
    Ok(crate::api::pdf::answer(file))
}

/// The guard has already required a customer login under `/account`; this just reads it.
fn viewer_of(user: Option<Extension<CurrentUser>>) -> Result<Viewer, ApiError> {
    let Some(Extension(CurrentUser(user))) = user else {
        return Err(ApiError::from(settle::Error::Forbidden));
    };
    Ok(Viewer::of_user(&user)?)
}
