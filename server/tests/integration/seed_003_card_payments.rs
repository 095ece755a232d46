//! Seed 003 (card payments with 3-D Secure, `/api/v1/payments/{uuid}/...`) followed literally:
//! a token, the prepared payment object, take-payment with each test card, a different billing
//! address, the 3-D Secure form and `PaymentComplete` page, declines and retries, invalid input,
//! gateway errors and timeouts, bearer auth and idempotency.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use settle::demo::{CARD_POLICY_NUMBER, MERCHANT_CLIENT_ID};
use settle::payment::Payment;
use settle::payment::orchestrator::ReconcilePolicy;
use settle::product::Product;
use settle::purchase::{LineType, NewLine, Purchase, PurchaseId, PurchaseStatus};
use settle::service::{BillingStatus, Service};

use crate::support::{TestApp, ensure, html_forms};

/// The document's quote id for the demo quote (`…/quote-requests/quotes/{id}/`).
const DEMO_QUOTE_ID: &str = "0e02575f-f9e1-4061-8408-f960f2a91173";

/// `GET` with the document's headers; the status and JSON body.
async fn get(app: &TestApp, token: &str, path: &str) -> Result<(StatusCode, Value)> {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .header("accept", "application/json")
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// `POST` of a JSON body; the status and JSON body.
async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(body)
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// `POST` exactly as the document's curl does it: `-d '{…}'` with no content type, so curl
/// labels the JSON a form.
async fn post_like_curl(
    app: &TestApp,
    token: &str,
    path: &str,
    body: &Value,
) -> Result<(StatusCode, Value)> {
    let response = app
        .client
        .post(app.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_json::to_string_pretty(body)?)
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// Prepares a policy's payment object and returns it.
async fn prepare(app: &TestApp, token: &str, policy_number: &str) -> Result<Value> {
    let (status, body) =
        post(app, token, "/api/v1/payments/", &json!({ "policy_number": policy_number })).await?;
    ensure(status == StatusCode::CREATED, format!("prepare answers {status}: {body}"))?;
    Ok(body)
}

fn uuid_of(payment: &Value) -> Result<String> {
    Ok(payment["uuid"].as_str().context("a payment uuid")?.to_owned())
}

/// The document's request body with a card and the policy address.
fn with_policy_address(number: &str, card_type: &str) -> Value {
    json!({
        "card_details": {
            "card_holder": "J SMITH",
            "card_number": number,
            "expiry_date": "1030",
            "cv2": "123",
            "card_type": card_type
        },
        "billing_use_policy_address": true
    })
}

/// Polls the payment URL, as the document says, until it is POLICY_CONVERTED.
async fn poll_until_converted(app: &TestApp, token: &str, uuid: &str) -> Result<Value> {
    let path = format!("/api/v1/payments/{uuid}/");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(app, token, &path).await?;
        ensure(status == StatusCode::OK, format!("polling answers {status}"))?;
        let state = body["payment_status_state"].as_str().unwrap_or_default().to_owned();
        ensure(
            ["PAYMENT_SUCCESS", "CONVERTING_POLICY", "POLICY_CONVERTED"].contains(&state.as_str()),
            format!("a successful payment passes through success states only: {body}"),
        )?;
        if state == "POLICY_CONVERTED" {
            return Ok(body);
        }
        ensure(tokio::time::Instant::now() < deadline, format!("not converted in time: {body}"))?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Another short-term quote like the demo one (its own policy number, quote id and purchase).
async fn fresh_quote(app: &TestApp, n: usize) -> Result<String> {
    let demo =
        Service::find_by_reference(&app.db, CARD_POLICY_NUMBER).await?.context("demo quote")?;
    let product = Product::find(&app.db, &demo.product_id).await?.context("its product")?;
    let number = format!("TEST/{n:04}/SHORT/WEB");
    let mut service = Service::new(
        &number,
        &product,
        demo.customer_id.clone(),
        "quoted",
        BillingStatus::Unbilled,
    );
    service.details = demo.details.clone();
    if let Some(quote) = service.details.quote.as_mut() {
        quote.reference = Some(uuid::Uuid::new_v4().to_string());
    }
    service.insert(&app.db).await?;
    Purchase::create(
        &app.db,
        &service.id,
        PurchaseStatus::Open,
        Utc::now(),
        vec![NewLine {
            line_type: LineType::Day,
            description: "Short-term motor cover, 4 days".into(),
            quantity: 4,
            unit_price: product.unit_price,
            period_per_quantity: 1,
            tax_rate: product.tax_rate,
        }],
    )
    .await?;
    Ok(number)
}

/// The purchase behind a payment object.
async fn purchase_of(app: &TestApp, uuid: &str) -> Result<PurchaseId> {
    let id: String = settle::with_db!(&app.db, pool => sqlx::query_scalar("SELECT purchase_id FROM quote_payments WHERE id = $1")
        .bind(uuid).fetch_one(pool).await)?;
    Ok(PurchaseId::from_string(id))
}

async fn attempts(app: &TestApp, uuid: &str) -> Result<Vec<Payment>> {
    Ok(Payment::for_purchase(&app.db, &purchase_of(app, uuid).await?).await?)
}

async fn count(app: &TestApp, sql: &str) -> Result<i64> {
    Ok(settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?)
}

/// Whether any stored text (payments, their timeline, stored API answers, jobs, messages,
/// addresses) contains `needle`.
async fn stored_anywhere(app: &TestApp, needle: &str) -> Result<bool> {
    let pattern = format!("%{needle}%");
    for (table, column) in [
        ("payments", "details"),
        ("payments", "card_last4"),
        ("payments", "three_ds"),
        ("payments", "failure_reason"),
        ("payment_events", "payload"),
        ("payment_events", "cause"),
        ("idempotency_keys", "response_body"),
        ("jobs", "payload"),
        ("customer_notifications", "body"),
        ("customer_addresses", "house"),
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1");
        let n: i64 = settle::with_db!(&app.db, pool => sqlx::query_scalar(&sql).bind(&pattern).fetch_one(pool).await)?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn is_timestamp(value: &Value) -> bool {
    value.as_str().is_some_and(|t| t.ends_with('Z') && DateTime::parse_from_rfc3339(t).is_ok())
}

fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect()
        })
        .unwrap_or_default()
}

/// The policy object once converted: the document's fields from the quote and the activation.
fn check_policy(app: &TestApp, converted: &Value, policy_number: &str) -> Result<()> {
    ensure(converted["payment_status"] == 11, format!("state 11: {converted}"))?;
    ensure(converted["client_feedback"] == "Your policy is ready", "POLICY_CONVERTED feedback")?;
    let policy = &converted["policy"];
    ensure(policy["policy_number"] == policy_number, format!("policy number: {policy}"))?;
    ensure(policy["insurer_name"] == "Trinity Lane", "insurer")?;
    ensure(policy["scheme_code"] == "9999", "scheme code")?;
    ensure(policy["scheme_name"] == "Trinity Lane - Short Term Test", "scheme name")?;
    ensure(policy["policy_progress"] == 0, "progress starts at 0")?;
    let uuid = policy["uuid"].as_str().context("policy uuid")?;
    ensure(
        policy["url"] == app.url(&format!("/api/v1/policies/{uuid}/")),
        format!("policy url {}", policy["url"]),
    )?;
    for field in ["created_at", "updated_at", "policy_start_date", "policy_end_date"] {
        ensure(is_timestamp(&policy[field]), format!("{field} is an RFC 3339 time: {policy}"))?;
    }
    let date = |f: &str| {
        policy[f].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).context("a date")
    };
    let days = (date("policy_end_date")? - date("policy_start_date")?).num_days();
    ensure(days == 4, format!("4 days of cover, got {days}"))?;
    let vehicle = &policy["vehicle"];
    ensure(
        vehicle["reg_no"] == "RE23EA" && vehicle["make"] == "Fiat",
        format!("vehicle {vehicle}"),
    )?;
    let vehicle_uuid = vehicle["uuid"].as_str().context("vehicle uuid")?;
    ensure(uuid::Uuid::parse_str(vehicle_uuid).is_ok(), "vehicle uuid is a uuid")?;
    ensure(
        vehicle["url"] == app.url(&format!("/api/v1/user/vehicles/{vehicle_uuid}/")),
        "vehicle url",
    )?;
    for field in ["gearbox_type_id", "body_type_id", "fuel_type_id", "abi_code", "number_of_doors"]
    {
        ensure(vehicle.get(field).is_some(), format!("vehicle has {field}"))?;
    }
    Ok(())
}

pub async fn each_test_card_pays_with_the_policy_address_and_converts(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let prepared = prepare(&app, &token, CARD_POLICY_NUMBER).await?;
    let uuid = uuid_of(&prepared)?;
    ensure(prepared["url"] == app.url(&format!("/api/v1/payments/{uuid}/")), "its url")?;
    ensure(
        prepared["quote"] == app.url(&format!("/api/v1/quote-requests/quotes/{DEMO_QUOTE_ID}/")),
        format!("the quote url: {}", prepared["quote"]),
    )?;
    ensure(prepared["policy"].is_null(), "no policy before payment")?;
    let policy_address = &prepared["policy_address"];
    for (field, value) in [
        ("house", "21b"),
        ("street", "Tuesday Market Place"),
        ("city", "King's Lynn"),
        ("county", "Norfolk"),
        ("postcode", "PE301JW"),
    ] {
        ensure(
            policy_address[field] == value,
            format!("policy_address.{field}: {policy_address}"),
        )?;
    }
    let address_uuid = policy_address["uuid"].as_str().context("address uuid")?;
    ensure(
        policy_address["url"] == app.url(&format!("/api/v1/user/address/{address_uuid}/")),
        "address url",
    )?;
    ensure(
        prepared["billing_address"] == *policy_address,
        "billing defaults to the policy address",
    )?;
    ensure(prepared["billing_use_policy_address"] == true, "billing_use_policy_address")?;
    ensure(
        prepared["payment_status"] == 1 && prepared["payment_status_state"] == "CREATED",
        "CREATED",
    )?;
    for field in ["creq", "acsurl", "three_ds_session_data"] {
        ensure(prepared[field].is_null(), format!("{field} is null"))?;
    }
    ensure(
        is_timestamp(&prepared["created_at"]) && is_timestamp(&prepared["updated_at"]),
        "times",
    )?;

    // Preparing again, by policy number or by the quote's URL, finds the same payment.
    let (status, again) =
        post(&app, &token, "/api/v1/payments", &json!({ "policy_number": CARD_POLICY_NUMBER }))
            .await?;
    ensure(status == StatusCode::OK && again["uuid"] == uuid.as_str(), "prepared once")?;
    let (status, by_quote) =
        post(&app, &token, "/api/v1/payments/", &json!({ "quote": prepared["quote"] })).await?;
    ensure(status == StatusCode::OK && by_quote["uuid"] == uuid.as_str(), "found by quote url")?;
    let (status, listed) =
        get(&app, &token, "/api/v1/payments/?policy_number=DEMO%2F0002%2FSHORT%2FWEB").await?;
    ensure(
        status == StatusCode::OK && listed[0]["uuid"] == uuid.as_str(),
        format!("listed: {listed}"),
    )?;
    let (status, without_slash) = get(&app, &token, &format!("/api/v1/payments/{uuid}")).await?;
    ensure(status == StatusCode::OK && without_slash["uuid"] == uuid.as_str(), "no-slash form")?;

    // The document's request, as its curl sends it, with the first test card.
    let (status, taken) = post_like_curl(
        &app,
        &token,
        &format!("/api/v1/payments/{uuid}/take-payment/"),
        &with_policy_address("4929 0000 0000 6", "VISA"),
    )
    .await?;
    ensure(status == StatusCode::OK, format!("take-payment answers {status}: {taken}"))?;
    ensure(
        ["PAYMENT_SUCCESS", "CONVERTING_POLICY", "POLICY_CONVERTED"]
            .contains(&taken["payment_status_state"].as_str().unwrap_or_default()),
        format!("a success state: {taken}"),
    )?;
    ensure(taken["billing_address"] == *policy_address, "billed at the policy address")?;
    let converted = poll_until_converted(&app, &token, &uuid).await?;
    check_policy(&app, &converted, CARD_POLICY_NUMBER)?;
    ensure(converted["uuid"] == uuid.as_str() && converted["creq"].is_null(), "same payment")?;
    let card = attempts(&app, &uuid).await?.first().and_then(|p| p.card.clone()).context("card")?;
    ensure(card.brand == "VISA" && card.last4 == "0006" && card.expiry == "1030", "card summary")?;

    // The other three test cards, each on a fresh quote (the no-slash path form this time).
    for (n, (number, card_type)) in [
        ("4462 0000 0000 0003", "VISA DEBIT"),
        ("5186 1506 6000 0009", "MASTERCARD"),
        ("5185 6900 6000 0001", "MASTERCARD DEBIT"),
    ]
    .into_iter()
    .enumerate()
    {
        let policy_number = fresh_quote(&app, n).await?;
        let uuid = uuid_of(&prepare(&app, &token, &policy_number).await?)?;
        let (status, taken) = post(
            &app,
            &token,
            &format!("/api/v1/payments/{uuid}/take-payment"),
            &with_policy_address(number, card_type),
        )
        .await?;
        ensure(status == StatusCode::OK, format!("{number}: {status} {taken}"))?;
        let converted = poll_until_converted(&app, &token, &uuid).await?;
        check_policy(&app, &converted, &policy_number)?;
    }
    Ok(())
}

pub async fn different_billing_address_is_echoed_with_its_own_uuid(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let prepared = prepare(&app, &token, CARD_POLICY_NUMBER).await?;
    let uuid = uuid_of(&prepared)?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    // The document's request as written: its card number fails the Luhn check and its expiry
    // (October 2024) has passed.
    let mut request = json!({
      "card_details": {
        "card_holder": "J SMITH",
        "card_number": "1234567890121234",
        "expiry_date": "1024",
        "cv2": "588",
        "card_type": "VISA"
      },
      "billing_use_policy_address": false,
      "billing_address": {
        "house": "23",
        "street": "North Lake str.",
        "city": null,
        "county": "Norfolk",
        "postcode": "PE301KM"
      }
    });
    let (status, refused) = post_like_curl(&app, &token, &path, &request).await?;
    ensure(status == StatusCode::BAD_REQUEST, format!("the literal example: {status}"))?;
    ensure(
        error_fields(&refused) == ["card_details.card_number", "card_details.expiry_date"],
        format!("errors per field: {refused}"),
    )?;

    // The same request with a valid card.
    request["card_details"] = json!({
        "card_holder": "J SMITH",
        "card_number": "5186150660000009",
        "expiry_date": "1030",
        "cv2": "588",
        "card_type": "MASTERCARD"
    });
    let (status, taken) = post_like_curl(&app, &token, &path, &request).await?;
    ensure(status == StatusCode::OK, format!("take-payment: {status} {taken}"))?;
    ensure(taken["billing_use_policy_address"] == false, "billing_use_policy_address false")?;
    let billing = &taken["billing_address"];
    for field in ["house", "street", "city", "county", "postcode"] {
        ensure(
            billing[field] == request["billing_address"][field],
            format!("billing {field}: {billing}"),
        )?;
    }
    let billing_uuid = billing["uuid"].as_str().context("billing uuid")?;
    ensure(billing_uuid != prepared["policy_address"]["uuid"], "its own uuid")?;
    ensure(taken["policy_address"] == prepared["policy_address"], "the policy address stays")?;
    ensure(is_timestamp(&billing["created_at"]), "billing address times")?;
    let (status, address) =
        get(&app, &token, &format!("/api/v1/user/address/{billing_uuid}/")).await?;
    ensure(
        status == StatusCode::OK && address == *billing,
        format!("its url serves it: {address}"),
    )?;

    let converted = poll_until_converted(&app, &token, &uuid).await?;
    ensure(converted["billing_address"] == *billing, "billing address kept after conversion")?;
    // The payment itself keeps the address it was billed to, as every entry point's does.
    let payment = app.latest_payment(CARD_POLICY_NUMBER).await?;
    let billed = payment.billing_address.context("the payment's billing address")?;
    ensure(
        billed.postcode.as_deref() == Some("PE301KM")
            && billed.street.as_deref() == Some("North Lake str."),
        format!("billed to the address given: {billed:?}"),
    )?;
    check_policy(&app, &converted, CARD_POLICY_NUMBER)
}

pub async fn three_d_secure_challenge_ends_on_the_payment_complete_page(
    app: TestApp,
) -> Result<()> {
    let token = app.customer_token().await?;
    let uuid = uuid_of(&prepare(&app, &token, CARD_POLICY_NUMBER).await?)?;
    let (status, challenged) = post(
        &app,
        &token,
        &format!("/api/v1/payments/{uuid}/take-payment/"),
        &with_policy_address("4000 0000 0000 3220", "VISA"),
    )
    .await?;
    ensure(status == StatusCode::OK, format!("take-payment: {status} {challenged}"))?;
    ensure(
        challenged["payment_status_state"] == "PAYMENT_3DAUTH"
            && challenged["payment_status"] == 5
            && challenged["client_feedback"] == "Processing your payment"
            && challenged["policy"].is_null(),
        format!("PAYMENT_3DAUTH: {challenged}"),
    )?;
    let field = |name: &str| challenged[name].as_str().map(str::to_owned).context(name.to_owned());
    let (creq, acsurl, session) =
        (field("creq")?, field("acsurl")?, field("three_ds_session_data")?);
    let (_, polled) = get(&app, &token, &format!("/api/v1/payments/{uuid}/")).await?;
    ensure(polled["creq"] == creq.as_str(), "polling shows the same challenge")?;

    // The document's self-submitting form: creq and threeDSSessionData posted to acsurl.
    let browser = app.new_client();
    let acs = browser
        .post(&acsurl)
        .form(&[("creq", creq.as_str()), ("threeDSSessionData", session.as_str())])
        .send()
        .await?;
    ensure(acs.status() == StatusCode::OK, format!("the issuer's page: {}", acs.status()))?;
    let page = acs.text().await?;
    let form = html_forms(&page).into_iter().next().context("the issuer's challenge form")?;
    let answered = browser
        .post(&form.action)
        .form(&form.submission("Authenticate")?)
        .send()
        .await?
        .text()
        .await?;
    let back = html_forms(&answered).into_iter().next().context("the Continue form")?;
    ensure(back.action.starts_with(&app.base), format!("back to Settle: {}", back.action))?;
    let complete = browser.post(&back.action).form(&back.submission("Continue")?).send().await?;
    ensure(complete.status() == StatusCode::OK, format!("completion page: {}", complete.status()))?;
    let page = complete.text().await?;
    ensure(page.contains("<title>Payment Complete</title>"), "the Payment Complete page")?;
    ensure(
        page.contains(r#"window.parent.postMessage("PaymentComplete", "*");"#),
        "the PaymentComplete message",
    )?;
    ensure(page.contains("<body></body>"), "an otherwise empty page")?;

    let converted = poll_until_converted(&app, &token, &uuid).await?;
    for name in ["creq", "acsurl", "three_ds_session_data"] {
        ensure(converted[name].is_null(), format!("{name} cleared once used"))?;
    }
    check_policy(&app, &converted, CARD_POLICY_NUMBER)
}

pub async fn declined_card_then_retry_with_another_card(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let uuid = uuid_of(&prepare(&app, &token, CARD_POLICY_NUMBER).await?)?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    for _ in 0..2 {
        let (status, failed) =
            post(&app, &token, &path, &with_policy_address("4000000000000002", "VISA")).await?;
        ensure(status == StatusCode::OK, format!("a decline is still a 200: {status}"))?;
        ensure(
            failed["payment_status_state"] == "PAYMENT_FAILED"
                && failed["payment_status"] == 7
                && failed["client_feedback"] == "There was a problem with your payment"
                && failed["policy"].is_null(),
            format!("PAYMENT_FAILED: {failed}"),
        )?;
        let (_, polled) = get(&app, &token, &format!("/api/v1/payments/{uuid}/")).await?;
        ensure(polled["payment_status"] == 7, "polling shows the failure")?;
    }
    let (status, retried) =
        post(&app, &token, &path, &with_policy_address("5185 6900 6000 0001", "MASTERCARD DEBIT"))
            .await?;
    ensure(status == StatusCode::OK && retried["uuid"] == uuid.as_str(), "the same payment")?;
    let converted = poll_until_converted(&app, &token, &uuid).await?;
    check_policy(&app, &converted, CARD_POLICY_NUMBER)?;
    let tries = attempts(&app, &uuid).await?;
    ensure(tries.len() == 3, format!("three attempts, got {}", tries.len()))?;
    // Paid: no further attempt.
    let (status, _) =
        post(&app, &token, &path, &with_policy_address("4462000000000003", "VISA")).await?;
    ensure(status == StatusCode::CONFLICT, format!("paid already: {status}"))?;
    ensure(attempts(&app, &uuid).await?.len() == 3, "nothing charged twice")
}

pub async fn invalid_card_details_are_refused_and_nothing_is_stored(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let prepared = prepare(&app, &token, CARD_POLICY_NUMBER).await?;
    let uuid = uuid_of(&prepared)?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    let addresses = count(&app, "SELECT COUNT(*) FROM customer_addresses").await?;

    // The document's first example as written: its number fails the Luhn check.
    let mut cases = vec![(
        json!({
            "card_details": {
                "card_holder": "J SMITH",
                "card_number": "1234567890121234",
                "expiry_date": "1028",
                "cv2": "123",
                "card_type": "VISA"
            },
            "billing_use_policy_address": true
        }),
        vec!["card_details.card_number"],
    )];
    let mut expired = with_policy_address("4462000000000003", "VISA DEBIT");
    expired["card_details"]["expiry_date"] = json!("0120");
    cases.push((expired, vec!["card_details.expiry_date"]));
    let mut no_address = with_policy_address("4462000000000003", "VISA");
    no_address["billing_use_policy_address"] = json!(false);
    cases.push((no_address, vec!["billing_address"]));
    cases.push((
        with_policy_address("4462000000000003", "MASTERCARD"),
        vec!["card_details.card_type"],
    ));
    cases.push((json!({ "billing_use_policy_address": true }), vec!["card_details"]));
    // The one card rule set: a holder of at most 50 characters, a security code as long as the
    // scheme's.
    let mut long_holder = with_policy_address("4462000000000003", "VISA");
    long_holder["card_details"]["card_holder"] = json!("J".repeat(51));
    cases.push((long_holder, vec!["card_details.card_holder"]));
    let mut long_code = with_policy_address("4462000000000003", "VISA");
    long_code["card_details"]["cv2"] = json!("1234");
    cases.push((long_code, vec!["card_details.cv2"]));
    for (body, fields) in cases {
        let response =
            app.client.post(app.url(&path)).bearer_auth(&token).json(&body).send().await?;
        ensure(
            response.status() == StatusCode::BAD_REQUEST,
            format!("{body}: {}", response.status()),
        )?;
        let content_type = crate::support::content_type(&response);
        ensure(content_type == "application/problem+json", "problem details")?;
        let refused: Value = response.json().await?;
        ensure(error_fields(&refused) == fields, format!("errors per field: {refused}"))?;
    }
    let (status, refused) = post_like_curl(&app, &token, &path, &json!("not an object")).await?;
    ensure(status == StatusCode::BAD_REQUEST && error_fields(&refused) == ["body"], "bad body")?;

    // Nothing stored: no attempt, no address, the object as prepared.
    ensure(attempts(&app, &uuid).await?.is_empty(), "no payment attempt")?;
    ensure(
        count(&app, "SELECT COUNT(*) FROM customer_addresses").await? == addresses,
        "no address stored",
    )?;
    let (_, unchanged) = get(&app, &token, &format!("/api/v1/payments/{uuid}/")).await?;
    ensure(unchanged == prepared, format!("unchanged: {unchanged}"))?;
    ensure(!stored_anywhere(&app, "1234567890121234").await?, "the refused number is not stored")?;

    // A payment that goes through keeps brand, last four and expiry, never the number.
    let (status, _) =
        post(&app, &token, &path, &with_policy_address("4462000000000003", "VISA")).await?;
    ensure(status == StatusCode::OK, "a valid card")?;
    poll_until_converted(&app, &token, &uuid).await?;
    ensure(!stored_anywhere(&app, "4462000000000003").await?, "the number is not stored")?;
    ensure(!stored_anywhere(&app, "446200000000").await?, "nor its first digits")
}

pub async fn gateway_errors_are_terminal_and_lost_answers_are_settled_by_the_acquirer(
    app: TestApp,
) -> Result<()> {
    let token = app.customer_token().await?;
    let uuid = uuid_of(&prepare(&app, &token, CARD_POLICY_NUMBER).await?)?;
    let (status, errored) = post(
        &app,
        &token,
        &format!("/api/v1/payments/{uuid}/take-payment/"),
        &with_policy_address("4000000000000119", "VISA"),
    )
    .await?;
    ensure(status == StatusCode::OK, format!("take-payment: {status}"))?;
    ensure(
        errored["payment_status_state"] == "TERMINAL_ERROR" && errored["payment_status"] == 8,
        format!("TERMINAL_ERROR: {errored}"),
    )?;

    // The acquirer takes the card but its answer never arrives in time: the attempt stays
    // possibly charged (PROCESSING). While the acquirer can't be asked, reconciliation keeps it
    // that way (it never guesses, however long it waits); once it can be asked, it learns the
    // card was charged, and the policy converts.
    app.set_gateway_timeout("sagepay-gbp", 300).await?;
    app.set_faults("card", json!({ "hang_ms": 1000, "drop_notification_rate": 1.0 })).await?;
    let (status, _) = post(
        &app,
        &token,
        &format!("/api/v1/payments/{uuid}/take-payment/"),
        &with_policy_address("4000000000000259", "VISA"),
    )
    .await?;
    ensure(status == StatusCode::OK, format!("take-payment: {status}"))?;
    let (_, waiting) = get(&app, &token, &format!("/api/v1/payments/{uuid}/")).await?;
    ensure(waiting["payment_status_state"] == "PROCESSING", format!("no answer yet: {waiting}"))?;
    app.set_faults("card", json!({ "error_rate": 1.0 })).await?;
    let latest = attempts(&app, &uuid).await?.into_iter().next().context("the attempt")?;
    let past = Utc::now() - chrono::Duration::seconds(1);
    let make_due = || async {
        settle::with_db!(&app.db, pool => sqlx::query("UPDATE payments SET settle_by = $2 WHERE id = $1")
            .bind(&latest.id).bind(past).execute(pool).await.map(|_| ()))
    };
    make_due().await?;
    let impatient = app
        .orchestrator_with(ReconcilePolicy {
            give_up_after: Duration::ZERO,
            ..ReconcilePolicy::default()
        })
        .await?;
    impatient.reconcile().await?;
    let (_, still) = get(&app, &token, &format!("/api/v1/payments/{uuid}/")).await?;
    ensure(
        still["payment_status_state"] == "PROCESSING",
        format!("possibly charged, so never given up: {still}"),
    )?;
    app.set_faults("card", json!({})).await?;
    make_due().await?;
    impatient.reconcile().await?;
    let (_, settled) = get(&app, &token, &format!("/api/v1/payments/{uuid}/")).await?;
    ensure(
        settled["payment_status_state"] == "POLICY_CONVERTED" && settled["payment_status"] == 11,
        format!("the acquirer's word settles it: {settled}"),
    )?;
    app.set_faults("card", json!({})).await
}

pub async fn bearer_token_and_a_known_uuid_are_required(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let uuid = uuid_of(&prepare(&app, &token, CARD_POLICY_NUMBER).await?)?;
    let card = with_policy_address("4462000000000003", "VISA");
    for path in [format!("/api/v1/payments/{uuid}/"), format!("/api/v1/payments/{uuid}")] {
        let anonymous = app.client.get(app.url(&path)).send().await?;
        ensure(
            anonymous.status() == StatusCode::UNAUTHORIZED,
            format!("GET {path} without a token"),
        )?;
        ensure(anonymous.headers().contains_key("www-authenticate"), "a Bearer challenge")?;
        let (status, _) = get(&app, "not-a-token", &path).await?;
        ensure(status == StatusCode::UNAUTHORIZED, "an unknown token")?;
    }
    for path in [
        format!("/api/v1/payments/{uuid}/take-payment/"),
        format!("/api/v1/payments/{uuid}/take-payment"),
        "/api/v1/payments/".to_owned(),
    ] {
        let anonymous = app.client.post(app.url(&path)).json(&card).send().await?;
        ensure(
            anonymous.status() == StatusCode::UNAUTHORIZED,
            format!("POST {path} without a token"),
        )?;
    }
    let anonymous = app.client.get(app.url("/api/v1/payments/?policy_number=x")).send().await?;
    ensure(anonymous.status() == StatusCode::UNAUTHORIZED, "listing without a token")?;
    ensure(attempts(&app, &uuid).await?.is_empty(), "nothing was attempted")?;

    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/payments/{unknown}/"),
        format!("/api/v1/payments/{unknown}"),
        "/api/v1/payments/not-a-uuid/".to_owned(),
    ] {
        let (status, _) = get(&app, &token, &path).await?;
        ensure(status == StatusCode::NOT_FOUND, format!("GET {path}: {status}"))?;
        let (status, _) =
            post(&app, &token, &format!("{}/take-payment/", path.trim_end_matches('/')), &card)
                .await?;
        ensure(status == StatusCode::NOT_FOUND, format!("take-payment on {path}: {status}"))?;
    }
    let (status, _) =
        post(&app, &token, "/api/v1/payments/", &json!({ "policy_number": "NO/SUCH/POLICY" }))
            .await?;
    ensure(status == StatusCode::NOT_FOUND, format!("an unknown policy: {status}"))?;

    // The merchant system's own token (client credentials) sees the payment too.
    let merchant: Value = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", MERCHANT_CLIENT_ID),
            ("client_secret", settle::demo::MERCHANT_CLIENT_SECRET),
        ])
        .send()
        .await?
        .json()
        .await?;
    let merchant = merchant["access_token"].as_str().context("merchant token")?;
    let (status, seen) = get(&app, merchant, &format!("/api/v1/payments/{uuid}/")).await?;
    ensure(status == StatusCode::OK && seen["uuid"] == uuid.as_str(), "the merchant sees it")
}

