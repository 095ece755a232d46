//! `/admin/ledger`: the ledger check as a page. The gateways' charges of the last 30 days are
//! compared with Settle's payments: money at a gateway that no successful payment accounts for,
//! purchases charged twice, paid payments no charge backs, and attempts still in doubt, each
//! with the action that settles it ("Refund", or asking the gateway now).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use settle::account::Role;

use super::payment_actions::{payment_href, reconcile_href, refund_href, stray_href};
use crate::PageError;
use crate::components::PageData;
use crate::layout::Layout;

/// How far back the page compares.
pub const DAYS: i64 = 30;

/// How long an attempt may stay unsettled before the page lists it as in doubt.
pub const IN_DOUBT_AFTER_SECS: u64 = 10 * 60;

/// Money at a gateway that no successful payment accounts for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StrayLine {
    /// The gateway.
    pub gateway: String,
    /// Its id for the charge.
    pub charge: String,
    /// Settle's payment reference it was charged under.
    pub reference: String,
    /// Taken and not given back.
    pub held: String,
    /// Settle's state for that payment, in words.
    pub state: String,
    /// A refund is on its way.
    pub refund_pending: bool,
    /// Where to refund it (none while a refund is on its way, or without a Settle payment).
    pub refund: Option<String>,
}

/// One payment of a purchase charged more than once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChargedPayment {
    /// Its reference.
    pub reference: String,
    /// Its state in words.
    pub state: String,
    /// Where to refund it.
    pub refund: String,
}

/// A payment without a charge, or an attempt in doubt.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaymentLine {
    /// Its reference.
    pub reference: String,
    /// Its state (name).
    pub state: String,
    /// Its gateway, or since when it is in doubt.
    pub detail: String,
}

/// The check as the page shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LedgerView {
    /// Gateways compared.
    pub checked: Vec<String>,
    /// Gateways that could not be asked, with why.
    pub unreachable: Vec<(String, String)>,
    /// Charges the gateways reported.
    pub charges: usize,
    /// Money without a successful payment.
    pub strays: Vec<StrayLine>,
    /// Purchases charged more than once: their payments.
    pub doubles: Vec<(String, Vec<ChargedPayment>)>,
    /// Paid payments no gateway charge backs.
    pub unbacked: Vec<PaymentLine>,
    /// Attempts possibly charged and not settled.
    pub in_doubt: Vec<PaymentLine>,
}

/// Runs the ledger check, for admins.
#[server(prefix = "/admin/api", endpoint = "ledger_check")]
pub async fn run_ledger_check() -> Result<LedgerView, PageError> {
    use settle::ledger::Finding;
    use settle::payment::Payment;

    crate::auth::require(Role::Admin)?;
    let ctx = crate::context::page_context()?;
    let since = chrono::Utc::now() - chrono::Duration::days(DAYS);
    let report = settle::ledger::check(
        &ctx.payments,
        since,
        std::time::Duration::from_secs(IN_DOUBT_AFTER_SECS),
    )
    .await
    .map_err(PageError::logged("the ledger check"))?;
    let mut view = LedgerView {
        checked: report.gateways_checked,
        unreachable: report.gateways_unreachable,
        charges: report.charges,
        strays: Vec::new(),
        doubles: Vec::new(),
        unbacked: Vec::new(),
        in_doubt: Vec::new(),
    };
    for finding in report.findings {
        match finding {
            Finding::ChargeWithoutPayment {
                gateway,
                gateway_reference,
                payment_reference,
                net,
                state,
                refund_pending,
            } => view.strays.push(StrayLine {
                refund: (state.is_some() && !refund_pending)
                    .then(|| stray_href(&payment_reference)),
                gateway,
                charge: gateway_reference,
                held: net.to_string(),
                state: state.map_or_else(
                    || "no such payment in Settle".to_owned(),
                    |s| s.label().to_owned(),
                ),
                refund_pending,
                reference: payment_reference,
            }),
            Finding::DoubleCharge { purchase_id, payments } => {
                let mut charged = Vec::new();
                for reference in payments {
                    let payment = Payment::find_by_reference(&ctx.db, &reference)
                        .await
                        .map_err(PageError::logged("loading a doubly charged payment"))?;
                    let (state, refund) = match payment {
                        Some(p) if p.state.is_success() => {
                            (p.state.label().to_owned(), refund_href(&reference))
                        }
                        Some(p) => (p.state.label().to_owned(), stray_href(&reference)),
                        None => ("no such payment in Settle".to_owned(), stray_href(&reference)),
                    };
                    charged.push(ChargedPayment { reference, state, refund });
                }
                view.doubles.push((purchase_id.to_string(), charged));
            }
            Finding::PaymentWithoutCharge { payment_reference, gateway, state } => {
                view.unbacked.push(PaymentLine {
                    reference: payment_reference,
                    state: state.name().to_owned(),
                    detail: gateway,
                })
            }
            Finding::InDoubt { payment_reference, state, since } => {
                view.in_doubt.push(PaymentLine {
                    reference: payment_reference,
                    state: state.name().to_owned(),
                    detail: crate::format::date_time(since),
                })
            }
        }
    }
    Ok(view)
}

