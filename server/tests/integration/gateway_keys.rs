//! Which keys notifications are verified with: in production the development sandbox key, which
//! is in the source, is worth nothing; sandbox-bound gateways verify with the key the server made
//! at start (or was given), which its in-process sandbox signs with.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::{Value, json};
use settle::connector::SANDBOX_SIGNING_SECRET;
use settle::connector::signature;
use settle::demo::POLICY_NUMBER;

use crate::support::{TestApp, TestDatabase, ensure, eventually, html_forms, start_app};

/// `GET /api/payments/{reference}`: the payment with its timeline.
async fn payment(app: &TestApp, token: &str, reference: &str) -> Result<Value> {
    let response = app
        .client
        .get(app.url(&format!("/api/payments/{reference}")))
        .bearer_auth(token)
        .send()
        .await?;
    ensure(response.status() == 200, format!("payment answered {}", response.status()))?;
    Ok(response.json().await?)
}

async fn notify(app: &TestApp, body: &[u8], key: &str) -> Result<u16> {
    let response = app
        .client
        .post(app.url("/gateway/notify/payfort-aed"))
        .header("content-type", "application/json")
        .header(signature::HEADER, signature::sign(key, body, Utc::now()))
        .body(body.to_vec())
        .send()
        .await?;
    Ok(response.status().as_u16())
}

pub async fn development_sandbox_key_is_refused_in_production(db: TestDatabase) -> Result<()> {
    let settings =
        [("mode", json!("production")), ("sandbox", json!(true)), ("demo_data", json!(true))];
    let running = start_app(&db, &settings).await?;
    let outcome = check_production_keys(&running.app).await;
    running.stop().await;
    outcome
}

async fn check_production_keys(app: &TestApp) -> Result<()> {
    let key = app.state.config.sandbox_signing_secret().to_owned();
    ensure(key != SANDBOX_SIGNING_SECRET, "production made its own sandbox key")?;
    let token = app.merchant_token().await?;
    let (status, checkout): (u16, Value) = {
        let response = app
            .client
            .get(app.url("/api/v3/payment/token/"))
            .bearer_auth(&token)
            .query(&[
                ("url", "http://localhost:8080/checkout/done"),
                ("policy_number", POLICY_NUMBER),
            ])
            .send()
            .await?;
        (response.status().as_u16(), response.json().await?)
    };
    ensure(status == 200, format!("a hosted checkout: {status} {checkout}"))?;
    let reference = checkout["token"].as_str().context("the payment reference")?.to_owned();
    let page_url = checkout["url"].as_str().context("the hosted page")?.to_owned();
    let checkout_id = page_url.rsplit('/').next().context("the checkout id")?.to_owned();
    let before = payment(app, &token, &reference).await?;
    ensure(before["payment_status_state"] == "AWAITING_CUSTOMER", format!("{before}"))?;

    // Signed with the key every copy of the source carries: refused, and nothing changes.
    let forged = serde_json::to_vec(&json!({
        "event_id": "evt_forged", "event_type": "payment.succeeded", "checkout_id": checkout_id,
        "merchant_reference": reference, "status": "succeeded", "amount": "5100.00",
        "currency": "AED", "created_at": Utc::now(),
    }))?;
    ensure(notify(app, &forged, SANDBOX_SIGNING_SECRET).await? == 401, "the development key: 401")?;
    ensure(notify(app, &forged, "").await? == 401, "no key at all: 401")?;
    let after = payment(app, &token, &reference).await?;
    ensure(after == before, format!("nothing changed: {before} then {after}"))?;

    // The customer really pays: the in-process sandbox signs with the production key and the
    // notification settles the payment (the browser's return is not followed).
    let page = app.client.get(&page_url).send().await?.text().await?;
    let form =
        html_forms(&page).into_iter().find(|f| f.action.contains("/pay/")).context("form")?;
    let paid = app.client.post(&form.action).form(&form.submission("Pay")?).send().await?;
    ensure(paid.status() == 303, format!("the page answered {}", paid.status()))?;
    eventually("the notification settles the payment", Duration::from_secs(10), || async {
        let now = payment(app, &token, &reference).await?;
        let by_notification = now["timeline"].as_array().is_some_and(|events| {
            events.iter().any(|e| {
                e["to"] == "PAYMENT_SUCCESS"
                    && e["cause"].as_str().is_some_and(|c| c.starts_with("notification "))
            })
        });
        Ok(by_notification && now["payment_status_state"] == "POLICY_CONVERTED")
    })
    .await
}
