//! Money safety: no double charge, no lost charge, no payment stuck in doubt. Each test counts
//! the charges at the sandbox gateway itself, not just Settle's rows, and ends with the ledger
//! check.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{CARD_POLICY_NUMBER, POLICY_NUMBER};
use settle::payment::{Payment, PaymentState};
use settle::purchase::Purchase;
use settle::service::Service;

use crate::support::{TestApp, ensure, eventually, html_forms, location};

/// Concurrent attempts in each test: enough to overlap on two cores, bounded in time.
const CONCURRENT: usize = 20;

/// Seed 003's take-payment body with a frictionless test card.
fn take_payment_body(card: &str) -> Value {
    json!({
        "card_details": { "card_holder": "J SMITH", "card_number": card, "expiry_date": "1030", "cv2": "123" },
        "billing_use_policy_address": true
    })
}

/// Every attempt on a service's purchases.
async fn attempts(app: &TestApp, policy_number: &str) -> Result<Vec<Payment>> {
    let service = Service::find_by_reference(&app.db, policy_number).await?.context("service")?;
    let sql = "SELECT id FROM purchases WHERE service_id = $1";
    let purchases: Vec<String> = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(&service.id).fetch_all(pool).await)?;
    let mut all = Vec::new();
    for purchase in purchases {
        all.extend(
            Payment::for_purchase(&app.db, &settle::purchase::PurchaseId::from_string(purchase))
                .await?,
        );
    }
    Ok(all)
}

/// Exactly one successful attempt and exactly one charge at the gateway for the service, and
/// the ledger agrees with the gateways.
/// `what` names the test in the figures line it prints (attempts, charges, successes), which
/// CI's log keeps.
async fn charged_once(app: &TestApp, policy_number: &str, what: &str) -> Result<()> {
    let attempts = attempts(app, policy_number).await?;
    let references: Vec<String> = attempts.iter().map(|p| p.reference.clone()).collect();
    let paid = attempts.iter().filter(|p| p.state.is_success()).count();
    let charges = app.charges_for(&references).await?;
    let stuck = attempts.iter().filter(|p| p.state == PaymentState::Processing).count();
    eprintln!(
        "money safety ({:?}) {what}: {} attempts, {charges} charges at the gateway, {paid} successful payments, {stuck} in doubt",
        app.backend,
        attempts.len()
    );
    ensure(paid == 1, format!("{paid} successful attempts of {}", attempts.len()))?;
    ensure(charges == 1, format!("{charges} charges at the gateway for {references:?}"))?;
    let ledger = app.ledger().await?;
    ensure(ledger.is_clean(), format!("ledger: {ledger:?}"))
}

/// Seed 000's token for the demo policy: a hosted checkout the customer is sent to.
async fn hosted_token(app: &TestApp, token: &str) -> Result<crate::api_client::Answer> {
    let path = format!(
        "/api/v3/payment/token/?policy_number={POLICY_NUMBER}&url=http://localhost:8080/done"
    );
    app.call(Method::GET, &path, Some(token), None, None).await
}

/// How many answers had each status.
fn tally(statuses: &[u16]) -> String {
    let mut seen: Vec<(u16, usize)> = Vec::new();
    for s in statuses {
        match seen.iter_mut().find(|(k, _)| k == s) {
            Some((_, n)) => *n += 1,
            None => seen.push((*s, 1)),
        }
    }
    format!("{seen:?}")
}

