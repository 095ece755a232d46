//! Seed 004's billing jobs: the card update through the gateway's page, the recurring
//! collection day (raised and charged once, however often and however concurrently it runs) and
//! auto-recharge of day bundles (the next bundle raised on fulfilment, collected once by its
//! job; an expired card asks for an update and charges nothing). Charges are counted at the
//! sandbox gateway itself.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, Utc};
use reqwest::Method;
use settle::access::Viewer;
use settle::billing::auto_recharge::{self, RechargeOutcome};
use settle::billing::collection_day::{self, run_collection_day};
use settle::checkout::{self, Method as PayMethod, PayRequest};
use settle::merchant::Merchant;
use settle::money::{Currency, Money};
use settle::payment::Payment;
use settle::payment_method::{MethodKind, MethodStatus, PaymentMethod};
use settle::product::{BillingKind, NewProduct, Product, ServiceKind};
use settle::purchase::{LineType, NewLine, Purchase, PurchaseId, PurchaseStatus};
use settle::service::{BillingStatus, Service};
use settle::tax::TaxRate;

use crate::support::{TestApp, ensure, html_forms, location};

/// The collection day the tests run (the recurring product is collected on the 15th).
fn collection_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 15).unwrap_or_default()
}

/// A service billed by a job, with its active card.
struct Billed {
    service: Service,
    card: PaymentMethod,
}

/// A card for the demo customer, held by the sandbox under a demo token.
async fn card(app: &TestApp, name: &str, expiry: &str) -> Result<PaymentMethod> {
    let customer = settle::demo::customer(&app.db).await?;
    let mut card = PaymentMethod::new(Some(customer.id), MethodKind::Card, "test 1111");
    card.card_brand = Some("VISA".into());
    card.card_last4 = Some("1111".into());
    card.card_expiry = Some(expiry.into());
    card.gateway_id = Some("peach-zar".into());
    card.gateway_token = Some(format!("demo-{name}-1111"));
    card.verified = true;
    Ok(card.store(&app.db).await?)
}

/// A paid-up service of `product` collected from a new card (`None`: no active medium).
async fn service(app: &TestApp, product: &Product, name: &str, with_card: bool) -> Result<Billed> {
    let customer = settle::demo::customer(&app.db).await?;
    let card = card(app, name, "1230").await?;
    let reference = uuid::Uuid::new_v4().to_string().to_uppercase();
    let mut service =
        Service::new(reference, product, customer.id, "Active", BillingStatus::PaidUp);
    service.active_payment_method_id = with_card.then(|| card.id.clone());
    service.period_start = Some(Utc::now() - Duration::days(30));
    service.period_end = Some(Utc::now());
    service.insert(&app.db).await?;
    Ok(Billed { service, card })
}

/// A recurring monthly product collected on the 15th.
async fn recurring_product(app: &TestApp) -> Result<Product> {
    let merchant = settle::demo::customer(&app.db).await?.merchant_id;
    let zar = Currency::parse("ZAR")?;
    let product = Product::create(
        &app.db,
        NewProduct {
            code: "FIBRE-JOBS".into(),
            name: "Fibre 50/50 Monthly".into(),
            merchant_id: merchant,
            service_kind: ServiceKind::Isp,
            billing_kind: BillingKind::RecurringMonthly,
            unit_price: Money::parse_decimal("329.70", zar)?,
            tax_rate: TaxRate::parse("15")?,
            collection_day: Some(15),
            auto_recharge: false,
        },
    )
    .await?;
    Product::set_gateways(&app.db, &product.id, &["peach-zar"]).await?;
    Ok(product)
}

/// The demo's day bundle with auto-recharge.
async fn bundle_product(app: &TestApp) -> Result<Product> {
    let merchant = settle::demo::customer(&app.db).await?.merchant_id.context("a merchant")?;
    let product = Product::find_for_merchant(&app.db, &merchant, "LTE-DAY").await?;
    let product = product.context("the demo's LTE-DAY")?;
    ensure(product.auto_recharge, "LTE-DAY recharges automatically")?;
    Ok(product)
}

/// How many charges the sandbox holds for a purchase's payments.
async fn charges(app: &TestApp, purchase: &PurchaseId) -> Result<usize> {
    let payments = Payment::for_purchase(&app.db, purchase).await?;
    let references: Vec<String> = payments.into_iter().map(|p| p.reference).collect();
    app.charges_for(&references).await
}

