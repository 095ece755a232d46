//! The ledger check: what the gateways say they charged, compared with what Settle recorded.
//! Every difference is listed: money at a gateway that no successful payment accounts for, a
//! purchase charged twice, a payment Settle counts as paid that no charge backs, and attempts
//! still in doubt. Tests run it after crashes and faults; the admin console shows it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::connector::{ConnectorError, GatewayCharge};
use crate::error::Result;
use crate::money::Money;
use crate::payment::refund::{Refund, RefundStatus};
use crate::payment::{Orchestrator, Payment, PaymentState};
use crate::purchase::PurchaseId;
use crate::with_db;

/// One difference between a gateway and Settle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Money held at a gateway that no successful payment accounts for.
    ChargeWithoutPayment {
        /// The gateway.
        gateway: String,
        /// Its id for the charge.
        gateway_reference: String,
        /// The payment reference it was charged under.
        payment_reference: String,
        /// Taken and not given back.
        net: Money,
        /// Settle's state for that payment (`None`: Settle has no such payment).
        state: Option<PaymentState>,
        /// A refund for it is on its way.
        refund_pending: bool,
    },
    /// A purchase with more than one charge that wasn't given back.
    DoubleCharge {
        /// The purchase.
        purchase_id: PurchaseId,
        /// The payment references charged.
        payments: Vec<String>,
    },
    /// A payment Settle counts as paid that no gateway charge backs.
    PaymentWithoutCharge {
        /// The payment.
        payment_reference: String,
        /// Its gateway.
        gateway: String,
        /// Its state.
        state: PaymentState,
    },
    /// An attempt that may have been charged and is still not settled.
    InDoubt {
        /// The payment.
        payment_reference: String,
        /// Its state.
        state: PaymentState,
        /// Since when.
        since: DateTime<Utc>,
    },
}

/// The result of one check.
#[derive(Clone, Debug, Default)]
pub struct LedgerReport {
    /// Gateways whose charges were compared.
    pub gateways_checked: Vec<String>,
    /// Gateways that could not be asked, with why.
    pub gateways_unreachable: Vec<(String, String)>,
    /// Charges the gateways reported.
    pub charges: usize,
    /// Every difference found.
    pub findings: Vec<Finding>,
}

impl LedgerReport {
    /// Whether the gateways and Settle agree entirely.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.gateways_unreachable.is_empty()
    }
}

/// Compares every gateway's charges since `since` with Settle's payments; attempts possibly
/// charged and unsettled for longer than `in_doubt_after` are listed too.
pub async fn check(
    payments: &Orchestrator,
    since: DateTime<Utc>,
    in_doubt_after: Duration,
) -> Result<LedgerReport> {
    let db = payments.db();
    let mut report = LedgerReport::default();
    // purchase → references of its payments that hold money
    let mut charged: HashMap<PurchaseId, Vec<String>> = HashMap::new();
    let mut backed: std::collections::HashSet<String> = std::collections::HashSet::new();
    let listed = charges(payments, since).await?;
    report.gateways_checked = listed.checked;
    report.gateways_unreachable = listed.unreachable;
    report.charges = listed.charges.len();
    for (gateway, charge) in listed.charges {
        let payment = Payment::find_by_reference(db, &charge.payment_reference).await?;
        let net = charge.captured.checked_sub(charge.refunded).unwrap_or(charge.captured);
        if let Some(p) = &payment {
            backed.insert(p.reference.clone());
        }
        if net.minor() <= 0 {
            continue;
        }
        match &payment {
            Some(p) if p.state.is_success() => {
                charged.entry(p.purchase_id.clone()).or_default().push(p.reference.clone());
            }
            other => {
                let refund_pending = match other {
                    Some(p) => Refund::for_payment(db, &p.id)
                        .await?
                        .iter()
                        .any(|r| r.status == RefundStatus::Pending),
                    None => false,
                };
                if let Some(p) = other {
                    charged.entry(p.purchase_id.clone()).or_default().push(p.reference.clone());
                }
                report.findings.push(Finding::ChargeWithoutPayment {
                    gateway: gateway.clone(),
                    gateway_reference: charge.gateway_reference.clone(),
                    payment_reference: charge.payment_reference.clone(),
                    net,
                    state: other.as_ref().map(|p| p.state),
                    refund_pending,
                });
            }
        }
    }
    for (purchase_id, mut references) in charged {
        if references.len() > 1 {
            references.sort();
            report.findings.push(Finding::DoubleCharge { purchase_id, payments: references });
        }
    }
    for payment in paid_since(db, since).await? {
        let through_checked = report.gateways_checked.contains(&payment.gateway_id);
        if through_checked && !payment.amount.is_zero() && !backed.contains(&payment.reference) {
            report.findings.push(Finding::PaymentWithoutCharge {
                payment_reference: payment.reference,
                gateway: payment.gateway_id,
                state: payment.state,
            });
        }
    }
    let cutoff = Utc::now() - chrono::Duration::from_std(in_doubt_after).unwrap_or_default();
    for (reference, state, since) in in_doubt(db, cutoff).await? {
        report.findings.push(Finding::InDoubt { payment_reference: reference, state, since });
    }
    Ok(report)
}

