//! Merchant webhooks as seed 001 describes them, received by a loopback receiver that verifies
//! every signature with the `standardwebhooks` crate: each payment moment, the document's
//! response cases and `pendingWebhooks`, secret rotation, a failing merchant next to a healthy
//! one, and kill -9 in the middle of a retry schedule.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{CARD_POLICY_NUMBER, ISP_SERVICE_ID, MERCHANT_CLIENT_ID};
use settle::merchant::{Merchant, MerchantId};
use settle::purchase::Purchase;
use settle::service::Service;
use settle::webhook::EventType;

use crate::support::process::{SandboxProcess, Scratch, ServerProcess};
use crate::support::receiver::{Delivered, Receiver, Reply};
use crate::support::{TestApp, TestDatabase, ensure, eventually, start_app};

const DECLINED_CARD: &str = "4000000000000002";
/// The sandbox acquirer's card that ends in a gateway error.
const ERROR_CARD: &str = "4000000000000119";
const GOOD_CARD: &str = "5185 6900 6000 0001";
const WAIT: Duration = Duration::from_secs(15);

/// Seed 003's take-payment with a card and the policy address; the answer's body.
async fn take_payment(
    app: &TestApp,
    token: &str,
    uuid: &str,
    card: &str,
    kind: &str,
) -> Result<Value> {
    let body = json!({
        "card_details": { "card_holder": "J SMITH", "card_number": card, "expiry_date": "1030",
                          "cv2": "123", "card_type": kind },
        "billing_use_policy_address": true
    });
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    let answer = app.call(Method::POST, &path, Some(token), Some(&body), None).await?;
    ensure(answer.status == 200, format!("take-payment: {answer:?}"))?;
    Ok(answer.body)
}

/// Creates the demo merchant's endpoint at `url` for `events`; the secret shown once.
async fn endpoint_secret(
    app: &TestApp,
    token: &str,
    url: &str,
    events: Option<&[&str]>,
) -> Result<String> {
    let created = app.set_webhook_endpoint(token, url, events).await?;
    ensure(created.status == 201, format!("a new endpoint is 201: {created:?}"))?;
    let secret = created.body["secret"].as_str().context("the secret, shown once")?.to_owned();
    ensure(secret.starts_with("whsec_"), format!("a whsec_ secret: {secret}"))?;
    Ok(secret)
}

async fn merchant_id(db: &settle::Db, client_id: &str) -> Result<MerchantId> {
    Ok(Merchant::by_client_id(db, client_id).await?.context("the merchant")?.id)
}

/// The demo ISP service's open purchase (an unpaid invoice): its public reference.
async fn open_isp_purchase(db: &settle::Db) -> Result<String> {
    let isp = Service::find_by_reference(db, ISP_SERVICE_ID).await?.context("isp")?;
    let open = Purchase::open_for_service(db, &isp.id).await?;
    Ok(open.first().context("an open purchase")?.reference.clone())
}

fn is_zoned_time(value: &Value) -> bool {
    value.as_str().is_some_and(|t| {
        t.ends_with('Z') && t.contains('.') && chrono::DateTime::parse_from_rfc3339(t).is_ok()
    })
}

/// Every delivery is signed as Standard Webhooks says, its `webhook-id` is its body's Long `id`.
fn check_signed(received: &[Delivered], secret: &str) -> Result<()> {
    for d in received {
        d.verify(secret)?;
        let id = d.json()["id"].as_i64().context("a Long id")?;
        ensure(d.header("webhook-id") == Some(id.to_string()), "webhook-id is the event id")?;
        ensure(d.header("content-type").as_deref() == Some("application/json"), "JSON")?;
    }
    Ok(())
}