async fn month_purchase(app: &TestApp, service: &Service) -> Result<Purchase> {
    let period = collection_day::billing_month(collection_day());
    Purchase::for_period(&app.db, &service.id, &period).await?.context("the month's purchase")
}

async fn reload(app: &TestApp, service: &Service) -> Result<Service> {
    Service::find(&app.db, &service.id).await?.context("the service")
}

/// Purchases of a service whose billing period starts with `prefix`.
async fn periods(app: &TestApp, service: &Service, prefix: &str) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM purchases WHERE service_id = $1 AND billing_period LIKE $2";
    let like = format!("{prefix}%");
    Ok(
        settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(&service.id).bind(&like).fetch_one(pool).await)?,
    )
}

pub async fn card_update_replaces_the_token_through_the_gateways_page(app: TestApp) -> Result<()> {
    let product = recurring_product(&app).await?;
    let billed = service(&app, &product, "update", true).await?;
    let token = app.customer_token().await?;
    let path = format!("/payfast-payments/card-medium-update/{}", billed.card.id);
    let answer = app.call(Method::GET, &path, Some(&token), None, None).await?;
    ensure(answer.status == 200, format!("card update: {answer:?}"))?;
    let url = answer.body["pay_fast_url"].as_str().context("pay_fast_url")?.to_owned();

    // The customer enters a new card on the sandbox's page, which takes ?return=.
    let back = "http://localhost:8080/pay-now/card-updated";
    let page = app.client.get(format!("{url}?return={back}")).send().await?;
    ensure(page.status() == 200, format!("the update page: {}", page.status()))?;
    let form = html_forms(&page.text().await?).into_iter().next().context("a form")?;
    let mut fields = form.submission("Save card")?;
    for (name, value) in &mut fields {
        if name == "card_number" {
            *value = "5555 5555 5555 4444".into();
        }
    }
    let done = app.client.post(&form.action).form(&fields).send().await?;
    ensure(done.status() == 303, format!("the page's answer: {}", done.status()))?;
    // Back at Settle, which asks the gateway, then sends the customer on.
    let settle_return = location(&done);
    ensure(settle_return.starts_with(&app.base), format!("back to Settle: {settle_return}"))?;
    let onward = app.client.get(&settle_return).send().await?;
    ensure(location(&onward) == back, format!("on to the client: {}", location(&onward)))?;

    let updated = PaymentMethod::find(&app.db, &billed.card.id).await?.context("the card")?;
    ensure(
        updated.gateway_token != billed.card.gateway_token
            && updated.gateway_token.as_deref().is_some_and(|t| t.starts_with("tok_"))
            && updated.card_last4.as_deref() == Some("4444")
            && updated.card_expiry.as_deref() == Some("1230")
            && updated.status == MethodStatus::Valid,
        format!("the card after the update: {updated:?}"),
    )?;
    // Returning again changes nothing.
    let again = app.client.get(&settle_return).send().await?;
    ensure(again.status() == 303, "a second return is answered")?;
    let same = PaymentMethod::find(&app.db, &billed.card.id).await?.context("the card")?;
    ensure(same.gateway_token == updated.gateway_token, "the card is updated once")?;

    // The next collection charges the new token (the old one is revoked at the gateway).
    let report = run_collection_day(&app.state.payments, collection_day()).await?;
    let purchase = month_purchase(&app, &billed.service).await?;
    ensure(purchase.status == PurchaseStatus::Paid, format!("collected: {report:?}"))?;
    let payment = Payment::for_purchase(&app.db, &purchase.id).await?;
    ensure(
        payment.len() == 1 && payment[0].payment_method_id.as_ref() == Some(&billed.card.id),
        format!("one payment with the updated card: {payment:?}"),
    )?;
    ensure(charges(&app, &purchase.id).await? == 1, "one charge")?;

    // An unregistered way back ends on Settle's account page; the medium is left alone.
    let answer = app.call(Method::GET, &path, Some(&token), None, None).await?;
    let url = answer.body["pay_fast_url"].as_str().context("pay_fast_url")?.to_owned();
    let page = app.client.get(format!("{url}?return=https://evil.example/x")).send().await?;
    let form = html_forms(&page.text().await?).into_iter().next().context("a form")?;
    let cancelled = app.client.post(&form.action).form(&form.submission("Cancel")?).send().await?;
    let onward = app.client.get(location(&cancelled)).send().await?;
    ensure(location(&onward) == "/account", format!("Settle's page: {}", location(&onward)))?;
    let kept = PaymentMethod::find(&app.db, &billed.card.id).await?.context("the card")?;
    ensure(kept.gateway_token == updated.gateway_token, "a cancelled update keeps the card")?;

    // Someone else's medium is not found; a medium that isn't a saved card can't be updated.
    let other = app.other_customer().await?;
    let hidden = app.call(Method::GET, &path, Some(&other.token), None, None).await?;
    ensure(hidden.status == 404, format!("another customer: {hidden:?}"))?;
    let customer = settle::demo::customer(&app.db).await?;
    let methods = PaymentMethod::of_customer(&app.db, &customer.id).await?;
    let link = methods.iter().find(|m| m.kind == MethodKind::PaymentLink).context("a link")?;
    let path = format!("/payfast-payments/card-medium-update/{}", link.id);
    let refused = app.call(Method::GET, &path, Some(&token), None, None).await?;
    ensure(
        matches!(refused.status, 400 | 422)
            && refused.body["instance"] == path.as_str()
            && refused.body.to_string().contains("credit card"),
        format!("a payment link: {refused:?}"),
    )
}

