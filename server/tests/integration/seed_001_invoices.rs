//! Seed 001, step by step as the document tells it: the merchant's invoice system gets a token
//! with its API user, creates a payment (an invoice), and sends its customer to the
//! authorization URL; the customer logs in, pays on the hosted pay page (by card through the
//! sandbox acquirer, with or without 3-D Secure, or on a hosted-checkout page) and goes back to
//! the merchant's `redirectionUrl`. Charges are counted on the sandbox's side.

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{
    CUSTOMER_CODE, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, MERCHANT_API_EMAIL, MERCHANT_API_PASSWORD,
    MERCHANT_CLIENT_ID,
};

use crate::support::{TestApp, ensure, html_forms, location};

/// Where the demo merchant wants its customers back (an origin it registered).
const BACK: &str = "http://localhost:8080/invoices/done?ref=REF-1234";

/// The document's request body, with `merchantReference` = `reference`.
fn payment_object(reference: &str) -> Value {
    json!({
        "amount": 5100.00,
        "type": "XYZ",
        "customerCode": CUSTOMER_CODE,
        "merchantReference": reference,
        "redirectionUrl": BACK,
        "itemName": "Item name",
        "beneficiaryCode": "20",
        "additionalFields": [
            {"code": "documentNo", "value": "TST1201901260"},
            {"code": "documentDate", "value": "2018-01-03Z"},
            {"code": "documentReference", "value": "LIC201900001430"}
        ]
    })
}

impl TestApp {
    /// Step 1: the merchant's API user's token (password grant at the Keycloak path).
    pub async fn invoice_system_token(&self) -> Result<String> {
        let answer = self
            .client
            .post(self.url("/auth/realms/PGW/protocol/openid-connect/token"))
            .form(&[
                ("username", MERCHANT_API_EMAIL),
                ("password", MERCHANT_API_PASSWORD),
                ("grant_type", "password"),
                ("client_id", MERCHANT_CLIENT_ID),
            ])
            .send()
            .await?;
        ensure(answer.status() == 200, format!("token: {}", answer.status()))?;
        let body: Value = answer.json().await?;
        body["access_token"].as_str().map(str::to_owned).context("access_token")
    }

    /// Step 2: creates the document's payment under `reference`; answers `invoiceId`.
    pub async fn create_invoice(&self, token: &str, reference: &str) -> Result<String> {
        let answer = self
            .call(
                Method::POST,
                "/api/v1/payment",
                Some(token),
                Some(&payment_object(reference)),
                None,
            )
            .await?;
        ensure(answer.status == 200, format!("create payment: {} {}", answer.status, answer.body))?;
        answer.body["invoiceId"].as_str().map(str::to_owned).context("invoiceId")
    }
}

/// Points the demo merchant's webhooks somewhere (nothing listens: only the events are looked
/// at here; delivery has tests of its own).
async fn subscribe(app: &TestApp) -> Result<()> {
    let merchant = settle::merchant::Merchant::by_client_id(&app.db, MERCHANT_CLIENT_ID)
        .await?
        .context("the demo merchant")?;
    settle::webhook::Endpoint::set(&app.db, &merchant.id, "http://127.0.0.1:9/hooks", None).await?;
    Ok(())
}

/// The webhook event types recorded about an invoice, oldest first.
async fn events_about(app: &TestApp, invoice: &str) -> Result<Vec<String>> {
    let (purchase, _) =
        settle::billing::purchase_by_reference(&app.db, &settle::access::Viewer::Staff, invoice)
            .await?;
    let events = settle::webhook::Event::about(&app.db, &purchase.id.to_string()).await?;
    Ok(events.into_iter().map(|e| e.kind.as_str().to_owned()).collect())
}

/// The path the document's redirect leads to.
fn pay_path(reference: &str, invoice: &str) -> String {
    format!("/api/v1/pay/XYZ/{reference}/{invoice}")
}

/// Card transactions the sandbox acquirer took (`Ok`) for a payment reference.
async fn charges_at_the_acquirer(app: &TestApp, payment: &str) -> Result<usize> {
    let url = app.url(&format!("/sandbox/card/transactions?merchant_reference={payment}"));
    let listed: Value =
        app.new_client().get(url).bearer_auth("test-key").send().await?.json().await?;
    let all = listed["transactions"].as_array().cloned().context("the acquirer's list")?;
    Ok(all.iter().filter(|t| t["status"] == "Ok").count())
}

