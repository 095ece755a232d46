//! Callbacks Settle doesn't take on their word: gateway notifications (unsigned, wrongly signed,
//! stale, replayed, or signed and lying) and 3-D Secure results the acquirer didn't issue.
//! None of them changes a payment.

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::json;
use settle::connector::signature;
use settle::demo::{CARD_POLICY_NUMBER, POLICY_NUMBER};
use settle::payment::{Payment, PaymentState};

use crate::support::{TestApp, ensure};

/// Posts a notification body with a signature header (or none).
async fn notify(
    app: &TestApp,
    gateway: &str,
    body: &[u8],
    signature: Option<String>,
) -> Result<u16> {
    let mut request = app
        .client
        .post(app.url(&format!("/gateway/notify/{gateway}")))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header(signature::HEADER, signature);
    }
    Ok(request.send().await?.status().as_u16())
}

/// The sandbox's key (what the demo gateways verify with in development).
fn sandbox_key() -> &'static str {
    settle::connector::SANDBOX_SIGNING_SECRET
}

pub async fn forged_notifications_change_nothing(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let started = app
        .call(
            Method::GET,
            &format!(
                "/api/v3/payment/token/?policy_number={}&url=http://localhost:8080/done",
                url::form_urlencoded::byte_serialize(POLICY_NUMBER.as_bytes()).collect::<String>()
            ),
            Some(&token),
            None,
            None,
        )
        .await?;
    let reference = started.body["token"].as_str().context("a payment")?.to_owned();
    let payment = Payment::find_by_reference(&app.db, &reference).await?.context("payment")?;
    let checkout = payment.gateway_reference.clone().context("the checkout id")?;
    let claim = |event: &str| {
        serde_json::to_vec(&json!({
            "event_id": event, "event_type": "checkout.completed", "checkout_id": checkout,
            "merchant_reference": reference, "status": "succeeded", "amount": "5100.00",
            "currency": "AED", "created_at": chrono::Utc::now()
        }))
    };
    let body = claim("evt_forged_1")?;
    let now = chrono::Utc::now();
    // Unsigned, signed with another key, signed long ago: refused before the body is read.
    ensure(notify(&app, "payfort-aed", &body, None).await? == 401, "unsigned")?;
    let wrong = signature::sign("not-the-gateways-key", &body, now);
    ensure(notify(&app, "payfort-aed", &body, Some(wrong)).await? == 401, "wrong key")?;
    let stale = signature::sign(sandbox_key(), &body, now - chrono::Duration::minutes(10));
    ensure(notify(&app, "payfort-aed", &body, Some(stale)).await? == 401, "stale")?;
    // Signed with the right key but untrue (the customer hasn't paid): Settle asks the gateway,
    // which says the checkout is still pending, so nothing changes.
    let lying = signature::sign(sandbox_key(), &body, now);
    ensure(notify(&app, "payfort-aed", &body, Some(lying.clone())).await? == 200, "verified")?;
    // Replayed: recorded as a duplicate, still nothing.
    ensure(notify(&app, "payfort-aed", &body, Some(lying)).await? == 200, "replayed")?;
    let after = Payment::find_by_reference(&app.db, &reference).await?.context("payment")?;
    ensure(
        after.state == PaymentState::AwaitingCustomer,
        format!("the checkout still waits for the customer: {}", after.state),
    )?;
    let policy = settle::service::Service::find_by_reference(&app.db, POLICY_NUMBER)
        .await?
        .context("policy")?;
    ensure(policy.status != "active", "the policy is not activated")?;
    // For a payment the gateway doesn't hold under that reference: 404, and not remembered.
    let unknown = serde_json::to_vec(&json!({
        "event_id": "evt_unknown", "checkout_id": "co_nobody", "merchant_reference": "PAY-NOBODY",
        "status": "succeeded"
    }))?;
    let signed = signature::sign(sandbox_key(), &unknown, now);
    ensure(notify(&app, "payfort-aed", &unknown, Some(signed)).await? == 404, "unknown payment")?;
    let sql = "SELECT COUNT(*) FROM gateway_notifications WHERE event_id = 'evt_unknown'";
    let kept: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
    ensure(kept == 0, "an unmatched notification is not remembered (its resend is processed)")
}

