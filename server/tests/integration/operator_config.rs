//! The operator's product configuration, as a browser without script uses it: products and
//! billing schemes created and edited with a message per field, options and gateway order,
//! changes that apply to new purchases only, every change audited; customers refused.

use anyhow::{Context, Result};
use settle::demo::{
    CUSTOMER_EMAIL, CUSTOMER_PASSWORD, LTE_7_DAY_PRICE_ID, LTE_SERVICE_ID, OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
};

use crate::support::{TestApp, ensure};

/// The operator's pages.
pub const PAGES: &[&str] = &[
    "/operator",
    "/operator/products",
    "/operator/products/LTE-DAY",
    "/operator/gateways",
    "/operator/gateways/peach-zar",
    "/operator/purchase-sources",
];

/// The operator's server functions.
pub const SERVER_FNS: &[&str] = &[
    "configuration",
    "products",
    "product_create",
    "product",
    "product_update",
    "product_option_add",
    "product_option_remove",
    "product_gateways",
    "gateways",
    "gateway_create",
    "gateway",
    "gateway_update",
    "purchase_sources",
    "purchase_source_add",
    "purchase_source_enable",
];

/// Another browser on the same server.
pub fn second_browser(app: &TestApp) -> TestApp {
    TestApp {
        base: app.base.clone(),
        client: app.new_client(),
        db: app.db.clone(),
        backend: app.backend,
        state: app.state.clone(),
    }
}

