//! The admin's webhooks page, `/admin/webhooks`: every merchant endpoint at a glance (failing
//! ones first, with their recent failures and last success), and one merchant's deliveries
//! with status, attempts, next attempt and last response code, filtered by outcome and
//! keyset-paged ("Older" links). Each delivery opens on its own page ([`delivery`]) with the
//! bodies sent and received; "Retry now" is a plain form on both.

pub mod delivery;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use crate::PageError;
use crate::components::{PageData, SubmitButton};
use crate::layout::Layout;

/// The page's path.
pub const WEBHOOKS: &str = "/admin/webhooks";

/// One endpoint's health, in words.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndpointLine {
    /// The merchant's id.
    pub merchant: String,
    /// Its name.
    pub name: String,
    /// The endpoint URL.
    pub url: String,
    /// Whether it is failing.
    pub failing: bool,
    /// Failed attempts in a row.
    pub consecutive_failures: i64,
    /// "3 of 4 (75%)" over the last day, or "none".
    pub recent: String,
    /// When an attempt last succeeded, or "never".
    pub last_success: String,
}

/// One delivery in the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// The event id.
    pub event: i64,
    /// Its type.
    pub kind: String,
    /// What it is about.
    pub subject: String,
    /// When it happened.
    pub created: String,
    /// `PENDING`, `SUCCESSFULL`, `FAILED`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, if one is queued.
    pub next_attempt: Option<String>,
    /// The latest answer's code, or what happened instead ("no response").
    pub last_code: Option<String>,
}

/// What the webhooks page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhooksView {
    /// Every endpoint.
    pub endpoints: Vec<EndpointLine>,
    /// The merchant whose deliveries are listed.
    pub merchant: Option<String>,
    /// The outcome filter.
    pub outcome: Option<String>,
    /// A page of deliveries, newest first.
    pub deliveries: Vec<DeliveryRow>,
    /// The `before` of the next (older) page, if there may be one.
    pub older: Option<i64>,
}

/// The endpoints, and a page of `merchant`'s deliveries (the first failing endpoint's, or the
/// first endpoint's, when none is chosen); admins only.
#[server(prefix = "/admin/api", endpoint = "webhooks")]
pub async fn load_webhooks(
    merchant: Option<String>,
    outcome: Option<String>,
    before: Option<String>,
) -> Result<WebhooksView, PageError> {
    use settle::webhook::admin;
    use settle::webhook::delivery::Invocation;

    use crate::format::date_time;

    let user = crate::auth::require(Role::Admin)?;
    let viewer = settle::access::Viewer::of_user(&user)
        .map_err(|_| PageError::forbidden("Your account can't do this."))?;
    let ctx = crate::context::page_context()?;
    let now = chrono::Utc::now();
    let endpoints = admin::endpoints(&ctx.db, &viewer, now)
        .await
        .map_err(PageError::logged("loading webhook endpoints"))?;
    let outcome = outcome.filter(|o| !o.is_empty());
    let filter = match outcome.as_deref().map(str::parse::<Invocation>) {
        Some(Ok(o)) => Some(o),
        Some(Err(_)) => return Err(PageError::bad_request("No such delivery status.")),
        None => None,
    };
    let before = match before.filter(|b| !b.is_empty()).map(|b| b.parse::<i64>()) {
        Some(Ok(b)) => Some(settle::webhook::EventId(b)),
        Some(Err(_)) => return Err(PageError::bad_request("That page link is not valid.")),
        None => None,
    };
    let merchant = merchant
        .filter(|m| !m.is_empty())
        .or_else(|| endpoints.first().map(|e| e.merchant_id.to_string()));
    let mut deliveries = Vec::new();
    let mut older = None;
    if let Some(merchant) = &merchant {
        let id = settle::merchant::MerchantId::from_string(merchant.clone());
        let lines = admin::deliveries(&ctx.db, &viewer, &id, filter, before, admin::PAGE_SIZE)
            .await
            .map_err(PageError::logged("loading webhook deliveries"))?;
        if lines.len() as i64 == admin::PAGE_SIZE {
            older = lines.last().map(|l| l.event_id);
        }
        deliveries = lines
            .into_iter()
            .map(|l| DeliveryRow {
                event: l.event_id,
                kind: l.kind,
                subject: l.subject,
                created: date_time(l.created_at),
                status: l.invocation,
                attempts: l.attempts,
                next_attempt: l.next_attempt_at.map(date_time),
                last_code: match (l.last_status_code, l.last_error) {
                    (Some(code), _) => Some(code.to_string()),
                    (None, Some(_)) => Some("no response".into()),
                    (None, None) => None,
                },
            })
            .collect();
    }
    let endpoints = endpoints
        .into_iter()
        .map(|e| EndpointLine {
            recent: match e.failure_rate() {
                Some(rate) => {
                    format!("{} of {} failed ({rate:.0}%)", e.recent_failures, e.recent_attempts)
                }
                None => "no attempts".into(),
            },
            last_success: e.last_success_at.map_or_else(|| "never".into(), date_time),
            merchant: e.merchant_id.to_string(),
            name: e.merchant_name,
            url: e.url,
            failing: e.status == "failing",
            consecutive_failures: e.consecutive_failures,
        })
        .collect();
    Ok(WebhooksView { endpoints, merchant, outcome, deliveries, older })
}

