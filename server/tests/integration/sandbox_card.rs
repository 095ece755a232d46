//! The card acquirer connector against the sandbox provider `card`, over real HTTP: seed 003's
//! test cards, the 3-D Secure challenge through the issuer's pages, declines, errors, timeouts,
//! faults, refunds, tokens, signed notifications, and card data never coming back.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Utc};
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::connector::http::build;
use settle::connector::signature::{self, SignatureError};
use settle::connector::{
    Address, CardAuthorisation, CardDetails, Connector, ConnectorConfig, ConnectorError,
    GatewayResult, GatewayStatus, SANDBOX_SIGNING_SECRET, ThreeDsChallenge, ThreeDsCompletion,
    TokenCollection,
};
use settle::gateway::GatewayKind;
use settle::money::{Currency, Money};
use settle_server::sandbox::card_acquirer::{
    CHALLENGE_CARD, CHALLENGE_MASTERCARD, DECLINED_CARD, ERROR_CARD, INSUFFICIENT_FUNDS_CARD,
    SEED_003_CARDS, TIMEOUT_CARD,
};
use url::Url;

use crate::support::{Capture, TestApp, ensure, html_forms};

const NOTIFY: &str = "/notify";
const RETURN: &str = "/3ds-return";
/// A security code distinctive enough to search for in every answer.
const CVV: &str = "737";
const WAIT: Duration = Duration::from_secs(5);

fn config(app: &TestApp, timeout: Duration, secret: &str) -> Result<ConnectorConfig> {
    Ok(ConnectorConfig {
        gateway_id: "sandbox-card".into(),
        base_url: Url::parse(&app.url("/sandbox/card"))?,
        api_key: "test-key".into(),
        signing_secret: secret.into(),
        timeout,
    })
}

/// The connector as the server builds it for a `card_3ds` gateway.
fn connector(app: &TestApp) -> Result<Arc<dyn Connector>> {
    connector_with(app, Duration::from_secs(10), SANDBOX_SIGNING_SECRET)
}

fn connector_with(app: &TestApp, timeout: Duration, secret: &str) -> Result<Arc<dyn Connector>> {
    build(GatewayKind::Card3ds, config(app, timeout, secret)?, reqwest::Client::new())
        .context("the factory builds a card_3ds connector")
}

fn future_expiry() -> Result<ExpiryDate> {
    Ok(ExpiryDate::new(Utc::now().year() + 3, 10)?)
}

fn authorisation(capture: &Capture, number: &str) -> Result<CardAuthorisation> {
    Ok(CardAuthorisation {
        payment_reference: format!("PAY-{}", uuid::Uuid::new_v4().simple()),
        amount: Money::parse_decimal("378.90", Currency::GBP)?,
        card: CardDetails {
            holder: "J SMITH".into(),
            number: CardNumber::parse(number)?,
            expiry: future_expiry()?,
            cvv: Cvv::parse(CVV)?,
        },
        billing_address: Address {
            house: Some("21b".into()),
            street: Some("Tuesday Market Place".into()),
            city: Some("King's Lynn".into()),
            county: Some("Norfolk".into()),
            postcode: Some("PE301JW".into()),
        },
        challenge_return_url: Url::parse(&capture.url(RETURN))?,
        notification_url: Url::parse(&capture.url(NOTIFY))?,
    })
}

/// Fails if `text` shows the card number or the security code.
fn ensure_no_card_data(text: &str, number: &str, what: &str) -> Result<()> {
    let cvv_shown = [format!("\"{CVV}\""), format!(":{CVV}"), format!("={CVV}")]
        .iter()
        .any(|needle| text.contains(needle.as_str()));
    ensure(!text.contains(number) && !cvv_shown, format!("{what} shows card data: {text}"))
}

fn expect_challenge(result: &GatewayResult) -> Result<ThreeDsChallenge> {
    match &result.status {
        GatewayStatus::ChallengeRequired(challenge) => Ok(challenge.clone()),
        other => bail!("expected a challenge, got {other:?}"),
    }
}

