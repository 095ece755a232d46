//! Settle's merchant API for what is owed, step by step as a merchant's system uses it:
//! customers, services and purchases priced from the product, paid with `POST /api/payments`,
//! merchant references and idempotency keys that never make a second purchase, cancelling, lists
//! by pages, and nobody else seeing any of it.

use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{CARD_ZAR_GATEWAY, INVOICE_PRODUCT_CODE};

use crate::support::{TestApp, ensure};

/// The references of a list page's items.
fn field_of_items(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i[field].as_str().map(str::to_owned))
        .collect()
}

pub async fn a_merchant_bills_a_customer_and_the_customer_pays(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;

    // A customer, created then updated.
    let created = app
        .put_customer(
            &token,
            "ACME-7",
            json!({ "name": "Sipho Dube", "email": "Sipho@Example.com" }),
        )
        .await?;
    ensure(created.status == 201, format!("created: {created:?}"))?;
    ensure(created.body["email"] == "sipho@example.com", "the email is normalised")?;
    let updated = app
        .put_customer(
            &token,
            "ACME-7",
            json!({ "name": "Sipho M. Dube", "phone": "+27 82 555 0199" }),
        )
        .await?;
    ensure(updated.status == 200, format!("updated: {updated:?}"))?;
    let shown = app.get_ok(&token, "/api/customers/ACME-7").await?;
    ensure(
        shown["name"] == "Sipho M. Dube" && shown["phone"] == "+27 82 555 0199",
        format!("read back: {shown}"),
    )?;
    let refused = app
        .put_customer(&token, "ACME-8", json!({ "name": "", "email": "nope", "phone": "call me" }))
        .await?;
    ensure(refused.status == 422, format!("bad fields: {refused:?}"))?;
    let fields = refused.error_fields();
    ensure(fields == ["name", "email", "phone"], format!("each field named: {fields:?}"))?;

    // A short-term motor policy with its dates and address, then what is owed on it.
    let service = app
        .call(
            Method::POST,
            "/api/services",
            Some(&token),
            Some(&json!({
                "reference": "ACME/2026/0007",
                "customer_code": "ACME-7",
                "product_code": "SHORT-MOTOR",
                "period_start": "2026-12-10",
                "period_end": "2026-12-13",
                "policy_address": { "house": "14", "street": "Bree Street", "city": "Cape Town", "postcode": "8001" },
                "quote": { "reference": "Q-77", "insurer_name": "Trinity Lane" }
            })),
            None,
        )
        .await?;
    ensure(service.status == 201, format!("service: {service:?}"))?;
    let location = service.headers.get("location").context("location")?.to_str()?.to_owned();
    ensure(location == "/api/services/ACME%2F2026%2F0007", &location)?;
    let policy = app.get_ok(&token, &location).await?;
    ensure(
        policy["kind"] == "policy"
            && policy["status"] == "quoted"
            && policy["customer_code"] == "ACME-7"
            && policy["policy_address"]["postcode"] == "8001"
            && policy["period_start"] == "2026-12-10T00:00:00Z",
        format!("the policy: {policy}"),
    )?;

    // Lines priced from the product: GBP 11.46 a day, 12 % tax on each line, rounded half up.
    let purchase = app
        .create_purchase(
            &token,
            &json!({
                "customer_code": "ACME-7",
                "service_reference": "ACME/2026/0007",
                "lines": [
                    { "description": "Cover, 3 days", "quantity": 3 },
                    { "description": "Cover, 1 more day" }
                ]
            }),
            None,
        )
        .await?;
    ensure(purchase.status == 201, format!("purchase: {purchase:?}"))?;
    let p = &purchase.body;
    let reference = p["reference"].as_str().context("reference")?.to_owned();
    ensure(
        reference.starts_with("SHORT-MOTOR2026-")
            && reference.len() == "SHORT-MOTOR2026-".len() + 5,
        format!("a reference in the invoice style: {reference}"),
    )?;
    let line = |i: usize, field: &str| p["lines"][i][field].clone();
    ensure(
        (line(0, "amount_excl_tax"), line(0, "tax"), line(0, "amount"))
            == (json!("34.38"), json!("4.13"), json!("38.51"))
            && (line(1, "amount_excl_tax"), line(1, "tax"), line(1, "amount"))
                == (json!("11.46"), json!("1.38"), json!("12.84"))
            && (p["amount_excl_tax"].clone(), p["tax"].clone(), p["amount"].clone())
                == (json!("45.84"), json!("5.51"), json!("51.35"))
            && p["currency"] == "GBP"
            && p["status"] == "open",
        format!("lines, tax and totals: {p}"),
    )?;

    // Paid with Settle's payments API, by card through the sandbox acquirer.
    let purchase_id = p["purchase_id"].as_str().context("purchase_id")?;
    let paid = app.pay_by_card(&token, purchase_id, "sagepay-gbp").await?;
    ensure(paid.status == 201, format!("payment: {paid:?}"))?;
    let payment = paid.body["reference"].as_str().context("payment reference")?.to_owned();
    let read = app.get_ok(&token, &format!("/api/purchases/{reference}")).await?;
    ensure(
        read["status"] == "paid"
            && read["payments"][0]["reference"] == payment.as_str()
            && read["payments"][0]["amount"] == "51.35",
        format!("read back paid: {read}"),
    )?;
    ensure(
        app.charges_for(std::slice::from_ref(&payment)).await? == 1,
        "one charge at the acquirer",
    )?;
    let cancel = app
        .call(Method::POST, &format!("/api/purchases/{reference}/cancel"), Some(&token), None, None)
        .await?;
    ensure(cancel.status == 409, format!("a paid purchase isn't cancelled: {cancel:?}"))?;

    // An invoice whose amount the merchant sets: the amount includes 15 % tax.
    let invoice = app
        .create_purchase(
            &token,
            &json!({
                "customer_code": "ACME-7",
                "product_code": INVOICE_PRODUCT_CODE,
                "lines": [{ "description": "Invoice 0042", "amount": 5100.00 }],
                "merchant_reference": "INV-0042",
                "details": { "itemName": "School fees" }
            }),
            None,
        )
        .await?;
    ensure(invoice.status == 201, format!("invoice: {invoice:?}"))?;
    let i = &invoice.body;
    ensure(
        (i["amount_excl_tax"].clone(), i["tax"].clone(), i["amount"].clone())
            == (json!("4434.78"), json!("665.22"), json!("5100.00"))
            && i["currency"] == "ZAR"
            && i["reference"].as_str().is_some_and(|r| r.starts_with("XYZ2026-")),
        format!("a merchant-set amount: {i}"),
    )?;
    let paid =
        app.pay_by_card(&token, i["purchase_id"].as_str().context("id")?, CARD_ZAR_GATEWAY).await?;
    ensure(paid.status == 201, format!("the invoice is paid by card: {paid:?}"))?;
    let invoice_ref = i["reference"].as_str().context("reference")?;
    let read = app.get_ok(&token, &format!("/api/purchases/{invoice_ref}")).await?;
    ensure(read["status"] == "paid", format!("the invoice is paid: {read}"))?;

    // A merchant-set amount where the product has a price of its own is refused.
    let refused = app
        .create_purchase(
            &token,
            &json!({
                "customer_code": "ACME-7",
                "service_reference": "ACME/2026/0007",
                "lines": [{ "amount": "10.00" }]
            }),
            None,
        )
        .await?;
    ensure(
        refused.status == 422 && refused.body["errors"][0]["field"] == "lines[0].amount",
        format!("fixed price: {refused:?}"),
    )?;

    // Operators see which product the merchant prices.
    app.log_in(settle::demo::OPERATOR_EMAIL, settle::demo::OPERATOR_PASSWORD, "/operator").await?;
    let page = app.get("/operator").await?.text().await?;
    ensure(page.contains("Set by the merchant (tax included)"), "the operator's product list")
}

