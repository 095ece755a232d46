//! The hosted-checkout connector against the sandbox provider, and Apple Pay merchant
//! validation, over real HTTP: checkouts, the hosted page, signed notifications (received by
//! the harness's capture server on 127.0.0.1:0), status queries, token charges, refunds and
//! faults.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use serde_json::json;
use settle::connector::apple_pay::ApplePayConnector;
use settle::connector::hosted_checkout::HostedCheckoutConnector;
use settle::connector::signature::{self, SignatureError};
use settle::connector::{
    CheckoutRequest, CheckoutSession, Connector, ConnectorConfig, ConnectorError, GatewayStatus,
    SANDBOX_SIGNING_SECRET, TokenCollection,
};
use settle::money::{Currency, Money};
use url::Url;

use crate::support::{Capture, Captured, TestApp, ensure, location};

/// Where the sandbox posts notifications: the capture server's `/notify`.
fn notification_url(capture: &Capture) -> Url {
    Url::parse(&capture.url("/notify")).expect("capture URL parses")
}

/// Where the hosted page sends the browser back to (the merchant's page, with its own query).
fn return_url(capture: &Capture) -> Url {
    Url::parse(&capture.url("/return?order=42")).expect("capture URL parses")
}

/// Waits (bounded) until at least `n` notifications arrived, and returns them all.
async fn notifications(capture: &Capture, n: usize) -> Result<Vec<Captured>> {
    capture.wait_for("/notify", n, Duration::from_secs(5)).await
}

fn config(app: &TestApp, provider: &str, timeout: Duration) -> ConnectorConfig {
    ConnectorConfig {
        gateway_id: format!("test-{provider}"),
        base_url: Url::parse(&app.url(&format!("/sandbox/{provider}"))).expect("base URL parses"),
        api_key: "sandbox-key-test".into(),
        signing_secret: SANDBOX_SIGNING_SECRET.into(),
        timeout,
    }
}

fn connector(app: &TestApp) -> HostedCheckoutConnector {
    HostedCheckoutConnector::new(
        config(app, "hosted-checkout", Duration::from_secs(5)),
        reqwest::Client::new(),
    )
}

fn zar(minor: i64) -> Money {
    Money::from_minor(minor, Currency::ZAR)
}

fn checkout(capture: &Capture, reference: &str, amount: Money, save_card: bool) -> CheckoutRequest {
    CheckoutRequest {
        payment_reference: reference.into(),
        amount,
        description: "Home cover, March premium".into(),
        customer_email: Some("thandi@example.com".into()),
        return_url: return_url(capture),
        notification_url: notification_url(capture),
        save_card,
    }
}

/// Presses a button on the hosted page, as the browser's form post does.
async fn press(
    app: &TestApp,
    session: &CheckoutSession,
    action: &str,
) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(session.redirect_url.as_str())
        .form(&[("card_number", "4242 4242 4242 4242"), ("action", action)])
        .send()
        .await?)
}

/// The query of a 303 back to the merchant, after checking it is one to `return_url`.
fn returned(response: &reqwest::Response, capture: &Capture) -> Result<HashMap<String, String>> {
    ensure(response.status() == 303, format!("expected 303, got {}", response.status()))?;
    let to = Url::parse(&location(response)).context("Location is a URL")?;
    let expected = return_url(capture);
    ensure(
        to.origin() == expected.origin() && to.path() == expected.path(),
        format!("redirected to {to}, expected {expected}"),
    )?;
    Ok(to.query_pairs().into_owned().collect())
}

fn verify(
    connector: &HostedCheckoutConnector,
    received: &Captured,
) -> Result<settle::connector::Notification, ConnectorError> {
    connector.verify_notification(received.signature.as_deref(), &received.body)
}

