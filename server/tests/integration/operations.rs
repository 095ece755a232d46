//! Operations: `/metrics` after a payment (every listed series), `/metrics` closed in
//! production, unknown configuration keys refused at start, the SQLite file named in the log,
//! and `settle-server demo-data --reset`.

use std::time::Duration;

use anyhow::{Context, Result};
use settle::payment::{Payment, PaymentState};

use crate::support::process::{Scratch, run_to_end};
use crate::support::receiver::Receiver;
use crate::support::{Backend, TestApp, TestDatabase, ensure, eventually, start_app};

/// Whether the scrape has a sample of `name` whose labels include each of `labels`.
fn has_series(scrape: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    scrape.lines().any(|line| {
        let Some(rest) = line.strip_prefix(name) else { return false };
        (rest.starts_with('{') || rest.starts_with(' '))
            && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
    })
}

async fn scrape(app: &TestApp) -> Result<String> {
    let response = app.new_client().get(app.url("/metrics")).send().await?;
    let status = response.status();
    let content_type = crate::support::content_type(&response);
    let body = response.text().await?;
    ensure(status == 200, format!("/metrics answered {status}: {body}"))?;
    ensure(content_type.starts_with("text/plain"), format!("content type {content_type}"))?;
    Ok(body)
}

pub async fn metrics_show_every_series_after_a_card_payment(app: TestApp) -> Result<()> {
    let receiver = Receiver::start().await?;
    let token = app.merchant_token().await?;
    let answer = app.set_webhook_endpoint(&token, &receiver.url(), None).await?;
    ensure(answer.status < 300, format!("webhook endpoint: {answer:?}"))?;

    let paid = app.paid_card_payment().await?;
    eventually("the policy is converted", Duration::from_secs(15), || async {
        let now = Payment::find(&app.db, &paid.id).await?.context("payment")?;
        Ok(now.state == PaymentState::PolicyConverted)
    })
    .await?;
    receiver.wait_until("a webhook delivery", Duration::from_secs(15), |r| !r.is_empty()).await?;
    // A status query for a payment the acquirer never saw: a gateway error (404).
    let card = app.state.payments.connector("sagepay-gbp")?;
    ensure(card.query_status("NO-SUCH-PAYMENT").await.is_err(), "an unknown payment is an error")?;
    app.new_client().get(app.url("/healthz")).send().await?;
    app.new_client().get(app.url("/no/such/page-7f3a")).send().await?;

    // Webhook outcomes are recorded after the delivery's transaction; sweeps run every second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = scrape(&app).await?;
        let ready = has_series(&text, "settle_webhook_deliveries_total", &[("outcome", "success")])
            && has_series(&text, "settle_reconcile_sweeps_total", &[]);
        if ready || tokio::time::Instant::now() >= deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let card = ("gateway", "sagepay-gbp");
    let converted = ("state", "POLICY_CONVERTED");
    for (name, labels) in [
        ("settle_http_requests_total", vec![("route", "/healthz"), ("status", "200")]),
        ("settle_http_requests_total", vec![("route", "unmatched"), ("status", "404")]),
        ("settle_http_request_duration_seconds_bucket", vec![("route", "/healthz")]),
        ("settle_payments_final_total", vec![card, converted]),
        ("settle_payment_time_to_final_seconds_bucket", vec![card, converted]),
        ("settle_payment_time_to_final_seconds_count", vec![card, converted]),
        ("settle_gateway_call_duration_seconds_bucket", vec![card, ("outcome", "ok")]),
        ("settle_gateway_call_errors_total", vec![card, ("error", "refused")]),
        ("settle_reconcile_sweeps_total", vec![]),
        ("settle_reconcile_payments_total", vec![("result", "settled")]),
        ("settle_job_queue_depth", vec![]),
        ("settle_job_queue_oldest_age_seconds", vec![]),
        ("settle_webhook_deliveries_total", vec![("outcome", "success")]),
    ] {
        ensure(has_series(&text, name, &labels), format!("no {name} {labels:?} in:\n{text}"))?;
    }
    ensure(!text.contains("page-7f3a"), "a raw path became a label")?;
    ensure(text.contains("# HELP settle_payments_final_total"), "series are described")?;
    Ok(())
}

pub async fn metrics_are_closed_in_production(database: TestDatabase) -> Result<()> {
    let token = "metrics-token-0123456789abcdef";
    let production = [("mode", serde_json::json!("production"))];
    let with_token = [production[0].clone(), ("metrics_token", serde_json::json!(token))];
    let server = start_app(&database, &with_token).await?;
    let app = &server.app;
    let url = app.url("/metrics");
    let anonymous = app.new_client().get(&url).send().await?;
    ensure(anonymous.status() == 401, format!("no token: {}", anonymous.status()))?;
    ensure(anonymous.headers().contains_key("www-authenticate"), "a bearer challenge")?;
    let wrong = app.new_client().get(&url).bearer_auth("not-the-token").send().await?;
    ensure(wrong.status() == 401, format!("wrong token: {}", wrong.status()))?;
    let right = app.new_client().get(&url).bearer_auth(token).send().await?;
    ensure(right.status() == 200, format!("the token: {}", right.status()))?;
    ensure(right.text().await?.contains("settle_http_requests_total"), "the series")?;
    server.stop().await;

    // Without a token, production answers local clients only, and nothing a proxy forwarded.
    let server = start_app(&database, &production).await?;
    let app = &server.app;
    let url = app.url("/metrics");
    let local = app.new_client().get(&url).send().await?;
    ensure(local.status() == 200, format!("a local client: {}", local.status()))?;
    let proxied =
        app.new_client().get(&url).header("x-forwarded-for", "203.0.113.9").send().await?;
    ensure(proxied.status() == 403, format!("a proxied client: {}", proxied.status()))?;
    server.stop().await;
    Ok(())
}

