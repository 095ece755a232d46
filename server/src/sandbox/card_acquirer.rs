//! Sandbox provider `card`: a card acquirer with 3-D Secure 2, after the Sagepay/Opayo pattern,
//! mounted at `/sandbox/card`.
//!
//! - `POST /transactions` authorises a card (or a token this acquirer issued): frictionless
//!   (`201`, `Ok`, with a reusable token), challenged (`202`, `3DAuth` with `acsUrl`, `cReq`,
//!   `threeDSSessionData`), declined (`NotAuthed`) or failed (`Error`), by test card.
//! - `POST /acs` is the issuer's challenge page the customer's browser posts `creq` and
//!   `threeDSSessionData` to; `POST /acs/{id}` records the customer's answer and shows a form
//!   that posts `cres` and `threeDSSessionData` to the transaction's `challenge_return_url`.
//! - `POST /transactions/{id}/3d-secure-challenge` finishes the transaction with that `cRes`.
//! - `GET /transactions/{id}` (the acquirer's id, or the merchant reference of the latest
//!   transaction with it, for reconciling after a timeout); `POST /transactions/{id}/refund`.
//!
//! Every final outcome is also posted, signed, to the transaction's `notification_url`.
//! Card numbers and security codes are read, checked and dropped: only brand, last four digits
//! and expiry are kept or ever sent back, and error messages never quote a submitted value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::money::Money;

use super::Sandbox;
use super::faults::{self, RequestFault};
use super::request::{
    Refusal, answer_after, check_api_key, error, invalid, money_and_callback, parse_amount,
    parse_callback_url, parse_json,
};

/// The provider name for fault injection and notifications.
pub const PROVIDER: &str = "card";

/// Seed 003's four test cards (Visa, Visa Debit, Mastercard, Mastercard Debit): authorised
/// without a challenge, like every other valid card not listed below.
pub const SEED_003_CARDS: [&str; 4] =
    ["4929000000006", "4462000000000003", "5186150660000009", "5185690060000001"];
/// Visa card whose issuer asks for a 3-D Secure challenge.
pub const CHALLENGE_CARD: &str = "4000000000003220";
/// Mastercard whose issuer asks for a 3-D Secure challenge.
pub const CHALLENGE_MASTERCARD: &str = "5200000000001096";
/// Declined by the issuer (`NotAuthed`, "The card was declined by the issuer").
pub const DECLINED_CARD: &str = "4000000000000002";
/// Declined for lack of funds (`NotAuthed`, "Insufficient funds").
pub const INSUFFICIENT_FUNDS_CARD: &str = "4000000000009995";
/// The acquirer fails (`Error`): a terminal error, retrying the same card won't help.
pub const ERROR_CARD: &str = "4000000000000119";
/// Authorised, but the answer hangs (for the provider's `hang_ms` fault setting, default 30 s),
/// so the client times out not knowing; status queries and the notification say `Ok`.
pub const TIMEOUT_CARD: &str = "4000000000000259";

const DETAIL_OK: &str = "The Authorisation was Successful.";
const DETAIL_3DAUTH: &str =
    "Please redirect your customer to the ACSURL to complete the 3DS Transaction";
const DETAIL_DECLINED: &str = "The card was declined by the issuer";
const DETAIL_NO_FUNDS: &str = "Insufficient funds";
const DETAIL_ERROR: &str = "The acquirer could not process the transaction";
const DETAIL_3DS_FAILED: &str = "3-D Secure authentication failed";
/// The 3-D Secure protocol version the simulated ACS speaks.
const MESSAGE_VERSION: &str = "2.2.0";
/// How long the timeout card hangs when the provider has no `hang_ms` fault setting.
const DEFAULT_HANG_MS: u64 = 30_000;

/// What the issuer does with a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Frictionless,
    Challenge,
    Decline(&'static str),
    Error,
    Timeout,
}

