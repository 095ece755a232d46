//! Sandbox provider `bank`: a direct-debit bank, mounted at `/sandbox/bank`.
//!
//! - `POST /mandates` `{iban, account_holder, merchant_reference}` → `201 {mandate_id, status}`;
//!   `GET /mandates/{id}`.
//! - `POST /collections` with a `mandate_id`, or `iban` + `account_holder` (which creates the
//!   mandate), plus `amount`, `currency`, `merchant_reference`, `notification_url` →
//!   `202 {id, status: "pending", mandate_id}`.
//! - After the bank's settlement delay the collection settles, or bounces for the documented
//!   test IBANs, and a signed notification `{event_id, collection_id, mandate_id,
//!   merchant_reference, status: settled|bounced, reason?}` is posted. `GET /collections/{id}`
//!   (the bank's id, or the merchant reference of the latest collection with it);
//!   `GET /collections?merchant_reference=…` or `?since=<RFC 3339>` lists them, newest first.
//! - `GET`/`PUT /settings` `{settle_after_ms}`: the settlement delay (default 2000 ms), a
//!   simulator control like `/sandbox/faults`, so it takes no API key and no faults.
//!
//! Full IBANs are kept (a bank needs them) but never sent back: answers show them masked.
//! The collection endpoints are in `collections.rs`.

mod collections;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use settle::iban::Iban;
use settle::money::Money;
use tokio::time::Instant;

use super::faults::Gate;
use super::request::{Refusal, check_api_key, decimal, error, invalid, non_empty, parse_json};
use super::{Sandbox, new_id};

/// The provider name for fault injection and notifications.
pub const PROVIDER: &str = "bank";

/// Collections from this account settle (as do those from any valid IBAN not listed here).
pub const SETTLING_IBAN: &str = "DE89370400440532013000";
/// Collections from this account bounce with "insufficient funds".
pub const INSUFFICIENT_FUNDS_IBAN: &str = "DE62370400440532013001";
/// Collections from this account bounce with "account closed".
pub const ACCOUNT_CLOSED_IBAN: &str = "DE35370400440532013002";
/// The bank refuses mandates on this account (`422`, "does not accept direct debits").
pub const MANDATE_REFUSED_IBAN: &str = "DE08370400440532013003";
/// The settlement delay until changed through `PUT /sandbox/bank/settings`.
pub const DEFAULT_SETTLE_AFTER_MS: u64 = 2000;
/// The prefix of mandate ids the bank accepts without having given them (demo data).
pub const DEMO_MANDATE_PREFIX: &str = "demo-mandate-";

const REASON_NO_FUNDS: &str = "insufficient funds";
const REASON_CLOSED: &str = "account closed";

/// How a collection from an account ends.
fn bounce_reason(iban: &Iban) -> Option<&'static str> {
    match iban.electronic() {
        INSUFFICIENT_FUNDS_IBAN => Some(REASON_NO_FUNDS),
        ACCOUNT_CLOSED_IBAN => Some(REASON_CLOSED),
        _ => None,
    }
}

/// The bank's simulator settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankSettings {
    /// How long after submission a collection settles or bounces.
    pub settle_after_ms: u64,
}

impl Default for BankSettings {
    fn default() -> Self {
        BankSettings { settle_after_ms: DEFAULT_SETTLE_AFTER_MS }
    }
}

#[derive(Clone, Debug)]
struct Mandate {
    id: String,
    iban: Iban,
    account_holder: String,
    merchant_reference: String,
    created_at: DateTime<Utc>,
}