pub async fn a_merchant_reference_makes_one_purchase(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    app.put_customer(&token, "REF-1", json!({ "name": "Lindiwe Khumalo" })).await?;
    let body = |reference: &str, amount: &str| {
        json!({
            "customer_code": "REF-1",
            "product_code": INVOICE_PRODUCT_CODE,
            "lines": [{ "amount": amount }],
            "merchant_reference": reference
        })
    };
    let first = app.create_purchase(&token, &body("INV-1", "250.00"), None).await?;
    let again = app.create_purchase(&token, &body("INV-1", "250.00"), None).await?;
    ensure(first.status == 201 && again.status == 200, format!("{first:?} then {again:?}"))?;
    ensure(first.body["reference"] == again.body["reference"], "the same purchase answers")?;
    let other = app.create_purchase(&token, &body("INV-1", "999.00"), None).await?;
    ensure(other.status == 409, format!("the same reference for another amount: {other:?}"))?;
    let found = app.get_ok(&token, "/api/purchases?customer_code=REF-1").await?;
    ensure(field_of_items(&found, "reference").len() == 1, format!("one purchase: {found}"))?;

    // Ten at once with a new reference: one purchase, every answer names it.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, url, token, body) =
            (app.new_client(), app.url("/api/purchases"), token.clone(), body("INV-2", "75.50"));
        tasks.push(tokio::spawn(async move {
            let response = client.post(url).bearer_auth(token).json(&body).send().await?;
            let status = response.status().as_u16();
            Ok::<_, anyhow::Error>((status, response.json::<Value>().await?))
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await??);
    }
    let new = answers.iter().filter(|(s, _)| *s == 201).count();
    let references: std::collections::BTreeSet<String> =
        answers.iter().filter_map(|(_, b)| b["reference"].as_str().map(str::to_owned)).collect();
    ensure(
        new == 1 && references.len() == 1 && answers.iter().all(|(s, _)| matches!(s, 200 | 201)),
        format!("one purchase for ten creates: {answers:?}"),
    )?;
    let sql = "SELECT COUNT(*) FROM purchases WHERE merchant_reference = 'INV-2'";
    let count: i64 =
        settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await)?;
    ensure(count == 1, format!("{count} purchases stored"))?;
    println!("10 concurrent creates with one merchant reference: {new} created, {count} stored");

    // Read back by the merchant reference, through the core.
    let viewer = settle::access::Viewer::Merchant(
        settle::merchant::Merchant::by_client_id(&app.db, settle::demo::MERCHANT_CLIENT_ID)
            .await?
            .context("merchant")?
            .id,
    );
    let (purchase, _) =
        settle::billing::purchase_by_merchant_reference(&app.db, &viewer, "INV-2").await?;
    ensure(references.contains(&purchase.reference), "found by the merchant reference")
}