pub async fn paying_on_the_hosted_page_notifies_and_settles(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);
    let session =
        connector.create_checkout(&checkout(&capture, "PAY-1001", zar(37890), true)).await?;
    ensure(session.gateway_reference.starts_with("co_"), "checkout ids start with co_")?;
    let page_url = app.url(&format!("/sandbox/hosted-checkout/pay/{}", session.gateway_reference));
    ensure(
        session.redirect_url.as_str() == page_url,
        format!("redirect_url {} is not {page_url}", session.redirect_url),
    )?;
    let pending = connector.query_status(&session.gateway_reference).await?;
    ensure(pending.status == GatewayStatus::Pending, "a new checkout is pending")?;
    // The amount travelled as an exact decimal string.
    ensure(pending.raw["amount"] == "378.90", format!("amount in {}", pending.raw))?;
    ensure(pending.raw["currency"] == "ZAR", "currency echoed")?;

    let page = app.client.get(session.redirect_url.as_str()).send().await?;
    ensure(page.status() == 200, format!("hosted page answered {}", page.status()))?;
    let content_type =
        page.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    ensure(content_type.starts_with("text/html"), format!("content type {content_type}"))?;
    ensure(page.headers().contains_key("content-security-policy"), "the page carries the CSP")?;
    let html = page.text().await?;
    for needle in [
        "378.90 ZAR",
        "PAY-1001",
        "4242 4242 4242 4242",
        "value=\"pay\"",
        "value=\"decline\"",
        "value=\"cancel\"",
        "/style/settle.css",
    ] {
        ensure(html.contains(needle), format!("hosted page lacks {needle:?}"))?;
    }
    ensure(!html.contains("<script") && !html.contains("style="), "no inline script or style")?;

    let back = press(&app, &session, "pay").await?;
    let query = returned(&back, &capture)?;
    ensure(query.get("status").map(String::as_str) == Some("succeeded"), format!("{query:?}"))?;
    ensure(query.get("checkout_id") == Some(&session.gateway_reference), "checkout_id returned")?;
    ensure(query.get("merchant_reference").map(String::as_str) == Some("PAY-1001"), "reference")?;
    ensure(query.get("order").map(String::as_str) == Some("42"), "return_url's query is kept")?;

    let received = notifications(&capture, 1).await?;
    let notification = verify(&connector, &received[0])?;
    ensure(notification.event_id.starts_with("evt_"), "event ids start with evt_")?;
    ensure(notification.result.gateway_reference == session.gateway_reference, "same checkout")?;
    ensure(notification.result.status == GatewayStatus::Succeeded, "notified as succeeded")?;
    let token = notification.result.token.clone().context("save_card issues a token")?;
    ensure(token.starts_with("tok_"), format!("token {token}"))?;
    ensure(notification.result.raw["card_last4"] == "4242", "last four digits notified")?;
    ensure(notification.result.raw["card_brand"] == "VISA", "brand notified")?;
    ensure(!String::from_utf8_lossy(&received[0].body).contains("4242424242424242"), "no PAN")?;

    let settled = connector.query_status(&session.gateway_reference).await?;
    ensure(settled.status == GatewayStatus::Succeeded, "status query says succeeded")?;
    ensure(settled.token.as_deref() == Some(token.as_str()), "status query shows the token")?;

    // A double submit (or the back button) changes nothing and sends nothing.
    let again = press(&app, &session, "decline").await?;
    let query = returned(&again, &capture)?;
    ensure(query.get("status").map(String::as_str) == Some("succeeded"), "still succeeded")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure(capture.at("/notify").len() == 1, "a finished checkout is not notified again")?;
    let still = connector.query_status(&session.gateway_reference).await?;
    ensure(still.status == GatewayStatus::Succeeded, "still succeeded at the provider")?;

    let missing = app.client.get(app.url("/sandbox/hosted-checkout/pay/co_missing")).send().await?;
    ensure(missing.status() == 404, "an unknown checkout's page is 404")?;
    match connector.query_status("co_missing").await {
        Err(ConnectorError::Refused { status: 404, .. }) => Ok(()),
        other => bail!("unknown checkout: {other:?}"),
    }
}

