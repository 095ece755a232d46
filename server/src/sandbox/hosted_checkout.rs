//! The sandbox hosted-checkout provider (the Payfort / Peach Payments Checkout / PayFast
//! pattern, also used for payment links), mounted at `/sandbox/hosted-checkout`.
//!
//! API (JSON, `Authorization: Bearer <any non-empty key>`, amounts as exact decimal strings):
//! - `POST /checkouts` creates a checkout and answers `201` with its `redirect_url`;
//! - `GET /checkouts/{id}` answers a checkout's or token charge's status (reconciliation);
//! - `GET /checkouts?merchant_reference=…` lists them by the merchant's reference;
//! - `POST /checkouts/{id}/refund` refunds a succeeded checkout or charge, in part or whole;
//! - `POST /charges` charges a saved card token at once;
//! - `DELETE /tokens/{token}` revokes a saved card token.
//!
//! The customer's browser sees `GET /pay/{id}` (a plain HTML form) and posts its choice back to
//! `POST /pay/{id}`; the provider then posts a signed notification to the merchant's
//! `notification_url` and sends the browser to `return_url` with the outcome in the query.
//!
//! Faults (provider name `hosted-checkout`) apply to the API, not to the customer's pages: a
//! 503 or a hang is what a merchant's server sees from a provider in trouble, and the browser
//! pages are needed to finish the payments those faults are tested with.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use settle::card::CardNumber;
use settle::money::{Currency, Money};
use url::Url;

use super::Sandbox;
use super::faults::{self, RequestFault};

/// The fault-injection name of this provider.
pub const PROVIDER: &str = "hosted-checkout";

/// The test card the hosted page is pre-filled with; it always pays.
pub const TEST_CARD: &str = "4242 4242 4242 4242";

/// A test card the issuer always declines, for trying the failure path from the "Pay" button.
pub const DECLINED_CARD: &str = "4000 0000 0000 0002";

/// The prefix of card tokens the sandbox accepts without having issued them (demo data).
pub const DEMO_TOKEN_PREFIX: &str = "demo-";

/// The provider's state: the sandbox plus its in-memory books.
#[derive(Clone)]
struct Provider {
    sandbox: Sandbox,
    books: Arc<Mutex<Books>>,
}

/// Checkouts, charges and card tokens. In memory: the sandbox is a simulator, not a ledger.
#[derive(Default)]
struct Books {
    /// Checkouts and token charges by id (`co_…`, `ch_…`): both answer status queries alike.
    payments: HashMap<String, Payment>,
    /// Tokens this provider issued, with the card they stand for.
    tokens: HashMap<String, SavedCard>,
    /// Revoked tokens, issued or demo.
    revoked: HashSet<String>,
}

impl Books {
    fn token_card(&self, token: &str) -> Option<SavedCard> {
        if self.revoked.contains(token) {
            return None;
        }
        if let Some(card) = self.tokens.get(token) {
            return Some(card.clone());
        }
        // Demo data carries tokens like `demo-peach-token-4242`: a Visa ending in its last four
        // digits, so receipts show something sensible.
        token.strip_prefix(DEMO_TOKEN_PREFIX).map(|rest| {
            let tail = rest.get(rest.len().saturating_sub(4)..).unwrap_or_default();
            let last4 = if tail.len() == 4 && tail.bytes().all(|b| b.is_ascii_digit()) {
                tail.to_owned()
            } else {
                "4242".to_owned()
            };
            SavedCard { brand: "VISA".to_owned(), last4 }
        })
    }
}

