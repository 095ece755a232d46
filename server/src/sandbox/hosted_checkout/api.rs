//! The sandbox hosted-checkout provider's API: checkouts, lookups and lists, cancelling, token
//! charges, token revocation and refunds.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use settle::money::Money;

use super::*;
use crate::sandbox::request::{ListQuery, Refusal, error, newest_first};

#[derive(Deserialize)]
struct CreateCheckout {
    merchant_reference: String,
    amount: serde_json::Value,
    currency: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    customer_email: Option<String>,
    return_url: String,
    notification_url: String,
    #[serde(default)]
    save_card: bool,
}

/// `POST /checkouts`
pub(super) async fn create_checkout(
    State(provider): State<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let request: CreateCheckout = parse_body(&body)?;
    let currency = parse_currency(&request.currency)?;
    let payment = Payment {
        id: new_id("co"),
        merchant_reference: parse_reference(&request.merchant_reference)?,
        amount: parse_amount(&request.amount, currency)?,
        description: request.description.trim().to_owned(),
        customer_email: request.customer_email.filter(|e| !e.trim().is_empty()),
        return_url: Some(parse_url("return_url", &request.return_url)?),
        notification_url: Some(parse_url("notification_url", &request.notification_url)?),
        save_card: request.save_card,
        status: Status::Pending,
        failure_reason: None,
        card: None,
        card_token: None,
        refunded_minor: 0,
        created_at: Utc::now(),
        completed_at: None,
    };
    let view = provider.view(&payment);
    provider.books().payments.insert(payment.id.clone(), payment);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /checkouts/{id}`
pub(super) async fn show_checkout(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let found = provider.books().payments.get(&id).cloned();
    match found {
        Some(p) => Ok(Json(provider.view(&p)).into_response()),
        None => Err(not_found(&id)),
    }
}

/// `GET /checkouts?merchant_reference=…` or `?since=…`: checkouts and token charges, newest
/// first.
pub(super) async fn find_checkouts(
    State(provider): State<Provider>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let filter = query.filter().map_err(|(field, message)| invalid(field, message))?;
    let mut found: Vec<Payment> = provider
        .books()
        .payments
        .values()
        .filter(|p| filter.matches(&p.merchant_reference, p.created_at))
        .cloned()
        .collect();
    newest_first(&mut found, |p| (p.created_at, p.id.as_str()));
    let views: Vec<PaymentView> = found.iter().map(|p| provider.view(p)).collect();
    Ok(Json(json!({ "checkouts": views })).into_response())
}

/// `POST /checkouts/{id}/cancel`: the merchant calls off a checkout. A pending one becomes
/// `cancelled` (its page then shows that and pays nothing); any other is left as it is, so the
/// answer tells the merchant the truth, e.g. that the customer paid first. No notification: the
/// merchant asked, and has the answer.
pub(super) async fn cancel_checkout(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let mut books = provider.books();
    let Some(payment) = books.payments.get_mut(&id) else {
        return Err(not_found(&id));
    };
    // Under the same lock the hosted page pays under, so a checkout is either paid or
    // cancelled, never both.
    if payment.status == Status::Pending {
        payment.status = Status::Cancelled;
        payment.failure_reason = Some(MERCHANT_CANCELLED_REASON.to_owned());
        payment.completed_at = Some(Utc::now());
    }
    Ok(Json(provider.view(payment)).into_response())
}

#[derive(Deserialize)]
struct CreateCharge {
    token: String,
    amount: serde_json::Value,
    currency: String,
    merchant_reference: String,
    #[serde(default)]
    notification_url: Option<String>,
    #[serde(default)]
    description: String,
}

/// `POST /charges`: charges a saved token at once. An unknown or revoked token is a charge that
/// failed (recorded and notified), as with a real acquirer's decline.
pub(super) async fn charge_token(
    State(provider): State<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let request: CreateCharge = parse_body(&body)?;
    let currency = parse_currency(&request.currency)?;
    let amount = parse_amount(&request.amount, currency)?;
    let merchant_reference = parse_reference(&request.merchant_reference)?;
    let notification_url = match request.notification_url.as_deref() {
        Some(url) if !url.trim().is_empty() => Some(parse_url("notification_url", url)?),
        _ => None,
    };
    if request.token.trim().is_empty() {
        return Err(invalid("token", "is required"));
    }
    let payment = {
        let mut books = provider.books();
        let card = books.token_card(&request.token);
        let now = Utc::now();
        let payment = Payment {
            id: new_id("ch"),
            merchant_reference,
            amount,
            description: request.description.trim().to_owned(),
            customer_email: None,
            return_url: None,
            notification_url,
            save_card: false,
            status: if card.is_some() { Status::Succeeded } else { Status::Failed },
            failure_reason: card.is_none().then(|| "unknown or revoked card token".to_owned()),
            card_token: card.is_some().then(|| request.token.clone()),
            card,
            refunded_minor: 0,
            created_at: now,
            completed_at: Some(now),
        };
        books.payments.insert(payment.id.clone(), payment.clone());
        payment
    };
    provider.notify(&payment);
    Ok((StatusCode::CREATED, Json(provider.view(&payment))).into_response())
}

/// `DELETE /tokens/{token}`
pub(super) async fn revoke_token(
    State(provider): State<Provider>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Refusal> {
    authorised(&headers)?;
    let mut books = provider.books();
    if books.token_card(&token).is_none() {
        return Err(error(StatusCode::NOT_FOUND, "no such card token"));
    }
    books.revoked.insert(token);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct CreateRefund {
    amount: serde_json::Value,
    #[serde(default)]
    currency: Option<String>,
}

/// `POST /checkouts/{id}/refund`: only a succeeded payment, and never more than is left.
pub(super) async fn refund(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    authorised(&headers)?;
    let request: CreateRefund = parse_body(&body)?;
    let mut books = provider.books();
    let Some(payment) = books.payments.get_mut(&id) else {
        return Err(not_found(&id));
    };
    let currency = payment.amount.currency();
    if let Some(code) = request.currency.as_deref()
        && parse_currency(code)? != currency
    {
        return Err(invalid("currency", format!("must be {currency}, the payment's currency")));
    }
    let amount = parse_amount(&request.amount, currency)?;
    if payment.status != Status::Succeeded {
        return Err(error(
            StatusCode::CONFLICT,
            &format!(
                "only a succeeded payment can be refunded; this one is {}",
                payment.status.as_str()
            ),
        ));
    }
    let left = payment.amount.minor() - payment.refunded_minor;
    if amount.minor() > left {
        return Err(invalid(
            "amount",
            format!("is more than the {} left to refund", Money::from_minor(left, currency)),
        ));
    }
    payment.refunded_minor += amount.minor();
    let refunded = Money::from_minor(payment.refunded_minor, currency);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": new_id("rf"),
            "object": "refund",
            "checkout_id": payment.id,
            "merchant_reference": payment.merchant_reference,
            "status": "succeeded",
            "amount": decimal(amount),
            "currency": currency.code(),
            "refunded_amount": decimal(refunded),
            "created_at": Utc::now(),
        })),
    )
        .into_response())
}