/// The customer's side of a challenge: seed 003's form posts `creq` and `threeDSSessionData` to
/// `acsurl`, the customer clicks `button` on the issuer's page, then "Continue" on the page after
/// it, which posts `cres` to the return URL (the capture server). Returns the posted `cres`.
async fn take_challenge(
    app: &TestApp,
    capture: &Capture,
    challenge: &ThreeDsChallenge,
    number: &str,
    button: &str,
) -> Result<String> {
    let browser = app.new_client();
    ensure(
        challenge.acs_url == app.url("/sandbox/card/acs"),
        format!("acsurl is {}", challenge.acs_url),
    )?;
    let page = browser
        .post(&challenge.acs_url)
        .form(&[("creq", &challenge.creq), ("threeDSSessionData", &challenge.session_data)])
        .send()
        .await?;
    ensure(page.status() == 200, format!("the ACS page answered {}", page.status()))?;
    let html = page.text().await?;
    ensure(!html.contains("<script"), "the ACS page has no script")?;
    ensure(html.contains("/style/settle.css"), "the ACS page uses Settle's stylesheet")?;
    ensure_no_card_data(&html, number, "the ACS page")?;
    let form = html_forms(&html).into_iter().next().context("the ACS page has a form")?;
    ensure(
        form.buttons.iter().any(|(label, _, _)| label == "Authenticate")
            && form.buttons.iter().any(|(label, _, _)| label == "Fail authentication"),
        format!("the ACS buttons are {:?}", form.buttons),
    )?;
    let answer = browser.post(&form.action).form(&form.submission(button)?).send().await?;
    ensure(answer.status() == 200, format!("the ACS answer was {}", answer.status()))?;
    let html = answer.text().await?;
    ensure(!html.contains("<script"), "the result page has no script")?;
    ensure_no_card_data(&html, number, "the ACS result page")?;
    let form = html_forms(&html).into_iter().next().context("the result page has a form")?;
    ensure(form.action == capture.url(RETURN), format!("the form posts to {}", form.action))?;
    ensure(form.method == "post", "the result form is a POST")?;
    let before = capture.at(RETURN).len();
    let posted = browser.post(&form.action).form(&form.submission("Continue")?).send().await?;
    ensure(posted.status() == 200, "the return URL took the post")?;
    let returned = capture.wait_for(RETURN, before + 1, WAIT).await?;
    let fields = returned.last().context("a post at the return URL")?.form();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    ensure(
        field("threeDSSessionData").as_deref() == Some(challenge.session_data.as_str()),
        "threeDSSessionData comes back unchanged",
    )?;
    field("cres").context("the return post carries cres")
}

