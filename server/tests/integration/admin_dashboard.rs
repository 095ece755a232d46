//! The admin dashboard: its numbers against the payments the database holds (the demo's month
//! of history, recomputed here from the rows), the period switch, the charts as inline SVG with
//! their tables, and the admin role.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use settle::demo::{ADMIN_EMAIL, ADMIN_PASSWORD, CUSTOMER_EMAIL, CUSTOMER_PASSWORD};

use crate::support::{TestApp, ensure};

/// The dashboard's numbers for `period`, through its server function.
async fn dashboard(app: &TestApp, period: &str) -> Result<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/admin/api/dashboard"))
        .header("accept", "application/json")
        .form(&[("period", period)])
        .send()
        .await?)
}

/// Nearest-rank percentile, computed independently of the core's.
fn nearest_rank(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// The expected numbers from the payments and events created since `since`.
struct Expected {
    total: i64,
    per_state: BTreeMap<String, i64>,
    per_gateway: BTreeMap<String, i64>,
    success_rate: Option<f64>,
    median: Option<i64>,
    p95: Option<i64>,
}

async fn expected(app: &TestApp, since: DateTime<Utc>) -> Result<Expected> {
    let sql = "SELECT id, state, gateway_id, created_at FROM payments WHERE created_at >= $1";
    let rows: Vec<(String, i64, String, DateTime<Utc>)> = settle::with_db!(&app.db, pool =>
        sqlx::query_as(sql).bind(since).fetch_all(pool).await)?;
    let events = "SELECT payment_id, to_state, created_at FROM payment_events WHERE to_state IS NOT NULL ORDER BY id";
    let events: Vec<(String, i64, DateTime<Utc>)> =
        settle::with_db!(&app.db, pool => sqlx::query_as(events).fetch_all(pool).await)?;
    let mut first_final: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for (payment, to, at) in events {
        if [7, 8, 9, 11, 12, 13].contains(&to) {
            let entry = first_final.entry(payment).or_insert(at);
            *entry = (*entry).min(at);
        }
    }
    let (mut per_state, mut per_gateway) = (BTreeMap::new(), BTreeMap::new());
    let (mut succeeded, mut concluded, mut times) = (0, 0, Vec::new());
    for (id, state, gateway, created) in &rows {
        let name = settle::payment::PaymentState::from_code(*state as i16)
            .context("state code")?
            .name()
            .to_owned();
        *per_state.entry(name).or_insert(0) += 1;
        *per_gateway.entry(gateway.clone()).or_insert(0) += 1;
        if ![1, 2, 3, 4, 5].contains(state) {
            concluded += 1;
        }
        if [6, 10, 11, 12].contains(state) {
            succeeded += 1;
        }
        if let Some(end) = first_final.get(id) {
            times.push((*end - *created).num_seconds().max(0));
        }
    }
    times.sort();
    Ok(Expected {
        total: rows.len() as i64,
        per_state,
        per_gateway,
        success_rate: (concluded > 0).then(|| succeeded as f64 / concluded as f64),
        median: nearest_rank(&times, 50),
        p95: nearest_rank(&times, 95),
    })
}

/// The 30-day numbers are the demo history's, recomputed here from its rows.
pub async fn dashboard_numbers_match_the_payments(app: TestApp) -> Result<()> {
    app.log_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/admin").await?;
    for (period, since) in [
        ("30d", Utc::now() - Duration::days(30)),
        ("7d", Utc::now() - Duration::days(7)),
        ("today", Utc::now().date_naive().and_hms_opt(0, 0, 0).context("midnight")?.and_utc()),
    ] {
        let got: Value = dashboard(&app, period).await?.json().await?;
        let want = expected(&app, since).await?;
        ensure(got["period"] == period, format!("period {period}: {}", got["period"]))?;
        ensure(
            got["total"] == want.total,
            format!("{period} total {} vs {}", got["total"], want.total),
        )?;
        let states: BTreeMap<String, i64> = got["by_state"]
            .as_array()
            .context("by_state")?
            .iter()
            .map(|s| {
                (
                    s["state"].as_str().unwrap_or_default().to_owned(),
                    s["count"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        ensure(
            states == want.per_state,
            format!("{period} per state {states:?} vs {:?}", want.per_state),
        )?;
        let gateways: BTreeMap<String, i64> = got["by_gateway"]
            .as_array()
            .context("by_gateway")?
            .iter()
            .map(|g| {
                (
                    g["gateway"].as_str().unwrap_or_default().to_owned(),
                    g["count"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        ensure(gateways == want.per_gateway, format!("{period} per gateway {gateways:?}"))?;
        let rate = got["success_rate"].as_f64();
        ensure(
            match (rate, want.success_rate) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (None, None) => true,
                _ => false,
            },
            format!("{period} success rate {rate:?} vs {:?}", want.success_rate),
        )?;
        ensure(
            got["median_seconds"].as_i64() == want.median
                && got["p95_seconds"].as_i64() == want.p95,
            format!(
                "{period} median/p95 {}/{} vs {:?}/{:?}",
                got["median_seconds"], got["p95_seconds"], want.median, want.p95
            ),
        )?;
        let buckets = got["buckets"].as_array().context("buckets")?;
        let bucketed: i64 = buckets
            .iter()
            .flat_map(|b| b["counts"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c.as_i64())
            .sum();
        ensure(bucketed == want.total, format!("{period} buckets add up to {bucketed}"))?;
        let expected_buckets = match period {
            "30d" => 30..=31,
            "7d" => 7..=8,
            _ => 1..=24,
        };
        ensure(
            expected_buckets.contains(&buckets.len()),
            format!("{period}: {} buckets", buckets.len()),
        )?;
    }
    // The demo's month of history is a few hundred payments in every resting state.
    let month: Value = dashboard(&app, "30d").await?.json().await?;
    ensure(
        month["total"].as_i64().unwrap_or(0) >= 300,
        format!("history total {}", month["total"]),
    )?;
    let states: Vec<&str> = month["by_state"]
        .as_array()
        .context("states")?
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    for state in [
        "CREATED",
        "AWAITING_CUSTOMER",
        "INVOICED",
        "PAYMENT_3DAUTH",
        "PAYMENT_SUCCESS",
        "PAYMENT_FAILED",
        "TERMINAL_ERROR",
        "TIMED_OUT",
        "POLICY_CONVERTED",
        "REFUNDED",
        "CANCELLED",
    ] {
        ensure(states.contains(&state), format!("history has {state}: {states:?}"))?;
    }
    // Stuck: not final, not moved for an hour (the history leaves a few).
    let before = Utc::now() - Duration::hours(1);
    let sql =
        "SELECT COUNT(*) FROM payments WHERE state IN (1, 2, 3, 5, 6, 10) AND updated_at < $1";
    let stuck: i64 = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(before).fetch_one(pool).await)?;
    ensure(
        stuck > 0 && month["stuck_count"] == stuck,
        format!("stuck {} vs {stuck}", month["stuck_count"]),
    )?;
    ensure(
        month["stuck"].as_array().map(Vec::len) == Some(stuck.min(20) as usize),
        "stuck payments are listed",
    )?;
    // An unknown period is the caller's mistake.
    ensure(dashboard(&app, "1y").await?.status() == 400, "unknown period is a 400")?;
    Ok(())
}

/// Webhook deliveries of the period count into the failure rate.
pub async fn webhook_failures_count_into_the_rate(app: TestApp) -> Result<()> {
    app.log_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/admin").await?;
    let before: Value = dashboard(&app, "today").await?.json().await?;
    let merchant =
        settle::merchant::Merchant::by_client_id(&app.db, settle::demo::MERCHANT_CLIENT_ID)
            .await?
            .context("demo merchant")?;
    let now = Utc::now();
    let event = "INSERT INTO webhook_events (merchant_id, kind, subject, created_at, invocation) VALUES ($1, 'payment.failed', 'PAY-TEST', $2, 'FAILED') RETURNING id";
    let id: i64 = settle::with_db!(&app.db, pool =>
        sqlx::query_scalar(event).bind(&merchant.id).bind(now).fetch_one(pool).await)?;
    for (attempt, outcome) in [(1, "FAILED"), (2, "FAILED"), (3, "FAILED"), (4, "SUCCESSFULL")] {
        let sql = "INSERT INTO webhook_attempts (id, event_id, merchant_id, attempt, url, attempted_at, duration_ms, status_code, invocation, pending_webhooks)
                   VALUES ($1, $2, $3, $4, 'https://example.test/hook', $5, 12, 500, $6, 0)";
        settle::with_db!(&app.db, pool => sqlx::query(sql)
            .bind(format!("attempt-{attempt}"))
            .bind(id)
            .bind(&merchant.id)
            .bind(attempt as i64)
            .bind(now)
            .bind(outcome)
            .execute(pool)
            .await
            .map(|_| ()))?;
    }
    let after: Value = dashboard(&app, "today").await?.json().await?;
    let delta =
        |field: &str| after[field].as_i64().unwrap_or(0) - before[field].as_i64().unwrap_or(0);
    ensure(
        delta("webhook_attempts") == 4 && delta("webhook_failures") == 3,
        format!("webhooks {} / {}", after["webhook_failures"], after["webhook_attempts"]),
    )?;
    let page = app.get("/admin?period=today").await?.text().await?;
    ensure(page.contains("Webhook failures") && page.contains("deliveries"), "webhook card shown")?;
    Ok(())
}

/// The page: the period switch, inline SVG charts with titles, the same numbers as tables.
pub async fn dashboard_page_has_charts_and_tables(app: TestApp) -> Result<()> {
    app.log_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/admin").await?;
    let default = app.get("/admin").await?.text().await?;
    ensure(
        default.contains(r#"href="/admin?period=today" aria-current="page""#),
        "today is the default period",
    )?;
    let response = app.get("/admin?period=7d").await?;
    ensure(response.status() == 200, format!("dashboard status {}", response.status()))?;
    let page = response.text().await?;
    ensure(
        page.contains(r#"href="/admin?period=7d" aria-current="page""#),
        "7 days marked current",
    )?;
    ensure(
        !page.contains(r#"href="/admin?period=today" aria-current"#),
        "only one period current",
    )?;
    ensure(page.contains("Payments per day"), "daily chart heading for 7 days")?;
    let svgs = page.matches("<svg").count();
    ensure(svgs >= 2, format!("{svgs} charts"))?;
    ensure(
        page.contains(r#"role="img" aria-labelledby="chart-payments-title""#)
            && page.contains(
                r#"<title id="chart-payments-title">Payments per day, 7 days, by outcome</title>"#,
            ),
        "the payments chart is an image with a title",
    )?;
    ensure(page.contains("<rect"), "the chart draws bars")?;
    ensure(page.contains(r#"id="chart-volume-zar""#), "a volume chart per currency")?;
    // The CSP forbids inline styles: the charts carry their colours as attributes.
    let svg_part = &page[page.find("<svg").unwrap_or(0)..page.rfind("</svg>").unwrap_or(0)];
    ensure(
        !svg_part.contains("style=") && !svg_part.contains("<style"),
        "no inline style in charts",
    )?;
    for table in ["table-per-bucket", "table-states", "table-gateways"] {
        ensure(page.contains(&format!(r#"id="{table}""#)), format!("table {table}"))?;
    }
    ensure(
        page.contains("<caption>Payments per day, 7 days, by outcome</caption>"),
        "table caption",
    )?;
    let today = app.get("/admin?period=today").await?.text().await?;
    ensure(today.contains("Payments per hour"), "hourly chart for today")?;
    // An unknown period in the address falls back to today.
    let odd = app.get("/admin?period=nonsense").await?.text().await?;
    ensure(
        odd.contains(r#"href="/admin?period=today" aria-current="page""#),
        "unknown period → today",
    )?;
    Ok(())
}

/// Customers get 403 on the dashboard and its server function.
pub async fn customers_are_refused_the_dashboard(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    ensure(app.get("/admin?period=30d").await?.status() == 403, "customer gets 403 on /admin")?;
    let api = dashboard(&app, "30d").await?;
    ensure(api.status() == 403, format!("customer calling the dashboard fn: {}", api.status()))?;
    Ok(())
}