pub async fn concurrent_take_payments_charge_once(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    // A slow acquirer, so the attempts overlap while the first is in flight.
    app.set_faults("card", json!({ "latency_ms": 300 })).await?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    let body = take_payment_body("4929 0000 0000 6");
    let keys: Vec<String> = (0..CONCURRENT).map(|i| format!("take-{i}")).collect();
    let answers = join_all(
        keys.iter().map(|key| app.call(Method::POST, &path, Some(&token), Some(&body), Some(key))),
    )
    .await;
    let mut statuses = Vec::new();
    for answer in answers {
        let answer = answer?;
        statuses.push(answer.status);
        match answer.status {
            200 => ensure(
                answer.body["payment_status"].as_i64().is_some_and(|s| [6, 10, 11].contains(&s)),
                format!("the one that ran succeeded: {}", answer.body),
            )?,
            409 => {}
            other => bail!("an attempt answered {other}: {}", answer.body),
        }
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    ensure(ok == 1, format!("one attempt runs, the others are refused: {}", tally(&statuses)))?;
    charged_once(&app, CARD_POLICY_NUMBER, "concurrent take-payment (seed 003)").await
}

pub async fn concurrent_api_payments_charge_once(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let service =
        Service::find_by_reference(&app.db, CARD_POLICY_NUMBER).await?.context("the quote")?;
    let purchase = Purchase::open_for_service(&app.db, &service.id).await?;
    let purchase = purchase.first().context("an open purchase")?;
    app.set_faults("card", json!({ "latency_ms": 300 })).await?;
    let body = json!({
        "purchase_id": purchase.id,
        "gateway": "sagepay-gbp",
        "method": "card",
        "card": { "holder": "J SMITH", "number": "4462000000000003", "expiry": "1030", "cvv": "123" },
        "billing_address": { "house": "21b", "postcode": "PE301JW" }
    });
    let keys: Vec<String> = (0..CONCURRENT).map(|i| format!("api-{i}")).collect();
    let answers =
        join_all(keys.iter().map(|key| {
            app.call(Method::POST, "/api/payments", Some(&token), Some(&body), Some(key))
        }))
        .await;
    let mut statuses = Vec::new();
    let mut in_progress = 0;
    for answer in answers {
        let answer = answer?;
        statuses.push(answer.status);
        if answer.status == 409 && answer.body["payment_reference"].is_string() {
            in_progress += 1;
        }
    }
    let created = statuses.iter().filter(|s| **s == 201).count();
    ensure(created == 1, format!("one payment is created: {}", tally(&statuses)))?;
    ensure(
        statuses.iter().all(|s| matches!(s, 201 | 409)),
        format!("the others are refused with 409: {}", tally(&statuses)),
    )?;
    ensure(in_progress > 0, "a refused attempt is told which payment is in progress")?;
    charged_once(&app, CARD_POLICY_NUMBER, "concurrent POST /api/payments").await
}

pub async fn concurrent_card_page_submits_charge_once(app: TestApp) -> Result<()> {
    app.log_in(settle::demo::CUSTOMER_EMAIL, settle::demo::CUSTOMER_PASSWORD, "/account").await?;
    app.set_faults("card", json!({ "latency_ms": 300 })).await?;
    let form = [
        ("policy", CARD_POLICY_NUMBER),
        ("gateway", "sagepay-gbp"),
        ("card_holder", "T MOKOENA"),
        ("card_number", "5186 1506 6000 0009"),
        ("expiry_date", "10/30"),
        ("cv2", "123"),
        ("billing_same", "on"),
    ];
    // A customer double-clicking (many times over) while the bank is slow.
    let answers =
        join_all((0..CONCURRENT).map(|_| app.post_form("/account/api/card_pay", &form))).await;
    let mut status_pages = Vec::new();
    for answer in answers {
        let answer = answer?;
        ensure(answer.status().is_redirection(), format!("a page post: {}", answer.status()))?;
        status_pages.push(location(&answer));
    }
    // Every submit ends on the status page of the one payment made.
    let references: std::collections::HashSet<&str> =
        status_pages.iter().filter_map(|l| l.strip_prefix("/account/payments/")).collect();
    ensure(references.len() == 1, format!("every submit shows one payment: {status_pages:?}"))?;
    charged_once(&app, CARD_POLICY_NUMBER, "concurrent card page submits").await
}

pub async fn a_replaced_hosted_checkout_is_cancelled_at_the_gateway(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let started = hosted_token(&app, &token).await?;
    ensure(started.status == 200, format!("token: {started:?}"))?;
    let first_page = started.body["url"].as_str().context("the hosted page")?.to_owned();
    // The client changes its mind: the policy is to be invoiced instead.
    let invoiced = app
        .call(
            Method::POST,
            "/api/v3/payment/initiate/",
            Some(&token),
            Some(&json!({ "policy_number": POLICY_NUMBER, "gateway": "invoice" })),
            None,
        )
        .await?;
    ensure(invoiced.body["action"] == "Payment to be invoiced", format!("{invoiced:?}"))?;
    // The first page can no longer take the customer's money.
    app.pay_on_hosted_page(&first_page).await?;
    let attempts = attempts(&app, POLICY_NUMBER).await?;
    let references: Vec<String> = attempts.iter().map(|p| p.reference.clone()).collect();
    ensure(app.charges_for(&references).await? == 0, "nothing was charged on the replaced page")?;
    let replaced =
        attempts.iter().find(|p| p.state == PaymentState::Cancelled).context("replaced")?;
    let causes: Vec<String> = settle::payment::event::timeline(&app.db, &replaced.id)
        .await?
        .into_iter()
        .map(|e| e.cause)
        .collect();
    ensure(
        causes.iter().any(|c| c.contains("cancelled at the gateway")),
        format!("the timeline says so: {causes:?}"),
    )?;
    let ledger = app.ledger().await?;
    ensure(ledger.is_clean(), format!("ledger: {ledger:?}"))
}

pub async fn money_that_reaches_a_lost_attempt_is_refunded(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let started = hosted_token(&app, &token).await?;
    let page_url = started.body["url"].as_str().context("the hosted page")?.to_owned();
    let reference = started.body["token"].as_str().context("the payment")?.to_owned();
    // As if the attempt had been given up here while the gateway could still take money
    // (a provider that can't cancel its pages): Settle's record says cancelled.
    settle::with_db!(&app.db, pool => sqlx::query("UPDATE payments SET state = 13, settle_by = NULL WHERE reference = $1")
        .bind(&reference).execute(pool).await.map(|_| ()))?;
    // The customer pays on the page anyway; the gateway tells Settle.
    let page = app.client.get(&page_url).send().await?.text().await?;
    let form = html_forms(&page)
        .into_iter()
        .find(|f| f.action.contains("/pay/"))
        .context("the payment form")?;
    let fields = form.submission("Pay")?;
    let action =
        if form.action.starts_with("http") { form.action.clone() } else { app.url(&form.action) };
    app.client.post(action).form(&fields).send().await?;
    // Settle refunds it through the gateway on its own, once, and its timeline tells it (the
    // event is written after the gateway's answer, so both are awaited together).
    let told = |causes: &[String]| {
        causes.iter().any(|c| c.contains("refunding it automatically"))
            && causes.iter().any(|c| c.starts_with("refunded"))
    };
    eventually("the stray charge is refunded", Duration::from_secs(10), || async {
        let payment = Payment::find_by_reference(&app.db, &reference).await?.context("payment")?;
        let causes = timeline_causes(&app, &payment).await?;
        Ok(app.charges_for(std::slice::from_ref(&reference)).await? == 0
            && refund_count(&app, &reference).await? == 1
            && told(&causes))
    })
    .await?;
    let payment = Payment::find_by_reference(&app.db, &reference).await?.context("payment")?;
    ensure(payment.state == PaymentState::Cancelled, "the attempt stays cancelled")?;
    let causes = timeline_causes(&app, &payment).await?;
    ensure(told(&causes), format!("the timeline tells it: {causes:?}"))?;
    let ledger = app.ledger().await?;
    ensure(ledger.is_clean(), format!("ledger after the refund: {ledger:?}"))
}

async fn refund_count(app: &TestApp, reference: &str) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.reference = $1 AND r.status = 'succeeded'";
    Ok(
        settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(reference).fetch_one(pool).await)?,
    )
}

