//! Seed 002 (the membership/campaign payments API), step by step as the document reads: orders
//! by an existing method, by direct debit and by an external card (202 + form, `__RESULT__`),
//! totals, payment methods, every 422, and the paths with and without their trailing slash.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{
    CUSTOMER_CODE, MERCHANT_CLIENT_ID, ORDER_BANK_METHOD, ORDER_CAMPAIGN_CODE, ORDER_CARD_METHOD,
};
use settle_server::sandbox::bank::{INSUFFICIENT_FUNDS_IBAN, MANDATE_REFUSED_IBAN, SETTLING_IBAN};

use crate::support::{TestApp, ensure, eventually};

const RETURN_URL: &str = "http://localhost:8080/orders/7/__RESULT__";
const SETTLES: Duration = Duration::from_secs(10);

/// An order of `amount` cents for the demo person in `campaign`, paid as `how` says.
fn order(amount: i64, campaign: &str, how: Value) -> Value {
    let mut order = json!({
        "person_id": CUSTOMER_CODE,
        "description": "Membership fee, December",
        "amount": amount,
        "campaign_code": campaign,
    });
    if let (Some(order), Some(how)) = (order.as_object_mut(), how.as_object()) {
        order.extend(how.clone());
    }
    order
}

fn saved(number: i64) -> Value {
    json!({ "payment_method_type": "existing_payment_method", "payment_method_id": number })
}

fn direct_debit(iban: &str) -> Value {
    json!({ "payment_method_type": "direct_debit", "iban": iban })
}

fn external_card(return_url: &str) -> Value {
    json!({ "payment_method_type": "credit_card_external", "return_url": return_url })
}

