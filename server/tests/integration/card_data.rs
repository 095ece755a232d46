//! Card data at rest: after every test card on every entry path (seed 003's take-payment,
//! Settle's own `POST /api/payments`, the customer's card page), and after card numbers sent
//! wrongly (a JSON integer, a bad check digit), neither the database (the whole SQLite file and
//! its WAL, or every PostgreSQL table) nor the server's debug log holds a card number, with any
//! spacing, or a security code; and the idempotency table's fingerprints are keyed.

use anyhow::{Context, Result};
use reqwest::{Client, Method, redirect};
use serde_json::{Value, json};
use settle::demo::{CUSTOMER_EMAIL, CUSTOMER_PASSWORD, ISP_SERVICE_ID};
use sha2::{Digest, Sha256};

use crate::support::process::{SandboxProcess, Scratch, ServerProcess, demo_world_with_quotes};
use crate::support::{Backend, TestDatabase, ensure};

/// Every card the sandbox documents, as clients write them.
const CARDS: &[&str] = &[
    "4929 0000 0000 6",
    "4462 0000 0000 0003",
    "5186 1506 6000 0009",
    "5185 6900 6000 0001",
    "4000 0000 0000 3220",
    "5200 0000 0000 1096",
    "4000 0000 0000 0002",
    "4000 0000 0000 9995",
    "4000 0000 0000 0119",
];

/// Security codes unlike anything else Settle writes (3 digits, as Visa and Mastercard take).
const CVVS: &[&str] = &["913", "287", "646"];

async fn call(
    client: &Client,
    method: Method,
    url: String,
    token: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> Result<(u16, Value)> {
    let mut request =
        client.request(method, url).bearer_auth(token).header("accept", "application/json");
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// Whether `haystack` holds the digits of `number` with any spaces or hyphens between them.
fn holds_card(haystack: &[u8], number: &str) -> bool {
    let digits: Vec<u8> = number.bytes().filter(u8::is_ascii_digit).collect();
    (0..haystack.len()).any(|start| {
        let mut at = start;
        for (i, d) in digits.iter().enumerate() {
            if i > 0 {
                while at < haystack.len() && matches!(haystack[at], b' ' | b'-') {
                    at += 1;
                }
            }
            if haystack.get(at) != Some(d) {
                return false;
            }
            at += 1;
        }
        true
    })
}

/// Whether `haystack` holds a security code as a value: quoted, or after `=` or `:` and not
/// followed by more of a number (so `elapsed=287.44µs` is no match).
fn holds_cvv(haystack: &[u8], cvv: &str) -> bool {
    let text = String::from_utf8_lossy(haystack);
    let quoted = [format!("\"{cvv}\""), format!("'{cvv}'")];
    if quoted.iter().any(|p| text.contains(p.as_str())) {
        return true;
    }
    [format!("={cvv}"), format!(": {cvv}"), format!(":{cvv}")].iter().any(|p| {
        text.match_indices(p.as_str()).any(|(at, m)| {
            text[at + m.len()..].chars().next().is_none_or(|c| !c.is_ascii_digit() && c != '.')
        })
    })
}

/// Everything stored: the SQLite file and its WAL, or every PostgreSQL table as text.
async fn everything_stored(db: &TestDatabase) -> Result<Vec<u8>> {
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite://").to_owned();
            let mut bytes = Vec::new();
            for suffix in ["", "-wal"] {
                if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                    bytes.extend(more);
                }
            }
            Ok(bytes)
        }
        Backend::Postgres => {
            let store = settle::Db::connect(&db.url, 1).await?;
            let settle::Db::Postgres(pool) = &store else { anyhow::bail!("not PostgreSQL") };
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(pool)
            .await?;
            let mut bytes = Vec::new();
            for table in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT CAST(t.* AS TEXT) FROM \"{table}\" t"))
                        .fetch_all(pool)
                        .await?;
                for row in rows {
                    bytes.extend(row.into_bytes());
                    bytes.push(b'\n');
                }
            }
            store.close().await;
            Ok(bytes)
        }
    }
}

