//! Seed 000's tax invoice and receipt: real PDF files fetched over HTTP with a merchant's bearer
//! token, read back as text with lopdf, and the rules on who may see them and when a receipt
//! exists.

use anyhow::{Context, Result, bail};
use reqwest::Response;
use serde_json::{Value, json};
use settle::access::Viewer;
use settle::card::{CardNumber, Cvv, ExpiryDate};
use settle::connector::{Address, CardDetails};
use settle::customer::Customer;
use settle::demo::{CARD_POLICY_NUMBER, MERCHANT_CLIENT_ID, POLICY_NUMBER};
use settle::document;
use settle::merchant::{Merchant, NewMerchant};
use settle::payment::PaymentState::{Invoiced, PolicyConverted, Refunded};
use settle::payment::transition::{self, Change};
use settle::payment::{Instrument, Payment, PaymentRequest};
use settle::purchase::Purchase;
use settle::service::Service;

use crate::support::{TestApp, ensure};

/// Starts a payment of a demo service's open purchase for the demo merchant.
async fn pay(
    app: &TestApp,
    service: &str,
    gateway: &str,
    instrument: Instrument,
) -> Result<Payment> {
    let service = Service::find_by_reference(&app.db, service).await?.context("demo service")?;
    let purchase = Purchase::open_for_service(&app.db, &service.id).await?;
    let purchase = purchase.first().context("an open purchase")?;
    let merchant =
        Merchant::by_client_id(&app.db, MERCHANT_CLIENT_ID).await?.context("merchant")?;
    Ok(app
        .state
        .payments
        .start(PaymentRequest {
            payer: settle::access::Viewer::Merchant(merchant.id),
            purchase_id: purchase.id.clone(),
            gateways: vec![gateway.to_owned()],
            instrument,
            return_to: None,
            details: json!({}),
            idempotency_key: None,
        })
        .await?)
}

/// Seed 003's frictionless test card.
fn card() -> Result<Instrument> {
    Ok(Instrument::Card {
        card: CardDetails {
            holder: "T MOKOENA".into(),
            number: CardNumber::parse("4929000000006")?,
            expiry: ExpiryDate::parse("1230")?,
            cvv: Cvv::parse("123")?,
        },
        billing_address: Address { postcode: Some("PE301JW".into()), ..Address::default() },
    })
}

async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> Result<Response> {
    let request = app.client.get(app.url(path));
    let request = match bearer {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    Ok(request.send().await?)
}

/// Fetches a document, checks it is an inline PDF named `file_name`, and returns its text.
async fn fetch_pdf(app: &TestApp, path: &str, bearer: &str, file_name: &str) -> Result<String> {
    let response = get(app, path, Some(bearer)).await?;
    let status = response.status();
    let header = |name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    if status != 200 {
        bail!("{path}: {status} {}", response.text().await?);
    }
    ensure(content_type == "application/pdf", format!("{path}: content type {content_type}"))?;
    ensure(
        disposition == format!("inline; filename=\"{file_name}\""),
        format!("{path}: content disposition {disposition}"),
    )?;
    let bytes = response.bytes().await?;
    ensure(bytes.starts_with(b"%PDF-"), format!("{path}: starts with %PDF-"))?;
    pdf_text(&bytes)
}

/// The text of every page, one text run per line.
fn pdf_text(bytes: &[u8]) -> Result<String> {
    let pdf = lopdf::Document::load_mem(bytes)?;
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    ensure(!pages.is_empty(), "the PDF has a page")?;
    Ok(pdf.extract_text(&pages)?)
}

/// Fails naming each expected run of text the document lacks.
fn ensure_lines(what: &str, text: &str, expected: &[&str]) -> Result<()> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let missing: Vec<&&str> = expected.iter().filter(|e| !lines.contains(*e)).collect();
    ensure(missing.is_empty(), format!("{what} lacks {missing:?}; it reads:\n{text}"))
}