/// The notification for `reference`, verified by the connector.
async fn notification_for(
    capture: &Capture,
    connector: &dyn Connector,
    gateway_reference: &str,
) -> Result<settle::connector::Notification> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for captured in capture.at(NOTIFY) {
            let notification =
                connector.verify_notification(captured.signature.as_deref(), &captured.body)?;
            if notification.result.gateway_reference == gateway_reference {
                return Ok(notification);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("no notification for {gateway_reference} within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn seed_003_test_cards_are_authorised_without_a_challenge(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    for (number, brand) in SEED_003_CARDS.iter().zip(["VISA", "VISA", "MASTERCARD", "MASTERCARD"]) {
        let result = card.authorise_card(&authorisation(&capture, number)?).await?;
        ensure(
            result.status == GatewayStatus::Succeeded,
            format!("{number}: {:?}", result.status),
        )?;
        ensure(result.token.is_some(), format!("{number} gets a token"))?;
        ensure(result.raw["card"]["brand"] == brand, format!("brand in {}", result.raw))?;
        ensure(
            result.raw["card"]["last4"] == number[number.len() - 4..],
            format!("last four in {}", result.raw),
        )?;
        ensure_no_card_data(&result.raw.to_string(), number, "raw")?;
        let notification =
            notification_for(&capture, card.as_ref(), &result.gateway_reference).await?;
        ensure(notification.result.status == GatewayStatus::Succeeded, "notified as succeeded")?;
        ensure(!notification.event_id.is_empty(), "the notification has an event id")?;
        let status = card.query_status(&result.gateway_reference).await?;
        ensure(status.status == GatewayStatus::Succeeded, "the status query says succeeded")?;
    }
    let notified = capture.at(NOTIFY);
    ensure(notified.len() == 4, format!("{} notifications", notified.len()))?;
    Ok(())
}

pub async fn challenge_card_authenticates_through_the_issuer_pages(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    for number in [CHALLENGE_CARD, CHALLENGE_MASTERCARD] {
        let result = card.authorise_card(&authorisation(&capture, number)?).await?;
        let challenge = expect_challenge(&result)?;
        ensure(result.token.is_none(), "no token before the challenge")?;
        ensure_no_card_data(&result.raw.to_string(), number, "raw")?;
        // The creq is seed 003's shape: base64url JSON naming this transaction.
        let creq: serde_json::Value = serde_json::from_slice(&base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &challenge.creq,
        )?)?;
        ensure(creq["messageType"] == "CReq", format!("creq {creq}"))?;
        ensure(creq["threeDSServerTransID"] == result.gateway_reference.as_str(), "creq id")?;
        // Until the customer answers, reconciliation sees the same challenge.
        let pending = card.query_status(&result.gateway_reference).await?;
        ensure(expect_challenge(&pending)? == challenge, "the status query repeats the challenge")?;

        let cres = take_challenge(&app, &capture, &challenge, number, "Authenticate").await?;
        let completion =
            ThreeDsCompletion { gateway_reference: result.gateway_reference.clone(), cres };
        let done = card.complete_challenge(&completion).await?;
        ensure(done.status == GatewayStatus::Succeeded, format!("{number}: {:?}", done.status))?;
        ensure(done.token.is_some(), "a token after the challenge")?;
        ensure_no_card_data(&done.raw.to_string(), number, "raw")?;
        let notification =
            notification_for(&capture, card.as_ref(), &result.gateway_reference).await?;
        ensure(notification.result.status == GatewayStatus::Succeeded, "notified as succeeded")?;

        // The browser's return can arrive twice; the second completion changes nothing.
        let again = card.complete_challenge(&completion).await?;
        ensure(again.status == GatewayStatus::Succeeded && again.token == done.token, "replay")?;
        let status = card.query_status(&result.gateway_reference).await?;
        ensure(status.status == GatewayStatus::Succeeded, "the status query says succeeded")?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notified = capture.at(NOTIFY).len();
    ensure(notified == 2, format!("one notification per transaction, got {notified}"))?;
    Ok(())
}

pub async fn failed_authentication_declines_the_payment(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    let result = card.authorise_card(&authorisation(&capture, CHALLENGE_CARD)?).await?;
    let challenge = expect_challenge(&result)?;
    let cres =
        take_challenge(&app, &capture, &challenge, CHALLENGE_CARD, "Fail authentication").await?;
    let done = card
        .complete_challenge(&ThreeDsCompletion {
            gateway_reference: result.gateway_reference.clone(),
            cres,
        })
        .await?;
    match &done.status {
        GatewayStatus::Failed { reason } if reason.contains("3-D Secure") => {}
        other => bail!("expected a 3-D Secure decline, got {other:?}"),
    }
    ensure(done.token.is_none(), "no token for a failed authentication")?;
    let notification = notification_for(&capture, card.as_ref(), &result.gateway_reference).await?;
    ensure(
        matches!(notification.result.status, GatewayStatus::Failed { .. }),
        "notified as failed",
    )?;
    // The issuer's page refuses a second, different answer.
    let browser = app.new_client();
    let page = browser
        .post(&challenge.acs_url)
        .form(&[("creq", &challenge.creq), ("threeDSSessionData", &challenge.session_data)])
        .send()
        .await?;
    ensure(page.status() == 409, format!("a closed challenge answers {}", page.status()))?;
    Ok(())
}

pub async fn forged_or_misdirected_cres_is_refused(app: TestApp) -> Result<()> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    let first = card.authorise_card(&authorisation(&capture, CHALLENGE_CARD)?).await?;
    let second = card.authorise_card(&authorisation(&capture, CHALLENGE_CARD)?).await?;
    let first_challenge = expect_challenge(&first)?;
    let creq: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&first_challenge.creq)?)?;
    // Forged before the customer answered: a cRes claiming success built from the creq.
    let forged = URL_SAFE_NO_PAD.encode(
        serde_json::json!({
            "messageType": "CRes", "messageVersion": "2.2.0",
            "threeDSServerTransID": creq["threeDSServerTransID"], "acsTransID": creq["acsTransID"],
            "challengeCompletionInd": "Y", "transStatus": "Y",
        })
        .to_string(),
    );
    let refused = |result: Result<GatewayResult, ConnectorError>, what: &str| match result {
        Err(ConnectorError::Refused { status: 422, .. }) => Ok(()),
        other => Err(anyhow::anyhow!("{what}: expected a 422 refusal, got {other:?}")),
    };
    let complete = |reference: &str, cres: &str| {
        let completion =
            ThreeDsCompletion { gateway_reference: reference.to_owned(), cres: cres.to_owned() };
        let card = card.clone();
        async move { card.complete_challenge(&completion).await }
    };
    refused(complete(&first.gateway_reference, &forged).await, "unanswered")?;
    refused(complete(&first.gateway_reference, "garbage").await, "garbage")?;

    // The customer fails; a cRes rewritten to say "Y" does not match the issuer's result.
    let cres =
        take_challenge(&app, &capture, &first_challenge, CHALLENGE_CARD, "Fail authentication")
            .await?;
    let mut decoded: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&cres)?)?;
    decoded["transStatus"] = "Y".into();
    let rewritten = URL_SAFE_NO_PAD.encode(decoded.to_string());
    refused(complete(&first.gateway_reference, &rewritten).await, "rewritten")?;
    // The first transaction's cRes is refused for the second transaction.
    refused(complete(&second.gateway_reference, &cres).await, "misdirected")?;
    let second_status = card.query_status(&second.gateway_reference).await?;
    expect_challenge(&second_status)?;
    // The genuine cRes still completes the first transaction, as a decline.
    let done = complete(&first.gateway_reference, &cres).await?;
    ensure(matches!(done.status, GatewayStatus::Failed { .. }), format!("{:?}", done.status))?;
    Ok(())
}