pub async fn declining_or_cancelling_fails_the_checkout(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);

    let declined =
        connector.create_checkout(&checkout(&capture, "PAY-2001", zar(10000), true)).await?;
    let query = returned(&press(&app, &declined, "decline").await?, &capture)?;
    ensure(query.get("status").map(String::as_str) == Some("failed"), format!("{query:?}"))?;
    let received = notifications(&capture, 1).await?;
    let notification = verify(&connector, &received[0])?;
    ensure(
        matches!(notification.result.status, GatewayStatus::Failed { .. }),
        format!("notified {:?}", notification.result.status),
    )?;
    ensure(notification.result.token.is_none(), "a declined card is not saved")?;
    match connector.query_status(&declined.gateway_reference).await?.status {
        GatewayStatus::Failed { reason } => {
            ensure(reason.contains("declined"), format!("reason {reason}"))?
        }
        other => bail!("declined checkout is {other:?}"),
    }

    let cancelled =
        connector.create_checkout(&checkout(&capture, "PAY-2002", zar(10000), false)).await?;
    let query = returned(&press(&app, &cancelled, "cancel").await?, &capture)?;
    ensure(query.get("status").map(String::as_str) == Some("cancelled"), format!("{query:?}"))?;
    let received = notifications(&capture, 2).await?;
    let notification = verify(&connector, &received[1])?;
    let cancelled_status = GatewayStatus::Failed { reason: "cancelled by the customer".into() };
    ensure(notification.result.status == cancelled_status, "notified as cancelled")?;
    ensure(
        connector.query_status(&cancelled.gateway_reference).await?.status == cancelled_status,
        "status query says cancelled by the customer",
    )?;

    // The issuer's declining test card fails from the "Pay" button too.
    let card_declined =
        connector.create_checkout(&checkout(&capture, "PAY-2003", zar(500), false)).await?;
    let back = app
        .client
        .post(card_declined.redirect_url.as_str())
        .form(&[("card_number", "4000 0000 0000 0002"), ("action", "pay")])
        .send()
        .await?;
    let query = returned(&back, &capture)?;
    ensure(query.get("status").map(String::as_str) == Some("failed"), "test card declines")?;

    // An invalid card number is shown again, and the checkout stays open.
    let open = connector.create_checkout(&checkout(&capture, "PAY-2004", zar(500), false)).await?;
    let typo = app
        .client
        .post(open.redirect_url.as_str())
        .form(&[("card_number", "4242 4242 4242 4241"), ("action", "pay")])
        .send()
        .await?;
    ensure(typo.status() == 422, format!("a mistyped card answered {}", typo.status()))?;
    ensure(typo.text().await?.contains("not a valid card number"), "the page says why")?;
    ensure(
        connector.query_status(&open.gateway_reference).await?.status == GatewayStatus::Pending,
        "still pending after a typo",
    )?;
    Ok(())
}

pub async fn notifications_with_bad_signatures_are_rejected(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);
    let session =
        connector.create_checkout(&checkout(&capture, "PAY-3001", zar(37890), false)).await?;
    returned(&press(&app, &session, "pay").await?, &capture)?;
    let real = notifications(&capture, 1).await?.remove(0);
    verify(&connector, &real)?;
    let body = real.body.clone();

    let forged = signature::sign("not-the-sandbox-secret", &body, Utc::now());
    ensure(
        connector.verify_notification(Some(&forged), &body).err()
            == Some(ConnectorError::BadSignature(SignatureError::Mismatch)),
        "a signature made with another key is refused",
    )?;

    let text = String::from_utf8(body.clone())?;
    ensure(text.contains("\"378.90\""), "the notification carries the amount")?;
    let altered = text.replace("\"378.90\"", "\"3.79\"");
    ensure(
        connector.verify_notification(real.signature.as_deref(), altered.as_bytes()).err()
            == Some(ConnectorError::BadSignature(SignatureError::Mismatch)),
        "a body altered after signing is refused",
    )?;

    let stale = signature::sign(
        SANDBOX_SIGNING_SECRET,
        &body,
        Utc::now() - chrono::Duration::seconds(signature::TOLERANCE_SECS + 60),
    );
    ensure(
        connector.verify_notification(Some(&stale), &body).err()
            == Some(ConnectorError::BadSignature(SignatureError::Stale)),
        "an old signature is refused",
    )?;

    ensure(
        connector.verify_notification(None, &body).err()
            == Some(ConnectorError::BadSignature(SignatureError::Malformed)),
        "a notification without a signature is refused",
    )?;
    Ok(())
}