/// The 422's messages for one parameter.
fn errors_for(answer: &crate::api_client::Answer, parameter: &str) -> Vec<String> {
    answer.body["errors"][parameter]
        .as_array()
        .map(|m| m.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

pub async fn an_order_by_an_existing_method_is_charged_once(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    // The person's saved card, as the payment methods list shows it.
    let card = app.payment_method_view(&token, ORDER_CARD_METHOD).await?;
    ensure(card["type"] == "PaymentMethods::CreditCard", format!("the demo card: {card}"))?;
    ensure(card["status"] == "active" && card["verified?"] == true, format!("{card}"))?;

    let created = app.create_order(&token, &order(1000, "C-ONE", saved(ORDER_CARD_METHOD))).await?;
    ensure(created.status == 201, format!("201: {created:?}"))?;
    ensure(
        created.body == json!({ "payment_method_id": ORDER_CARD_METHOD }),
        format!("the method used: {}", created.body),
    )?;
    ensure(app.paid_total(&token, &[("campaign_code", "C-ONE")]).await? == 1000, "total 1000")?;

    // A second order, sent twice with one Idempotency-Key (a client's retry): booked and
    // charged once, the retry answered the same.
    let second = order(2550, "C-ONE", saved(ORDER_CARD_METHOD));
    let path = "/api/v1/payments/orders";
    let mut answers = Vec::new();
    for _ in 0..2 {
        let answer =
            app.call(Method::POST, path, Some(&token), Some(&second), Some("order-2")).await?;
        answers.push((answer.status, answer.body));
    }
    ensure(answers[0].0 == 201 && answers[0] == answers[1], format!("the retry: {answers:?}"))?;
    ensure(app.paid_total(&token, &[("campaign_code", "C-ONE")]).await? == 3550, "total 3550")?;
    // The acquirer took exactly one charge per order.
    let charges = app.card_charges_since(since).await?;
    ensure(charges == 2, format!("charges at the acquirer: {charges}"))?;
    println!("seed 002 saved card: 2 orders, {charges} charges at the acquirer");

    // An acquirer that can't take the payment is Settle's fault to report (500), and the order
    // is withdrawn: nothing is owed or charged for it.
    app.set_faults("card", json!({ "error_rate": 1.0 })).await?;
    let failed = app.create_order(&token, &order(999, "C-ONE", saved(ORDER_CARD_METHOD))).await?;
    app.reset_faults("card").await?;
    ensure(failed.status == 500, format!("500: {failed:?}"))?;
    ensure(app.paid_total(&token, &[("campaign_code", "C-ONE")]).await? == 3550, "still 3550")?;
    ensure(app.card_charges_since(since).await? == 2, "no third charge")?;
    let open = "SELECT COUNT(*) FROM purchases WHERE campaign = 'C-ONE' AND status = 'open'";
    let open: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(open).fetch_one(pool).await)?;
    ensure(open == 0, format!("{open} orders left owed"))
}

pub async fn a_direct_debit_order_settles_and_its_method_becomes_active(
    app: TestApp,
) -> Result<()> {
    let token = app.merchant_token().await?;
    app.bank_settles_after(300).await?;
    let created =
        app.create_order(&token, &order(4200, "C-DD", direct_debit(SETTLING_IBAN))).await?;
    ensure(created.status == 201, format!("201: {created:?}"))?;
    let number = created.body["payment_method_id"].as_i64().context("a method number")?;
    ensure(number != ORDER_BANK_METHOD, "a new method for the new account")?;
    let method = app.payment_method_view(&token, number).await?;
    ensure(method["type"] == "PaymentMethods::DirectDebit", format!("{method}"))?;
    ensure(method["status"] == "incomplete" && method["verified?"] == false, format!("{method}"))?;
    ensure(!method.to_string().contains("0532013000"), "the IBAN is shown masked")?;
    // Not processed until the bank settles it.
    ensure(app.paid_total(&token, &[("campaign_code", "C-DD")]).await? == 0, "nothing yet")?;
    eventually("the collection settles", SETTLES, || async {
        let method = app.payment_method_view(&token, number).await?;
        Ok(method["status"] == "active")
    })
    .await?;
    let method = app.payment_method_view(&token, number).await?;
    ensure(method["verified?"] == true, format!("verified once collected: {method}"))?;
    ensure(app.paid_total(&token, &[("campaign_code", "C-DD")]).await? == 4200, "total 4200")?;
    // The same account pays the next order through its mandate.
    let next = app.create_order(&token, &order(100, "C-DD", saved(number))).await?;
    ensure(next.status == 201 && next.body["payment_method_id"] == number, format!("{next:?}"))
}

pub async fn a_bounced_direct_debit_shows_on_the_order_and_the_method(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    app.bank_settles_after(200).await?;
    let created = app
        .create_order(&token, &order(4200, "C-BOUNCE", direct_debit(INSUFFICIENT_FUNDS_IBAN)))
        .await?;
    ensure(created.status == 201, format!("201 (the bank answers later): {created:?}"))?;
    let number = created.body["payment_method_id"].as_i64().context("a method number")?;
    eventually("the collection bounces", SETTLES, || async {
        let method = app.payment_method_view(&token, number).await?;
        Ok(method["status"] == "inactive")
    })
    .await?;
    let method = app.payment_method_view(&token, number).await?;
    ensure(method["verified?"] == false, format!("never collected: {method}"))?;
    // The order, as Settle's own API shows it: unpaid, its payment failed with the bank's
    // reason; and it counts nothing.
    let path = format!("/api/purchases?customer_code={CUSTOMER_CODE}&limit=100");
    let list = app.call(Method::GET, &path, Some(&token), None, None).await?;
    let items = list.body["items"].as_array().with_context(|| format!("{list:?}"))?;
    let bounced = items.iter().find(|p| p["campaign"] == "C-BOUNCE").context("the order")?;
    let reference = bounced["reference"].as_str().context("its reference")?;
    let shown = app
        .call(Method::GET, &format!("/api/purchases/{reference}"), Some(&token), None, None)
        .await?;
    ensure(shown.body["status"] == "open", format!("not paid: {}", shown.body))?;
    let payment = &shown.body["payments"][0];
    ensure(payment["payment_status_state"] == "PAYMENT_FAILED", format!("{payment}"))?;
    let reason = payment["failure_reason"].as_str().unwrap_or_default().to_lowercase();
    ensure(reason.contains("insufficient"), format!("the bank's reason: {reason}"))?;
    ensure(app.paid_total(&token, &[("campaign_code", "C-BOUNCE")]).await? == 0, "total 0")?;
    // An inactive method takes no more orders.
    let again = app.create_order(&token, &order(100, "C-BOUNCE", saved(number))).await?;
    ensure(again.status == 422, format!("422: {again:?}"))?;
    ensure(!errors_for(&again, "payment_method_id").is_empty(), format!("{:?}", again.body))
}

pub async fn an_external_card_order_comes_back_ok_or_ko(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    for (button, result) in [("Pay", "ok"), ("Decline", "ko"), ("Cancel", "ko")] {
        let created =
            app.create_order(&token, &order(1500, "C-EXT", external_card(RETURN_URL))).await?;
        ensure(created.status == 202, format!("202: {created:?}"))?;
        ensure(created.body["payment_method_id"].is_null(), format!("{}", created.body))?;
        let form = &created.body["form"];
        ensure(
            form["action"].as_str().is_some_and(|a| a.contains("/sandbox/hosted-checkout/")),
            format!("the form posts to the hosted checkout: {form}"),
        )?;
        ensure(form["fields"].is_object(), format!("fields is a hash: {form}"))?;
        let landed = app.through_order_form(form, button).await?;
        ensure(
            landed == RETURN_URL.replace("__RESULT__", result),
            format!("{button}: back at {landed}"),
        )?;
    }
    ensure(app.paid_total(&token, &[("campaign_code", "C-EXT")]).await? == 1500, "one paid")?;
    // The hosted checkout is not the card acquirer: no acquirer charge, and one checkout paid.
    ensure(app.card_charges_since(since).await? == 0, "no acquirer charges")?;
    let succeeded = app.paid_checkouts_since(since).await?;
    ensure(succeeded == 1, format!("one paid checkout at the gateway: {succeeded}"))
}

pub async fn every_invalid_order_is_a_422_per_parameter(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    // Not-cancelled purchases, before and after (the demo's history has cancelled ones).
    let count = "SELECT COUNT(*) FROM purchases WHERE status <> 'cancelled'";
    let before: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;

    let empty = app.create_order(&token, &json!({})).await?;
    ensure(empty.status == 422, format!("{empty:?}"))?;
    for parameter in ["person_id", "description", "amount", "campaign_code", "payment_method_type"]
    {
        ensure(
            !errors_for(&empty, parameter).is_empty(),
            format!("{parameter}: {:?}", empty.body),
        )?;
    }
    // Another person of the demo merchant, with a bank account of their own.
    let merchant = settle::merchant::Merchant::by_client_id(&app.db, MERCHANT_CLIENT_ID)
        .await?
        .context("merchant")?;
    settle::customer::Customer::upsert(
        &app.db,
        &merchant.id,
        &settle::customer::CustomerCode::parse("CUST-0002")?,
        "Lindiwe Khumalo",
        None,
        None,
    )
    .await?;
    let mut theirs = order(100, ORDER_CAMPAIGN_CODE, direct_debit(SETTLING_IBAN));
    theirs["person_id"] = json!("CUST-0002");
    let theirs = app.create_order(&token, &theirs).await?;
    let their_method = theirs.body["payment_method_id"].as_i64().context("their method")?;
    let before = before + 1;

    let cases: Vec<(&str, Value)> = vec![
        ("amount", order(0, ORDER_CAMPAIGN_CODE, saved(ORDER_CARD_METHOD))),
        ("amount", order(-500, ORDER_CAMPAIGN_CODE, saved(ORDER_CARD_METHOD))),
        (
            "amount",
            json!({ "person_id": CUSTOMER_CODE, "description": "x", "amount": "ten", "campaign_code": "C", "payment_method_type": "existing_payment_method", "payment_method_id": ORDER_CARD_METHOD }),
        ),
        ("person_id", {
            let mut o = order(100, ORDER_CAMPAIGN_CODE, saved(ORDER_CARD_METHOD));
            o["person_id"] = json!("NOBODY-42");
            o
        }),
        (
            "payment_method_type",
            order(100, ORDER_CAMPAIGN_CODE, json!({ "payment_method_type": "cash" })),
        ),
        (
            "payment_method_id",
            order(
                100,
                ORDER_CAMPAIGN_CODE,
                json!({ "payment_method_type": "existing_payment_method" }),
            ),
        ),
        ("payment_method_id", order(100, ORDER_CAMPAIGN_CODE, saved(999_999))),
        ("payment_method_id", order(100, ORDER_CAMPAIGN_CODE, saved(their_method))),
        ("iban", order(100, ORDER_CAMPAIGN_CODE, json!({ "payment_method_type": "direct_debit" }))),
        ("iban", order(100, ORDER_CAMPAIGN_CODE, direct_debit("DE89370400440532013001X"))),
        ("iban", order(100, ORDER_CAMPAIGN_CODE, direct_debit("DE00370400440532013000"))),
        ("iban", order(100, ORDER_CAMPAIGN_CODE, direct_debit("DE89 3704 0044 0532 0130 00"))),
        ("iban", order(100, ORDER_CAMPAIGN_CODE, direct_debit(MANDATE_REFUSED_IBAN))),
        (
            "return_url",
            order(
                100,
                ORDER_CAMPAIGN_CODE,
                json!({ "payment_method_type": "credit_card_external" }),
            ),
        ),
        (
            "return_url",
            order(100, ORDER_CAMPAIGN_CODE, external_card("http://localhost:8080/orders/7")),
        ),
        (
            "return_url",
            order(100, ORDER_CAMPAIGN_CODE, external_card("https://evil.example/__RESULT__")),
        ),
    ];
    for (parameter, body) in &cases {
        let answer = app.create_order(&token, body).await?;
        ensure(answer.status == 422, format!("{parameter} {body}: {answer:?}"))?;
        ensure(
            !errors_for(&answer, parameter).is_empty(),
            format!("{parameter} named in {}", answer.body),
        )?;
    }
    // Form-encoded bodies are read too.
    let response = app
        .client
        .post(app.url("/api/v1/payments/orders"))
        .bearer_auth(&token)
        .form(&[("person_id", CUSTOMER_CODE), ("amount", "0")])
        .send()
        .await?;
    ensure(response.status() == 422, format!("form: {}", response.status()))?;
    let body: Value = response.json().await?;
    ensure(body["errors"]["person_id"].is_null(), format!("the form's person_id read: {body}"))?;
    ensure(body["errors"]["description"].is_array(), format!("{body}"))?;
    // Nothing was booked by any of them (the refused mandate's purchase was withdrawn).
    let open = "SELECT COUNT(*) FROM purchases WHERE status <> 'cancelled'";
    let after: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(open).fetch_one(pool).await)?;
    ensure(after == before, format!("{} purchases booked by invalid orders", after - before))
}

