//! Seed 004's pay now, as the document makes the calls with the demo customer's token: submit
//! the arrears purchase for collection with the saved card, with "Add new payment method"
//! (the hosted checkout, back through `/peach-redirect/{collectorId}`), with the payment link,
//! and as an off-system allocation by the merchant's system. Charges are counted at the sandbox.

use anyhow::{Context, Result};
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{ADD_NEW_METHOD_ID, DEMO_COLLECTOR_ID, ISP_SERVICE_ID, NEW_CARD_SERVICE_ID};

use crate::api_client::Answer;
use crate::support::{TestApp, ensure};

const SUBMIT: &str = "/purchases/submit-for-collection";

/// The UI page the document's client returns to, ending in `1` or `0`.
const UI: &str = "http://localhost:8080/ext-pay/a40efeb6-7f8f-42c2-ba57-5f08328b1c28/5a41b6fe";

/// `GET /services/{id}/details-and-actions`.
async fn details(app: &TestApp, token: &str, service: &str) -> Result<Value> {
    app.get_ok(token, &format!("/services/{service}/details-and-actions")).await
}

/// The id of the arrears purchase and of the first medium of `kind` a service's details show.
async fn purchase_and_medium(
    app: &TestApp,
    token: &str,
    service: &str,
    kind: &str,
) -> Result<(String, String)> {
    let d = details(app, token, service).await?;
    let purchase = d["must_pay_info"]["arrears_purchase"]["id"].as_str().context("arrears")?;
    let medium = d["mediums"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["medium_type"] == kind))
        .and_then(|m| m["medium_detail_id"].as_str())
        .with_context(|| format!("a {kind} medium in {d}"))?;
    Ok((purchase.to_owned(), medium.to_owned()))
}

/// Seed 004's payload with a saved or chosen medium, no URLs, paid now.
fn payload(service: &str, medium: &str, purchase: &str) -> Value {
    json!({
        "service_id": service,
        "medium_id": medium,
        "success_url": null,
        "failure_url": null,
        "process_immediate_purchase": true,
        "purchase_id": purchase
    })
}

async fn submit(app: &TestApp, token: &str, body: &Value) -> Result<Answer> {
    app.call(Method::POST, SUBMIT, Some(token), Some(body), None).await
}

/// A problem object of the document's shape with `status` whose detail says `words`.
fn is_problem(answer: &Answer, status: u16, words: &str) -> bool {
    answer.status == status
        && answer.body["status"] == status
        && answer.body["instance"] == SUBMIT
        && answer.body["type"].as_str().is_some_and(|t| t.starts_with("https://tools.ietf.org/"))
        && answer.body["detail"].as_str().is_some_and(|d| d.contains(words))
}

/// Settle's collection return for the demo collector, forwarding to the UI page ending `digit`.
fn peach_redirect(app: &TestApp, digit: char) -> String {
    app.url(&format!("/peach-redirect/{DEMO_COLLECTOR_ID}?url={UI}/{digit}"))
}

/// The customer's `CreditCard` mediums, as `GET /payment-mediums` lists them.
async fn cards(app: &TestApp, token: &str) -> Result<Vec<Value>> {
    let user = settle::demo::customer(&app.db).await?.id.to_string();
    let mediums = app.get_ok(token, &format!("/payment-mediums?userId={user}")).await?;
    Ok(mediums
        .as_array()
        .context("mediums")?
        .iter()
        .filter(|m| m["medium_type"] == "CreditCard")
        .cloned()
        .collect())
}

pub async fn the_arrears_purchase_is_paid_with_the_saved_card(app: TestApp) -> Result<()> {
    let since = Utc::now() - chrono::Duration::seconds(1);
    let token = app.customer_token().await?;
    let (purchase, card) = purchase_and_medium(&app, &token, ISP_SERVICE_ID, "CreditCard").await?;
    let body = payload(ISP_SERVICE_ID, &card, &purchase);
    let paid = submit(&app, &token, &body).await?;
    ensure(
        paid.status == 200 && paid.body == json!({ "payment_link_url": null }),
        format!("paid: {paid:?}"),
    )?;
    let after = details(&app, &token, ISP_SERVICE_ID).await?;
    ensure(
        after["billing_status"] == "PaidUp"
            && after["must_pay_info"].is_null()
            && after["last_purchase_is_pending"] == false,
        format!("paid up: {after}"),
    )?;
    // Submitting it again charges nothing: it is paid.
    let again = submit(&app, &token, &body).await?;
    ensure(is_problem(&again, 409, "already paid"), format!("again: {again:?}"))?;
    ensure(app.paid_checkouts_since(since).await? == 1, "one charge at the sandbox")
}