pub async fn each_payment_moment_is_delivered_signed(app: TestApp) -> Result<()> {
    let receiver = Receiver::start().await?;
    let merchant = app.merchant_token().await?;
    let secret = endpoint_secret(&app, &merchant, &receiver.url(), None).await?;

    // A declined card, then a good one, on the demo quote (seed 003).
    let token = app.customer_token().await?;
    let uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    let failed = take_payment(&app, &token, &uuid, DECLINED_CARD, "VISA").await?;
    ensure(failed["payment_status_state"] == "PAYMENT_FAILED", format!("declined: {failed}"))?;
    receiver
        .wait_until("the decline's webhooks", WAIT, |r| {
            r.iter().any(|d| d.kind() == "invoice.payment_rejected")
                && r.iter().any(|d| d.kind() == "payment.failed")
        })
        .await?;
    let errored = take_payment(&app, &token, &uuid, ERROR_CARD, "VISA").await?;
    ensure(errored["payment_status_state"] == "TERMINAL_ERROR", format!("an error: {errored}"))?;
    receiver
        .wait_until("the error's webhook", WAIT, |r| {
            r.iter().any(|d| d.kind() == "invoice.payment_error")
        })
        .await?;
    take_payment(&app, &token, &uuid, GOOD_CARD, "MASTERCARD DEBIT").await?;

    // One webhook per moment: three attempts started, one rejected, one errored, one executed.
    // (Deliveries to one endpoint may overtake each other, so wait for all of them.)
    let expected: BTreeMap<String, usize> = [
        ("invoice.payment_initiated", 3),
        ("invoice.payment_rejected", 1),
        ("invoice.payment_error", 1),
        ("payment.failed", 2),
        ("invoice.payment_executed", 1),
        ("payment.succeeded", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    let total: usize = expected.values().sum();
    receiver.wait_until("every moment's webhook", WAIT, |r| r.len() >= total).await?;
    // Nothing more comes: no moment is announced twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    check_signed(&received, &secret)?;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for d in &received {
        *kinds.entry(d.kind()).or_default() += 1;
    }
    ensure(kinds == expected, format!("one webhook per moment: {kinds:?}"))?;
    let ids: BTreeSet<i64> = received.iter().filter_map(|d| d.json()["id"].as_i64()).collect();
    ensure(ids.len() == received.len(), "every event has its own id")?;

    // The document's "Payment Executed" body (with its type as Settle sends it).
    let executed = received
        .iter()
        .find(|d| d.kind() == "invoice.payment_executed")
        .context("executed")?
        .json();
    let data = &executed["data"];
    let payment = settle::payment::Payment::find_by_reference(
        &app.db,
        data["paymentNo"].as_str().context("paymentNo")?,
    )
    .await?
    .context("paymentNo is the payment's reference")?;
    let invoice = Purchase::find(&app.db, &payment.purchase_id).await?.context("the invoice")?;
    ensure(
        executed["pendingWebhooks"] == 7 && is_zoned_time(&executed["createdAt"]),
        format!("first of eight attempts, sent at a zoned time: {executed}"),
    )?;
    ensure(
        data["status"] == "PAID"
            && data["id"] == invoice.reference.as_str()
            && data["totalAmount"].is_number()
            && serde_json::to_string(&data["totalAmount"])?
                == payment.amount.to_decimal().to_string()
            && data["paymentMode"] == "CARD"
            && data["bankCode"].as_str().is_some_and(|b| !b.is_empty())
            && data["collector"] == data["bankCode"]
            && is_zoned_time(&data["paymentDate"])
            && data["additionalFields"] == json!([]),
        format!("the executed invoice: {data}"),
    )?;
    // Rejected and error bodies carry what the document's examples carry.
    for kind in ["invoice.payment_rejected", "invoice.payment_error"] {
        let body = received.iter().find(|d| d.kind() == kind).context("found above")?.json();
        let data = &body["data"];
        ensure(
            data["paymentNo"].is_string()
                && data["status"] == "UNPAID"
                && data["totalAmount"].is_number()
                && data["additionalFields"] == json!([])
                && data["bankCode"].is_null()
                && data["paymentMode"].is_null()
                && data["paymentDate"].is_null(),
            format!("{kind}: {data}"),
        )?;
    }
    // Settle's own payment view.
    let succeeded =
        received.iter().find(|d| d.kind() == "payment.succeeded").context("succeeded")?.json();
    let data = &succeeded["data"];
    ensure(
        data["reference"] == payment.reference.as_str()
            && data["status"] == "POLICY_CONVERTED"
            && data["amount"] == payment.amount.to_decimal().to_string().as_str()
            && data["currency"] == payment.amount.currency().code()
            && data["service"] == CARD_POLICY_NUMBER
            && data["period_end"].is_string(),
        format!("payment.succeeded: {data}"),
    )?;
    // Every attempt is in the log (recorded once its answer is in), answered 200 `ok`.
    eventually("one logged attempt each", WAIT, || async {
        Ok(app.webhook_deliveries(&merchant).await?.len() == received.len())
    })
    .await?;
    let log = app.webhook_deliveries(&merchant).await?;
    for a in &log {
        ensure(
            a["invocation"] == "SUCCESSFULL"
                && a["invocation_status"] == "INVOCATION_SUCCESS"
                && a["status_code"] == 200
                && a["response_body"] == "ok",
            format!("a successful attempt: {a}"),
        )?;
    }
    Ok(())
}

pub async fn a_500_then_no_response_then_200_follows_the_document(db: TestDatabase) -> Result<()> {
    let owned = start_app(
        &db,
        &[("webhook_retry_seconds", json!([1, 1])), ("webhook_timeout_seconds", json!(1))],
    )
    .await?;
    let app = &owned.app;
    let receiver = Receiver::start().await?;
    receiver.script(&[Reply::Status(500, "boom"), Reply::Hang, Reply::Status(200, "thanks")]);
    let merchant = app.merchant_token().await?;
    let secret =
        endpoint_secret(app, &merchant, &receiver.url(), Some(&["invoice.payment_executed"]))
            .await?;
    let token = app.customer_token().await?;
    let uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    take_payment(app, &token, &uuid, GOOD_CARD, "MASTERCARD DEBIT").await?;

    let received = receiver.wait_until("three attempts", WAIT, |r| r.len() >= 3).await?;
    check_signed(&received, &secret)?;
    let bodies: Vec<Value> = received.iter().map(Delivered::json).collect();
    let pending: Vec<&Value> = bodies.iter().map(|b| &b["pendingWebhooks"]).collect();
    ensure(pending == [&json!(2), &json!(1), &json!(0)], format!("attempts left: {pending:?}"))?;
    ensure(
        bodies
            .iter()
            .all(|b| b["id"] == bodies[0]["id"] && b["type"] == "invoice.payment_executed"),
        "the same event each time",
    )?;

    eventually("three logged attempts", WAIT, || async {
        Ok(app.webhook_deliveries(&merchant).await?.len() == 3)
    })
    .await?;
    let log = app.webhook_deliveries(&merchant).await?;
    let row = |a: &Value| {
        (
            a["attempt"].clone(),
            a["status_code"].clone(),
            a["invocation"].clone(),
            a["invocation_status"].clone(),
            a["sync_error"].clone(),
            a["response_body"].clone(),
            a["pending_webhooks"].clone(),
        )
    };
    let rows: Vec<_> = log.iter().map(row).collect();
    let expected = vec![
        (
            json!(1),
            json!(500),
            json!("FAILED"),
            json!("INVOCATION_FAIL"),
            Value::Null,
            json!("boom"),
            json!(2),
        ),
        (
            json!(2),
            Value::Null,
            json!("FAILED"),
            Value::Null,
            json!("SYNCH_UNAVAILABLE"),
            Value::Null,
            json!(1),
        ),
        (
            json!(3),
            json!(200),
            json!("SUCCESSFULL"),
            json!("INVOCATION_SUCCESS"),
            Value::Null,
            json!("thanks"),
            json!(0),
        ),
    ];
    ensure(rows == expected, format!("the document's three cases: {rows:?}"))?;
    ensure(
        log[1]["error"].as_str().is_some_and(|e| e.contains("timed out")),
        "no response: a timeout",
    )?;
    // The event keeps its latest outcome and the last body it got.
    let event_id = settle::webhook::EventId(bodies[0]["id"].as_i64().context("id")?);
    let event = settle::webhook::Event::find(&app.db, event_id).await?.context("the event")?;
    ensure(
        event.invocation.as_str() == "SUCCESSFULL"
            && event.attempts == 3
            && event.response_body.as_deref() == Some("thanks"),
        format!("the event's status: {event:?}"),
    )?;
    owned.stop().await;
    Ok(())
}

pub async fn the_endpoint_is_managed_through_the_api_and_rotates_with_an_overlap(
    app: TestApp,
) -> Result<()> {
    let merchant = app.merchant_token().await?;
    let path = "/api/webhook-endpoint";
    let none = app.call(Method::GET, path, Some(&merchant), None, None).await?;
    ensure(none.status == 404, format!("no endpoint yet: {none:?}"))?;
    let bad = app.set_webhook_endpoint(&merchant, "not a url", None).await?;
    ensure(bad.status == 422 && bad.body["errors"][0]["field"] == "url", format!("{bad:?}"))?;
    let bad = app
        .set_webhook_endpoint(&merchant, "https://shop.test/hooks", Some(&["invoice.nope"]))
        .await?;
    ensure(
        bad.status == 422 && bad.body["errors"][0]["field"] == "event_types[0]",
        format!("an unknown type: {bad:?}"),
    )?;
    let customer = app.customer_token().await?;
    let refused = app.set_webhook_endpoint(&customer, "https://shop.test/hooks", None).await?;
    ensure(refused.status == 403, format!("a customer's token may not: {refused:?}"))?;

    let receiver = Receiver::start().await?;
    let first = endpoint_secret(&app, &merchant, &receiver.url(), None).await?;
    let shown = app.call(Method::GET, path, Some(&merchant), None, None).await?;
    ensure(
        shown.status == 200
            && shown.body.get("secret").is_none()
            && shown.body["url"] == receiver.url().as_str()
            && shown.body["status"] == "healthy"
            && shown.body["event_types"].as_array().map(Vec::len) == Some(EventType::ALL.len()),
        format!("the endpoint without its secret: {shown:?}"),
    )?;
    let updated =
        app.set_webhook_endpoint(&merchant, &receiver.url(), Some(&["invoice.created"])).await?;
    ensure(
        updated.status == 200
            && updated.body.get("secret").is_none()
            && updated.body["event_types"] == json!(["invoice.created"]),
        format!("updated, secret kept: {updated:?}"),
    )?;

    let rotated = app
        .call(Method::POST, "/api/webhook-endpoint/rotate-secret", Some(&merchant), None, None)
        .await?;
    let second = rotated.body["secret"].as_str().context("the new secret")?.to_owned();
    ensure(
        rotated.status == 200
            && second.starts_with("whsec_")
            && second != first
            && rotated.body["previous_secret_expires_at"].is_string(),
        format!("rotated: {rotated:?}"),
    )?;

    // During the overlap both secrets sign: a verifier with either accepts the webhook.
    let demo = merchant_id(&app.db, MERCHANT_CLIENT_ID).await?;
    let purchase = open_isp_purchase(&app.db).await?;
    let id = settle::webhook::emit(&app.db, &demo, EventType::InvoiceCreated, &purchase).await?;
    ensure(id.is_some(), "an event for a subscribed type")?;
    let skipped =
        settle::webhook::emit(&app.db, &demo, EventType::PaymentSucceeded, &purchase).await?;
    ensure(skipped.is_none(), "no event for a type the endpoint doesn't take")?;
    let created = receiver.wait_for_kind("invoice.created", WAIT).await?;
    let signatures = created.header("webhook-signature").unwrap_or_default();
    ensure(signatures.split(' ').filter(|s| s.starts_with("v1,")).count() == 2, signatures)?;
    created.verify(&first)?;
    created.verify(&second)?;
    let data = created.json()["data"].clone();
    ensure(
        data["id"] == purchase.as_str()
            && data["status"] == "UNPAID"
            && data["paymentNo"].is_null(),
        format!("an unpaid invoice: {data}"),
    )?;
    ensure(receiver.received().len() == 1, "only the subscribed type arrived")
}

pub async fn a_failing_merchant_does_not_hold_up_another(db: TestDatabase) -> Result<()> {
    let owned = start_app(
        &db,
        &[("webhook_retry_seconds", json!([1, 1, 1])), ("webhook_timeout_seconds", json!(3))],
    )
    .await?;
    let app = &owned.app;
    let hanging = Receiver::start().await?;
    hanging.script(&vec![Reply::Hang; 50]);
    let healthy = Receiver::start().await?;
    let demo_token = app.merchant_token().await?;
    endpoint_secret(app, &demo_token, &hanging.url(), None).await?;
    let other_token = app.other_merchant().await?;
    let other_secret = endpoint_secret(app, &other_token, &healthy.url(), None).await?;
    let demo = merchant_id(&app.db, MERCHANT_CLIENT_ID).await?;
    let other = merchant_id(&app.db, "another-shop").await?;
    let purchase = open_isp_purchase(&app.db).await?;

    for _ in 0..8 {
        settle::webhook::emit(&app.db, &demo, EventType::InvoiceCreated, &purchase).await?;
    }
    hanging.wait_until("the first hanging delivery", WAIT, |r| !r.is_empty()).await?;
    let started = Instant::now();
    settle::webhook::emit(&app.db, &other, EventType::InvoiceCreated, &purchase).await?;
    let arrived = healthy.wait_for_kind("invoice.created", WAIT).await?;
    let took = started.elapsed();
    arrived.verify(&other_secret)?;
    ensure(
        took < Duration::from_millis(2500),
        format!("the other merchant's webhook took {took:?} (the hanging endpoint waits 3 s)"),
    )?;
    ensure(
        hanging.received().len() <= 2,
        format!(
            "at most two attempts at a time to the hanging endpoint: {}",
            hanging.received().len()
        ),
    )?;
    println!("other merchant's webhook arrived after {took:?} while the first merchant's hung");

    // The hanging endpoint now answers 500 at once: failed attempts in a row mark it failing.
    let failing = Receiver::start().await?;
    failing.fail_first(usize::MAX);
    let moved = app.set_webhook_endpoint(&demo_token, &failing.url(), None).await?;
    ensure(moved.status == 200, format!("{moved:?}"))?;
    eventually("the endpoint is failing", Duration::from_secs(30), || async {
        let shown =
            app.call(Method::GET, "/api/webhook-endpoint", Some(&demo_token), None, None).await?;
        Ok(shown.body["status"] == "failing")
    })
    .await?;
    let other_view =
        app.call(Method::GET, "/api/webhook-endpoint", Some(&other_token), None, None).await?;
    ensure(
        other_view.body["status"] == "healthy",
        format!("the other stays healthy: {other_view:?}"),
    )?;
    owned.stop().await;
    Ok(())
}

pub async fn kill_9_in_the_middle_of_a_retry_schedule_loses_no_webhook(
    db: TestDatabase,
) -> Result<()> {
    const EVENTS: usize = 5;
    let scratch = Scratch::new("webhooks-kill")?;
    let sandbox = SandboxProcess::start(&scratch).await?;
    let mut server = ServerProcess::start_with(
        &scratch,
        &db,
        &sandbox,
        &[("SETTLE_WEBHOOK_RETRY_SECONDS", "[6, 6]".to_owned())],
    )
    .await?;
    let receiver = Receiver::start().await?;
    receiver.fail_first(1);
    let merchant = server.merchant_token().await?;
    let created: Value = reqwest::Client::new()
        .put(server.url("/api/webhook-endpoint"))
        .bearer_auth(&merchant)
        .json(&json!({ "url": receiver.url(), "event_types": ["invoice.created"] }))
        .send()
        .await?
        .json()
        .await?;
    let secret = created["secret"].as_str().context("the secret")?.to_owned();

    let store = settle::Db::connect(&db.url, 2).await?;
    let demo = merchant_id(&store, MERCHANT_CLIENT_ID).await?;
    let purchase = open_isp_purchase(&store).await?;
    for _ in 0..EVENTS {
        settle::webhook::emit(&store, &demo, EventType::InvoiceCreated, &purchase).await?;
    }
    let count = |sql: &'static str| {
        let store = store.clone();
        async move {
            let n: i64 =
                settle::with_db!(&store, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
            anyhow::Ok(n)
        }
    };
    eventually("every first attempt failed and was logged", WAIT, || async {
        Ok(count("SELECT COUNT(*) FROM webhook_attempts").await? == EVENTS as i64)
    })
    .await?;
    // Each retry is due 6 s after its first attempt: kill the server before any is made, and
    // stay down past them.
    server.kill_9().await?;
    let pending =
        count("SELECT COUNT(*) FROM jobs WHERE kind = 'webhook.deliver' AND status = 'pending'")
            .await?;
    ensure(pending == EVENTS as i64, format!("{pending} retries waiting in the job table"))?;
    tokio::time::sleep(Duration::from_secs(7)).await;
    ensure(receiver.received().len() == EVENTS, "nothing was delivered while the server was down")?;
    server.restart().await?;

    let received = receiver
        .wait_until("every event retried", Duration::from_secs(20), |r| r.len() >= 2 * EVENTS)
        .await?;
    check_signed(&received, &secret)?;
    let mut per_event: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for d in &received {
        let body = d.json();
        per_event
            .entry(body["id"].as_i64().context("id")?)
            .or_default()
            .push(body["pendingWebhooks"].as_i64().context("pendingWebhooks")?);
    }
    ensure(
        per_event.len() == EVENTS && per_event.values().all(|p| p == &[2, 1]),
        format!("each event once failed, once delivered: {per_event:?}"),
    )?;
    eventually("every event delivered in the log", WAIT, || async {
        Ok(count(
            "SELECT COUNT(*) FROM webhook_events WHERE invocation = 'SUCCESSFULL' AND attempts = 2",
        )
        .await?
            == EVENTS as i64)
    })
    .await?;
    println!("kill -9 mid-schedule: {EVENTS} events, {} deliveries, none lost", received.len());
    store.close().await;
    Ok(())
}
