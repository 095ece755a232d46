//! The customer's checkout page pays through the same use cases as seed 000's `initiate`: an
//! invoice follows the product's activation rule and writes the invoice notice, and a policy
//! with nothing owed is settled at once without a gateway; the bank's check of a card paid on
//! the page ends on a page of Settle's own, not the API's blank one.

use std::time::Duration;

use anyhow::{Context, Result};
use settle::checkout::InvoiceActivation;
use settle::demo::{
    CARD_POLICY_NUMBER, CUSTOMER_EMAIL, CUSTOMER_PASSWORD, MERCHANT_CLIENT_ID, POLICY_NUMBER,
};
use settle::payment::PaymentState;

use crate::support::{TestApp, ensure, eventually, html_forms, location};

/// Submits the checkout page's form for `policy` with `gateway` (none when nothing is owed) and
/// returns where the browser is sent.
async fn submit_checkout(app: &TestApp, policy: &str, gateway: Option<&str>) -> Result<String> {
    let mut form = vec![("policy", policy)];
    form.extend(gateway.map(|g| ("gateway", g)));
    let response = app.post_form_with(&app.client, "/account/api/checkout_pay", &form).await?;
    ensure(
        response.status().is_redirection(),
        format!("the form answers a redirect, not {}", response.status()),
    )?;
    Ok(location(&response))
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub async fn invoice_from_the_page_follows_the_product_rule(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;

    // "Activate now, bill later": active as soon as the invoice is issued, as from `initiate`.
    let later = "DEMO/0300/INVOICE/WEB";
    app.new_policy(later, "1000.00", InvoiceActivation::OnInvoice).await?;
    let to = submit_checkout(&app, later, Some("invoice")).await?;
    let payment = app.latest_payment(later).await?;
    ensure(
        to == format!("/account/payments/{}", payment.reference),
        format!("the customer is shown how to pay: {to}"),
    )?;
    ensure(payment.state == PaymentState::Invoiced, format!("invoiced: {}", payment.state))?;
    let policy = app.service(later).await?;
    ensure(policy.status == "active", format!("active before it is paid: {}", policy.status))?;
    ensure(policy.period_start.is_some() && policy.period_end.is_none(), "cover starts now")?;
    eventually("the invoice notice is written", Duration::from_secs(10), || async {
        Ok(app.messages_for(&payment.reference).await? == [("email".into(), CUSTOMER_EMAIL.into())])
    })
    .await?;

    // The default rule: the policy waits for the money.
    let waits = "DEMO/0301/INVOICE/WEB";
    app.new_policy(waits, "1000.00", InvoiceActivation::OnPayment).await?;
    submit_checkout(&app, waits, Some("invoice")).await?;
    ensure(app.latest_payment(waits).await?.state == PaymentState::Invoiced, "invoiced")?;
    let policy = app.service(waits).await?;
    ensure(policy.status == "quoted", format!("waits for the payment: {}", policy.status))
}

pub async fn nothing_owed_on_the_page_needs_no_payment(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let free = "DEMO/0302/FREE/WEB";
    app.new_policy(free, "0.00", InvoiceActivation::OnPayment).await?;
    let page = app.get(&format!("/account/checkout?policy={}", urlencoding(free))).await?;
    let html = page.text().await?;
    ensure(html.contains("there is nothing to pay"), "the page says nothing is owed")?;

    // No gateway chosen: nothing goes to a gateway, the policy is active at once.
    let to = submit_checkout(&app, free, None).await?;
    let payment = app.latest_payment(free).await?;
    ensure(to == format!("/account/payments/{}", payment.reference), format!("status page: {to}"))?;
    ensure(
        payment.state == PaymentState::PolicyConverted && payment.amount.is_zero(),
        format!("settled for zero: {} {}", payment.state, payment.amount),
    )?;
    ensure(payment.gateway_reference.is_none(), "no gateway was called")?;
    ensure(app.service(free).await?.status == "active", "the policy is active")
}

pub async fn the_bank_check_ends_on_settles_own_page(app: TestApp) -> Result<()> {
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let form = [
        ("policy", CARD_POLICY_NUMBER),
        ("gateway", "sagepay-gbp"),
        ("card_holder", "T MOKOENA"),
        ("card_number", "4000 0000 0000 3220"),
        ("expiry_date", "10/30"),
        ("cv2", "123"),
        ("billing_same", "on"),
    ];
    let paid = app.post_form("/account/api/card_pay", &form).await?;
    let challenge = location(&paid);
    ensure(challenge.ends_with("/challenge"), format!("to the bank's check: {challenge}"))?;
    let reference = challenge.split('/').nth(3).context("the payment reference")?.to_owned();

    // The frame's form to the bank, the bank's "Authenticate", and its form back to Settle.
    let frame = app.get(&format!("{challenge}/frame")).await?.text().await?;
    let to_bank = html_forms(&frame).into_iter().next().context("the form to the bank")?;
    let field = |name: &str| {
        to_bank.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let (creq, session) = (field("creq"), field("threeDSSessionData"));
    let back =
        app.answer_challenge(&app.client, &to_bank.action, &creq, &session, "Authenticate").await?;
    let done = app.client.post(&back.action).form(&back.fields).send().await?;

    // Not the API's blank page: Settle's own end of the check, inside the frame.
    ensure(done.status() == 303, format!("a redirect, not {}", done.status()))?;
    let end = location(&done);
    ensure(end == format!("/account/payments/{reference}/challenge/complete"), &end)?;
    let page = app.get(&end).await?.text().await?;
    ensure(page.contains("Payment authenticated — continue"), "the check went well")?;
    let payment = app.latest_payment(CARD_POLICY_NUMBER).await?;
    let policy_address = app.service(CARD_POLICY_NUMBER).await?.details.policy_address().cloned();
    ensure(
        payment.billing_address.is_some() && payment.billing_address == policy_address,
        format!(
            "billed to the policy address, kept with the payment: {:?}",
            payment.billing_address
        ),
    )?;
    ensure(
        page.contains(&format!(r#"href="/account/payments/{reference}" target="_top""#)),
        "a link out of the frame to the status page",
    )
}

pub async fn the_core_refuses_a_way_back_to_an_unregistered_origin(app: TestApp) -> Result<()> {
    // Whatever entry point calls it: a new dialect that forgot to check its client's URL still
    // can't send customers to an origin the merchant never registered.
    let merchant = settle::merchant::Merchant::by_client_id(&app.db, MERCHANT_CLIENT_ID)
        .await?
        .context("the demo merchant")?;
    let policy = app.service(POLICY_NUMBER).await?;
    let owed = settle::purchase::Purchase::open_for_service(&app.db, &policy.id)
        .await?
        .into_iter()
        .next()
        .context("the premium owed")?;
    let request = |url: &str| -> Result<settle::checkout::PayRequest> {
        Ok(settle::checkout::PayRequest {
            payer: settle::access::Viewer::Merchant(merchant.id.clone()),
            purchase_id: owed.id.clone(),
            gateways: vec!["payfort-aed".into()],
            method: settle::checkout::Method::HostedPage { save_card: false },
            return_to: Some(settle::payment::ReturnTo::AppendOutcome { url: url.parse()? }),
            details: serde_json::json!({}),
            idempotency_key: None,
        })
    };
    match settle::checkout::pay(&app.state.payments, request("https://evil.example/done")?).await {
        Err(settle::Error::Validation(errors)) => {
            ensure(errors.iter().any(|e| e.field == "return_to"), format!("{errors:?}"))?
        }
        other => anyhow::bail!("an unregistered origin must be refused: {other:?}"),
    }
    let started =
        settle::checkout::pay(&app.state.payments, request("http://localhost:8080/done")?).await?;
    ensure(started.payment.return_to.is_some(), "a registered origin is kept")
}
