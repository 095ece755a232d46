//! What reconciliation and the ledger check ask the sandbox providers, over real HTTP: lookups by
//! Settle's own payment reference, lists of everything since a time, and cancelling a hosted
//! checkout — through the providers' endpoints and through the connectors.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::connector::hosted_checkout::CANCELLED_REASON;
use settle::connector::http::build;
use settle::connector::{
    Address, CardAuthorisation, CardDetails, CheckoutRequest, Connector, ConnectorConfig,
    ConnectorError, DirectDebitRequest, GatewayStatus, SANDBOX_SIGNING_SECRET, TokenCollection,
};
use settle::gateway::GatewayKind;
use settle::iban::Iban;
use settle::money::{Currency, Money};
use settle_server::sandbox::bank::{INSUFFICIENT_FUNDS_IBAN, SETTLING_IBAN};
use settle_server::sandbox::card_acquirer::{CHALLENGE_CARD, DECLINED_CARD, SEED_003_CARDS};
use url::Url;

use crate::support::{Capture, TestApp, ensure, eventually};

/// A security code distinctive enough to search for in every answer.
const CVV: &str = "737";

fn connector(app: &TestApp, kind: GatewayKind, provider: &str) -> Result<Arc<dyn Connector>> {
    let config = ConnectorConfig {
        gateway_id: format!("lookup-{provider}"),
        base_url: Url::parse(&app.url(&format!("/sandbox/{provider}")))?,
        api_key: "test-key".into(),
        signing_secret: SANDBOX_SIGNING_SECRET.into(),
        timeout: Duration::from_secs(10),
    };
    build(kind, config, reqwest::Client::new()).context("the factory builds the connector")
}