fn behaviour(digits: &str) -> Behaviour {
    match digits {
        CHALLENGE_CARD | CHALLENGE_MASTERCARD => Behaviour::Challenge,
        DECLINED_CARD => Behaviour::Decline(DETAIL_DECLINED),
        INSUFFICIENT_FUNDS_CARD => Behaviour::Decline(DETAIL_NO_FUNDS),
        ERROR_CARD => Behaviour::Error,
        TIMEOUT_CARD => Behaviour::Timeout,
        _ => Behaviour::Frictionless,
    }
}

/// A transaction's status, in the acquirer's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    ThreeDAuth,
    NotAuthed,
    Error,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "Ok",
            Status::ThreeDAuth => "3DAuth",
            Status::NotAuthed => "NotAuthed",
            Status::Error => "Error",
        }
    }
}

/// All the acquirer keeps of a card.
#[derive(Clone, Debug)]
struct CardSummary {
    brand: &'static str,
    last4: String,
    expiry: String,
}

impl CardSummary {
    fn json(&self) -> Value {
        json!({ "brand": self.brand, "last4": self.last4, "expiry": self.expiry })
    }
}

/// A 3-D Secure challenge in progress or answered.
#[derive(Clone, Debug)]
struct Challenge {
    acs_trans_id: String,
    creq: String,
    session_data: String,
    /// The customer's answer at the ACS (`Some(true)`: authenticated). The acquirer learns it
    /// from the ACS directly (the RReq), so a `cRes` claiming otherwise is refused.
    outcome: Option<bool>,
}

#[derive(Clone, Debug)]
struct Transaction {
    id: String,
    merchant_reference: String,
    amount: Money,
    card: CardSummary,
    status: Status,
    status_detail: &'static str,
    token: Option<String>,
    challenge: Option<Challenge>,
    challenge_return_url: Option<String>,
    notification_url: String,
    refunded: Money,
    created_at: DateTime<Utc>,
}

impl Transaction {
    /// The transaction as the API shows it.
    fn view(&self, public_url: &str) -> Value {
        let mut view = json!({
            "id": self.id,
            "merchant_reference": self.merchant_reference,
            "status": self.status.as_str(),
            "statusDetail": self.status_detail,
            "amount": self.amount.to_decimal().to_string(),
            "currency": self.amount.currency().code(),
            "card": self.card.json(),
            "refunded_amount": self.refunded.to_decimal().to_string(),
            "created_at": self.created_at,
        });
        if let Some(token) = &self.token {
            view["token"] = json!(token);
        }
        if let (Status::ThreeDAuth, Some(challenge)) = (self.status, &self.challenge) {
            view["acsUrl"] = json!(acs_url(public_url));
            view["cReq"] = json!(challenge.creq);
            view["threeDSSessionData"] = json!(challenge.session_data);
        }
        view
    }

    /// The notification for a final outcome.
    fn notification(&self) -> Value {
        let mut body = json!({
            "event_id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
            "transaction_id": self.id,
            "merchant_reference": self.merchant_reference,
            "status": self.status.as_str(),
            "statusDetail": self.status_detail,
            "amount": self.amount.to_decimal().to_string(),
            "currency": self.amount.currency().code(),
            "card": self.card.json(),
        });
        if let Some(token) = &self.token {
            body["token"] = json!(token);
        }
        body
    }
}

#[derive(Default)]
struct Store {
    transactions: HashMap<String, Transaction>,
    /// Tokens issued for authorised cards.
    tokens: HashMap<String, CardSummary>,
}

/// The provider's state: the sandbox plus its transactions.
#[derive(Clone)]
struct CardAcquirer {
    sandbox: Sandbox,
    store: Arc<Mutex<Store>>,
}

impl Store {
    /// A transaction by the acquirer's id or, failing that, the latest with that merchant
    /// reference: a merchant whose request timed out never learnt the id, and reconciles by its
    /// own reference (Opayo's `vendorTxCode` lookups).
    fn find(&self, key: &str) -> Option<&Transaction> {
        self.transactions.get(key).or_else(|| {
            self.transactions
                .values()
                .filter(|tx| tx.merchant_reference == key)
                .max_by_key(|tx| tx.created_at)
        })
    }
}

