//! Seed 004's buy now and configuration calls, as the document makes them: `can_buy_info` in a
//! service's details and actions, `POST /purchases/buy-now` with the document's two payloads
//! (only ids changed), the billing scheme of a product, the operator's rules and the default
//! provider per medium type. Settle prices every line itself; a client's figure that disagrees
//! is refused with Settle's.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{
    FIBRE_DAILY_PRICE_ID, FIBRE_MONTHLY_PRICE_ID, FIBRE_PAID_UP_SERVICE_ID, ISP_SERVICE_ID,
    LTE_7_DAY_PRICE_ID, LTE_30_DAY_PRICE_ID, LTE_SERVICE_ID, RECHARGE_CARD_ID,
};
use settle::purchase::{LineType, Purchase, PurchaseId, PurchaseStatus};
use settle::service::Service;

use crate::api_client::Answer;
use crate::support::{TestApp, ensure, eventually};

/// A JSON number exactly as written (`30.00`, not `30`).
fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The document's day-bundle payload, with the demo's service.
fn seven_day_bundles(quantity: i64) -> Value {
    json!({
        "service_id": LTE_SERVICE_ID,
        "purchase_lines": [
            {
                "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                "purchase_line_type_id": 1,
                "description": "7 Day bundle",
                "total_amount": 34.50,
                "amount_per_quantity": 10,
                "net_amount_excl": 30,
                "tax_rate": 15,
                "tax_amount": 4.50,
                "quantity": quantity,
                "period_contribution_per_quantity": 7,
                "product_price_id": LTE_7_DAY_PRICE_ID
            }
        ],
        "customer_statement_ref": "string",
        "purchase_date": "2024-06-06T11:00:31.338Z"
    })
}

/// The document's months-ahead payload (79 days of Monthly Recurring 20/10), with the demo's
/// service and the given figures.
fn seventy_nine_days(total: Value, excl: Value, tax: Value) -> Value {
    json!({
        "customer_statement_ref": "",
        "purchase_date": "2024-11-26T09:33:07.601Z",
        "purchase_lines": [
            {
                "description": "Monthly Recurring 20/10",
                "amount_per_quantity": 10.985506666666668,
                "amount_per_quantity_incl": 12.633333333333333,
                "net_amount_excl": excl,
                "purchase_line_type_id": 1,
                "total_amount": total,
                "tax_rate": 15,
                "tax_amount": tax,
                "quantity": 79,
                "period_contribution_per_quantity": 1
            }
        ],
        "service_id": FIBRE_PAID_UP_SERVICE_ID,
        "purchase_source_id": "e8cc35b7-192c-412e-9f1f-755c9835a0e8",
        "comment": "Test comment"
    })
}

async fn buy(app: &TestApp, token: &str, body: &Value) -> Result<Answer> {
    app.call(Method::POST, "/purchases/buy-now", Some(token), Some(body), None).await
}

