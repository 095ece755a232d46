//! The sandbox bank's collections: submitting, status queries and lists.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;
use crate::sandbox::request::{ListQuery, money_and_callback, newest_first};

/// `POST /collections`.
#[derive(Deserialize)]
struct CollectionBody {
    mandate_id: Option<String>,
    iban: Option<String>,
    account_holder: Option<String>,
    amount: Option<Value>,
    currency: Option<String>,
    merchant_reference: Option<String>,
    notification_url: Option<String>,
}

pub(super) async fn create_collection(
    State(bank): State<Bank>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let request: CollectionBody = parse_json(&body)?;
    let mut errors = Vec::new();
    let reference =
        required(request.merchant_reference.as_ref(), "merchant_reference", &mut errors);
    let (amount, notification_url) = money_and_callback(
        request.currency.as_deref(),
        request.amount.as_ref(),
        request.notification_url.as_deref(),
        &mut errors,
    );
    // Either an existing mandate, or the account to create one on.
    let existing = match non_empty(request.mandate_id.as_ref()) {
        Some(id) => match bank.lock().mandate(id) {
            Some(mandate) => Some(Some(mandate)),
            None => {
                errors.push(("mandate_id", "is not a mandate at this bank".into()));
                None
            }
        },
        None => Some(None),
    };
    let new_account = match existing {
        Some(None) => {
            let iban = iban_field(request.iban.as_ref(), &mut errors);
            let holder = required(request.account_holder.as_ref(), "account_holder", &mut errors);
            iban.zip(holder)
        }
        _ => None,
    };
    let (Some(reference), Some(amount), Some(notification_url), Some(existing)) =
        (reference, amount, notification_url, existing)
    else {
        return Err(invalid(errors));
    };
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let mandate = match (existing, new_account) {
        (Some(mandate), _) => mandate,
        (None, Some((iban, holder))) => bank.new_mandate(iban, holder, reference)?,
        (None, None) => return Err(invalid(errors)),
    };

    let (delay, collection) = {
        let mut store = bank.lock();
        let delay = Duration::from_millis(store.settings.settle_after_ms);
        let collection = Collection {
            id: format!("DD-{}", uuid::Uuid::new_v4().simple()),
            mandate_id: mandate.id.clone(),
            amount,
            merchant_reference: reference.to_owned(),
            notification_url,
            status: CollectionStatus::Pending,
            outcome: match bounce_reason(&mandate.iban) {
                Some(reason) => CollectionStatus::Bounced(reason),
                None => CollectionStatus::Settled,
            },
            due: Instant::now() + delay,
            created_at: Utc::now(),
        };
        store.collections.insert(collection.id.clone(), collection.clone());
        (delay, collection)
    };
    let (bank, id) = (bank.clone(), collection.id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        bank.finish_if_due(&id);
    });
    Ok((StatusCode::ACCEPTED, Json(collection.view())).into_response())
}

pub(super) async fn show_collection(
    State(bank): State<Bank>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let found = bank.lock().resolve(&id);
    if let Some(id) = &found {
        bank.finish_if_due(id);
    }
    let store = bank.lock();
    match found.and_then(|id| store.collections.get(&id)) {
        Some(collection) => Ok(Json(collection.view()).into_response()),
        None => Err(error(StatusCode::NOT_FOUND, "no such collection")),
    }
}

/// `GET /collections?merchant_reference=…` or `?since=…`, newest first. Collections past their
/// due time are settled first, as a status query would.
pub(super) async fn list_collections(
    State(bank): State<Bank>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let filter = query.filter().map_err(|(field, message)| invalid(vec![(field, message)]))?;
    let matching: Vec<String> = bank
        .lock()
        .collections
        .values()
        .filter(|c| filter.matches(&c.merchant_reference, c.created_at))
        .map(|c| c.id.clone())
        .collect();
    for id in &matching {
        bank.finish_if_due(id);
    }
    let store = bank.lock();
    let mut found: Vec<&Collection> =
        matching.iter().filter_map(|id| store.collections.get(id)).collect();
    newest_first(&mut found, |c| (c.created_at, c.id.as_str()));
    let views: Vec<Value> = found.iter().map(|c| c.view()).collect();
    Ok(Json(json!({ "collections": views })).into_response())
}