pub async fn declined_and_error_cards_map_to_failed_and_error(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    for (number, expected) in [
        (DECLINED_CARD, "The card was declined by the issuer"),
        (INSUFFICIENT_FUNDS_CARD, "Insufficient funds"),
    ] {
        let result = card.authorise_card(&authorisation(&capture, number)?).await?;
        ensure(
            result.status == GatewayStatus::Failed { reason: expected.into() },
            format!("{number}: {:?}", result.status),
        )?;
        ensure(result.token.is_none(), "no token for a decline")?;
        let notification =
            notification_for(&capture, card.as_ref(), &result.gateway_reference).await?;
        ensure(notification.result.status == result.status, "the notification agrees")?;
    }
    let result = card.authorise_card(&authorisation(&capture, ERROR_CARD)?).await?;
    ensure(matches!(result.status, GatewayStatus::Error { .. }), format!("{:?}", result.status))?;
    let status = card.query_status(&result.gateway_reference).await?;
    ensure(status.status == result.status, "the status query agrees")?;
    Ok(())
}

pub async fn timeout_card_times_out_then_reconciles_as_authorised(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    // A short hang keeps the test quick; the client gives up long before it ends.
    app.set_faults("card", serde_json::json!({ "hang_ms": 3000 })).await?;
    let card = connector_with(&app, Duration::from_millis(300), SANDBOX_SIGNING_SECRET)?;
    let request = authorisation(&capture, TIMEOUT_CARD)?;
    let started = std::time::Instant::now();
    let outcome = card.authorise_card(&request).await;
    match &outcome {
        Err(e @ ConnectorError::Timeout(_)) => {
            ensure(!e.nothing_happened(), "a timeout may have charged")?
        }
        other => bail!("expected a timeout, got {other:?}"),
    }
    ensure(started.elapsed() < Duration::from_secs(2), "the connector gave up at its timeout")?;
    // Reconciliation asks by the payment's own reference: the acquirer's id never arrived.
    let status = card.query_status(&request.payment_reference).await?;
    ensure(status.status == GatewayStatus::Succeeded, format!("{:?}", status.status))?;
    ensure(status.token.is_some(), "the authorised card has a token")?;
    let notification = notification_for(&capture, card.as_ref(), &status.gateway_reference).await?;
    ensure(notification.result.status == GatewayStatus::Succeeded, "notified as succeeded")?;
    Ok(())
}

