//! Seed 000 (`/api/v3/payment/...`) followed literally, over HTTP, as a client written from the
//! document would: list gateways, initiate (the three actions), token with the client's return
//! URL, the customer on the gateway's page, the gateway's return to `process/`, the redirect to
//! the client, status and complete, Apple Pay session validation, and the background sweep that
//! settles a payment whose return never came.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use settle::checkout::InvoiceActivation;
use settle::checkout::return_to::set_completion_page;
use settle::demo::{CARD_POLICY_NUMBER, MERCHANT_CLIENT_ID, POLICY_NUMBER};
use settle::merchant::{Merchant, NewMerchant};
use settle::purchase::Purchase;

use crate::support::{TestApp, ensure, eventually, html_forms, location};

/// Where the demo client wants its customers back (an origin the demo merchant registered).
const CLIENT_RETURN: &str = "http://localhost:8080/checkout/done?cart=7";

/// Sends a request and returns the status and the JSON body (`null` if there is none).
async fn call(request: RequestBuilder) -> Result<(u16, Value)> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).with_context(|| format!("{status}: not JSON: {text}"))?
    };
    Ok((status, body))
}

async fn get(
    app: &TestApp,
    token: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<(u16, Value)> {
    call(app.client.get(app.url(path)).bearer_auth(token).query(query)).await
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Result<(u16, Value)> {
    call(app.client.post(app.url(path)).bearer_auth(token).json(&body)).await
}

async fn initiate(app: &TestApp, token: &str, policy: &str, gateway: &str) -> Result<Value> {
    let (status, body) = post(
        app,
        token,
        "/api/v3/payment/initiate/",
        json!({ "policy_number": policy, "gateway": gateway }),
    )
    .await?;
    ensure(status == 200, format!("initiate {policy} via {gateway}: {status} {body}"))?;
    Ok(body)
}

/// Seed 000's token call with the client's return URL; checks the answer's shape.
async fn payment_token(app: &TestApp, token: &str, policy: &str, url: &str) -> Result<Value> {
    let (status, body) =
        get(app, token, "/api/v3/payment/token/", &[("url", url), ("policy_number", policy)])
            .await?;
    ensure(status == 200, format!("token: {status} {body}"))?;
    ensure(keys(&body) == ["form", "status", "token", "url"], format!("token keys: {body}"))?;
    ensure(body["status"] == "OK", format!("status OK: {body}"))?;
    Ok(body)
}

async fn status_of(app: &TestApp, token: &str, payment: &str) -> Result<Value> {
    let (status, body) = get(app, token, "/api/v3/payment/status/", &[("token", payment)]).await?;
    ensure(status == 200, format!("status: {status} {body}"))?;
    Ok(body)
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> =
        value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    keys.sort_unstable();
    keys
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The customer's browser on the gateway's page: clicks `button` and returns where the page
/// sends it (the gateway's return to Settle).
async fn customer_pays(app: &TestApp, url: &str, button: &str) -> Result<String> {
    let page = app.client.get(url).send().await?.text().await?;
    let form = html_forms(&page)
        .into_iter()
        .find(|f| f.action.contains("/pay/"))
        .context("the payment form on the gateway's page")?;
    let response = app.client.post(&form.action).form(&form.submission(button)?).send().await?;
    ensure(response.status().is_redirection(), format!("the page answers {}", response.status()))?;
    Ok(location(&response))
}

/// Follows the gateway's return to Settle and returns where Settle sends the customer.
async fn gateway_return(app: &TestApp, back: &str) -> Result<url::Url> {
    ensure(back.contains("/api/v3/payment/process/"), format!("back to process/: {back}"))?;
    let response: Response = app.client.get(back).send().await?;
    ensure(response.status().is_redirection(), format!("process/ answers {}", response.status()))?;
    Ok(url::Url::parse(&location(&response))?)
}

fn query_value(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The sandbox loses every hosted-checkout notification, so the customer's return (or the
/// sweep) is what tells Settle; the notification path is covered by payments.rs.
async fn drop_notifications(app: &TestApp) -> Result<()> {
    app.set_faults("hosted-checkout", json!({ "drop_notification_rate": 1.0 })).await
}

async fn wait_for_policy_messages(app: &TestApp, reference: &str) -> Result<()> {
    eventually("the policy email and SMS are written", Duration::from_secs(10), || async {
        Ok(app.messages_for(reference).await?.len() == 2)
    })
    .await?;
    let messages = app.messages_for(reference).await?;
    ensure(
        messages[0] == ("email".into(), "customer@settle.test".into()) && messages[1].0 == "sms",
        format!("email to Thandi and an SMS: {messages:?}"),
    )
}

pub async fn gateways_are_listed_per_policy(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let motor = json!([
        { "gateway": "payfort-aed", "name": "Payfort", "provider": "payfort" },
        { "gateway": "applepay-aed", "name": "Apple Pay", "provider": "payfort" },
        { "gateway": "invoice", "name": "Invoice", "provider": "Democrance" },
    ]);
    let policy = [("policy_number", POLICY_NUMBER)];
    for path in ["/api/v3/payment/gateways/", "/api/v3/payment/gateways"] {
        let (status, body) = get(&app, &token, path, &policy).await?;
        ensure(status == 200 && body == motor, format!("GET {path}: {status} {body}"))?;
        let (status, body) =
            call(app.client.post(app.url(path)).bearer_auth(&token).query(&policy)).await?;
        ensure(status == 200 && body == motor, format!("POST {path} (query): {status} {body}"))?;
    }
    // POST may carry the policy number in a JSON or form body.
    let path = "/api/v3/payment/gateways/";
    let (status, body) =
        post(&app, &token, path, json!({ "policy_number": POLICY_NUMBER })).await?;
    ensure(status == 200 && body == motor, format!("POST (JSON): {status} {body}"))?;
    let (status, body) =
        call(app.client.post(app.url(path)).bearer_auth(&token).form(&policy)).await?;
    ensure(status == 200 && body == motor, format!("POST (form): {status} {body}"))?;

    // A single gateway is still a list.
    let (status, body) = get(&app, &token, path, &[("policy_number", CARD_POLICY_NUMBER)]).await?;
    ensure(
        status == 200
            && body == json!([{ "gateway": "sagepay-gbp", "name": "Card", "provider": "sagepay" }]),
        format!("one gateway, in a list: {body}"),
    )?;

    // Without a policy number: every gateway the merchant's policy products offer, once each.
    let (status, body) = get(&app, &token, path, &[]).await?;
    let ids: Vec<String> =
        body.as_array().into_iter().flatten().map(|g| text(&g["gateway"])).collect();
    ensure(
        status == 200 && ids == ["payfort-aed", "applepay-aed", "invoice", "sagepay-gbp"],
        format!("the merchant's set: {status} {body}"),
    )?;

    let (status, body) = get(&app, &token, path, &[("policy_number", "NO/SUCH/POLICY")]).await?;
    ensure(status == 404 && body["status"] == 404, format!("unknown policy: {status} {body}"))?;
    let anonymous = app.client.get(app.url(path)).query(&policy).send().await?;
    ensure(anonymous.status() == 401, format!("no bearer token: {}", anonymous.status()))
}

pub async fn initiate_payment_required_redirects_to_the_hosted_page(app: TestApp) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    let first = initiate(&app, &token, POLICY_NUMBER, "payfort-aed").await?;
    ensure(keys(&first) == ["action", "token", "url"], format!("the seed's keys: {first}"))?;
    ensure(first["action"] == "Payment required", format!("action: {first}"))?;
    let url = text(&first["url"]);
    ensure(url.contains("/sandbox/hosted-checkout/pay/"), format!("the gateway's page: {url}"))?;
    ensure(text(&first["token"]).starts_with("PAY-"), "Settle's payment reference")?;
    let status = status_of(&app, &token, &text(&first["token"])).await?;
    ensure(
        status["status"] == "AWAITING_CUSTOMER"
            && status["payment_status"] == 2
            && status["amount"] == "5100.00"
            && status["currency"] == "AED"
            && status["gateway"] == "payfort-aed"
            && status["policy_status"] == "quoted"
            && status["url"] == url.as_str(),
        format!("awaiting the customer: {status}"),
    )?;

    // Initiating again (without the slash, with the optional return `url`) replaces the attempt.
    let (code, second) = post(
        &app,
        &token,
        "/api/v3/payment/initiate",
        json!({ "policy_number": POLICY_NUMBER, "gateway": "payfort-aed", "url": CLIENT_RETURN }),
    )
    .await?;
    ensure(code == 200 && second["token"] != first["token"], format!("a new attempt: {second}"))?;
    let replaced = status_of(&app, &token, &text(&first["token"])).await?;
    ensure(replaced["status"] == "CANCELLED", format!("the first is cancelled: {replaced}"))?;

    let back = customer_pays(&app, &text(&second["url"]), "Pay").await?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        client.as_str().starts_with("http://localhost:8080/checkout/done?cart=7&")
            && query_value(&client, "status").as_deref() == Some("POLICY_CONVERTED"),
        format!("back to the client with the outcome: {client}"),
    )?;
    ensure(app.service(POLICY_NUMBER).await?.status == "active", "the policy is active")?;

    // Idempotency-Key: the same request replays the first answer instead of starting again.
    let other = "DEMO/0300/IDEM/WEB";
    app.new_policy(other, "100.00", InvoiceActivation::OnPayment).await?;
    let send = || {
        app.client
            .post(app.url("/api/v3/payment/initiate/"))
            .bearer_auth(&token)
            .header("idempotency-key", "checkout-300")
            .json(&json!({ "policy_number": other, "gateway": "payfort-aed" }))
    };
    let once = send().send().await?;
    let once_body: Value = once.json().await?;
    let twice = send().send().await?;
    ensure(
        twice.headers().get("idempotent-replayed").is_some_and(|v| v == "true"),
        "the second answer is a replay",
    )?;
    let twice_body: Value = twice.json().await?;
    ensure(once_body == twice_body, format!("the same answer: {once_body} / {twice_body}"))
}

pub async fn no_payment_required_when_nothing_is_owed(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let free = "DEMO/0100/FREE/WEB";
    app.new_policy(free, "0.00", InvoiceActivation::OnPayment).await?;
    let started = initiate(&app, &token, free, "payfort-aed").await?;
    ensure(
        started["action"] == "No payment required" && started["url"].is_null(),
        format!("nothing to pay, no redirect: {started}"),
    )?;
    let reference = text(&started["token"]);
    ensure(reference.starts_with("PAY-"), "a token all the same")?;
    let policy = app.service(free).await?;
    ensure(policy.status == "active", format!("activated at once: {}", policy.status))?;
    ensure(policy.period_end.is_some(), "with its period")?;
    let status = status_of(&app, &token, &reference).await?;
    ensure(
        status["status"] == "POLICY_CONVERTED" && status["amount"] == "0.00",
        format!("settled for zero: {status}"),
    )?;
    wait_for_policy_messages(&app, &reference).await?;

    // The policy is paid now: another initiate is a conflict.
    let (code, body) = post(
        &app,
        &token,
        "/api/v3/payment/initiate/",
        json!({ "policy_number": free, "gateway": "invoice" }),
    )
    .await?;
    ensure(code == 409 && body["status"] == 409, format!("already paid: {code} {body}"))
}

pub async fn invoiced_policies_follow_the_product_rule(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    // The demo product waits for the invoice to be paid (the default rule).
    let invoiced = initiate(&app, &token, POLICY_NUMBER, "invoice").await?;
    ensure(
        invoiced["action"] == "Payment to be invoiced" && invoiced["url"].is_null(),
        format!("invoiced: {invoiced}"),
    )?;
    let status = status_of(&app, &token, &text(&invoiced["token"])).await?;
    ensure(
        status["status"] == "INVOICED"
            && status["payment_status"] == 4
            && status["policy_status"] == "quoted",
        format!("the invoice is issued and the policy waits: {status}"),
    )?;

    // A product whose rule is "activate now, bill later".
    let later = "DEMO/0200/INVOICE/WEB";
    app.new_policy(later, "1000.00", InvoiceActivation::OnInvoice).await?;
    let invoiced = initiate(&app, &token, later, "invoice").await?;
    ensure(invoiced["action"] == "Payment to be invoiced", format!("invoiced: {invoiced}"))?;
    let status = status_of(&app, &token, &text(&invoiced["token"])).await?;
    ensure(
        status["status"] == "INVOICED"
            && status["amount"] == "1050.00"
            && status["policy_status"] == "active",
        format!("active before it is paid: {status}"),
    )?;
    let policy = app.service(later).await?;
    ensure(
        policy.period_start.is_some() && policy.period_end.is_none(),
        "cover starts now; the paid-up period is set when the invoice is paid",
    )
}

pub async fn initiate_refuses_bad_input(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let path = "/api/v3/payment/initiate/";
    let (code, body) = post(&app, &token, path, json!({})).await?;
    let fields: Vec<String> =
        body["errors"].as_array().into_iter().flatten().map(|e| text(&e["field"])).collect();
    ensure(
        code == 422 && fields == ["policy_number", "gateway"],
        format!("errors per field: {code} {body}"),
    )?;
    let (code, body) =
        post(&app, &token, path, json!({ "policy_number": 17, "gateway": "invoice" })).await?;
    ensure(
        code == 422 && body["errors"][0]["message"] == "must be a string",
        format!("a number is not a policy number: {code} {body}"),
    )?;
    let (code, _) = call(
        app.client
            .post(app.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await?;
    ensure(code == 400, format!("a broken body: {code}"))?;
    for (policy, gateway, field) in [
        (POLICY_NUMBER, "sagepay-gbp", "gateway"),
        (POLICY_NUMBER, "no-such-gateway", "gateway"),
        (CARD_POLICY_NUMBER, "sagepay-gbp", "gateway"),
    ] {
        let (code, body) =
            post(&app, &token, path, json!({ "policy_number": policy, "gateway": gateway }))
                .await?;
        ensure(
            code == 422 && body["errors"][0]["field"] == field,
            format!("{policy} via {gateway}: {code} {body}"),
        )?;
    }
    let (code, body) = post(
        &app,
        &token,
        path,
        json!({ "policy_number": POLICY_NUMBER, "gateway": "payfort-aed", "url": "https://evil.example/" }),
    )
    .await?;
    ensure(
        code == 422 && body["errors"][0]["field"] == "url",
        format!("an unregistered return URL: {code} {body}"),
    )?;
    let (code, _) = post(
        &app,
        &token,
        path,
        json!({ "policy_number": "NO/SUCH/POLICY", "gateway": "invoice" }),
    )
    .await?;
    ensure(code == 404, format!("unknown policy: {code}"))?;
    let anonymous = app
        .client
        .post(app.url(path))
        .json(&json!({ "policy_number": POLICY_NUMBER, "gateway": "invoice" }))
        .send()
        .await?;
    ensure(anonymous.status() == 401, format!("no bearer token: {}", anonymous.status()))?;
    // A form body works too.
    let (code, body) = call(
        app.client
            .post(app.url(path))
            .bearer_auth(&token)
            .form(&[("policy_number", POLICY_NUMBER), ("gateway", "invoice")]),
    )
    .await?;
    ensure(
        code == 200 && body["action"] == "Payment to be invoiced",
        format!("form body: {code} {body}"),
    )
}

pub async fn token_flow_pays_and_returns_to_the_client(app: TestApp) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    // The customer clicks "Purchase" on the client's summary page: the client asks for a token.
    let checkout = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let url = text(&checkout["url"]);
    let reference = text(&checkout["token"]);
    ensure(url.contains("/sandbox/hosted-checkout/pay/"), format!("the gateway's page: {url}"))?;
    ensure(reference.starts_with("PAY-"), format!("Settle's payment reference: {reference}"))?;
    let form = html_forms(&text(&checkout["form"]));
    ensure(
        form.len() == 1 && form[0].action == url && form[0].method == "get",
        format!("a form that takes the browser to the gateway: {}", checkout["form"]),
    )?;

    // The client redirects the browser; the customer pays; the gateway sends them to process/.
    let back = customer_pays(&app, &url, "Pay").await?;
    ensure(
        back.contains(&format!("token={reference}")),
        format!("the return names the token: {back}"),
    )?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        client.origin().ascii_serialization() == "http://localhost:8080"
            && client.path() == "/checkout/done"
            && query_value(&client, "cart").as_deref() == Some("7")
            && query_value(&client, "reference").as_deref() == Some(reference.as_str())
            && query_value(&client, "status").as_deref() == Some("POLICY_CONVERTED")
            && query_value(&client, "payment_status").as_deref() == Some("11"),
        format!("back to the client's URL with the outcome: {client}"),
    )?;

    // The client's pages ask where things stand.
    let status = status_of(&app, &token, &reference).await?;
    ensure(
        status["status"] == "POLICY_CONVERTED"
            && status["payment_status"] == 11
            && status["final"] == true
            && status["policy_number"] == POLICY_NUMBER
            && status["policy_status"] == "active"
            && !status["policy_end"].is_null()
            && status["failure_reason"].is_null(),
        format!("paid and active: {status}"),
    )?;
    let (code, done) =
        get(&app, &token, "/api/v3/payment/complete/", &[("token", reference.as_str())]).await?;
    ensure(code == 200 && done == status, format!("complete (GET) agrees: {done}"))?;
    let (code, done) =
        post(&app, &token, "/api/v3/payment/complete", json!({ "token": reference })).await?;
    ensure(
        code == 200 && done["status"] == "POLICY_CONVERTED",
        format!("complete (POST): {done}"),
    )?;
    wait_for_policy_messages(&app, &reference).await?;

    // Paid: a new token is refused, in the token answer's shape.
    let (code, again) = get(
        &app,
        &token,
        "/api/v3/payment/token/",
        &[("url", CLIENT_RETURN), ("policy_number", POLICY_NUMBER)],
    )
    .await?;
    ensure(
        code == 409 && again["token"].is_null() && text(&again["status"]).contains("already paid"),
        format!("already paid: {code} {again}"),
    )
}

pub async fn token_refuses_unregistered_return_urls(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let path = "/api/v3/payment/token/";
    let refused = |url: &'static str| {
        let (app, token) = (&app, token.clone());
        async move { get(app, &token, path, &[("url", url), ("policy_number", POLICY_NUMBER)]).await }
    };
    for url in [
        "https://evil.example/steal",
        "http://localhost:9999/done",
        "/checkout/done",
        "javascript:alert(1)",
    ] {
        let (code, body) = refused(url).await?;
        ensure(
            code == 422
                && body["url"].is_null()
                && body["token"].is_null()
                && body["form"].is_null()
                && body["status"] != "OK"
                && body["errors"][0]["field"] == "url",
            format!("{url} is refused with a reason: {code} {body}"),
        )?;
    }
    let (code, body) = get(&app, &token, path, &[("policy_number", POLICY_NUMBER)]).await?;
    ensure(code == 422 && text(&body["status"]).starts_with("url:"), format!("no url: {body}"))?;
    let (code, body) = get(&app, &token, path, &[("url", CLIENT_RETURN)]).await?;
    ensure(code == 422, format!("no policy number: {body}"))?;
    let (code, body) =
        get(&app, &token, path, &[("url", CLIENT_RETURN), ("policy_number", "NO/SUCH")]).await?;
    ensure(code == 404 && body["status"] == "No such policy.", format!("unknown: {body}"))?;
    let service = app.service(POLICY_NUMBER).await?;
    let purchase = Purchase::open_for_service(&app.db, &service.id).await?;
    let attempts = settle::payment::Payment::for_purchase(&app.db, &purchase[0].id).await?;
    ensure(attempts.is_empty(), "no payment was started for a refused request")?;

    // A registered URL works, with or without the slash; asking again (the client's page was
    // reloaded) gives the same checkout, now returning to the newest URL.
    let first = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let (code, again) = get(
        &app,
        &token,
        "/api/v3/payment/token",
        &[("url", "http://127.0.0.1:3000/thanks"), ("policy_number", POLICY_NUMBER)],
    )
    .await?;
    ensure(
        code == 200 && again["token"] == first["token"] && again["url"] == first["url"],
        format!("the same checkout: {first} / {again}"),
    )?;
    let back = customer_pays(&app, &text(&again["url"]), "Cancel").await?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        client.as_str().starts_with("http://127.0.0.1:3000/thanks?"),
        format!("the newest return URL: {client}"),
    )?;

    // Idempotency-Key on token: the same request replays.
    let send = || {
        app.client
            .get(app.url(path))
            .bearer_auth(&token)
            .header("idempotency-key", "token-41")
            .query(&[("url", CLIENT_RETURN), ("policy_number", POLICY_NUMBER)])
    };
    let once: Value = send().send().await?.json().await?;
    let twice = send().send().await?;
    ensure(twice.headers().get("idempotent-replayed").is_some_and(|v| v == "true"), "replayed")?;
    let twice: Value = twice.json().await?;
    ensure(once == twice, format!("the same answer: {once} / {twice}"))
}

