//! The direct-debit connector against the sandbox provider `bank`, over real HTTP: mandates,
//! collections that settle or bounce later, notifications under fault injection, signatures.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use settle::connector::direct_debit::DirectDebitConnector;
use settle::connector::http::build;
use settle::connector::signature::{self, SignatureError};
use settle::connector::{
    Connector, ConnectorConfig, ConnectorError, DirectDebitRequest, GatewayStatus, Notification,
    SANDBOX_SIGNING_SECRET,
};
use settle::gateway::GatewayKind;
use settle::iban::Iban;
use settle::money::{Currency, Money};
use settle_server::sandbox::bank::{
    ACCOUNT_CLOSED_IBAN, DEFAULT_SETTLE_AFTER_MS, INSUFFICIENT_FUNDS_IBAN, MANDATE_REFUSED_IBAN,
    SETTLING_IBAN,
};
use url::Url;

use crate::support::{Capture, TestApp, ensure};

const NOTIFY: &str = "/notify";
const WAIT: Duration = Duration::from_secs(5);

fn config(app: &TestApp, timeout: Duration, secret: &str) -> Result<ConnectorConfig> {
    Ok(ConnectorConfig {
        gateway_id: "sandbox-bank".into(),
        base_url: Url::parse(&app.url("/sandbox/bank"))?,
        api_key: "test-key".into(),
        signing_secret: secret.into(),
        timeout,
    })
}

/// The connector as the server builds it for a `direct_debit` gateway.
fn connector(app: &TestApp) -> Result<Arc<dyn Connector>> {
    build(
        GatewayKind::DirectDebit,
        config(app, Duration::from_secs(10), SANDBOX_SIGNING_SECRET)?,
        reqwest::Client::new(),
    )
    .context("the factory builds a direct_debit connector")
}

/// Sets the bank's settlement delay.
async fn settle_after(app: &TestApp, ms: u64) -> Result<()> {
    let settings: serde_json::Value =
        app.client.get(app.url("/sandbox/bank/settings")).send().await?.json().await?;
    ensure(
        settings["settle_after_ms"] == DEFAULT_SETTLE_AFTER_MS || settings["settle_after_ms"] == ms,
        format!("settings {settings}"),
    )?;
    app.bank_settles_after(ms).await
}

fn collection(
    capture: &Capture,
    iban: &str,
    mandate: Option<String>,
    amount: &str,
) -> Result<DirectDebitRequest> {
    Ok(DirectDebitRequest {
        payment_reference: format!("PAY-{}", uuid::Uuid::new_v4().simple()),
        amount: Money::parse_decimal(amount, Currency::EUR)?,
        iban: Iban::parse(iban)?,
        account_holder: "Anna Muster".into(),
        mandate_reference: mandate,
        notification_url: Url::parse(&capture.url(NOTIFY))?,
    })
}

/// The verified notifications received so far for collection `id`.
fn notifications_for(
    capture: &Capture,
    bank: &dyn Connector,
    id: &str,
) -> Result<Vec<Notification>> {
    let mut found = Vec::new();
    for captured in capture.at(NOTIFY) {
        let notification =
            bank.verify_notification(captured.signature.as_deref(), &captured.body)?;
        if notification.result.gateway_reference == id {
            found.push(notification);
        }
    }
    Ok(found)
}