/// Runs `settle-server {args}` on `database` with `env` over it, to its end.
async fn settle_server(
    scratch: &Scratch,
    database: &TestDatabase,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<(bool, String)> {
    let mut all = vec![("DATABASE_URL", database.url.clone())];
    all.extend(env.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let name = format!("run-{}", uuid::Uuid::new_v4().simple());
    run_to_end(scratch, &name, args, &all).await
}

pub async fn unknown_settings_stop_the_server_naming_them(database: TestDatabase) -> Result<()> {
    let scratch = Scratch::new("config")?;
    // A misspelt key in the file.
    let file = scratch.dir.join("settle.toml");
    std::fs::write(&file, "databse_max_connections = 3\n")?;
    let (ok, log) = settle_server(&scratch, &database, &["migrate"], &[]).await?;
    ensure(!ok && log.contains("unknown setting `databse_max_connections`"), log)?;
    std::fs::remove_file(&file)?;
    // A `SETTLE_` variable that names no setting.
    let (ok, log) =
        settle_server(&scratch, &database, &["migrate"], &[("SETTLE_FROBNICATE", "1")]).await?;
    ensure(!ok && log.contains("`frobnicate`") && log.contains("SETTLE_FROBNICATE"), log)?;
    // The harnesses' and the command line's own variables are not settings.
    let others = [
        ("SETTLE_TEST_POSTGRES_URL", "postgres://nowhere/none"),
        ("SETTLE_BENCH_POSTGRES_URL", "postgres://nowhere/none"),
        ("SETTLE_TEST_KEEP_LOGS", "1"),
        ("SETTLE_NEW_USER_PASSWORD", "unused"),
        ("SETTLE_BASE_URL", "http://127.0.0.1:3000"),
    ];
    let (ok, log) = settle_server(&scratch, &database, &["migrate"], &others).await?;
    ensure(ok && log.contains("migrations applied"), log.clone())?;
    // The SQLite file in use is named in the log, as an absolute path.
    if database.backend == Backend::Sqlite {
        let path = database.url.trim_start_matches("sqlite://");
        ensure(log.contains("SQLite database file") && log.contains(path), log)?;
    }
    Ok(())
}

/// How many logins and audit entries the database has, and whether `email` is a login.
async fn users(db: &settle::Db, email: &str) -> Result<(i64, i64, bool)> {
    let count = "SELECT COUNT(*) FROM users";
    let n: i64 = settle::with_db!(db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    let audit = "SELECT COUNT(*) FROM audit_log";
    let entries: i64 =
        settle::with_db!(db, pool => sqlx::query_scalar(audit).fetch_one(pool).await)?;
    let find = "SELECT COUNT(*) FROM users WHERE email = $1";
    let found: i64 =
        settle::with_db!(db, pool => sqlx::query_scalar(find).bind(email).fetch_one(pool).await)?;
    Ok((n, entries, found > 0))
}

pub async fn demo_data_reset_makes_a_fresh_demo(database: TestDatabase) -> Result<()> {
    const EXTRA: &str = "extra@settle.test";
    let scratch = Scratch::new("demo-reset")?;
    let (ok, log) = settle_server(&scratch, &database, &["demo-data"], &[]).await?;
    ensure(ok, format!("demo-data: {log}"))?;
    let db = settle::Db::connect(&database.url, 2).await?;
    let (logins, entries, _) = users(&db, EXTRA).await?;
    let demo = (logins, entries, false);
    let with_extra = (logins + 1, entries + 1, true);
    // Something that is not the demo's, and an entry in the append-only audit log.
    let extra = [("SETTLE_NEW_USER_PASSWORD", "an extra password 1")];
    let args = ["create-user", "--role", "admin", "--email", EXTRA];
    let (ok, log) = settle_server(&scratch, &database, &args, &extra).await?;
    ensure(ok, format!("create-user: {log}"))?;
    ensure(users(&db, EXTRA).await? == with_extra, "the extra user exists, audited")?;

    let production = [("SETTLE_MODE", "production")];
    let reset = ["demo-data", "--reset"];
    let (ok, log) = settle_server(&scratch, &database, &reset, &production).await?;
    ensure(!ok && log.contains("--force"), format!("production without --force: {log}"))?;
    ensure(users(&db, EXTRA).await? == with_extra, "nothing was emptied")?;

    let (ok, log) = settle_server(&scratch, &database, &reset, &[]).await?;
    ensure(ok && log.contains("demo data loaded"), format!("--reset: {log}"))?;
    let now = users(&db, EXTRA).await?;
    ensure(now == demo, format!("only the demo is left: {now:?}, expected {demo:?}"))?;
    let forced = ["demo-data", "--reset", "--force"];
    let (ok, log) = settle_server(&scratch, &database, &forced, &production).await?;
    ensure(ok, format!("production with --force: {log}"))?;
    ensure(users(&db, EXTRA).await? == demo, "the demo alone again")?;
    db.close().await;
    Ok(())
}