/// Makes a delivery's next attempt due now, audited; back to the delivery's page.
#[server(prefix = "/admin/api", endpoint = "retry_webhook")]
pub async fn retry_webhook(event: i64) -> Result<(), PageError> {
    use crate::flash::{Flash, redirect_with};
    use settle::webhook::admin::{self, Retried};

    let (user, actor) = crate::auth::actor(Role::Admin)?;
    let viewer = settle::access::Viewer::of_user(&user)
        .map_err(|_| PageError::forbidden("Your account can't do this."))?;
    let ctx = crate::context::page_context()?;
    let id = settle::webhook::EventId(event);
    let flash = match admin::retry_now(&ctx.db, &viewer, &actor, id).await {
        Ok(Retried::BroughtForward { attempt } | Retried::Queued { attempt }) => {
            Flash::success(format!("Attempt {attempt} of delivery {event} is due now."))
        }
        Err(settle::Error::NotFound(_)) => {
            return Err(PageError::not_found("There is no such webhook delivery."));
        }
        Err(settle::Error::Conflict(why)) => Flash::error(format!("Not retried: {why}.")),
        Err(e) => return Err(PageError::logged("retrying a webhook delivery")(e)),
    };
    redirect_with(flash, &delivery::href(event)).await
}

/// The webhooks page.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let query = use_query_map();
    let (merchant, outcome, before) =
        query.with_untracked(|q| (q.get("merchant"), q.get("outcome"), q.get("before")));
    view! {
        <Layout title="Webhooks".into()>
            <h1>"Webhooks"</h1>
            <PageData heading="Webhooks" load=load_webhooks(merchant, outcome, before) let:view>
                <Webhooks view />
            </PageData>
        </Layout>
    }
}

