//! The acquirer API of the sandbox card provider: authorisations, lookups and lists,
//! 3-D Secure completion and refunds.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use settle::money::Money;

use super::acs::{decode_message, message_ids, new_challenge};
use super::*;
use crate::sandbox::faults::LateAnswer;
use crate::sandbox::request::{
    ListQuery, Refusal, check_api_key, error, invalid, money_and_callback, newest_first,
    parse_amount, parse_callback_url, parse_json,
};

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

/// Validates and carries out an authorisation; the answer is late if the card says so.
pub(super) async fn create_transaction(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let request: TransactionBody = parse_json(&body)?;
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
        (None, Some(token)) => match acquirer.lock().token_card(token) {
            Some(summary) => Some(Source::Token(token.to_owned(), summary)),
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
                        acquirer.sandbox.faults.get(PROVIDER).hang_ms.unwrap_or(DEFAULT_HANG_MS);
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
    let view = tx.view(&acquirer.sandbox.public_url);
    let final_outcome = tx.status != Status::ThreeDAuth;
    {
        let mut store = acquirer.lock();
        if let Some(token) = &tx.token {
            store.tokens.insert(token.clone(), tx.card.clone());
        }
        store.transactions.insert(id, tx.clone());
    }
    let status = if final_outcome {
        acquirer.sandbox.notify(PROVIDER, &tx.notification_url, &tx.notification());
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    let mut response = json_response(status, view);
    if let Some(hang) = hang {
        response.extensions_mut().insert(LateAnswer(hang));
    }
    Ok(response)
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

pub(super) async fn show_transaction(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    match acquirer.lock().find(&id) {
        Some(tx) => Ok(json_response(StatusCode::OK, tx.view(&acquirer.sandbox.public_url))),
        None => Err(error(StatusCode::NOT_FOUND, "no such transaction")),
    }
}

/// `GET /transactions?merchant_reference=…` or `?since=…`: the matching transactions as
/// `GET /transactions/{id}` shows them, newest first.
pub(super) async fn list_transactions(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let filter = query.filter().map_err(|(field, message)| invalid(vec![(field, message)]))?;
    let store = acquirer.lock();
    let mut found: Vec<&Transaction> = store
        .transactions
        .values()
        .filter(|tx| filter.matches(&tx.merchant_reference, tx.created_at))
        .collect();
    newest_first(&mut found, |tx| (tx.created_at, tx.id.as_str()));
    let views: Vec<Value> = found.iter().map(|tx| tx.view(&acquirer.sandbox.public_url)).collect();
    Ok(json_response(StatusCode::OK, json!({ "transactions": views })))
}

/// `POST /transactions/{id}/3d-secure-challenge`; Opayo calls the field `cRes`.
#[derive(Deserialize)]
struct ChallengeBody {
    #[serde(rename = "cRes", alias = "cres")]
    cres: Option<String>,
}

pub(super) async fn complete_challenge(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let request: ChallengeBody = parse_json(&body)?;
    let cres = non_empty(request.cres.as_ref())
        .ok_or_else(|| invalid(vec![("cRes", "is required".into())]))?;
    let ids = decode_message(cres)
        .as_ref()
        .and_then(|m| message_ids(m, "CRes"))
        .ok_or_else(|| invalid(vec![("cRes", "is not a challenge response".into())]))?;
    let notification = {
        let mut store = acquirer.lock();
        let Some(tx) = store.transactions.get_mut(&id) else {
            return Err(error(StatusCode::NOT_FOUND, "no such transaction"));
        };
        if ids.transaction_id != tx.id {
            return Err(invalid(vec![("cRes", "belongs to another transaction".into())]));
        }
        let Some(challenge) = &tx.challenge else {
            return Err(invalid(vec![("cRes", "the transaction had no challenge".into())]));
        };
        if ids.acs_trans_id != challenge.acs_trans_id {
            return Err(invalid(vec![("cRes", "was not issued by this transaction's ACS".into())]));
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
        let mut store = acquirer.lock();
        if let Some(token) = &tx.token {
            store.tokens.insert(token.clone(), tx.card.clone());
        }
        drop(store);
        acquirer.sandbox.notify(PROVIDER, &tx.notification_url, &tx.notification());
    }
    let store = acquirer.lock();
    let tx = store
        .transactions
        .get(&id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such transaction"))?;
    Ok(json_response(StatusCode::OK, tx.view(&acquirer.sandbox.public_url)))
}

/// `POST /transactions/{id}/refund`.
#[derive(Deserialize)]
struct RefundBody {
    amount: Option<Value>,
    currency: Option<String>,
}

pub(super) async fn refund(
    State(acquirer): State<CardAcquirer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    check_api_key(&headers)?;
    let request: RefundBody = parse_json(&body)?;
    let mut store = acquirer.lock();
    let Some(tx) = store.transactions.get_mut(&id) else {
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
        return Err(invalid(vec![("id", "only authorised transactions can be refunded".into())]));
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
            "amount": decimal(amount),
            "currency": currency.code(),
            "refunded_amount": decimal(tx.refunded),
        }),
    ))
}