pub async fn return_url_given_to_token_carries_over_to_initiate(app: TestApp) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    // The client asks for a token with its return URL, then (the customer picked another way on
    // its page) initiates, whose payload has no URL: the URL it gave for the policy still holds.
    let first = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let started = initiate(&app, &token, POLICY_NUMBER, "payfort-aed").await?;
    ensure(started["token"] != first["token"], "initiate starts a new attempt")?;
    let back = customer_pays(&app, &text(&started["url"]), "Pay").await?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        client.as_str().starts_with("http://localhost:8080/checkout/done?cart=7&")
            && query_value(&client, "reference") == Some(text(&started["token"]))
            && query_value(&client, "status").as_deref() == Some("POLICY_CONVERTED"),
        format!("back to the URL the client gave with the token: {client}"),
    )
}

pub async fn without_a_return_url_the_merchants_completion_page_is_used(
    app: TestApp,
) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    let merchant =
        Merchant::by_client_id(&app.db, MERCHANT_CLIENT_ID).await?.context("merchant")?;

    // Nothing configured: the customer lands on their status page in Settle.
    let started = initiate(&app, &token, POLICY_NUMBER, "payfort-aed").await?;
    let back = customer_pays(&app, &text(&started["url"]), "Cancel").await?;
    let response = app.client.get(&back).send().await?;
    ensure(
        location(&response) == format!("/account/payments/{}", text(&started["token"])),
        format!("Settle's status page: {}", location(&response)),
    )?;

    // A completion page for all of the merchant's gateways, and one for payfort-aed: the
    // gateway's own wins, with the outcome appended like a client's URL.
    let everywhere = "http://localhost:8080/paid";
    let payfort = "http://localhost:8080/paid/payfort";
    set_completion_page(&app.db, &merchant, None, everywhere).await?;
    set_completion_page(&app.db, &merchant, Some("payfort-aed"), payfort).await?;
    ensure(
        set_completion_page(&app.db, &merchant, None, "https://evil.example/paid").await.is_err(),
        "a completion page must be on a registered origin",
    )?;
    let started = initiate(&app, &token, POLICY_NUMBER, "payfort-aed").await?;
    let back = customer_pays(&app, &text(&started["url"]), "Pay").await?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        client.as_str().starts_with(&format!("{payfort}?"))
            && query_value(&client, "reference") == Some(text(&started["token"]))
            && query_value(&client, "status").as_deref() == Some("POLICY_CONVERTED"),
        format!("the gateway's completion page, with the outcome: {client}"),
    )
}