pub async fn tax_invoice_and_receipt_are_pdfs_of_the_payment(app: TestApp) -> Result<()> {
    let paid = pay(&app, CARD_POLICY_NUMBER, "sagepay-gbp", card()?).await?;
    ensure(paid.state == PolicyConverted, format!("frictionless card: {}", paid.state))?;
    let reference = paid.reference.clone();
    let bearer = app.merchant_token().await?;
    let today = paid.created_at.format("%Y-%m-%d").to_string();
    let policy =
        Service::find_by_reference(&app.db, CARD_POLICY_NUMBER).await?.context("policy")?;
    let (start, end) = (
        policy.period_start.context("activated")?.format("%Y-%m-%d").to_string(),
        policy.period_end.context("activated")?.format("%Y-%m-%d").to_string(),
    );
    let invoice_number = format!("INV-{reference}");

    for path in [
        format!("/api/v3/payment/{reference}/tax-invoice/"),
        format!("/api/v3/payment/{reference}/tax-invoice"),
    ] {
        let text =
            fetch_pdf(&app, &path, &bearer, &format!("tax-invoice-{invoice_number}.pdf")).await?;
        ensure_lines(
            "the tax invoice",
            &text,
            &[
                "TAX INVOICE",
                // The seller, with its VAT number and address.
                "Demo Insurer & ISP",
                "VAT number 4710263598",
                "14 Bree Street",
                // The customer.
                "Thandi Mokoena",
                "Customer code CUST-0001",
                "customer@settle.test",
                // The policy.
                CARD_POLICY_NUMBER,
                "Trinity Lane - Short Term Test",
                &format!("Policy period {start} to {end}"),
                // The particulars.
                &invoice_number,
                &today,
                &reference,
                "GBP",
                // The line: 4 days × 11.46 = 45.84, 12 % tax 5.50, 51.34.
                "Short-term motor cover, 4 days",
                "4",
                "11.46",
                "45.84",
                "12%",
                "5.50",
                "51.34",
                // The totals.
                "Total excl. tax",
                "Total (GBP)",
            ],
        )?;
        ensure(text.contains("Paid "), "the invoice says it is paid")?;
    }

    let receipt_number = format!("RCT-{reference}");
    for path in [
        format!("/api/v3/payment/{reference}/receipt/"),
        format!("/api/v3/payment/{reference}/receipt"),
    ] {
        let text =
            fetch_pdf(&app, &path, &bearer, &format!("receipt-{receipt_number}.pdf")).await?;
        ensure_lines(
            "the receipt",
            &text,
            &[
                "RECEIPT",
                "Demo Insurer & ISP",
                "Thandi Mokoena",
                "Customer code CUST-0001",
                CARD_POLICY_NUMBER,
                "Trinity Lane - Short Term Test",
                &receipt_number,
                &reference,
                &invoice_number,
                &today,
                "Paid",
                "GBP 51.34",
                "Card",
                "VISA ending 0006",
                &format!("{start} to {end}"),
            ],
        )?;
        ensure(!text.contains("4929000000006") && !text.contains("1230"), "only the last four")?;
        ensure(!text.contains("REFUNDED"), "not refunded")?;
    }

    // A refunded payment still has its receipt, marked refunded.
    let mut tx = app.db.begin().await?;
    transition::apply(&mut tx, &paid, Change::to(Refunded, "refunded by the merchant")).await?;
    tx.commit().await?;
    let text = fetch_pdf(
        &app,
        &format!("/api/v3/payment/{reference}/receipt/"),
        &bearer,
        &format!("receipt-{receipt_number}.pdf"),
    )
    .await?;
    ensure_lines("the refunded receipt", &text, &[&format!("Refunded {today}"), "GBP 51.34"])?;
    ensure(text.contains("REFUNDED on"), format!("the receipt says refunded:\n{text}"))
}

pub async fn receipt_is_refused_until_money_moves(app: TestApp) -> Result<()> {
    let invoiced = pay(&app, POLICY_NUMBER, "invoice", Instrument::Invoice).await?;
    ensure(invoiced.state == Invoiced, format!("invoice gateway: {}", invoiced.state))?;
    let reference = invoiced.reference.clone();
    let bearer = app.merchant_token().await?;

    // The tax invoice exists already: 4857.14 + 5 % (242.86) = 5100.00 AED.
    let invoice_number = format!("INV-{reference}");
    let text = fetch_pdf(
        &app,
        &format!("/api/v3/payment/{reference}/tax-invoice/"),
        &bearer,
        &format!("tax-invoice-{invoice_number}.pdf"),
    )
    .await?;
    ensure_lines(
        "the invoice of an invoiced payment",
        &text,
        &[
            &invoice_number,
            POLICY_NUMBER,
            "Motor Comprehensive (annual)",
            "Motor Comprehensive premium, 12 months",
            "4,857.14",
            "5%",
            "242.86",
            "5,100.00",
            "Total (AED)",
            "Awaiting payment (invoiced)",
        ],
    )?;
    ensure(text.contains("by bank transfer"), format!("the invoice says how to pay it:\n{text}"))?;

    // No receipt: no money has moved.
    for path in [
        format!("/api/v3/payment/{reference}/receipt/"),
        format!("/api/v3/payment/{reference}/receipt"),
    ] {
        let response = get(&app, &path, Some(&bearer)).await?;
        let status = response.status();
        let problem: Value = response.json().await?;
        ensure(status == 409, format!("{path}: {status} {problem}"))?;
        let detail = problem["detail"].as_str().unwrap_or("");
        ensure(
            detail.contains(&reference) && detail.contains("INVOICED") && detail.contains("money"),
            format!("a clear reason: {detail}"),
        )?;
    }
    Ok(())
}

