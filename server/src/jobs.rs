//! The background work this server runs through the durable job table, and the handlers for it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use settle::job::{Job, JobFailure, JobHandler, Runner};
use settle::payment::Orchestrator;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::web::headers::ContentSecurityPolicy;

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

/// Collects an auto-recharge purchase when it falls due.
struct Recharge(Orchestrator);

#[async_trait]
impl JobHandler for Recharge {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: settle::billing::auto_recharge::RechargeJob = payload(job)?;
        let outcome =
            settle::billing::auto_recharge::collect_recharge(&self.0, &payload.purchase_id).await?;
        tracing::info!(purchase = %payload.purchase_id, ?outcome, "auto-recharge");
        Ok(())
    }
}

/// Runs the collection day its window falls on (the job is enqueued once per window).
struct CollectionDay(Orchestrator);

#[async_trait]
impl JobHandler for CollectionDay {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let window = job
            .payload
            .get("window_start")
            .and_then(|w| w.as_str())
            .and_then(|w| chrono::DateTime::parse_from_rfc3339(w).ok())
            .ok_or_else(|| JobFailure::Permanent("no window_start".into()))?;
        let date = window.with_timezone(&chrono::Utc).date_naive();
        settle::billing::collection_day::run_collection_day(&self.0, date).await?;
        Ok(())
    }
}

/// A job's payload; one that doesn't parse will never run, so it fails for good.
fn payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobFailure> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobFailure::Permanent(format!("bad payload: {e}")))
}

/// Starts this instance's job runner and reconciliation sweep; several instances may run one
/// each on PostgreSQL.
pub fn spawn_runner(
    config: &Config,
    payments: Orchestrator,
    csp: Arc<ContentSecurityPolicy>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let sweep = spawn_reconciliation(
        payments.clone(),
        Duration::from_secs(config.reconcile_interval_seconds),
        shutdown.clone(),
    );
    let watcher =
        spawn_configuration_watcher(payments.clone(), csp, CONFIGURATION_POLL, shutdown.clone());
    let db = payments.db().clone();
    let customer: Arc<dyn JobHandler> = Arc::new(CustomerMessages(db.clone()));
    let invoice: Arc<dyn JobHandler> = Arc::new(InvoiceNotice(db.clone()));
    let webhook: Arc<dyn JobHandler> = Arc::new(crate::api::webhooks::deliver::Deliver::new(
        db.clone(),
        config.webhook_schedule(),
        Duration::from_secs(config.webhook_timeout_seconds),
    ));
    let recharge: Arc<dyn JobHandler> = Arc::new(Recharge(payments.clone()));
    let collection_day: Arc<dyn JobHandler> = Arc::new(CollectionDay(payments.clone()));
    let collection_every = Duration::from_secs(config.collection_day_interval_minutes * 60);
    let refund: Arc<dyn JobHandler> = Arc::new(Refund(payments));
    // Several workers, so one merchant endpoint that is slow to answer holds up one of them
    // while the others deliver everyone else's webhooks (and run the other jobs).
    let runners: Vec<JoinHandle<()>> = (0..config.job_workers.max(1))
        .map(|n| {
            let worker = format!("{}-{}-{n}", hostname(), uuid::Uuid::new_v4().simple());
            let runner = Runner::new(db.clone(), worker)
                .handle(settle::billing::auto_recharge::RECHARGE_JOB, Arc::clone(&recharge))
                .handle(
                    settle::billing::collection_day::COLLECTION_DAY_JOB,
                    Arc::clone(&collection_day),
                );
            // The collection day runs once per window between all instances (dedupe key); a
            // day's second run charges no one twice, and picks up services added since.
            let runner = if collection_every.is_zero() {
                runner
            } else {
                runner.every(settle::billing::collection_day::COLLECTION_DAY_JOB, collection_every)
            };
            runner
                .handle(settle::notify::CUSTOMER_JOB, Arc::clone(&customer))
                .handle(settle::notify::INVOICE_JOB, Arc::clone(&invoice))
                .handle(settle::webhook::DELIVER_JOB, Arc::clone(&webhook))
                .handle(settle::payment::refund::REFUND_JOB, Arc::clone(&refund))
                .spawn(shutdown.clone())
        })
        .collect();
    tokio::spawn(async move {
        let all = async {
            for runner in runners {
                let _ = runner.await;
            }
        };
        let _ = tokio::join!(all, sweep, watcher);
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

/// How often an instance looks at the configuration version.
const CONFIGURATION_POLL: Duration = Duration::from_secs(1);

/// Reloads this instance's gateways and connectors (and the frame sources of its content
/// security policy) when the configuration version moves (an operator changed a gateway or a
/// product's routing, on this instance or another): changes apply within about a second,
/// without a restart. One cheap read a second.
fn spawn_configuration_watcher(
    payments: Orchestrator,
    csp: Arc<ContentSecurityPolicy>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let db = payments.db().clone();
        // None: the first tick reloads once, so a change made while this instance was starting
        // (after its orchestrator loaded the gateways) is not missed.
        let mut seen: Option<i64> = None;
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
            let now = match settle::gateway_config::version::current(&db).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the configuration version failed");
                    continue;
                }
            };
            if seen == Some(now) {
                continue;
            }
            match payments.reload_gateways().await {
                Ok(()) => {
                    csp.follow(&payments.gateway_connections());
                    tracing::info!(version = now, "configuration changed: gateways reloaded");
                    seen = Some(now);
                }
                Err(e) => tracing::warn!(error = %e, "reloading gateways failed; will try again"),
            }
        }
    })
}