/// `GET` a sandbox list with an API key; the status and body.
async fn list(app: &TestApp, path: &str, query: &[(&str, &str)]) -> Result<(StatusCode, Value)> {
    let response =
        app.client.get(app.url(path)).query(query).bearer_auth("test-key").send().await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// The objects under `key`, after checking the answer is a 200.
fn items(answer: (StatusCode, Value), key: &str) -> Result<Vec<Value>> {
    let (status, body) = answer;
    ensure(status == StatusCode::OK, format!("list answered {status}: {body}"))?;
    body[key].as_array().cloned().with_context(|| format!("no {key} in {body}"))
}

/// Checks every object shows what the ledger check needs, newest first.
fn ensure_ledger_fields(listed: &[Value]) -> Result<()> {
    let mut previous: Option<DateTime<Utc>> = None;
    for item in listed {
        for field in ["merchant_reference", "amount", "currency", "status", "refunded_amount"] {
            ensure(item[field].is_string(), format!("{field} in {item}"))?;
        }
        let at: DateTime<Utc> =
            item["created_at"].as_str().context("created_at")?.parse().context("RFC 3339")?;
        ensure(previous.is_none_or(|p| p >= at), format!("newest first: {listed:?}"))?;
        previous = Some(at);
    }
    Ok(())
}

fn reference() -> String {
    format!("PAY-{}", uuid::Uuid::new_v4().simple())
}

fn authorisation(capture: &Capture, reference: &str, number: &str) -> Result<CardAuthorisation> {
    Ok(CardAuthorisation {
        payment_reference: reference.into(),
        amount: Money::parse_decimal("378.90", Currency::GBP)?,
        card: CardDetails {
            holder: "J SMITH".into(),
            number: CardNumber::parse(number)?,
            expiry: ExpiryDate::new(Utc::now().year() + 3, 10)?,
            cvv: Cvv::parse(CVV)?,
        },
        billing_address: Address { postcode: Some("PE301JW".into()), ..Address::default() },
        challenge_return_url: Url::parse(&capture.url("/3ds-return"))?,
        notification_url: Url::parse(&capture.url("/notify"))?,
    })
}

pub async fn card_transactions_are_found_by_reference_and_listed_since(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app, GatewayKind::Card3ds, "card")?;
    let since = Utc::now();
    let (twice, challenged) = (reference(), reference());
    let paid = card.authorise_card(&authorisation(&capture, &twice, SEED_003_CARDS[0])?).await?;
    card.authorise_card(&authorisation(&capture, &twice, DECLINED_CARD)?).await?;
    card.authorise_card(&authorisation(&capture, &challenged, CHALLENGE_CARD)?).await?;
    let gbp = |text: &str| Money::parse_decimal(text, Currency::GBP);
    card.refund(&paid.gateway_reference, gbp("10.00")?).await?;

    let by_reference = items(
        list(&app, "/sandbox/card/transactions", &[("merchant_reference", &twice)]).await?,
        "transactions",
    )?;
    ensure(by_reference.len() == 2, format!("two under {twice}: {by_reference:?}"))?;
    ensure_ledger_fields(&by_reference)?;
    ensure(by_reference[0]["status"] == "NotAuthed", "the decline, newest, first")?;
    ensure(by_reference[1]["status"] == "Ok", "then the payment")?;
    ensure(by_reference[1]["refunded_amount"] == "10.00", "with its refund")?;
    ensure(
        by_reference[1]["amount"] == "378.90" && by_reference[1]["currency"] == "GBP",
        "amount",
    )?;
    let text = serde_json::to_string(&by_reference)?;
    let number_shown = [SEED_003_CARDS[0], DECLINED_CARD].iter().any(|n| text.contains(n));
    ensure(!number_shown && !text.contains(&format!("\"{CVV}\"")), format!("card data: {text}"))?;
    ensure(by_reference[1]["card"]["last4"] == "0006", "brand, last four and expiry only")?;

    let since_text = since.to_rfc3339();
    let all = items(
        list(&app, "/sandbox/card/transactions", &[("since", &since_text)]).await?,
        "transactions",
    )?;
    ensure(all.len() == 3, format!("three since the start: {all:?}"))?;
    ensure_ledger_fields(&all)?;
    ensure(all[0]["merchant_reference"] == challenged.as_str(), "the challenge is newest")?;
    let later = (Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let none = items(
        list(&app, "/sandbox/card/transactions", &[("since", &later)]).await?,
        "transactions",
    )?;
    ensure(none.is_empty(), "nothing after now")?;

    // The connector: the newest under a reference, nothing under an unknown one, and only the
    // money actually taken, net of refunds, for the ledger.
    let newest = card.find_by_reference(&twice).await?.context("found by reference")?;
    ensure(matches!(newest.status, GatewayStatus::Failed { .. }), format!("{:?}", newest.status))?;
    ensure(newest.payment_reference.as_deref() == Some(twice.as_str()), "echoes the reference")?;
    let open = card.find_by_reference(&challenged).await?.context("the challenged one")?;
    ensure(matches!(open.status, GatewayStatus::ChallengeRequired(_)), "still challenged")?;
    ensure(card.find_by_reference("PAY-never-sent").await?.is_none(), "unknown: None")?;
    let charges = card.charges(since).await?;
    ensure(charges.len() == 1, format!("one charge: {charges:?}"))?;
    ensure(charges[0].gateway_reference == paid.gateway_reference, "the authorised one")?;
    ensure(charges[0].payment_reference == twice, "under its reference")?;
    ensure(charges[0].captured == gbp("378.90")? && charges[0].refunded == gbp("10.00")?, "money")?;

    // Refusals: a lookup of nothing is a JSON 404; a list needs a filter, a key and a real time.
    let (status, body) = list(&app, "/sandbox/card/transactions/PAY-never-sent", &[]).await?;
    ensure(
        status == StatusCode::NOT_FOUND && body["error"].is_string(),
        format!("{status} {body}"),
    )?;
    let (status, _) = list(&app, "/sandbox/card/transactions", &[]).await?;
    ensure(status == StatusCode::UNPROCESSABLE_ENTITY, format!("no filter: {status}"))?;
    let (status, body) =
        list(&app, "/sandbox/card/transactions", &[("since", "yesterday")]).await?;
    ensure(status == StatusCode::UNPROCESSABLE_ENTITY, format!("bad time: {status} {body}"))?;
    let anonymous = app
        .client
        .get(app.url("/sandbox/card/transactions"))
        .query(&[("merchant_reference", &twice)])
        .send()
        .await?;
    ensure(anonymous.status() == StatusCode::UNAUTHORIZED, "no API key: 401")
}

fn checkout(capture: &Capture, reference: &str) -> Result<CheckoutRequest> {
    Ok(CheckoutRequest {
        payment_reference: reference.into(),
        amount: Money::from_minor(37890, Currency::ZAR),
        description: "Home cover".into(),
        customer_email: None,
        return_url: Url::parse(&capture.url("/return"))?,
        notification_url: Url::parse(&capture.url("/notify"))?,
        save_card: false,
    })
}

/// Presses a button on the hosted page; answers the `status` the browser is sent back with.
async fn press(app: &TestApp, page: &Url, action: &str) -> Result<String> {
    let response = app
        .client
        .post(page.as_str())
        .form(&[("card_number", "4242 4242 4242 4242"), ("action", action)])
        .send()
        .await?;
    ensure(response.status() == StatusCode::SEE_OTHER, format!("{action}: {}", response.status()))?;
    let back = Url::parse(crate::support::location(&response).as_str())?;
    let status = back.query_pairs().find(|(k, _)| k == "status").map(|(_, v)| v.into_owned());
    status.context("status in the return URL")
}

pub async fn hosted_checkouts_are_cancelled_found_and_listed(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let hosted = connector(&app, GatewayKind::HostedCheckout, "hosted-checkout")?;
    let since = Utc::now();
    let (abandoned, paid, declined, charged) = (reference(), reference(), reference(), reference());

    // A pending checkout is cancelled, and stays so however often it is cancelled again.
    let session = hosted.create_checkout(&checkout(&capture, &abandoned)?).await?;
    let cancelled = hosted.cancel(&session.gateway_reference).await?;
    ensure(
        cancelled.status == GatewayStatus::Failed { reason: CANCELLED_REASON.into() },
        format!("{:?}", cancelled.status),
    )?;
    ensure(cancelled.raw["status"] == "cancelled", format!("{}", cancelled.raw))?;
    ensure(cancelled.raw["failure_reason"] == "cancelled by the merchant", "the merchant's doing")?;
    ensure(cancelled.payment_reference.as_deref() == Some(abandoned.as_str()), "its reference")?;
    let again = hosted.cancel(&session.gateway_reference).await?;
    ensure(again.raw == cancelled.raw, "cancelling twice changes nothing")?;
    // Its page says so and pays nothing.
    let page = app.client.get(session.redirect_url.as_str()).send().await?.text().await?;
    ensure(page.contains("This payment is cancelled.") && !page.contains("value=\"pay\""), "page")?;
    ensure(press(&app, &session.redirect_url, "pay").await? == "cancelled", "Pay is refused")?;
    let after = hosted.query_status(&session.gateway_reference).await?;
    ensure(after.raw["status"] == "cancelled", "still cancelled after Pay")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure(capture.at("/notify").is_empty(), "a merchant's cancel sends no notification")?;

    // A finished checkout is left as it is: the merchant learns the customer paid first.
    let session = hosted.create_checkout(&checkout(&capture, &paid)?).await?;
    ensure(press(&app, &session.redirect_url, "pay").await? == "succeeded", "paid")?;
    let late = hosted.cancel(&session.gateway_reference).await?;
    ensure(late.status == GatewayStatus::Succeeded, format!("too late: {:?}", late.status))?;
    let session = hosted.create_checkout(&checkout(&capture, &declined)?).await?;
    ensure(press(&app, &session.redirect_url, "decline").await? == "failed", "declined")?;
    let failed = hosted.cancel(&session.gateway_reference).await?;
    ensure(failed.raw["status"] == "failed", format!("a decline stays one: {}", failed.raw))?;
    match hosted.cancel("co_unknown").await {
        Err(ConnectorError::Refused { status: 404, .. }) => {}
        other => bail!("cancelling an unknown checkout: {other:?}"),
    }
    let token = TokenCollection {
        payment_reference: charged.clone(),
        amount: Money::from_minor(5000, Currency::ZAR),
        token: "demo-peach-token-4242".into(),
        notification_url: Url::parse(&capture.url("/notify"))?,
    };
    let charge = hosted.collect_with_token(&token).await?;

    let all = items(
        list(&app, "/sandbox/hosted-checkout/checkouts", &[("since", &since.to_rfc3339())]).await?,
        "checkouts",
    )?;
    ensure(all.len() == 4, format!("four since the start: {all:?}"))?;
    ensure_ledger_fields(&all)?;
    ensure(all[0]["id"] == charge.gateway_reference.as_str(), "the token charge is newest")?;
    let charges = hosted.charges(since).await?;
    let mut found: Vec<&str> = charges.iter().map(|c| c.payment_reference.as_str()).collect();
    found.sort_unstable();
    let mut expected = [paid.as_str(), charged.as_str()];
    expected.sort_unstable();
    ensure(found == expected, format!("succeeded checkouts and charges only: {charges:?}"))?;

    let found = hosted.find_by_reference(&abandoned).await?.context("found by reference")?;
    ensure(found.raw["status"] == "cancelled", "the cancelled checkout")?;
    ensure(hosted.find_by_reference("PAY-never-sent").await?.is_none(), "unknown: None")
}

pub async fn bank_collections_are_found_by_reference_and_listed_since(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let bank = connector(&app, GatewayKind::DirectDebit, "bank")?;
    let response = app
        .client
        .put(app.url("/sandbox/bank/settings"))
        .json(&json!({ "settle_after_ms": 200 }))
        .send()
        .await?;
    ensure(response.status() == StatusCode::OK, "settlement delay set")?;
    let since = Utc::now();
    let (settles, bounces) = (reference(), reference());
    for (reference, iban) in [(&settles, SETTLING_IBAN), (&bounces, INSUFFICIENT_FUNDS_IBAN)] {
        bank.direct_debit(&DirectDebitRequest {
            payment_reference: reference.clone(),
            amount: Money::from_minor(1999, Currency::EUR),
            iban: Iban::parse(iban)?,
            account_holder: "Erika Mustermann".into(),
            mandate_reference: None,
            notification_url: Url::parse(&capture.url("/notify"))?,
        })
        .await?;
    }
    let pending = bank.find_by_reference(&settles).await?.context("found while pending")?;
    ensure(pending.status == GatewayStatus::Pending, "pending at first")?;
    ensure(bank.charges(since).await?.is_empty(), "a pending collection holds no money yet")?;

    let since_text = since.to_rfc3339();
    eventually("both collections are final", Duration::from_secs(5), || async {
        let all = items(
            list(&app, "/sandbox/bank/collections", &[("since", &since_text)]).await?,
            "collections",
        )?;
        Ok(all.len() == 2 && all.iter().all(|c| c["status"] != "pending"))
    })
    .await?;
    let all = items(
        list(&app, "/sandbox/bank/collections", &[("since", &since_text)]).await?,
        "collections",
    )?;
    ensure_ledger_fields(&all)?;
    ensure(!serde_json::to_string(&all)?.contains("DE89"), "no full IBAN in a list")?;
    let by_reference = items(
        list(&app, "/sandbox/bank/collections", &[("merchant_reference", &bounces)]).await?,
        "collections",
    )?;
    ensure(by_reference.len() == 1 && by_reference[0]["status"] == "bounced", "by reference")?;

    let bounced = bank.find_by_reference(&bounces).await?.context("the bounce")?;
    ensure(
        bounced.status == GatewayStatus::Failed { reason: "insufficient funds".into() },
        format!("{:?}", bounced.status),
    )?;
    ensure(bank.find_by_reference("PAY-never-sent").await?.is_none(), "unknown: None")?;
    let charges = bank.charges(since).await?;
    ensure(charges.len() == 1 && charges[0].payment_reference == settles, "settled only")?;
    ensure(charges[0].captured == Money::from_minor(1999, Currency::EUR), "its amount")?;
    ensure(charges[0].refunded == Money::zero(Currency::EUR), "nothing refunded")
}