pub async fn an_unavailable_provider_did_nothing_and_a_hang_times_out(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);

    app.set_faults("hosted-checkout", json!({ "error_rate": 1.0 })).await?;
    match connector.create_checkout(&checkout(&capture, "PAY-4001", zar(1000), false)).await {
        Err(e @ ConnectorError::Unavailable(_)) => {
            ensure(e.nothing_happened(), "a 503 means the next gateway may be tried")?
        }
        other => bail!("with error_rate 1: {other:?}"),
    }
    app.reset_faults("hosted-checkout").await?;
    ensure(
        connector.find_by_reference("PAY-4001").await?.is_none(),
        "an unavailable provider created nothing",
    )?;

    app.set_faults("hosted-checkout", json!({ "timeout_rate": 1.0, "hang_ms": 2000 })).await?;
    let impatient = HostedCheckoutConnector::new(
        config(&app, "hosted-checkout", Duration::from_millis(300)),
        reqwest::Client::new(),
    );
    let started = Instant::now();
    match impatient.create_checkout(&checkout(&capture, "PAY-4002", zar(1000), false)).await {
        Err(e @ ConnectorError::Timeout(_)) => {
            ensure(!e.nothing_happened(), "after a timeout money may have moved")?
        }
        other => bail!("with timeout_rate 1: {other:?}"),
    }
    ensure(started.elapsed() < Duration::from_millis(1500), "the client gave up at its timeout")?;
    app.reset_faults("hosted-checkout").await?;
    let found = connector
        .find_by_reference("PAY-4002")
        .await?
        .context("the hung request created the checkout")?;
    ensure(found.status == GatewayStatus::Pending, "and it is pending")?;
    ensure(found.gateway_reference.starts_with("co_"), "found by merchant reference")?;
    ensure(found.payment_reference.as_deref() == Some("PAY-4002"), "under its reference")?;
    Ok(())
}

pub async fn a_dropped_notification_still_settles_by_status_query(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);
    app.set_faults("hosted-checkout", json!({ "drop_notification_rate": 1.0 })).await?;
    let session =
        connector.create_checkout(&checkout(&capture, "PAY-5001", zar(2500), false)).await?;
    let query = returned(&press(&app, &session, "pay").await?, &capture)?;
    ensure(query.get("status").map(String::as_str) == Some("succeeded"), "paid")?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ensure(capture.at("/notify").is_empty(), "a dropped notification never arrives")?;
    let status = connector.query_status(&session.gateway_reference).await?;
    ensure(status.status == GatewayStatus::Succeeded, "the status query still says succeeded")?;
    Ok(())
}

pub async fn a_duplicated_notification_repeats_its_event_id(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);
    app.set_faults("hosted-checkout", json!({ "duplicate_notification_rate": 1.0 })).await?;
    let session =
        connector.create_checkout(&checkout(&capture, "PAY-6001", zar(2500), false)).await?;
    returned(&press(&app, &session, "pay").await?, &capture)?;
    let received = notifications(&capture, 2).await?;
    let first = verify(&connector, &received[0])?;
    let second = verify(&connector, &received[1])?;
    ensure(first.event_id == second.event_id, "both copies carry the same event_id")?;
    ensure(first.result.gateway_reference == session.gateway_reference, "for this checkout")?;
    ensure(second.result.status == GatewayStatus::Succeeded, "both say succeeded")?;
    Ok(())
}

