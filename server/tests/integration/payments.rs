//! The payment core end to end: the orchestrator talking real HTTP to the sandbox providers,
//! customers' browsers on the hosted and 3-D Secure pages, notifications, reconciliation,
//! idempotency and routing.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use reqwest::Method;
use serde_json::{Value, json};
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::connector::{Address, CardDetails};
use settle::demo::{CARD_POLICY_NUMBER, POLICY_NUMBER};
use settle::payment::PaymentState::{self, *};
use settle::payment::event::timeline;
use settle::payment::orchestrator::ReconcilePolicy;
use settle::payment::{Instrument, Payment, PaymentRequest};
use settle::purchase::{Purchase, PurchaseId, PurchaseStatus};
use settle::service::Service;

use crate::support::{TestApp, ensure, eventually, html_forms as forms, location};

/// The open purchase of a demo service.
async fn open_purchase(app: &TestApp, reference: &str) -> Result<PurchaseId> {
    let service = Service::find_by_reference(&app.db, reference).await?.context("demo service")?;
    let open = Purchase::open_for_service(&app.db, &service.id).await?;
    Ok(open.first().context("an open purchase")?.id.clone())
}

fn card(number: &str) -> Result<Instrument> {
    Ok(Instrument::Card {
        card: CardDetails {
            holder: "J SMITH".into(),
            number: CardNumber::parse(number)?,
            expiry: ExpiryDate::parse("1230")?,
            cvv: Cvv::parse("123")?,
        },
        billing_address: Address { postcode: Some("PE301JW".into()), ..Address::default() },
    })
}

fn request(purchase: &PurchaseId, gateways: &[&str], instrument: Instrument) -> PaymentRequest {
    PaymentRequest {
        // The protocol, not the access rule, is under test here.
        payer: settle::access::Viewer::Staff,
        purchase_id: purchase.clone(),
        gateways: gateways.iter().map(|g| g.to_string()).collect(),
        instrument,
        return_to: None,
        details: json!({}),
        idempotency_key: None,
    }
}

async fn states_in_timeline(app: &TestApp, payment: &Payment) -> Result<Vec<PaymentState>> {
    Ok(timeline(&app.db, &payment.id).await?.into_iter().filter_map(|e| e.to).collect())
}

async fn reload(app: &TestApp, payment: &Payment) -> Result<Payment> {
    Payment::find(&app.db, &payment.id).await?.ok_or_else(|| anyhow!("payment vanished"))
}