pub async fn an_idempotency_key_replays_the_first_answer(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    app.put_customer(&token, "KEY-1", json!({ "name": "Ayanda Nkosi" })).await?;
    let body = json!({
        "customer_code": "KEY-1",
        "product_code": INVOICE_PRODUCT_CODE,
        "lines": [{ "amount": "120.00" }]
    });
    let first = app.create_purchase(&token, &body, Some("purchase-key-1")).await?;
    let replay = app.create_purchase(&token, &body, Some("purchase-key-1")).await?;
    ensure(first.status == 201 && replay.status == 201, format!("{first:?} / {replay:?}"))?;
    ensure(first.body == replay.body, "the same answer")?;
    ensure(
        replay.headers.get("idempotent-replayed").is_some_and(|v| v == "true"),
        "marked as replayed",
    )?;
    let mut other = body.clone();
    other["lines"][0]["amount"] = json!("121.00");
    let mismatch = app.create_purchase(&token, &other, Some("purchase-key-1")).await?;
    ensure(mismatch.status == 422, format!("the key for another body: {mismatch:?}"))?;
    let listed = app.get_ok(&token, "/api/purchases?customer_code=KEY-1").await?;
    ensure(field_of_items(&listed, "reference").len() == 1, format!("one purchase: {listed}"))
}

