//! Nobody sees or touches what isn't theirs: for every API and document route that names an
//! object, another customer (through the same merchant's client) and another merchant get 404
//! on the demo customer's objects, and can't pay with them.

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::{Value, json};
use settle::demo::{
    CARD_POLICY_NUMBER, CUSTOMER_CODE, ISP_SERVICE_ID, MERCHANT_CLIENT_ID, POLICY_NUMBER,
};
use settle::payment::Payment;
use settle::purchase::Purchase;
use settle::service::Service;

use crate::support::{TestApp, ensure};

/// The demo customer's objects, and a paid payment of theirs.
struct Owned {
    quote_uuid: String,
    address_uuid: String,
    payment: String,
    isp_purchase: String,
    isp_purchase_reference: String,
    card_method: String,
    /// The saved card's number (seed 002's payment method id).
    card_number: i64,
    /// The demo customer's id (seed 004's `userId`).
    customer_id: String,
}

async fn owned_by_the_demo_customer(app: &TestApp) -> Result<Owned> {
    let token = app.customer_token().await?;
    let quote_uuid = app.prepare_quote(&token, CARD_POLICY_NUMBER).await?;
    let taken = app
        .call(
            Method::POST,
            &format!("/api/v1/payments/{quote_uuid}/take-payment/"),
            Some(&token),
            Some(&json!({
                "card_details": { "card_holder": "T MOKOENA", "card_number": "4929000000006", "expiry_date": "1030", "cv2": "123" },
                "billing_use_policy_address": true
            })),
            None,
        )
        .await?;
    ensure(taken.status == 200, format!("the demo customer pays: {taken:?}"))?;
    let address_uuid =
        taken.body["policy_address"]["uuid"].as_str().context("an address")?.to_owned();
    let quote = Service::find_by_reference(&app.db, CARD_POLICY_NUMBER).await?.context("quote")?;
    let sql = "SELECT id FROM purchases WHERE service_id = $1";
    let purchase: String = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(&quote.id).fetch_one(pool).await)?;
    let payment =
        Payment::for_purchase(&app.db, &settle::purchase::PurchaseId::from_string(purchase))
            .await?
            .into_iter()
            .next()
            .context("the payment")?
            .reference;
    let isp = Service::find_by_reference(&app.db, ISP_SERVICE_ID).await?.context("isp")?;
    let arrears = Purchase::open_for_service(&app.db, &isp.id).await?;
    let arrears = arrears.first().context("arrears")?;
    let (isp_purchase, isp_purchase_reference) =
        (arrears.id.to_string(), arrears.reference.clone());
    let card = isp.active_payment_method_id.context("the saved card")?;
    let card_number = settle::payment_method::PaymentMethod::find(&app.db, &card)
        .await?
        .and_then(|m| m.number)
        .context("the card's number")?
        .get();
    let card_method = card.to_string();
    let customer_id = isp.customer_id.to_string();
    Ok(Owned {
        quote_uuid,
        address_uuid,
        payment,
        isp_purchase,
        isp_purchase_reference,
        card_method,
        card_number,
        customer_id,
    })
}