/// Checkouts the sandbox's hosted checkout took money for (`succeeded`) under a payment reference.
async fn charges_on_hosted_pages(app: &TestApp, payment: &str) -> Result<usize> {
    let url = app.url(&format!("/sandbox/hosted-checkout/checkouts?merchant_reference={payment}"));
    let listed: Value =
        app.new_client().get(url).bearer_auth("test-key").send().await?.json().await?;
    let all = listed["checkouts"].as_array().cloned().context("the provider's list")?;
    Ok(all.iter().filter(|c| c["status"] == "succeeded").count())
}

/// The payments of an invoice, newest first.
async fn payments_of(app: &TestApp, invoice: &str) -> Result<Vec<settle::payment::Payment>> {
    let sql = "SELECT id FROM purchases WHERE reference = $1";
    let id: String = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(invoice).fetch_one(pool).await)?;
    Ok(settle::payment::Payment::for_purchase(
        &app.db,
        &settle::purchase::PurchaseId::from_string(id),
    )
    .await?)
}

pub async fn the_merchants_api_user_gets_a_token_and_bad_credentials_are_refused(
    app: TestApp,
) -> Result<()> {
    let token = app.invoice_system_token().await?;
    let who = app.call(Method::GET, "/oauth/userinfo", Some(&token), None, None).await?;
    ensure(
        who.body["role"] == "merchant_api" && who.body["client_id"] == MERCHANT_CLIENT_ID,
        format!("the token stands for the merchant's API user: {}", who.body),
    )?;
    let grant = |form: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/auth/realms/PGW/protocol/openid-connect/token"))
                .form(&form)
                .send()
                .await?;
            let status = r.status().as_u16();
            anyhow::Ok((status, r.json::<Value>().await?))
        }
    };
    let wrong = grant(vec![
        ("username", MERCHANT_API_EMAIL),
        ("password", "not-the-password"),
        ("grant_type", "password"),
        ("client_id", MERCHANT_CLIENT_ID),
    ])
    .await?;
    ensure(wrong.0 == 400 && wrong.1["error"] == "invalid_grant", format!("{wrong:?}"))?;
    let unknown = grant(vec![
        ("username", MERCHANT_API_EMAIL),
        ("password", MERCHANT_API_PASSWORD),
        ("grant_type", "password"),
        ("client_id", "no-such-client"),
    ])
    .await?;
    ensure(unknown.0 == 401 && unknown.1["error"] == "invalid_client", format!("{unknown:?}"))?;
    // Another merchant's client: the API user belongs to the demo merchant only.
    app.other_merchant().await?;
    let elsewhere = grant(vec![
        ("username", MERCHANT_API_EMAIL),
        ("password", MERCHANT_API_PASSWORD),
        ("grant_type", "password"),
        ("client_id", "another-shop"),
        ("client_secret", "another-shop-secret-123"),
    ])
    .await?;
    ensure(elsewhere.0 == 400, format!("through another merchant's client: {elsewhere:?}"))?;
    // It never signs in to the pages.
    let login = app
        .post_form(
            "/api/auth/login",
            &[("email", MERCHANT_API_EMAIL), ("password", MERCHANT_API_PASSWORD)],
        )
        .await?;
    ensure(location(&login).starts_with("/login"), format!("back to login: {}", location(&login)))?;
    let account = app.get("/account").await?;
    ensure(location(&account).starts_with("/login"), "no session was opened")
}