/// What the gateways report charged since a time, each charge once.
#[derive(Clone, Debug, Default)]
pub struct GatewayCharges {
    /// Each charge with the gateway that reported it first.
    pub charges: Vec<(String, GatewayCharge)>,
    /// Gateways whose charges were listed.
    pub checked: Vec<String>,
    /// Gateways that could not be asked, with why.
    pub unreachable: Vec<(String, String)>,
}

/// Every gateway's charges since `since`. Gateways that share a provider's account (one
/// provider's card and wallet gateways, or the sandbox serving several providers) list the same
/// charges: a charge is the same charge whichever gateway lists it, by its id and Settle's
/// payment reference.
pub async fn charges(payments: &Orchestrator, since: DateTime<Utc>) -> Result<GatewayCharges> {
    let mut listed = GatewayCharges::default();
    let mut seen = std::collections::HashSet::new();
    for gateway in crate::gateway::Gateway::list(payments.db()).await? {
        let Ok(connector) = payments.connector(&gateway.id) else { continue };
        match connector.charges(since).await {
            Ok(charges) => {
                listed.checked.push(gateway.id.clone());
                for charge in charges {
                    let key = (charge.gateway_reference.clone(), charge.payment_reference.clone());
                    if seen.insert(key) {
                        listed.charges.push((gateway.id.clone(), charge));
                    }
                }
            }
            Err(ConnectorError::Unsupported(_)) => {}
            Err(e) => listed.unreachable.push((gateway.id.clone(), e.to_string())),
        }
    }
    Ok(listed)
}

/// Payments created since `since` that Settle counts as paid.
async fn paid_since(db: &crate::Db, since: DateTime<Utc>) -> Result<Vec<Payment>> {
    // The demo's made-up history never reached a gateway: it is no money to account for.
    let sql = "SELECT reference FROM payments \
               WHERE created_at >= $1 AND state IN (6, 10, 11) AND details <> $2";
    let references: Vec<String> = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(since)
        .bind(crate::demo::history::HISTORY_DETAILS)
        .fetch_all(pool)
        .await)?;
    let mut out = Vec::new();
    for reference in references {
        if let Some(p) = Payment::find_by_reference(db, &reference).await? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Attempts possibly charged (`PROCESSING`) since before `cutoff`.
async fn in_doubt(
    db: &crate::Db,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, PaymentState, DateTime<Utc>)>> {
    let sql = "SELECT reference, state, updated_at FROM payments WHERE state IN (1, 2, 3, 5) AND updated_at < $1 AND state = 3";
    let rows: Vec<(String, i64, DateTime<Utc>)> =
        with_db!(db, pool => sqlx::query_as(sql).bind(cutoff).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(r, s, t)| {
            let state = i16::try_from(s).ok().and_then(PaymentState::from_code)?;
            Some((r, state, t))
        })
        .collect())
}
