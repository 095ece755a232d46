//! Health, migrations, demo data, static files.

use anyhow::Result;
use serde_json::Value;

use crate::support::{Backend, TestApp, ensure};

pub async fn health_endpoints_report_process_and_database(app: TestApp) -> Result<()> {
    let health = app.client.get(app.url("/healthz")).send().await?;
    ensure(health.status() == 200, "healthz answers 200")?;
    ensure(health.json::<Value>().await?["status"] == "ok", "healthz says ok")?;

    let ready = app.client.get(app.url("/readyz")).send().await?;
    ensure(ready.status() == 200, "readyz answers 200")?;
    let body: Value = ready.json().await?;
    let backend = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    ensure(
        body["status"] == "ready" && body["database"] == backend,
        format!("readyz body {body}"),
    )?;

    let with_id = app.client.get(app.url("/healthz")).send().await?;
    ensure(with_id.headers().contains_key("x-request-id"), "every response carries x-request-id")
}

pub async fn migrations_create_every_table_once(app: TestApp) -> Result<()> {
    let applied = app.db.applied_migrations().await?;
    let dir = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let on_disk = std::fs::read_dir(format!("{}/../migrations/{dir}", env!("CARGO_MANIFEST_DIR")))?
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql")))
        .count();
    ensure(
        applied.len() == on_disk,
        format!("{} migrations applied, {on_disk} on disk", applied.len()),
    )?;
    // Running them again is a no-op.
    app.db.migrate().await?;
    ensure(app.db.applied_migrations().await? == applied, "re-running migrations changes nothing")?;
    for table in [
        "customers",
        "users",
        "login_attempts",
        "merchants",
        "merchant_return_origins",
        "api_tokens",
        "gateways",
        "products",
        "product_gateways",
        "payment_methods",
        "services",
        "purchases",
        "purchase_lines",
    ] {
        settle::with_db!(&app.db, pool => sqlx::query(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(pool).await.map(|_| ()))
            .map_err(|e| anyhow::anyhow!("table {table}: {e}"))?;
    }
    Ok(())
}

pub async fn demo_world_is_loaded_on_first_start(app: TestApp) -> Result<()> {
    use settle::demo;
    let policy = settle::service::Service::find_by_reference(&app.db, demo::POLICY_NUMBER).await?;
    ensure(policy.is_some_and(|p| p.status == "quoted"), "the demo policy awaits checkout")?;
    let isp = settle::service::Service::find_by_reference(&app.db, demo::ISP_SERVICE_ID).await?;
    let isp = isp.ok_or_else(|| anyhow::anyhow!("the demo ISP service exists"))?;
    ensure(
        isp.billing_status == settle::service::BillingStatus::InArrears,
        "the ISP service is in arrears",
    )?;
    ensure(isp.active_payment_method_id.is_some(), "the ISP service has a saved card")?;
    let products = settle::product::Product::list(&app.db).await?;
    use settle::product::BillingKind;
    ensure(
        products.iter().any(|p| p.billing_kind == BillingKind::DayBundle),
        "a day-bundle product",
    )?;
    ensure(
        products.iter().any(|p| p.billing_kind == BillingKind::RecurringMonthly),
        "a recurring product",
    )?;
    let sources =
        settle::purchase_source::PurchaseSource::list(&app.db, Some(demo::DEMO_COLLECTOR_ID), true)
            .await?;
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    ensure(
        names == ["Cash", "EFT", "Payment Link", "Shop 2 Shop", "Yoco"],
        format!("seed 004's purchase sources: {names:?}"),
    )?;
    ensure(
        settle::purchase_source::PurchaseSource::list(&app.db, Some("another-collector"), true)
            .await?
            .is_empty(),
        "another collector's sources are not listed",
    )?;
    // Loading twice is refused rather than mixing demo and real records.
    ensure(
        settle::demo::load(&app.db).await.is_err(),
        "demo data loads only into an empty database",
    )
}

pub async fn unknown_pages_are_404_pages(app: TestApp) -> Result<()> {
    let response = app.get("/no/such/page").await?;
    ensure(response.status() == 404, format!("status {}", response.status()))?;
    ensure(response.text().await?.contains("Page not found"), "the 404 page explains itself")
}

pub async fn static_files_are_served(app: TestApp) -> Result<()> {
    let css = app.client.get(app.url("/style/settle.css")).send().await?;
    ensure(css.status() == 200, "stylesheet served")?;
    ensure(
        css.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/css")),
        "stylesheet is text/css",
    )?;
    let icon = app.client.get(app.url("/favicon.svg")).send().await?;
    ensure(icon.status() == 200, "favicon served")
}