pub async fn can_buy_info_offers_the_scheme_once_nothing_is_owed(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let lte =
        app.get_ok(&token, &format!("/services/{LTE_SERVICE_ID}/details-and-actions")).await?;
    ensure(
        lte["billing_status"] == "PaidUp"
            && lte["service_type"] == "HybridDayBundle"
            && lte["must_pay_info"].is_null(),
        format!("the day-bundle service is paid up: {lte}"),
    )?;
    let can_buy = &lte["can_buy_info"];
    ensure(
        can_buy["can_buy"] == true
            && can_buy["buy_type"] == "DayBundles"
            && can_buy["currency"] == "ZAR"
            && can_buy["furthest_period_end_date"].is_string(),
        format!("can_buy_info: {can_buy}"),
    )?;
    let expected = json!([
        {
            "product_price_id": LTE_7_DAY_PRICE_ID, "description": "7 Day bundle",
            "purchase_line_type_id": 1, "period_contribution_per_quantity": 7,
            "amount_per_quantity": number("10.00"), "amount_per_quantity_incl": number("11.50"),
            "tax_rate": number("15.0"), "min_quantity": 1, "max_quantity": 10
        },
        {
            "product_price_id": LTE_30_DAY_PRICE_ID, "description": "30 Day bundle",
            "purchase_line_type_id": 1, "period_contribution_per_quantity": 30,
            "amount_per_quantity": number("35.00"), "amount_per_quantity_incl": number("40.25"),
            "tax_rate": number("15.0"), "min_quantity": 1, "max_quantity": 10
        }
    ]);
    ensure(can_buy["options"] == expected, format!("the bundles: {}", can_buy["options"]))?;
    let active = app
        .get_ok(&token, &format!("/active-payment-medium-for-service?serviceId={LTE_SERVICE_ID}"))
        .await?;
    ensure(
        active["medium_detail_id"] == RECHARGE_CARD_ID && active["account_number"] == "1111",
        format!("the bundle recharges from the saved card: {active}"),
    )?;

    // The recurring service paid for twenty more days: months ahead, up to the 12-month limit
    // (11 whole months fit), or single days.
    let path = format!("/services/{FIBRE_PAID_UP_SERVICE_ID}/details-and-actions");
    let fibre = app.get_ok(&token, &path).await?;
    let options = &fibre["can_buy_info"]["options"];
    ensure(
        fibre["can_buy_info"]["buy_type"] == "MonthsAhead"
            && options[0]["product_price_id"] == FIBRE_MONTHLY_PRICE_ID
            && options[0]["purchase_line_type_id"] == 2
            && options[0]["amount_per_quantity"] == number("329.70")
            && options[0]["amount_per_quantity_incl"] == number("379.16")
            && options[0]["max_quantity"] == 11
            && options[1]["product_price_id"] == FIBRE_DAILY_PRICE_ID
            && options[1]["purchase_line_type_id"] == 1
            && options[1]["amount_per_quantity"] == number("10.99")
            && options[1]["max_quantity"].as_i64().is_some_and(|m| (340..=346).contains(&m)),
        format!("months ahead: {fibre}"),
    )?;

    // In arrears: nothing can be bought until the arrears are paid.
    let arrears =
        app.get_ok(&token, &format!("/services/{ISP_SERVICE_ID}/details-and-actions")).await?;
    ensure(
        arrears["must_pay_info"].is_object() && arrears["can_buy_info"].is_null(),
        format!("in arrears: {arrears}"),
    )
}

pub async fn three_seven_day_bundles_are_quoted_then_paid_for_21_days(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let answer = buy(&app, &token, &seven_day_bundles(3)).await?;
    ensure(answer.status == 200, format!("buy now: {answer:?}"))?;
    let quote = &answer.body;
    let id = quote["id"].as_str().context("the quote's id")?.to_owned();
    ensure(
        uuid::Uuid::parse_str(&id).is_ok()
            && quote["service_id"] == LTE_SERVICE_ID
            && quote["amount_excl"] == number("30.00")
            && quote["tax_amount"] == number("4.50")
            && quote["amount"] == number("34.50")
            && quote["medium_id"].is_null()
            && quote["purchase_date"] == "2024-06-06T11:00:31.338000+00:00"
            && quote["purchase_status_id"] == 6
            && quote["payment_reference"].is_null()
            && quote["period_applied"] == false
            && quote["purchase_source_id"].is_null()
            && quote["purchase_creation_event_id"] == 6,
        format!("the quote: {quote}"),
    )?;
    let line = &quote["purchase_lines"][0];
    let expected_line = json!({
        "id": line["id"], "purchase_id": id, "original_purchase_line_id": null,
        "purchase_line_type_id": 1, "description": "7 Day bundle",
        "total_amount": number("34.50"), "amount_per_quantity": number("10.00"),
        "net_amount_excl": number("30.00"), "tax_rate": number("15.0"),
        "tax_amount": number("4.50"), "quantity": 3, "period_contribution_per_quantity": 7,
        "product_price_id": LTE_7_DAY_PRICE_ID
    });
    ensure(
        *line == expected_line && line["id"] != "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        format!("the line, with Settle's own id: {line}"),
    )?;

    // Stored as a quote with its line's period, and what the client said kept with it.
    let stored = Purchase::find(&app.db, &PurchaseId::from_string(&id)).await?.context("stored")?;
    ensure(
        stored.status == PurchaseStatus::Quote
            && stored.lines.len() == 1
            && stored.lines[0].line_type == LineType::Day
            && stored.lines[0].period_per_quantity == 7
            && stored.details["customer_statement_ref"] == "string",
        format!("the stored quote: {stored:?}"),
    )?;
    // Still paid up, with nothing owed: the quote is offered, not owed.
    let details =
        app.get_ok(&token, &format!("/services/{LTE_SERVICE_ID}/details-and-actions")).await?;
    ensure(details["must_pay_info"].is_null(), format!("a quote is not owed: {details}"))?;

    // Paid with the saved card, the service runs 21 days longer.
    let before = Service::find_by_reference(&app.db, LTE_SERVICE_ID).await?.context("service")?;
    let before = before.period_end.context("a period end")?;
    let pay = json!({
        "purchase_id": id, "gateway": "peach-zar",
        "method": "saved_method", "payment_method_id": RECHARGE_CARD_ID
    });
    let paid = app.call(Method::POST, "/api/payments", Some(&token), Some(&pay), None).await?;
    ensure((200..=202).contains(&paid.status), format!("paying the quote: {paid:?}"))?;
    eventually("the bundles extend the service", Duration::from_secs(10), || async {
        let service = Service::find_by_reference(&app.db, LTE_SERVICE_ID).await?;
        Ok(service.and_then(|s| s.period_end) == Some(before + chrono::Duration::days(21)))
    })
    .await
}