pub async fn cancelling_an_unpaid_purchase_ends_what_is_owed(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    app.put_customer(&token, "CXL-1", json!({ "name": "Nomsa Mahlangu" })).await?;
    let created = app
        .create_purchase(
            &token,
            &json!({
                "customer_code": "CXL-1",
                "product_code": INVOICE_PRODUCT_CODE,
                "lines": [{ "amount": "80.00" }]
            }),
            None,
        )
        .await?;
    let reference = created.body["reference"].as_str().context("reference")?.to_owned();
    let purchase_id = created.body["purchase_id"].as_str().context("id")?.to_owned();
    let path = format!("/api/purchases/{reference}/cancel");
    let cancelled = app.call(Method::POST, &path, Some(&token), None, None).await?;
    ensure(
        cancelled.status == 200 && cancelled.body["status"] == "cancelled",
        format!("cancelled: {cancelled:?}"),
    )?;
    let again = app.call(Method::POST, &path, Some(&token), None, None).await?;
    ensure(again.status == 200, format!("cancelling twice is harmless: {again:?}"))?;
    let pay = app.pay_by_card(&token, &purchase_id, CARD_ZAR_GATEWAY).await?;
    ensure(pay.status == 409, format!("no longer payable: {pay:?}"))?;
    let read = app.get_ok(&token, &format!("/api/purchases/{reference}")).await?;
    ensure(read["payments"] == json!([]), format!("no payment was started: {read}"))?;
    let open = app.get_ok(&token, "/api/purchases?customer_code=CXL-1&status=open").await?;
    let gone = app.get_ok(&token, "/api/purchases?customer_code=CXL-1&status=cancelled").await?;
    ensure(
        field_of_items(&open, "reference").is_empty()
            && field_of_items(&gone, "reference") == [reference.clone()],
        format!("listed as cancelled: {open} {gone}"),
    )?;

    // A cancel racing a payment: one of them wins, never both.
    let mut cancels_won = 0;
    for round in 0..5u64 {
        let body = json!({
            "customer_code": "CXL-1",
            "product_code": INVOICE_PRODUCT_CODE,
            "lines": [{ "amount": "80.00" }]
        });
        let created = app.create_purchase(&token, &body, None).await?;
        let reference = created.body["reference"].as_str().context("reference")?.to_owned();
        let id = created.body["purchase_id"].as_str().context("id")?.to_owned();
        let cancel_path = format!("/api/purchases/{reference}/cancel");
        let (paid, cancelled) =
            tokio::join!(app.pay_by_card(&token, &id, CARD_ZAR_GATEWAY), async {
                // Later each round, so the payment gets ahead in some of them.
                tokio::time::sleep(std::time::Duration::from_millis(25 * round)).await;
                app.call(Method::POST, &cancel_path, Some(&token), None, None).await
            });
        let (paid, cancelled) = (paid?, cancelled?);
        let read = app.get_ok(&token, &format!("/api/purchases/{reference}")).await?;
        let fine = match (paid.status, cancelled.status) {
            (201, 409) => read["status"] == "paid",
            (409, 200) => {
                cancels_won += 1;
                read["status"] == "cancelled" && read["payments"] == json!([])
            }
            _ => false,
        };
        ensure(fine, format!("round {round}: pay {paid:?}, cancel {cancelled:?}, then {read}"))?;
    }
    println!(
        "a cancel racing a card payment, 5 rounds: the cancel won {cancels_won}, the payment {}",
        5 - cancels_won
    );
    Ok(())
}

pub async fn lists_come_in_pages(app: TestApp) -> Result<()> {
    let token = app.other_merchant().await?;
    for n in 1..=5 {
        let answer = app
            .put_customer(&token, &format!("P-{n}"), json!({ "name": format!("Person {n}") }))
            .await?;
        ensure(answer.status == 201, format!("customer {n}: {answer:?}"))?;
    }
    let mut codes = Vec::new();
    let mut path = "/api/customers?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get_ok(&token, &path).await?;
        pages += 1;
        codes.extend(field_of_items(&page, "customer_code"));
        match page["next_after"].as_str() {
            Some(after) => path = format!("/api/customers?limit=2&after={after}"),
            None => break,
        }
    }
    ensure(
        pages == 3 && codes == ["P-1", "P-2", "P-3", "P-4", "P-5"],
        format!("{pages} pages: {codes:?}"),
    )?;
    let bad = app.call(Method::GET, "/api/customers?limit=500", Some(&token), None, None).await?;
    ensure(bad.status == 422, format!("limit 500: {bad:?}"))?;

    // Purchases, oldest first, by customer and status.
    let demo = app.merchant_token().await?;
    app.put_customer(&demo, "PAGE-1", json!({ "name": "Page Turner" })).await?;
    let mut made = Vec::new();
    for amount in ["10.00", "20.00", "30.00"] {
        let body = json!({
            "customer_code": "PAGE-1",
            "product_code": INVOICE_PRODUCT_CODE,
            "lines": [{ "amount": amount }]
        });
        let answer = app.create_purchase(&demo, &body, None).await?;
        made.push(answer.body["reference"].as_str().context("reference")?.to_owned());
    }
    let first = app.get_ok(&demo, "/api/purchases?customer_code=PAGE-1&limit=2").await?;
    let after = first["next_after"].as_str().context("a second page")?;
    let second = app
        .get_ok(&demo, &format!("/api/purchases?customer_code=PAGE-1&limit=2&after={after}"))
        .await?;
    let mut listed = field_of_items(&first, "reference");
    listed.extend(field_of_items(&second, "reference"));
    ensure(
        listed == made && second["next_after"].is_null(),
        format!("purchases in pages: {listed:?} vs {made:?}"),
    )?;
    let services = app.get_ok(&demo, "/api/services?customer_code=PAGE-1").await?;
    ensure(
        field_of_items(&services, "reference").len() == 1,
        format!("one account service for the product: {services}"),
    )
}

