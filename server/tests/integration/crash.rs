//! Crash tests: the real `settle-server` binary as a child process, killed with SIGKILL and
//! restarted on the same database, against a `settle-server sandbox` process that keeps running
//! (see `support/process.rs`).

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use reqwest::Client;
use serde_json::{Value, json};
use settle::demo::CARD_POLICY_NUMBER;

use crate::support::process::{
    REQUEST_TIMEOUT, SandboxProcess, Scratch, ServerProcess, demo_world_with_quotes,
};
use crate::support::{TestDatabase, ensure, eventually};

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
    let token = server.customer_token().await?;
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

/// Quotes paid in the burst, and how many clients pay them at once.
const BURST: usize = 60;
const CLIENTS: usize = 10;

/// What one client saw for its quote: the answer it finally got (if any), and how often it had
/// to retry because the server was gone.
#[derive(Debug, Default)]
struct Outcome {
    acknowledged: Option<Value>,
    retries: usize,
    /// The last refusal, for the failure message.
    last: Option<String>,
}

/// One client paying one quote the way a careful seed 003 app does: one idempotency key for
/// the payment, retried (same key) whenever the server is unreachable or answers 409, until it
/// gets an answer or runs out of time.
async fn pay_quote(base: String, token: String, number: String) -> Outcome {
    let client = match Client::builder().timeout(Duration::from_secs(5)).build() {
        Ok(client) => client,
        Err(_) => return Outcome::default(),
    };
    let mut key = uuid::Uuid::new_v4().to_string();
    let mut outcome = Outcome::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut uuid: Option<String> = None;
    while tokio::time::Instant::now() < deadline {
        let step = async {
            if uuid.is_none() {
                let (status, prepared) = call(
                    client
                        .post(format!("{base}/api/v1/payments/"))
                        .bearer_auth(&token)
                        .json(&json!({ "policy_number": number })),
                )
                .await?;
                if matches!(status, 200 | 201) {
                    uuid = prepared["uuid"].as_str().map(str::to_owned);
                }
            }
            let Some(id) = &uuid else { return anyhow::Ok(None) };
            let (status, taken) = call(
                client
                    .post(format!("{base}/api/v1/payments/{id}/take-payment/"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(&json!({
                        "card_details": {"card_holder": "T MOKOENA", "card_number": "4929 0000 0000 6",
                                         "expiry_date": "1030", "cv2": "123"},
                        "billing_use_policy_address": true
                    })),
            )
            .await?;
            if status == 200 {
                return Ok(Some(taken));
            }
            anyhow::bail!("{status} {taken}")
        };
        match step.await {
            // Failed without a charge (it never reached the acquirer before a crash): the app
            // tries again, as a new payment.
            Ok(Some(answer))
                if [7, 8, 9].contains(&answer["payment_status"].as_i64().unwrap_or(0)) =>
            {
                outcome.retries += 1;
                key = uuid::Uuid::new_v4().to_string();
            }
            Ok(Some(answer)) => {
                outcome.acknowledged = Some(answer);
                return outcome;
            }
            other => {
                outcome.last = other.err().map(|e| format!("{e:#}"));
                outcome.retries += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    outcome
}

pub async fn kill_9_during_a_burst_loses_and_doubles_no_charge(db: TestDatabase) -> Result<()> {
    let started = std::time::Instant::now();
    let quotes = demo_world_with_quotes(&db, "CRASH", BURST).await?;
    let scratch = Scratch::new("crash-burst")?;
    let sandbox = SandboxProcess::start(&scratch).await?;
    // A slow acquirer, so kills land while authorisations are in flight; a short schedule, so
    // the test's sweep window is seconds.
    sandbox.set_faults("card", json!({ "latency_ms": 200 })).await?;
    let settings = [
        ("SETTLE_RECONCILE_SCHEDULE_SECONDS", "[1, 2, 3]".to_owned()),
        ("SETTLE_LOG", "warn".to_owned()),
    ];
    let mut server = ServerProcess::start_with(&scratch, &db, &sandbox, &settings).await?;
    let token = server.customer_token().await?;
    let since = Utc::now() - chrono::Duration::minutes(1);

    // The burst: CLIENTS at a time, each with its own quote.
    let base = server.base.clone();
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(quotes.clone()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (queue, base, token) = (queue.clone(), base.clone(), token.clone());
        workers.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let next = queue.lock().await.pop();
                let Some(number) = next else { return seen };
                let outcome = pay_quote(base.clone(), token.clone(), number.clone()).await;
                seen.push((number, outcome));
            }
        });
    }
    // kill -9 three times while the burst runs, restarting each time; each kill is counted with
    // the attempts that were possibly charged (in flight at the acquirer) when it landed.
    let store = settle::Db::connect(&db.url, 2).await?;
    let mut in_flight_at_kills = Vec::new();
    for pause in [700, 900, 1100] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        // On a busy machine the burst may not have reached the acquirer yet: wait (bounded) for
        // an attempt in flight, so the kill lands where it matters.
        let sql = "SELECT COUNT(*) FROM payments WHERE state = 3";
        let waiting = std::time::Instant::now();
        let in_flight = loop {
            let n: i64 =
                settle::with_db!(&store, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
            if n > 0 || waiting.elapsed() > Duration::from_secs(5) {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        in_flight_at_kills.push(in_flight);
        server.kill_9().await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.restart().await?;
    }
    let mut outcomes = Vec::new();
    while let Some(done) = workers.join_next().await {
        outcomes.extend(done?);
    }
    sandbox.set_faults("card", json!({})).await?;

    ensure(
        in_flight_at_kills.iter().any(|n| *n > 0),
        format!("a kill landed while attempts were in flight: {in_flight_at_kills:?}"),
    )?;

    // Within the sweep window every attempt is final, and the gateway's word settled each.
    let final_in_time = eventually("every attempt is final", Duration::from_secs(30), || async {
        let sql = "SELECT COUNT(*) FROM payments WHERE state NOT IN (7, 8, 9, 11, 12, 13) AND details NOT LIKE '%demo_history%'";
        let open: i64 =
            settle::with_db!(&store, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
        Ok(open == 0)
    })
    .await;
    if let Err(e) = final_in_time {
        let sql = "SELECT reference, state, settle_by, reconcile_attempts FROM payments WHERE state NOT IN (7, 8, 9, 11, 12, 13) AND details NOT LIKE '%demo_history%'";
        let open: Vec<(String, i64, Option<chrono::DateTime<Utc>>, i64)> =
            settle::with_db!(&store, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        let log = server.log_text();
        let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
        anyhow::bail!("{e}: {open:?} (now {}); server log ends:\n{tail}", Utc::now());
    }
    let orchestrator = settle::payment::Orchestrator::from_database(
        store.clone(),
        settle::connector::ConnectorSettings {
            sandbox_url: url::Url::parse(&sandbox.sandbox_url())?,
            sandbox_signing_secret: settle::connector::SANDBOX_SIGNING_SECRET.into(),
            client: reqwest::Client::new(),
        },
        settle_server::api::callbacks::urls(url::Url::parse(&server.base)?),
        settle::payment::orchestrator::ReconcilePolicy::default(),
    )
    .await?;
    let ledger = settle::ledger::check(&orchestrator, since, Duration::from_secs(60)).await?;
    ensure(ledger.is_clean(), format!("the ledger agrees with the acquirer: {ledger:?}"))?;

    // Every charge belongs to exactly one successful payment; no quote is charged twice.
    let charges = sandbox.card_transactions(&[("since", &since.to_rfc3339())]).await?;
    let charged: Vec<&Value> = charges.iter().filter(|t| t["status"] == "Ok").collect();
    let count = |sql: &'static str| {
        let store = store.clone();
        async move {
            anyhow::Ok(
                settle::with_db!(&store, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)?,
            )
        }
    };
    // The burst's payments, not the demo's month of history (marked in `details`).
    let attempts =
        count("SELECT COUNT(*) FROM payments WHERE details NOT LIKE '%demo_history%'").await?;
    let converted = count(
        "SELECT COUNT(*) FROM payments WHERE state = 11 AND details NOT LIKE '%demo_history%'",
    )
    .await?;
    let paid_quotes = count("SELECT COUNT(DISTINCT purchase_id) FROM payments WHERE state = 11 AND details NOT LIKE '%demo_history%'").await?;
    ensure(converted == paid_quotes, "one successful payment per paid quote")?;
    ensure(
        charged.len() as i64 == converted,
        format!("{} charges at the acquirer for {converted} successful payments", charged.len()),
    )?;
    // Every payment a client was told about exists, at least as far as it was told.
    let mut acknowledged = 0;
    for (number, outcome) in &outcomes {
        let Some(answer) = &outcome.acknowledged else { continue };
        acknowledged += 1;
        let told = answer["payment_status"].as_i64().unwrap_or_default();
        let sql = "SELECT MAX(p.state) FROM payments p JOIN purchases pu ON pu.id = p.purchase_id JOIN services s ON s.id = pu.service_id WHERE s.reference = $1 AND p.state IN (6, 10, 11)";
        let stored: Option<i64> = settle::with_db!(&store, pool => sqlx::query_scalar(sql).bind(number).fetch_one(pool).await)?;
        if [6, 10, 11].contains(&told) {
            ensure(stored == Some(11), format!("{number}: told {told}, stored {stored:?}"))?;
        }
    }
    let retries: usize = outcomes.iter().map(|(_, o)| o.retries).sum();
    ensure(retries > 0, "clients had to retry: the kills interrupted them")?;
    eprintln!(
        "crash burst ({:?}): {BURST} quotes, {attempts} attempts, {} charges at the acquirer, {converted} successful payments, 0 stuck, {acknowledged} acknowledged, {retries} client retries, 3 kill -9 with {in_flight_at_kills:?} attempts in flight, {:.1} s",
        db.backend,
        charged.len(),
        started.elapsed().as_secs_f64()
    );
    let unanswered: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| o.acknowledged.is_none())
        .map(|(n, o)| format!("{n}: {:?}", o.last))
        .collect();
    ensure(
        acknowledged == BURST,
        format!("every client got its answer: {acknowledged}/{BURST}: {unanswered:#?}"),
    )?;
    store.close().await;
    Ok(())
}