pub async fn unavailable_acquirer_does_nothing(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    app.set_faults("card", serde_json::json!({ "error_rate": 1.0 })).await?;
    let card = connector(&app)?;
    let request = authorisation(&capture, SEED_003_CARDS[1])?;
    match card.authorise_card(&request).await {
        Err(e @ ConnectorError::Unavailable(_)) => {
            ensure(e.nothing_happened(), "a 503 means nothing happened")?
        }
        other => bail!("expected Unavailable, got {other:?}"),
    }
    app.reset_faults("card").await?;
    match card.query_status(&request.payment_reference).await {
        Err(ConnectorError::Refused { status: 404, .. }) => {}
        other => bail!("the acquirer must not know the payment, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure(capture.at(NOTIFY).is_empty(), "no notification for a request never acted on")?;
    Ok(())
}

pub async fn card_data_never_leaves_the_acquirer(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let client = reqwest::Client::new();
    let transactions = app.url("/sandbox/card/transactions");
    let body = |number: serde_json::Value, expiry: &str| {
        serde_json::json!({
            "merchant_reference": format!("PAY-{}", uuid::Uuid::new_v4().simple()),
            "amount": "378.90", "currency": "GBP",
            "card": { "holder": "J SMITH", "number": number, "expiry": expiry, "cvv": CVV },
            "billing_address": { "postcode": "PE301JW" },
            "challenge_return_url": capture.url(RETURN),
            "notification_url": capture.url(NOTIFY),
        })
    };
    let expiry = future_expiry()?.to_mmyy();
    let mut seen = Vec::new();
    for number in [SEED_003_CARDS[0], CHALLENGE_CARD, DECLINED_CARD, ERROR_CARD, "4462000000000004"]
    {
        let response = client
            .post(&transactions)
            .bearer_auth("k")
            .json(&body(number.into(), &expiry))
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        ensure_no_card_data(&text, number, "the authorisation answer")?;
        seen.push((number, status, text));
    }
    let statuses: Vec<u16> = seen.iter().map(|(_, status, _)| *status).collect();
    ensure(statuses == [201, 202, 201, 201, 422], format!("statuses {statuses:?}"))?;
    ensure(seen[4].2.contains("card.number"), "the bad Luhn number is named as the field")?;
    // A number sent as a JSON number must not be quoted back by the parser's message.
    let response = client
        .post(&transactions)
        .bearer_auth("k")
        .json(&body(serde_json::json!(4462000000000003_u64), &expiry))
        .send()
        .await?;
    ensure(response.status() == 422, "a mistyped number is refused")?;
    ensure_no_card_data(&response.text().await?, "4462000000000003", "the type error")?;
    let response =
        client.post(&transactions).json(&body(SEED_003_CARDS[1].into(), &expiry)).send().await?;
    ensure(response.status() == 401, "no API key, no authorisation")?;

    let challenged: serde_json::Value = serde_json::from_str(&seen[1].2)?;
    let id = challenged["id"].as_str().context("an id")?;
    let shown = client.get(format!("{transactions}/{id}")).bearer_auth("k").send().await?;
    ensure_no_card_data(&shown.text().await?, CHALLENGE_CARD, "the status answer")?;
    for captured in capture.wait_for(NOTIFY, 3, WAIT).await? {
        ensure_no_card_data(
            &String::from_utf8_lossy(&captured.body),
            SEED_003_CARDS[0],
            "notification",
        )?;
        ensure_no_card_data(
            &String::from_utf8_lossy(&captured.body),
            DECLINED_CARD,
            "notification",
        )?;
        ensure_no_card_data(&String::from_utf8_lossy(&captured.body), ERROR_CARD, "notification")?;
    }
    Ok(())
}

pub async fn expired_and_invalid_cards_are_refused(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    let mut request = authorisation(&capture, SEED_003_CARDS[0])?;
    request.card.expiry = ExpiryDate::new(Utc::now().year() - 1, 1)?;
    match card.authorise_card(&request).await {
        Err(ConnectorError::Refused { status: 422, message }) => {
            ensure(message.contains("expired"), format!("message {message}"))?;
            ensure_no_card_data(&message, SEED_003_CARDS[0], "the refusal")?;
        }
        other => bail!("expected a 422 for an expired card, got {other:?}"),
    }
    // A 4-digit code on a Visa card is refused too.
    let mut request = authorisation(&capture, SEED_003_CARDS[1])?;
    request.card.cvv = Cvv::parse("7373")?;
    match card.authorise_card(&request).await {
        Err(ConnectorError::Refused { status: 422, message }) => {
            ensure(message.contains("card.cvv"), format!("message {message}"))?
        }
        other => bail!("expected a 422 for a bad CVV, got {other:?}"),
    }
    Ok(())
}

pub async fn refunds_and_token_collections(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    let paid = card.authorise_card(&authorisation(&capture, SEED_003_CARDS[2])?).await?;
    let gbp = |text: &str| Money::parse_decimal(text, Currency::GBP);
    let refund = card.refund(&paid.gateway_reference, gbp("100.00")?).await?;
    ensure(refund.status == GatewayStatus::Succeeded, format!("{:?}", refund.status))?;
    ensure(refund.raw["refunded_amount"] == "100.00", format!("{}", refund.raw))?;
    match card.refund(&paid.gateway_reference, gbp("278.91")?).await {
        Err(ConnectorError::Refused { status: 422, .. }) => {}
        other => bail!("refunding more than is left must be refused, got {other:?}"),
    }
    let rest = card.refund(&paid.gateway_reference, gbp("278.90")?).await?;
    ensure(rest.raw["refunded_amount"] == "378.90", format!("{}", rest.raw))?;
    let declined = card.authorise_card(&authorisation(&capture, DECLINED_CARD)?).await?;
    match card.refund(&declined.gateway_reference, gbp("1.00")?).await {
        Err(ConnectorError::Refused { status: 422, .. }) => {}
        other => bail!("a declined payment cannot be refunded, got {other:?}"),
    }

    let token = paid.token.context("a token")?;
    let collection = TokenCollection {
        payment_reference: format!("PAY-{}", uuid::Uuid::new_v4().simple()),
        amount: gbp("49.99")?,
        token: token.clone(),
        notification_url: Url::parse(&capture.url(NOTIFY))?,
    };
    let collected = card.collect_with_token(&collection).await?;
    ensure(collected.status == GatewayStatus::Succeeded, format!("{:?}", collected.status))?;
    ensure(collected.raw["card"]["last4"] == "0009", "the token's card is charged")?;
    ensure(collected.raw["amount"] == "49.99", "the exact amount is charged")?;
    let unknown = TokenCollection { token: "tok_unknown".into(), ..collection };
    match card.collect_with_token(&unknown).await {
        Err(ConnectorError::Refused { status: 422, .. }) => {}
        other => bail!("an unknown token must be refused, got {other:?}"),
    }
    Ok(())
}

pub async fn card_notifications_are_signed_and_checked(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let card = connector(&app)?;
    let paid = card.authorise_card(&authorisation(&capture, SEED_003_CARDS[3])?).await?;
    let captured = capture.wait_for(NOTIFY, 1, WAIT).await?.remove(0);
    let header = captured.signature.clone().context("a signature header")?;
    let notification = card.verify_notification(Some(&header), &captured.body)?;
    ensure(notification.result.gateway_reference == paid.gateway_reference, "the transaction")?;
    ensure(notification.result.token == paid.token, "the token")?;

    let rejected = |result: Result<settle::connector::Notification, ConnectorError>,
                    expected: SignatureError| match result {
        Err(ConnectorError::BadSignature(e)) if e == expected => Ok(()),
        other => Err(anyhow::anyhow!("expected {expected:?}, got {:?}", other.map(|n| n.event_id))),
    };
    let forged = String::from_utf8(captured.body.clone())?.replace("\"Ok\"", "\"NotAuthed\"");
    rejected(card.verify_notification(Some(&header), forged.as_bytes()), SignatureError::Mismatch)?;
    let other_key = connector_with(&app, Duration::from_secs(5), "another-secret")?;
    rejected(
        other_key.verify_notification(Some(&header), &captured.body),
        SignatureError::Mismatch,
    )?;
    let stale = signature::sign(
        SANDBOX_SIGNING_SECRET,
        &captured.body,
        Utc::now() - chrono::Duration::minutes(10),
    );
    rejected(card.verify_notification(Some(&stale), &captured.body), SignatureError::Stale)?;
    rejected(card.verify_notification(None, &captured.body), SignatureError::Malformed)?;
    Ok(())
}