pub async fn a_declined_saved_card_is_a_problem_and_the_purchase_stays_owed(
    app: TestApp,
) -> Result<()> {
    let token = app.customer_token().await?;
    // The card's issuer withdrew the demo token: every charge with it is declined.
    let revoked = app
        .client
        .delete(app.url("/sandbox/hosted-checkout/tokens/demo-peach-token-4242"))
        .bearer_auth("test")
        .send()
        .await?;
    ensure(revoked.status() == 204, format!("revoking: {}", revoked.status()))?;
    let (purchase, card) = purchase_and_medium(&app, &token, ISP_SERVICE_ID, "CreditCard").await?;
    let declined = submit(&app, &token, &payload(ISP_SERVICE_ID, &card, &purchase)).await?;
    ensure(is_problem(&declined, 402, "card was declined"), format!("declined: {declined:?}"))?;
    let after = details(&app, &token, ISP_SERVICE_ID).await?;
    ensure(
        after["billing_status"] == "InArrears"
            && after["must_pay_info"]["arrears_purchase"]["id"] == purchase.as_str(),
        format!("still owed: {after}"),
    )
}

pub async fn a_new_card_through_the_hosted_checkout_is_saved_once(app: TestApp) -> Result<()> {
    let since = Utc::now() - chrono::Duration::seconds(1);
    let token = app.customer_token().await?;
    let cards_before = cards(&app, &token).await?.len();
    let d = details(&app, &token, NEW_CARD_SERVICE_ID).await?;
    let purchase = d["must_pay_info"]["arrears_purchase"]["id"].as_str().context("arrears")?;
    // The document's payload: the global medium and both URLs through Settle's return.
    let body = json!({
        "service_id": NEW_CARD_SERVICE_ID,
        "medium_id": ADD_NEW_METHOD_ID,
        "process_immediate_purchase": true,
        "success_url": peach_redirect(&app, '1'),
        "failure_url": peach_redirect(&app, '0'),
        "purchase_id": purchase
    });
    let answer = submit(&app, &token, &body).await?;
    let page = answer.body["payment_link_url"].as_str().unwrap_or_default().to_owned();
    ensure(
        answer.status == 200 && page.starts_with(&app.url("/sandbox/hosted-checkout/pay/")),
        format!("the hosted page: {answer:?}"),
    )?;
    let back = app.answer_hosted_page(&page, "Pay", None).await?;
    ensure(back == format!("{UI}/1"), format!("back at the UI: {back}"))?;

    // The card is the customer's now, listed with the others, once.
    let listed = cards(&app, &token).await?;
    ensure(listed.len() == cards_before + 1, format!("one new card: {listed:?}"))?;
    let new = listed.last().context("the new card")?;
    ensure(
        new["account_nr_partial"] == "4242"
            && new["is_linked"] == true
            && new["medium_status"] == "Valid",
        format!("the new card: {new}"),
    )?;
    let after = details(&app, &token, NEW_CARD_SERVICE_ID).await?;
    ensure(after["billing_status"] == "PaidUp", format!("paid up: {after}"))?;

    // The success reported again (the notification, the return, reconciliation) saves nothing
    // more.
    let payment = app.latest_payment(NEW_CARD_SERVICE_ID).await?;
    let viewer = settle::access::Viewer::Staff;
    settle::checkout::outcome(&app.state.payments, &viewer, &payment.reference, true).await?;
    let result = settle::connector::GatewayResult {
        gateway_reference: payment.gateway_reference.clone().unwrap_or_default(),
        payment_reference: Some(payment.reference.clone()),
        status: settle::connector::GatewayStatus::Succeeded,
        token: Some("tok_again".into()),
        raw: json!({ "card_brand": "VISA", "card_last4": "4242" }),
    };
    app.state.payments.apply_result(&payment, result, "a late duplicate").await?;
    let again = app.follow_from(peach_redirect(&app, '1') + "&token=" + &payment.reference).await?;
    ensure(again == format!("{UI}/1"), format!("asked again: {again}"))?;
    ensure(cards(&app, &token).await?.len() == cards_before + 1, "still one new card")?;
    ensure(app.paid_checkouts_since(since).await? == 1, "one charge at the sandbox")
}