/// A card as the provider may describe it to the merchant: never the number.
#[derive(Clone, Debug)]
struct SavedCard {
    brand: String,
    last4: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

/// A checkout (paid on the hosted page) or a token charge (paid at once).
#[derive(Clone, Debug)]
struct Payment {
    id: String,
    merchant_reference: String,
    amount: Money,
    description: String,
    customer_email: Option<String>,
    /// Where the browser goes afterwards; token charges have none.
    return_url: Option<Url>,
    notification_url: Option<Url>,
    save_card: bool,
    status: Status,
    failure_reason: Option<String>,
    card: Option<SavedCard>,
    card_token: Option<String>,
    /// Refunded so far, in minor units of `amount`'s currency.
    refunded_minor: i64,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

/// The API's view of a payment.
#[derive(Serialize)]
struct PaymentView {
    id: String,
    object: &'static str,
    status: &'static str,
    merchant_reference: String,
    amount: String,
    currency: &'static str,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_url: Option<String>,
    save_card: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_last4: Option<String>,
    refunded_amount: String,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed_at: Option<DateTime<Utc>>,
}

/// The signed server-to-server notification.
#[derive(Serialize)]
struct NotificationBody {
    event_id: String,
    event_type: &'static str,
    checkout_id: String,
    merchant_reference: String,
    status: &'static str,
    amount: String,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_last4: Option<String>,
    created_at: DateTime<Utc>,
}

impl Provider {
    fn books(&self) -> MutexGuard<'_, Books> {
        // A panic while holding the lock leaves at worst one half-recorded simulated payment;
        // the simulator keeps serving rather than failing every later request.
        self.books.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pay_page_url(&self, id: &str) -> String {
        format!("{}/sandbox/{PROVIDER}/pay/{id}", self.sandbox.public_url)
    }

    fn view(&self, p: &Payment) -> PaymentView {
        let is_checkout = p.return_url.is_some();
        PaymentView {
            id: p.id.clone(),
            object: if is_checkout { "checkout" } else { "charge" },
            status: p.status.as_str(),
            merchant_reference: p.merchant_reference.clone(),
            amount: decimal(p.amount),
            currency: p.amount.currency().code(),
            description: p.description.clone(),
            customer_email: p.customer_email.clone(),
            redirect_url: is_checkout.then(|| self.pay_page_url(&p.id)),
            return_url: p.return_url.as_ref().map(|u| u.to_string()),
            save_card: p.save_card,
            failure_reason: p.failure_reason.clone(),
            card_token: p.card_token.clone(),
            card_brand: p.card.as_ref().map(|c| c.brand.clone()),
            card_last4: p.card.as_ref().map(|c| c.last4.clone()),
            refunded_amount: decimal(Money::from_minor(p.refunded_minor, p.amount.currency())),
            created_at: p.created_at,
            completed_at: p.completed_at,
        }
    }

    /// Tells the merchant how a payment ended, signed, subject to the drop/duplicate faults.
    fn notify(&self, p: &Payment) {
        let Some(url) = &p.notification_url else {
            return;
        };
        let body = NotificationBody {
            event_id: new_id("evt"),
            event_type: match p.status {
                Status::Succeeded => "payment.succeeded",
                Status::Failed => "payment.failed",
                Status::Cancelled => "payment.cancelled",
                Status::Pending => "payment.pending",
            },
            checkout_id: p.id.clone(),
            merchant_reference: p.merchant_reference.clone(),
            status: p.status.as_str(),
            amount: decimal(p.amount),
            currency: p.amount.currency().code(),
            failure_reason: p.failure_reason.clone(),
            card_token: p.card_token.clone(),
            card_brand: p.card.as_ref().map(|c| c.brand.clone()),
            card_last4: p.card.as_ref().map(|c| c.last4.clone()),
            created_at: Utc::now(),
        };
        self.sandbox.notify(PROVIDER, url.as_str(), &body);
    }
}

/// The hosted-checkout routes, to be nested at `/sandbox/hosted-checkout`.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    let provider = Provider { sandbox, books: Arc::new(Mutex::new(Books::default())) };
    Router::new()
        .route("/checkouts", post(create_checkout).get(find_checkouts))
        .route("/checkouts/{id}", get(show_checkout))
        .route("/checkouts/{id}/refund", post(refund))
        .route("/charges", post(charge_token))
        .route("/tokens/{token}", delete(revoke_token))
        .route("/pay/{id}", get(pay_page).post(pay_submit))
        .with_state(provider)
}

/// A provider id: a readable prefix and 128 random bits.
fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// An amount as the wire carries it: an exact decimal string (`"378.90"`).
fn decimal(amount: Money) -> String {
    amount.to_decimal().to_string()
}

/// Why the API refused a request; answered as `{"error": …, "field": …}`. Small, unlike a
/// `Response`, so `?` can carry it through the validation helpers.
struct Refusal {
    status: StatusCode,
    message: String,
    field: Option<&'static str>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = match self.field {
            Some(field) => json!({ "error": self.message, "field": field }),
            None => json!({ "error": self.message }),
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal { status, message: message.into(), field: None }
}

fn invalid(field: &'static str, message: impl std::fmt::Display) -> Refusal {
    Refusal {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("{field} {message}"),
        field: Some(field),
    }
}

/// Like a real provider, the API wants a key; the sandbox takes any non-empty one.
fn authorised(headers: &HeaderMap) -> Result<(), Refusal> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(error(StatusCode::UNAUTHORIZED, "missing API key (Authorization: Bearer)"));
    }
    Ok(())
}