/// Makes reconciliation due now for a payment (as if its gateway's settle-after had passed).
async fn make_due(app: &TestApp, payment: &Payment) -> Result<()> {
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    settle::with_db!(&app.db, pool => sqlx::query("UPDATE payments SET settle_by = $2 WHERE id = $1")
        .bind(&payment.id).bind(past).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// The customer's browser on the sandbox's hosted page: submits the pre-filled card with the
/// given button and returns where the page sends them.
async fn customer_on_hosted_page(app: &TestApp, payment: &Payment, button: &str) -> Result<String> {
    let url = payment.redirect_url.clone().context("a hosted page URL")?;
    let page = app.client.get(&url).send().await?.text().await?;
    let form = forms(&page)
        .into_iter()
        .find(|f| f.action.contains("/pay/"))
        .context("the payment form")?;
    let fields = form.submission(button)?;
    let action =
        if form.action.starts_with("http") { form.action.clone() } else { app.url(&form.action) };
    let response = app.client.post(action).form(&fields).send().await?;
    ensure(
        response.status().is_redirection(),
        format!("the hosted page answers {}", response.status()),
    )?;
    Ok(location(&response))
}

pub async fn hosted_checkout_pays_and_activates_the_policy(app: TestApp) -> Result<()> {
    let purchase = open_purchase(&app, POLICY_NUMBER).await?;
    let payment = app
        .state
        .payments
        .start(request(
            &purchase,
            &["payfort-aed"],
            Instrument::HostedCheckout { save_card: false },
        ))
        .await?;
    ensure(
        payment.state == AwaitingCustomer,
        format!("waits for the customer: {}", payment.state),
    )?;
    ensure(payment.amount.to_string() == "5100.00 AED", "charges the premium with tax")?;

    let back = customer_on_hosted_page(&app, &payment, "Pay").await?;
    ensure(
        back.contains(&format!("/api/v3/payment/process/?token={}", payment.reference)),
        format!("sent back to Settle: {back}"),
    )?;
    let after_return = app.client.get(&back).send().await?;
    ensure(after_return.status().is_redirection(), "Settle sends the customer on")?;

    // The return and the gateway's notification race to settle it; like seed 003's clients,
    // poll until fulfilment has finished.
    eventually("the policy is converted", Duration::from_secs(5), || async {
        Ok(reload(&app, &payment).await?.state == PolicyConverted)
    })
    .await?;
    let paid = reload(&app, &payment).await?;
    let states = states_in_timeline(&app, &paid).await?;
    let tail: Vec<_> = states.iter().rev().take(3).rev().copied().collect();
    ensure(
        tail == [PaymentSuccess, ConvertingPolicy, PolicyConverted],
        format!("timeline {states:?}"),
    )?;

    let service = Service::find_by_reference(&app.db, POLICY_NUMBER).await?.context("policy")?;
    ensure(service.status == "active", format!("policy status {}", service.status))?;
    let end = service.period_end.context("policy end date")?;
    let months = (end - chrono::Utc::now()).num_days();
    ensure((360..=367).contains(&months), format!("12 months of cover, got {months} days"))?;
    let purchase = Purchase::find(&app.db, &purchase).await?.context("purchase")?;
    ensure(purchase.status == PurchaseStatus::Paid, "the purchase is paid")?;

    // The gateway's own notification arrives too, and changes nothing.
    eventually("the notification is recorded", Duration::from_secs(5), || async {
        let n: i64 = settle::with_db!(&app.db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM gateway_notifications WHERE payment_id = $1")
            .bind(paid.id.as_str()).fetch_one(pool).await)?;
        Ok(n == 1)
    })
    .await?;
    let states = states_in_timeline(&app, &paid).await?;
    ensure(
        states.iter().filter(|s| **s == PaymentSuccess).count() == 1,
        "one success, however it was reported",
    )
}

pub async fn three_d_secure_challenge_completes_the_payment(app: TestApp) -> Result<()> {
    let purchase = open_purchase(&app, CARD_POLICY_NUMBER).await?;
    let payment = app
        .state
        .payments
        .start(request(&purchase, &["sagepay-gbp"], card("4000000000003220")?))
        .await?;
    ensure(payment.state == Payment3dAuth, format!("challenged: {}", payment.state))?;
    let challenge = payment.three_ds.clone().context("creq, acsurl and session data")?;
    ensure(
        payment.card.as_ref().is_some_and(|c| c.last4 == "3220"),
        "only the last four digits are kept",
    )?;

    // Seed 003's form: creq and threeDSSessionData posted to acsurl.
    let acs = app
        .client
        .post(&challenge.acs_url)
        .form(&[
            ("creq", challenge.creq.as_str()),
            ("threeDSSessionData", challenge.session_data.as_str()),
        ])
        .send()
        .await?
        .text()
        .await?;
    let form = forms(&acs).into_iter().next().context("the issuer's challenge form")?;
    let fields = form.submission("Authenticate")?;
    let answered = app.client.post(&form.action).form(&fields).send().await?.text().await?;
    let back = forms(&answered).into_iter().next().context("the form back to Settle")?;
    ensure(
        back.action.ends_with(&format!("/payments/{}/3ds-complete", payment.reference)),
        format!("posts back to Settle: {}", back.action),
    )?;
    let complete = app.client.post(&back.action).form(&back.fields).send().await?;
    ensure(complete.status() == 200, format!("completion page: {}", complete.status()))?;
    let csp = complete
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    ensure(csp.contains("'sha256-"), "only the page's own script may run")?;
    let page = complete.text().await?;
    ensure(
        page.contains(r#"window.parent.postMessage("PaymentComplete", "*");"#),
        "the seed's PaymentComplete page",
    )?;

    let paid = reload(&app, &payment).await?;
    ensure(
        paid.state == PolicyConverted,
        format!("converted after the challenge: {}", paid.state),
    )?;
    ensure(paid.three_ds.is_none(), "the challenge data is dropped once used")
}

pub async fn declined_card_then_successful_retry(app: TestApp) -> Result<()> {
    let purchase = open_purchase(&app, CARD_POLICY_NUMBER).await?;
    let declined = app
        .state
        .payments
        .start(request(&purchase, &["sagepay-gbp"], card("4000000000000002")?))
        .await?;
    ensure(declined.state == PaymentFailed, format!("declined: {}", declined.state))?;
    ensure(declined.failure_reason.is_some(), "the decline says why")?;
    // Retry as often as the customer likes; the seed's four test cards succeed.
    let again = app
        .state
        .payments
        .start(request(&purchase, &["sagepay-gbp"], card("4000000000000002")?))
        .await?;
    ensure(again.state == PaymentFailed, "a second decline")?;
    let paid = app
        .state
        .payments
        .start(request(&purchase, &["sagepay-gbp"], card("4462000000000003")?))
        .await?;
    ensure(paid.state == PolicyConverted, format!("retry succeeds: {}", paid.state))?;
    let attempts = Payment::for_purchase(&app.db, &purchase).await?;
    ensure(attempts.len() == 3, format!("three attempts recorded, got {}", attempts.len()))?;
    // Never paid twice.
    let twice = app
        .state
        .payments
        .start(request(&purchase, &["sagepay-gbp"], card("5186150660000009")?))
        .await;
    ensure(
        matches!(twice, Err(settle::Error::Conflict(_))),
        format!("a paid purchase can't be paid again: {twice:?}"),
    )
}

pub async fn dropped_notification_is_settled_by_the_sweep(app: TestApp) -> Result<()> {
    app.set_faults("hosted-checkout", json!({ "drop_notification_rate": 1.0 })).await?;
    let purchase = open_purchase(&app, POLICY_NUMBER).await?;
    let payment = app
        .state
        .payments
        .start(request(
            &purchase,
            &["payfort-aed"],
            Instrument::HostedCheckout { save_card: false },
        ))
        .await?;
    // The customer pays but never comes back (closed the tab), and the notification is lost.
    customer_on_hosted_page(&app, &payment, "Pay").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ensure(reload(&app, &payment).await?.state == AwaitingCustomer, "nothing told Settle yet")?;

    make_due(&app, &payment).await?;
    let report = app.state.payments.reconcile().await?;
    ensure(report.settled == 1, format!("the sweep settles it: {report:?}"))?;
    let settled = reload(&app, &payment).await?;
    ensure(
        settled.state == PolicyConverted,
        format!("and the policy is activated: {}", settled.state),
    )?;
    let causes: Vec<String> =
        timeline(&app.db, &payment.id).await?.into_iter().map(|e| e.cause).collect();
    ensure(
        causes.iter().any(|c| c.starts_with("reconciliation")),
        format!("the timeline names the sweep: {causes:?}"),
    )
}

pub async fn duplicate_notification_is_recorded_and_ignored(app: TestApp) -> Result<()> {
    app.set_faults("hosted-checkout", json!({ "duplicate_notification_rate": 1.0 })).await?;
    let purchase = open_purchase(&app, POLICY_NUMBER).await?;
    let payment = app
        .state
        .payments
        .start(request(
            &purchase,
            &["payfort-aed"],
            Instrument::HostedCheckout { save_card: false },
        ))
        .await?;
    customer_on_hosted_page(&app, &payment, "Pay").await?;
    // Only the notifications tell Settle (the customer's return isn't followed).
    eventually("the duplicate is recorded", Duration::from_secs(5), || async {
        let events = timeline(&app.db, &payment.id).await?;
        Ok(events.iter().any(|e| e.cause.starts_with("duplicate notification")))
    })
    .await?;
    let paid = reload(&app, &payment).await?;
    ensure(
        paid.state == PolicyConverted,
        format!("the first notification converted it: {}", paid.state),
    )?;
    let states = states_in_timeline(&app, &paid).await?;
    ensure(
        states.iter().filter(|s| **s == PaymentSuccess).count() == 1,
        format!("one success: {states:?}"),
    )
}

pub async fn concurrent_requests_with_one_idempotency_key_charge_once(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let purchase = open_purchase(&app, CARD_POLICY_NUMBER).await?;
    let body = json!({
        "purchase_id": purchase.as_str(),
        "gateway": "sagepay-gbp",
        "method": "card",
        "card": { "holder": "J SMITH", "number": "4929 0000 0000 6", "expiry": "1230", "cvv": "123" },
        // One card and billing rule set for every entry point: a card is billed to an address.
        "billing_address": { "house": "21b", "postcode": "PE301JW" }
    });
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url, token, body) =
            (app.new_client(), app.url("/api/payments"), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "order-7731")
                .json(&body)
                .send()
                .await?;
            Ok::<_, anyhow::Error>((response.status().as_u16(), response.text().await?))
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        let (status, text) = task.await??;
        ensure(
            status == 201 || status == 409,
            format!("each duplicate gets the first answer or 409, got {status}: {text}"),
        )?;
        if status == 201 {
            created.push(serde_json::from_str::<Value>(&text)?["reference"].clone());
        }
    }
    ensure(!created.is_empty(), "one request ran")?;
    ensure(created.iter().all(|r| *r == created[0]), "every 201 is the same payment")?;
    let charges = Payment::for_purchase(&app.db, &purchase).await?;
    ensure(charges.len() == 1, format!("one charge, got {}", charges.len()))?;

    // Later: the same key and body replays the stored answer, headers and all; the same key with
    // another body is refused.
    let key = Some("order-7731");
    let replay = app.call(Method::POST, "/api/payments", Some(&token), Some(&body), key).await?;
    let header = |name: &str| {
        replay.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let reference = created[0].as_str().unwrap_or_default();
    ensure(
        replay.status == 201
            && header("idempotent-replayed") == "true"
            && replay.body["reference"] == created[0],
        format!("replayed: {} {}", replay.status, replay.body),
    )?;
    ensure(
        header("content-type") == "application/json"
            && header("location") == format!("/api/payments/{reference}"),
        format!("with its Content-Type and Location: {:?}", replay.headers),
    )?;
    let mut other = body.clone();
    other["gateway"] = json!("sagepay-gbp ");
    let mismatch = app.call(Method::POST, "/api/payments", Some(&token), Some(&other), key).await?;
    ensure(mismatch.status == 422, format!("another body with the key: {}", mismatch.status))
}

pub async fn card_errors_use_this_apis_field_names(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let purchase = open_purchase(&app, CARD_POLICY_NUMBER).await?;
    let body = json!({
        "purchase_id": purchase.as_str(),
        "gateway": "sagepay-gbp",
        "method": "card",
        "card": {
            "holder": "J".repeat(51),
            "number": "4929 0000 0000 7",
            "expiry": "0120",
            "cvv": "1234",
            "type": "MASTERCARD"
        },
        "billing_address": { "street": "Trinity Lane" }
    });
    let refused = app.call(Method::POST, "/api/payments", Some(&token), Some(&body), None).await?;
    let mut fields: Vec<String> = refused.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect();
    fields.sort();
    ensure(
        refused.status == 422
            && fields == ["billing_address.postcode", "card.expiry", "card.holder", "card.number"],
        format!("each field named as this API names it: {} {}", refused.status, refused.body),
    )?;
    // With a valid number, the scheme's rules apply: a Visa's code has 3 digits; the type named
    // must be the number's.
    let mut body = body;
    body["card"]["number"] = json!("4929 0000 0000 6");
    body["card"]["holder"] = json!("J SMITH");
    body["card"]["expiry"] = json!("1230");
    body["billing_address"]["postcode"] = json!("PE30 1JW");
    let refused = app.call(Method::POST, "/api/payments", Some(&token), Some(&body), None).await?;
    let fields = refused.error_fields();
    ensure(
        refused.status == 422 && fields.contains(&"card.cvv") && fields.contains(&"card.type"),
        format!("the scheme's rules: {} {}", refused.status, refused.body),
    )?;
    ensure(Payment::for_purchase(&app.db, &purchase).await?.is_empty(), "nothing was started")
}

pub async fn gateway_routing_tries_the_next_gateway_when_one_is_down(app: TestApp) -> Result<()> {
    let aed = settle::money::Currency::parse("AED")?;
    settle::gateway::Gateway::create(
        &app.db,
        "down-aed",
        "Down",
        "nobody",
        settle::gateway::GatewayKind::HostedCheckout,
        aed,
    )
    .await?;
    // Port 9 (discard) on loopback refuses connections: the request never reaches a gateway.
    settle::with_db!(&app.db, pool => sqlx::query("UPDATE gateways SET base_url = 'http://127.0.0.1:9' WHERE id = 'down-aed'")
        .execute(pool).await.map(|_| ()))?;
    // Routing follows the product's gateways: offer the new one first.
    let policy = Service::find_by_reference(&app.db, POLICY_NUMBER).await?.context("policy")?;
    settle::product::Product::set_gateways(
        &app.db,
        &policy.product_id,
        &["down-aed", "payfort-aed", "applepay-aed", "invoice"],
    )
    .await?;
    let payments = app.fresh_orchestrator().await?;
    let purchase = open_purchase(&app, POLICY_NUMBER).await?;
    let payment = payments
        .start(request(
            &purchase,
            &["down-aed", "payfort-aed"],
            Instrument::HostedCheckout { save_card: false },
        ))
        .await?;
    ensure(
        payment.gateway_id == "payfort-aed" && payment.state == AwaitingCustomer,
        format!("routed: {} {}", payment.gateway_id, payment.state),
    )?;
    let causes: Vec<String> =
        timeline(&app.db, &payment.id).await?.into_iter().map(|e| e.cause).collect();
    ensure(
        causes.iter().any(|c| c.starts_with("down-aed unavailable")),
        format!("the attempt is on the timeline: {causes:?}"),
    )
}

pub async fn gateway_errors_and_timeouts_end_in_terminal_states(app: TestApp) -> Result<()> {
    let purchase = open_purchase(&app, CARD_POLICY_NUMBER).await?;
    let error = app
        .state
        .payments
        .start(request(&purchase, &["sagepay-gbp"], card("4000000000000119")?))
        .await?;
    ensure(error.state == TerminalError, format!("error card: {}", error.state))?;

    // A gateway that takes the money but answers too late (and whose notification is lost):
    // the payment waits, possibly charged, for reconciliation, which learns it succeeded.
    settle::with_db!(&app.db, pool => sqlx::query("UPDATE gateways SET timeout_ms = 300 WHERE id = 'sagepay-gbp'")
        .execute(pool).await.map(|_| ()))?;
    app.set_faults("card", json!({ "drop_notification_rate": 1.0 })).await?;
    let payments = app.fresh_orchestrator().await?;
    let slow =
        payments.start(request(&purchase, &["sagepay-gbp"], card("4000000000000259")?)).await?;
    ensure(slow.state == Processing, format!("no answer in time: {}", slow.state))?;
    app.set_faults("card", json!({})).await?;
    make_due(&app, &slow).await?;
    payments.reconcile().await?;
    ensure(
        reload(&app, &slow).await?.state == PolicyConverted,
        "reconciliation found the money taken",
    )?;

    // A checkout the customer never finishes is given up once the limit passes: cancelled at
    // the gateway first, so it can't be paid afterwards. While the gateway can't be reached to
    // cancel it, it stays open (it could still be paid).
    let other = open_purchase(&app, POLICY_NUMBER).await?;
    let waiting = payments
        .start(request(&other, &["payfort-aed"], Instrument::HostedCheckout { save_card: false }))
        .await?;
    app.set_faults("hosted-checkout", json!({ "error_rate": 1.0 })).await?;
    let impatient = app
        .orchestrator_with(ReconcilePolicy {
            give_up_after: Duration::ZERO,
            ..ReconcilePolicy::default()
        })
        .await?;
    make_due(&app, &waiting).await?;
    impatient.reconcile().await?;
    ensure(
        reload(&app, &waiting).await?.state == AwaitingCustomer,
        "still open while unreachable",
    )?;
    app.set_faults("hosted-checkout", json!({})).await?;
    make_due(&app, &waiting).await?;
    let report = impatient.reconcile().await?;
    ensure(report.timed_out == 1, format!("timed out: {report:?}"))?;
    ensure(reload(&app, &waiting).await?.state == TimedOut, "TIMED_OUT")
}

pub async fn saved_card_pays_arrears_within_the_products_rules(app: TestApp) -> Result<()> {
    use settle::payment_method::{MethodKind, PaymentMethod};
    use settle::product::Product;
    let service = Service::find_by_reference(&app.db, settle::demo::ISP_SERVICE_ID)
        .await?
        .context("ISP service")?;
    let purchase = open_purchase(&app, settle::demo::ISP_SERVICE_ID).await?;
    let card = PaymentMethod::available_to(&app.db, &service.customer_id)
        .await?
        .into_iter()
        .find(|m| m.kind == MethodKind::Card)
        .context("the saved card")?;

    // A product that takes only bank accounts refuses the card before anything is charged.
    Product::set_allowed_method_kinds(&app.db, &service.product_id, &[MethodKind::BankAccount])
        .await?;
    let refused = app
        .state
        .payments
        .start(request(&purchase, &["peach-zar"], Instrument::SavedMethod(Box::new(card.clone()))))
        .await;
    ensure(
        matches!(&refused, Err(settle::Error::Validation(errors)) if errors[0].field == "payment_method_id"),
        format!("a kind the product doesn't take is refused: {refused:?}"),
    )?;
    ensure(Payment::for_purchase(&app.db, &purchase).await?.is_empty(), "nothing was started")?;

    Product::set_allowed_method_kinds(&app.db, &service.product_id, MethodKind::ALL).await?;
    let paid = app
        .state
        .payments
        .start(request(&purchase, &["peach-zar"], Instrument::SavedMethod(Box::new(card))))
        .await?;
    ensure(paid.state == PolicyConverted, format!("the saved card pays: {}", paid.state))?;
    let after = Service::find_by_reference(&app.db, settle::demo::ISP_SERVICE_ID)
        .await?
        .context("service")?;
    ensure(after.billing_status == settle::service::BillingStatus::PaidUp, "no longer in arrears")?;
    let end = after.period_end.context("period end")?;
    let days = (end - chrono::Utc::now()).num_days();
    ensure(
        (27..=31).contains(&days),
        format!("one month more, counted from now as the old period ended: {days} days"),
    )
}