pub async fn collection_day_raises_and_collects_the_month_once(app: TestApp) -> Result<()> {
    let product = recurring_product(&app).await?;
    let billed = service(&app, &product, "monthly", true).await?;
    let first = run_collection_day(&app.state.payments, collection_day()).await?;
    let purchase = month_purchase(&app, &billed.service).await?;
    ensure(
        purchase.status == PurchaseStatus::Paid
            && purchase.amounts.excl().to_decimal().to_string() == "329.70"
            && purchase.amounts.tax().minor() > 0
            && purchase.lines.len() == 1
            && purchase.lines[0].line_type == LineType::Monthly,
        format!("the month's purchase, 329.70 + 15 %: {purchase:?} ({first:?})"),
    )?;
    let service = reload(&app, &billed.service).await?;
    let end = service.period_end.context("a period end")?;
    ensure(
        service.billing_status == BillingStatus::PaidUp && end >= Utc::now() + Duration::days(27),
        format!("paid up a month on: {service:?}"),
    )?;
    ensure(charges(&app, &purchase.id).await? == 1, "one charge at the sandbox")?;

    // The day again (another run, a restart): nothing new, nothing charged.
    let second = run_collection_day(&app.state.payments, collection_day()).await?;
    ensure(second.raised == 0, format!("nothing raised again: {second:?}"))?;
    ensure(periods(&app, &billed.service, "2026-12").await? == 1, "one purchase")?;
    ensure(charges(&app, &purchase.id).await? == 1, "still one charge")?;
    let token = app.merchant_token().await?;
    let path = format!("/services/{}/details-and-actions", billed.service.reference);
    let details = app.get_ok(&token, &path).await?;
    ensure(details["must_pay_info"].is_null(), format!("nothing to pay: {details}"))
}

pub async fn a_declined_collection_leaves_the_service_in_arrears(app: TestApp) -> Result<()> {
    let product = recurring_product(&app).await?;
    let billed = service(&app, &product, "declined", true).await?;
    let without = service(&app, &product, "no-medium", false).await?;
    // The card's token no longer charges at the gateway.
    let token = billed.card.gateway_token.clone().context("a token")?;
    let revoked = app
        .client
        .delete(app.url(&format!("/sandbox/hosted-checkout/tokens/{token}")))
        .bearer_auth("sandbox")
        .send()
        .await?;
    ensure(revoked.status() == 204, format!("revoking: {}", revoked.status()))?;
    let report = run_collection_day(&app.state.payments, collection_day()).await?;
    // The demo's own fibre services are due too (its new-card service has no medium either), so
    // the counts are lower bounds; each service's outcome is checked below.
    ensure(report.declined >= 1 && report.no_medium >= 1, format!("{report:?}"))?;
    let merchant = app.merchant_token().await?;
    for (billed, what) in [(&billed, "declined"), (&without, "no medium")] {
        let purchase = month_purchase(&app, &billed.service).await?;
        ensure(purchase.status == PurchaseStatus::Open, format!("{what}: owed"))?;
        ensure(charges(&app, &purchase.id).await? == 0, format!("{what}: nothing charged"))?;
        let service = reload(&app, &billed.service).await?;
        ensure(service.billing_status == BillingStatus::InArrears, format!("{what}: arrears"))?;
        let path = format!("/services/{}/details-and-actions", service.reference);
        let details = app.get_ok(&merchant, &path).await?;
        ensure(
            details["billing_status"] == "InArrears"
                && details["must_pay_info"]["must_pay"] == true
                && details["must_pay_info"]["arrears_purchase"].is_object(),
            format!("{what}: must pay: {details}"),
        )?;
    }
    // Running the day again doesn't try the declined card a second time.
    run_collection_day(&app.state.payments, collection_day()).await?;
    let purchase = month_purchase(&app, &billed.service).await?;
    let attempts = Payment::for_purchase(&app.db, &purchase.id).await?;
    ensure(attempts.len() == 1, format!("one attempt: {attempts:?}"))
}

