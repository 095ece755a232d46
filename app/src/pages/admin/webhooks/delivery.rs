//! One webhook delivery, `/admin/webhooks/:event`: the event, where its delivery stands, and
//! every attempt with the body sent, the status code and the body that came back.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::{RetryWebhook, WEBHOOKS, urlencode};
use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// The path of delivery `event`'s page.
pub fn href(event: i64) -> String {
    format!("{WEBHOOKS}/{event}")
}

/// A delivery status in words.
pub fn status_words(status: &str) -> &'static str {
    match status {
        "SUCCESSFULL" => "Delivered",
        "FAILED" => "Failed",
        "PENDING" => "Pending",
        _ => "Unknown",
    }
}

/// One attempt as shown.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttemptView {
    /// 1 for the first.
    pub attempt: i64,
    /// When it was made.
    pub at: String,
    /// Where it went.
    pub url: String,
    /// How long it took.
    pub duration_ms: i64,
    /// The status code, or what happened instead.
    pub code: String,
    /// Whether it succeeded.
    pub succeeded: bool,
    /// The body sent, if it was kept.
    pub request_body: Option<String>,
    /// The body that came back.
    pub response_body: Option<String>,
}

/// What the delivery page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeliveryView {
    /// The event id.
    pub event: i64,
    /// Its type.
    pub kind: String,
    /// What it is about.
    pub subject: String,
    /// The merchant's id and name.
    pub merchant: (String, String),
    /// When it happened.
    pub created: String,
    /// `PENDING`, `SUCCESSFULL`, `FAILED`.
    pub status: String,
    /// When the next attempt is due, if one is queued.
    pub next_attempt: Option<String>,
    /// Its attempts, first first.
    pub attempts: Vec<AttemptView>,
}

/// Delivery `event`; admins only.
#[server(prefix = "/admin/api", endpoint = "webhook_delivery")]
pub async fn webhook_delivery(event: String) -> Result<DeliveryView, PageError> {
    use crate::format::date_time;

    let user = crate::auth::require(Role::Admin)?;
    let viewer = settle::access::Viewer::of_user(&user)
        .map_err(|_| PageError::forbidden("Your account can't do this."))?;
    let ctx = crate::context::page_context()?;
    let not_found = || PageError::not_found("There is no such webhook delivery.");
    let id = event.trim().parse::<i64>().map_err(|_| not_found())?;
    let detail = match settle::webhook::admin::delivery(
        &ctx.db,
        &viewer,
        settle::webhook::EventId(id),
    )
    .await
    {
        Ok(detail) => detail,
        Err(settle::Error::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(PageError::logged("loading a webhook delivery")(e)),
    };
    let attempts = detail
        .attempts
        .into_iter()
        .map(|a| AttemptView {
            attempt: a.attempt,
            at: date_time(a.attempted_at),
            url: a.url,
            duration_ms: a.duration_ms,
            code: match (a.status_code, &a.error) {
                (Some(code), _) => code.to_string(),
                (None, Some(error)) => format!("no response ({error})"),
                (None, None) => "no response".into(),
            },
            succeeded: a.invocation == "SUCCESSFULL",
            request_body: a.request_body,
            response_body: a.response_body,
        })
        .collect();
    Ok(DeliveryView {
        event: id,
        kind: detail.event.kind.to_string(),
        subject: detail.event.subject,
        merchant: (detail.event.merchant_id.to_string(), detail.merchant_name),
        created: date_time(detail.event.created_at),
        status: detail.event.invocation.to_string(),
        next_attempt: detail.next_attempt_at.map(date_time),
        attempts,
    })
}

/// The delivery page.
#[component]
pub fn WebhookDeliveryPage() -> impl IntoView {
    let event = use_params_map().with_untracked(|p| p.get("event")).unwrap_or_default();
    view! {
        <Layout title="Webhook delivery".into()>
            <PageData heading="Webhook delivery" load=webhook_delivery(event) let:view>
                <Delivery view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Delivery(view: DeliveryView) -> impl IntoView {
    let retry = ServerAction::<RetryWebhook>::new();
    let back = format!("{WEBHOOKS}?merchant={}", urlencode(&view.merchant.0));
    let can_retry = view.status != "SUCCESSFULL";
    let none_yet = view.attempts.is_empty();
    let attempts = view
        .attempts
        .into_iter()
        .map(|a| {
            view! {
                <section class="card attempt">
                    <h2>{format!("Attempt {}", a.attempt)} " "
                        <span class=if a.succeeded { "tag" } else { "tag notice" }>{a.code}</span>
                    </h2>
                    <p class="muted">{format!("{} · {} ms · ", a.at, a.duration_ms)}<code class="url">{a.url}</code></p>
                    <h3>"Request body"</h3>
                    <pre class="body">{a.request_body.unwrap_or_else(|| "(not kept)".into())}</pre>
                    <h3>"Response body"</h3>
                    <pre class="body">{a.response_body.unwrap_or_else(|| "(empty)".into())}</pre>
                </section>
            }
        })
        .collect_view();
    view! {
        <h1>{format!("Webhook delivery #{}", view.event)}</h1>
        <section class="card">
            <dl class="facts">
                <dt>"Merchant"</dt><dd>{view.merchant.1}</dd>
                <dt>"Type"</dt><dd>{view.kind}</dd>
                <dt>"About"</dt><dd><code class="reference">{view.subject}</code></dd>
                <dt>"Created"</dt><dd>{view.created}</dd>
                <dt>"Status"</dt><dd>{status_words(&view.status)}</dd>
                <dt>"Next attempt"</dt><dd>{view.next_attempt.unwrap_or_else(|| "none queued".into())}</dd>
            </dl>
            {can_retry.then(|| view! {
                <ActionForm action=retry>
                    <input type="hidden" name="event" value=view.event />
                    <SubmitButton label="Retry now" busy="Retrying…" />
                </ActionForm>
            })}
        </section>
        {none_yet.then(|| view! { <p>"No attempt has been made yet."</p> })}
        {attempts}
        <p><a href=back>"Back to the deliveries"</a></p>
    }
}
