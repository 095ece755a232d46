//! The cost of a request must not grow with the database: every statement the hot paths run
//! (a seed-003 card payment end to end, a payment through Settle's own API, polling, the
//! customer's account page, and the background jobs they queue) is recorded as it runs, then
//! planned on the same database, and none may read a growing table in full.
//!
//! This module's tests run alone (they record the whole process's statements).

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::json;
use settle::demo::{CARD_POLICY_NUMBER, CUSTOMER_EMAIL, CUSTOMER_PASSWORD};

use crate::support::statements::{self, FullScan};
use crate::support::{TestApp, ensure, eventually};

pub async fn hot_paths_are_served_by_indexes(app: TestApp) -> Result<()> {
    seed_growing_tables(&app).await?;
    let merchant = app.merchant_token().await?;
    let customer = app.customer_token().await?;
    let billed = bill_a_customer(&app, &merchant).await?;

    let recording = statements::record();
    let seed_003 = card_payment_seed_003(&app, &customer).await?;
    let seed_003_statements = recording.take();

    let recording = statements::record();
    pay_through_settle_api(&app, &merchant, &billed).await?;
    let api_statements = recording.take();

    let recording = statements::record();
    for _ in 0..3 {
        let answer = app.call(Method::GET, &seed_003, Some(&customer), None, None).await?;
        ensure(answer.status == 200, format!("polling: {answer:?}"))?;
    }
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let account = app.get("/account").await?;
    ensure(account.status() == 200, format!("/account answers {}", account.status()))?;
    // The jobs both payments queued (customer messages, merchant webhooks) and a sweep.
    let db = app.db.clone();
    eventually("the queued jobs ran", Duration::from_secs(30), move || {
        let db = db.clone();
        async move { Ok(settle::job::depth(&db).await?.waiting == 0) }
    })
    .await?;
    app.state.payments.reconcile().await?;
    let other_statements = recording.take();

    println!(
        "statements run: seed-003 card payment {}, POST /api/payments {}, polls + /account + jobs {}",
        seed_003_statements.len(),
        api_statements.len(),
        other_statements.len(),
    );
    if let Ok(path) = std::env::var("SETTLE_TEST_STATEMENTS") {
        write_statements(
            &path,
            &[
                ("seed-003 card payment", &seed_003_statements),
                ("POST /api/payments", &api_statements),
                ("polls, /account, jobs, a sweep", &other_statements),
            ],
        )?;
    }
    let all: std::collections::BTreeSet<String> =
        seed_003_statements.into_iter().chain(api_statements).chain(other_statements).collect();
    ensure(all.len() > 20, format!("statements were recorded ({} seen)", all.len()))?;
    let scans = statements::full_scans(&app.db, all.into_iter().collect()).await?;
    ensure(scans.is_empty(), describe(&scans))
}

/// Rows in the tables that grow, so the planner prices their scans as a server with a history
/// would: finished jobs and more lines on the demo history's purchases.
async fn seed_growing_tables(app: &TestApp) -> Result<()> {
    let now = chrono::Utc::now();
    let jobs = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
        INSERT INTO jobs (id, kind, payload, dedupe_key, status, run_at, attempts, max_attempts,
                          created_at, updated_at)
        SELECT 'seeded-job-' || i, 'seeded', '{}', NULL, 'done', $1, 1, 1, $1, $1 FROM n";
    let lines = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
        INSERT INTO purchase_lines (id, purchase_id, line_type, description, quantity,
            unit_price_minor, period_per_quantity, tax_rate_bp, amount_excl_minor, tax_minor,
            amount_minor)
        SELECT 'seeded-line-' || p.id || '-' || n.i, p.id, 3, 'seeded', 1, 0, 0, 0, 0, 0, 0
        FROM purchases p CROSS JOIN n";
    settle::with_db!(&app.db, pool => {
        sqlx::query(jobs).bind(now).execute(pool).await?;
        sqlx::query(lines).execute(pool).await?;
        Ok::<_, sqlx::Error>(())
    })?;
    if let settle::Db::Postgres(pool) = &app.db {
        sqlx::query("ANALYZE").execute(pool).await?;
    }
    Ok(())
}