pub async fn declined_payment_returns_with_the_failure_then_a_retry_pays(
    app: TestApp,
) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    let first = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let back = customer_pays(&app, &text(&first["url"]), "Decline").await?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        client.as_str().starts_with("http://localhost:8080/checkout/done?cart=7&")
            && query_value(&client, "status").as_deref() == Some("PAYMENT_FAILED")
            && query_value(&client, "payment_status").as_deref() == Some("7"),
        format!("back to the client with the failure: {client}"),
    )?;
    let failed = status_of(&app, &token, &text(&first["token"])).await?;
    ensure(
        failed["status"] == "PAYMENT_FAILED"
            && failed["final"] == true
            && !failed["failure_reason"].is_null()
            && failed["policy_status"] == "quoted",
        format!("failed, with the reason: {failed}"),
    )?;

    // It is up to the client to retry: a second token is a new checkout, and it pays.
    let second = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    ensure(second["token"] != first["token"], "a new payment")?;
    let back = customer_pays(&app, &text(&second["url"]), "Pay").await?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        query_value(&client, "status").as_deref() == Some("POLICY_CONVERTED"),
        format!("the retry pays: {client}"),
    )?;
    ensure(app.service(POLICY_NUMBER).await?.status == "active", "the policy is active")
}

pub async fn missed_return_is_settled_by_the_sweep(app: TestApp) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    let checkout = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let reference = text(&checkout["token"]);
    // The customer pays but closes the tab: the return to process/ never comes.
    customer_pays(&app, &text(&checkout["url"]), "Pay").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = status_of(&app, &token, &reference).await?;
    ensure(waiting["status"] == "AWAITING_CUSTOMER", format!("nothing told Settle: {waiting}"))?;

    // The background sweep, once the gateway's settle-after time has passed.
    let past = Utc::now() - chrono::Duration::seconds(1);
    settle::with_db!(&app.db, pool => sqlx::query("UPDATE payments SET settle_by = $2 WHERE reference = $1")
        .bind(&reference).bind(past).execute(pool).await.map(|_| ()))?;
    let report = app.state.payments.reconcile().await?;
    ensure(report.settled >= 1, format!("the sweep settles it: {report:?}"))?;
    let settled = status_of(&app, &token, &reference).await?;
    ensure(
        settled["status"] == "POLICY_CONVERTED" && settled["policy_status"] == "active",
        format!("paid and the policy issued: {settled}"),
    )?;
    wait_for_policy_messages(&app, &reference).await
}