/// Waits (bounded) for the first notification about collection `id`.
async fn notification_for(
    capture: &Capture,
    bank: &dyn Connector,
    id: &str,
) -> Result<Notification> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(first) = notifications_for(capture, bank, id)?.into_iter().next() {
            return Ok(first);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("no notification for {id} within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn mandate_then_collection_settles_and_notifies(app: TestApp) -> Result<()> {
    settle_after(&app, 500).await?;
    let capture = Capture::start().await?;
    let direct = DirectDebitConnector::new(
        config(&app, Duration::from_secs(10), SANDBOX_SIGNING_SECRET)?,
        reqwest::Client::new(),
    );
    let mandate =
        direct.create_mandate(&Iban::parse(SETTLING_IBAN)?, "Anna Muster", "CUST-1").await?;
    ensure(mandate.status == "active", format!("mandate {mandate:?}"))?;
    let bank = connector(&app)?;
    let request = collection(&capture, SETTLING_IBAN, Some(mandate.mandate_id.clone()), "378.90")?;
    let submitted = bank.direct_debit(&request).await?;
    ensure(submitted.status == GatewayStatus::Pending, format!("{:?}", submitted.status))?;
    ensure(submitted.token.as_deref() == Some(mandate.mandate_id.as_str()), "the mandate token")?;
    ensure(submitted.raw["amount"] == "378.90", format!("exact amount in {}", submitted.raw))?;
    ensure(!submitted.raw.to_string().contains(SETTLING_IBAN), "no IBAN in raw")?;
    let pending = bank.query_status(&submitted.gateway_reference).await?;
    ensure(pending.status == GatewayStatus::Pending, format!("{:?}", pending.status))?;

    let notification =
        notification_for(&capture, bank.as_ref(), &submitted.gateway_reference).await?;
    ensure(notification.result.status == GatewayStatus::Succeeded, "notified as settled")?;
    ensure(notification.result.token == submitted.token, "the notification names the mandate")?;
    let body = capture.at(NOTIFY).remove(0).json()?;
    ensure(body["status"] == "settled", format!("notification {body}"))?;
    ensure(body["merchant_reference"] == request.payment_reference.as_str(), "the reference")?;
    let settled = bank.query_status(&submitted.gateway_reference).await?;
    ensure(settled.status == GatewayStatus::Succeeded, format!("{:?}", settled.status))?;

    // The bank's answers never show the account number.
    let shown = app
        .client
        .get(app.url(&format!("/sandbox/bank/mandates/{}", mandate.mandate_id)))
        .bearer_auth("k")
        .send()
        .await?
        .text()
        .await?;
    ensure(!shown.contains(SETTLING_IBAN) && shown.contains("DE** **** 3000"), shown)?;
    Ok(())
}

pub async fn collection_with_an_iban_creates_the_mandate(app: TestApp) -> Result<()> {
    settle_after(&app, 50).await?;
    let capture = Capture::start().await?;
    let bank = connector(&app)?;
    let first = bank.direct_debit(&collection(&capture, SETTLING_IBAN, None, "10.00")?).await?;
    ensure(first.status == GatewayStatus::Pending, format!("{:?}", first.status))?;
    let mandate = first.token.clone().context("a mandate id")?;
    let second = bank
        .direct_debit(&collection(&capture, SETTLING_IBAN, Some(mandate.clone()), "12.50")?)
        .await?;
    ensure(second.token.as_deref() == Some(mandate.as_str()), "the same mandate is reused")?;
    for id in [&first.gateway_reference, &second.gateway_reference] {
        let notification = notification_for(&capture, bank.as_ref(), id).await?;
        ensure(notification.result.status == GatewayStatus::Succeeded, "settled")?;
    }
    // An unknown mandate is refused before anything is collected.
    match bank
        .direct_debit(&collection(&capture, SETTLING_IBAN, Some("MD-nope".into()), "1.00")?)
        .await
    {
        Err(ConnectorError::Refused { status: 422, message }) => {
            ensure(message.contains("mandate_id"), message)?
        }
        other => bail!("expected a 422, got {other:?}"),
    }
    Ok(())
}

pub async fn bouncing_ibans_fail_with_the_reason(app: TestApp) -> Result<()> {
    settle_after(&app, 50).await?;
    let capture = Capture::start().await?;
    let bank = connector(&app)?;
    for (iban, reason) in
        [(INSUFFICIENT_FUNDS_IBAN, "insufficient funds"), (ACCOUNT_CLOSED_IBAN, "account closed")]
    {
        let submitted = bank.direct_debit(&collection(&capture, iban, None, "99.00")?).await?;
        ensure(submitted.status == GatewayStatus::Pending, "a bounce is only known later")?;
        let notification =
            notification_for(&capture, bank.as_ref(), &submitted.gateway_reference).await?;
        let expected = GatewayStatus::Failed { reason: reason.into() };
        ensure(
            notification.result.status == expected,
            format!("{:?}", notification.result.status),
        )?;
        let status = bank.query_status(&submitted.gateway_reference).await?;
        ensure(status.status == expected, format!("{:?}", status.status))?;
    }
    match bank.direct_debit(&collection(&capture, MANDATE_REFUSED_IBAN, None, "5.00")?).await {
        Err(ConnectorError::Refused { status: 422, message }) => {
            ensure(message.contains("does not accept direct debits"), message)?
        }
        other => bail!("expected the mandate to be refused, got {other:?}"),
    }
    Ok(())
}

pub async fn dropped_and_duplicated_notifications_follow_the_fault_plan(
    app: TestApp,
) -> Result<()> {
    settle_after(&app, 50).await?;
    let capture = Capture::start().await?;
    let bank = connector(&app)?;

    app.set_faults("bank", serde_json::json!({ "drop_notification_rate": 1.0 })).await?;
    let dropped = bank.direct_debit(&collection(&capture, SETTLING_IBAN, None, "20.00")?).await?;
    // Reconciliation still learns the outcome from the status query.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = bank.query_status(&dropped.gateway_reference).await?;
        if status.status == GatewayStatus::Succeeded {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("the collection never settled: {:?}", status.status);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure(
        notifications_for(&capture, bank.as_ref(), &dropped.gateway_reference)?.is_empty(),
        "a dropped notification never arrives",
    )?;

    app.set_faults("bank", serde_json::json!({ "duplicate_notification_rate": 1.0 })).await?;
    let doubled =
        bank.direct_debit(&collection(&capture, INSUFFICIENT_FUNDS_IBAN, None, "20.00")?).await?;
    capture.wait_for(NOTIFY, 2, WAIT).await?;
    let copies = notifications_for(&capture, bank.as_ref(), &doubled.gateway_reference)?;
    ensure(copies.len() == 2, format!("{} copies", copies.len()))?;
    ensure(copies[0].event_id == copies[1].event_id, "duplicates share the event id")?;
    ensure(copies[0].result.status == copies[1].result.status, "duplicates agree")?;
    Ok(())
}

pub async fn unavailable_or_hanging_bank(app: TestApp) -> Result<()> {
    settle_after(&app, 50).await?;
    let capture = Capture::start().await?;
    let bank = connector(&app)?;

    app.set_faults("bank", serde_json::json!({ "error_rate": 1.0 })).await?;
    let request = collection(&capture, SETTLING_IBAN, None, "30.00")?;
    match bank.direct_debit(&request).await {
        Err(e @ ConnectorError::Unavailable(_)) => {
            ensure(e.nothing_happened(), "nothing happened")?
        }
        other => bail!("expected Unavailable, got {other:?}"),
    }
    app.set_faults("bank", serde_json::json!({})).await?;
    match bank.query_status(&request.payment_reference).await {
        Err(ConnectorError::Refused { status: 404, .. }) => {}
        other => bail!("the bank must not know the collection, got {other:?}"),
    }

    // A hang: the bank acts, then answers too late for the connector.
    app.set_faults("bank", serde_json::json!({ "timeout_rate": 1.0, "hang_ms": 2000 })).await?;
    let slow = DirectDebitConnector::new(
        config(&app, Duration::from_millis(300), SANDBOX_SIGNING_SECRET)?,
        reqwest::Client::new(),
    );
    let request = collection(&capture, SETTLING_IBAN, None, "31.00")?;
    match slow.direct_debit(&request).await {
        Err(e @ ConnectorError::Timeout(_)) => ensure(!e.nothing_happened(), "money may move")?,
        other => bail!("expected a timeout, got {other:?}"),
    }
    app.set_faults("bank", serde_json::json!({})).await?;
    let found = bank.query_status(&request.payment_reference).await?;
    ensure(found.token.is_some(), "the collection exists with its mandate")?;
    let notification = notification_for(&capture, bank.as_ref(), &found.gateway_reference).await?;
    ensure(notification.result.status == GatewayStatus::Succeeded, "it settled")?;
    Ok(())
}

pub async fn bank_notifications_with_forged_or_stale_signatures_are_rejected(
    app: TestApp,
) -> Result<()> {
    settle_after(&app, 20).await?;
    let capture = Capture::start().await?;
    let bank = connector(&app)?;
    bank.direct_debit(&collection(&capture, INSUFFICIENT_FUNDS_IBAN, None, "40.00")?).await?;
    let captured = capture.wait_for(NOTIFY, 1, WAIT).await?.remove(0);
    let header = captured.signature.clone().context("a signature header")?;
    bank.verify_notification(Some(&header), &captured.body)?;

    let rejected =
        |result: Result<Notification, ConnectorError>, expected: SignatureError| match result {
            Err(ConnectorError::BadSignature(e)) if e == expected => Ok(()),
            other => {
                Err(anyhow::anyhow!("expected {expected:?}, got {:?}", other.map(|n| n.event_id)))
            }
        };
    // A bounce rewritten as a settlement.
    let forged = String::from_utf8(captured.body.clone())?.replace("\"bounced\"", "\"settled\"");
    ensure(forged.as_bytes() != captured.body.as_slice(), "the body was rewritten")?;
    rejected(bank.verify_notification(Some(&header), forged.as_bytes()), SignatureError::Mismatch)?;
    let resigned = signature::sign("not-the-bank", forged.as_bytes(), Utc::now());
    rejected(
        bank.verify_notification(Some(&resigned), forged.as_bytes()),
        SignatureError::Mismatch,
    )?;
    let old = signature::sign(
        SANDBOX_SIGNING_SECRET,
        &captured.body,
        Utc::now() - chrono::Duration::seconds(signature::TOLERANCE_SECS + 60),
    );
    rejected(bank.verify_notification(Some(&old), &captured.body), SignatureError::Stale)?;
    rejected(bank.verify_notification(Some("t=1"), &captured.body), SignatureError::Malformed)?;
    rejected(bank.verify_notification(None, &captured.body), SignatureError::Malformed)?;
    Ok(())
}