pub async fn saved_tokens_are_charged_and_unknown_ones_fail(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);
    let collect = |token: &str, reference: &str| TokenCollection {
        payment_reference: reference.into(),
        amount: zar(9900),
        token: token.into(),
        notification_url: notification_url(&capture),
    };

    let demo = connector.collect_with_token(&collect("demo-peach-token-4242", "PAY-7001")).await?;
    ensure(demo.status == GatewayStatus::Succeeded, format!("demo token: {:?}", demo.status))?;
    ensure(demo.gateway_reference.starts_with("ch_"), "charge ids start with ch_")?;
    ensure(demo.raw["amount"] == "99.00" && demo.raw["card_last4"] == "4242", "charge details")?;
    let received = notifications(&capture, 1).await?;
    let notification = verify(&connector, &received[0])?;
    ensure(notification.result.gateway_reference == demo.gateway_reference, "charge notified")?;
    ensure(notification.result.status == GatewayStatus::Succeeded, "as succeeded")?;
    let queried = connector.query_status(&demo.gateway_reference).await?;
    ensure(queried.status == GatewayStatus::Succeeded, "charges answer status queries")?;

    let unknown = connector.collect_with_token(&collect("tok_never_issued", "PAY-7002")).await?;
    match &unknown.status {
        GatewayStatus::Failed { reason } => {
            ensure(reason.contains("token"), format!("reason {reason}"))?
        }
        other => bail!("unknown token: {other:?}"),
    }

    // A token the hosted page issued works until it is revoked.
    let session =
        connector.create_checkout(&checkout(&capture, "PAY-7003", zar(100), true)).await?;
    returned(&press(&app, &session, "pay").await?, &capture)?;
    let token = connector
        .query_status(&session.gateway_reference)
        .await?
        .token
        .context("a saved card has a token")?;
    let reused = connector.collect_with_token(&collect(&token, "PAY-7004")).await?;
    ensure(reused.status == GatewayStatus::Succeeded, "an issued token can be charged")?;
    let revoked = app
        .client
        .delete(app.url(&format!("/sandbox/hosted-checkout/tokens/{token}")))
        .bearer_auth("sandbox-key-test")
        .send()
        .await?;
    ensure(revoked.status() == 204, format!("revoking answered {}", revoked.status()))?;
    let after = connector.collect_with_token(&collect(&token, "PAY-7005")).await?;
    ensure(matches!(after.status, GatewayStatus::Failed { .. }), "a revoked token fails")?;

    // The API wants a key.
    let anonymous = reqwest::Client::new()
        .post(app.url("/sandbox/hosted-checkout/charges"))
        .json(&json!({ "token": "demo-x-4242", "amount": "1.00", "currency": "ZAR",
                       "merchant_reference": "PAY-7006" }))
        .send()
        .await?;
    ensure(anonymous.status() == 401, format!("no key answered {}", anonymous.status()))?;
    Ok(())
}

pub async fn refunds_take_back_at_most_what_was_paid(app: TestApp) -> Result<()> {
    let capture = Capture::start().await?;
    let connector = connector(&app);
    let charge = connector
        .collect_with_token(&TokenCollection {
            payment_reference: "PAY-8001".into(),
            amount: zar(10000),
            token: "demo-peach-token-4242".into(),
            notification_url: notification_url(&capture),
        })
        .await?;
    ensure(charge.status == GatewayStatus::Succeeded, "charged")?;

    let partial = connector.refund(&charge.gateway_reference, zar(4000)).await?;
    ensure(partial.status == GatewayStatus::Succeeded, "a partial refund succeeds")?;
    ensure(partial.gateway_reference.starts_with("rf_"), "refund ids start with rf_")?;
    ensure(partial.raw["checkout_id"] == charge.gateway_reference.as_str(), "names the charge")?;
    ensure(partial.raw["refunded_amount"] == "40.00", format!("{}", partial.raw))?;
    match connector.refund(&charge.gateway_reference, zar(6001)).await {
        Err(ConnectorError::Refused { status: 422, .. }) => {}
        other => bail!("refunding more than is left: {other:?}"),
    }
    let rest = connector.refund(&charge.gateway_reference, zar(6000)).await?;
    ensure(rest.raw["refunded_amount"] == "100.00", "the rest can be refunded")?;

    let pending =
        connector.create_checkout(&checkout(&capture, "PAY-8002", zar(1000), false)).await?;
    match connector.refund(&pending.gateway_reference, zar(100)).await {
        Err(ConnectorError::Refused { status: 409, .. }) => {}
        other => bail!("refunding an unpaid checkout: {other:?}"),
    }
    match connector.refund(&charge.gateway_reference, Money::from_minor(1, Currency::EUR)).await {
        Err(ConnectorError::Refused { status: 422, .. }) => Ok(()),
        other => bail!("refunding in another currency: {other:?}"),
    }
}