pub async fn forged_gateway_return_changes_nothing(app: TestApp) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    let checkout = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let reference = text(&checkout["token"]);
    // Someone calls process/ as if the gateway had sent the customer back after paying.
    let forged = app.url(&format!(
        "/api/v3/payment/process/?token={reference}&checkout_id=co_forged&status=succeeded"
    ));
    let client = gateway_return(&app, &forged).await?;
    ensure(
        query_value(&client, "status").as_deref() == Some("AWAITING_CUSTOMER"),
        format!("the gateway was asked; nothing is paid: {client}"),
    )?;
    let posted = app
        .client
        .post(app.url(&format!("/api/v3/payment/process/?token={reference}")))
        .form(&[("status", "succeeded"), ("checkout_id", "co_forged")])
        .send()
        .await?;
    ensure(posted.status().is_redirection(), format!("POST process/: {}", posted.status()))?;
    let status = status_of(&app, &token, &reference).await?;
    ensure(
        status["status"] == "AWAITING_CUSTOMER" && status["policy_status"] == "quoted",
        format!("unchanged: {status}"),
    )?;
    let unknown =
        app.client.get(app.url("/api/v3/payment/process/?token=PAY-NOSUCHTOKEN")).send().await?;
    ensure(unknown.status().is_client_error(), format!("unknown token: {}", unknown.status()))?;

    // The real customer can still pay.
    let back = customer_pays(&app, &text(&checkout["url"]), "Pay").await?;
    let client = gateway_return(&app, &back).await?;
    ensure(
        query_value(&client, "status").as_deref() == Some("POLICY_CONVERTED"),
        format!("paid for real: {client}"),
    )
}