pub async fn totals_by_campaign_person_and_dates(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    for (amount, campaign) in [(1000, "C-A"), (250, "C-A"), (4000, "C-B")] {
        let created =
            app.create_order(&token, &order(amount, campaign, saved(ORDER_CARD_METHOD))).await?;
        ensure(created.status == 201, format!("{created:?}"))?;
    }
    let today = chrono::Utc::now().date_naive();
    let tomorrow = (today + chrono::Duration::days(1)).to_string();
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    let today = today.to_string();
    let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    for (query, expected) in [
        (vec![("campaign_code", "C-A")], 1250),
        (vec![("campaign_code", "C-B")], 4000),
        (vec![("campaign_code", "NO-SUCH")], 0),
        (vec![("person_id", CUSTOMER_CODE)], 5250),
        (vec![("person_id", "NOBODY-42")], 0),
        (vec![("person_id", CUSTOMER_CODE), ("campaign_code", "C-B")], 4000),
        (vec![("campaign_code", "C-A"), ("from_date", today.as_str())], 1250),
        (vec![("campaign_code", "C-A"), ("until_date", today.as_str())], 1250),
        (vec![("campaign_code", "C-A"), ("from_date", tomorrow.as_str())], 0),
        (vec![("campaign_code", "C-A"), ("until_date", yesterday.as_str())], 0),
        (vec![("person_id", CUSTOMER_CODE), ("from_date", an_hour_ago.as_str())], 5250),
        (vec![("person_id", CUSTOMER_CODE), ("until_date", an_hour_ago.as_str())], 0),
    ] {
        let amount = app.paid_total(&token, &query).await?;
        ensure(amount == expected, format!("{query:?}: {amount}, expected {expected}"))?;
    }
    for query in [
        vec![],
        vec![("from_date", today.as_str())],
        vec![("campaign_code", "C-A"), ("from_date", "05/12/2026")],
        vec![("campaign_code", "C-A"), ("until_date", "2026-13-01")],
    ] {
        let answer = app.orders_total(&token, &query).await?;
        ensure(answer.status == 422, format!("{query:?}: {answer:?}"))?;
    }
    Ok(())
}

