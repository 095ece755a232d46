//! Delivering an event: each attempt is a durable job (`webhook.deliver`, one per event and
//! attempt number), and each attempt's outcome is logged, classified as seed 001 says, and
//! either ends the delivery or enqueues the next attempt, in one transaction.
//!
//! A crash mid-attempt leaves the attempt's job leased; when the lease expires the job runs
//! again and the attempt is made again (at least once). A crash after the outcome is recorded
//! changes nothing: the next attempt's job was enqueued with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::endpoint::Endpoint;
use super::event::{Event, EventId};
use super::schedule::Schedule;
use super::subject::Subject;
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::job::{self, NewJob};
use crate::merchant::MerchantId;
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

/// Job kind of one delivery attempt.
pub const DELIVER_JOB: &str = "webhook.deliver";

/// The most of a response body that is stored.
pub const MAX_STORED_BODY: usize = 64 * 1024;

/// Crash recoveries one attempt's job gets (a worker dying mid-request); the schedule, not the
/// job runner, decides the retries after an answer.
pub(crate) const JOB_ATTEMPTS: i64 = 5;

text_enum!(
    /// Seed 001's webhook invocation: how an attempt ended.
    Invocation, field = "invocation", {
        /// Not attempted yet.
        Pending = "PENDING",
        /// The merchant answered 2xx (seed 001 spells it so).
        Successful = "SUCCESSFULL",
        /// Any other answer, or none: retried while attempts are left.
        Failed = "FAILED",
    }
);

text_enum!(
    /// Seed 001's invocation status, for an attempt that got an answer.
    InvocationStatus, field = "invocation_status", {
        /// A 2xx answer.
        Success = "INVOCATION_SUCCESS",
        /// Any other status code.
        Fail = "INVOCATION_FAIL",
    }
);

text_enum!(
    /// Seed 001's sync error, for an attempt that got no answer.
    SyncError, field = "sync_error", {
        /// Refused, reset or timed out.
        Unavailable = "SYNCH_UNAVAILABLE",
    }
);

/// The payload of a [`DELIVER_JOB`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeliverJob {
    /// The event to deliver.
    pub event_id: EventId,
    /// Which attempt this is (1 for the first).
    pub attempt: i64,
    /// How often this attempt was put back to wait for an earlier attempt to the same endpoint
    /// ([`defer`]); not an attempt of its own.
    #[serde(default)]
    pub deferred: i64,
}

/// Enqueues attempt `attempt` of `event`, due at `run_at`, inside `tx`.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    event: EventId,
    attempt: i64,
    run_at: DateTime<Utc>,
) -> Result<()> {
    let payload = serde_json::to_value(DeliverJob { event_id: event, attempt, deferred: 0 })
        .map_err(|e| Error::Internal(e.to_string()))?;
    job::enqueue_in(
        tx,
        NewJob::new(DELIVER_JOB, payload)
            .run_at(run_at)
            .max_attempts(JOB_ATTEMPTS)
            .dedupe_key(format!("{DELIVER_JOB}:{event}:{attempt}")),
    )
    .await?;
    Ok(())
}

/// Puts an attempt back for `wait` without making it, because another attempt to the same
/// endpoint is still waiting for its answer: a slow or dead endpoint holds up at most one job
/// worker, and every other merchant's webhooks go out meanwhile. Nothing is logged and the
/// attempt keeps its number (and its `pendingWebhooks`).
pub async fn defer(db: &Db, job: &DeliverJob, wait: Duration) -> Result<()> {
    let next = DeliverJob { deferred: job.deferred + 1, ..job.clone() };
    let payload = serde_json::to_value(&next).map_err(|e| Error::Internal(e.to_string()))?;
    job::enqueue(
        db,
        NewJob::new(DELIVER_JOB, payload)
            .run_at(job::later(Utc::now(), wait))
            .max_attempts(JOB_ATTEMPTS)
            .dedupe_key(format!(
                "{DELIVER_JOB}:{}:{}:deferred:{}",
                job.event_id, job.attempt, next.deferred
            )),
    )
    .await?;
    Ok(())
}

/// What came back from the merchant's URL.
#[derive(Clone, Debug)]
pub enum Response {
    /// An HTTP answer (its body cut to [`MAX_STORED_BODY`] by the caller or here).
    Answered {
        /// The status code.
        status: u16,
        /// The body.
        body: Vec<u8>,
    },
    /// No answer: refused, reset, timed out.
    NoResponse {
        /// What went wrong.
        error: String,
    },
}

/// How seed 001 classifies an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    /// `SUCCESSFULL` or `FAILED`.
    pub invocation: Invocation,
    /// For an answer: `INVOCATION_SUCCESS` or `INVOCATION_FAIL`.
    pub status: Option<InvocationStatus>,
    /// For no answer: `SYNCH_UNAVAILABLE`.
    pub sync_error: Option<SyncError>,
}