impl CardAcquirer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A simulator's maps stay usable after a panicking handler; keep serving.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The card provider's routes, to be nested at `/sandbox/card`.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    let acquirer = CardAcquirer { sandbox, store: Arc::new(Mutex::new(Store::default())) };
    Router::new()
        .route("/transactions", post(create_transaction))
        .route("/transactions/{id}", get(show_transaction))
        .route("/transactions/{id}/3d-secure-challenge", post(complete_challenge))
        .route("/transactions/{id}/refund", post(refund))
        .route("/acs", post(acs_challenge_page))
        .route("/acs/{id}", post(acs_answer))
        .with_state(acquirer)
}

fn acs_url(public_url: &str) -> String {
    format!("{}/sandbox/card/acs", public_url.trim_end_matches('/'))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------------------------
// The acquirer API.

/// `POST /transactions`. Every field is read as text so that a wrongly typed card number can
/// never end up quoted in a deserialization error.
#[derive(Deserialize)]
struct TransactionBody {
    merchant_reference: Option<String>,
    amount: Option<Value>,
    currency: Option<String>,
    card: Option<CardBody>,
    token: Option<String>,
    challenge_return_url: Option<String>,
    notification_url: Option<String>,
}

#[derive(Deserialize)]
struct CardBody {
    holder: Option<String>,
    number: Option<String>,
    expiry: Option<String>,
    cvv: Option<String>,
}

/// What the request asks to charge.
enum Source {
    Card { summary: CardSummary, behaviour: Behaviour, challenge_return_url: String },
    Token(String, CardSummary),
}

async fn create_transaction(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = acquirer.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    let (response, hang) = match acquirer.create(&headers, &body) {
        Ok(done) => done,
        Err(refused) => (refused.into_response(), None),
    };
    answer_after(fault, hang, response).await
}

impl CardAcquirer {
    /// Validates and carries out an authorisation; the answer and any hang it calls for.
    fn create(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Response, Option<Duration>), Refusal> {
        check_api_key(headers)?;
        let request: TransactionBody = parse_json(body)?;
        let mut errors: Vec<(&str, String)> = Vec::new();

        let merchant_reference = non_empty(request.merchant_reference.as_ref());
        match merchant_reference {
            None => errors.push(("merchant_reference", "is required".into())),
            Some(r) if r.len() > 100 => {
                errors.push(("merchant_reference", "must be at most 100 characters".into()))
            }
            Some(_) => {}
        }
        let (amount, notification_url) = money_and_callback(
            request.currency.as_deref(),
            request.amount.as_ref(),
            request.notification_url.as_deref(),
            &mut errors,
        );

        let source = match (&request.card, non_empty(request.token.as_ref())) {
            (Some(_), Some(_)) => {
                errors.push(("token", "send either card or token, not both".into()));
                None
            }
            (None, None) => {
                errors.push(("card", "is required (or a token)".into()));
                None
            }
            (None, Some(token)) => match self.lock().tokens.get(token) {
                Some(summary) => Some(Source::Token(token.to_owned(), summary.clone())),
                None => {
                    errors.push(("token", "is not a token this acquirer issued".into()));
                    None
                }
            },
            (Some(card), None) => {
                let return_url = parse_callback_url(request.challenge_return_url.as_deref())
                    .map_err(|m| errors.push(("challenge_return_url", m)))
                    .ok();
                let card = check_card(card, &mut errors);
                match (card, return_url) {
                    (Some((summary, behaviour)), Some(challenge_return_url)) => {
                        Some(Source::Card { summary, behaviour, challenge_return_url })
                    }
                    _ => None,
                }
            }
        };

        let (Some(merchant_reference), Some(amount), Some(notification_url), Some(source)) =
            (merchant_reference, amount, notification_url, source)
        else {
            return Err(invalid(errors));
        };
        if !errors.is_empty() {
            return Err(invalid(errors));
        }

        let id = uuid::Uuid::new_v4().to_string().to_uppercase();
        let mut tx = Transaction {
            id: id.clone(),
            merchant_reference: merchant_reference.to_owned(),
            amount,
            card: CardSummary { brand: "", last4: String::new(), expiry: String::new() },
            status: Status::Ok,
            status_detail: DETAIL_OK,
            token: None,
            challenge: None,
            challenge_return_url: None,
            notification_url,
            refunded: Money::zero(amount.currency()),
            created_at: Utc::now(),
        };
        let mut hang = None;
        match source {
            Source::Token(token, summary) => {
                // Merchant-initiated with a stored card: no customer to challenge.
                tx.card = summary;
                tx.token = Some(token);
            }
            Source::Card { summary, behaviour, challenge_return_url } => {
                tx.card = summary;
                tx.challenge_return_url = Some(challenge_return_url);
                match behaviour {
                    Behaviour::Frictionless => tx.token = Some(new_token()),
                    Behaviour::Timeout => {
                        tx.token = Some(new_token());
                        let hang_ms =
                            self.sandbox.faults.get(PROVIDER).hang_ms.unwrap_or(DEFAULT_HANG_MS);
                        hang = Some(Duration::from_millis(hang_ms));
                    }
                    Behaviour::Decline(detail) => {
                        tx.status = Status::NotAuthed;
                        tx.status_detail = detail;
                    }
                    Behaviour::Error => {
                        tx.status = Status::Error;
                        tx.status_detail = DETAIL_ERROR;
                    }
                    Behaviour::Challenge => {
                        tx.status = Status::ThreeDAuth;
                        tx.status_detail = DETAIL_3DAUTH;
                        tx.challenge = Some(new_challenge(&id));
                    }
                }
            }
        }
        let view = tx.view(&self.sandbox.public_url);
        let final_outcome = tx.status != Status::ThreeDAuth;
        {
            let mut store = self.lock();
            if let Some(token) = &tx.token {
                store.tokens.insert(token.clone(), tx.card.clone());
            }
            store.transactions.insert(id, tx.clone());
        }
        if final_outcome {
            self.sandbox.notify(PROVIDER, &tx.notification_url, &tx.notification());
            Ok((json_response(StatusCode::CREATED, view), hang))
        } else {
            Ok((json_response(StatusCode::ACCEPTED, view), hang))
        }
    }
}

/// Checks the card the way an acquirer does; keeps only the summary and the test behaviour.
fn check_card(
    card: &CardBody,
    errors: &mut Vec<(&'static str, String)>,
) -> Option<(CardSummary, Behaviour)> {
    let before = errors.len();
    if non_empty(card.holder.as_ref()).is_none() {
        errors.push(("card.holder", "is required".into()));
    }
    let number = match CardNumber::parse(card.number.as_deref().unwrap_or("")) {
        Ok(number) => Some(number),
        Err(e) => {
            errors.push(("card.number", e.message));
            None
        }
    };
    let expiry = match ExpiryDate::parse(card.expiry.as_deref().unwrap_or("")) {
        Ok(expiry) if expiry.is_expired_at(Utc::now().date_naive()) => {
            errors.push(("card.expiry", "the card has expired".into()));
            None
        }
        Ok(expiry) => Some(expiry),
        Err(e) => {
            errors.push(("card.expiry", e.message));
            None
        }
    };
    match (Cvv::parse(card.cvv.as_deref().unwrap_or("")), &number) {
        (Ok(cvv), Some(number)) => {
            if let Err(e) = cvv.check_for(number.brand()) {
                errors.push(("card.cvv", e.message));
            }
        }
        (Ok(_), None) => {}
        (Err(e), _) => errors.push(("card.cvv", e.message)),
    }
    let (Some(number), Some(expiry)) = (number, expiry) else {
        return None;
    };
    if errors.len() != before {
        return None;
    }
    let summary = CardSummary {
        brand: number.brand().name(),
        last4: number.last4().to_owned(),
        expiry: expiry.to_mmyy(),
    };
    Some((summary, behaviour(number.expose_digits())))
}

fn new_token() -> String {
    format!("tok_{}", uuid::Uuid::new_v4().simple())
}

/// A challenge for transaction `id`: `creq` as seed 003 shows it (base64url JSON), and the
/// session data the browser carries through the ACS and back to the merchant.
fn new_challenge(id: &str) -> Challenge {
    let acs_trans_id = uuid::Uuid::new_v4().to_string();
    let creq = json!({
        "messageType": "CReq",
        "messageVersion": MESSAGE_VERSION,
        "threeDSServerTransID": id,
        "acsTransID": acs_trans_id,
        "challengeWindowSize": "05",
    });
    Challenge {
        creq: URL_SAFE_NO_PAD.encode(creq.to_string()),
        session_data: URL_SAFE_NO_PAD.encode(id),
        acs_trans_id,
        outcome: None,
    }
}

/// Decodes a base64url (padded or not, either alphabet) JSON 3-D Secure message.
fn decode_message(text: &str) -> Option<Value> {
    let normalised: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = URL_SAFE_NO_PAD.decode(normalised).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The two ids every 3-D Secure message carries, and its `transStatus` if any.
struct MessageIds {
    transaction_id: String,
    acs_trans_id: String,
    trans_status: Option<String>,
}

fn message_ids(message: &Value, message_type: &str) -> Option<MessageIds> {
    if message["messageType"].as_str() != Some(message_type) {
        return None;
    }
    Some(MessageIds {
        transaction_id: message["threeDSServerTransID"].as_str()?.to_owned(),
        acs_trans_id: message["acsTransID"].as_str()?.to_owned(),
        trans_status: message["transStatus"].as_str().map(str::to_owned),
    })
}

async fn show_transaction(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let fault = acquirer.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    let response = match check_api_key(&headers) {
        Err(refused) => refused.into_response(),
        Ok(()) => match acquirer.lock().find(&id) {
            Some(tx) => json_response(StatusCode::OK, tx.view(&acquirer.sandbox.public_url)),
            None => error(StatusCode::NOT_FOUND, "no such transaction").into_response(),
        },
    };
    answer_after(fault, None, response).await
}

/// `POST /transactions/{id}/3d-secure-challenge`; Opayo calls the field `cRes`.
#[derive(Deserialize)]
struct ChallengeBody {
    #[serde(rename = "cRes", alias = "cres")]
    cres: Option<String>,
}

async fn complete_challenge(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fault = acquirer.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    let response = match acquirer.complete(&headers, &id, &body) {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    };
    answer_after(fault, None, response).await
}

impl CardAcquirer {
    fn complete(&self, headers: &HeaderMap, id: &str, body: &[u8]) -> Result<Response, Refusal> {
        check_api_key(headers)?;
        let request: ChallengeBody = parse_json(body)?;
        let cres = non_empty(request.cres.as_ref())
            .ok_or_else(|| invalid(vec![("cRes", "is required".into())]))?;
        let ids = decode_message(cres)
            .as_ref()
            .and_then(|m| message_ids(m, "CRes"))
            .ok_or_else(|| invalid(vec![("cRes", "is not a challenge response".into())]))?;
        let notification = {
            let mut store = self.lock();
            let Some(tx) = store.transactions.get_mut(id) else {
                return Err(error(StatusCode::NOT_FOUND, "no such transaction"));
            };
            if ids.transaction_id != tx.id {
                return Err(invalid(vec![("cRes", "belongs to another transaction".into())]));
            }
            let Some(challenge) = &tx.challenge else {
                return Err(invalid(vec![("cRes", "the transaction had no challenge".into())]));
            };
            if ids.acs_trans_id != challenge.acs_trans_id {
                return Err(invalid(vec![(
                    "cRes",
                    "was not issued by this transaction's ACS".into(),
                )]));
            }
            // The outcome comes from the ACS itself; the cRes must agree with it.
            let Some(authenticated) = challenge.outcome else {
                return Err(invalid(vec![(
                    "cRes",
                    "the customer has not answered the challenge".into(),
                )]));
            };
            let claimed = ids.trans_status.as_deref() == Some("Y");
            if claimed != authenticated {
                return Err(invalid(vec![("cRes", "does not match the issuer's result".into())]));
            }
            if tx.status == Status::ThreeDAuth {
                if authenticated {
                    tx.status = Status::Ok;
                    tx.status_detail = DETAIL_OK;
                    tx.token = Some(new_token());
                } else {
                    tx.status = Status::NotAuthed;
                    tx.status_detail = DETAIL_3DS_FAILED;
                }
                Some(tx.clone())
            } else {
                // A repeated completion gets the same answer and changes nothing.
                None
            }
        };
        if let Some(tx) = &notification {
            let mut store = self.lock();
            if let Some(token) = &tx.token {
                store.tokens.insert(token.clone(), tx.card.clone());
            }
            drop(store);
            self.sandbox.notify(PROVIDER, &tx.notification_url, &tx.notification());
        }
        let store = self.lock();
        let tx = store
            .transactions
            .get(id)
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such transaction"))?;
        Ok(json_response(StatusCode::OK, tx.view(&self.sandbox.public_url)))
    }
}

/// `POST /transactions/{id}/refund`.
#[derive(Deserialize)]
struct RefundBody {
    amount: Option<Value>,
    currency: Option<String>,
}

async fn refund(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fault = acquirer.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    let response = match acquirer.refund(&headers, &id, &body) {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    };
    answer_after(fault, None, response).await
}

impl CardAcquirer {
    fn refund(&self, headers: &HeaderMap, id: &str, body: &[u8]) -> Result<Response, Refusal> {
        check_api_key(headers)?;
        let request: RefundBody = parse_json(body)?;
        let mut store = self.lock();
        let Some(tx) = store.transactions.get_mut(id) else {
            return Err(error(StatusCode::NOT_FOUND, "no such transaction"));
        };
        let currency = tx.amount.currency();
        if let Some(code) = &request.currency
            && !code.trim().eq_ignore_ascii_case(currency.code())
        {
            return Err(invalid(vec![(
                "currency",
                format!("must be the transaction's currency, {}", currency.code()),
            )]));
        }
        let amount = parse_amount(request.amount.as_ref(), currency)
            .map_err(|m| invalid(vec![("amount", m)]))?;
        if tx.status != Status::Ok {
            return Err(invalid(vec![(
                "id",
                "only authorised transactions can be refunded".into(),
            )]));
        }
        let remaining = tx.amount.minor() - tx.refunded.minor();
        if amount.minor() > remaining {
            return Err(invalid(vec![(
                "amount",
                format!(
                    "is more than the {} left to refund",
                    Money::from_minor(remaining, currency).to_decimal()
                ),
            )]));
        }
        tx.refunded = Money::from_minor(tx.refunded.minor() + amount.minor(), currency);
        Ok(json_response(
            StatusCode::CREATED,
            json!({
                "id": uuid::Uuid::new_v4().to_string().to_uppercase(),
                "transaction_id": tx.id,
                "status": "Ok",
                "statusDetail": "The refund was successful.",
                "amount": amount.to_decimal().to_string(),
                "currency": currency.code(),
                "refunded_amount": tx.refunded.to_decimal().to_string(),
            }),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The issuer's challenge pages (ACS), in the customer's browser.

/// The form seed 003's page posts to `acsurl`.
#[derive(Deserialize)]
struct AcsForm {
    creq: Option<String>,
    #[serde(rename = "threeDSSessionData")]
    session_data: Option<String>,
}

/// The customer's answer on the challenge page.
#[derive(Deserialize)]
struct AcsAnswerForm {
    #[serde(rename = "acsTransID")]
    acs_trans_id: Option<String>,
    #[serde(rename = "threeDSSessionData")]
    session_data: Option<String>,
    outcome: Option<String>,
}

async fn acs_challenge_page(State(acquirer): State<CardAcquirer>, body: Bytes) -> Response {
    let fault = acquirer.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    let response = match acquirer.challenge_page(&body) {
        Ok(page) => page,
        Err(refused) => refused.into_response(),
    };
    answer_after(fault, None, response).await
}

impl CardAcquirer {
    fn challenge_page(&self, body: &[u8]) -> Result<Response, Refusal> {
        let bad = |message: &str| -> Refusal {
            html(StatusCode::BAD_REQUEST, "Challenge refused", message).into()
        };
        let form: AcsForm = serde_urlencoded::from_bytes(body)
            .map_err(|_| bad("The challenge request could not be read."))?;
        let ids = form
            .creq
            .as_deref()
            .and_then(decode_message)
            .as_ref()
            .and_then(|m| message_ids(m, "CReq"))
            .ok_or_else(|| bad("The challenge request (creq) is missing or malformed."))?;
        let session_data = form.session_data.unwrap_or_default();
        let store = self.lock();
        let tx = store
            .transactions
            .get(&ids.transaction_id)
            .filter(|tx| tx.challenge.as_ref().is_some_and(|c| c.acs_trans_id == ids.acs_trans_id))
            .ok_or_else(|| bad("This challenge request was not issued by this ACS."))?;
        let Some(challenge) = &tx.challenge else {
            return Err(bad("This transaction has no challenge."));
        };
        if tx.status != Status::ThreeDAuth {
            return Err(html(
                StatusCode::CONFLICT,
                "Challenge closed",
                "This challenge is closed.",
            )
            .into());
        }
        if let Some(authenticated) = challenge.outcome {
            // A reloaded page before the merchant finished: show the answer already given
            // rather than asking again.
            return Ok(self.result_page(tx, authenticated, &session_data));
        }
        let content = format!(
            r#"<p class="lead">Sandbox issuer: confirm this payment.</p>
<dl>
<dt>Merchant reference</dt><dd>{reference}</dd>
<dt>Amount</dt><dd>{amount}</dd>
<dt>Card</dt><dd>{brand} ending {last4}, expires {expiry}</dd>
</dl>
<form method="post" action="{action}">
<input type="hidden" name="acsTransID" value="{acs}">
<input type="hidden" name="threeDSSessionData" value="{session}">
<p><button type="submit" name="outcome" value="authenticate">Authenticate</button>
<button type="submit" class="link" name="outcome" value="fail">Fail authentication</button></p>
</form>"#,
            reference = escape(&tx.merchant_reference),
            amount = escape(&tx.amount.to_string()),
            brand = escape(tx.card.brand),
            last4 = escape(&tx.card.last4),
            expiry = escape(&tx.card.expiry),
            action = escape(&format!("{}/{}", acs_url(&self.sandbox.public_url), tx.id)),
            acs = escape(&challenge.acs_trans_id),
            session = escape(&session_data),
        );
        Ok(html(StatusCode::OK, "3-D Secure challenge", &content))
    }

    /// The page after the customer answered: a form that takes the browser, with `cres`, back to
    /// the merchant. It needs a click ("Continue"): our content security policy allows no
    /// inline script to submit it automatically.
    fn result_page(&self, tx: &Transaction, authenticated: bool, session_data: &str) -> Response {
        let Some(challenge) = &tx.challenge else {
            return html(
                StatusCode::CONFLICT,
                "Challenge closed",
                "This transaction has no challenge.",
            );
        };
        let Some(return_url) = &tx.challenge_return_url else {
            return html(StatusCode::CONFLICT, "Challenge closed", "No return address was given.");
        };
        let cres = json!({
            "messageType": "CRes",
            "messageVersion": MESSAGE_VERSION,
            "threeDSServerTransID": tx.id,
            "acsTransID": challenge.acs_trans_id,
            "challengeCompletionInd": "Y",
            "transStatus": if authenticated { "Y" } else { "N" },
        });
        let message =
            if authenticated { "You have been authenticated." } else { "Authentication failed." };
        let content = format!(
            r#"<p class="lead">{message} Continue to return to the merchant.</p>
<form method="post" action="{action}">
<input type="hidden" name="cres" value="{cres}">
<input type="hidden" name="threeDSSessionData" value="{session}">
<p><button type="submit">Continue</button></p>
</form>"#,
            action = escape(return_url),
            cres = escape(&URL_SAFE_NO_PAD.encode(cres.to_string())),
            session = escape(session_data),
        );
        html(StatusCode::OK, "3-D Secure challenge complete", &content)
    }
}

async fn acs_answer(
    State(acquirer): State<CardAcquirer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fault = acquirer.sandbox.faults.before_request(PROVIDER).await;
    if fault == RequestFault::Unavailable {
        return faults::unavailable();
    }
    let response = match acquirer.answer(&id, &body) {
        Ok(page) => page,
        Err(refused) => refused.into_response(),
    };
    answer_after(fault, None, response).await
}

impl CardAcquirer {
    fn answer(&self, id: &str, body: &[u8]) -> Result<Response, Refusal> {
        let bad = |message: &str| -> Refusal {
            html(StatusCode::BAD_REQUEST, "Challenge refused", message).into()
        };
        let form: AcsAnswerForm =
            serde_urlencoded::from_bytes(body).map_err(|_| bad("The answer could not be read."))?;
        let authenticated = match form.outcome.as_deref() {
            Some("authenticate") => true,
            Some("fail") => false,
            _ => return Err(bad("Choose Authenticate or Fail authentication.")),
        };
        let mut store = self.lock();
        let tx = store
            .transactions
            .get_mut(id)
            .filter(|tx| {
                tx.challenge
                    .as_ref()
                    .is_some_and(|c| Some(&c.acs_trans_id) == form.acs_trans_id.as_ref())
            })
            .ok_or_else(|| bad("This challenge was not issued by this ACS."))?;
        if tx.status != Status::ThreeDAuth {
            return Err(html(
                StatusCode::CONFLICT,
                "Challenge closed",
                "This challenge is closed.",
            )
            .into());
        }
        let Some(challenge) = tx.challenge.as_mut() else {
            return Err(bad("This transaction has no challenge."));
        };
        match challenge.outcome {
            Some(given) if given != authenticated => {
                return Err(html(
                    StatusCode::CONFLICT,
                    "Challenge answered",
                    "This challenge was already answered differently.",
                )
                .into());
            }
            _ => challenge.outcome = Some(authenticated),
        }
        let tx = tx.clone();
        drop(store);
        Ok(self.result_page(&tx, authenticated, form.session_data.as_deref().unwrap_or("")))
    }
}

/// A plain page in Settle's stylesheet; no script (the content security policy forbids inline
/// script, and the issuer's page needs none).
fn html(status: StatusCode, title: &str, content: &str) -> Response {
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Sandbox issuer</title>
<link rel="stylesheet" href="/style/settle.css">
</head>
<body>
<main><div class="card narrow">
<h1>{title}</h1>
{content}
</div></main>
</body>
</html>
"#,
        title = escape(title),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Challenge pages are one-off answers; a cached copy would replay them.
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

/// Escapes text for HTML content and double-quoted attribute values.
fn escape(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_cards_are_luhn_valid_and_behave_as_documented() {
        for number in SEED_003_CARDS {
            assert_eq!(
                behaviour(CardNumber::parse(number).unwrap().expose_digits()),
                Behaviour::Frictionless
            );
        }
        for (number, expected) in [
            (CHALLENGE_CARD, Behaviour::Challenge),
            (CHALLENGE_MASTERCARD, Behaviour::Challenge),
            (DECLINED_CARD, Behaviour::Decline(DETAIL_DECLINED)),
            (INSUFFICIENT_FUNDS_CARD, Behaviour::Decline(DETAIL_NO_FUNDS)),
            (ERROR_CARD, Behaviour::Error),
            (TIMEOUT_CARD, Behaviour::Timeout),
        ] {
            assert_eq!(behaviour(CardNumber::parse(number).unwrap().expose_digits()), expected);
        }
    }

    #[test]
    fn messages_round_trip_and_escape_is_complete() {
        let challenge = new_challenge("T1");
        let creq = decode_message(&challenge.creq).unwrap();
        let ids = message_ids(&creq, "CReq").unwrap();
        assert_eq!(
            (ids.transaction_id.as_str(), ids.acs_trans_id.as_str()),
            ("T1", challenge.acs_trans_id.as_str())
        );
        assert!(message_ids(&creq, "CRes").is_none());
        assert!(decode_message("not base64!").is_none());
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;"
        );
    }
}
