//! Seed 001's invoice payment system: the merchant's invoice system creates a payment
//! (`POST /api/v1/payment`, a token from its API login's password grant), then sends its
//! customer to the Keycloak-style authorization URL, which leads through Settle's login to the
//! hosted pay page (`/api/v1/pay/{type}/{merchantReference}/{invoiceId}`, rendered by the
//! customer pages at `/account/invoices/{invoiceId}`). The rules live in the core
//! (`settle::billing` creates the invoice, `settle::checkout` pays it); `wire` holds the
//! document's shapes.

pub mod wire;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use settle::access::Viewer;
use settle::billing::{LineAmount, NewPurchase, NewPurchaseLine, ServiceChoice};
use settle::checkout::ReturnTo;
use settle::checkout::return_to;
use settle::merchant::Merchant;

use self::wire::{InvoiceApiError, PaymentObject};
use crate::api::bearer::ApiCaller;
use crate::api::routes::{GET, Guard, POST, Routes};
use crate::state::AppState;

/// The path of Settle's hosted pay page, as the document spells it (before its arguments).
pub const PAY_PATH: &str = "/api/v1/pay/";

/// The routes of this API: the document's paths, with and without the trailing slash.
pub fn routes() -> Routes {
    Routes::new()
        .add_both(Guard::Bearer, POST, "/api/v1/payment", post(create_payment))
        .add(
            Guard::Public,
            GET,
            "/auth/realms/{realm}/protocol/openid-connect/auth",
            get(authorize),
        )
        .add_both(
            Guard::Public,
            GET,
            "/api/v1/pay/{type}/{merchant_reference}/{invoice_id}",
            get(pay_page),
        )
}

/// `POST /api/v1/payment`: creates the invoice, or answers the one the same `merchantReference`
/// made before. 200 `{invoiceId, merchantReference}`; 400 `{message, field}` naming the field;
/// 404 for an unknown `type` or `customerCode`; 403 for a token that isn't a merchant's.
#[utoipa::path(
    post,
    path = "/api/v1/payment",
    tag = crate::api::openapi::SEED_001,
    request_body(content = serde_json::Value, content_type = "application/json", description = "amount, type, customerCode, merchantReference, redirectionUrl, itemName, beneficiaryCode, additionalFields"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{invoiceId, merchantReference}", body = crate::api::invoice_payments::wire::Created, content_type = "application/json"),
        (status = 401, description = "No valid bearer token"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn create_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: Bytes,
) -> Result<Json<wire::Created>, InvoiceApiError> {
    let Viewer::Merchant(merchant) = &caller.viewer else {
        return Err(settle::Error::Forbidden.into());
    };
    let object = PaymentObject::parse(&body)?;
    // Back to the merchant only once paid; a failed payment stays on the pay page to retry.
    let way_back = return_to::for_merchant(
        &state.db,
        merchant,
        ReturnTo::AfterSuccess { url: object.redirection_url.clone() },
        "redirectionUrl",
    )
    .await?;
    let new = NewPurchase {
        customer_code: object.customer_code.clone(),
        service: ServiceChoice::ForProduct { product_code: object.product_code.clone() },
        lines: vec![NewPurchaseLine {
            description: object.item_name.clone(),
            quantity: 1,
            amount: Some(LineAmount::Decimal(object.amount.to_string())),
        }],
        merchant_reference: Some(object.merchant_reference.clone()),
        campaign: None,
        details: object.details(),
    };
    let (purchase, _) = settle::billing::create_purchase(&state.db, merchant, new)
        .await
        .map_err(wire::seed_names)?;
    return_to::keep_for_purchase(&state.db, &purchase.id, &way_back).await?;
    Ok(Json(wire::Created {
        invoice_id: purchase.reference,
        merchant_reference: purchase.merchant_reference.unwrap_or(object.merchant_reference),
    }))
}

/// The authorization request's arguments.
#[derive(Debug, Deserialize)]
pub struct AuthQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
}

/// `GET /auth/realms/{realm}/protocol/openid-connect/auth?client_id=…&redirect_uri=…`: sends the
/// customer on to `redirect_uri` if it is Settle's own pay page (whose customer pages ask them
/// to log in first) or on an origin the client's merchant registered; anything else is refused
/// with a page that says why.
#[utoipa::path(
    get,
    path = "/auth/realms/{realm}/protocol/openid-connect/auth",
    tag = crate::api::openapi::SEED_001,
    params(("realm" = String, Path, description = "The realm (any)"), ("client_id" = Option<String>, Query, description = "The client"), ("redirect_uri" = Option<String>, Query, description = "Where to send the customer")),
    responses(
        (status = 303, description = "On to redirect_uri"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn authorize(
    State(state): State<AppState>,
    Path(_realm): Path<String>,
    Query(query): Query<AuthQuery>,
) -> Result<Response, InvoiceApiError> {
    let client = query.client_id.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let Some(client) = client else {
        return Ok(refused("The link names no client (client_id)."));
    };
    let Some(merchant) = Merchant::by_client_id(&state.db, client).await? else {
        return Ok(refused("The link names a client Settle doesn't know (client_id)."));
    };
    let Some(raw) = query.redirect_uri.as_deref().map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(refused("The link doesn't say where to go (redirect_uri)."));
    };
    let Ok(target) = url::Url::parse(raw) else {
        return Ok(refused("The link's redirect_uri is not an absolute URL."));
    };
    let public = url::Url::parse(&state.config.public_url()).ok();
    let ours = public.is_some_and(|p| p.origin() == target.origin());
    if ours && target.path().starts_with(PAY_PATH) {
        // Settle's own page: a plain local path, so it can't lead anywhere else.
        let local = match target.query() {
            Some(q) => format!("{}?{q}", target.path()),
            None => target.path().to_owned(),
        };
        return Ok(Redirect::to(&local).into_response());
    }
    if merchant.allows_return_to(&target) {
        return Ok(Redirect::to(target.as_str()).into_response());
    }
    Ok(refused(&format!(
        "The link would send you to {}, which {} has not registered with Settle.",
        target.origin().ascii_serialization(),
        merchant.name
    )))
}

/// The page a refused authorization request shows (400): what was wrong, and no way onward.
fn refused(why: &str) -> Response {
    let why = html_escape::encode_text(why);
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>This payment link can't be used · Settle</title><link rel="stylesheet" href="/style/settle.css"></head>
<body><main class="page"><section class="card narrow"><h1>This payment link can't be used</h1>
<p>{why}</p><p>Nothing was paid. Go back to the site that sent you here and ask it for a new payment link.</p>
</section></main></body></html>"#
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

/// `GET /api/v1/pay/{type}/{merchantReference}/{invoiceId}`: the hosted pay page, which the
/// customer pages serve (they ask the customer to log in, and show the invoice only to its
/// customer). Nothing is looked up here, so an anonymous caller learns nothing of an invoice.
#[utoipa::path(
    get,
    path = "/api/v1/pay/{type}/{merchant_reference}/{invoice_id}",
    tag = crate::api::openapi::SEED_001,
    params(("type" = String, Path, description = "The product code"), ("merchant_reference" = String, Path, description = "The merchant reference"), ("invoice_id" = String, Path, description = "The invoice id")),
    responses(
        (status = 303, description = "On to the customer’s pay page"),
        (status = "4XX", description = "Refused: the answer names the problem"),
    )
)]
pub async fn pay_page(
    Path((kind, merchant_reference, invoice_id)): Path<(String, String, String)>,
) -> Redirect {
    Redirect::to(&settle_app::links::invoice_href(&invoice_id, &kind, &merchant_reference))
}