impl Mandate {
    fn view(&self) -> Value {
        json!({
            "mandate_id": self.id,
            "status": "active",
            "account_holder": self.account_holder,
            "iban_masked": self.iban.masked(),
            "merchant_reference": self.merchant_reference,
            "created_at": self.created_at,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum CollectionStatus {
    Pending,
    Settled,
    Bounced(&'static str),
}

#[derive(Clone, Debug)]
struct Collection {
    id: String,
    mandate_id: String,
    amount: Money,
    merchant_reference: String,
    notification_url: String,
    status: CollectionStatus,
    /// What the collection will end as, decided by the account at submission.
    outcome: CollectionStatus,
    due: Instant,
    created_at: DateTime<Utc>,
}

impl Collection {
    /// What the API's view and the notification both say of the collection. (JSON objects
    /// keep their keys sorted, so where a key is added does not change the text.)
    fn facts(&self) -> Value {
        let mut facts = json!({
            "mandate_id": self.mandate_id,
            "merchant_reference": self.merchant_reference,
            "status": self.status_word(),
            "amount": decimal(self.amount),
            "currency": self.amount.currency().code(),
        });
        if let CollectionStatus::Bounced(reason) = self.status {
            facts["reason"] = json!(reason);
        }
        facts
    }

    fn view(&self) -> Value {
        let mut view = self.facts();
        view["id"] = json!(self.id);
        // Direct debits are not refunded through this bank; shown for the ledger check.
        view["refunded_amount"] = json!(decimal(Money::zero(self.amount.currency())));
        view["created_at"] = json!(self.created_at);
        view
    }

    fn status_word(&self) -> &'static str {
        match self.status {
            CollectionStatus::Pending => "pending",
            CollectionStatus::Settled => "settled",
            CollectionStatus::Bounced(_) => "bounced",
        }
    }

    fn notification(&self) -> Value {
        let mut body = self.facts();
        body["event_id"] = json!(new_id("evt"));
        body["collection_id"] = json!(self.id);
        body
    }
}

#[derive(Default)]
struct Store {
    settings: BankSettings,
    mandates: HashMap<String, Mandate>,
    collections: HashMap<String, Collection>,
}

impl Store {
    /// A mandate this bank gave, or a demo mandate (`demo-mandate-…`: on [`SETTLING_IBAN`], so
    /// demo data holds a bank account that survives a restart of the sandbox).
    fn mandate(&self, id: &str) -> Option<Mandate> {
        if let Some(mandate) = self.mandates.get(id) {
            return Some(mandate.clone());
        }
        let _ = id.strip_prefix(DEMO_MANDATE_PREFIX)?;
        Some(Mandate {
            id: id.to_owned(),
            iban: Iban::parse(SETTLING_IBAN).ok()?,
            account_holder: "Demo account holder".to_owned(),
            merchant_reference: id.to_owned(),
            created_at: Utc::now(),
        })
    }

    /// A collection's id: the bank's own, or the latest collection with that merchant reference
    /// (a merchant whose request timed out never learnt the bank's id).
    fn resolve(&self, key: &str) -> Option<String> {
        if self.collections.contains_key(key) {
            return Some(key.to_owned());
        }
        self.collections
            .values()
            .filter(|c| c.merchant_reference == key)
            .max_by_key(|c| c.created_at)
            .map(|c| c.id.clone())
    }
}

/// The provider's state: the sandbox plus its mandates and collections.
#[derive(Clone)]
struct Bank {
    sandbox: Sandbox,
    store: Arc<Mutex<Store>>,
}

impl Bank {
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        super::lock(&self.store)
    }

    /// Settles or bounces a due pending collection and sends its notification. Both the timer
    /// and status queries call this, so a query never sees "pending" after the due time and the
    /// notification is sent exactly once, by whichever comes first.
    fn finish_if_due(&self, id: &str) {
        let finished = {
            let mut store = self.lock();
            match store.collections.get_mut(id) {
                Some(c) if c.status == CollectionStatus::Pending && Instant::now() >= c.due => {
                    c.status = c.outcome.clone();
                    Some(c.clone())
                }
                _ => None,
            }
        };
        if let Some(collection) = finished {
            self.sandbox.notify(PROVIDER, &collection.notification_url, &collection.notification());
        }
    }

    /// A mandate on `iban`, unless the bank refuses the account.
    fn new_mandate(
        &self,
        iban: Iban,
        account_holder: &str,
        merchant_reference: &str,
    ) -> Result<Mandate, Refusal> {
        if iban.electronic() == MANDATE_REFUSED_IBAN {
            return Err(invalid(vec![(
                "iban",
                "the account does not accept direct debits".into(),
            )]));
        }
        let mandate = Mandate {
            id: format!("MD-{}", uuid::Uuid::new_v4().simple()),
            iban,
            account_holder: account_holder.to_owned(),
            merchant_reference: merchant_reference.to_owned(),
            created_at: Utc::now(),
        };
        self.lock().mandates.insert(mandate.id.clone(), mandate.clone());
        Ok(mandate)
    }
}

/// The bank provider's routes, to be nested at `/sandbox/bank`.
pub fn router<S: Clone + Send + Sync + 'static>(sandbox: Sandbox) -> Router<S> {
    let faults = Gate::new(&sandbox.faults, PROVIDER);
    let bank = Bank { sandbox, store: Arc::new(Mutex::new(Store::default())) };
    Router::new()
        // A simulator control, like `/sandbox/faults`: not subject to faults.
        .route("/settings", get(show_settings).put(set_settings))
        .route("/mandates", faults.guard(post(create_mandate)))
        .route("/mandates/{id}", faults.guard(get(show_mandate)))
        .route(
            "/collections",
            faults.guard(post(collections::create_collection).get(collections::list_collections)),
        )
        .route("/collections/{id}", faults.guard(get(collections::show_collection)))
        .with_state(bank)
}

async fn show_settings(State(bank): State<Bank>) -> Json<BankSettings> {
    Json(bank.lock().settings)
}

async fn set_settings(State(bank): State<Bank>, body: Bytes) -> Response {
    match parse_json::<BankSettings>(&body) {
        Ok(settings) => {
            bank.lock().settings = settings;
            Json(settings).into_response()
        }
        Err(refused) => refused.into_response(),
    }
}

/// Reads a required, non-empty text field.
fn required<'a>(
    value: Option<&'a String>,
    field: &'static str,
    errors: &mut Vec<(&'static str, String)>,
) -> Option<&'a str> {
    let found = non_empty(value);
    if found.is_none() {
        errors.push((field, "is required".into()));
    }
    found
}

/// Reads an IBAN; the parser's messages never quote the input.
fn iban_field(value: Option<&String>, errors: &mut Vec<(&'static str, String)>) -> Option<Iban> {
    match Iban::parse(value.map(String::as_str).unwrap_or("")) {
        Ok(iban) => Some(iban),
        Err(e) => {
            errors.push(("iban", e.message));
            None
        }
    }
}

/// `POST /mandates`.
#[derive(Deserialize)]
struct MandateBody {
    iban: Option<String>,
    account_holder: Option<String>,
    merchant_reference: Option<String>,
}

async fn create_mandate(
    State(bank): State<Bank>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let request: MandateBody = parse_json(&body)?;
    let mut errors = Vec::new();
    let iban = iban_field(request.iban.as_ref(), &mut errors);
    let holder = required(request.account_holder.as_ref(), "account_holder", &mut errors);
    let reference =
        required(request.merchant_reference.as_ref(), "merchant_reference", &mut errors);
    let (Some(iban), Some(holder), Some(reference)) = (iban, holder, reference) else {
        return Err(invalid(errors));
    };
    let mandate = bank.new_mandate(iban, holder, reference)?;
    Ok((StatusCode::CREATED, Json(mandate.view())).into_response())
}

async fn show_mandate(
    State(bank): State<Bank>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    match bank.lock().mandate(&id) {
        Some(mandate) => Ok(Json(mandate.view()).into_response()),
        None => Err(error(StatusCode::NOT_FOUND, "no such mandate")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_ibans_are_valid_and_behave_as_documented() {
        for (iban, reason) in [
            (SETTLING_IBAN, None),
            (INSUFFICIENT_FUNDS_IBAN, Some(REASON_NO_FUNDS)),
            (ACCOUNT_CLOSED_IBAN, Some(REASON_CLOSED)),
            (MANDATE_REFUSED_IBAN, None),
        ] {
            let parsed = Iban::parse(iban).unwrap();
            assert_eq!(bounce_reason(&parsed), reason, "{iban}");
        }
    }
}