pub async fn a_notification_ahead_of_the_answer_is_matched_by_reference(
    app: TestApp,
) -> Result<()> {
    // The acquirer takes the card and notifies at once, but its answer to Settle hangs past
    // Settle's timeout: the notification is all Settle hears, before it knows the acquirer's id.
    app.set_gateway_timeout("sagepay-gbp", 500).await?;
    app.set_faults("card", json!({ "hang_ms": 3000 })).await?;
    let payments = &app.state.payments;
    let service =
        Service::find_by_reference(&app.db, CARD_POLICY_NUMBER).await?.context("the quote")?;
    let purchase = Purchase::open_for_service(&app.db, &service.id).await?;
    let purchase = purchase.first().context("an open purchase")?;
    let card = settle::connector::CardDetails {
        holder: "J SMITH".into(),
        number: settle::card::CardNumber::parse("4000000000000259")?,
        expiry: settle::card::ExpiryDate::parse("1030")?,
        cvv: settle::card::Cvv::parse("123")?,
    };
    let payment = payments
        .start(settle::payment::PaymentRequest {
            payer: settle::access::Viewer::Staff,
            purchase_id: purchase.id.clone(),
            gateways: vec!["sagepay-gbp".into()],
            instrument: settle::payment::Instrument::Card {
                card,
                billing_address: settle::connector::Address {
                    postcode: Some("PE301JW".into()),
                    ..Default::default()
                },
            },
            return_to: None,
            details: json!({}),
            idempotency_key: None,
        })
        .await?;
    // Settle's answer timed out, but the notification (found by Settle's reference, confirmed
    // with the acquirer) has already settled it, or does so before the acquirer's answer ends.
    eventually("the notification settles the payment", Duration::from_secs(3), || async {
        let now = Payment::find(&app.db, &payment.id).await?.context("payment")?;
        Ok(now.state == PaymentState::PolicyConverted)
    })
    .await?;
    let sql = "SELECT COUNT(*) FROM gateway_notifications WHERE payment_id = $1";
    let remembered: i64 = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(&payment.id).fetch_one(pool).await)?;
    ensure(remembered >= 1, "the notification was matched to the payment")?;
    app.set_faults("card", json!({})).await?;
    charged_once(&app, CARD_POLICY_NUMBER, "notification ahead of the answer").await
}