pub async fn apple_pay_session_is_validated_for_an_initiated_payment(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let (code, started) = post(
        &app,
        &token,
        "/api/v3/payment/initiate/",
        json!({ "policy_number": POLICY_NUMBER, "gateway": "applepay-aed", "url": "http://localhost:8080/checkout" }),
    )
    .await?;
    ensure(
        code == 200 && started["action"] == "Payment required" && started["url"].is_null(),
        format!("Apple Pay needs no redirect: {code} {started}"),
    )?;
    let reference = text(&started["token"]);
    let body = json!({ "policy_number": POLICY_NUMBER, "gateway": "applepay-aed" });
    let mut expected = vec![
        "epochTimestamp",
        "expiresAt",
        "merchantSessionIdentifier",
        "nonce",
        "merchantIdentifier",
        "domainName",
        "displayName",
        "signature",
        "operationalAnalyticsIdentifier",
        "retries",
        "pspId",
    ];
    expected.sort_unstable();
    for path in ["/api/v3/payment/validate-session/", "/api/v3/payment/validate-session"] {
        let (code, session) = call(
            app.client
                .post(app.url(path))
                .bearer_auth(&token)
                .query(&[("token", reference.as_str())])
                .json(&body),
        )
        .await?;
        ensure(code == 200, format!("{path}: {code} {session}"))?;
        ensure(keys(&session) == expected, format!("the seed's keys, passed through: {session}"))?;
        ensure(
            session["domainName"] == "localhost" && session["displayName"] == "Demo Insurer & ISP",
            format!("for the client's domain, in the merchant's name: {session}"),
        )?;
    }

    // Refusals: no token, an unknown one, a gateway that isn't Apple Pay, another payment's.
    let validate = |query: Vec<(&'static str, String)>, body: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            call(
                app.client
                    .post(app.url("/api/v3/payment/validate-session/"))
                    .bearer_auth(token)
                    .query(&query)
                    .json(&body),
            )
            .await
        }
    };
    let (code, err) = validate(vec![], body.clone()).await?;
    ensure(code == 422 && err["errors"][0]["field"] == "token", format!("no token: {err}"))?;
    let (code, _) = validate(vec![("token", "PAY-NOSUCHTOKEN".into())], body.clone()).await?;
    ensure(code == 404, format!("unknown token: {code}"))?;
    let (code, err) = validate(
        vec![("token", reference.clone())],
        json!({ "policy_number": POLICY_NUMBER, "gateway": "payfort-aed" }),
    )
    .await?;
    ensure(code == 422 && err["errors"][0]["field"] == "gateway", format!("not Apple Pay: {err}"))?;
    let hosted = initiate(&app, &token, POLICY_NUMBER, "payfort-aed").await?;
    let (code, err) = validate(vec![("token", text(&hosted["token"]))], body).await?;
    ensure(
        code == 422 && text(&err["errors"][0]["message"]).contains("payfort-aed"),
        format!("a payfort payment: {err}"),
    )
}