pub async fn nobody_else_sees_a_merchants_billing(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    app.put_customer(&token, "SHARED-1", json!({ "name": "First Merchant's Customer" })).await?;
    let created = app
        .create_purchase(
            &token,
            &json!({
                "customer_code": "SHARED-1",
                "product_code": INVOICE_PRODUCT_CODE,
                "lines": [{ "amount": "42.00" }],
                "merchant_reference": "ORDER-1"
            }),
            None,
        )
        .await?;
    let reference = created.body["reference"].as_str().context("reference")?.to_owned();
    let service = created.body["service_reference"].as_str().context("service")?.to_owned();

    // Another merchant: everything of the first is not found.
    let other = app.other_merchant().await?;
    for (method, path, body) in [
        (Method::GET, "/api/customers/SHARED-1".to_owned(), None),
        (Method::GET, format!("/api/services/{service}"), None),
        (Method::GET, "/api/services?customer_code=SHARED-1".to_owned(), None),
        (Method::GET, format!("/api/purchases/{reference}"), None),
        (Method::GET, "/api/purchases?customer_code=SHARED-1".to_owned(), None),
        (Method::POST, format!("/api/purchases/{reference}/cancel"), None),
        (
            Method::POST,
            "/api/purchases".to_owned(),
            Some(
                json!({ "customer_code": "SHARED-1", "product_code": INVOICE_PRODUCT_CODE, "lines": [{ "amount": "1.00" }] }),
            ),
        ),
        (
            Method::POST,
            "/api/services".to_owned(),
            Some(json!({ "customer_code": "SHARED-1", "product_code": INVOICE_PRODUCT_CODE })),
        ),
    ] {
        let answer = app.call(method.clone(), &path, Some(&other), body.as_ref(), None).await?;
        ensure(answer.status == 404, format!("another merchant, {method} {path}: {answer:?}"))?;
    }
    for path in ["/api/customers", "/api/services", "/api/purchases"] {
        let page = app.get_ok(&other, path).await?;
        ensure(page["items"] == json!([]), format!("another merchant's {path}: {page}"))?;
    }
    // The same code at another merchant is another customer.
    let theirs = app.put_customer(&other, "SHARED-1", json!({ "name": "Someone Else" })).await?;
    ensure(theirs.status == 201, format!("their own SHARED-1: {theirs:?}"))?;
    let ours = app.get_ok(&token, "/api/customers/SHARED-1").await?;
    ensure(ours["name"] == "First Merchant's Customer", format!("ours unchanged: {ours}"))?;
    let read = app.get_ok(&token, &format!("/api/purchases/{reference}")).await?;
    ensure(read["status"] == "open", "the purchase wasn't cancelled by the other merchant")?;

    // A customer's token: sees themself, manages nothing.
    let customer = app.customer_token().await?;
    let me = app.get_ok(&customer, "/api/customers/CUST-0001").await?;
    ensure(me["name"] == settle::demo::CUSTOMER_NAME, format!("themself: {me}"))?;
    for (method, path, body) in [
        (Method::PUT, "/api/customers/CUST-0001".to_owned(), Some(json!({ "name": "Me" }))),
        (Method::GET, "/api/customers".to_owned(), None),
        (Method::GET, "/api/purchases".to_owned(), None),
        (Method::GET, "/api/services".to_owned(), None),
        (
            Method::POST,
            "/api/purchases".to_owned(),
            Some(
                json!({ "customer_code": "CUST-0001", "product_code": INVOICE_PRODUCT_CODE, "lines": [{ "amount": "1.00" }] }),
            ),
        ),
    ] {
        let answer = app.call(method.clone(), &path, Some(&customer), body.as_ref(), None).await?;
        ensure(answer.status == 403, format!("a customer, {method} {path}: {answer:?}"))?;
    }
    let theirs = app.get_ok(&customer, "/api/customers/SHARED-1").await;
    ensure(theirs.is_err(), "a customer sees no other customer")?;
    let without = app.call(Method::GET, "/api/purchases", None, None, None).await?;
    ensure(without.status == 401, format!("no token: {without:?}"))
}
