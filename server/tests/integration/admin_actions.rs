//! The admin's actions on a payment (refund, stray-charge refund, cancel, reconcile now), the
//! audit log and the ledger page, through the pages as a browser without script uses them, with
//! the gateway's own records counted.

use std::time::Duration;

use anyhow::{Context, Result};
use settle::demo::{ADMIN_EMAIL, ADMIN_PASSWORD, CUSTOMER_EMAIL, CUSTOMER_PASSWORD};
use settle::payment::{Payment, PaymentState};

use crate::support::{TestApp, ensure, eventually, location};

/// Logs the demo admin in.
async fn admin(app: &TestApp) -> Result<()> {
    app.log_in(ADMIN_EMAIL, ADMIN_PASSWORD, "/admin").await
}

/// Submits the confirmation form of `page` with `extra` fields (set or replaced) and checks the
/// answer sends the browser back to `page`; returns the page as it then reads.
async fn confirm(app: &TestApp, page: &str, extra: &[(&str, &str)]) -> Result<String> {
    let form = app.confirmation_form(page).await?;
    let mut fields: Vec<(String, String)> =
        form.fields.into_iter().filter(|(n, _)| !extra.iter().any(|(e, _)| e == n)).collect();
    fields.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let response = app.post_form_with(&app.client, &form.action, &fields).await?;
    ensure(
        response.status() == 302 && location(&response) == page,
        format!("{} answered {} -> {:?}", form.action, response.status(), location(&response)),
    )?;
    Ok(app.get(page).await?.text().await?)
}

fn refund_page(reference: &str) -> String {
    format!("/admin/payments/{reference}/refund")
}

async fn reload(app: &TestApp, payment: &Payment) -> Result<Payment> {
    Payment::find(&app.db, &payment.id).await?.context("payment")
}

pub async fn partial_refund_then_the_rest_and_never_more(app: TestApp) -> Result<()> {
    let paid = app.paid_card_payment().await?;
    let captured = paid.amount.minor();
    admin(&app).await?;
    let page = refund_page(&paid.reference);
    let html = app.get(&page).await?.text().await?;
    ensure(
        html.contains(&paid.amount.to_string()) && html.contains("Already refunded"),
        "the page shows captured and already refunded",
    )?;

    // Part of it.
    let html = confirm(&app, &page, &[("amount", "10.00")]).await?;
    ensure(html.contains("Refunded 10.00 GBP"), format!("the page explains the result: {html}"))?;
    ensure(
        app.gateway_charge(&paid.reference).await? == (captured, 1000),
        "the gateway refunded 10.00",
    )?;
    ensure(reload(&app, &paid).await?.state.is_success(), "a partial refund leaves it paid")?;

    // More than is left: refused, with the amount's own message, and nothing moves.
    let too_much = format!("{}.{:02}", (captured - 1000 + 1) / 100, (captured - 1000 + 1) % 100);
    let html = confirm(&app, &page, &[("amount", &too_much)]).await?;
    ensure(
        html.contains("Nothing was refunded")
            && html.contains("left to refund")
            && html.contains("aria-invalid=\"true\""),
        format!("an over-refund is refused with a clear message at the field: {html}"),
    )?;
    ensure(
        app.gateway_charge(&paid.reference).await? == (captured, 1000),
        "nothing more was refunded",
    )?;

    // The rest (the amount field's default: everything left).
    let html = confirm(&app, &page, &[]).await?;
    ensure(html.contains("Left to refund: 0.00 GBP"), format!("the rest is refunded: {html}"))?;
    ensure(html.contains("has been refunded in full"), "the page no longer offers a refund")?;
    ensure(app.gateway_charge(&paid.reference).await? == (captured, captured), "all given back")?;
    ensure(reload(&app, &paid).await?.state == PaymentState::Refunded, "fully refunded")?;

    // Written to the timeline and the audit log (who, what, from where).
    let causes: Vec<String> = settle::payment::event::timeline(&app.db, &paid.id)
        .await?
        .into_iter()
        .map(|e| e.cause)
        .collect();
    ensure(
        causes.iter().filter(|c| c.starts_with("refunded ") && !c.contains("in full")).count() == 2
            && causes.iter().any(|c| c.contains("refunded in full")),
        format!("the timeline tells both refunds: {causes:?}"),
    )?;
    let audit = app.payment_audit(&paid.reference).await?;
    let refunds: Vec<_> = audit.iter().filter(|(_, _, a, _)| a == "payment.refund").collect();
    ensure(refunds.len() == 2, format!("two refunds audited (the refused one isn't): {audit:?}"))?;
    ensure(
        refunds
            .iter()
            .all(|(who, from, _, _)| who == ADMIN_EMAIL && !from.is_empty() && from != "unknown"),
        format!("who and from where: {refunds:?}"),
    )?;
    // The audit page lists them for this payment.
    let subject = format!("payment:{}", paid.reference);
    let html = app.get(&format!("/admin/audit?subject={subject}")).await?.text().await?;
    ensure(
        html.matches("payment.refund").count() >= 2 && html.contains(ADMIN_EMAIL),
        "the audit page lists them",
    )?;
    Ok(())
}