/// Every route that names one of those objects, with a body where it takes one.
fn routes(o: &Owned) -> Vec<(Method, String, Option<Value>)> {
    let policy = urlencode(POLICY_NUMBER);
    let quote = urlencode(CARD_POLICY_NUMBER);
    vec![
        (Method::GET, format!("/api/v3/payment/gateways/?policy_number={policy}"), None),
        (
            Method::POST,
            "/api/v3/payment/gateways/".into(),
            Some(json!({ "policy_number": POLICY_NUMBER })),
        ),
        (
            Method::POST,
            "/api/v3/payment/initiate/".into(),
            Some(json!({ "policy_number": POLICY_NUMBER, "gateway": "payfort-aed" })),
        ),
        (
            Method::GET,
            format!("/api/v3/payment/token/?policy_number={policy}&url=http://localhost:8080/done"),
            None,
        ),
        (Method::GET, format!("/api/v3/payment/status/?token={}", o.payment), None),
        (Method::POST, "/api/v3/payment/complete/".into(), Some(json!({ "token": o.payment }))),
        (Method::GET, format!("/api/v3/payment/complete/?token={}", o.payment), None),
        (
            Method::POST,
            format!("/api/v3/payment/validate-session/?token={}", o.payment),
            Some(json!({ "policy_number": CARD_POLICY_NUMBER, "gateway": "sagepay-gbp" })),
        ),
        (Method::GET, format!("/api/v3/payment/{}/tax-invoice/", o.payment), None),
        (Method::GET, format!("/api/v3/payment/{}/receipt/", o.payment), None),
        (
            Method::POST,
            "/api/v1/payments/".into(),
            Some(json!({ "policy_number": CARD_POLICY_NUMBER })),
        ),
        (Method::GET, format!("/api/v1/payments/{}/", o.quote_uuid), None),
        (
            Method::POST,
            format!("/api/v1/payments/{}/take-payment/", o.quote_uuid),
            Some(
                json!({ "card_details": { "card_holder": "X", "card_number": "4929000000006", "expiry_date": "1030", "cv2": "123" } }),
            ),
        ),
        (Method::GET, format!("/api/v1/user/address/{}/", o.address_uuid), None),
        (Method::GET, format!("/api/payments/{}", o.payment), None),
        (
            Method::POST,
            "/api/payments".into(),
            Some(json!({
                "purchase_id": o.isp_purchase, "gateway": "peach-zar",
                "method": "saved_method", "payment_method_id": o.card_method
            })),
        ),
        (
            Method::POST,
            "/api/payments".into(),
            Some(
                json!({ "purchase_id": o.isp_purchase, "gateway": "peach-zar", "method": "hosted_checkout" }),
            ),
        ),
        // Settle's merchant API: the customer, the policy and the arrears by their references.
        (Method::GET, format!("/api/customers/{CUSTOMER_CODE}"), None),
        (Method::GET, format!("/api/services/{}", urlencode(POLICY_NUMBER)), None),
        (Method::GET, format!("/api/purchases/{}", o.isp_purchase_reference), None),
        (Method::POST, format!("/api/purchases/{}/cancel", o.isp_purchase_reference), None),
        // Seed 003's list answers an empty list rather than 404 (checked below).
        (Method::GET, format!("/api/v1/payments/?policy_number={quote}"), None),
        (Method::GET, format!("/api/v1/payments/payment_methods/{}", o.card_number), None),
        // Seed 002's list answers 422 {} for a person not the caller's (checked below).
        (Method::GET, "/api/v1/payments/payment_methods?person_id=CUST-0001".into(), None),
        // Seed 004's pay-now calls: the customer's mediums and the ISP service.
        (Method::GET, format!("/payment-mediums?userId={}", o.customer_id), None),
        (Method::GET, format!("/services/{ISP_SERVICE_ID}/details-and-actions"), None),
        (Method::GET, format!("/payfast-payments/card-medium-update/{}", o.card_method), None),
        (
            Method::GET,
            format!("/active-payment-medium-for-service?serviceId={ISP_SERVICE_ID}"),
            None,
        ),
        (
            Method::POST,
            "/purchases/submit-for-collection".into(),
            Some(json!({
                "service_id": ISP_SERVICE_ID, "medium_id": o.card_method,
                "purchase_id": o.isp_purchase, "process_immediate_purchase": true,
                "success_url": null, "failure_url": null
            })),
        ),
        (
            Method::POST,
            "/purchases/buy-now".into(),
            Some(json!({
                "service_id": ISP_SERVICE_ID,
                "purchase_lines": [{ "purchase_line_type_id": 2, "quantity": 1, "period_contribution_per_quantity": 1 }]
            })),
        ),
    ]
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Bearer routes that name no customer's object, and why they aren't probed above.
const NAMES_NOTHING: &[(&str, &str)] = &[
    ("/api/webhook-endpoint", "the calling merchant's own endpoint; other tokens get 403"),
    ("/api/webhook-endpoint/rotate-secret", "the calling merchant's own endpoint"),
    ("/api/webhook-endpoint/deliveries", "the calling merchant's own delivery log"),
    ("/oauth/userinfo", "describes the caller itself"),
    (
        "/api/v1/payment",
        "creates an invoice, naming no existing object; seed_001_invoices checks a customer's token (403) and unknown types and customers (404)",
    ),
    ("/auth/realms/{realm}/protocol/openid-connect/userinfo", "describes the caller itself"),
    (
        "/api/v1/payments/orders",
        "books for the caller's own customers: another's person is a 422 (seed_002_orders)",
    ),
    (
        "/api/v1/payments/orders/total",
        "sums the caller's own orders: another's person sums to 0 (seed_002_orders)",
    ),
    // Settle's merchant API: lists and creates act on the calling merchant's own records (a
    // customer's token is refused with 403); merchant_api.rs checks that another merchant
    // finds none of the first's customers, services or purchases through them.
    ("/api/customers", "lists the calling merchant's own customers"),
    (
        "/api/customers/{customer_code}",
        "PUT creates the calling merchant's own customer; GET is probed",
    ),
    ("/api/services", "lists or creates the calling merchant's own services"),
    ("/api/purchases", "lists or creates the calling merchant's own purchases"),
    (
        "/purchases/sources",
        "lists a collector's channel names (Cash, EFT, …), no customer's object",
    ),
    // Seed 004's configuration: an operator's products, read by its customers too; another
    // merchant finds none of them (seed_004_buy_now).
    (
        "/configurations/billingScheme/Product/{product_id}",
        "a merchant's product scheme, no customer's object; another merchant gets 404",
    ),
    ("/config", "the calling merchant's own rules"),
    ("/default", "the calling merchant's own default providers"),
];

/// Whether a concrete request path is an instance of a route's path template.
fn instance_of(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let template = template.trim_end_matches('/');
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
}

pub async fn every_bearer_route_is_probed(app: TestApp) -> Result<()> {
    // The probed list above is written by hand; the route table decides whether it is whole.
    let owned = owned_by_the_demo_customer(&app).await?;
    let probed = routes(&owned);
    let mut missing = Vec::new();
    for route in settle_server::api::route_table(&app.state) {
        if route.guard != settle_server::api::routes::Guard::Bearer {
            continue;
        }
        let template = route.path.trim_end_matches('/');
        let known = NAMES_NOTHING.iter().any(|(t, _)| *t == template);
        let covered = probed.iter().any(|(method, path, _)| {
            method.as_str() == route.method.as_str() && instance_of(&route.path, path)
        });
        if !known && !covered {
            missing.push(format!("{} {}", route.method, route.path));
        }
    }
    missing.dedup();
    ensure(missing.is_empty(), format!("bearer routes no access test probes: {missing:?}"))
}

/// Every route answers "not found" to `token`: 404, or an empty list for seed 003's list.
async fn nothing_is_found(app: &TestApp, who: &str, token: &str, owned: &Owned) -> Result<()> {
    for (method, path, body) in routes(owned) {
        let answer = app.call(method.clone(), &path, Some(token), body.as_ref(), None).await?;
        let fine = if path.starts_with("/api/v1/payments/?") {
            answer.status == 200 && answer.body == json!([])
        } else if path.starts_with("/api/v1/payments/payment_methods?") {
            answer.status == 422 && answer.body == json!({})
        } else {
            answer.status == 404
        };
        if !fine {
            bail!("{who}: {method} {path} answered {}: {}", answer.status, answer.body);
        }
    }
    Ok(())
}

pub async fn other_customers_and_merchants_find_nothing_of_a_customers(app: TestApp) -> Result<()> {
    let owned = owned_by_the_demo_customer(&app).await?;
    let other = app.other_customer().await?;
    nothing_is_found(&app, "another customer", &other.token, &owned).await?;
    // ...while their own quote is theirs to prepare.
    app.prepare_quote(&other.token, &other.policy_number).await?;
    let merchant_two = app.other_merchant().await?;
    nothing_is_found(&app, "another merchant", &merchant_two, &owned).await?;
    // Nothing was started or charged on the demo customer's behalf.
    let isp = Service::find_by_reference(&app.db, ISP_SERVICE_ID).await?.context("isp")?;
    let open = Purchase::open_for_service(&app.db, &isp.id).await?;
    let attempts = Payment::for_purchase(&app.db, &open[0].id).await?;
    ensure(attempts.is_empty(), format!("no attempt on the arrears: {}", attempts.len()))?;
    // The owner still sees everything.
    let token = app.customer_token().await?;
    let mine = app
        .call(Method::GET, &format!("/api/payments/{}", owned.payment), Some(&token), None, None)
        .await?;
    ensure(mine.status == 200, format!("the owner sees the payment: {mine:?}"))?;
    let merchant = app.merchant_token().await?;
    let sold = app
        .call(Method::GET, &format!("/api/payments/{}", owned.payment), Some(&merchant), None, None)
        .await?;
    ensure(sold.status == 200, format!("the merchant who sells it sees it: {sold:?}"))
}

pub async fn customers_pages_show_nothing_of_another_customers(app: TestApp) -> Result<()> {
    let owned = owned_by_the_demo_customer(&app).await?;
    let other = app.other_customer().await?;
    let stranger = TestApp { client: app.new_client(), ..app };
    stranger.log_in(&other.email, &other.password, "/account").await?;
    for path in [
        format!("/account/checkout?policy={}", urlencode(POLICY_NUMBER)),
        format!("/account/checkout/card?policy={}", urlencode(CARD_POLICY_NUMBER)),
        format!("/account/payments/{}", owned.payment),
        format!("/account/payments/{}/tax-invoice.pdf", owned.payment),
        format!("/account/payments/{}/receipt.pdf", owned.payment),
    ] {
        let response = stranger.get(&path).await?;
        let status = response.status();
        let text = response.text().await?;
        ensure(status == 404, format!("{path}: {status}"))?;
        ensure(
            !text.contains("Tuesday Market Place") && !text.contains("Thandi"),
            format!("{path} shows nothing of the owner's"),
        )?;
    }
    // The pages' forms, posted with the owner's policies, start nothing.
    let count = "SELECT COUNT(*) FROM payments";
    let before: i64 =
        settle::with_db!(&stranger.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    let invoice = [("policy", POLICY_NUMBER), ("gateway", "invoice")];
    stranger.post_form("/account/api/checkout_pay", &invoice).await?;
    let card = [
        ("policy", POLICY_NUMBER),
        ("gateway", "sagepay-gbp"),
        ("card_holder", "X"),
        ("card_number", "4929000000006"),
        ("expiry_date", "1030"),
        ("cv2", "123"),
        ("billing_same", "on"),
    ];
    stranger.post_form("/account/api/card_pay", &card).await?;
    let after: i64 =
        settle::with_db!(&stranger.db, pool => sqlx::query_scalar(count).fetch_one(pool).await)?;
    ensure(after == before, format!("the forms started {} payments", after - before))
}

pub async fn a_method_must_be_one_the_gateway_and_product_take(app: TestApp) -> Result<()> {
    let token = app.merchant_token().await?;
    let quote = Service::find_by_reference(&app.db, CARD_POLICY_NUMBER).await?.context("quote")?;
    let purchase = Purchase::open_for_service(&app.db, &quote.id).await?;
    let purchase = purchase.first().context("the premium")?;
    // An invoice on the card gateway would park the quote for a day: refused, nothing stored.
    let invoice = app
        .call(
            Method::POST,
            "/api/payments",
            Some(&token),
            Some(&json!({ "purchase_id": purchase.id, "gateway": "sagepay-gbp", "method": "invoice" })),
            None,
        )
        .await?;
    ensure(invoice.status == 422, format!("invoice on a card gateway: {invoice:?}"))?;
    // A gateway the product doesn't offer.
    let elsewhere = app
        .call(
            Method::POST,
            "/api/payments",
            Some(&token),
            Some(&json!({ "purchase_id": purchase.id, "gateway": "payfort-aed", "method": "hosted_checkout" })),
            None,
        )
        .await?;
    ensure(elsewhere.status == 422, format!("a gateway the product doesn't offer: {elsewhere:?}"))?;
    ensure(Payment::for_purchase(&app.db, &purchase.id).await?.is_empty(), "nothing stored")
}

pub async fn tokens_only_for_authenticated_clients_customers_and_merchants(
    app: TestApp,
) -> Result<()> {
    app.other_merchant().await?;
    let password = |client: &str, user: &str, pw: &str| {
        vec![
            ("grant_type", "password".to_owned()),
            ("client_id", client.to_owned()),
            ("username", user.to_owned()),
            ("password", pw.to_owned()),
        ]
    };
    let status = |form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let response = app.client.post(app.url("/oauth/token")).form(&form).send().await?;
            let status = response.status().as_u16();
            let body: Value = response.json().await?;
            anyhow::Ok((status, body))
        }
    };
    // A confidential client's id without its secret gives nothing.
    let (code, body) = status(password(
        "another-shop",
        settle::demo::CUSTOMER_EMAIL,
        settle::demo::CUSTOMER_PASSWORD,
    ))
    .await?;
    ensure(
        code == 401 && body["error"] == "invalid_client",
        format!("confidential client without its secret: {code} {body}"),
    )?;
    // Staff sign in to the console, not to a merchant's client.
    let (code, body) = status(password(
        MERCHANT_CLIENT_ID,
        settle::demo::ADMIN_EMAIL,
        settle::demo::ADMIN_PASSWORD,
    ))
    .await?;
    ensure(
        code == 400 && body["error"] == "invalid_grant",
        format!("an admin's password grant: {code} {body}"),
    )?;
    // The public demo client still works for its customers (seed 001).
    app.customer_token().await.map(|_| ())
}

pub async fn idempotency_keys_are_scoped_to_the_customer(app: TestApp) -> Result<()> {
    let mine = app.customer_token().await?;
    let uuid = app.prepare_quote(&mine, CARD_POLICY_NUMBER).await?;
    let path = format!("/api/v1/payments/{uuid}/take-payment/");
    let body = json!({
        "card_details": { "card_holder": "T MOKOENA", "card_number": "4929000000006", "expiry_date": "1030", "cv2": "123" },
        "billing_use_policy_address": true
    });
    let first =
        app.call(Method::POST, &path, Some(&mine), Some(&body), Some("shared-key-1")).await?;
    ensure(first.status == 200, format!("the owner's payment: {first:?}"))?;
    // Another customer of the same merchant resends the same key and body: it is their own
    // request (and the quote isn't theirs), never a replay of the owner's answer.
    let other = app.other_customer().await?;
    let replayed = app
        .call(Method::POST, &path, Some(&other.token), Some(&body), Some("shared-key-1"))
        .await?;
    ensure(replayed.status == 404, format!("another customer's replay: {replayed:?}"))?;
    ensure(
        !replayed.body.to_string().contains("Tuesday Market Place"),
        "no trace of the owner's address",
    )
}
