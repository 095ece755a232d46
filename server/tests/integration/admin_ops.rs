//! The admin's webhooks and jobs pages: a failing delivery shown with its attempts, response
//! code and the bodies sent and received; "retry now" making the next attempt at once, audited;
//! the job queue's counts and a failed job put back; other roles refused.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;
use settle::demo::{ISP_SERVICE_ID, MERCHANT_CLIENT_ID};
use settle::job::{JobStatus, NewJob};
use settle::merchant::Merchant;
use settle::purchase::Purchase;
use settle::service::Service;
use settle::webhook::EventType;

use crate::support::ops::{ADMIN, CUSTOMER, OPERATOR};
use crate::support::receiver::{Receiver, Reply};
use crate::support::{TestApp, TestDatabase, ensure, eventually, location, start_app};

const WAIT: Duration = Duration::from_secs(20);

/// The audit entries about `subject`, newest first: (actor, action).
async fn audited(db: &settle::Db, subject: &str) -> Result<Vec<(String, String)>> {
    let entries = settle::audit::page(db, Some(subject), None, 20).await?;
    Ok(entries.into_iter().map(|e| (e.actor, e.action)).collect())
}

pub async fn a_failing_delivery_is_shown_and_retried_now(db: TestDatabase) -> Result<()> {
    // The schedule's next attempt is ten minutes away: only "retry now" makes it sooner.
    let owned = start_app(&db, &[("webhook_retry_seconds", json!([600, 600]))]).await?;
    let app = &owned.app;
    let receiver = Receiver::start().await?;
    receiver.script(&[Reply::Status(500, "endpoint broke")]);
    let token = app.merchant_token().await?;
    let set = app.set_webhook_endpoint(&token, &receiver.url(), None).await?;
    ensure(set.status == 201, format!("endpoint: {set:?}"))?;
    let merchant =
        Merchant::by_client_id(&app.db, MERCHANT_CLIENT_ID).await?.context("merchant")?;
    let isp = Service::find_by_reference(&app.db, ISP_SERVICE_ID).await?.context("isp")?;
    let purchase = Purchase::open_for_service(&app.db, &isp.id).await?;
    let subject = purchase.first().context("an open purchase")?.reference.clone();
    let event = settle::webhook::emit(&app.db, &merchant.id, EventType::InvoiceCreated, &subject)
        .await?
        .context("the event")?;
    eventually("the first attempt", WAIT, || async {
        Ok(settle::webhook::delivery::attempts_of(&app.db, event).await?.len() == 1)
    })
    .await?;

    // The list: the endpoint's recent failure, the delivery failed with its code and next try.
    let admin = app.signed_in(ADMIN).await?;
    let list = format!("/admin/webhooks?merchant={}&outcome=FAILED", merchant.id);
    let (status, html) = app.page_on(&admin, &list).await?;
    ensure(status == 200, format!("webhooks page: {status} {html}"))?;
    for expected in
        [&format!("#{event}"), "invoice.created", "500", "1 of 1 failed (100%)", &subject]
    {
        ensure(html.contains(expected), format!("the list shows {expected:?}: {html}"))?;
    }
    let (_, delivered_only) = app
        .page_on(&admin, &format!("/admin/webhooks?merchant={}&outcome=SUCCESSFULL", merchant.id))
        .await?;
    ensure(!delivered_only.contains(&format!("#{event}")), "the status filter holds")?;

    // The delivery: the attempt, its code, the body sent and the body that came back.
    let detail = format!("/admin/webhooks/{event}");
    let (status, html) = app.page_on(&admin, &detail).await?;
    ensure(status == 200, format!("delivery page: {status}"))?;
    for expected in ["Attempt 1", "500", "endpoint broke", "pendingWebhooks", "Retry now"] {
        ensure(html.contains(expected), format!("the delivery shows {expected:?}: {html}"))?;
    }
    let sent = receiver.received();
    let body = String::from_utf8(sent.first().context("a request")?.body.clone())?;
    let stored = settle::webhook::delivery::attempts_of(&app.db, event).await?;
    ensure(
        stored[0].request_body.as_deref() == Some(body.as_str()),
        "the stored request body is what was sent",
    )?;

    // Retry now: the second attempt is made at once (the receiver answers 200), audited.
    let retried = app
        .post_from(&admin, &detail, "/admin/api/retry_webhook", &[("event", &event.to_string())])
        .await?;
    ensure(
        retried.status() == 302 && location(&retried).ends_with(&detail),
        format!("retry: {} {:?}", retried.status(), location(&retried)),
    )?;
    eventually("the retried attempt", WAIT, || async {
        Ok(settle::webhook::delivery::attempts_of(&app.db, event).await?.len() == 2)
    })
    .await?;
    let subject_key = format!("webhook_event:{event}");
    let entries = audited(&app.db, &subject_key).await?;
    ensure(
        entries == [(ADMIN.0.to_owned(), "webhook.retry".to_owned())],
        format!("one audit entry: {entries:?}"),
    )?;
    eventually("the delivery succeeded", WAIT, || async {
        let e = settle::webhook::Event::find(&app.db, event).await?.context("event")?;
        Ok(e.invocation.as_str() == "SUCCESSFULL")
    })
    .await?;
    let (_, html) = app.page_on(&admin, &detail).await?;
    ensure(html.contains("Delivered") && !html.contains("Retry now"), "delivered, no retry")?;
    // A delivered one is not retried (the page says why), and nothing more is audited.
    let again = app
        .post_from(&admin, &detail, "/admin/api/retry_webhook", &[("event", &event.to_string())])
        .await?;
    ensure(again.status() == 302, format!("retry again: {}", again.status()))?;
    let (_, html) = app.page_on(&admin, &detail).await?;
    ensure(html.contains("already succeeded"), format!("the refusal is shown: {html}"))?;
    ensure(audited(&app.db, &subject_key).await?.len() == 1, "still one audit entry")?;
    let missing =
        app.post_from(&admin, &detail, "/admin/api/retry_webhook", &[("event", "999999")]).await?;
    ensure(missing.status() != 500, "an unknown delivery is no fault")?;
    owned.stop().await;
    Ok(())
}

