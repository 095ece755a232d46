//! The admin dashboard (the console's start page): today / 7 days / 30 days of payments per
//! state and gateway, success rate, time to a final state, stuck payments and webhook failures,
//! with charts drawn on the server as SVG and the same numbers as tables.

pub mod charts;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use settle::account::Role;
use settle::stats::dashboard::{Outcome, Period};

use crate::PageError;

/// One state's payments in the period.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateRow {
    /// Seed 003's name (`PAYMENT_SUCCESS`).
    pub state: String,
    /// Numeric code.
    pub code: i16,
    /// How many.
    pub count: i64,
    /// Their amounts, one per currency (`ZAR 1 234.00`).
    pub volume: Vec<String>,
}

/// One gateway's payments in the period.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GatewayRow {
    /// The gateway's id.
    pub gateway: String,
    /// How many payments.
    pub count: i64,
    /// How many were paid and kept.
    pub paid: i64,
    /// What all of them asked for, one per currency.
    pub volume: Vec<String>,
    /// What was paid and kept, one per currency.
    pub paid_volume: Vec<String>,
    /// The paid volume per currency in major units, for the chart.
    pub paid_major: Vec<(String, f64)>,
}

/// One hour or day of the chart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BucketRow {
    /// `2026-12-06` or `2026-12-06T14`.
    pub key: String,
    /// The axis label (`06 Dec`, `14:00`).
    pub short: String,
    /// Counts per outcome (paid, refunded, failed, cancelled, open).
    pub counts: [i64; 5],
}

/// A stuck payment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StuckRow {
    /// Its reference.
    pub reference: String,
    /// Where it rests.
    pub state: String,
    /// Its gateway.
    pub gateway: String,
    /// Its amount.
    pub amount: String,
    /// When it last moved (UTC).
    pub since: String,
}

/// Everything the dashboard shows for one period.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DashboardView {
    /// `today`, `7d` or `30d`.
    pub period: String,
    /// Payments started in the period.
    pub total: i64,
    /// Paid (or refunded) among concluded payments, 0–1.
    pub success_rate: Option<f64>,
    /// Median seconds to a final state.
    pub median_seconds: Option<i64>,
    /// 95th percentile seconds to a final state.
    pub p95_seconds: Option<i64>,
    /// Per state.
    pub by_state: Vec<StateRow>,
    /// Per gateway.
    pub by_gateway: Vec<GatewayRow>,
    /// Per hour or day.
    pub buckets: Vec<BucketRow>,
    /// How many payments are stuck now.
    pub stuck_count: i64,
    /// The oldest stuck ones.
    pub stuck: Vec<StuckRow>,
    /// Webhook delivery attempts in the period.
    pub webhook_attempts: i64,
    /// Failed ones.
    pub webhook_failures: i64,
}

