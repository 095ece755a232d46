//! The delivery job: renders the body from the subject's current state, signs it, POSTs it to
//! the merchant's endpoint, and hands the outcome to the core, which logs it and schedules the
//! next attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use settle::job::{Job, JobFailure, JobHandler};
use settle::merchant::MerchantId;
use settle::webhook::delivery::{self, MAX_STORED_BODY};
use settle::webhook::signing::{self, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use settle::webhook::{AttemptResult, DeliverJob, Response, Schedule};

use super::wire;

/// How long an attempt waits when its endpoint already has its share of attempts in flight.
const BUSY_WAIT: Duration = Duration::from_millis(250);

/// Attempts in flight to one endpoint at a time, on one instance: enough for a healthy
/// endpoint to take a burst quickly, few enough that a hanging one leaves the other job
/// workers free.
const IN_FLIGHT_PER_ENDPOINT: usize = 2;

/// Delivers one attempt of one webhook event (job kind [`delivery::DELIVER_JOB`]). One attempt
/// [`IN_FLIGHT_PER_ENDPOINT`] attempts per merchant endpoint are in flight at a time on this instance; the others wait their turn
/// off the workers ([`delivery::defer`]), so a merchant whose endpoint hangs can't take every
/// worker and hold up other merchants' webhooks.
pub struct Deliver {
    db: settle::Db,
    client: reqwest::Client,
    schedule: Schedule,
    in_flight: InFlight,
}

/// Attempts in flight per merchant.
type InFlight = Arc<Mutex<HashMap<MerchantId, usize>>>;

/// One attempt counted in flight to a merchant's endpoint until dropped.
struct Busy(InFlight, MerchantId);

impl Busy {
    fn take(in_flight: &InFlight, merchant: &MerchantId) -> Option<Busy> {
        let mut counts = in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(merchant.clone()).or_default();
        if *count >= IN_FLIGHT_PER_ENDPOINT {
            return None;
        }
        *count += 1;
        Some(Busy(Arc::clone(in_flight), merchant.clone()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.1) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.1);
            }
        }
    }
}

impl Deliver {
    /// A handler that gives each endpoint `timeout` to answer and retries on `schedule`.
    pub fn new(db: settle::Db, schedule: Schedule, timeout: Duration) -> Deliver {
        // Redirects are not followed: a 3xx is an answer that isn't 2xx, like any other.
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Settle-Webhooks/1")
            .build()
            .unwrap_or_default();
        Deliver { db, client, schedule, in_flight: Arc::default() }
    }
}

#[async_trait]
impl JobHandler for Deliver {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let payload: DeliverJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobFailure::Permanent(format!("bad payload: {e}")))?;
        let Some(delivery) = delivery::prepare(&self.db, &payload, &self.schedule).await? else {
            return Ok(());
        };
        let Some(_busy) = Busy::take(&self.in_flight, &delivery.event.merchant_id) else {
            delivery::defer(&self.db, &payload, BUSY_WAIT).await?;
            return Ok(());
        };
        let now = Utc::now();
        let body = wire::body(&delivery, now);
        let id = delivery.event.id.to_string();
        let timestamp = now.timestamp();
        let signature =
            signing::sign(&delivery.endpoint.signing_secrets(now), &id, timestamp, &body)?;
        let started = Instant::now();
        let sent = self
            .client
            .post(delivery.endpoint.url.clone())
            .header("content-type", "application/json")
            .header(ID_HEADER, &id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(mut answer) => {
                let status = answer.status().as_u16();
                let mut body = Vec::new();
                // Only the first MAX_STORED_BODY bytes are kept; a body that breaks off is kept
                // as far as it came (the status already answered).
                while body.len() < MAX_STORED_BODY {
                    match answer.chunk().await {
                        Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                body.truncate(MAX_STORED_BODY);
                Response::Answered { status, body }
            }
            Err(e) => Response::NoResponse { error: without_url(&e) },
        };
        let result = AttemptResult {
            attempted_at: now,
            duration: started.elapsed(),
            response,
            request_body: Some(body),
        };
        let classified = delivery::record(&self.db, &delivery, &result, &self.schedule).await?;
        tracing::info!(
            event = %delivery.event.id,
            kind = %delivery.event.kind,
            merchant = %delivery.event.merchant_id,
            attempt = delivery.attempt,
            pending = delivery.pending_webhooks,
            invocation = %classified.invocation,
            "webhook attempt"
        );
        Ok(())
    }
}

/// The error's text without the URL (which may carry a merchant's token in its query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "no response"
    };
    let mut detail = e.to_string();
    if let Some(url) = e.url() {
        detail = detail.replace(url.as_str(), "the endpoint");
    }
    format!("{kind}: {detail}")
}