pub async fn the_job_queue_is_counted_and_a_failure_retried(app: TestApp) -> Result<()> {
    // A job no handler runs, allowed one attempt: it fails with its error.
    let id = settle::job::enqueue(
        &app.db,
        NewJob::new("ops.unhandled", json!({ "what": "test" })).max_attempts(1),
    )
    .await?
    .context("enqueued")?;
    eventually("the job failed", WAIT, || async {
        Ok(settle::job::get(&app.db, &id).await?.is_some_and(|(_, s)| s == JobStatus::Failed))
    })
    .await?;
    let admin = app.signed_in(ADMIN).await?;
    let (status, html) = app.page_on(&admin, "/admin/jobs").await?;
    ensure(status == 200, format!("jobs page: {status} {html}"))?;
    for expected in ["ops.unhandled", "no handler for kind ops.unhandled", id.as_str(), "1 of 1"] {
        ensure(html.contains(expected), format!("the jobs page shows {expected:?}: {html}"))?;
    }
    let counts =
        settle::job::report::counts_by_kind(&app.db, &settle::access::Viewer::Staff).await?;
    ensure(
        counts
            .iter()
            .any(|c| c.kind == "ops.unhandled" && c.status == JobStatus::Failed && c.count == 1),
        format!("counted by kind and state: {counts:?}"),
    )?;

    // Retry now: it runs again (a second attempt), fails again, and the retry is audited.
    let retried = app
        .post_from(&admin, "/admin/jobs", "/admin/api/retry_job", &[("job", id.as_str())])
        .await?;
    ensure(
        retried.status() == 302 && location(&retried).ends_with("/admin/jobs"),
        format!("retry: {} {:?}", retried.status(), location(&retried)),
    )?;
    eventually("the second attempt", WAIT, || async {
        Ok(settle::job::get(&app.db, &id)
            .await?
            .is_some_and(|(job, s)| job.attempts == 2 && s == JobStatus::Failed))
    })
    .await?;
    let entries = audited(&app.db, &format!("job:{id}")).await?;
    ensure(
        entries == [(ADMIN.0.to_owned(), "job.retry".to_owned())],
        format!("one audit entry: {entries:?}"),
    )?;
    let (_, html) = app.page_on(&admin, "/admin/jobs").await?;
    ensure(html.contains("2 of 2"), "the page shows the second attempt")?;
    Ok(())
}

pub async fn other_roles_are_refused_the_ops_pages(app: TestApp) -> Result<()> {
    for login in [CUSTOMER, OPERATOR] {
        let client = app.signed_in(login).await?;
        for page in ["/admin/webhooks", "/admin/webhooks/1", "/admin/jobs"] {
            let (status, _) = app.page_on(&client, page).await?;
            ensure(status == 403, format!("{} on {page}: {status}", login.0))?;
        }
        for (path, form) in [
            ("/admin/api/retry_webhook", [("event", "1")]),
            ("/admin/api/retry_job", [("job", "1")]),
            ("/admin/api/webhooks", [("merchant", "")]),
            ("/admin/api/jobs", [("after_at", "")]),
        ] {
            let response = app.post_from(&client, "/admin/jobs", path, &form).await?;
            ensure(
                response.status() == 403,
                format!("{} on {path}: {}", login.0, response.status()),
            )?;
        }
    }
    // Nothing was retried or audited on their behalf.
    let entries = settle::audit::page(&app.db, None, None, 10).await?;
    ensure(entries.iter().all(|e| !e.action.ends_with(".retry")), "no retry audited")?;
    Ok(())
}