pub async fn a_declined_card_on_the_hosted_page_returns_0_and_saves_nothing(
    app: TestApp,
) -> Result<()> {
    let token = app.customer_token().await?;
    let cards_before = cards(&app, &token).await?.len();
    let d = details(&app, &token, NEW_CARD_SERVICE_ID).await?;
    let purchase = d["must_pay_info"]["arrears_purchase"]["id"].as_str().context("arrears")?;
    let body = json!({
        "service_id": NEW_CARD_SERVICE_ID.to_lowercase(),
        "medium_id": ADD_NEW_METHOD_ID,
        "process_immediate_purchase": true,
        "success_url": peach_redirect(&app, '1'),
        "failure_url": peach_redirect(&app, '0'),
        "purchase_id": purchase
    });
    let answer = submit(&app, &token, &body).await?;
    let page = answer.body["payment_link_url"].as_str().context("the hosted page")?.to_owned();
    let back = app.answer_hosted_page(&page, "Pay", Some("4000 0000 0000 0002")).await?;
    ensure(back == format!("{UI}/0"), format!("declined: {back}"))?;
    // The real provider always posts back to the success URL: Settle still answers 0.
    let payment = app.latest_payment(NEW_CARD_SERVICE_ID).await?;
    let success = format!("{}&token={}", peach_redirect(&app, '1'), payment.reference);
    let posted = app.client.post(&success).send().await?;
    let location = crate::support::location(&posted);
    ensure(
        posted.status() == 303 && location == format!("{UI}/0"),
        format!("success URL of a declined payment: {} {location}", posted.status()),
    )?;
    // No reference at all, or one that isn't this collector's merchant's: 0 too.
    let bare = app.follow_from(peach_redirect(&app, '1')).await?;
    ensure(bare == format!("{UI}/0"), format!("without a reference: {bare}"))?;
    ensure(cards(&app, &token).await?.len() == cards_before, "no card saved")?;
    let after = details(&app, &token, NEW_CARD_SERVICE_ID).await?;
    ensure(after["billing_status"] == "InArrears", format!("still owed: {after}"))
}

pub async fn the_peach_redirect_sends_only_to_the_merchants_origins(app: TestApp) -> Result<()> {
    let elsewhere = format!("/peach-redirect/{DEMO_COLLECTOR_ID}?url=https://evil.test/x/1");
    let refused = app.client.get(app.url(&elsewhere)).send().await?;
    let status = refused.status();
    let text = refused.text().await?;
    ensure(
        status == 400 && text.contains("https://evil.test"),
        format!("another origin: {status} {text}"),
    )?;
    let unknown =
        "/peach-redirect/00000000-0000-0000-0000-000000000000?url=http://localhost:8080/1";
    let missing = app.client.get(app.url(unknown)).send().await?;
    ensure(missing.status() == 404, format!("unknown collector: {}", missing.status()))?;
    let upper = format!("/peach-redirect/{}?url={UI}/1", DEMO_COLLECTOR_ID.to_uppercase());
    let ok = app.client.get(app.url(&upper)).send().await?;
    ensure(
        ok.status() == 303 && crate::support::location(&ok) == format!("{UI}/0"),
        format!("the collector in upper case, no payment: {}", ok.status()),
    )?;
    // A client's success URL must be on a registered origin (or Settle's return forwarding to
    // one): a 400 naming the field.
    let token = app.customer_token().await?;
    let (purchase, _) =
        purchase_and_medium(&app, &token, NEW_CARD_SERVICE_ID, "PaymentLink").await?;
    let mut body = payload(NEW_CARD_SERVICE_ID, ADD_NEW_METHOD_ID, &purchase);
    body["success_url"] = json!("https://evil.test/ok/1");
    let answer = submit(&app, &token, &body).await?;
    ensure(is_problem(&answer, 400, "success_url"), format!("evil success_url: {answer:?}"))?;
    body["success_url"] =
        json!(app.url(&format!("/peach-redirect/{DEMO_COLLECTOR_ID}?url=https://evil.test/ok/1")));
    let answer = submit(&app, &token, &body).await?;
    ensure(is_problem(&answer, 400, "success_url"), format!("evil forward: {answer:?}"))
}