pub async fn months_ahead_are_priced_by_settle_and_wrong_figures_refused(
    app: TestApp,
) -> Result<()> {
    let token = app.customer_token().await?;
    // The document's figures (1000.00 for 79 days) are not the scheme's price: refused, with
    // Settle's figure.
    let document = seventy_nine_days(
        number("1000"),
        number("867.8550266666667"),
        number("132.14497333333327"),
    );
    let refused = buy(&app, &token, &document).await?;
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    ensure(
        refused.status == 422
            && detail.contains("total_amount 1000 disagrees with the price")
            && detail
                .contains("79 days of Monthly Recurring 20/10 cost 998.44 (868.21 + 130.23 tax)")
            && refused.body["instance"] == "/purchases/buy-now"
            && refused.body["type"] == "https://tools.ietf.org/html/rfc4918#section-11.2",
        format!("the document's figures: {refused:?}"),
    )?;
    let fields = refused.error_fields();
    // 10.985506… a day rounds to the scheme's 10.99 and passes; 12.6333… with tax does not
    // (10.99 + 1.65 tax = 12.64).
    ensure(
        !fields.contains(&"purchase_lines[0].amount_per_quantity"),
        format!("amount_per_quantity agrees at cent precision: {fields:?}"),
    )?;
    for field in ["total_amount", "net_amount_excl", "tax_amount", "amount_per_quantity_incl"] {
        ensure(
            fields.contains(&format!("purchase_lines[0].{field}").as_str()),
            format!("{field} is named: {fields:?}"),
        )?;
    }

    // With Settle's figures (sent as the client computed them, to more places) it is quoted.
    let mut body =
        seventy_nine_days(number("998.44"), number("868.2100001"), number("130.2299999"));
    body["purchase_lines"][0]["amount_per_quantity"] = number("10.99");
    body["purchase_lines"][0]["amount_per_quantity_incl"] = number("12.6385");
    let quote = buy(&app, &token, &body).await?;
    ensure(quote.status == 200, format!("79 days at Settle's price: {quote:?}"))?;
    let q = &quote.body;
    ensure(
        q["amount_excl"] == number("868.21")
            && q["tax_amount"] == number("130.23")
            && q["amount"] == number("998.44")
            && q["purchase_source_id"] == "e8cc35b7-192c-412e-9f1f-755c9835a0e8"
            && q["purchase_date"] == "2024-11-26T09:33:07.601000+00:00"
            && q["purchase_lines"][0]["product_price_id"] == FIBRE_DAILY_PRICE_ID
            && q["purchase_lines"][0]["purchase_line_type_id"] == 1,
        format!("the 79-day quote: {q}"),
    )?;

    // Three months ahead at the monthly option, without any client figures.
    let months = json!({
        "service_id": FIBRE_PAID_UP_SERVICE_ID,
        "purchase_lines": [{
            "purchase_line_type_id": 2, "quantity": 3, "period_contribution_per_quantity": 1,
            "product_price_id": FIBRE_MONTHLY_PRICE_ID
        }],
        "customer_statement_ref": "", "purchase_date": "2024-11-26T09:33:07.601Z"
    });
    let quote = buy(&app, &token, &months).await?;
    // 3 × 329.70 = 989.10; 15 % of it is 148.365, rounded half away from zero to 148.37.
    ensure(
        quote.status == 200
            && quote.body["amount_excl"] == number("989.10")
            && quote.body["tax_amount"] == number("148.37")
            && quote.body["amount"] == number("1137.47")
            && quote.body["purchase_lines"][0]["period_contribution_per_quantity"] == 1,
        format!("three months ahead: {quote:?}"),
    )?;
    let stored =
        Purchase::find(&app.db, &PurchaseId::from_string(quote.body["id"].as_str().context("id")?))
            .await?
            .context("stored")?;
    ensure(
        stored.lines[0].line_type == LineType::Monthly && stored.lines[0].quantity == 3,
        "stored as three months",
    )?;

    // More months than the limit leaves room for, a bad tax rate, and an unknown option.
    let mut too_many = months.clone();
    too_many["purchase_lines"][0]["quantity"] = json!(12);
    let refused = buy(&app, &token, &too_many).await?;
    ensure(
        refused.status == 422
            && refused.error_fields() == ["purchase_lines[0].quantity"]
            && refused.body["detail"].as_str().is_some_and(|d| d.contains("1 to 11")),
        format!("twelve months: {refused:?}"),
    )?;
    let mut rate = months.clone();
    rate["purchase_lines"][0]["tax_rate"] = json!(14);
    let refused = buy(&app, &token, &rate).await?;
    ensure(
        refused.status == 422 && refused.error_fields() == ["purchase_lines[0].tax_rate"],
        format!("a wrong tax rate: {refused:?}"),
    )?;
    let mut unknown = months;
    unknown["purchase_lines"][0]["product_price_id"] = json!(LTE_7_DAY_PRICE_ID);
    let refused = buy(&app, &token, &unknown).await?;
    ensure(
        refused.status == 422 && refused.error_fields() == ["purchase_lines[0].product_price_id"],
        format!("another product's option: {refused:?}"),
    )
}