pub async fn complete_asks_the_gateway_when_the_return_is_late(app: TestApp) -> Result<()> {
    drop_notifications(&app).await?;
    let token = app.merchant_token().await?;
    let checkout = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let reference = text(&checkout["token"]);
    customer_pays(&app, &text(&checkout["url"]), "Pay").await?;
    // Status reads what Settle knows; complete asks the gateway first.
    let status = status_of(&app, &token, &reference).await?;
    let mut expected = vec![
        "token",
        "status",
        "payment_status",
        "client_feedback",
        "final",
        "policy_number",
        "policy_status",
        "policy_start",
        "policy_end",
        "amount",
        "currency",
        "gateway",
        "url",
        "failure_reason",
        "updated_at",
    ];
    expected.sort_unstable();
    ensure(keys(&status) == expected, format!("status keys: {status}"))?;
    ensure(status["status"] == "AWAITING_CUSTOMER", format!("not told yet: {status}"))?;
    let (code, done) = call(
        app.client
            .post(app.url("/api/v3/payment/complete/"))
            .bearer_auth(&token)
            .form(&[("token", reference.as_str())]),
    )
    .await?;
    ensure(
        code == 200
            && done["status"] == "POLICY_CONVERTED"
            && done["client_feedback"] == "Your policy is ready"
            && done["policy_status"] == "active"
            && done["url"].is_null(),
        format!("complete settles it: {code} {done}"),
    )?;

    // Refusals, on both paths.
    for path in ["/api/v3/payment/status/", "/api/v3/payment/status", "/api/v3/payment/complete"] {
        let (code, body) = get(&app, &token, path, &[]).await?;
        ensure(code == 422 && body["errors"][0]["field"] == "token", format!("{path}: {body}"))?;
        let (code, _) = get(&app, &token, path, &[("token", "PAY-NOSUCHTOKEN")]).await?;
        ensure(code == 404, format!("{path} unknown token: {code}"))?;
    }
    // Another merchant sees nothing of it.
    Merchant::create(
        &app.db,
        NewMerchant {
            name: "Other insurer".into(),
            client_id: "other-client".into(),
            client_secret: "other-client-secret-123".into(),
            webhook_url: None,
            webhook_secret: None,
            return_origins: vec!["http://localhost:8080".into()],
        },
    )
    .await?;
    let other = app.client_token("other-client", "other-client-secret-123").await?;
    let (code, _) =
        get(&app, &other, "/api/v3/payment/status/", &[("token", reference.as_str())]).await?;
    ensure(code == 404, format!("another merchant's payment: {code}"))?;
    let (code, _) =
        get(&app, &other, "/api/v3/payment/gateways/", &[("policy_number", POLICY_NUMBER)]).await?;
    ensure(code == 404, format!("another merchant's policy: {code}"))
}