pub async fn documents_are_for_the_payments_merchant_and_customer(app: TestApp) -> Result<()> {
    let paid = pay(&app, CARD_POLICY_NUMBER, "sagepay-gbp", card()?).await?;
    let reference = paid.reference.clone();
    let bearer = app.merchant_token().await?;
    let documents = ["tax-invoice", "receipt"];

    for document in documents {
        // No token.
        let path = format!("/api/v3/payment/{reference}/{document}/");
        let response = get(&app, &path, None).await?;
        ensure(response.status() == 401, format!("{path} without a token: {}", response.status()))?;
        ensure(
            response.headers().contains_key("www-authenticate"),
            "401 says how to authenticate",
        )?;
        let response = get(&app, &path, Some("not-a-token")).await?;
        ensure(
            response.status() == 401,
            format!("{path} with a bad token: {}", response.status()),
        )?;

        // An unknown reference, with and without the slash.
        for path in [
            format!("/api/v3/payment/PAY-NOSUCHPAYMENT/{document}/"),
            format!("/api/v3/payment/PAY-NOSUCHPAYMENT/{document}"),
        ] {
            let response = get(&app, &path, Some(&bearer)).await?;
            let status = response.status();
            let problem: Value = response.json().await?;
            ensure(status == 404, format!("{path}: {status}"))?;
            ensure(problem["status"] == 404, format!("problem details: {problem}"))?;
        }
    }

    // Another merchant can't see the payment, or learn that it exists.
    Merchant::create(
        &app.db,
        NewMerchant {
            name: "Another Shop".into(),
            client_id: "another-shop".into(),
            client_secret: "another-shop-secret-123".into(),
            webhook_url: None,
            webhook_secret: None,
            return_origins: vec![],
        },
    )
    .await?;
    let other = app.client_token("another-shop", "another-shop-secret-123").await?;
    for document in documents {
        let path = format!("/api/v3/payment/{reference}/{document}/");
        let response = get(&app, &path, Some(&other)).await?;
        ensure(
            response.status() == 404,
            format!("{path} for another merchant: {}", response.status()),
        )?;
    }

    // The customer pages' way in: the customer who owns the policy, and nobody else.
    let thandi = settle::demo::customer(&app.db).await?;
    let file = document::receipt_pdf(
        &app.db,
        &reference,
        &Viewer::Customer { customer: thandi.id.clone(), merchant: None },
    )
    .await?;
    ensure(file.file_name == format!("receipt-RCT-{reference}.pdf"), &file.file_name)?;
    ensure(pdf_text(&file.bytes)?.contains("GBP 51.34"), "the customer's receipt")?;
    let stranger = Customer::create(&app.db, "CUST-9999", "Someone Else", None, None).await?;
    match document::tax_invoice_pdf(
        &app.db,
        &reference,
        &Viewer::Customer { customer: stranger.id.clone(), merchant: None },
    )
    .await
    {
        Err(settle::Error::NotFound(_)) => Ok(()),
        other => {
            bail!("another customer must not see the invoice: {:?}", other.map(|f| f.file_name))
        }
    }
}

pub async fn customers_download_their_own_documents(app: TestApp) -> Result<()> {
    let payment = pay(&app, CARD_POLICY_NUMBER, "sagepay-gbp", card()?).await?;
    let receipt = format!("/account/payments/{}/receipt.pdf", payment.reference);
    let invoice = format!("/account/payments/{}/tax-invoice.pdf", payment.reference);

    // Logged out: sent to log in first.
    let anonymous = app.get(&receipt).await?;
    ensure(anonymous.status().is_redirection(), format!("logged out: {}", anonymous.status()))?;

    app.log_in(settle::demo::CUSTOMER_EMAIL, settle::demo::CUSTOMER_PASSWORD, "/account").await?;
    for path in [&receipt, &invoice] {
        let response = app.get(path).await?;
        ensure(response.status() == 200, format!("{path}: {}", response.status()))?;
        ensure(
            response.headers().get("content-type").is_some_and(|v| v == "application/pdf"),
            "a PDF",
        )?;
        ensure(response.bytes().await?.starts_with(b"%PDF-"), "PDF bytes")?;
    }

    // Another customer can't fetch them (and can't tell they exist).
    let other =
        Customer::create(&app.db, "CUST-OTHER", "Other Person", Some("other@settle.test"), None)
            .await?;
    settle::account::User::create(
        &app.db,
        settle::account::NewUser {
            email: settle::account::Email::parse("other@settle.test")?,
            display_name: "Other Person".into(),
            role: settle::account::Role::Customer,
            password: settle::account::Password::new_secret("other-customer-pw")?,
            customer_id: Some(other.id),
        },
    )
    .await?;
    let stranger = TestApp { client: app.new_client(), ..app };
    stranger.log_in("other@settle.test", "other-customer-pw", "/account").await?;
    let refused = stranger.get(&receipt).await?;
    ensure(refused.status() == 404, format!("another customer's receipt: {}", refused.status()))
}