pub async fn the_payment_link_medium_answers_its_page(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let (purchase, link) = purchase_and_medium(&app, &token, ISP_SERVICE_ID, "PaymentLink").await?;
    let answer = submit(&app, &token, &payload(ISP_SERVICE_ID, &link, &purchase)).await?;
    let url = answer.body["payment_link_url"].as_str().unwrap_or_default();
    ensure(
        answer.status == 200 && url.starts_with(&app.url("/sandbox/hosted-checkout/pay/")),
        format!("payment link: {answer:?}"),
    )?;
    let payment = app.latest_payment(ISP_SERVICE_ID).await?;
    ensure(payment.gateway_id == "payfast-zar", format!("through PayFast: {payment:?}"))?;
    // Paying on it settles the purchase; no way back was named, so Settle's page follows.
    app.answer_hosted_page(url, "Pay", None).await?;
    let after = details(&app, &token, ISP_SERVICE_ID).await?;
    ensure(after["billing_status"] == "PaidUp", format!("paid up: {after}"))
}

pub async fn off_system_allocation_is_the_merchants_with_a_source(app: TestApp) -> Result<()> {
    let since = Utc::now() - chrono::Duration::seconds(1);
    let customer = app.customer_token().await?;
    let merchant = app.merchant_token().await?;
    let (purchase, off) = purchase_and_medium(&app, &customer, ISP_SERVICE_ID, "OffSystem").await?;
    let cash = "95bfcea4-7fa6-494a-8def-11fd940763da";
    let mut body = payload(ISP_SERVICE_ID, &off, &purchase);
    body["purchase_source_id"] = json!(cash);
    body["comment"] = json!("Paid at the Claremont branch");
    // A customer can't mark their own purchase paid.
    let own = submit(&app, &customer, &body).await?;
    ensure(is_problem(&own, 403, "customer can't mark"), format!("customer: {own:?}"))?;
    // Without a purchase source (or with one that isn't off-system for this collector): 400.
    let mut without = body.clone();
    without["purchase_source_id"] = Value::Null;
    let answer = submit(&app, &merchant, &without).await?;
    ensure(is_problem(&answer, 400, "purchase_source_id"), format!("no source: {answer:?}"))?;
    without["purchase_source_id"] = json!("00000000-0000-0000-0000-000000000000");
    let answer = submit(&app, &merchant, &without).await?;
    ensure(is_problem(&answer, 400, "purchase_source_id"), format!("bad source: {answer:?}"))?;
    let details_before = details(&app, &merchant, ISP_SERVICE_ID).await?;
    ensure(details_before["billing_status"] == "InArrears", "nothing allocated yet")?;

    let allocated = submit(&app, &merchant, &body).await?;
    ensure(
        allocated.status == 200 && allocated.body == json!({ "payment_link_url": null }),
        format!("allocated: {allocated:?}"),
    )?;
    let payment = app.latest_payment(ISP_SERVICE_ID).await?;
    ensure(
        payment.gateway_id == "off-system"
            && payment.purchase_source_id.as_deref() == Some(cash)
            && payment.details["comment"] == "Paid at the Claremont branch"
            && payment.state.is_success(),
        format!("the allocation: {payment:?}"),
    )?;
    let after = details(&app, &customer, ISP_SERVICE_ID).await?;
    ensure(
        after["billing_status"] == "PaidUp" && after["must_pay_info"].is_null(),
        format!("the service is extended: {after}"),
    )?;
    ensure(app.paid_checkouts_since(since).await? == 0, "nobody was charged")
}