pub async fn a_forged_three_d_secure_result_leaves_the_payment_waiting(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    let taken = app
        .call(
            Method::POST,
            &format!("/api/v1/payments/{uuid}/take-payment/"),
            Some(&token),
            Some(&json!({
                "card_details": { "card_holder": "J SMITH", "card_number": "4000000000003220", "expiry_date": "1030", "cv2": "123" },
                "billing_use_policy_address": true
            })),
            None,
        )
        .await?;
    ensure(
        taken.body["payment_status_state"] == "PAYMENT_3DAUTH",
        format!("challenged: {taken:?}"),
    )?;
    let attempt = Payment::for_purchase(&app.db, &open_purchase(&app).await?)
        .await?
        .into_iter()
        .next()
        .context("the attempt")?;
    // Anyone can post to the completion URL: a made-up result changes nothing.
    let forged = app
        .client
        .post(app.url(&format!("/payments/{}/3ds-complete", attempt.reference)))
        .form(&[("cres", "eyJmb3JnZWQiOnRydWV9"), ("threeDSSessionData", "x")])
        .send()
        .await?;
    ensure(forged.status() == 422, format!("refused: {}", forged.status()))?;
    let page = forged.text().await?;
    ensure(
        page.contains("could not be confirmed") && page.contains("nothing was charged"),
        "the customer is told",
    )?;
    let polled = app
        .call(Method::GET, &format!("/api/v1/payments/{uuid}/"), Some(&token), None, None)
        .await?;
    ensure(
        polled.body["payment_status_state"] == "PAYMENT_3DAUTH" && polled.body["creq"].is_string(),
        format!("still waiting for its challenge: {}", polled.body),
    )?;
    // The genuine challenge still completes the payment.
    let field = |name: &str| polled.body[name].as_str().map(str::to_owned).context(name.to_owned());
    let (creq, acsurl, session) =
        (field("creq")?, field("acsurl")?, field("three_ds_session_data")?);
    let browser = app.new_client();
    let back = app.answer_challenge(&browser, &acsurl, &creq, &session, "Authenticate").await?;
    // A forged result races the genuine one while the acquirer is slow: the genuine one waits
    // for the forged one to be refused, then completes the payment.
    app.set_faults("card", json!({ "latency_ms": 400 })).await?;
    let forged = app
        .client
        .post(app.url(&format!("/payments/{}/3ds-complete", attempt.reference)))
        .form(&[("cres", "eyJmb3JnZWQiOnRydWV9"), ("threeDSSessionData", "x")])
        .send();
    let fields = back.submission("Continue")?;
    let genuine = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        browser.post(&back.action).form(&fields).send().await
    };
    let (forged, done) = tokio::join!(forged, genuine);
    ensure(forged?.status() == 422, "the forged result is refused")?;
    let done = done?;
    ensure(done.status() == 200, format!("genuine completion: {}", done.status()))?;
    crate::support::eventually("converted", std::time::Duration::from_secs(5), || async {
        let polled = app
            .call(Method::GET, &format!("/api/v1/payments/{uuid}/"), Some(&token), None, None)
            .await?;
        Ok(polled.body["payment_status_state"] == "POLICY_CONVERTED")
    })
    .await
}

async fn open_purchase(app: &TestApp) -> Result<settle::purchase::PurchaseId> {
    let quote = settle::service::Service::find_by_reference(&app.db, CARD_POLICY_NUMBER)
        .await?
        .context("quote")?;
    let sql = "SELECT id FROM purchases WHERE service_id = $1";
    let id: String = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(&quote.id).fetch_one(pool).await)?;
    Ok(settle::purchase::PurchaseId::from_string(id))
}
