//! The background work this server runs through the durable job table, and the handlers for it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use settle::job::{Job, JobFailure, JobHandler, Runner};
use settle::payment::Orchestrator;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Gives back money that reached an attempt which lost (the durable refund job).
struct Refund(Orchestrator);

#[async_trait]
impl JobHandler for Refund {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: settle::payment::refund::RefundJob = payload(job)?;
        self.0.process_refund(&payload.refund_id).await.map(|_| ()).map_err(JobFailure::from)
    }
}

/// Writes the customer's policy email and SMS.
struct CustomerMessages(settle::Db);

#[async_trait]
impl JobHandler for CustomerMessages {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: settle::notify::PaymentJob = payload(job)?;
        settle::notify::write_customer_messages(&self.0, &payload.payment_id)
            .await
            .map(|_| ())
            .map_err(JobFailure::from)
    }
}

/// Writes the customer's invoice notice (how much, to whom, the reference to quote).
struct InvoiceNotice(settle::Db);

#[async_trait]
impl JobHandler for InvoiceNotice {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: settle::notify::PaymentJob = payload(job)?;
        settle::notify::write_invoice_notice(&self.0, &payload.payment_id)
            .await
            .map(|_| ())
            .map_err(JobFailure::from)
    }
}

/// A job's payload; one that doesn't parse will never run, so it fails for good.
fn payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobFailure> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobFailure::Permanent(format!("bad payload: {e}")))
}

/// Posts the merchant's webhook; retried with backoff until the merchant answers 2xx.
struct MerchantWebhook(settle::Db, reqwest::Client);

#[async_trait]
impl JobHandler for MerchantWebhook {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: settle::notify::PaymentJob = payload(job)?;
        match settle::notify::deliver_webhook(&self.0, &self.1, &payload.payment_id).await {
            Ok(_) => Ok(()),
            Err(e) => Err(JobFailure::Retry(e.to_string())),
        }
    }
}

/// Starts this instance's job runner and reconciliation sweep; several instances may run one
/// each on PostgreSQL.
pub fn spawn_runner(
    config: &Config,
    payments: Orchestrator,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let sweep = spawn_reconciliation(
        payments.clone(),
        Duration::from_secs(config.reconcile_interval_seconds),
        shutdown.clone(),
    );
    let worker = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
    let db = payments.db().clone();
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    let runner = Runner::new(db.clone(), worker)
        .handle(settle::notify::CUSTOMER_JOB, Arc::new(CustomerMessages(db.clone())))
        .handle(settle::notify::INVOICE_JOB, Arc::new(InvoiceNotice(db.clone())))
        .handle(settle::notify::WEBHOOK_JOB, Arc::new(MerchantWebhook(db, client)))
        .handle(settle::payment::refund::REFUND_JOB, Arc::new(Refund(payments)))
        .spawn(shutdown);
    tokio::spawn(async move {
        let _ = tokio::join!(runner, sweep);
    })
}

/// Asks gateways about unsettled payments as they fall due (seed 000's "background process
/// catches payments that have been missed"). What is due lives in the payments themselves
/// (`settle_by`), so nothing is lost across restarts; each pass claims its payments, so
/// instances sharing a database never ask about one payment twice at once.
fn spawn_reconciliation(
    payments: Orchestrator,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            // A full batch means more are due: keep going without waiting for the next tick.
            loop {
                match payments.reconcile().await {
                    Ok(report) if report.examined as i64 >= payments.reconcile_policy().batch => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "reconciliation sweep failed; will try again");
                        break;
                    }
                }
            }
        }
    })
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "settle".into())
}