pub async fn reconciliation_asks_soon_then_backs_off(app: TestApp) -> Result<()> {
    // The default schedule: 5 s, 30 s, 2 min, 10 min, 1 h.
    let policy = app.state.payments.reconcile_policy();
    let waits: Vec<u64> = (0..7).map(|i| policy.wait(i).as_secs()).collect();
    ensure(waits == [5, 30, 120, 600, 3600, 3600, 3600], format!("schedule: {waits:?}"))?;
    // A payment whose answer was lost is asked about after the first wait, not after minutes.
    app.set_gateway_timeout("sagepay-gbp", 300).await?;
    app.set_faults("card", json!({ "hang_ms": 1000, "drop_notification_rate": 1.0 })).await?;
    let token = app.customer_token().await?;
    let uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    let taken = app
        .call(Method::POST, &path, Some(&token), Some(&take_payment_body("4000000000000259")), None)
        .await?;
    ensure(taken.body["payment_status_state"] == "PROCESSING", format!("in doubt: {taken:?}"))?;
    let attempt =
        attempts(&app, CARD_POLICY_NUMBER).await?.into_iter().next().context("attempt")?;
    let due_in = attempt.settle_by.context("settle_by")? - attempt.updated_at;
    ensure(
        due_in <= chrono::Duration::seconds(6),
        format!("first ask due in {due_in} (possibly charged, so soon)"),
    )?;
    ensure(
        attempt.reconcile_attempts == 0,
        format!(
            "a lost answer is not an ask: the 30 s step comes next ({} asked)",
            attempt.reconcile_attempts
        ),
    )?;
    app.set_faults("card", json!({})).await?;
    // The server's own sweep settles it within the first wait or so.
    eventually("the sweep settles it", Duration::from_secs(12), || async {
        let (_, body) = app
            .call(Method::GET, &format!("/api/v1/payments/{uuid}/"), Some(&token), None, None)
            .await
            .map(|a| (a.status, a.body))?;
        Ok(body["payment_status_state"] == "POLICY_CONVERTED")
    })
    .await?;
    charged_once(&app, CARD_POLICY_NUMBER, "reconciliation after a lost answer").await
}