/// Answers the outcome of an API call, after hanging if the fault plan said so: the work is
/// done either way, so a client that gave up does not know it happened.
async fn answer(fault: RequestFault, outcome: Result<Response, Refusal>) -> Response {
    if let RequestFault::Hang(d) = fault {
        tokio::time::sleep(d).await;
    }
    outcome.unwrap_or_else(IntoResponse::into_response)
}

/// Parses a JSON body, answering 400 with the parser's reason when it isn't one.
fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("request body is not valid: {e}")))
}

/// Reads an amount given as a decimal string or JSON number, exactly (never via `f64`).
fn parse_amount(value: &serde_json::Value, currency: Currency) -> Result<Money, Refusal> {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        // serde_json's `arbitrary_precision` keeps a number's text as it was written.
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(invalid("amount", "must be a decimal string such as \"378.90\"")),
    };
    let amount = Money::parse_decimal(&text, currency).map_err(|e| invalid("amount", e.message))?;
    if amount.is_zero() {
        return Err(invalid("amount", "must be more than zero"));
    }
    Ok(amount)
}

fn parse_currency(code: &str) -> Result<Currency, Refusal> {
    Currency::parse(code).map_err(|e| invalid("currency", e.message))
}

fn parse_url(field: &'static str, text: &str) -> Result<Url, Refusal> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        _ => Err(invalid(field, "must be an absolute http(s) URL")),
    }
}

fn parse_reference(text: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() || text.len() > 128 {
        return Err(invalid("merchant_reference", "must be 1 to 128 characters"));
    }
    Ok(text.to_owned())
}

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
async fn create_checkout(
    State(provider): State<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = provider.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    answer(fault, create(&provider, &headers, &body)).await
}

