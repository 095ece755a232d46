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
//!   transaction with it, for reconciling after a timeout; `404 {"error"}` if neither
//!   matches); `POST /transactions/{id}/refund`.
//! - `GET /transactions?merchant_reference=…` and `GET /transactions?since=<RFC 3339>` list
//!   transactions as `GET /transactions/{id}` shows them, newest first (`transactions.rs`).
//!
//! The issuer's challenge pages and the 3-D Secure messages are in `acs.rs`.
//!
//! Every final outcome is also posted, signed, to the transaction's `notification_url`.
//! Card numbers and security codes are read, checked and dropped: only brand, last four digits
//! and expiry are kept or ever sent back, and error messages never quote a submitted value.

mod acs;
mod transactions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::money::Money;

use super::faults::Gate;
use super::request::{decimal, non_empty};
use super::{Sandbox, new_id};

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
    /// What the API's view and the notification both say of the transaction. (JSON objects
    /// keep their keys sorted, so where a key is added does not change the text.)
    fn facts(&self) -> Value {
        let mut facts = json!({
            "merchant_reference": self.merchant_reference,
            "status": self.status.as_str(),
            "statusDetail": self.status_detail,
            "amount": decimal(self.amount),
            "currency": self.amount.currency().code(),
            "card": self.card.json(),
        });
        if let Some(token) = &self.token {
            facts["token"] = json!(token);
        }
        facts
    }

    /// The transaction as the API shows it.
    fn view(&self, public_url: &str) -> Value {
        let mut view = self.facts();
        view["id"] = json!(self.id);
        view["refunded_amount"] = json!(decimal(self.refunded));
        view["created_at"] = json!(self.created_at);
        if let (Status::ThreeDAuth, Some(challenge)) = (self.status, &self.challenge) {
            view["acsUrl"] = json!(acs_url(public_url));
            view["cReq"] = json!(challenge.creq);
            view["threeDSSessionData"] = json!(challenge.session_data);
        }
        view
    }

    /// The notification for a final outcome.
    fn notification(&self) -> Value {
        let mut body = self.facts();
        body["event_id"] = json!(new_id("evt"));
        body["transaction_id"] = json!(self.id);
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
    /// The card a token stands for: one this acquirer issued, or a demo token
    /// (`demo-card-token-4242`: a Visa ending in its last four digits, expiring 12/29, like the
    /// hosted checkout's demo tokens), so demo
    /// data holds saved cards that survive a restart of the sandbox.
    fn token_card(&self, token: &str) -> Option<CardSummary> {
        if let Some(card) = self.tokens.get(token) {
            return Some(card.clone());
        }
        let last4 = super::demo_token_last4(token)?;
        Some(CardSummary { brand: "VISA", last4, expiry: "1229".to_owned() })
    }

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
        super::lock(&self.store)
    }
}

/// The card provider's routes, to be nested at `/sandbox/card`.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    // Every endpoint is subject to faults, the issuer's pages too: an ACS in trouble is part of
    // what a merchant's challenge flow must survive.
    let faults = Gate::new(&sandbox.faults, PROVIDER);
    let acquirer = CardAcquirer { sandbox, store: Arc::new(Mutex::new(Store::default())) };
    Router::new()
        .route(
            "/transactions",
            faults
                .guard(post(transactions::create_transaction).get(transactions::list_transactions)),
        )
        .route("/transactions/{id}", faults.guard(get(transactions::show_transaction)))
        .route(
            "/transactions/{id}/3d-secure-challenge",
            faults.guard(post(transactions::complete_challenge)),
        )
        .route("/transactions/{id}/refund", faults.guard(post(transactions::refund)))
        .route("/acs", faults.guard(post(acs::acs_challenge_page)))
        .route("/acs/{id}", faults.guard(post(acs::acs_answer)))
        .with_state(acquirer)
}

fn acs_url(public_url: &str) -> String {
    format!("{}/sandbox/card/acs", public_url.trim_end_matches('/'))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn new_token() -> String {
    new_id("tok")
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
}