/// A customer and a purchase owed, made through the merchant API before recording starts.
async fn bill_a_customer(app: &TestApp, token: &str) -> Result<String> {
    let created = app.put_customer(token, "PLAN-1", json!({ "name": "Lindiwe Nkosi" })).await?;
    ensure(created.status == 201, format!("customer: {created:?}"))?;
    let service = app
        .call(
            Method::POST,
            "/api/services",
            Some(token),
            Some(&json!({
                "reference": "PLAN/0001",
                "customer_code": "PLAN-1",
                "product_code": "SHORT-MOTOR",
                "period_start": "2026-12-10",
                "period_end": "2026-12-13",
                "policy_address": { "house": "14", "street": "Bree Street", "city": "Cape Town", "postcode": "8001" }
            })),
            None,
        )
        .await?;
    ensure(service.status == 201, format!("service: {service:?}"))?;
    let purchase = app
        .create_purchase(
            token,
            &json!({
                "customer_code": "PLAN-1",
                "service_reference": "PLAN/0001",
                "lines": [{ "description": "Cover, 3 days", "quantity": 3 }]
            }),
            None,
        )
        .await?;
    ensure(purchase.status == 201, format!("purchase: {purchase:?}"))?;
    Ok(purchase.body["purchase_id"].as_str().context("purchase_id")?.to_owned())
}

/// Seed 003: prepare the quote's payment, take it with the frictionless card, poll until the
/// policy is converted. Returns the payment's URL.
async fn card_payment_seed_003(app: &TestApp, token: &str) -> Result<String> {
    let uuid = app.prepare_quote(token, CARD_POLICY_NUMBER).await?;
    let card = json!({
        "card_details": {
            "card_holder": "J SMITH",
            "card_number": "4929 0000 0000 6",
            "expiry_date": "1030",
            "cv2": "123",
            "card_type": "VISA"
        },
        "billing_use_policy_address": true
    });
    let path = format!("/api/v1/payments/{uuid}/");
    let taken = app
        .call(Method::POST, &format!("{path}take-payment/"), Some(token), Some(&card), None)
        .await?;
    ensure(taken.status == 200, format!("take-payment: {taken:?}"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = app.call(Method::GET, &path, Some(token), None, None).await?;
        if answer.body["payment_status_state"] == "POLICY_CONVERTED" {
            return Ok(path);
        }
        ensure(tokio::time::Instant::now() < deadline, format!("not converted: {answer:?}"))?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `POST /api/payments` by card, then the payment read back by its reference.
async fn pay_through_settle_api(app: &TestApp, token: &str, purchase_id: &str) -> Result<()> {
    let paid = app.pay_by_card(token, purchase_id, "sagepay-gbp").await?;
    ensure(paid.status == 201, format!("payment: {paid:?}"))?;
    let reference = paid.body["reference"].as_str().context("payment reference")?;
    app.get_ok(token, &format!("/api/payments/{reference}")).await?;
    Ok(())
}

/// Writes each phase's statements in the order they ran (set `SETTLE_TEST_STATEMENTS` to a
/// path to see where a request's statements go).
fn write_statements(path: &str, phases: &[(&str, &Vec<String>)]) -> Result<()> {
    let mut text = String::new();
    for (phase, statements) in phases {
        text.push_str(&format!("## {phase}: {} statements\n", statements.len()));
        for sql in statements.iter() {
            text.push_str(&format!("{}\n", sql.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    std::fs::write(path, text)?;
    Ok(())
}

fn describe(scans: &[FullScan]) -> String {
    let mut text = format!("{} statement(s) read a growing table in full:\n", scans.len());
    for scan in scans {
        text.push_str(&format!("\n--- {}\n{}\n", scan.sql.trim(), scan.plan));
    }
    text
}