/// The dashboard's numbers for `period` (`today`, `7d`, `30d`); admins only.
#[server(prefix = "/admin/api", endpoint = "dashboard")]
pub async fn admin_dashboard(period: String) -> Result<DashboardView, PageError> {
    crate::auth::require(Role::Admin)?;
    let period: Period = period
        .parse()
        .map_err(|_| PageError::bad_request("The period is one of today, 7d and 30d."))?;
    let ctx = crate::context::page_context()?;
    let d = settle::stats::dashboard::dashboard(&ctx.db, period).await.map_err(|e| {
        tracing::error!(error = %e, "admin dashboard failed");
        PageError::internal("The dashboard can't be shown right now.")
    })?;
    let money = |m: &settle::money::Money| format!("{} {}", m.currency().code(), m.display());
    let major =
        |m: &settle::money::Money| m.minor() as f64 / 10f64.powi(m.currency().exponent() as i32);
    Ok(DashboardView {
        period: period.as_str().into(),
        total: d.total,
        success_rate: d.success_rate,
        median_seconds: d.median_to_final.map(|t| t.num_seconds()),
        p95_seconds: d.p95_to_final.map(|t| t.num_seconds()),
        by_state: d
            .by_state
            .iter()
            .map(|s| StateRow {
                state: s.state.name().into(),
                code: s.state.code(),
                count: s.count,
                volume: s.volume.iter().map(money).collect(),
            })
            .collect(),
        by_gateway: d
            .by_gateway
            .iter()
            .map(|g| GatewayRow {
                gateway: g.gateway.clone(),
                count: g.count,
                paid: g.paid,
                volume: g.volume.iter().map(money).collect(),
                paid_volume: g.paid_volume.iter().map(money).collect(),
                paid_major: g
                    .paid_volume
                    .iter()
                    .map(|m| (m.currency().code().to_owned(), major(m)))
                    .collect(),
            })
            .collect(),
        buckets: d
            .buckets
            .iter()
            .map(|b| BucketRow { key: b.key.clone(), short: short_label(&b.key), counts: b.counts })
            .collect(),
        stuck_count: d.stuck_count,
        stuck: d
            .stuck
            .iter()
            .map(|s| StuckRow {
                reference: s.reference.clone(),
                state: s.state.name().into(),
                gateway: s.gateway.clone(),
                amount: money(&s.amount),
                since: s.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        webhook_attempts: d.webhook_attempts,
        webhook_failures: d.webhook_failures,
    })
}

/// `14:00` for an hour key, `06 Dec` for a day key.
fn short_label(key: &str) -> String {
    if let Some((_, hour)) = key.split_once('T') {
        return format!("{hour}:00");
    }
    chrono::NaiveDate::parse_from_str(key, "%Y-%m-%d")
        .map(|d| d.format("%d %b").to_string())
        .unwrap_or_else(|_| key.to_owned())
}

/// A duration in words a person reads at a glance (`45 s`, `12 min`, `3.5 h`).
fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "—".into(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) => format!("{:.1} h", s as f64 / 3600.0),
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.1} %", r * 100.0))
}

/// The period the query asks for (`?period=`), today when it names none or an unknown one.
fn requested_period() -> String {
    use_query_map()
        .with_untracked(|q| q.get("period"))
        .filter(|p| p.parse::<Period>().is_ok())
        .unwrap_or_else(|| Period::Today.as_str().into())
}

