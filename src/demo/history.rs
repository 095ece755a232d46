//! A month of payment history, so the admin console (lists, timelines, the dashboard) looks like
//! a real one on a fresh `cargo run`: [`PAYMENTS`] payments over the last 30 days by
//! [`CUSTOMERS`] customers of their own (`CUST-0101` …), across the demo's once-off products and
//! their gateways, in every state a payment rests in.
//!
//! Deterministic: every choice (customer, product, gateway, amount, time, outcome) is arithmetic
//! on the payment's number, so two loads hold the same history relative to their `now`. Every
//! step is checked against the state machine ([`S::transition`]) and dated in the past; the rows
//! go in as a few multi-row inserts in one transaction ([`super::bulk`]), so loading stays fast
//! (every integration test loads the demo).
//!
//! Kept apart from the flows the demo customer uses: its own customers and services, only
//! once-off products (no collection day, no auto-recharge, so the billing jobs never pick them
//! up), nothing left `PROCESSING` (the ledger check would call that in doubt) and no
//! reconciliation schedule on what is left open (the sandbox never saw these payments, so asking
//! it would only time them out).

use chrono::{DateTime, Duration, Utc};

pub use super::bulk::HISTORY_DETAILS;
use super::bulk::{EventRow, PaymentRow};
use crate::customer::{Customer, CustomerCode, CustomerId};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::Merchant;
use crate::money::Money;
use crate::payment::PaymentState as S;
use crate::payment::record::{PaymentId, new_reference};
use crate::product::Product;
use crate::purchase::{LineType, NewLine, Purchase, PurchaseStatus};
use crate::service::{BillingStatus, Service};

/// How many payments the history holds.
pub const PAYMENTS: usize = 350;
/// How many customers make them.
pub const CUSTOMERS: usize = 14;
/// The first history customer's code; the others count up from it (`CUST-0101` … `CUST-0114`).
pub const FIRST_CUSTOMER_CODE: &str = "CUST-0101";

const NAMES: [&str; CUSTOMERS] = [
    "Ayanda Khumalo",
    "Pieter van der Merwe",
    "Fatima Patel",
    "Johan Botha",
    "Nomvula Zulu",
    "Rashid Al Mansoori",
    "Emily Carter",
    "Kagiso Molefe",
    "Sofia Rossi",
    "Bongani Nkosi",
    "Aisha Rahman",
    "Liam O'Brien",
    "Zanele Mthembu",
    "Hendrik Pretorius",
];

/// The once-off products the history buys, with the line type their purchases carry.
const PRODUCTS: [(&str, LineType); 4] = [
    ("MOTOR-COMP", LineType::OnceOff),
    ("SHORT-MOTOR", LineType::Day),
    (super::INVOICE_PRODUCT_CODE, LineType::OnceOff),
    (super::ORDER_PRODUCT_CODE, LineType::OnceOff),
];

/// A well-mixed number from `i` and a salt (splitmix64): the history's only source of variety.
fn mix(i: usize, salt: u64) -> u64 {
    let mut z = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(salt);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a history payment ends (or where it rests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Paid,
    PaidThenRefunded,
    Declined,
    Error,
    TimedOut,
    Cancelled,
    /// Still open: rests in the given state.
    Open(S),
}

/// The outcome of payment `i`. Open payments are today's, except invoices (they wait for days)
/// and a few stuck ones (every 50th) that the dashboard lists.
fn outcome(i: usize, invoice_gateway: bool) -> Outcome {
    let r = mix(i, 7) % 100;
    if invoice_gateway && i % 7 == 3 {
        // An invoice waits for its payer for days.
        return Outcome::Open(S::Invoiced);
    }
    if i % 50 == 17 {
        // Stuck: not final long after it started.
        return Outcome::Open(
            [S::AwaitingCustomer, S::Payment3dAuth, S::PaymentSuccess, S::Created][(i / 50) % 4],
        );
    }
    match r {
        0..=61 => Outcome::Paid,
        62..=65 => Outcome::PaidThenRefunded,
        66..=76 => Outcome::Declined,
        77..=79 => Outcome::Error,
        80..=85 => Outcome::TimedOut,
        86..=92 => Outcome::Cancelled,
        // An invoice waits for its payer for days: some still do.
        _ if invoice_gateway && i.is_multiple_of(2) => Outcome::Open(S::Invoiced),
        // Only today's payments are still under way.
        _ if i >= 12 => Outcome::TimedOut,
        _ => Outcome::Open([S::Created, S::AwaitingCustomer, S::Payment3dAuth][i % 3]),
    }
}

/// When payment `i` was created: spread over 30 days, the first dozen earlier today (from an hour
/// after midnight on) so "today" on the dashboard is rarely empty.
fn created_at(i: usize, now: DateTime<Utc>) -> DateTime<Utc> {
    if i < 12 {
        // Over an hour old, so a ledger check of the last hour (the tests') never meets them.
        let midnight = now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now);
        let span = (now - midnight).num_seconds().clamp(4200, 6 * 3600) - 3900;
        return now - Duration::seconds(3900 + span * (i as i64 + 1) / 13);
    }
    let seconds = 30 * 24 * 3600;
    now - Duration::seconds(3900 + (mix(i, 1) % (seconds - 3900) as u64) as i64)
}