pub async fn buying_is_refused_when_not_allowed(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    // Eleven 7-day bundles: the scheme sells 1 to 10.
    let refused = buy(&app, &token, &seven_day_bundles(11)).await?;
    ensure(
        refused.status == 422
            && refused.error_fields() == ["purchase_lines[0].quantity"]
            && refused.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("7 Day bundle is sold 1 to 10")),
        format!("eleven bundles: {refused:?}"),
    )?;
    // A 7-day line that says it adds 5 days.
    let mut wrong_period = seven_day_bundles(3);
    wrong_period["purchase_lines"][0]["period_contribution_per_quantity"] = json!(5);
    let refused = buy(&app, &token, &wrong_period).await?;
    ensure(
        refused.status == 422
            && refused.error_fields() == ["purchase_lines[0].period_contribution_per_quantity"],
        format!("a wrong period: {refused:?}"),
    )?;

    // A service in arrears must pay first: 409 in words.
    let mut arrears = seven_day_bundles(3);
    arrears["service_id"] = json!(ISP_SERVICE_ID);
    let refused = buy(&app, &token, &arrears).await?;
    ensure(
        refused.status == 409
            && refused.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("pay the amount owed first"))
            && refused.body["instance"] == "/purchases/buy-now",
        format!("in arrears: {refused:?}"),
    )?;

    // Someone else's service does not exist for them; without a token, the 401 problem.
    let stranger = app.other_customer().await?;
    let other = app.other_merchant().await?;
    for (who, token) in [("another customer", stranger.token), ("another merchant", other)] {
        let hidden = buy(&app, &token, &seven_day_bundles(3)).await?;
        ensure(hidden.status == 404, format!("{who}: {hidden:?}"))?;
    }
    let anonymous = app
        .call(Method::POST, "/purchases/buy-now", None, Some(&seven_day_bundles(3)), None)
        .await?;
    ensure(anonymous.status == 401, format!("no token: {anonymous:?}"))?;
    // The merchant selling the service may buy for its customer.
    let merchant = app.merchant_token().await?;
    let one = json!({
        "service_id": LTE_SERVICE_ID,
        "purchase_lines": [{
            "purchase_line_type_id": 1, "quantity": 1, "period_contribution_per_quantity": 7,
            "product_price_id": LTE_7_DAY_PRICE_ID
        }]
    });
    let bought = buy(&app, &merchant, &one).await?;
    ensure(
        bought.status == 200 && bought.body["amount"] == number("11.50"),
        format!("the merchant's system: {bought:?}"),
    )?;
    // A malformed date is a 422.
    let mut bad_date = seven_day_bundles(1);
    bad_date["purchase_date"] = json!("yesterday");
    let refused = buy(&app, &token, &bad_date).await?;
    ensure(refused.status == 422, format!("a bad date: {refused:?}"))
}