pub async fn a_double_submit_charges_once(app: TestApp) -> Result<()> {
    let since = Utc::now() - chrono::Duration::seconds(1);
    let token = app.customer_token().await?;
    let (purchase, card) = purchase_and_medium(&app, &token, ISP_SERVICE_ID, "CreditCard").await?;
    let body = payload(ISP_SERVICE_ID, &card, &purchase);
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, token, body) = (app.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move { submit(&app, &token, &body).await }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await??);
    }
    let ok = answers.iter().filter(|a| a.status == 200).count();
    ensure(
        ok == 1 && answers.iter().all(|a| a.status == 200 || is_problem(a, 409, " ")),
        format!("one charge, the others refused in words: {answers:?}"),
    )?;
    let again = submit(&app, &token, &body).await?;
    ensure(is_problem(&again, 409, "already paid"), format!("afterwards: {again:?}"))?;
    ensure(app.paid_checkouts_since(since).await? == 1, "one charge at the sandbox")
}

pub async fn later_collection_keeps_a_card_as_the_active_medium(app: TestApp) -> Result<()> {
    let since = Utc::now() - chrono::Duration::seconds(1);
    let token = app.customer_token().await?;
    let (purchase, card) =
        purchase_and_medium(&app, &token, NEW_CARD_SERVICE_ID, "CreditCard").await?;
    let active = format!("/active-payment-medium-for-service?serviceId={NEW_CARD_SERVICE_ID}");
    ensure(app.get_ok(&token, &active).await?.is_null(), "no active medium yet")?;
    let mut body = payload(NEW_CARD_SERVICE_ID, &card, &purchase);
    body["process_immediate_purchase"] = json!(false);
    let answer = submit(&app, &token, &body).await?;
    ensure(
        answer.status == 200 && answer.body["payment_link_url"].is_null(),
        format!("{answer:?}"),
    )?;
    let now_active = app.get_ok(&token, &active).await?;
    ensure(now_active["medium_detail_id"] == card.as_str(), format!("active: {now_active}"))?;
    // Only a card or bank account can be kept for later.
    body["medium_id"] = json!(ADD_NEW_METHOD_ID);
    let answer = submit(&app, &token, &body).await?;
    ensure(is_problem(&answer, 400, "card or bank account"), format!("{answer:?}"))?;
    let after = details(&app, &token, NEW_CARD_SERVICE_ID).await?;
    ensure(after["billing_status"] == "InArrears", "nothing collected")?;
    ensure(app.paid_checkouts_since(since).await? == 0, "nobody was charged")
}

pub async fn someone_elses_service_or_purchase_is_not_found(app: TestApp) -> Result<()> {
    let token = app.customer_token().await?;
    let (purchase, card) = purchase_and_medium(&app, &token, ISP_SERVICE_ID, "CreditCard").await?;
    let body = payload(ISP_SERVICE_ID, &card, &purchase);
    let other = app.other_customer().await?;
    let theirs = submit(&app, &other.token, &body).await?;
    ensure(is_problem(&theirs, 404, "service"), format!("another customer: {theirs:?}"))?;
    let other_merchant = app.other_merchant().await?;
    let theirs = submit(&app, &other_merchant, &body).await?;
    ensure(is_problem(&theirs, 404, "service"), format!("another merchant: {theirs:?}"))?;
    // A purchase of another service is no purchase of this one.
    let (elsewhere, _) =
        purchase_and_medium(&app, &token, NEW_CARD_SERVICE_ID, "CreditCard").await?;
    let mixed = submit(&app, &token, &payload(ISP_SERVICE_ID, &card, &elsewhere)).await?;
    ensure(is_problem(&mixed, 404, "purchase"), format!("another service's purchase: {mixed:?}"))?;
    // Missing fields and no token are problems too.
    let missing = submit(&app, &token, &json!({ "service_id": ISP_SERVICE_ID })).await?;
    ensure(is_problem(&missing, 400, "purchase_id"), format!("missing: {missing:?}"))?;
    let anonymous = app.call(Method::POST, SUBMIT, None, Some(&body), None).await?;
    ensure(is_problem(&anonymous, 401, ""), format!("no token: {anonymous:?}"))
}