pub async fn create_payment_with_every_field_then_each_invalid_one(app: TestApp) -> Result<()> {
    let token = app.invoice_system_token().await?;
    let answer = app
        .call(
            Method::POST,
            "/api/v1/payment/",
            Some(&token),
            Some(&payment_object("REF-1234")),
            None,
        )
        .await?;
    ensure(answer.status == 200, format!("{answer:?}"))?;
    let invoice = answer.body["invoiceId"].as_str().context("invoiceId")?.to_owned();
    ensure(answer.body["merchantReference"] == "REF-1234", format!("{}", answer.body))?;
    let style = invoice.strip_prefix("XYZ").and_then(|rest| rest.split_once('-'));
    ensure(
        style.is_some_and(|(year, hex)| {
            year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && hex.len() == 5
                && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }),
        format!("an invoice id like XYZ2024-ade08: {invoice}"),
    )?;
    let (purchase, _) =
        settle::billing::purchase_by_reference(&app.db, &settle::access::Viewer::Staff, &invoice)
            .await?;
    ensure(
        purchase.amounts.gross().to_decimal().to_string() == "5100.00",
        format!("the amount exactly: {:?}", purchase.amounts),
    )?;
    ensure(
        purchase.details["additionalFields"][2]["value"] == "LIC201900001430",
        format!("additional fields kept: {}", purchase.details),
    )?;

    let count = "SELECT COUNT(*) FROM purchases";
    let before: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    for (field, value) in [
        ("amount", json!(null)),
        ("amount", json!(-1)),
        ("amount", json!("a lot")),
        ("amount", json!(5100.001)),
        ("type", json!(null)),
        ("customerCode", json!(12)),
        ("merchantReference", json!("")),
        ("redirectionUrl", json!("merchant-url.com")),
        ("redirectionUrl", json!("https://evil.example/back")),
        ("redirectionUrl", json!(format!("http://localhost:8080/{}", "x".repeat(900)))),
        ("itemName", json!(null)),
        ("beneficiaryCode", json!({"x": 1})),
        ("additionalFields", json!({"code": "documentNo"})),
    ] {
        let mut body = payment_object("REF-BAD");
        body[field] = value.clone();
        let answer =
            app.call(Method::POST, "/api/v1/payment", Some(&token), Some(&body), None).await?;
        ensure(
            answer.status == 400
                && answer.body["field"] == field
                && answer.body["message"].is_string(),
            format!("{field} = {value}: {} {}", answer.status, answer.body),
        )?;
    }
    let none = app
        .call(Method::POST, "/api/v1/payment", None, Some(&payment_object("REF-X")), None)
        .await?;
    ensure(none.status == 401, format!("without a token: {none:?}"))?;
    let customer = app.customer_token().await?;
    let theirs = app
        .call(
            Method::POST,
            "/api/v1/payment",
            Some(&customer),
            Some(&payment_object("REF-X")),
            None,
        )
        .await?;
    ensure(theirs.status == 403, format!("a customer's token: {theirs:?}"))?;
    for (field, value) in [("type", "NOPE"), ("customerCode", "NOBODY-9")] {
        let mut body = payment_object("REF-404");
        body[field] = json!(value);
        let answer =
            app.call(Method::POST, "/api/v1/payment", Some(&token), Some(&body), None).await?;
        ensure(
            answer.status == 404 && answer.body["field"] == field,
            format!("unknown {field}: {} {}", answer.status, answer.body),
        )?;
    }
    let after: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    ensure(after == before, format!("refused requests stored {} purchases", after - before))
}

pub async fn the_same_merchant_reference_answers_the_same_invoice(app: TestApp) -> Result<()> {
    subscribe(&app).await?;
    let token = app.invoice_system_token().await?;
    let first = app.create_invoice(&token, "REF-ONCE").await?;
    let again = app.create_invoice(&token, "REF-ONCE").await?;
    ensure(first == again, format!("{first} then {again}"))?;
    let racing = (0..10).map(|_| app.create_invoice(&token, "REF-RACE"));
    let ids: Vec<String> = futures::future::try_join_all(racing).await?;
    ensure(ids.iter().all(|id| *id == ids[0]), format!("10 concurrent creates: {ids:?}"))?;
    let sql = "SELECT COUNT(*) FROM purchases WHERE merchant_reference IN ('REF-ONCE', 'REF-RACE')";
    let stored: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
    ensure(stored == 2, format!("one invoice per reference, not {stored}"))?;
    for invoice in [&first, &ids[0]] {
        let events = events_about(&app, invoice).await?;
        ensure(events == ["invoice.created"], format!("created once: {events:?}"))?;
    }
    Ok(())
}

