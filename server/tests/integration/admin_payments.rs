//! The admin's payment list and payment detail: roles, each filter and search key, keyset
//! paging in every order (no duplicates, no gaps, back and forth), totals, the timeline without
//! card numbers or secrets, and the streamed CSV export of a large set.

use std::collections::HashSet;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, TimeZone, Utc};
use settle::demo::{CUSTOMER_EMAIL, CUSTOMER_PASSWORD};
use settle::money::{Currency, Money};
use settle::payment::transition::{self, Change};
use settle::payment::{CardSummary, Payment, PaymentState};
use settle::purchase::PurchaseId;

use crate::support::admin_payments::{DemoPurchase, SeedPayment};
use crate::support::{TestApp, ensure};

/// Seeded payments live in 2031, where nothing else does: `from`/`to` isolate them from the
/// demo's own payments.
const YEAR: &str = "from=2031-01-01&to=2031-12-31";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 3, 1, 9, 0, 0).single().expect("a valid time")
}

/// `n` payments spread over the demo's purchases and a few gateways and states; every third
/// shares its creation time with the one before (ties the keyset must break by id), amounts
/// repeat, every fifth was paid by card.
fn seed_rows(purchases: &[DemoPurchase], n: usize, tag: &str) -> Vec<SeedPayment> {
    let gateways = ["peach-zar", "payfast-zar", "payfort-aed"];
    let states = [7, 8, 9, 13];
    (0..n)
        .map(|i| {
            let purchase = &purchases[i % purchases.len()];
            let gateway = gateways[i % gateways.len()];
            let minutes = i as i64 - (i as i64 % 3 == 2) as i64;
            SeedPayment {
                id: format!("{tag}-{i:06}"),
                reference: format!("PAY-{tag}{i:06}"),
                purchase_id: purchase.id.clone(),
                gateway_id: gateway.into(),
                state: states[i % states.len()],
                currency: if gateway == "payfort-aed" { "AED" } else { "ZAR" }.into(),
                amount_minor: 1000 + (i as i64 % 7) * 250,
                card: (i % 5 == 0).then(|| ("VISA".into(), format!("{:04}", 1000 + i % 9000))),
                created_at: t0() + Duration::minutes(minutes),
            }
        })
        .collect()
}

pub async fn list_and_detail_are_for_admins_only(app: TestApp) -> Result<()> {
    let admin = app.admin().await?;
    let page = admin.get("/admin/payments").await?;
    ensure(page.status() == 200, format!("admin list: {}", page.status()))?;
    let html = page.text().await?;
    ensure(html.contains("<h1>Payments</h1>") && html.contains("Download CSV"), "the list page")?;

    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    for path in ["/admin/payments", "/admin/payments/PAY-ANY", "/admin/payments/export.csv"] {
        let response = app.get(path).await?;
        ensure(response.status() == 403, format!("customer on {path}: {}", response.status()))?;
    }
    for (path, body) in
        [("/admin/api/payments", "query="), ("/admin/api/payment", "reference=PAY-ANY")]
    {
        let response = app
            .post_raw(&app.client, path, "application/x-www-form-urlencoded", body, None)
            .await?;
        ensure(
            response.status() == 403,
            format!("customer calling {path}: {}", response.status()),
        )?;
    }
    // Core: only the staff viewer reads the list.
    let customer = settle::access::Viewer::Customer {
        customer: settle::customer::CustomerId::from_string("x"),
        merchant: None,
    };
    let refused = settle::payment::search::list(&app.db, &customer, &Default::default()).await;
    ensure(matches!(refused, Err(settle::Error::Forbidden)), "the core refuses a customer")
}