pub async fn a_retry_after_an_in_doubt_attempt_never_charges_again(app: TestApp) -> Result<()> {
    // The first request's answer is lost (the acquirer hangs past the timeout), as if Settle
    // had crashed mid-request; the client retries with the same key.
    app.set_gateway_timeout("sagepay-gbp", 300).await?;
    app.set_faults("card", json!({ "hang_ms": 1500, "drop_notification_rate": 1.0 })).await?;
    let token = app.customer_token().await?;
    let uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    let body = take_payment_body("4000000000000259");
    let first = app.call(Method::POST, &path, Some(&token), Some(&body), Some("retry-1")).await?;
    ensure(first.body["payment_status_state"] == "PROCESSING", format!("first: {first:?}"))?;
    // The key's lock expires (as after a crash); the retry must not start another attempt.
    settle::with_db!(&app.db, pool => sqlx::query("DELETE FROM idempotency_keys").execute(pool).await.map(|_| ()))?;
    let retry = app.call(Method::POST, &path, Some(&token), Some(&body), Some("retry-1")).await?;
    ensure(retry.status == 409, format!("in doubt, the retry waits: {retry:?}"))?;
    ensure(
        retry.headers.get("content-type").is_some_and(|v| v == "application/problem+json"),
        "a problem",
    )?;
    ensure(attempts(&app, CARD_POLICY_NUMBER).await?.len() == 1, "no second attempt")?;
    // Once the acquirer's word is in, the retry replays the outcome.
    app.set_faults("card", json!({})).await?;
    eventually("reconciliation settles the first attempt", Duration::from_secs(12), || async {
        let first = attempts(&app, CARD_POLICY_NUMBER).await?;
        Ok(first.iter().any(|p| p.state == PaymentState::PolicyConverted))
    })
    .await?;
    let replay = app.call(Method::POST, &path, Some(&token), Some(&body), Some("retry-1")).await?;
    ensure(
        replay.status == 200 && replay.body["payment_status_state"] == "POLICY_CONVERTED",
        format!("the retry gets the outcome: {replay:?}"),
    )?;
    ensure(attempts(&app, CARD_POLICY_NUMBER).await?.len() == 1, "still one attempt")?;
    charged_once(&app, CARD_POLICY_NUMBER, "retry after an in-doubt attempt").await
}

pub async fn a_replaced_challenge_answered_late_charges_nothing(app: TestApp) -> Result<()> {
    // A challenged attempt has moved no money: the acquirer authorises only when Settle posts
    // the customer's answer. Replacing it cancels it here, and an answer that comes afterwards
    // (an old tab) is never passed on.
    let token = app.customer_token().await?;
    let uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    let challenged = app
        .call(Method::POST, &path, Some(&token), Some(&take_payment_body("4000000000003220")), None)
        .await?;
    ensure(challenged.body["payment_status_state"] == "PAYMENT_3DAUTH", format!("{challenged:?}"))?;
    let field = |name: &str| challenged.body[name].as_str().unwrap_or_default().to_owned();
    let (acsurl, creq, session) = (field("acsurl"), field("creq"), field("three_ds_session_data"));

    // The customer gives up on the bank's page and pays with another card.
    let paid = app
        .call(Method::POST, &path, Some(&token), Some(&take_payment_body("4929000000006")), None)
        .await?;
    ensure(
        paid.body["payment_status_state"] == "PAYMENT_SUCCESS"
            || paid.body["payment_status_state"] == "POLICY_CONVERTED",
        format!("the other card pays: {paid:?}"),
    )?;

    // Then answers the old challenge after all.
    let browser = app.new_client();
    let back = app.answer_challenge(&browser, &acsurl, &creq, &session, "Authenticate").await?;
    browser.post(&back.action).form(&back.fields).send().await?;

    let states: Vec<PaymentState> =
        attempts(&app, CARD_POLICY_NUMBER).await?.iter().map(|p| p.state).collect();
    ensure(
        states.contains(&PaymentState::Cancelled),
        format!("the challenged attempt stays cancelled: {states:?}"),
    )?;
    charged_once(&app, CARD_POLICY_NUMBER, "replaced challenge answered late").await
}