pub async fn no_card_number_or_security_code_is_kept_anywhere(db: TestDatabase) -> Result<()> {
    // A fresh quote for each card on each entry point (a paid quote can't be paid again).
    let numbers = demo_world_with_quotes(&db, "CARDS", 3 * CARDS.len() + 1).await?;
    let scratch = Scratch::new("card-data")?;
    let sandbox = SandboxProcess::start(&scratch).await?;
    let settings = [("SETTLE_LOG", "debug".to_owned())];
    let server = ServerProcess::start_with(&scratch, &db, &sandbox, &settings).await?;
    let client = Client::builder().redirect(redirect::Policy::none()).cookie_store(true).build()?;
    let customer = server.customer_token().await?;
    let merchant = server.merchant_token().await?;
    let mut sent = Vec::new();

    // Seed 003: every test card, each on a quote of its own, with an idempotency key.
    for (i, (card, number)) in CARDS.iter().zip(&numbers).enumerate() {
        let (_, prepared) = call(
            &client,
            Method::POST,
            server.url("/api/v1/payments/"),
            &customer,
            Some(&json!({ "policy_number": number })),
            None,
        )
        .await?;
        let uuid = prepared["uuid"].as_str().context("a uuid")?.to_owned();
        let path = format!("/api/v1/payments/{uuid}/take-payment/");
        let body = json!({
            "card_details": { "card_holder": "J SMITH", "card_number": card, "expiry_date": "1030", "cv2": CVVS[i % CVVS.len()] },
            "billing_use_policy_address": true
        });
        let (status, _) = call(
            &client,
            Method::POST,
            server.url(&path),
            &customer,
            Some(&body),
            Some(&format!("card-{i}")),
        )
        .await?;
        ensure(status == 200, format!("take-payment with {card}: {status}"))?;
        sent.push(("POST", path, body));
    }
    // Wrongly sent numbers: a bad check digit and a JSON integer.
    let spare = &numbers[CARDS.len()];
    let (_, prepared) = call(
        &client,
        Method::POST,
        server.url("/api/v1/payments/"),
        &customer,
        Some(&json!({ "policy_number": spare })),
        None,
    )
    .await?;
    let uuid = prepared["uuid"].as_str().context("a uuid")?.to_owned();
    let bad = json!({ "card_details": { "card_holder": "J SMITH", "card_number": "4929 0000 0000 7", "expiry_date": "1030", "cv2": "913" } });
    let (status, answer) = call(
        &client,
        Method::POST,
        server.url(&format!("/api/v1/payments/{uuid}/take-payment/")),
        &customer,
        Some(&bad),
        Some("bad-luhn"),
    )
    .await?;
    ensure(
        status == 400 && !holds_card(answer.to_string().as_bytes(), "4929000000007"),
        format!("a bad number is refused without being quoted: {answer}"),
    )?;
    let isp = ISP_SERVICE_ID;
    let store = settle::Db::connect(&db.url, 1).await?;
    let service = settle::service::Service::find_by_reference(&store, isp).await?.context("isp")?;
    let purchase = settle::purchase::Purchase::open_for_service(&store, &service.id).await?;
    let purchase_id = purchase.first().context("arrears")?.id.to_string();
    store.close().await;
    let integer = json!({ "purchase_id": purchase_id, "gateway": "peach-zar", "method": "card", "card": { "holder": "J", "number": 4111111111111111_u64, "expiry": "1030", "cvv": "287" } });
    let (status, answer) = call(
        &client,
        Method::POST,
        server.url("/api/payments"),
        &merchant,
        Some(&integer),
        Some("integer"),
    )
    .await?;
    ensure(
        status == 422 && !holds_card(answer.to_string().as_bytes(), "4111111111111111"),
        format!("an integer number is refused without being quoted: {status} {answer}"),
    )?;
    // Settle's own API: every test card, each on a quote of its own.
    let store = settle::Db::connect(&db.url, 1).await?;
    let api_quotes = &numbers[CARDS.len() + 1..2 * CARDS.len() + 1];
    for (i, (card, number)) in CARDS.iter().zip(api_quotes).enumerate() {
        let quote =
            settle::service::Service::find_by_reference(&store, number).await?.context("quote")?;
        let purchase = settle::purchase::Purchase::open_for_service(&store, &quote.id).await?;
        let purchase_id = purchase.first().context("premium")?.id.to_string();
        let api = json!({ "purchase_id": purchase_id, "gateway": "sagepay-gbp", "method": "card", "card": { "holder": "J SMITH", "number": card.replace(' ', "-"), "expiry": "1030", "cvv": CVVS[i % CVVS.len()] }, "billing_address": { "house": "21b", "postcode": "PE301JW" } });
        let (status, _) = call(
            &client,
            Method::POST,
            server.url("/api/payments"),
            &merchant,
            Some(&api),
            Some(&format!("api-card-{i}")),
        )
        .await?;
        ensure(status == 201, format!("POST /api/payments with {card}: {status}"))?;
    }
    store.close().await;
    // The customer's card page: every test card, each on a quote of its own.
    let same_origin = |path: &str| {
        client
            .post(server.url(path))
            .header("accept", "text/html")
            .header("origin", &server.base)
            .header("referer", server.url("/login"))
            .header("sec-fetch-site", "same-origin")
    };
    let login = same_origin("/api/auth/login")
        .form(&[("email", CUSTOMER_EMAIL), ("password", CUSTOMER_PASSWORD)])
        .send()
        .await?;
    ensure(login.status() == 302, format!("login: {}", login.status()))?;
    let page_quotes = &numbers[2 * CARDS.len() + 1..];
    for (i, (card, number)) in CARDS.iter().zip(page_quotes).enumerate() {
        let page = same_origin("/account/api/card_pay")
            .form(&[
                ("policy", number.as_str()),
                ("gateway", "sagepay-gbp"),
                ("card_holder", "T MOKOENA"),
                ("card_number", card),
                ("expiry_date", "10/30"),
                ("cv2", CVVS[i % CVVS.len()]),
                ("billing_same", "on"),
            ])
            .send()
            .await?;
        let to = page.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("");
        // To the payment (or the bank's check), or back to the form when the card is declined.
        ensure(
            page.status().is_redirection()
                && (to.starts_with("/account/payments/")
                    || to.starts_with("/account/checkout/card")),
            format!("card page with {card}: {} to {to}", page.status()),
        )?;
    }
    // Let background work (notifications, fulfilment, jobs) write what it writes.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let stored = everything_stored(&db).await?;
    let log = server.log_text().into_bytes();
    for card in CARDS.iter().chain(&["4929000000007", "4111111111111111"]) {
        ensure(!holds_card(&stored, card), format!("the database holds {card}"))?;
        ensure(!holds_card(&log, card), format!("the log holds {card}"))?;
    }
    for cvv in CVVS {
        ensure(!holds_cvv(&stored, cvv), format!("the database holds the security code {cvv}"))?;
        ensure(!holds_cvv(&log, cvv), format!("the log holds the security code {cvv}"))?;
    }
    // Fingerprints are keyed: not the plain hash of what was sent, which could be searched.
    let text = String::from_utf8_lossy(&stored);
    for (method, path, body) in &sent {
        let mut plain = Sha256::new();
        plain.update(format!("{method} {path}\n{body}").as_bytes());
        let plain = hex::encode(plain.finalize());
        ensure(!text.contains(&plain), "an unkeyed fingerprint of a card request is stored")?;
    }
    ensure(
        log.len() > 1000 && String::from_utf8_lossy(&log).contains("DEBUG"),
        "the log was at debug level",
    )?;
    Ok(())
}
