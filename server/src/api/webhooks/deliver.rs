//! The delivery job: renders the body from the subject's current state, signs it, POSTs it to
//! the merchant's endpoint, and hands the outcome to the core, which logs it and schedules the
//! next attempt.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use settle::job::{Job, JobFailure, JobHandler};
use settle::webhook::delivery::{self, MAX_STORED_BODY};
use settle::webhook::signing::{self, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use settle::webhook::{AttemptResult, DeliverJob, Response, Schedule};

use super::wire;

/// Delivers one attempt of one webhook event (job kind [`delivery::DELIVER_JOB`]).
pub struct Deliver {
    db: settle::Db,
    client: reqwest::Client,
    schedule: Schedule,
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
        Deliver { db, client, schedule }
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
            .body(body)
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
        let result = AttemptResult { attempted_at: now, duration: started.elapsed(), response };
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