pub async fn a_double_submit_refunds_once(app: TestApp) -> Result<()> {
    let paid = app.paid_card_payment().await?;
    admin(&app).await?;
    let form = app.confirmation_form(&refund_page(&paid.reference)).await?;
    let key = form.fields.iter().find(|(n, _)| n == "request_key").context("request key")?;
    let fields = [
        ("reference", paid.reference.as_str()),
        ("amount", "5.00"),
        ("request_key", key.1.as_str()),
    ];
    // A slow acquirer, so the submits overlap while the first is in flight.
    app.set_faults("card", serde_json::json!({ "latency_ms": 400 })).await?;
    let answers = futures::future::join_all(
        (0..4).map(|_| app.post_form_with(&app.client, &form.action, &fields)),
    )
    .await;
    for answer in answers {
        ensure(answer?.status() == 302, "each submit is answered with the page")?;
    }
    app.reset_faults("card").await?;
    // And once more, later: the same form refunds nothing more.
    let again = app.post_form_with(&app.client, &form.action, &fields).await?;
    ensure(again.status() == 302, "a repeated submit is answered, not refused")?;
    eventually("the refund settles", Duration::from_secs(5), || async {
        Ok(app.gateway_charge(&paid.reference).await?.1 >= 500)
    })
    .await?;
    ensure(
        app.gateway_charge(&paid.reference).await?.1 == 500,
        "the gateway's own records show one refund of 5.00",
    )?;
    let sql = "SELECT COUNT(*) FROM refunds WHERE payment_id = $1";
    let rows: i64 = settle::with_db!(&app.db, pool => sqlx::query_scalar(sql).bind(&paid.id).fetch_one(pool).await)?;
    ensure(rows == 1, format!("one refund recorded, not {rows}"))?;
    let audit = app.payment_audit(&paid.reference).await?;
    ensure(audit.iter().filter(|(_, _, a, _)| a == "payment.refund").count() == 1, "audited once")?;
    Ok(())
}

pub async fn a_payment_never_captured_is_not_refunded_and_can_be_cancelled(
    app: TestApp,
) -> Result<()> {
    let waiting = app.awaiting_payment().await?;
    ensure(
        waiting.state == PaymentState::AwaitingCustomer,
        format!("awaiting: {}", waiting.state),
    )?;
    admin(&app).await?;
    let html = app.get(&refund_page(&waiting.reference)).await?.text().await?;
    ensure(
        html.contains("was never captured") && !html.contains("/admin/api/refund_payment"),
        "no refund form for a payment never captured",
    )?;
    // Posted anyway: refused.
    let fields =
        [("reference", waiting.reference.as_str()), ("amount", ""), ("request_key", "k-1")];
    let response = app.post_form("/admin/api/refund_payment", &fields).await?;
    ensure(response.status() == 302, "answered with the page")?;
    let html = app.get(&refund_page(&waiting.reference)).await?.text().await?;
    ensure(html.contains("never captured"), "refused with a reason")?;

    // Reconcile now: the gateway says the customer hasn't paid; audited.
    let page = format!("/admin/payments/{}/reconcile", waiting.reference);
    let html = confirm(&app, &page, &[]).await?;
    ensure(html.contains("stays"), format!("the page tells the gateway's answer: {html}"))?;
    ensure(reload(&app, &waiting).await?.state == PaymentState::AwaitingCustomer, "still waiting")?;

    // Cancel: the hosted page is cancelled at the gateway and the payment here.
    let page = format!("/admin/payments/{}/cancel", waiting.reference);
    let html = confirm(&app, &page, &[]).await?;
    ensure(html.contains("is cancelled"), format!("the page tells it: {html}"))?;
    ensure(reload(&app, &waiting).await?.state == PaymentState::Cancelled, "cancelled")?;
    let audit = app.payment_audit(&waiting.reference).await?;
    let actions: Vec<&str> = audit.iter().map(|(_, _, a, _)| a.as_str()).collect();
    ensure(actions == ["payment.cancel", "payment.reconcile"], format!("audited: {actions:?}"))?;
    ensure(audit.iter().all(|(who, _, _, _)| who == ADMIN_EMAIL), "by the admin")?;

    // A paid payment can't be cancelled.
    let paid = app.paid_card_payment().await?;
    let page = format!("/admin/payments/{}/cancel", paid.reference);
    let html = app.get(&page).await?.text().await?;
    ensure(!html.contains("/admin/api/cancel_payment"), "no cancel form for a paid payment")?;
    let response =
        app.post_form("/admin/api/cancel_payment", &[("reference", &paid.reference)]).await?;
    ensure(response.status() == 302, "answered with the page")?;
    let html = app.get(&page).await?.text().await?;
    ensure(
        html.contains("can&#x27;t be cancelled") || html.contains("can't be cancelled"),
        format!("refused: {html}"),
    )?;
    ensure(reload(&app, &paid).await?.state.is_success(), "still paid")?;
    Ok(())
}