pub async fn concurrent_collection_runs_charge_once(app: TestApp) -> Result<()> {
    let product = recurring_product(&app).await?;
    let billed = service(&app, &product, "concurrent", true).await?;
    // Two instances: the server's orchestrator and another one on the same database.
    let one = app.state.payments.clone();
    let two = app.fresh_orchestrator().await?;
    let a = tokio::spawn(async move { run_collection_day(&one, collection_day()).await });
    let b = tokio::spawn(async move { run_collection_day(&two, collection_day()).await });
    let (a, b) = (a.await??, b.await??);
    ensure(a.raised + b.raised >= 1, format!("raised: {a:?} {b:?}"))?;
    ensure(periods(&app, &billed.service, "2026-12").await? == 1, "one purchase")?;
    let purchase = month_purchase(&app, &billed.service).await?;
    // A run that met the other's attempt in flight leaves it to settle; wait for it.
    crate::support::eventually("the month is paid", std::time::Duration::from_secs(10), || async {
        let p = Purchase::find(&app.db, &purchase.id).await?.context("purchase")?;
        Ok(p.status == PurchaseStatus::Paid)
    })
    .await?;
    ensure(charges(&app, &purchase.id).await? == 1, "one charge at the sandbox")
}

/// Pays a 7-day bundle of `billed` with its card, as the merchant's system.
async fn buy_bundle(app: &TestApp, billed: &Billed, product: &Product) -> Result<Payment> {
    let purchase = Purchase::create(
        &app.db,
        &billed.service.id,
        PurchaseStatus::Open,
        Utc::now(),
        vec![NewLine {
            line_type: LineType::Day,
            description: "LTE day bundle".into(),
            quantity: 7,
            unit_price: product.unit_price,
            period_per_quantity: 1,
            tax_rate: product.tax_rate,
        }],
    )
    .await?;
    let merchant = product.merchant_id.clone().context("a merchant")?;
    ensure(Merchant::find(&app.db, &merchant).await?.is_some(), "the merchant")?;
    let started = checkout::pay(
        &app.state.payments,
        PayRequest {
            payer: Viewer::Merchant(merchant),
            purchase_id: purchase.id.clone(),
            gateways: vec!["peach-zar".into()],
            method: PayMethod::SavedMethod(billed.card.id.clone()),
            return_to: None,
            details: serde_json::json!({}),
            idempotency_key: None,
        },
    )
    .await?;
    ensure(started.payment.state.is_success(), format!("paid: {:?}", started.payment.state))?;
    Ok(started.payment)
}

/// The service's waiting auto-recharge purchase.
async fn next_recharge(app: &TestApp, service: &Service) -> Result<Purchase> {
    let sql = "SELECT id FROM purchases WHERE service_id = $1 AND status = 'quote' AND billing_period LIKE 'recharge:%'";
    let id: String = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(&service.id).fetch_one(pool).await)?;
    Purchase::find(&app.db, &PurchaseId::from_string(id)).await?.context("the recharge")
}