pub async fn filters_and_search_keys_narrow_the_list(app: TestApp) -> Result<()> {
    let admin = app.admin().await?;
    let purchases = app.demo_purchases().await?;
    ensure(purchases.len() >= 2, "the demo has purchases")?;
    let rows = seed_rows(&purchases, 40, "F");
    app.seed_payments(&rows).await?;
    let count = |q: &str| {
        let admin = &admin;
        let q = q.to_owned();
        async move {
            let page = admin.payments_list(&format!("{YEAR}&{q}")).await?;
            page["count"].as_i64().context("count")
        }
    };
    let expect =
        |pred: &dyn Fn(&SeedPayment) -> bool| rows.iter().filter(|r| pred(r)).count() as i64;
    ensure(count("").await? == 40, "the year holds the seeded set")?;
    ensure(count("state=7").await? == expect(&|r| r.state == 7), "state by code")?;
    ensure(count("state=CANCELLED").await? == expect(&|r| r.state == 13), "state by name")?;
    ensure(
        count("gateway=payfast-zar").await? == expect(&|r| r.gateway_id == "payfast-zar"),
        "gateway",
    )?;
    ensure(count("currency=AED").await? == expect(&|r| r.currency == "AED"), "currency")?;
    let p0 = &purchases[0];
    let of_p0 = |r: &SeedPayment| r.purchase_id == p0.id;
    let same_product = |r: &SeedPayment| {
        purchases.iter().any(|p| p.id == r.purchase_id && p.product_id == p0.product_id)
    };
    ensure(
        count(&format!("product={}", p0.product_id)).await? == expect(&same_product),
        "product by id",
    )?;
    if let Some(merchant) = &p0.merchant_id {
        let same = |r: &SeedPayment| {
            purchases
                .iter()
                .any(|p| p.id == r.purchase_id && p.merchant_id.as_ref() == Some(merchant))
        };
        ensure(count(&format!("merchant={merchant}")).await? == expect(&same), "merchant")?;
    }
    let same_customer = |r: &SeedPayment| {
        purchases.iter().any(|p| p.id == r.purchase_id && p.customer_id == p0.customer_id)
    };
    ensure(
        count(&format!("customer={}", p0.customer_id)).await? == expect(&same_customer),
        "customer by id",
    )?;
    ensure(count("customer=nobody@nowhere.test").await? == 0, "an unknown customer")?;
    ensure(
        count("customer=customer%40settle.test").await? == expect(&same_customer),
        "customer by email",
    )?;
    // Dates: 1 March 09:00 + i minutes, all on one day.
    ensure(count("from=2031-03-02").await? == 0, "after the day")?;
    ensure(count("to=2031-03-01").await? == 40, "the end day is included")?;
    ensure(count("min=15.00").await? == expect(&|r| r.amount_minor >= 1500), "min")?;
    ensure(
        count("min=15&max=20.00").await? == expect(&|r| (1500..=2000).contains(&r.amount_minor)),
        "min and max",
    )?;

    // Search keys, each exact.
    let refs = |q: &str| {
        let admin = &admin;
        let q = q.to_owned();
        async move { admin.payment_references(&format!("{YEAR}&q={}", urlencode(&q))).await }
    };
    ensure(refs("PAY-F000007").await? == ["PAY-F000007"], "payment reference")?;
    let mut of_p0_refs: Vec<String> =
        rows.iter().filter(|r| of_p0(r)).map(|r| r.reference.clone()).collect();
    of_p0_refs.sort();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    ensure(sorted(refs(&p0.reference).await?) == of_p0_refs, "invoice id (purchase reference)")?;
    ensure(sorted(refs(&p0.id).await?) == of_p0_refs, "order id (purchase id)")?;
    let same_service = |r: &SeedPayment| {
        purchases
            .iter()
            .any(|p| p.id == r.purchase_id && p.service_reference == p0.service_reference)
    };
    let service_refs: Vec<String> =
        sorted(rows.iter().filter(|r| same_service(r)).map(|r| r.reference.clone()).collect());
    ensure(
        sorted(refs(&p0.service_reference).await?) == service_refs,
        "policy number / service id",
    )?;
    let sql = "UPDATE purchases SET merchant_reference = 'MREF-ADMIN-1' WHERE id = $1";
    settle::with_db!(&app.db, pool => sqlx::query(sql).bind(&p0.id).execute(pool).await.map(|_| ()))?;
    ensure(sorted(refs("MREF-ADMIN-1").await?) == of_p0_refs, "merchant reference")?;
    let card = rows.iter().find_map(|r| r.card.clone()).context("a card payment")?;
    let by_card: Vec<String> = sorted(
        rows.iter()
            .filter(|r| r.card.as_ref().is_some_and(|c| c.1 == card.1))
            .map(|r| r.reference.clone())
            .collect(),
    );
    ensure(sorted(refs(&card.1).await?) == by_card, "card last four")?;
    ensure(refs("nothing-like-this").await?.is_empty(), "no match")?;

    // Bad values are reported per field, on the page too.
    let bad = admin.payments_list("state=99&min=ten").await?;
    let fields: Vec<&str> =
        bad["errors"].as_array().context("errors")?.iter().filter_map(|e| e[0].as_str()).collect();
    ensure(fields == ["state", "min"], format!("errors per field: {bad}"))?;
    let page = admin.get("/admin/payments?min=ten").await?.text().await?;
    ensure(page.contains("must be an amount"), "the page shows the problem by its field")?;
    let page = admin.get(&format!("/admin/payments?{YEAR}&q=PAY-F000007")).await?.text().await?;
    ensure(
        page.contains("href=\"/admin/payments/PAY-F000007\"")
            && page.contains("/admin/payments/export.csv?q=PAY-F000007"),
        "the page links the row and exports the same filters",
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn keyset_pages_cover_the_set_once_in_every_order(app: TestApp) -> Result<()> {
    let admin = app.admin().await?;
    let purchases = app.demo_purchases().await?;
    let rows = seed_rows(&purchases, 83, "K");
    app.seed_payments(&rows).await?;
    for sort in ["newest", "oldest", "amount_desc", "amount_asc"] {
        let mut expected = rows.clone();
        expected.sort_by(|a, b| {
            let key = match sort {
                "newest" | "oldest" => a.created_at.cmp(&b.created_at),
                _ => a.amount_minor.cmp(&b.amount_minor),
            };
            key.then(a.id.cmp(&b.id))
        });
        if sort == "newest" || sort == "amount_desc" {
            expected.reverse();
        }
        let expected: Vec<String> = expected.into_iter().map(|r| r.reference).collect();
        // Forward through every page.
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        let mut query = format!("{YEAR}&sort={sort}");
        loop {
            let page = admin.payments_list(&query).await?;
            let refs: Vec<String> = page["rows"]
                .as_array()
                .context("rows")?
                .iter()
                .filter_map(|r| r["reference"].as_str().map(str::to_owned))
                .collect();
            ensure(refs.len() <= 25, "a page holds at most 25")?;
            seen.extend(refs.clone());
            pages.push((refs, page["previous"].as_str().map(str::to_owned)));
            match page["next"].as_str() {
                Some(next) => query = next.to_owned(),
                None => break,
            }
            ensure(pages.len() < 10, "paging ends")?;
        }
        ensure(seen == expected, format!("{sort}: every row once, in order"))?;
        ensure(pages.len() == 4, format!("{sort}: 83 rows are 4 pages"))?;
        ensure(pages[0].1.is_none(), "the first page has no previous page")?;
        // Back from the last page: each previous link gives the page before, exactly.
        for i in (1..pages.len()).rev() {
            let previous = pages[i].1.clone().context("a previous link")?;
            let back = admin.payment_references(&previous).await?;
            ensure(back == pages[i - 1].0, format!("{sort}: page {i}'s previous page"))?;
        }
    }
    // A cursor of another order is refused, not misread.
    let first = admin.payments_list(&format!("{YEAR}&sort=newest")).await?;
    let next = first["next"].as_str().context("next")?.to_owned();
    let cursor = next.split("after=").nth(1).context("a cursor")?;
    let wrong = admin.payments_list(&format!("{YEAR}&sort=amount_asc&after={cursor}")).await?;
    ensure(
        wrong["errors"].as_array().is_some_and(|e| !e.is_empty()),
        format!("a foreign cursor: {wrong}"),
    )
}

pub async fn totals_count_and_sum_the_filtered_set_per_currency(app: TestApp) -> Result<()> {
    let admin = app.admin().await?;
    let purchases = app.demo_purchases().await?;
    let rows = seed_rows(&purchases, 50, "T");
    app.seed_payments(&rows).await?;
    let page = admin.payments_list(&format!("{YEAR}&state=7")).await?;
    let failed: Vec<&SeedPayment> = rows.iter().filter(|r| r.state == 7).collect();
    for currency in ["AED", "ZAR"] {
        let of: Vec<&&SeedPayment> = failed.iter().filter(|r| r.currency == currency).collect();
        let sum: i64 = of.iter().map(|r| r.amount_minor).sum();
        let money = Money::from_minor(sum, Currency::parse(currency)?).display().to_string();
        let line = format!("{currency}: {} payments, {money}", of.len());
        let totals = page["totals"].to_string();
        ensure(totals.contains(&line), format!("{line} in {totals}"))?;
    }
    ensure(page["count"] == failed.len() as i64, "the count over currencies")?;
    let html = admin.get(&format!("/admin/payments?{YEAR}&state=7")).await?.text().await?;
    ensure(html.contains(&format!("{} payments match", failed.len())), "the page shows totals")
}

pub async fn detail_shows_the_timeline_without_card_numbers_or_secrets(app: TestApp) -> Result<()> {
    let admin = app.admin().await?;
    let purchases = app.demo_purchases().await?;
    // An open purchase of the demo, paid by card through the core's own steps.
    let open: Vec<(String, String, i64)> = settle::with_db!(&app.db, pool => sqlx::query_as(
        "SELECT id, currency, amount_minor FROM purchases WHERE status = 'open' ORDER BY id"
    ).fetch_all(pool).await)?;
    let (purchase_id, currency, amount) = open.first().cloned().context("an open purchase")?;
    let purchase = purchases.iter().find(|p| p.id == purchase_id).context("its details")?;
    let money = Money::from_minor(amount, Currency::parse(&currency)?);
    let payment = Payment::new(PurchaseId::from_string(&purchase_id), "peach-zar", money);
    let mut tx = app.db.begin().await?;
    payment.insert(&mut tx, "payment started by the test").await?;
    let processing = transition::apply(
        &mut tx,
        &payment,
        Change::to(PaymentState::Processing, "sent to the gateway").payload(serde_json::json!({
            "request": { "card_number": "4462000000000003", "cvv": "123", "api_key": "sk_live_TOPSECRET" },
            "note": "charged 4462 0000 0000 0003"
        })),
    )
    .await?;
    transition::apply(
        &mut tx,
        &processing,
        Change::to(PaymentState::PaymentSuccess, "the gateway approved it")
            .gateway_reference("GW-REF-777")
            .card(CardSummary { brand: "VISA".into(), last4: "0003".into(), expiry: "1230".into() })
            .payload(serde_json::json!({ "status": "approved", "signature": "sig-TOPSECRET" })),
    )
    .await?;
    tx.commit().await?;
    let sql = "INSERT INTO gateway_notifications (gateway_id, gateway_reference, event_id, payment_id, outcome, received_at)
               VALUES ('peach-zar', 'GW-REF-777', 'evt-42', $1, 'processed', $2)";
    settle::with_db!(&app.db, pool => sqlx::query(sql).bind(payment.id.as_str()).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    let merchant: Option<String> = match &purchase.merchant_id {
        Some(m) => Some(m.clone()),
        None => {
            settle::with_db!(&app.db, pool => sqlx::query_scalar("SELECT id FROM merchants ORDER BY id LIMIT 1").fetch_optional(pool).await)?
        }
    };
    let hooked = merchant.is_some();
    if let Some(merchant) = merchant {
        let sql = "INSERT INTO webhook_events (merchant_id, kind, subject, created_at, invocation, attempts)
                   VALUES ($1, 'payment.test_event', $2, $3, 'SUCCESSFULL', 1) RETURNING id";
        let event: i64 = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql)
            .bind(&merchant).bind(&payment.reference).bind(Utc::now()).fetch_one(pool).await)?;
        let sql = "INSERT INTO webhook_attempts (id, event_id, merchant_id, attempt, url, attempted_at, duration_ms, status_code, invocation, pending_webhooks)
                   VALUES ('att-1', $1, $2, 1, 'https://merchant.test/hooks', $3, 12, 204, 'SUCCESSFULL', 0)";
        settle::with_db!(&app.db, pool => sqlx::query(sql)
            .bind(event).bind(&merchant).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    }

    let response = admin.get(&format!("/admin/payments/{}", payment.reference)).await?;
    ensure(response.status() == 200, format!("detail: {}", response.status()))?;
    let html = response.text().await?;
    for needle in [
        payment.reference.as_str(),
        "PAYMENT_SUCCESS (6)",
        "CREATED (1) → PROCESSING (3)",
        "PROCESSING (3) → PAYMENT_SUCCESS (6)",
        "the gateway approved it",
        "GW-REF-777",
        "Notification from peach-zar",
        "evt-42",
        "VISA •••• 0003",
        purchase.service_reference.as_str(),
        purchase.reference.as_str(),
        "/refund\"",
        "Timeline",
    ] {
        ensure(html.contains(needle), format!("the detail shows {needle:?}"))?;
    }
    if hooked {
        ensure(
            html.contains("Webhook payment.test_event") && html.contains("HTTP 204"),
            "the webhook sent",
        )?;
    }
    for secret in
        ["4462000000000003", "4462 0000 0000 0003", "sk_live_TOPSECRET", "sig-TOPSECRET", "1230"]
    {
        ensure(!html.contains(secret), format!("the detail leaks {secret:?}"))?;
    }
    // The timeline is in time order.
    let created = html.find("payment started by the test").context("creation")?;
    let approved = html.find("the gateway approved it").context("approval")?;
    ensure(created < approved, "oldest first")?;
    let missing = admin.get("/admin/payments/PAY-NOSUCHTHING").await?;
    ensure(missing.status() == 404, format!("an unknown payment: {}", missing.status()))
}

pub async fn csv_export_streams_a_large_filtered_set(app: TestApp) -> Result<()> {
    const N: usize = 20_500;
    let admin = app.admin().await?;
    let purchases = app.demo_purchases().await?;
    let rows = seed_rows(&purchases, N, "X");
    app.seed_payments(&rows).await?;
    let response = admin.get(&format!("/admin/payments/export.csv?{YEAR}&sort=amount_asc")).await?;
    ensure(response.status() == 200, format!("export: {}", response.status()))?;
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
    ensure(content_type.as_deref() == Some("text/csv; charset=utf-8"), "a CSV file")?;
    ensure(
        response.headers().get("content-length").is_none(),
        "streamed: no length known in advance",
    )?;
    let mut response = response;
    let mut chunks = 0;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        chunks += 1;
        body.extend_from_slice(&chunk);
    }
    ensure(chunks > 10, format!("the body came in pieces ({chunks})"))?;
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let headers = reader.headers()?.clone();
    ensure(&headers[0] == "reference" && &headers[6] == "amount", format!("header {headers:?}"))?;
    let mut seen = HashSet::new();
    let mut last_amount = 0_i64;
    for record in reader.records() {
        let record = record?;
        ensure(seen.insert(record[0].to_owned()), format!("{} twice", &record[0]))?;
        let minor = (record[6].parse::<f64>()? * 100.0).round() as i64;
        ensure(minor >= last_amount, "in the export's order")?;
        last_amount = minor;
    }
    ensure(seen.len() == N, format!("{} rows of {N}", seen.len()))?;
    // Bounded memory: the core hands out the file one keyset batch at a time, never more.
    let query = settle::payment::search::ListQuery::from_query(YEAR)?;
    let mut export = settle::payment::search::export::Export::start(
        &settle::access::Viewer::Staff,
        query.filter,
        query.sort,
    )?;
    let batch = settle::payment::search::export::BATCH;
    let (mut pieces, mut lines) = (0, 0);
    while let Some(piece) = export.next_chunk(&app.db).await? {
        let rows = piece.iter().filter(|b| **b == b'\n').count();
        ensure(rows <= batch + 1, format!("a piece of {rows} lines"))?;
        pieces += 1;
        lines += rows;
    }
    ensure(
        lines == N + 1 && pieces == N.div_ceil(batch),
        format!("{pieces} pieces, {lines} lines"),
    )?;
    // The same filters narrow the export.
    let failed = admin
        .get(&format!("/admin/payments/export.csv?{YEAR}&state=7&currency=ZAR"))
        .await?
        .text()
        .await?;
    let expected = rows.iter().filter(|r| r.state == 7 && r.currency == "ZAR").count();
    ensure(failed.lines().count() == expected + 1, "the filtered export")
}