pub async fn the_audit_log_is_append_only(app: TestApp) -> Result<()> {
    let paid = app.paid_card_payment().await?;
    admin(&app).await?;
    confirm(&app, &format!("/admin/payments/{}/reconcile", paid.reference), &[]).await?;
    let update = settle::with_db!(&app.db, pool => sqlx::query("UPDATE audit_log SET actor = 'someone else'").execute(pool).await.map(|_| ()));
    ensure(update.is_err(), "an update is refused")?;
    let delete = settle::with_db!(&app.db, pool => sqlx::query("DELETE FROM audit_log").execute(pool).await.map(|_| ()));
    ensure(delete.is_err(), "a delete is refused")?;
    let audit = app.payment_audit(&paid.reference).await?;
    ensure(audit.len() == 1 && audit[0].0 == ADMIN_EMAIL, format!("the entry stands: {audit:?}"))?;
    let html = app.get("/admin/audit").await?.text().await?;
    ensure(
        html.contains("payment.reconcile") && html.contains(&paid.reference),
        "the audit page shows it",
    )?;
    Ok(())
}

pub async fn the_ledger_lists_a_stray_charge_and_refunds_it(app: TestApp) -> Result<()> {
    // A charge at the gateway that Settle doesn't count as paid: planted by moving a paid
    // payment to TIMED_OUT behind Settle's back.
    let paid = app.paid_card_payment().await?;
    let sql = "UPDATE payments SET state = 9, settle_by = NULL WHERE id = $1";
    settle::with_db!(&app.db, pool => sqlx::query(sql).bind(&paid.id).execute(pool).await.map(|_| ()))?;
    admin(&app).await?;
    let html = app.get("/admin/ledger").await?.text().await?;
    let stray = format!("/admin/payments/{}/refund-charge", paid.reference);
    ensure(
        html.contains("Charges without a successful payment") && html.contains(&stray),
        format!("the ledger lists it with a Refund link: {html}"),
    )?;
    let html = confirm(&app, &stray, &[]).await?;
    ensure(html.contains("Refunded the stray charge"), format!("the page tells it: {html}"))?;
    let (captured, refunded) = app.gateway_charge(&paid.reference).await?;
    ensure(captured == refunded, "all of it given back at the gateway")?;
    // Once: the page now refuses, and the ledger is clean of it.
    let html = app.get(&stray).await?.text().await?;
    ensure(html.contains("holds no money"), "nothing left to refund")?;
    let html = app.get("/admin/ledger").await?.text().await?;
    ensure(!html.contains(&stray), "the ledger no longer lists it")?;
    let audit = app.payment_audit(&paid.reference).await?;
    ensure(audit.iter().any(|(_, _, a, _)| a == "payment.refund_stray"), "audited")?;
    Ok(())
}

pub async fn customers_get_403_on_every_admin_action(app: TestApp) -> Result<()> {
    let paid = app.paid_card_payment().await?;
    app.log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD, "/account").await?;
    let r = &paid.reference;
    for page in [
        format!("/admin/payments/{r}/refund"),
        format!("/admin/payments/{r}/refund-charge"),
        format!("/admin/payments/{r}/cancel"),
        format!("/admin/payments/{r}/reconcile"),
        "/admin/audit".to_owned(),
        "/admin/ledger".to_owned(),
    ] {
        let status = app.get(&page).await?.status();
        ensure(status == 403, format!("customer on {page}: {status}"))?;
    }
    let form = [("reference", r.as_str()), ("amount", "1.00"), ("request_key", "k")];
    for function in [
        "payment_facts",
        "refund_page",
        "refund_payment",
        "stray_charge",
        "refund_stray_charge",
        "cancel_payment",
        "reconcile_payment",
        "audit_log",
        "ledger_check",
    ] {
        let path = format!("/admin/api/{function}");
        let status = app.post_form(&path, &form).await?.status();
        ensure(status == 403, format!("customer calling {path}: {status}"))?;
    }
    ensure(app.gateway_charge(r).await?.1 == 0, "nothing was refunded")?;
    ensure(app.payment_audit(r).await?.is_empty(), "nothing was audited")?;
    Ok(())
}