/// A product form with every field, as the create page posts it (a day-bundle product).
fn new_product(code: &str, name: &str) -> Vec<(String, String)> {
    [
        ("code", code),
        ("name", name),
        ("merchant_id", ""),
        ("service_kind", "isp"),
        ("billing_kind", "day_bundle"),
        ("currency", "ZAR"),
        ("unit_price", "5.00"),
        ("tax_rate", "15"),
        ("collection_day", ""),
        ("invoice_activation", "on_payment"),
        ("kind_card", "on"),
        ("recharge_days_before", "2"),
        ("months_ahead_limit", "12"),
        ("accepts_immediate_payments", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn set(form: &mut Vec<(String, String)>, name: &str, value: &str) {
    form.retain(|(k, _)| k != name);
    form.push((name.to_owned(), value.to_owned()));
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub async fn products_are_created_and_edited_with_a_message_per_field(app: TestApp) -> Result<()> {
    app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    let start = app.page_html("/operator").await?;
    for link in ["/operator/products", "/operator/gateways", "/operator/purchase-sources"] {
        ensure(
            start.contains(&format!("href=\"{link}\"")),
            format!("the start page links {link}"),
        )?;
    }
    let list = app.page_html("/operator/products").await?;
    ensure(list.contains("LTE-DAY") && list.contains("New product"), "the list and the form")?;

    // Five wrong fields: five messages in words, the values entered kept, nothing created.
    let mut bad = new_product("WIFI-DAY", "");
    set(&mut bad, "unit_price", "ten");
    set(&mut bad, "tax_rate", "150");
    set(&mut bad, "billing_kind", "recurring_monthly");
    bad.retain(|(k, _)| k != "kind_card");
    let (back, html) = app.post_follow("/operator/api/product_create", &pairs(&bad)).await?;
    ensure(back == "/operator/products", format!("back to the list: {back}"))?;
    for words in [
        "Please correct the 5 details marked below",
        "Name is required",
        "Unit price (excluding tax) must be an amount such as 329.70, in ZAR",
        "Tax rate (%) must be between 0 and 100 percent",
        "Accepted payment methods needs at least one way to pay",
        "Collection day is required for a recurring product",
    ] {
        ensure(html.contains(words), format!("the page says {words:?}"))?;
    }
    ensure(html.matches("aria-invalid=\"true\"").count() >= 4, "the fields are marked invalid")?;
    ensure(html.contains("value=\"WIFI-DAY\""), "the code entered is kept")?;
    ensure(
        settle::product_config::store::find_by_code(&app.db, "WIFI-DAY").await?.is_none(),
        "nothing was created",
    )?;
    // The message is shown once: the next visit has a clean form.
    let again = app.page_html("/operator/products").await?;
    ensure(!again.contains("Name is required"), "the kept form is read once")?;

    // A good form creates it and opens its page.
    let good = new_product("WIFI-DAY", "Wi-Fi Day Pass");
    let (page, html) = app.post_follow("/operator/api/product_create", &pairs(&good)).await?;
    ensure(page == "/operator/products/WIFI-DAY", format!("to its page: {page}"))?;
    ensure(html.contains("Wi-Fi Day Pass") && html.contains("flash success"), "created")?;
    let (_, html) = app.post_follow("/operator/api/product_create", &pairs(&good)).await?;
    ensure(
        html.contains("Code WIFI-DAY is already a product&#x27;s code")
            || html.contains("WIFI-DAY is already a product"),
        "a code is used once",
    )?;

    // An option: wrong quantities are named, a good one is listed.
    let option = |min: &'static str, max: &'static str| {
        vec![
            ("product", "WIFI-DAY"),
            ("line_type", "1"),
            ("description", "1 Day pass"),
            ("option_price", "5.00"),
            ("period_per_quantity", "1"),
            ("min_quantity", min),
            ("max_quantity", max),
        ]
    };
    let (_, html) = app.post_follow("/operator/api/product_option_add", &option("5", "2")).await?;
    ensure(html.contains("Most quantities at once quantities run from at least 1"), "quantities")?;
    let (_, html) = app.post_follow("/operator/api/product_option_add", &option("1", "30")).await?;
    ensure(html.contains("1 Day pass") && html.contains("1 to 30"), "the option is listed")?;

    // Gateways in order: an unknown key is named; a good order is what routing follows.
    let (_, html) = app
        .post_follow(
            "/operator/api/product_gateways",
            &[("product", "WIFI-DAY"), ("gateways", "peach-zar, nope")],
        )
        .await?;
    ensure(html.contains("nope is not a configured gateway"), "an unknown gateway is named")?;
    app.post_follow(
        "/operator/api/product_gateways",
        &[("product", "WIFI-DAY"), ("gateways", "payfast-zar, peach-zar")],
    )
    .await?;
    let product = settle::product_config::store::find_by_code(&app.db, "WIFI-DAY")
        .await?
        .context("the product")?;
    let order: Vec<String> = settle::gateway::Gateway::for_product(&app.db, &product.id)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    ensure(order == ["payfast-zar", "peach-zar"], format!("routing order: {order:?}"))?;

    // Edit: a wrong value is named on the edit page; a good one is saved.
    let mut edit = new_product("", "Wi-Fi Day Pass");
    set(&mut edit, "product", "WIFI-DAY");
    set(&mut edit, "months_ahead_limit", "0");
    let (back, html) = app.post_follow("/operator/api/product_update", &pairs(&edit)).await?;
    ensure(back == "/operator/products/WIFI-DAY", format!("back to its page: {back}"))?;
    ensure(
        html.contains("Months ahead a service may be paid must be a whole number from 1 to 120"),
        "the months-ahead limit is named",
    )?;
    set(&mut edit, "months_ahead_limit", "3");
    set(&mut edit, "unit_price", "6.50");
    let (_, html) = app.post_follow("/operator/api/product_update", &pairs(&edit)).await?;
    ensure(html.contains("purchases already made keep theirs"), "saved")?;
    let product = settle::product_config::store::find_by_code(&app.db, "WIFI-DAY")
        .await?
        .context("the product")?;
    ensure(product.unit_price.minor() == 650, "the new unit price is stored")?;

    // Every change is in the audit log, with who made it.
    let audit = app.audit_of("product:WIFI-DAY").await?;
    let actions: Vec<&str> = audit.iter().map(|(a, _, _)| a.as_str()).collect();
    ensure(
        actions == ["product.create", "product.option.add", "product.gateways", "product.update"],
        format!("audited: {actions:?}"),
    )?;
    ensure(audit.iter().all(|(_, who, _)| who == OPERATOR_EMAIL), "by the operator")?;
    ensure(audit[3].2.contains("unit price ZAR 6.50"), format!("the detail: {}", audit[3].2))
}

pub async fn a_product_change_applies_to_new_purchases_only(app: TestApp) -> Result<()> {
    let customer = second_browser(&app);
    customer.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let buy = [("service", LTE_SERVICE_ID), ("option", LTE_7_DAY_PRICE_ID), ("quantity", "3")];
    let (before, html) = customer.post_follow("/account/api/service_buy", &buy).await?;
    ensure(html.contains("Pay ZAR 34.50"), "3 × 10.00 + 15 % tax before the change")?;

    // The operator lowers the tax rate.
    app.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    let lte = settle::product_config::store::view(&app.db, "LTE-DAY").await?.context("LTE-DAY")?;
    let p = &lte.scheme.product;
    let merchant = p.merchant_id.as_ref().map(ToString::to_string).unwrap_or_default();
    let mut form = new_product("", &p.name);
    set(&mut form, "product", "LTE-DAY");
    set(&mut form, "merchant_id", &merchant);
    set(&mut form, "unit_price", "10.00");
    set(&mut form, "tax_rate", "10");
    set(&mut form, "auto_recharge", if p.auto_recharge { "on" } else { "" });
    let (_, html) = app.post_follow("/operator/api/product_update", &pairs(&form)).await?;
    ensure(html.contains("flash success"), "saved")?;

    // The purchase made before keeps its price; a new one has the new tax.
    let html = customer.page_html(&before).await?;
    ensure(html.contains("Pay ZAR 34.50"), "the earlier quote keeps its price")?;
    let (after, html) = customer.post_follow("/account/api/service_buy", &buy).await?;
    ensure(after != before, "a new purchase")?;
    ensure(
        html.contains("ZAR 3.00") && html.contains("Pay ZAR 33.00"),
        "the new purchase has 10 % tax",
    )?;
    let audit = app.audit_of("product:LTE-DAY").await?;
    ensure(
        audit.iter().any(|(a, _, d)| a == "product.update" && d.contains("tax 10")),
        format!("audited: {audit:?}"),
    )
}

pub async fn customers_get_403_on_every_operator_page_and_function(app: TestApp) -> Result<()> {
    let count = "SELECT COUNT(*) FROM audit_log";
    let before: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    for path in PAGES {
        let status = app.get(path).await?.status();
        ensure(status == 403, format!("customer on {path}: {status}"))?;
    }
    for name in SERVER_FNS {
        let path = format!("/operator/api/{name}");
        let json =
            app.client.post(app.url(&path)).header("accept", "application/json").send().await?;
        ensure(json.status() == 403, format!("customer calling {path}: {}", json.status()))?;
        // A form posted without script is refused too, and changes nothing.
        let form = app.post_form(&path, &[("name", "Hacked"), ("product", "LTE-DAY")]).await?;
        ensure(
            form.status() == 403 || form.status().is_redirection(),
            format!("customer posting {path}: {}", form.status()),
        )?;
    }
    let lte =
        settle::product_config::store::find_by_code(&app.db, "LTE-DAY").await?.context("LTE")?;
    ensure(lte.name == "LTE Day Bundle", "nothing changed")?;
    let after: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    ensure(after == before, format!("nothing audited: {before} → {after}"))?;

    // The operator's pages all render for the operator.
    let operator = second_browser(&app);
    operator.log_in(OPERATOR_EMAIL, OPERATOR_PASSWORD, "/operator").await?;
    for path in PAGES {
        operator.page_html(path).await?;
    }
    Ok(())
}