pub async fn gateway_notification_racing_the_return_pays_once(app: TestApp) -> Result<()> {
    // As in production: the gateway's signed notification and the customer's return both
    // report the payment, in either order.
    let token = app.merchant_token().await?;
    let checkout = payment_token(&app, &token, POLICY_NUMBER, CLIENT_RETURN).await?;
    let reference = text(&checkout["token"]);
    let back = customer_pays(&app, &text(&checkout["url"]), "Pay").await?;
    let client = gateway_return(&app, &back).await?;
    let outcome = query_value(&client, "status").unwrap_or_default();
    ensure(
        ["PAYMENT_SUCCESS", "CONVERTING_POLICY", "POLICY_CONVERTED"].contains(&outcome.as_str()),
        format!("the client hears it was paid: {client}"),
    )?;
    eventually("the policy is issued", Duration::from_secs(5), || async {
        let (_, done) =
            get(&app, &token, "/api/v3/payment/complete/", &[("token", reference.as_str())])
                .await?;
        Ok(done["status"] == "POLICY_CONVERTED" && done["policy_status"] == "active")
    })
    .await?;
    let payment = settle::payment::Payment::find_by_reference(&app.db, &reference)
        .await?
        .context("the payment")?;
    let successes = settle::payment::event::timeline(&app.db, &payment.id)
        .await?
        .into_iter()
        .filter(|e| e.to == Some(settle::payment::PaymentState::PaymentSuccess))
        .count();
    ensure(successes == 1, format!("paid once, however it was reported: {successes}"))?;
    wait_for_policy_messages(&app, &reference).await
}