pub async fn concurrent_hosted_checkouts_leave_one_payable_page(app: TestApp) -> Result<()> {
    // Seed 000's initiate, many times at once with different keys: whatever the interleaving,
    // one hosted page at most can take the customer's money.
    let token = app.merchant_token().await?;
    let body = json!({ "policy_number": POLICY_NUMBER, "gateway": "payfort-aed" });
    let answers = join_all((0..CONCURRENT).map(|i| {
        let (app, token, body) = (&app, &token, &body);
        async move {
            let key = format!("initiate-{i}");
            app.call(Method::POST, "/api/v3/payment/initiate/", Some(token), Some(body), Some(&key))
                .await
        }
    }))
    .await;
    let mut pages = Vec::new();
    let mut statuses = Vec::new();
    for answer in answers {
        let answer = answer?;
        statuses.push(answer.status);
        if let Some(url) = answer.body["url"].as_str() {
            pages.push(url.to_owned());
        }
    }
    ensure(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        format!("each started a page or was told one is under way: {}", tally(&statuses)),
    )?;
    let open: Vec<Payment> = attempts(&app, POLICY_NUMBER)
        .await?
        .into_iter()
        .filter(|p| p.state == PaymentState::AwaitingCustomer)
        .collect();
    ensure(open.len() == 1, format!("one page left open, not {}", open.len()))?;

    // The customer tries to pay on every page they were given: only the open one takes money.
    for page in &pages {
        app.pay_on_hosted_page(page).await?;
    }
    eventually("the open page's payment is settled", Duration::from_secs(15), || async {
        Ok(attempts(&app, POLICY_NUMBER).await?.iter().any(|p| p.state.is_success()))
    })
    .await?;
    charged_once(&app, POLICY_NUMBER, "concurrent seed 000 initiate").await
}

pub async fn a_token_refused_while_a_payment_is_under_way_names_it(app: TestApp) -> Result<()> {
    // While the gateway is slow to open a checkout, the policy's payment is under way: a second
    // token/ call is refused with that payment's token, which status/ answers.
    app.set_faults("hosted-checkout", json!({ "latency_ms": 500 })).await?;
    let token = app.merchant_token().await?;
    let (first, second) = tokio::join!(hosted_token(&app, &token), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        hosted_token(&app, &token).await
    });
    let (first, second) = (first?, second?);
    ensure(first.status == 200, format!("the first opens a page: {first:?}"))?;
    ensure(second.status == 409, format!("the second is refused: {second:?}"))?;
    let under_way = second.body["token"].as_str().context("the payment under way")?;
    ensure(under_way == first.body["token"], format!("it is the first's: {second:?}"))?;
    let status = app
        .call(
            Method::GET,
            &format!("/api/v3/payment/status/?token={under_way}"),
            Some(&token),
            None,
            None,
        )
        .await?;
    ensure(status.status == 200, format!("status/ answers it: {status:?}"))
}

/// The causes of a payment's timeline, oldest first.
async fn timeline_causes(app: &TestApp, payment: &Payment) -> Result<Vec<String>> {
    let events = settle::payment::event::timeline(&app.db, &payment.id).await?;
    Ok(events.into_iter().map(|e| e.cause).collect())
}