impl Response {
    /// Seed 001's three cases: 2xx → `SUCCESSFULL`/`INVOCATION_SUCCESS`; another code →
    /// `FAILED`/`INVOCATION_FAIL`; no response → `FAILED` with `SYNCH_UNAVAILABLE`.
    pub fn classify(&self) -> Classified {
        match self {
            Response::Answered { status, .. } if (200..300).contains(status) => Classified {
                invocation: Invocation::Successful,
                status: Some(InvocationStatus::Success),
                sync_error: None,
            },
            Response::Answered { .. } => Classified {
                invocation: Invocation::Failed,
                status: Some(InvocationStatus::Fail),
                sync_error: None,
            },
            Response::NoResponse { .. } => Classified {
                invocation: Invocation::Failed,
                status: None,
                sync_error: Some(SyncError::Unavailable),
            },
        }
    }

    fn stored_body(&self) -> Option<String> {
        match self {
            Response::Answered { body, .. } if !body.is_empty() => {
                let cut = &body[..body.len().min(MAX_STORED_BODY)];
                Some(String::from_utf8_lossy(cut).into_owned())
            }
            _ => None,
        }
    }
}

/// Everything one attempt needs: the event, where it goes, and its subject as it is now.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The event.
    pub event: Event,
    /// The merchant's endpoint.
    pub endpoint: Endpoint,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
    /// Seed 001's `pendingWebhooks` for this attempt: attempts left after it.
    pub pending_webhooks: i64,
    /// What the event is about, now.
    pub subject: Subject,
}

/// Loads what attempt `job.attempt` of an event needs. `None` when there is nothing to send:
/// the attempt's outcome is already recorded (a job that ran again after a crash), or the
/// merchant no longer has an endpoint for this event type.
pub async fn prepare(db: &Db, job: &DeliverJob, schedule: &Schedule) -> Result<Option<Delivery>> {
    let event = Event::find(db, job.event_id).await?.ok_or(Error::NotFound("webhook event"))?;
    let sql = "SELECT COUNT(*) FROM webhook_attempts WHERE event_id = $1 AND attempt = $2";
    let done: i64 = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(event.id.0)
        .bind(job.attempt)
        .fetch_one(pool)
        .await)?;
    if done > 0 {
        return Ok(None);
    }
    let Some(endpoint) = Endpoint::find(db, &event.merchant_id).await? else { return Ok(None) };
    if !endpoint.subscribes(event.kind) {
        return Ok(None);
    }
    let subject = Subject::load(db, &event.subject).await?;
    Ok(Some(Delivery {
        pending_webhooks: schedule.pending_after(job.attempt),
        attempt: job.attempt,
        event,
        endpoint,
        subject,
    }))
}

/// One attempt as it happened.
#[derive(Clone, Debug)]
pub struct AttemptResult {
    /// When the request left.
    pub attempted_at: DateTime<Utc>,
    /// How long until the answer (or the failure).
    pub duration: Duration,
    /// What came back.
    pub response: Response,
    /// The body sent (stored with the attempt for the admin's delivery page).
    pub request_body: Option<String>,
}

