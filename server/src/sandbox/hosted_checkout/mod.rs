//! The sandbox hosted-checkout provider (the Payfort / Peach Payments Checkout / PayFast
//! pattern, also used for payment links), mounted at `/sandbox/hosted-checkout`.
//!
//! API (JSON, `Authorization: Bearer <any non-empty key>`, amounts as exact decimal strings):
//! - `POST /checkouts` creates a checkout and answers `201` with its `redirect_url`;
//! - `GET /checkouts/{id}` answers a checkout's or token charge's status (reconciliation);
//! - `GET /checkouts?merchant_reference=…` and `GET /checkouts?since=<RFC 3339>` list
//!   checkouts and token charges by the merchant's reference or since a time, newest first;
//! - `POST /checkouts/{id}/cancel` calls off a pending checkout (its page then refuses to pay)
//!   and answers the checkout as it now is: a finished one is left as it was;
//! - `POST /checkouts/{id}/refund` refunds a succeeded checkout or charge, in part or whole;
//! - `POST /charges` charges a saved card token at once;
//! - `DELETE /tokens/{token}` revokes a saved card token;
//! - `POST /card-updates` and `GET /card-updates/{id}`: a card update for a saved token, whose
//!   page `GET /update/{id}?return=…` issues a new token for a new card (see `card_update.rs`).
//!
//! The customer's browser sees `GET /pay/{id}` (a plain HTML form; a form posted to
//! `POST /pay/{id}` without a choice shows it too) and posts its choice back to
//! `POST /pay/{id}`; the provider then posts a signed notification to the merchant's
//! `notification_url` and sends the browser to `return_url` with the outcome in the query.
//! The API is in `api.rs`, the customer's pages in `pages.rs`.
//!
//! Faults (provider name `hosted-checkout`) apply to the API, not to the customer's pages: a
//! 503 or a hang is what a merchant's server sees from a provider in trouble, and the browser
//! pages are needed to finish the payments those faults are tested with.

mod api;
mod card_update;
mod pages;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use settle::money::{Currency, Money};
use url::Url;

use super::faults::Gate;
use super::request::{
    NOT_A_DECIMAL, Refusal, decimal, error, has_api_key, parse_decimal_amount, parse_http_url,
};
use super::{Sandbox, new_id};

/// The fault-injection name of this provider.
pub const PROVIDER: &str = "hosted-checkout";

/// The test card the hosted page is pre-filled with; it always pays.
pub const TEST_CARD: &str = "4242 4242 4242 4242";

/// A test card the issuer always declines, for trying the failure path from the "Pay" button.
pub const DECLINED_CARD: &str = "4000 0000 0000 0002";

/// Why a checkout the merchant called off (`POST /checkouts/{id}/cancel`) failed.
pub const MERCHANT_CANCELLED_REASON: &str = "cancelled by the merchant";

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
    /// Card updates by id (`cu_…`).
    card_updates: HashMap<String, card_update::CardUpdate>,
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
        super::demo_token_last4(token).map(|last4| SavedCard { brand: "VISA".to_owned(), last4 })
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
    #[serde(flatten)]
    outcome: Outcome,
    refunded_amount: String,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed_at: Option<DateTime<Utc>>,
}

/// How a payment ended, in the API's view and in the notification alike: why it failed, and
/// the card (never its number).
#[derive(Serialize)]
struct Outcome {
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_last4: Option<String>,
}

impl Outcome {
    fn of(p: &Payment) -> Outcome {
        Outcome {
            failure_reason: p.failure_reason.clone(),
            card_token: p.card_token.clone(),
            card_brand: p.card.as_ref().map(|c| c.brand.clone()),
            card_last4: p.card.as_ref().map(|c| c.last4.clone()),
        }
    }
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
    #[serde(flatten)]
    outcome: Outcome,
    created_at: DateTime<Utc>,
}

impl Provider {
    fn books(&self) -> MutexGuard<'_, Books> {
        super::lock(&self.books)
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
            outcome: Outcome::of(p),
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
            outcome: Outcome::of(p),
            created_at: Utc::now(),
        };
        self.sandbox.notify(PROVIDER, url.as_str(), &body);
    }
}

/// The hosted-checkout routes, to be nested at `/sandbox/hosted-checkout`.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    let faults = Gate::new(&sandbox.faults, PROVIDER);
    let provider = Provider { sandbox, books: Arc::new(Mutex::new(Books::default())) };
    Router::new()
        .route("/checkouts", faults.guard(post(api::create_checkout).get(api::find_checkouts)))
        .route("/checkouts/{id}", faults.guard(get(api::show_checkout)))
        .route("/checkouts/{id}/cancel", faults.guard(post(api::cancel_checkout)))
        .route("/checkouts/{id}/refund", faults.guard(post(api::refund)))
        .route("/charges", faults.guard(post(api::charge_token)))
        // Not subject to faults: token revocation and the customer's pages.
        .route("/tokens/{token}", delete(api::revoke_token))
        .route("/pay/{id}", get(pages::pay_page).post(pages::pay_submit))
        .route("/card-updates", faults.guard(post(card_update::create)))
        .route("/card-updates/{id}", faults.guard(get(card_update::show)))
        .route("/update/{id}", get(card_update::page).post(card_update::submit))
        .with_state(provider)
}