/// The dashboard block of the console's start page.
#[component]
pub fn Dashboard() -> impl IntoView {
    let period = requested_period();
    view! {
        <nav class="period-switch" aria-label="Period">
            {Period::ALL
                .iter()
                .map(|p| {
                    let current = (p.as_str() == period).then_some("page");
                    view! {
                        <a href=format!("/admin?period={}", p.as_str()) aria-current=current>
                            {p.label()}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        <crate::components::PageData heading="Dashboard" load=admin_dashboard(period) let:d>
            <DashboardBody d />
        </crate::components::PageData>
    }
}

#[component]
fn DashboardBody(d: DashboardView) -> impl IntoView {
    let period: Period = d.period.parse().unwrap_or(Period::Today);
    let labels = Outcome::ALL.map(Outcome::label);
    let unit = if period.hourly() { "hour" } else { "day" };
    let chart_title = format!("Payments per {unit}, {}, by outcome", period.label().to_lowercase());
    let per_bucket = charts::payments_per_bucket(&d.buckets, &labels, &chart_title)
        .inspect_err(|e| tracing::warn!(error = %e, "payments chart not drawn"))
        .ok();
    let mut currencies: Vec<String> =
        d.by_gateway.iter().flat_map(|g| g.paid_major.iter().map(|(c, _)| c.clone())).collect();
    currencies.sort();
    currencies.dedup();
    let volume_charts: Vec<String> = currencies
        .iter()
        .filter_map(|currency| {
            let rows: Vec<(&GatewayRow, f64)> = d
                .by_gateway
                .iter()
                .filter_map(|g| {
                    g.paid_major.iter().find(|(c, _)| c == currency).map(|(_, v)| (g, *v))
                })
                .collect();
            let title =
                format!("Paid volume per gateway in {currency}, {}", period.label().to_lowercase());
            charts::volume_per_gateway(currency, &rows, &title)
                .inspect_err(|e| tracing::warn!(error = %e, "volume chart not drawn"))
                .ok()
        })
        .collect();
    let webhook_rate =
        (d.webhook_attempts > 0).then(|| d.webhook_failures as f64 / d.webhook_attempts as f64);
    view! {
        <section aria-labelledby="dash-cards" class="dashboard">
            <h2 id="dash-cards" class="visually-hidden">"Key figures"</h2>
            <dl class="stats dash-cards">
                <div><dt>"Payments"</dt><dd data-stat="total">{d.total}</dd></div>
                <div><dt>"Success rate"</dt><dd data-stat="success-rate">{percent(d.success_rate)}</dd></div>
                <div><dt>"Median to final"</dt><dd data-stat="median">{duration(d.median_seconds)}</dd></div>
                <div><dt>"95th percentile to final"</dt><dd data-stat="p95">{duration(d.p95_seconds)}</dd></div>
                <div><dt>"Stuck now"</dt><dd data-stat="stuck">{d.stuck_count}</dd></div>
                <div>
                    <dt>"Webhook failures"</dt>
                    <dd data-stat="webhook-failures">{percent(webhook_rate)}</dd>
                    <small>{format!("{} of {} deliveries", d.webhook_failures, d.webhook_attempts)}</small>
                </div>
            </dl>
        </section>
        <section aria-labelledby="dash-per-bucket" class="dashboard">
            <h2 id="dash-per-bucket">{format!("Payments per {unit}")}</h2>
            {per_bucket.map(|svg| view! { <figure class="chart" inner_html=svg></figure> })}
            // A table ignores a 1 px width: the hidden wrapper holds it.
            <div class="visually-hidden">
            <table class="chart-table" id="table-per-bucket">
                <caption>{chart_title.clone()}</caption>
                <thead><tr>
                    <th scope="col">{if period.hourly() { "Hour (UTC)" } else { "Day" }}</th>
                    {labels.iter().map(|l| view! { <th scope="col">{*l}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {d.buckets.iter().map(|b| view! {
                        <tr>
                            <th scope="row">{b.key.clone()}</th>
                            {b.counts.iter().map(|c| view! { <td>{*c}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        </section>
        <section aria-labelledby="dash-states" class="dashboard">
            <h2 id="dash-states">"By state"</h2>
            <div class="table-scroll">
                <table class="list" id="table-states">
                    <thead><tr><th scope="col">"State"</th><th scope="col">"Payments"</th><th scope="col">"Volume"</th></tr></thead>
                    <tbody>
                        {d.by_state.iter().map(|s| view! {
                            <tr data-state=s.state.clone()>
                                <th scope="row">{s.state.clone()}</th>
                                <td>{s.count}</td>
                                <td>{s.volume.join(", ")}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section aria-labelledby="dash-gateways" class="dashboard">
            <h2 id="dash-gateways">"Volume per gateway"</h2>
            {volume_charts.into_iter().map(|svg| view! { <figure class="chart" inner_html=svg></figure> }).collect_view()}
            <div class="table-scroll">
                <table class="list" id="table-gateways">
                    <thead><tr>
                        <th scope="col">"Gateway"</th><th scope="col">"Payments"</th><th scope="col">"Paid"</th>
                        <th scope="col">"Volume"</th><th scope="col">"Paid volume"</th>
                    </tr></thead>
                    <tbody>
                        {d.by_gateway.iter().map(|g| view! {
                            <tr data-gateway=g.gateway.clone()>
                                <th scope="row">{g.gateway.clone()}</th>
                                <td>{g.count}</td>
                                <td>{g.paid}</td>
                                <td>{g.volume.join(", ")}</td>
                                <td>{g.paid_volume.join(", ")}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section aria-labelledby="dash-stuck" class="dashboard">
            <h2 id="dash-stuck">"Stuck payments"</h2>
            <p class="muted">"Not final and not moved for over an hour (invoices wait for their payer and don't count)."</p>
            {if d.stuck.is_empty() {
                view! { <p>"None."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="list reflow" id="table-stuck">
                            <thead><tr>
                                <th scope="col">"Payment"</th><th scope="col">"State"</th><th scope="col">"Gateway"</th>
                                <th scope="col">"Amount"</th><th scope="col">"Last moved"</th>
                            </tr></thead>
                            <tbody>
                                {d.stuck.iter().map(|s| view! {
                                    <tr>
                                        <td data-label="Payment">{s.reference.clone()}</td>
                                        <td data-label="State">{s.state.clone()}</td>
                                        <td data-label="Gateway">{s.gateway.clone()}</td>
                                        <td data-label="Amount">{s.amount.clone()}</td>
                                        <td data-label="Last moved">{s.since.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