/// Records `result` of `delivery`'s attempt in one transaction: the log row, the event's
/// latest status, the endpoint's health, and, for a failure with attempts left, the next
/// attempt's job after the schedule's wait. Answers the classification.
pub async fn record(
    db: &Db,
    delivery: &Delivery,
    result: &AttemptResult,
    schedule: &Schedule,
) -> Result<Classified> {
    let classified = result.response.classify();
    let (status_code, error) = match &result.response {
        Response::Answered { status, .. } => (Some(i64::from(*status)), None),
        Response::NoResponse { error } => (None, Some(error.clone())),
    };
    let body = result.response.stored_body();
    let duration_ms = i64::try_from(result.duration.as_millis()).unwrap_or(i64::MAX);
    let event = &delivery.event;
    let mut tx = db.begin().await?;
    let insert =
        "INSERT INTO webhook_attempts (id, event_id, merchant_id, attempt, url, attempted_at,
                      duration_ms, status_code, invocation, invocation_status, sync_error,
                      pending_webhooks, response_body, error, request_body)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                  ON CONFLICT (event_id, attempt) DO NOTHING";
    let inserted = with_tx!(&mut tx, conn => sqlx::query(insert)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(event.id.0)
        .bind(&event.merchant_id)
        .bind(delivery.attempt)
        .bind(delivery.endpoint.url.as_str())
        .bind(result.attempted_at)
        .bind(duration_ms)
        .bind(status_code)
        .bind(classified.invocation.as_str())
        .bind(classified.status.map(|s| s.as_str()))
        .bind(classified.sync_error.map(|s| s.as_str()))
        .bind(delivery.pending_webhooks)
        .bind(&body)
        .bind(&error)
        .bind(&result.request_body)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    if inserted == 0 {
        return Ok(classified); // another run of this attempt recorded it first
    }
    let update =
        "UPDATE webhook_events SET invocation = $2, invocation_status = $3, sync_error = $4,
                      attempts = $5, response_body = COALESCE($6, response_body) WHERE id = $1";
    with_tx!(&mut tx, conn => sqlx::query(update)
        .bind(event.id.0)
        .bind(classified.invocation.as_str())
        .bind(classified.status.map(|s| s.as_str()))
        .bind(classified.sync_error.map(|s| s.as_str()))
        .bind(delivery.attempt)
        .bind(&body)
        .execute(conn)
        .await
        .map(|_| ()))?;
    let succeeded = classified.invocation == Invocation::Successful;
    let next = if succeeded { None } else { schedule.wait_after(delivery.attempt) };
    Endpoint::record_health(&mut tx, &event.merchant_id, succeeded, !succeeded && next.is_none())
        .await?;
    if let Some(wait) = next {
        enqueue(&mut tx, event.id, delivery.attempt + 1, job::later(Utc::now(), wait)).await?;
    }
    tx.commit().await?;
    crate::telemetry::webhook_delivery(match (succeeded, classified.sync_error) {
        (true, _) => "success",
        (false, None) => "fail",
        (false, Some(_)) => "no_response",
    });
    Ok(classified)
}

/// One logged attempt.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Attempt {
    /// The event delivered.
    pub event_id: i64,
    /// Its type.
    pub kind: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// Where it went.
    pub url: String,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The answer's status code; none when there was no answer.
    pub status_code: Option<i64>,
    /// `SUCCESSFULL` or `FAILED`.
    pub invocation: String,
    /// `INVOCATION_SUCCESS` / `INVOCATION_FAIL`.
    pub invocation_status: Option<String>,
    /// `SYNCH_UNAVAILABLE` when nothing answered.
    pub sync_error: Option<String>,
    /// The body's `pendingWebhooks`.
    pub pending_webhooks: i64,
    /// The stored response body.
    pub response_body: Option<String>,
    /// Why there was no answer.
    pub error: Option<String>,
    /// The body sent (none for attempts logged before bodies were kept).
    pub request_body: Option<String>,
}

const ATTEMPT_COLUMNS: &str = "a.event_id, e.kind, a.attempt, a.url, a.attempted_at, a.duration_ms, a.status_code, a.invocation, a.invocation_status, a.sync_error, a.pending_webhooks, a.response_body, a.error, a.request_body";

/// A merchant's latest delivery attempts, newest first (its delivery log).
pub async fn attempts_for(db: &Db, merchant: &MerchantId, limit: i64) -> Result<Vec<Attempt>> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id
         WHERE a.merchant_id = $1 ORDER BY a.attempted_at DESC, a.attempt DESC LIMIT $2"
    );
    let rows: Vec<Attempt> = with_db!(db, pool => sqlx::query_as(&sql)
        .bind(merchant)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    for row in &rows {
        let _: Invocation = stored("webhook_attempts", &row.invocation)?;
    }
    Ok(rows)
}

/// The attempts of one event, first first.
pub async fn attempts_of(db: &Db, event: EventId) -> Result<Vec<Attempt>> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id
         WHERE a.event_id = $1 ORDER BY a.attempt"
    );
    Ok(with_db!(db, pool => sqlx::query_as(&sql).bind(event.0).fetch_all(pool).await)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_001_response_cases() {
        let answered = |status| Response::Answered { status, body: b"ok".to_vec() };
        let ok = answered(204).classify();
        assert_eq!(
            (ok.invocation, ok.status, ok.sync_error),
            (Invocation::Successful, Some(InvocationStatus::Success), None)
        );
        let bad = answered(500).classify();
        assert_eq!(
            (bad.invocation, bad.status, bad.sync_error),
            (Invocation::Failed, Some(InvocationStatus::Fail), None)
        );
        let none = Response::NoResponse { error: "timed out".into() }.classify();
        assert_eq!(
            (none.invocation, none.status, none.sync_error),
            (Invocation::Failed, None, Some(SyncError::Unavailable))
        );
    }

    #[test]
    fn stored_bodies_are_bounded() {
        let big = Response::Answered { status: 500, body: vec![b'x'; MAX_STORED_BODY * 2] };
        assert_eq!(big.stored_body().map(|b| b.len()), Some(MAX_STORED_BODY));
        assert_eq!(Response::Answered { status: 200, body: vec![] }.stored_body(), None);
    }
}
