//! Crash tests: the real `settle-server` binary as a child process, killed with SIGKILL and
//! restarted on the same database, against a `settle-server sandbox` process that keeps running
//! (see `support/process.rs`).

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use reqwest::Client;
use serde_json::{Value, json};
use settle::demo::{CARD_POLICY_NUMBER, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, MERCHANT_CLIENT_ID};

use crate::support::process::{REQUEST_TIMEOUT, SandboxProcess, Scratch, ServerProcess};
use crate::support::{TestDatabase, ensure, eventually};

/// A customer's bearer token (password grant), as seed 003's app holds one.
async fn customer_token(client: &Client, server: &ServerProcess) -> Result<String> {
    let answer: Value = client
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", CUSTOMER_EMAIL),
            ("password", CUSTOMER_PASSWORD),
            ("client_id", MERCHANT_CLIENT_ID),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["access_token"].as_str().context("an access token")?.to_owned())
}

/// A request's status and JSON body.
async fn call(request: reqwest::RequestBuilder) -> Result<(u16, Value)> {
    let response = request.header("accept", "application/json").send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

pub async fn server_restarts_after_kill_9_and_keeps_its_payments(db: TestDatabase) -> Result<()> {
    let scratch = Scratch::new("crash")?;
    let mut sandbox = SandboxProcess::start(&scratch).await?;
    let mut server = ServerProcess::start(&scratch, &db, &sandbox).await?;
    let client = Client::builder().timeout(REQUEST_TIMEOUT).build()?;
    let since = (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();

    // Seed 003: prepare the demo quote's payment and take it with a test card.
    let token = customer_token(&client, &server).await?;
    let (status, prepared) = call(
        client
            .post(server.url("/api/v1/payments/"))
            .bearer_auth(&token)
            .json(&json!({ "policy_number": CARD_POLICY_NUMBER })),
    )
    .await?;
    ensure(status == 201, format!("prepare: {status} {prepared}"))?;
    let uuid = prepared["uuid"].as_str().context("a payment uuid")?.to_owned();
    let (status, taken) = call(
        client
            .post(server.url(&format!("/api/v1/payments/{uuid}/take-payment/")))
            .bearer_auth(&token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&json!({
                "card_details": {"card_holder": "J SMITH", "card_number": "4929 0000 0000 6",
                                 "expiry_date": "1030", "cv2": "123", "card_type": "VISA"},
                "billing_use_policy_address": true
            })),
    )
    .await?;
    ensure(status == 200, format!("take-payment: {status} {taken}"))?;
    let object_url = server.url(&format!("/api/v1/payments/{uuid}/"));
    eventually("the payment is POLICY_CONVERTED", Duration::from_secs(10), || async {
        let (_, object) = call(client.get(&object_url).bearer_auth(&token)).await?;
        Ok(object["payment_status_state"] == "POLICY_CONVERTED")
    })
    .await?;

    // The sandbox took exactly one charge; its merchant reference is Settle's payment.
    let charged = sandbox.card_transactions(&[("since", &since)]).await?;
    ensure(charged.len() == 1, format!("one transaction at the acquirer: {charged:?}"))?;
    ensure(charged[0]["status"] == "Ok", format!("authorised: {}", charged[0]))?;
    let reference = charged[0]["merchant_reference"].as_str().context("a reference")?.to_owned();
    let gateway_reference = charged[0]["id"].as_str().context("an id")?.to_owned();

    // kill -9, then the same binary on the same database and port.
    server.kill_9().await?;
    ensure(client.get(server.url("/healthz")).send().await.is_err(), "nothing listens")?;
    server.restart().await?;
    ensure(server.is_running() && sandbox.is_running(), "both run, the sandbox never stopped")?;
    let ready = server.wait_ready(Duration::from_secs(5)).await?;
    ensure(ready["status"] == "ready", format!("ready: {ready}"))?;

    let (status, object) = call(client.get(&object_url).bearer_auth(&token)).await?;
    ensure(status == 200, format!("after the restart: {status} {object}"))?;
    ensure(
        object["payment_status_state"] == "POLICY_CONVERTED" && object["payment_status"] == 11,
        format!("still POLICY_CONVERTED: {object}"),
    )?;
    ensure(object["policy"]["policy_number"] == CARD_POLICY_NUMBER, "with its policy")?;
    let (status, payment) =
        call(client.get(server.url(&format!("/api/payments/{reference}"))).bearer_auth(&token))
            .await?;
    ensure(status == 200, format!("Settle's payment {reference}: {status} {payment}"))?;
    ensure(
        payment["payment_status_state"] == "POLICY_CONVERTED"
            && payment["gateway_reference"] == gateway_reference.as_str(),
        format!("the sandbox's charge is this payment: {payment}"),
    )?;
    let under_reference = sandbox.card_transactions(&[("merchant_reference", &reference)]).await?;
    ensure(
        under_reference.len() == 1 && under_reference[0]["id"] == gateway_reference.as_str(),
        format!("exactly one charge for {reference}: {under_reference:?}"),
    )?;
    let log = server.log_text();
    ensure(
        log.matches("Settle is serving").count() == 2 && log.contains("killed with SIGKILL"),
        format!("the log shows both starts and the kill:\n{log}"),
    )?;
    let log = sandbox.log_text();
    ensure(log.matches("Settle sandbox is serving").count() == 1, format!("one sandbox:\n{log}"))
}