pub async fn the_customer_is_led_through_login_to_the_pay_page(app: TestApp) -> Result<()> {
    subscribe(&app).await?;
    let token = app.invoice_system_token().await?;
    let invoice = app.create_invoice(&token, "REF-1234").await?;
    let auth = |client: &str, redirect: &str| {
        format!(
            "/auth/realms/PGW/protocol/openid-connect/auth?client_id={client}&redirect_uri={}",
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        )
    };
    // Only Settle's own pay page or an origin the merchant registered.
    for (client, redirect) in [
        (MERCHANT_CLIENT_ID, "https://evil.example/api/v1/pay/XYZ/REF-1234/x".to_owned()),
        (MERCHANT_CLIENT_ID, app.url("/account").replace("/account", "/login")),
        ("no-such-client", app.url(&pay_path("REF-1234", &invoice))),
    ] {
        let refused = app.get(&auth(client, &redirect)).await?;
        let status = refused.status();
        let page = refused.text().await?;
        ensure(
            status == 400 && page.contains("This payment link can't be used"),
            format!("{client} → {redirect}: {status}"),
        )?;
    }
    // The document's link: Settle's login, then the pay page.
    let link = auth(MERCHANT_CLIENT_ID, &app.url(&pay_path("REF-1234", &invoice)));
    let to_pay = app.get(&link).await?;
    ensure(location(&to_pay) == pay_path("REF-1234", &invoice), location(&to_pay))?;
    let to_page = app.get(&location(&to_pay)).await?;
    let page_path = location(&to_page);
    ensure(page_path.starts_with(&format!("/account/invoices/{invoice}?")), &page_path)?;
    let to_login = app.get(&page_path).await?;
    let login = location(&to_login);
    ensure(login.starts_with("/login?next="), &login)?;
    ensure(app.get(&login).await?.status() == 200, "Settle's login page")?;
    app.log_in_then(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, &page_path).await?;
    let page = app.get(&page_path).await?.text().await?;
    for shown in [invoice.as_str(), "ZAR 5,100.00", "Item name", "Demo Insurer", "Pay by card"] {
        ensure(page.contains(shown), format!("the pay page shows {shown}"))?;
    }
    let events = events_about(&app, &invoice).await?;
    ensure(events == ["invoice.created", "invoice.viewed"], format!("viewed: {events:?}"))?;
    // Signed in already: the link goes straight on (auth → pay path → page).
    let again = app.get(&link).await?;
    let page_again = app.get(&location(&again)).await?;
    ensure(
        app.get(&location(&page_again)).await?.status() == 200,
        "a signed-in customer goes straight to the page",
    )?;
    // A link whose type or reference isn't the invoice's shows nothing.
    let wrong =
        app.get(&format!("/account/invoices/{invoice}?type=ABC&reference=REF-1234")).await?;
    ensure(wrong.status() == 404, format!("another type: {}", wrong.status()))
}

/// The card form of the invoice page, filled in with `card`.
fn card_form<'a>(invoice: &'a str, card: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("invoice", invoice),
        ("gateway", settle::demo::CARD_ZAR_GATEWAY),
        ("card_holder", "T MOKOENA"),
        ("card_number", card),
        ("expiry_date", "1030"),
        ("cv2", "123"),
        ("house", "12"),
        ("street", "Long Street"),
        ("city", "Cape Town"),
        ("postcode", "8001"),
    ]
}

pub async fn the_invoice_is_paid_by_card_once_and_the_customer_returns(app: TestApp) -> Result<()> {
    let token = app.invoice_system_token().await?;
    let invoice = app.create_invoice(&token, "REF-1234").await?;
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let page = format!("/account/invoices/{invoice}");
    let paid = app
        .post_form("/account/api/invoice_card_pay", &card_form(&invoice, "4929000000006"))
        .await?;
    ensure(
        location(&paid) == BACK,
        format!("back to the merchant: {} {}", paid.status(), location(&paid)),
    )?;
    let payments = payments_of(&app, &invoice).await?;
    ensure(payments.len() == 1 && payments[0].state.is_success(), format!("{payments:?}"))?;
    ensure(charges_at_the_acquirer(&app, &payments[0].reference).await? == 1, "one charge")?;
    // Paid: the page says so and offers no way to pay again; a second post charges nothing.
    let shown = app.get(&page).await?.text().await?;
    ensure(shown.contains("Paid.") && !shown.contains("Pay by card"), "the page shows paid")?;
    app.post_form("/account/api/invoice_card_pay", &card_form(&invoice, "4929000000006")).await?;
    let payments = payments_of(&app, &invoice).await?;
    ensure(payments.len() == 1, format!("no second payment: {}", payments.len()))?;
    ensure(charges_at_the_acquirer(&app, &payments[0].reference).await? == 1, "still one charge")
}