fn create(provider: &Provider, headers: &HeaderMap, body: &[u8]) -> Result<Response, Refusal> {
    authorised(headers)?;
    let request: CreateCheckout = parse_body(body)?;
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
async fn show_checkout(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fault = provider.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    let outcome = authorised(&headers).and_then(|()| {
        let found = provider.books().payments.get(&id).cloned();
        match found {
            Some(p) => Ok(Json(provider.view(&p)).into_response()),
            None => Err(error(StatusCode::NOT_FOUND, format!("no checkout or charge {id}"))),
        }
    });
    answer(fault, outcome).await
}

#[derive(Deserialize)]
struct FindQuery {
    merchant_reference: Option<String>,
}

/// `GET /checkouts?merchant_reference=…`
async fn find_checkouts(
    State(provider): State<Provider>,
    Query(query): Query<FindQuery>,
    headers: HeaderMap,
) -> Response {
    let fault = provider.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    answer(fault, find(&provider, &headers, &query)).await
}

fn find(provider: &Provider, headers: &HeaderMap, query: &FindQuery) -> Result<Response, Refusal> {
    authorised(headers)?;
    let reference = parse_reference(query.merchant_reference.as_deref().unwrap_or_default())?;
    let mut found: Vec<Payment> = provider
        .books()
        .payments
        .values()
        .filter(|p| p.merchant_reference == reference)
        .cloned()
        .collect();
    found.sort_by_key(|p| p.created_at);
    let views: Vec<PaymentView> = found.iter().map(|p| provider.view(p)).collect();
    Ok(Json(json!({ "checkouts": views })).into_response())
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
async fn charge_token(
    State(provider): State<Provider>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = provider.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    answer(fault, charge(&provider, &headers, &body)).await
}

fn charge(provider: &Provider, headers: &HeaderMap, body: &[u8]) -> Result<Response, Refusal> {
    authorised(headers)?;
    let request: CreateCharge = parse_body(body)?;
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
async fn revoke_token(
    State(provider): State<Provider>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = authorised(&headers) {
        return refusal.into_response();
    }
    let mut books = provider.books();
    if books.token_card(&token).is_none() {
        return error(StatusCode::NOT_FOUND, "no such card token").into_response();
    }
    books.revoked.insert(token);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct CreateRefund {
    amount: serde_json::Value,
    #[serde(default)]
    currency: Option<String>,
}

/// `POST /checkouts/{id}/refund`: only a succeeded payment, and never more than is left.
async fn refund(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = provider.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    answer(fault, refund_payment(&provider, &id, &headers, &body)).await
}

fn refund_payment(
    provider: &Provider,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Refusal> {
    authorised(headers)?;
    let request: CreateRefund = parse_body(body)?;
    let mut books = provider.books();
    let Some(payment) = books.payments.get_mut(id) else {
        return Err(error(StatusCode::NOT_FOUND, format!("no checkout or charge {id}")));
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
            format!(
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

/// `GET /pay/{id}`: the hosted page.
async fn pay_page(State(provider): State<Provider>, Path(id): Path<String>) -> Response {
    let found = provider.books().payments.get(&id).cloned();
    match found {
        Some(p) if p.return_url.is_some() => page(StatusCode::OK, &provider, &p, None),
        _ => not_found_page(),
    }
}

#[derive(Deserialize)]
struct PayForm {
    action: String,
    #[serde(default)]
    card_number: String,
}

/// `POST /pay/{id}`: the customer's choice. A finished checkout stays as it is (a double
/// submit, or the back button), and the browser goes back to the merchant with its outcome.
async fn pay_submit(
    State(provider): State<Provider>,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let finished = {
        let mut books = provider.books();
        let Some(payment) = books.payments.get(&id).filter(|p| p.return_url.is_some()).cloned()
        else {
            return not_found_page();
        };
        if payment.status != Status::Pending {
            return back_to_merchant(&payment);
        }
        let card = CardNumber::parse(&form.card_number);
        let (status, reason) = match form.action.as_str() {
            "pay" => match &card {
                Err(e) => {
                    let message = format!("The card number {}.", e.message);
                    return page(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &provider,
                        &payment,
                        Some(&message),
                    );
                }
                Ok(number) if number.expose_digits() == DECLINED_CARD.replace(' ', "") => {
                    (Status::Failed, Some("declined by the issuer: insufficient funds"))
                }
                Ok(_) => (Status::Succeeded, None),
            },
            "decline" => (Status::Failed, Some("declined by the issuer")),
            "cancel" => (Status::Cancelled, Some("cancelled by the customer")),
            _ => {
                return error(StatusCode::BAD_REQUEST, "action must be pay, decline or cancel")
                    .into_response();
            }
        };
        // A cancelled checkout never saw a card; the others say which card was tried.
        let saved = match (&card, status) {
            (Ok(number), Status::Succeeded | Status::Failed) => Some(SavedCard {
                brand: number.brand().name().to_owned(),
                last4: number.last4().to_owned(),
            }),
            _ => None,
        };
        let token = match (&saved, status) {
            (Some(card), Status::Succeeded) if payment.save_card => {
                let token = new_id("tok");
                books.tokens.insert(token.clone(), card.clone());
                Some(token)
            }
            _ => None,
        };
        let Some(stored) = books.payments.get_mut(&id) else {
            return not_found_page();
        };
        stored.status = status;
        stored.failure_reason = reason.map(str::to_owned);
        stored.card = saved;
        stored.card_token = token;
        stored.completed_at = Some(Utc::now());
        stored.clone()
    };
    provider.notify(&finished);
    back_to_merchant(&finished)
}

/// `303` to the merchant's return URL with `checkout_id`, `merchant_reference` and `status`
/// added to its query.
fn back_to_merchant(p: &Payment) -> Response {
    let Some(mut url) = p.return_url.clone() else {
        return not_found_page();
    };
    url.query_pairs_mut()
        .append_pair("checkout_id", &p.id)
        .append_pair("merchant_reference", &p.merchant_reference)
        .append_pair("status", p.status.as_str());
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string())]).into_response()
}

/// Escapes text for HTML content and double-quoted attribute values.
fn esc(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

/// The page frame: the site's stylesheet, no script and no inline style (the CSP forbids both).
fn html(status: StatusCode, title: &str, content: &str) -> Response {
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title} · Sandbox checkout</title>
<link rel="stylesheet" href="/style/settle.css">
</head>
<body>
<main>
<div class="card narrow">
<p><span class="tag">Sandbox hosted checkout</span></p>
{content}
</div>
</main>
</body>
</html>
"#,
        title = esc(title),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

fn page(status: StatusCode, provider: &Provider, p: &Payment, problem: Option<&str>) -> Response {
    let amount = format!("{} {}", decimal(p.amount), p.amount.currency().code());
    let summary = format!(
        r#"<h1>Pay {amount}</h1>
<dl class="stats">
<div><dt>Merchant reference</dt><dd><code>{reference}</code></dd></div>
<div><dt>Amount</dt><dd class="num">{amount}</dd></div>
</dl>
{description}"#,
        amount = esc(&amount),
        reference = esc(&p.merchant_reference),
        description = if p.description.is_empty() {
            String::new()
        } else {
            format!("<p class=\"lead\">{}</p>", esc(&p.description))
        },
    );
    if p.status != Status::Pending {
        let content = format!(
            r#"{summary}
<p class="flash {class}">This payment is {status}.</p>"#,
            class = if p.status == Status::Succeeded { "success" } else { "error" },
            status = p.status.as_str(),
        );
        return html(status, "Payment finished", &content);
    }
    let problem = problem
        .map(|m| format!("<p class=\"flash error\" role=\"alert\">{}</p>\n", esc(m)))
        .unwrap_or_default();
    let content = format!(
        r#"{summary}
{problem}<form method="post" action="{action}">
<label>Card number
<input name="card_number" value="{card}" inputmode="numeric" autocomplete="off" required>
</label>
<p>Test cards: <code>{card}</code> pays, <code>{declined}</code> is declined.</p>
<p>
<button type="submit" name="action" value="pay">Pay</button>
<button type="submit" name="action" value="decline">Decline</button>
<button type="submit" name="action" value="cancel" class="link" formnovalidate>Cancel</button>
</p>
</form>"#,
        action = esc(&provider.pay_page_url(&p.id)),
        card = TEST_CARD,
        declined = DECLINED_CARD,
    );
    html(status, &format!("Pay {amount}"), &content)
}

fn not_found_page() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "No such checkout",
        "<h1>No such checkout</h1>\n<p>This checkout does not exist or has expired.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_tokens_are_visa_cards_ending_in_their_digits() {
        let books = Books::default();
        let card = books.token_card("demo-peach-token-4242");
        assert_eq!(card.map(|c| (c.brand, c.last4)), Some(("VISA".into(), "4242".into())));
        assert!(books.token_card("tok_unknown").is_none());
    }

    #[test]
    fn revoked_tokens_are_refused() {
        let mut books = Books::default();
        books
            .tokens
            .insert("tok_1".into(), SavedCard { brand: "VISA".into(), last4: "1111".into() });
        assert!(books.token_card("tok_1").is_some());
        books.revoked.insert("tok_1".into());
        books.revoked.insert("demo-x-0000".into());
        assert!(books.token_card("tok_1").is_none());
        assert!(books.token_card("demo-x-0000").is_none());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;");
    }
}