/// The unit price and quantity of payment `i` for a product (amounts vary the way they do).
fn price(i: usize, product: &Product) -> Result<(Money, i64)> {
    let currency = product.unit_price.currency();
    let spread = (mix(i, 3) % 1000) as i64;
    Ok(match product.code.as_str() {
        "SHORT-MOTOR" => (product.unit_price, 1 + (mix(i, 4) % 14) as i64),
        "MOTOR-COMP" => (Money::from_minor(product.unit_price.minor() + spread * 150, currency), 1),
        "MEMBERSHIP" => (Money::from_minor(990 + spread * 9, currency), 1),
        _ => (Money::from_minor(9_900 + spread * 240, currency), 1),
    })
}

/// Loads the history for the demo merchant. Run once, by [`super::load`].
pub async fn create(db: &Db, merchant: &Merchant) -> Result<()> {
    let now = Utc::now();
    let mut products = Vec::new();
    for (code, line_type) in PRODUCTS {
        let product = Product::find_for_merchant(db, &merchant.id, code)
            .await?
            .ok_or(Error::NotFound("product"))?;
        let gateways = crate::gateway::Gateway::for_product(db, &product.id).await?;
        products.push((product, line_type, gateways));
    }
    // Each customer buys two of the products, through a service of their own.
    let (mut customers, mut services) = (Vec::new(), Vec::new());
    for (n, name) in NAMES.iter().enumerate() {
        let customer = Customer {
            id: CustomerId::generate(),
            merchant_id: Some(merchant.id.clone()),
            code: CustomerCode::parse(&format!("CUST-{:04}", 101 + n))?.as_str().to_owned(),
            name: (*name).to_owned(),
            email: Some(format!("{}@example.test", name.to_lowercase().replace([' ', '\''], "."))),
            phone: None,
            created_at: now - Duration::days(31),
        };
        for k in [n % 4, (n + 1 + (n / 4) % 3) % 4] {
            let product = &products[k].0;
            let reference = format!("HIST/{:04}/{}", 101 + n, product.code);
            let mut service = Service::new(
                reference,
                product,
                customer.id.clone(),
                "Active",
                BillingStatus::PaidUp,
            );
            service.created_at = customer.created_at;
            service.updated_at = customer.created_at;
            services.push((service, k));
        }
        customers.push(customer);
    }
    let (mut purchases, mut payments, mut events) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..PAYMENTS {
        let (service, k) = &services[(i % CUSTOMERS) * 2 + mix(i, 2) as usize % 2];
        let (product, line_type, gateways) = &products[*k];
        let Some(gateway) = gateways.get(mix(i, 5) as usize % gateways.len().max(1)) else {
            continue;
        };
        let at = created_at(i, now);
        let (unit_price, quantity) = price(i, product)?;
        let lines = Purchase::price_lines(vec![NewLine {
            line_type: *line_type,
            description: format!("{} ({quantity})", product.name),
            quantity,
            unit_price,
            period_per_quantity: 1,
            tax_rate: product.tax_rate,
        }])?;
        // A reference of its own shape (`…-h` and a count), so it never meets a drawn one.
        let reference = format!("{}{}-h{i:04}", product.code, chrono::Datelike::year(&at));
        let mut purchase = Purchase::new(service, reference, PurchaseStatus::Open, at, lines)?;
        purchase.created_at = at;
        let outcome = outcome(i, gateway.id == "invoice");
        let mut payment = PaymentRow {
            id: PaymentId::generate(),
            reference: new_reference(),
            purchase_id: purchase.id.clone(),
            merchant_id: merchant.id.clone(),
            gateway_id: gateway.id.clone(),
            state: S::Created,
            amount: purchase.amounts.gross(),
            gateway_reference: None,
            card: None,
            failure_reason: None,
            created_at: at,
            updated_at: at,
        };
        let steps = path(i, &gateway.id, outcome)?;
        let total = time_to_final(i);
        let mut from = None;
        for (share, step) in steps {
            let when = (at + Duration::seconds(total * share / 10)).min(now);
            events.push(EventRow {
                payment_id: payment.id.clone(),
                from,
                to: step.to,
                cause: step.cause,
                gateway_reference: step.gateway_reference.clone(),
                at: when,
            });
            if let Some(f) = from {
                f.transition(step.to)?;
            }
            from = Some(step.to);
            payment.state = step.to;
            payment.updated_at = when;
            payment.gateway_reference = step.gateway_reference.or(payment.gateway_reference);
            payment.failure_reason = step.failure_reason.or(payment.failure_reason);
            if step.to == S::PaymentSuccess {
                purchase.status = PurchaseStatus::Paid;
                purchase.paid_at = Some(when);
                if gateway.id.contains("card") || gateway.id.starts_with("sagepay") {
                    payment.card = Some(format!("{:04}", mix(i, 9) % 10_000));
                }
            }
        }
        if matches!(
            outcome,
            Outcome::Declined | Outcome::Error | Outcome::TimedOut | Outcome::Cancelled
        ) {
            // The customer gave up on it: nothing is owed any more.
            purchase.status = PurchaseStatus::Cancelled;
        }
        if outcome == Outcome::PaidThenRefunded {
            let later = (at + Duration::days(1 + (mix(i, 10) % 4) as i64)).min(now);
            S::PolicyConverted.transition(S::Refunded)?;
            events.push(EventRow {
                payment_id: payment.id.clone(),
                from: Some(payment.state),
                to: S::Refunded,
                cause: "Refunded at the customer's request".into(),
                gateway_reference: payment.gateway_reference.clone(),
                at: later,
            });
            payment.state = S::Refunded;
            payment.updated_at = later;
        }
        purchases.push(purchase);
        payments.push(payment);
    }
    let mut tx = db.begin().await?;
    let own: Vec<Service> = services.into_iter().map(|(s, _)| s).collect();
    super::bulk::insert_customers(&mut tx, &customers, &own).await?;
    super::bulk::insert(&mut tx, &purchases, &payments, &events).await?;
    tx.commit().await
}