pub async fn apple_pay_session_has_every_key_of_the_seed_example(app: TestApp) -> Result<()> {
    let connector = ApplePayConnector::new(
        config(&app, "apple-pay", Duration::from_secs(5)),
        reqwest::Client::new(),
    )
    .with_merchant_identifier("merchant.com.settle.demo");
    let session = connector.validate_merchant("shop.example.com", "Tree's Policy").await?;
    let object = session.as_object().context("the session is a JSON object")?;
    // The keys of seed 000's example, exactly.
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec![
        "epochTimestamp",
        "expiresAt",
        "merchantSessionIdentifier",
        "nonce",
        "merchantIdentifier",
        "domainName",
        "displayName",
        "signature",
        "operationalAnalyticsIdentifier",
        "retries",
        "pspId",
    ];
    expected.sort_unstable();
    ensure(keys == expected, format!("keys {keys:?}"))?;
    ensure(session["domainName"] == "shop.example.com", "the domain is echoed")?;
    ensure(session["displayName"] == "Tree's Policy", "the display name is echoed")?;
    let epoch = session["epochTimestamp"].as_i64().context("epochTimestamp is a number")?;
    let expires = session["expiresAt"].as_i64().context("expiresAt is a number")?;
    ensure(expires - epoch == 3_600_000, "the session lasts an hour, in milliseconds")?;
    ensure((Utc::now().timestamp_millis() - epoch).abs() < 60_000, "epochTimestamp is now")?;
    ensure(session["retries"].as_i64() == Some(0), "retries is 0")?;
    let merchant = session["merchantIdentifier"].as_str().unwrap_or_default();
    ensure(
        merchant.len() == 64 && merchant.bytes().all(|b| b.is_ascii_hexdigit()),
        format!("merchantIdentifier {merchant} is a SHA-256 in hex, as Apple's"),
    )?;
    ensure(session["pspId"] == merchant, "pspId is the merchant hash")?;
    ensure(
        session["operationalAnalyticsIdentifier"] == format!("Tree's Policy:{merchant}").as_str(),
        "operationalAnalyticsIdentifier is displayName:merchant",
    )?;
    ensure(
        session["merchantSessionIdentifier"].as_str().is_some_and(|s| s.starts_with("SSH")),
        "merchantSessionIdentifier",
    )?;
    let again = connector.validate_merchant("shop.example.com", "Tree's Policy").await?;
    ensure(
        again["merchantSessionIdentifier"] != session["merchantSessionIdentifier"]
            && again["nonce"] != session["nonce"],
        "every session is new",
    )?;

    match connector.validate_merchant("https://shop.example.com/pay", "Tree's Policy").await {
        Err(ConnectorError::Refused { status: 400, .. }) => {}
        other => bail!("a URL is not a domain name: {other:?}"),
    }
    app.set_faults("apple-pay", json!({ "error_rate": 1.0 })).await?;
    match connector.validate_merchant("shop.example.com", "Tree's Policy").await {
        Err(ConnectorError::Unavailable(_)) => Ok(()),
        other => bail!("with error_rate 1: {other:?}"),
    }
}