pub async fn scheme_config_and_default_provider(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let details =
        app.get_ok(&token, &format!("/services/{LTE_SERVICE_ID}/details-and-actions")).await?;
    let plan = details["plan_id"].as_str().context("the product")?.to_owned();
    let scheme =
        app.get_ok(&token, &format!("/configurations/billingScheme/Product/{plan}")).await?;
    ensure(
        scheme["product_id"] == plan.as_str()
            && scheme["product_code"] == "LTE-DAY"
            && scheme["billing_type"] == "HybridDayBundle"
            && scheme["currency"] == "ZAR"
            && scheme["tax_rate"] == number("15.0")
            && scheme["auto_recharge"] == true
            && scheme["recharge_days_before"] == 2
            && scheme["months_ahead_limit"] == 12
            && scheme["accepts_immediate_payments"] == true
            && scheme["product_prices"] == details["can_buy_info"]["options"],
        format!("the LTE scheme: {scheme}"),
    )?;
    let merchant = app.merchant_token().await?;
    let path = format!("/configurations/billingScheme/Product/{plan}");
    let seen = app.get_ok(&merchant, &path).await?;
    ensure(seen == scheme, "the merchant reads the same scheme")?;
    let other = app.other_merchant().await?;
    let hidden = app.call(Method::GET, &path, Some(&other), None, None).await?;
    ensure(
        hidden.status == 404 && hidden.body["instance"] == path.as_str(),
        format!("another merchant's product: {hidden:?}"),
    )?;

    // The operator's rules: every product of the token's merchant.
    let rules = app.get_ok(&token, "/config").await?;
    let codes: Vec<&str> = rules["products"]
        .as_array()
        .context("products")?
        .iter()
        .filter_map(|p| p["product_code"].as_str())
        .collect();
    ensure(
        rules["operator_name"] == "Demo Insurer & ISP"
            && codes.contains(&"FIBRE-20-10")
            && codes.contains(&"LTE-DAY")
            && rules["products"].as_array().is_some_and(|p| p.contains(&scheme)),
        format!("the operator's rules: {rules}"),
    )?;
    let one = app.get_ok(&token, &format!("/config?productId={plan}")).await?;
    ensure(one["products"] == json!([scheme]), format!("one product's rules: {one}"))?;
    let others = app.get_ok(&other, "/config").await?;
    ensure(
        others["operator_name"] == "Another Shop" && others["products"] == json!([]),
        format!("another operator's rules: {others}"),
    )?;

    // The default providers: PayFast/Peach for cards, the direct-debit bank for accounts.
    let card = app.get_ok(&token, "/default?mediumType=2").await?;
    ensure(
        card == json!({ "id": "peach-zar", "name": "Peach Payments", "provider": "peach", "medium_type": "CreditCard", "medium_type_id": 2 }),
        format!("cards: {card}"),
    )?;
    let bank = app.get_ok(&token, "/default?mediumType=1").await?;
    ensure(
        bank["medium_type"] == "BankAccount" && bank["id"] == "sepa-eur",
        format!("bank accounts: {bank}"),
    )?;
    for bad in ["3", "card", ""] {
        let refused = app
            .call(Method::GET, &format!("/default?mediumType={bad}"), Some(&token), None, None)
            .await?;
        ensure(
            refused.status == 400
                && refused.body["type"] == "https://tools.ietf.org/html/rfc7231#section-6.5.1"
                && refused.body["instance"] == "/default",
            format!("mediumType={bad}: {refused:?}"),
        )?;
    }
    let none = app.call(Method::GET, "/default?mediumType=2", Some(&other), None, None).await?;
    ensure(none.status == 404, format!("a merchant with no default: {none:?}"))
}
