//! The background work this server runs through the durable job table, and the handlers for it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use settle::job::{Job, JobFailure, JobHandler, Runner};
use settle::payment::Orchestrator;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Job kind of the reconciliation sweep.
pub const RECONCILE: &str = "payments.reconcile";

/// Asks gateways about unsettled payments (seed 000's "background process catches payments that
/// have been missed").
struct Reconcile(Orchestrator);

#[async_trait]
impl JobHandler for Reconcile {
    async fn run(&self, _job: &Job) -> Result<(), JobFailure> {
        self.0.reconcile().await.map(|_| ()).map_err(|e| JobFailure::Retry(e.to_string()))
    }
}

/// Writes the customer's policy email and SMS.
struct CustomerMessages(settle::Db);

#[async_trait]
impl JobHandler for CustomerMessages {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: settle::notify::PaymentJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobFailure::Permanent(format!("bad payload: {e}")))?;
        settle::notify::write_customer_messages(&self.0, &payload.payment_id)
            .await
            .map(|_| ())
            .map_err(JobFailure::from)
    }
}

/// Posts the merchant's webhook; retried with backoff until the merchant answers 2xx.
struct MerchantWebhook(settle::Db, reqwest::Client);

#[async_trait]
impl JobHandler for MerchantWebhook {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: settle::notify::PaymentJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobFailure::Permanent(format!("bad payload: {e}")))?;
        match settle::notify::deliver_webhook(&self.0, &self.1, &payload.payment_id).await {
            Ok(_) => Ok(()),
            Err(e) => Err(JobFailure::Retry(e.to_string())),
        }
    }
}

/// Starts this instance's job runner; several instances may run one each on PostgreSQL.
pub fn spawn_runner(
    config: &Config,
    payments: Orchestrator,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let worker = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
    let db = payments.db().clone();
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    Runner::new(db.clone(), worker)
        .handle(settle::notify::CUSTOMER_JOB, Arc::new(CustomerMessages(db.clone())))
        .handle(settle::notify::WEBHOOK_JOB, Arc::new(MerchantWebhook(db, client)))
        .handle(RECONCILE, Arc::new(Reconcile(payments)))
        .every(RECONCILE, Duration::from_secs(config.reconcile_interval_seconds))
        .spawn(shutdown)
}

fn hostname() -> String {
    std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "settle".into())
}