/// A `422` naming the field at fault: `{"error": "<field> <message>", "field"}`.
fn invalid(field: &'static str, message: impl std::fmt::Display) -> Refusal {
    let body = json!({ "error": format!("{field} {message}"), "field": field });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response().into()
}

fn not_found(id: &str) -> Refusal {
    error(StatusCode::NOT_FOUND, &format!("no checkout or charge {id}"))
}

/// Like a real provider, the API wants a key; the sandbox takes any non-empty one.
fn authorised(headers: &HeaderMap) -> Result<(), Refusal> {
    if has_api_key(headers) {
        return Ok(());
    }
    let mut response =
        error(StatusCode::UNAUTHORIZED, "missing API key (Authorization: Bearer)").into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    Err(response.into())
}

/// Parses a JSON body, answering 400 with the parser's reason when it isn't one.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("request body is not valid: {e}")))
}

/// Reads an amount given as a decimal string or JSON number, exactly (never via `f64`).
fn parse_amount(value: &serde_json::Value, currency: Currency) -> Result<Money, Refusal> {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        // serde_json's `arbitrary_precision` keeps a number's text as it was written.
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(invalid("amount", NOT_A_DECIMAL)),
    };
    parse_decimal_amount(&text, currency).map_err(|m| invalid("amount", m))
}

fn parse_currency(code: &str) -> Result<Currency, Refusal> {
    Currency::parse(code).map_err(|e| invalid("currency", e.message))
}

fn parse_url(field: &'static str, text: &str) -> Result<Url, Refusal> {
    parse_http_url(text).map_err(|m| invalid(field, m))
}

fn parse_reference(text: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() || text.len() > 128 {
        return Err(invalid("merchant_reference", "must be 1 to 128 characters"));
    }
    Ok(text.to_owned())
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

    #[tokio::test]
    async fn refusals_have_the_providers_shape() {
        async fn answer(
            refusal: Option<Refusal>,
        ) -> (StatusCode, Option<String>, serde_json::Value) {
            let response = refusal.map(IntoResponse::into_response).unwrap_or_default();
            let status = response.status();
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
            let body = body.ok().and_then(|b| serde_json::from_slice(&b).ok());
            (status, challenge, body.unwrap_or_default())
        }
        assert_eq!(
            answer(Some(invalid("amount", "must be more than zero"))).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                json!({ "error": "amount must be more than zero", "field": "amount" })
            )
        );
        assert_eq!(
            answer(authorised(&HeaderMap::new()).err()).await,
            (
                StatusCode::UNAUTHORIZED,
                Some("Bearer".to_owned()),
                json!({ "error": "missing API key (Authorization: Bearer)" })
            )
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, header::HeaderValue::from_static("Bearer k"));
        assert!(authorised(&headers).is_ok());
        let (status, _, body) = answer(parse_body::<serde_json::Value>(b"{").err()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().is_some_and(|e| e.starts_with("request body is not valid")));
    }

    #[test]
    fn views_keep_their_fields_in_order() {
        let provider = Provider {
            sandbox: Sandbox::new("secret", "http://sandbox.test"),
            books: Arc::new(Mutex::new(Books::default())),
        };
        let at = DateTime::from_timestamp(1_770_000_000, 0).unwrap_or_default();
        let payment = Payment {
            id: "co_1".into(),
            merchant_reference: "PAY-1".into(),
            amount: Money::from_minor(37890, Currency::parse("ZAR").unwrap()),
            description: "Order".into(),
            customer_email: None,
            return_url: Url::parse("https://shop.test/back").ok(),
            notification_url: None,
            save_card: true,
            status: Status::Failed,
            failure_reason: Some("declined".into()),
            card: Some(SavedCard { brand: "VISA".into(), last4: "0002".into() }),
            card_token: None,
            refunded_minor: 0,
            created_at: at,
            completed_at: Some(at),
        };
        let json = serde_json::to_string(&provider.view(&payment)).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"id":"co_1","object":"checkout","status":"failed","merchant_reference":"PAY-1","#,
                r#""amount":"378.90","currency":"ZAR","description":"Order","#,
                r#""redirect_url":"http://sandbox.test/sandbox/hosted-checkout/pay/co_1","#,
                r#""return_url":"https://shop.test/back","save_card":true,"#,
                r#""failure_reason":"declined","card_brand":"VISA","card_last4":"0002","#,
                r#""refunded_amount":"0.00","created_at":"2026-02-02T02:40:00Z","#,
                r#""completed_at":"2026-02-02T02:40:00Z"}"#
            )
        );
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
}