/// One step of a payment's life.
struct Step {
    to: S,
    cause: String,
    gateway_reference: Option<String>,
    failure_reason: Option<String>,
}

fn step(to: S, cause: &str) -> Step {
    Step { to, cause: cause.into(), gateway_reference: None, failure_reason: None }
}

/// How long payment `i` takes to its final state: seconds for most, minutes on a hosted page,
/// hours at worst.
fn time_to_final(i: usize) -> i64 {
    match mix(i, 6) % 10 {
        0..=5 => 5 + (mix(i, 8) % 90) as i64,
        6..=8 => 120 + (mix(i, 8) % 1500) as i64,
        _ => 3600 + (mix(i, 8) % 20_000) as i64,
    }
}

/// The steps of payment `i` through `gateway` to `outcome`, each with its share (in tenths) of
/// the way from the start to the final state.
fn path(i: usize, gateway: &str, outcome: Outcome) -> Result<Vec<(i64, Step)>> {
    let card = gateway.contains("card") || gateway.starts_with("sagepay");
    let first = if gateway == "invoice" {
        S::Invoiced
    } else if card {
        S::Payment3dAuth
    } else {
        S::AwaitingCustomer
    };
    let reference = format!("hist-{i:04}");
    let paid = || Step {
        gateway_reference: Some(reference.clone()),
        ..step(S::PaymentSuccess, "Paid: the gateway confirmed the charge")
    };
    let mut steps = vec![(0, step(S::Created, "Payment started"))];
    match outcome {
        Outcome::Open(S::Created) => return Ok(steps),
        Outcome::Open(S::PaymentSuccess) => {
            steps.push((2, step(first, "Sent to the gateway")));
            steps.push((8, paid()));
            return Ok(steps);
        }
        Outcome::Open(state) => {
            steps.push((3, step(state, "Sent to the gateway")));
            return Ok(steps);
        }
        Outcome::Cancelled if first != S::Invoiced && i.is_multiple_of(2) => {
            steps.push((10, step(S::Cancelled, "Cancelled before sending")));
            return Ok(steps);
        }
        _ => {}
    }
    steps.push((2, step(first, "Sent to the gateway")));
    let end = match outcome {
        // An invoice is not declined: it goes unpaid until it times out.
        Outcome::Declined | Outcome::Error if first == S::Invoiced => {
            step(S::TimedOut, "The invoice went unpaid")
        }
        Outcome::Declined => Step {
            failure_reason: Some("Declined by the issuer".into()),
            ..step(S::PaymentFailed, "The gateway declined the payment")
        },
        Outcome::Error => Step {
            failure_reason: Some("The gateway could not process the payment".into()),
            ..step(S::TerminalError, "The gateway reported an error")
        },
        Outcome::TimedOut => step(S::TimedOut, "No answer in time"),
        Outcome::Cancelled => step(S::Cancelled, "Cancelled by the customer"),
        _ => {
            if first != S::Invoiced {
                // The charge went through the gateway's processing step before it was confirmed.
                steps.push((4, step(S::Processing, "Customer completed the gateway's page")));
            }
            steps.push((7, paid()));
            steps.push((9, step(S::ConvertingPolicy, "Activating the service")));
            step(S::PolicyConverted, "Service active")
        }
    };
    steps.push((10, end));
    Ok(steps)
}
