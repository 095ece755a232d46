//! Seed 004 (the customer pay-now flow), the read-only calls as the document makes them to
//! populate the Pay Now screen: all valid mediums, the service's details and actions, its
//! active medium, and the purchase sources for off-system allocations. Paying is not built yet.

use anyhow::{Context, Result};
use chrono::DateTime;
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{ADD_NEW_METHOD_ID, DEMO_COLLECTOR_ID, ISP_SERVICE_ID};
use settle::purchase::Purchase;
use settle::service::Service;

use crate::support::{TestApp, ensure};

/// The demo customer's id, the `userId` the document passes.
async fn user_id(app: &TestApp) -> Result<String> {
    Ok(settle::demo::customer(&app.db).await?.id.to_string())
}

/// A JSON number exactly as written (`329.70`, not `329.7`).
fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A time as the document writes it: ISO 8601 with an offset.
fn is_iso_with_offset(value: &Value) -> bool {
    value.as_str().is_some_and(|t| DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with("+00:00"))
}

pub async fn valid_mediums_end_with_add_new_payment_method(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let user = user_id(&app).await?;
    let mediums = app.get_ok(&token, &format!("/payment-mediums?userId={user}")).await?;
    let mediums = mediums.as_array().context("a list of mediums")?;
    let types: Vec<&str> = mediums.iter().filter_map(|m| m["medium_type"].as_str()).collect();
    // The ISP's card, payment link and off-system mediums, seed 002's card and bank account,
    // then the global one.
    ensure(
        types.starts_with(&["CreditCard", "PaymentLink", "OffSystem"])
            && types.contains(&"BankAccount")
            && types.last() == Some(&"ProviderSelectedOpaque"),
        format!("the customer's valid mediums, then the global one: {mediums:?}"),
    )?;
    // The global medium, exactly as the document's example response shows it.
    let add_new = json!({
        "medium_detail_id": ADD_NEW_METHOD_ID,
        "medium_type": "ProviderSelectedOpaque",
        "bank_account": "Add new payment method",
        "account_nr_partial": null,
        "is_linked": false,
        "medium_status": "Valid"
    });
    let last = mediums.last().context("the global medium")?;
    ensure(*last == add_new, format!("the global medium: {last}"))?;
    let card = &mediums[0];
    ensure(
        card["bank_account"] == "test 4242"
            && card["account_nr_partial"] == "4242"
            && card["is_linked"] == true
            && card["medium_status"] == "Valid"
            && uuid::Uuid::parse_str(card["medium_detail_id"].as_str().unwrap_or("")).is_ok(),
        format!("the saved card: {card}"),
    )?;

    // The merchant selling the services sees the same list; another merchant's token finds no
    // such customer.
    let merchant = app.merchant_token().await?;
    let seen = app.get_ok(&merchant, &format!("/payment-mediums?userId={user}")).await?;
    ensure(seen.as_array() == Some(mediums), format!("the merchant's view: {seen}"))?;
    let other = app.other_merchant().await?;
    let path = format!("/payment-mediums?userId={user}");
    let hidden = app.call(Method::GET, &path, Some(&other), None, None).await?;
    ensure(hidden.status == 404, format!("another merchant: {hidden:?}"))?;

    // Without a token: the document's 401 problem object.
    let anonymous =
        app.call(Method::GET, &format!("/payment-mediums?userId={user}"), None, None, None).await?;
    ensure(anonymous.status == 401, format!("no token: {anonymous:?}"))?;
    let problem = &anonymous.body;
    ensure(
        problem["type"] == "https://tools.ietf.org/html/rfc7235#section-3.1"
            && problem["title"] == "Unauthorized"
            && problem["status"] == 401
            && problem["detail"].is_string()
            && problem["instance"] == "/payment-mediums",
        format!("the 401 problem: {problem}"),
    )?;
    // Without a userId: a 400 problem naming it.
    let missing = app.call(Method::GET, "/payment-mediums", Some(&token), None, None).await?;
    ensure(
        missing.status == 400
            && missing.body["instance"] == "/payment-mediums"
            && missing.body["detail"].as_str().is_some_and(|d| d.contains("userId")),
        format!("no userId: {missing:?}"),
    )
}