pub async fn a_declined_card_stays_then_3d_secure_pays_and_returns(app: TestApp) -> Result<()> {
    let token = app.invoice_system_token().await?;
    let invoice = app.create_invoice(&token, "REF-3DS").await?;
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let page = format!("/account/invoices/{invoice}");
    // Declined: back to the pay page, not to the merchant.
    let declined = app
        .post_form("/account/api/invoice_card_pay", &card_form(&invoice, "4000000000000002"))
        .await?;
    ensure(location(&declined) == page, format!("a decline stays: {}", location(&declined)))?;
    // The bank's check, then back to the merchant from the status page.
    let challenged = app
        .post_form("/account/api/invoice_card_pay", &card_form(&invoice, "4000000000003220"))
        .await?;
    let challenge = location(&challenged);
    ensure(challenge.ends_with("/challenge"), &challenge)?;
    let frame = app.get(&format!("{challenge}/frame")).await?.text().await?;
    let to_bank = html_forms(&frame).into_iter().next().context("the form to the bank")?;
    let field = |name: &str| {
        to_bank.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let back = app
        .answer_challenge(
            &app.client,
            &to_bank.action,
            &field("creq"),
            &field("threeDSSessionData"),
            "Authenticate",
        )
        .await?;
    app.client.post(&back.action).form(&back.fields).send().await?;
    let payments = payments_of(&app, &invoice).await?;
    let paid = payments.iter().find(|p| p.state.is_success()).context("a paid attempt")?;
    let status = app.get(&format!("/account/payments/{}", paid.reference)).await?.text().await?;
    let escaped = BACK.replace('&', "&amp;");
    ensure(status.contains(&escaped), "the status page leads back to the merchant")?;
    let mut charges = 0;
    for p in &payments {
        charges += charges_at_the_acquirer(&app, &p.reference).await?;
    }
    ensure(charges == 1, format!("one charge in all: {charges}"))
}

pub async fn the_invoice_is_paid_on_the_hosted_page_and_returns(app: TestApp) -> Result<()> {
    let token = app.invoice_system_token().await?;
    let invoice = app.create_invoice(&token, "REF-BANK").await?;
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let page = app.get(&format!("/account/invoices/{invoice}")).await?.text().await?;
    let form = html_forms(&page)
        .into_iter()
        .find(|f| f.buttons.iter().any(|(label, _, _)| label == "Pay by bank transfer"))
        .context("a bank transfer button")?;
    let fields: Vec<(&str, &str)> =
        form.fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let started = app.post_form("/account/api/invoice_page_pay", &fields).await?;
    let hosted = location(&started);
    ensure(hosted.contains("/sandbox/hosted-checkout/pay/"), &hosted)?;
    // Pay on the provider's page; it sends the browser back through Settle to the merchant.
    let html = app.client.get(&hosted).send().await?.text().await?;
    let pay = html_forms(&html).into_iter().find(|f| f.action.contains("/pay/")).context("Pay")?;
    let action =
        if pay.action.starts_with("http") { pay.action.clone() } else { app.url(&pay.action) };
    let returned = app.client.post(action).form(&pay.submission("Pay")?).send().await?;
    let process = location(&returned);
    let back = app.client.get(&process).send().await?;
    ensure(location(&back) == BACK, format!("back to the merchant: {}", location(&back)))?;
    let payments = payments_of(&app, &invoice).await?;
    ensure(
        payments.len() == 1
            && payments[0].state.is_success()
            && payments[0].gateway_id == "bank-transfer-zar",
        format!("{payments:?}"),
    )?;
    ensure(charges_on_hosted_pages(&app, &payments[0].reference).await? == 1, "one charge")?;
    let shown = app.get(&format!("/account/invoices/{invoice}")).await?.text().await?;
    ensure(shown.contains("Paid."), "the invoice is paid")
}

pub async fn another_customer_can_neither_see_nor_pay_the_invoice(app: TestApp) -> Result<()> {
    let token = app.invoice_system_token().await?;
    let invoice = app.create_invoice(&token, "REF-MINE").await?;
    let other = app.other_customer().await?;
    let stranger = TestApp { client: app.new_client(), ..app };
    stranger.log_in(&other.email, &other.password, "/account").await?;
    let page = stranger.get(&format!("/account/invoices/{invoice}")).await?;
    let status = page.status();
    let text = page.text().await?;
    ensure(status == 404 && !text.contains("5,100.00"), format!("another customer: {status}"))?;
    stranger
        .post_form("/account/api/invoice_card_pay", &card_form(&invoice, "4929000000006"))
        .await?;
    stranger
        .post_form(
            "/account/api/invoice_page_pay",
            &[("invoice", &invoice), ("gateway", "bank-transfer-zar")],
        )
        .await?;
    let payments = payments_of(&stranger, &invoice).await?;
    ensure(payments.is_empty(), format!("nothing started: {}", payments.len()))
}