/// The ledger page.
#[component]
pub fn LedgerPage() -> impl IntoView {
    view! {
        <Layout title="Ledger".into()>
            <h1>"Ledger"</h1>
            <p class="muted">{format!("The gateways' charges of the last {DAYS} days compared with Settle's payments.")}</p>
            <PageData heading="Ledger" load=run_ledger_check() let:view>
                <LedgerBody view />
            </PageData>
        </Layout>
    }
}

#[component]
fn LedgerBody(view: LedgerView) -> impl IntoView {
    let clean = view.strays.is_empty()
        && view.doubles.is_empty()
        && view.unbacked.is_empty()
        && view.in_doubt.is_empty()
        && view.unreachable.is_empty();
    let summary = format!(
        "{} charges at {} gateways compared ({}).",
        view.charges,
        view.checked.len(),
        view.checked.join(", ")
    );
    let unreachable = (!view.unreachable.is_empty()).then(|| {
        let items = view
            .unreachable
            .iter()
            .map(|(g, why)| view! { <li><strong>{g.clone()}</strong> ": " {why.clone()}</li> })
            .collect_view();
        view! { <div class="flash error"><p>"These gateways could not be asked:"</p><ul>{items}</ul></div> }
    });
    view! {
        <p>{summary}</p>
        {clean.then(|| view! { <p class="flash success">"The gateways and Settle agree: nothing to look at."</p> })}
        {unreachable}
        <StrayTable strays=view.strays />
        <DoubleTable doubles=view.doubles />
        <PaymentTable
            heading="Paid payments no charge backs"
            explain="Settle counts these as paid, but their gateway lists no charge."
            lines=view.unbacked
            second="Gateway"
        />
        <PaymentTable
            heading="Attempts in doubt"
            explain="Possibly charged and not settled yet: only the gateway's answer settles them."
            lines=view.in_doubt
            second="Unsettled since"
        />
    }
}

#[component]
fn StrayTable(strays: Vec<StrayLine>) -> impl IntoView {
    (!strays.is_empty()).then(|| {
        let rows = strays
            .into_iter()
            .map(|s| {
                let action = match (s.refund, s.refund_pending) {
                    (Some(href), _) => view! { <a class="button small" href=href>"Refund"</a> }.into_any(),
                    (None, true) => view! { <span class="tag notice">"Refund on its way"</span> }.into_any(),
                    (None, false) => view! { <span class="muted">"Refund at the gateway"</span> }.into_any(),
                };
                view! {
                    <tr>
                        <td><a href=payment_href(&s.reference)><code class="reference">{s.reference.clone()}</code></a></td>
                        <td>{s.gateway}<br /><small><code>{s.charge}</code></small></td>
                        <td>{s.held}</td>
                        <td>{s.state}</td>
                        <td>{action}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="ledger-section">
                <h2>"Charges without a successful payment"</h2>
                <p class="muted">"Money a gateway holds for an attempt that is not its purchase's payment."</p>
                <div class="table-scroll">
                    <table class="list ledger strays">
                        <thead><tr><th scope="col">"Payment"</th><th scope="col">"Gateway and charge"</th><th scope="col">"Held"</th><th scope="col">"Settle's state"</th><th scope="col">"Action"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
    })
}

#[component]
fn DoubleTable(doubles: Vec<(String, Vec<ChargedPayment>)>) -> impl IntoView {
    (!doubles.is_empty()).then(|| {
        let rows = doubles
            .into_iter()
            .map(|(purchase, payments)| {
                let items = payments
                    .into_iter()
                    .map(|p| view! {
                        <li>
                            <a href=payment_href(&p.reference)><code class="reference">{p.reference.clone()}</code></a>
                            " " {p.state} " "
                            <a class="button small secondary" href=p.refund>"Refund"</a>
                        </li>
                    })
                    .collect_view();
                view! { <tr><td><code>{purchase}</code></td><td><ul class="plain">{items}</ul></td></tr> }
            })
            .collect_view();
        view! {
            <section class="ledger-section">
                <h2>"Double charges"</h2>
                <p class="muted">"Purchases with more than one charge that wasn't given back."</p>
                <div class="table-scroll">
                    <table class="list ledger doubles">
                        <thead><tr><th scope="col">"Purchase"</th><th scope="col">"Payments charged"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
    })
}

#[component]
fn PaymentTable(
    heading: &'static str,
    explain: &'static str,
    lines: Vec<PaymentLine>,
    second: &'static str,
) -> impl IntoView {
    (!lines.is_empty()).then(|| {
        let rows = lines
            .into_iter()
            .map(|l| view! {
                <tr>
                    <td><a href=payment_href(&l.reference)><code class="reference">{l.reference.clone()}</code></a></td>
                    <td><code>{l.state}</code></td>
                    <td>{l.detail}</td>
                    <td><a class="button small secondary" href=reconcile_href(&l.reference)>"Ask the gateway now"</a></td>
                </tr>
            })
            .collect_view();
        view! {
            <section class="ledger-section">
                <h2>{heading}</h2>
                <p class="muted">{explain}</p>
                <div class="table-scroll">
                    <table class="list ledger">
                        <thead><tr><th scope="col">"Payment"</th><th scope="col">"State"</th><th scope="col">{second}</th><th scope="col">"Action"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
    })
}