pub async fn details_and_actions_of_a_service_in_arrears(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    // The document mixes the id's case: both spellings find the service.
    let path = format!("/services/{}/details-and-actions", ISP_SERVICE_ID.to_lowercase());
    let details = app.get_ok(&token, &path).await?;
    ensure(
        details["service_id"] == ISP_SERVICE_ID
            && details["service_status"] == "Active"
            && details["service_status_category"] == "ActiveStatuses"
            && details["collector_id"] == DEMO_COLLECTOR_ID
            && details["service_type"] == "Recurring"
            && details["billing_status"] == "InArrears"
            && details["collection_day"] == 15
            && is_iso_with_offset(&details["latest_period_end_date"])
            && details["suspension_date"].is_null()
            && details["can_buy_info"].is_null()
            && details["last_purchase_is_pending"] == false
            && details["on_network_date"].is_null()
            && uuid::Uuid::parse_str(details["plan_id"].as_str().unwrap_or("")).is_ok(),
        format!("the service's details: {details}"),
    )?;
    let upper_path = format!("/services/{ISP_SERVICE_ID}/details-and-actions");
    let upper = app.get_ok(&token, &upper_path).await?;
    ensure(upper == details, "the upper-case id answers the same")?;

    // Its mediums, in the document's shape, the global one last.
    let mediums = details["mediums"].as_array().context("mediums")?;
    let user = user_id(&app).await?;
    let card = &mediums[0];
    ensure(
        card["customer_id"] == user.as_str()
            && card["medium_type"] == "CreditCard"
            && card["medium_status"] == "Valid"
            && card["account_name"] == "test 4242"
            && card["account_number"] == "4242"
            && is_iso_with_offset(&card["created_date"]),
        format!("the card medium: {card}"),
    )?;
    ensure(
        mediums[1]["medium_type"] == "PaymentLink" && mediums[1]["account_number"] == "",
        "link",
    )?;
    ensure(
        mediums[2]["medium_type"] == "OffSystem" && mediums[2]["account_number"].is_null(),
        "off",
    )?;
    let global = mediums.last().context("the global medium")?;
    ensure(
        global["medium_detail_id"] == ADD_NEW_METHOD_ID
            && global["customer_id"].is_null()
            && global["medium_type"] == "ProviderSelectedOpaque"
            && global["account_name"] == "Add new payment method"
            && global["account_number"].is_null()
            && global["external_reference"].as_str().is_some_and(|r| r.starts_with("Global ")),
        format!("the global medium: {global}"),
    )?;

    // What must be paid: the arrears purchase with its line, amounts as decimals.
    let must_pay = &details["must_pay_info"];
    ensure(must_pay["must_pay"] == true, format!("must pay: {must_pay}"))?;
    let arrears = &must_pay["arrears_purchase"];
    ensure(
        arrears["service_id"] == ISP_SERVICE_ID
            && arrears["amount_excl"] == number("329.70")
            && arrears["purchase_status_id"] == 3
            && arrears["medium_id"] == card["medium_detail_id"]
            && arrears["period_applied"] == false
            && is_iso_with_offset(&arrears["purchase_date"]),
        format!("the arrears purchase: {arrears}"),
    )?;
    let amount = |v: &Value| v.to_string().parse::<rust_decimal::Decimal>();
    ensure(
        amount(&arrears["amount"])?
            == amount(&arrears["amount_excl"])? + amount(&arrears["tax_amount"])?,
        format!("amount = excl + tax: {arrears}"),
    )?;
    let lines = arrears["purchase_lines"].as_array().context("lines")?;
    let line = &lines[0];
    ensure(
        lines.len() == 1
            && line["purchase_id"] == arrears["id"]
            && line["purchase_line_type_id"] == 2
            && line["quantity"] == 1
            && line["period_contribution_per_quantity"] == 1
            && line["amount_per_quantity"] == number("329.70")
            && line["tax_rate"].to_string().starts_with("15")
            && line["total_amount"] == arrears["amount"],
        format!("the arrears line: {line}"),
    )?;

    // Paid up (nothing open any more): must_pay_info is null.
    let service = Service::find_by_reference(&app.db, ISP_SERVICE_ID).await?.context("service")?;
    for open in Purchase::open_for_service(&app.db, &service.id).await? {
        Purchase::cancel_if_unpaid(&app.db, &open.id).await?;
    }
    let now = app.get_ok(&token, &path).await?;
    ensure(now["must_pay_info"].is_null(), format!("nothing owed: {now}"))?;

    // Another merchant and another customer find no such service.
    let other = app.other_merchant().await?;
    let stranger = app.other_customer().await?;
    for (who, token) in [("another merchant", other), ("another customer", stranger.token)] {
        let answer = app.call(Method::GET, &path, Some(&token), None, None).await?;
        ensure(
            answer.status == 404 && answer.body["instance"] == path.as_str(),
            format!("{who}: {answer:?}"),
        )?;
    }
    Ok(())
}

pub async fn active_medium_and_purchase_sources(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let active = app
        .get_ok(&token, &format!("/active-payment-medium-for-service?serviceId={ISP_SERVICE_ID}"))
        .await?;
    ensure(
        active["medium_type"] == "CreditCard" && active["account_name"] == "test 4242",
        format!("the active medium is the saved card: {active}"),
    )?;
    let other = app.other_merchant().await?;
    let path = format!("/active-payment-medium-for-service?serviceId={ISP_SERVICE_ID}");
    let hidden = app.call(Method::GET, &path, Some(&other), None, None).await?;
    ensure(hidden.status == 404, format!("another merchant: {hidden:?}"))?;

    // The off-system channels of the demo collector, by GET and by POST as the document does.
    let expected = json!([
        { "id": "95bfcea4-7fa6-494a-8def-11fd940763da", "name": "Cash" },
        { "id": "73a0f701-6a19-4146-ae90-2af6c1f14c7a", "name": "EFT" },
        { "id": "e8cc35b7-192c-412e-9f1f-755c9835a0e8", "name": "Payment Link" },
        { "id": "45eccc98-3247-43c9-a398-3c3c2c5ad39d", "name": "Shop 2 Shop" },
        { "id": "906e5f88-6c5e-4a30-8044-74f8549632bc", "name": "Yoco" }
    ]);
    let path = format!("/purchases/sources?collectorId={DEMO_COLLECTOR_ID}&offSystem=true");
    let listed = app.get_ok(&token, &path).await?;
    ensure(listed == expected, format!("purchase sources: {listed}"))?;
    let posted = app.call(Method::POST, &path, Some(&token), None, None).await?;
    ensure(posted.status == 200 && posted.body == expected, format!("by POST: {posted:?}"))?;
    let path = format!("/purchases/sources?collectorId={DEMO_COLLECTOR_ID}&offSystem=maybe");
    let refused = app.call(Method::GET, &path, Some(&token), None, None).await?;
    ensure(
        refused.status == 400
            && refused.body["type"] == "https://tools.ietf.org/html/rfc7231#section-6.5.1"
            && refused.body["instance"] == "/purchases/sources",
        format!("a bad offSystem: {refused:?}"),
    )
}
