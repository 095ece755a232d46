//! The business series the core records through the `metrics` facade, each at the one place its
//! event happens (a payment's final state in `payment::transition`, gateway calls in
//! `connector::http`, reconciliation sweeps, webhook attempts). Without a recorder installed
//! (the core's own tests, the command line) every call here is a no-op; the server installs a
//! Prometheus recorder and serves it at `/metrics`.
//!
//! Labels are bounded: gateway keys (configured by operators), state names, fixed outcome words.

use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

use crate::connector::ConnectorError;
use crate::payment::PaymentState;

/// Payments that reached a final state, by `gateway` and `state`.
pub const PAYMENTS_FINAL: &str = "settle_payments_final_total";
/// Seconds from a payment's creation to its first final state, by `gateway` and `state`.
pub const TIME_TO_FINAL: &str = "settle_payment_time_to_final_seconds";
/// Seconds each gateway request took, by `gateway` and `outcome` (`ok` or an error word).
pub const GATEWAY_CALL: &str = "settle_gateway_call_duration_seconds";
/// Gateway requests that failed, by `gateway` and `error`.
pub const GATEWAY_ERRORS: &str = "settle_gateway_call_errors_total";
/// Reconciliation sweeps run.
pub const RECONCILE_SWEEPS: &str = "settle_reconcile_sweeps_total";
/// Payments reconciliation looked at, by `result` (`settled`, `timed_out`, `deferred`).
pub const RECONCILE_PAYMENTS: &str = "settle_reconcile_payments_total";
/// Merchant webhook delivery attempts, by `outcome` (`success`, `fail`, `no_response`).
pub const WEBHOOK_DELIVERIES: &str = "settle_webhook_deliveries_total";
/// Jobs due and waiting for a worker (read at scrape time).
pub const JOB_QUEUE_DEPTH: &str = "settle_job_queue_depth";
/// Seconds the longest-waiting due job has waited (0 when none waits; read at scrape time).
pub const JOB_QUEUE_AGE: &str = "settle_job_queue_oldest_age_seconds";

/// Upper bounds of [`TIME_TO_FINAL`]'s buckets: a card settles in seconds, a hosted page in
/// minutes, a bank collection or a given-up checkout in hours.
pub const TIME_TO_FINAL_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0,
    86400.0,
];

/// Says what each series means (shown as `# HELP` lines); the server calls it once.
pub fn describe() {
    describe_counter!(PAYMENTS_FINAL, "Payments that reached a final state, by gateway and state");
    describe_histogram!(
        TIME_TO_FINAL,
        Unit::Seconds,
        "Time from a payment's creation to its first final state, by gateway and state"
    );
    describe_histogram!(GATEWAY_CALL, Unit::Seconds, "Gateway request latency, by outcome");
    describe_counter!(GATEWAY_ERRORS, "Gateway requests that failed, by error");
    describe_counter!(RECONCILE_SWEEPS, "Reconciliation sweeps run");
    describe_counter!(RECONCILE_PAYMENTS, "Payments reconciliation looked at, by result");
    describe_counter!(WEBHOOK_DELIVERIES, "Merchant webhook delivery attempts, by outcome");
    describe_gauge!(JOB_QUEUE_DEPTH, "Jobs due and waiting for a worker");
    describe_gauge!(JOB_QUEUE_AGE, Unit::Seconds, "How long the oldest due job has waited");
}

/// A payment of `gateway` created at `created_at` moved from `from` to the final state `to`.
/// Recorded inside the transition's transaction, so a rollback after it (rare) over-counts one.
pub(crate) fn payment_final(
    gateway: &str,
    created_at: DateTime<Utc>,
    from: PaymentState,
    to: PaymentState,
) {
    let labels = [("gateway", gateway.to_owned()), ("state", to.name().to_owned())];
    counter!(PAYMENTS_FINAL, &labels).increment(1);
    // A refund after a conversion is a second final state: counted, but not timed again.
    if !from.is_final() {
        let took = (Utc::now() - created_at).to_std().unwrap_or_default();
        histogram!(TIME_TO_FINAL, &labels).record(took.as_secs_f64());
    }
}

/// One request to `gateway` took `took` and ended with `outcome`.
pub(crate) fn gateway_call<T>(gateway: &str, took: Duration, outcome: &Result<T, ConnectorError>) {
    let word = match outcome {
        Ok(_) => "ok",
        Err(ConnectorError::Unsupported(_)) => "unsupported",
        Err(ConnectorError::Unreachable(_)) => "unreachable",
        Err(ConnectorError::Unavailable(_)) => "unavailable",
        Err(ConnectorError::Timeout(_)) => "timeout",
        Err(ConnectorError::Refused { .. }) => "refused",
        Err(ConnectorError::BadResponse(_)) => "bad_response",
        Err(ConnectorError::BadSignature(_)) => "bad_signature",
    };
    let gateway = gateway.to_owned();
    histogram!(GATEWAY_CALL, "gateway" => gateway.clone(), "outcome" => word)
        .record(took.as_secs_f64());
    if outcome.is_err() {
        counter!(GATEWAY_ERRORS, "gateway" => gateway, "error" => word).increment(1);
    }
}

/// One reconciliation sweep's counts (each result's series exists from the first sweep on).
pub(crate) fn reconcile_sweep(settled: usize, timed_out: usize, deferred: usize) {
    counter!(RECONCILE_SWEEPS).increment(1);
    for (result, n) in [("settled", settled), ("timed_out", timed_out), ("deferred", deferred)] {
        counter!(RECONCILE_PAYMENTS, "result" => result).increment(n as u64);
    }
}

/// One merchant webhook attempt ended with `outcome`.
pub(crate) fn webhook_delivery(outcome: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

/// The job queue as it stands: `depth` due jobs waiting, the oldest due since `oldest`.
pub fn job_queue(depth: i64, oldest: Option<DateTime<Utc>>) {
    gauge!(JOB_QUEUE_DEPTH).set(depth as f64);
    let age = oldest.map(|t| (Utc::now() - t).to_std().unwrap_or_default());
    gauge!(JOB_QUEUE_AGE).set(age.unwrap_or_default().as_secs_f64());
}