pub async fn auto_recharge_raises_the_next_bundle_and_collects_it_once(app: TestApp) -> Result<()> {
    let product = bundle_product(&app).await?;
    let billed = service(&app, &product, "recharge", true).await?;
    let paid = buy_bundle(&app, &billed, &product).await?;
    let service = reload(&app, &billed.service).await?;
    let end = service.period_end.context("a period end")?;
    let next = next_recharge(&app, &service).await?;
    ensure(
        next.lines.len() == 1
            && next.lines[0].quantity == 7
            && next.amounts.gross().to_decimal().to_string() == "80.50"
            && (next.purchase_date - (end - Duration::days(1))).num_seconds().abs() < 5,
        format!("the next bundle, due a day before {end}: {next:?}"),
    )?;
    // Not owed before it is due.
    let merchant = app.merchant_token().await?;
    let details = app
        .get_ok(&merchant, &format!("/services/{}/details-and-actions", service.reference))
        .await?;
    ensure(
        details["must_pay_info"].is_null() && details["billing_status"] == "PaidUp",
        format!("nothing owed yet: {details}"),
    )?;
    // Its job waits until then.
    let sql = "SELECT run_at FROM jobs WHERE kind = $1 AND dedupe_key = $2";
    let key = format!("{}:{}", auto_recharge::RECHARGE_JOB, next.id);
    let run_at: chrono::DateTime<Utc> = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(auto_recharge::RECHARGE_JOB).bind(&key).fetch_one(pool).await)?;
    ensure((run_at - next.purchase_date).num_seconds().abs() < 1, format!("job at {run_at}"))?;
    // Fulfilling the payment again raises nothing more.
    settle::payment::fulfilment::fulfil(&app.db, &paid.id).await?;
    ensure(periods(&app, &service, "recharge:").await? == 1, "one next bundle")?;

    // The job runs twice at once (two workers): one charge.
    let (one, two) = (app.state.payments.clone(), app.fresh_orchestrator().await?);
    let (id_a, id_b) = (next.id.clone(), next.id.clone());
    let a = tokio::spawn(async move { auto_recharge::collect_recharge(&one, &id_a).await });
    let b = tokio::spawn(async move { auto_recharge::collect_recharge(&two, &id_b).await });
    let (a, b) = (a.await??, b.await??);
    ensure([a, b].contains(&RechargeOutcome::Collected), format!("collected once: {a:?} {b:?}"))?;
    crate::support::eventually(
        "the recharge is paid",
        std::time::Duration::from_secs(10),
        || async {
            let p = Purchase::find(&app.db, &next.id).await?.context("purchase")?;
            Ok(p.status == PurchaseStatus::Paid)
        },
    )
    .await?;
    ensure(charges(&app, &next.id).await? == 1, "one charge at the sandbox")?;
    let again = auto_recharge::collect_recharge(&app.state.payments, &next.id).await?;
    ensure(again == RechargeOutcome::Settled, format!("a late run: {again:?}"))?;
    ensure(charges(&app, &next.id).await? == 1, "still one charge")?;
    // The paid recharge raised the one after it; the service runs 7 days more.
    ensure(periods(&app, &service, "recharge:").await? == 2, "the chain goes on")?;
    let later = reload(&app, &service).await?.period_end.context("a period end")?;
    ensure((later - end - Duration::days(7)).num_seconds().abs() < 5, "7 more days")
}

pub async fn an_expired_card_asks_for_an_update_and_charges_nothing(app: TestApp) -> Result<()> {
    let product = bundle_product(&app).await?;
    let billed = service(&app, &product, "expired", true).await?;
    buy_bundle(&app, &billed, &product).await?;
    let next = next_recharge(&app, &billed.service).await?;
    // The card's month has passed by the time the recharge falls due.
    let sql = "UPDATE payment_methods SET card_expiry = '0126' WHERE id = $1";
    settle::with_db!(&app.db, pool => sqlx::query(sql).bind(&billed.card.id).execute(pool).await.map(|_| ()))?;
    let outcome = auto_recharge::collect_recharge(&app.state.payments, &next.id).await?;
    ensure(outcome == RechargeOutcome::CardExpired, format!("{outcome:?}"))?;
    ensure(charges(&app, &next.id).await? == 0, "nothing charged")?;
    ensure(Payment::for_purchase(&app.db, &next.id).await?.is_empty(), "no attempt")?;
    let card = PaymentMethod::find(&app.db, &billed.card.id).await?.context("the card")?;
    ensure(card.status == MethodStatus::Expired, format!("the card: {card:?}"))?;
    let owed = Purchase::find(&app.db, &next.id).await?.context("the recharge")?;
    ensure(owed.status == PurchaseStatus::Open, "the recharge is owed")?;
    let standing =
        settle::service_standing::of_service(&app.db, &Viewer::Staff, &billed.service.reference)
            .await?;
    ensure(
        standing.card_needs_update
            && standing.service.billing_status == BillingStatus::InArrears
            && standing.must_pay.as_ref().map(|p| &p.id) == Some(&next.id),
        format!("update your card: {standing:?}"),
    )?;
    ensure(settle::service_standing::CARD_NEEDS_UPDATE.contains("update your card"), "in words")
}