#[component]
fn Webhooks(view: WebhooksView) -> impl IntoView {
    let endpoints = view
        .endpoints
        .iter()
        .map(|e| {
            let status = if e.failing {
                view! { <span class="tag notice">"Failing"</span> }.into_any()
            } else {
                view! { <span class="tag">"Healthy"</span> }.into_any()
            };
            let href = format!("{WEBHOOKS}?merchant={}", urlencode(&e.merchant));
            view! {
                <tr class=if e.failing { "failing" } else { "" }>
                    <td data-label="Merchant"><a href=href>{e.name.clone()}</a></td>
                    <td data-label="Endpoint"><code class="url">{e.url.clone()}</code></td>
                    <td data-label="Status">{status}</td>
                    <td data-label="Failures in a row">{e.consecutive_failures}</td>
                    <td data-label="Last 24 hours">{e.recent.clone()}</td>
                    <td data-label="Last success">{e.last_success.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let merchant_options = view
        .endpoints
        .iter()
        .map(|e| {
            let selected = view.merchant.as_deref() == Some(e.merchant.as_str());
            view! { <option value=e.merchant.clone() selected=selected>{e.name.clone()}</option> }
        })
        .collect_view();
    let outcome_options = [
        ("", "Any status"),
        ("FAILED", "Failed"),
        ("PENDING", "Pending"),
        ("SUCCESSFULL", "Successful"),
    ]
    .into_iter()
    .map(|(value, label)| {
        let selected = view.outcome.as_deref().unwrap_or("") == value;
        view! { <option value=value selected=selected>{label}</option> }
    })
    .collect_view();
    let older = view.older.map(|before| {
        let mut href = format!("{WEBHOOKS}?before={before}");
        if let Some(m) = &view.merchant {
            href.push_str(&format!("&merchant={}", urlencode(m)));
        }
        if let Some(o) = &view.outcome {
            href.push_str(&format!("&outcome={}", urlencode(o)));
        }
        view! { <p class="pager"><a href=href rel="next">"Older deliveries"</a></p> }
    });
    let no_deliveries = view.deliveries.is_empty();
    let rows = view.deliveries.into_iter().map(|d| view! { <DeliveryTableRow d /> }).collect_view();
    view! {
        <section class="card">
            <h2>"Endpoints"</h2>
            {if view.endpoints.is_empty() {
                view! { <p>"No merchant has a webhook endpoint."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="list reflow endpoints">
                            <thead><tr><th>"Merchant"</th><th>"Endpoint"</th><th>"Status"</th><th>"Failures in a row"</th><th>"Last 24 hours"</th><th>"Last success"</th></tr></thead>
                            <tbody>{endpoints}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
        <section class="card">
            <h2>"Deliveries"</h2>
            <form method="get" action=WEBHOOKS class="filters">
                <div class="field">
                    <label for="merchant">"Merchant"</label>
                    <select id="merchant" name="merchant">{merchant_options}</select>
                </div>
                <div class="field">
                    <label for="outcome">"Status"</label>
                    <select id="outcome" name="outcome">{outcome_options}</select>
                </div>
                <button type="submit" class="secondary">"Show"</button>
            </form>
            {no_deliveries.then(|| view! { <p>"No deliveries to show."</p> })}
            <div class="table-scroll" hidden=no_deliveries>
                <table class="list reflow deliveries">
                    <thead><tr><th>"Delivery"</th><th>"Type"</th><th>"About"</th><th>"Created"</th><th>"Status"</th><th>"Attempts"</th><th>"Next attempt"</th><th>"Last code"</th><th>""</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {older}
        </section>
    }
}

/// One delivery's row, with "Retry now" unless it succeeded.
#[component]
fn DeliveryTableRow(d: DeliveryRow) -> impl IntoView {
    let retry = ServerAction::<RetryWebhook>::new();
    let can_retry = d.status != "SUCCESSFULL";
    view! {
        <tr>
            <td data-label="Delivery"><a href=delivery::href(d.event)>{format!("#{}", d.event)}</a></td>
            <td data-label="Type">{d.kind}</td>
            <td data-label="About"><code class="reference">{d.subject}</code></td>
            <td data-label="Created">{d.created}</td>
            <td data-label="Status"><span class="tag">{delivery::status_words(&d.status)}</span></td>
            <td data-label="Attempts">{d.attempts}</td>
            <td data-label="Next attempt">{d.next_attempt.unwrap_or_else(|| "—".into())}</td>
            <td data-label="Last code">{d.last_code.unwrap_or_else(|| "—".into())}</td>
            <td class="action">
                {can_retry.then(|| view! {
                    <ActionForm action=retry>
                        <input type="hidden" name="event" value=d.event />
                        <SubmitButton label="Retry now" busy="Retrying…" class="secondary small" />
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}

/// `value` encoded for a query string.
pub(crate) fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