pub async fn payment_methods_list_and_detail(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let path = format!("/api/v1/payments/payment_methods?person_id={CUSTOMER_CODE}");
    let list = app.call(Method::GET, &path, Some(&token), None, None).await?;
    ensure(list.status == 200, format!("{list:?}"))?;
    let methods = list.body.as_array().context("a list")?;
    for method in methods {
        let keys: Vec<&String> = method.as_object().context("an object")?.keys().collect();
        ensure(keys == ["id", "name", "status", "type", "verified?"], format!("keys {keys:?}"))?;
    }
    let by_id = |id: i64| methods.iter().find(|m| m["id"] == id).cloned();
    let card = by_id(ORDER_CARD_METHOD).context("the demo card in the list")?;
    ensure(
        card["type"] == "PaymentMethods::CreditCard" && card["status"] == "active",
        format!("{card}"),
    )?;
    let bank = by_id(ORDER_BANK_METHOD).context("the demo bank account in the list")?;
    ensure(
        bank["type"] == "PaymentMethods::DirectDebit"
            && bank["status"] == "active"
            && bank["verified?"] == true,
        format!("{bank}"),
    )?;
    ensure(
        app.payment_method_view(&token, ORDER_BANK_METHOD).await? == bank,
        "detail = list entry",
    )?;

    for path in [
        "/api/v1/payments/payment_methods?person_id=NOBODY-42".to_owned(),
        "/api/v1/payments/payment_methods".to_owned(),
    ] {
        let answer = app.call(Method::GET, &path, Some(&token), None, None).await?;
        ensure(answer.status == 422 && answer.body == json!({}), format!("{path}: {answer:?}"))?;
    }
    let other = app.other_merchant().await?;
    for (who, token, path) in [
        ("unknown", token.as_str(), "/api/v1/payments/payment_methods/999999".to_owned()),
        ("not a number", token.as_str(), "/api/v1/payments/payment_methods/abc".to_owned()),
        (
            "another merchant's",
            other.as_str(),
            format!("/api/v1/payments/payment_methods/{ORDER_CARD_METHOD}"),
        ),
    ] {
        let answer = app.call(Method::GET, &path, Some(token), None, None).await?;
        ensure(answer.status == 404 && answer.body == json!({}), format!("{who}: {answer:?}"))?;
    }
    let theirs = format!("/api/v1/payments/payment_methods?person_id={CUSTOMER_CODE}");
    let answer = app.call(Method::GET, &theirs, Some(&other), None, None).await?;
    ensure(
        answer.status == 422 && answer.body == json!({}),
        format!("another merchant's person: {answer:?}"),
    )
}