pub async fn idempotency_key_replays_take_payment(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let uuid = uuid_of(&prepare(&app, &token, CARD_POLICY_NUMBER).await?)?;
    let path = app.url(&format!("/api/v1/payments/{uuid}/take-payment/"));
    let send = |body: Value| {
        app.client
            .post(&path)
            .bearer_auth(&token)
            .header("idempotency-key", "seed-003-take-1")
            .json(&body)
            .send()
    };
    let first = send(with_policy_address("4000000000000002", "VISA")).await?;
    ensure(first.status() == StatusCode::OK, format!("first: {}", first.status()))?;
    let first = first.text().await?;
    let replay = send(with_policy_address("4000000000000002", "VISA")).await?;
    ensure(replay.status() == StatusCode::OK, "replayed")?;
    ensure(replay.text().await? == first, "the first answer, replayed")?;
    ensure(attempts(&app, &uuid).await?.len() == 1, "one attempt for one key")?;
    // Another request under the same key (the fingerprint leaves card data out, so it differs
    // elsewhere: the name on the card).
    let mut another = with_policy_address("4462000000000003", "VISA");
    another["card_details"]["card_holder"] = json!("T MOKOENA");
    let other = send(another).await?;
    ensure(
        other.status() == StatusCode::UNPROCESSABLE_ENTITY,
        format!("the key with another body: {}", other.status()),
    )?;
    ensure(attempts(&app, &uuid).await?.len() == 1, "still one attempt")
}