pub async fn paths_answer_with_and_without_the_slash_and_leave_seed_003_its_uuids(
    app: TestApp,
) -> Result<()> {
    let token = app.merchant_token().await?;
    for path in [
        format!("/api/v1/payments/payment_methods?person_id={CUSTOMER_CODE}"),
        format!("/api/v1/payments/payment_methods/?person_id={CUSTOMER_CODE}"),
        format!("/api/v1/payments/payment_methods/{ORDER_CARD_METHOD}"),
        format!("/api/v1/payments/payment_methods/{ORDER_CARD_METHOD}/"),
        "/api/v1/payments/orders/total?campaign_code=X".to_owned(),
        "/api/v1/payments/orders/total/?campaign_code=X".to_owned(),
    ] {
        let answer = app.call(Method::GET, &path, Some(&token), None, None).await?;
        ensure(answer.status == 200, format!("{path}: {answer:?}"))?;
    }
    for path in ["/api/v1/payments/orders", "/api/v1/payments/orders/"] {
        let answer = app
            .call(
                Method::POST,
                path,
                Some(&token),
                Some(&order(700, "C-SLASH", saved(ORDER_CARD_METHOD))),
                None,
            )
            .await?;
        ensure(answer.status == 201, format!("{path}: {answer:?}"))?;
        let unauthenticated = app.call(Method::POST, path, None, Some(&json!({})), None).await?;
        ensure(
            unauthenticated.status == 401,
            format!("{path} without a token: {unauthenticated:?}"),
        )?;
    }
    // Seed 003's payment objects keep their uuid paths.
    let customer = app.customer_token().await?;
    let uuid = app.prepare_quote(&customer, settle::demo::CARD_POLICY_NUMBER).await?;
    let shown = app
        .call(Method::GET, &format!("/api/v1/payments/{uuid}/"), Some(&customer), None, None)
        .await?;
    ensure(
        shown.status == 200 && shown.body["uuid"] == uuid.as_str(),
        format!("seed 003: {shown:?}"),
    )
}
