//! The admin console's view of webhook deliveries: a merchant's deliveries with where each
//! stands (keyset-paged), one delivery's attempts with the bodies sent and received, the
//! endpoints at a glance (recent failures, last success), and "retry now".
//!
//! A delivery is an event and its attempts; its next attempt is the pending `webhook.deliver`
//! job for attempt `attempts + 1` (found by its dedupe key, so every lookup is an index probe).

use chrono::{DateTime, Duration, Utc};

use super::delivery::{self, Attempt, DELIVER_JOB, DeliverJob, Invocation};
use super::event::{Event, EventId};
use crate::access::Viewer;
use crate::audit::{self, Actor};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::job::{self, NewJob};
use crate::merchant::MerchantId;
use crate::{with_db, with_tx};

/// Deliveries shown per page.
pub const PAGE_SIZE: i64 = 50;

/// How far back "recent" failures are counted for an endpoint.
pub const RECENT_HOURS: i64 = 24;

/// The console is staff's: anyone else is refused before a query runs.
fn staff_only(viewer: &Viewer) -> Result<()> {
    match viewer {
        Viewer::Staff => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

/// The dedupe key of attempt `attempt` of `event`, as [`delivery`] enqueues it.
fn attempt_key(event: i64, attempt: i64) -> String {
    format!("{DELIVER_JOB}:{event}:{attempt}")
}

/// One delivery (an event) as the list shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryLine {
    /// The event's id.
    pub event_id: i64,
    /// Its type (`invoice.payment_executed`, …).
    pub kind: String,
    /// What it is about (a payment reference or purchase).
    pub subject: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// `PENDING`, `SUCCESSFULL` or `FAILED` (the latest attempt's).
    pub invocation: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, if one is queued.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The latest attempt's status code; none without an answer.
    pub last_status_code: Option<i64>,
    /// Why the latest attempt got no answer.
    pub last_error: Option<String>,
}

/// The deliveries to `merchant`, newest first: those older than `before` (an event id), of one
/// outcome if given. Keyset paging on the event id, served by the merchant's event indexes.
pub async fn deliveries(
    db: &Db,
    viewer: &Viewer,
    merchant: &MerchantId,
    outcome: Option<Invocation>,
    before: Option<EventId>,
    limit: i64,
) -> Result<Vec<DeliveryLine>> {
    staff_only(viewer)?;
    let outcome_filter = if outcome.is_some() { "AND e.invocation = $4" } else { "" };
    let sql = format!(
        "SELECT e.id AS event_id, e.kind, e.subject, e.created_at, e.invocation, e.attempts,
                j.run_at AS next_attempt_at, a.status_code AS last_status_code, a.error AS last_error
         FROM webhook_events e
         LEFT JOIN webhook_attempts a ON a.event_id = e.id AND a.attempt = e.attempts
         LEFT JOIN jobs j ON j.dedupe_key = '{DELIVER_JOB}:' || e.id || ':' || (e.attempts + 1)
                         AND j.status IN ('pending', 'running')
         WHERE e.merchant_id = $1 AND e.id < $2 {outcome_filter}
         ORDER BY e.id DESC LIMIT $3"
    );
    let before = before.map_or(i64::MAX, |e| e.0);
    let rows: Vec<DeliveryLine> = match outcome {
        Some(outcome) => with_db!(db, pool => sqlx::query_as(&sql)
            .bind(merchant)
            .bind(before)
            .bind(limit)
            .bind(outcome.as_str())
            .fetch_all(pool)
            .await)?,
        None => with_db!(db, pool => sqlx::query_as(&sql)
            .bind(merchant)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await)?,
    };
    Ok(rows)
}

/// One delivery with every attempt (bodies sent and received).
#[derive(Clone, Debug)]
pub struct DeliveryDetail {
    /// The event and its latest outcome.
    pub event: Event,
    /// The merchant's name.
    pub merchant_name: String,
    /// Its attempts, first first.
    pub attempts: Vec<Attempt>,
    /// When the next attempt is due, if one is queued.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The delivery of event `id`.
pub async fn delivery(db: &Db, viewer: &Viewer, id: EventId) -> Result<DeliveryDetail> {
    staff_only(viewer)?;
    let event = Event::find(db, id).await?.ok_or(Error::NotFound("webhook delivery"))?;
    let sql = "SELECT name FROM merchants WHERE id = $1";
    let merchant_name: String = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(&event.merchant_id)
        .fetch_one(pool)
        .await)?;
    let attempts = delivery::attempts_of(db, id).await?;
    let sql = "SELECT run_at FROM jobs WHERE dedupe_key = $1 AND status IN ('pending', 'running')";
    let next_attempt_at: Option<DateTime<Utc>> = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(attempt_key(id.0, event.attempts + 1))
        .fetch_optional(pool)
        .await)?;
    Ok(DeliveryDetail { event, merchant_name, attempts, next_attempt_at })
}

/// A merchant's endpoint at a glance.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EndpointHealth {
    /// The merchant.
    pub merchant_id: MerchantId,
    /// Its name.
    pub merchant_name: String,
    /// Where its webhooks go.
    pub url: String,
    /// `healthy` or `failing`.
    pub status: String,
    /// Failed attempts since the last success.
    pub consecutive_failures: i64,
    /// Attempts in the last [`RECENT_HOURS`].
    pub recent_attempts: i64,
    /// Failed attempts in the last [`RECENT_HOURS`].
    pub recent_failures: i64,
    /// When an attempt last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
}

impl EndpointHealth {
    /// Recent failures as a percentage of recent attempts (none without attempts).
    pub fn failure_rate(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        (self.recent_attempts > 0)
            .then(|| self.recent_failures as f64 * 100.0 / self.recent_attempts as f64)
    }
}

/// Every merchant's endpoint, failing ones first: recent failures and the last success, each
/// counted on the attempts' (merchant, outcome, time) index.
pub async fn endpoints(
    db: &Db,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> Result<Vec<EndpointHealth>> {
    staff_only(viewer)?;
    let since = now - Duration::hours(RECENT_HOURS);
    let sql = "SELECT w.merchant_id, m.name AS merchant_name, w.url, w.status, w.consecutive_failures,
                (SELECT COUNT(*) FROM webhook_attempts a
                  WHERE a.merchant_id = w.merchant_id AND a.attempted_at >= $1) AS recent_attempts,
                (SELECT COUNT(*) FROM webhook_attempts a
                  WHERE a.merchant_id = w.merchant_id AND a.invocation = 'FAILED'
                    AND a.attempted_at >= $1) AS recent_failures,
                (SELECT MAX(a.attempted_at) FROM webhook_attempts a
                  WHERE a.merchant_id = w.merchant_id AND a.invocation = 'SUCCESSFULL') AS last_success_at
               FROM webhook_endpoints w JOIN merchants m ON m.id = w.merchant_id
               ORDER BY w.status, m.name";
    let rows: Vec<EndpointHealth> =
        with_db!(db, pool => sqlx::query_as(sql).bind(since).fetch_all(pool).await)?;
    Ok(rows)
}

/// What "retry now" did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retried {
    /// The queued next attempt was made due now.
    BroughtForward {
        /// The attempt's number.
        attempt: i64,
    },
    /// The delivery had no attempt queued (it used up its schedule): one more was queued, due
    /// now.
    Queued {
        /// The attempt's number.
        attempt: i64,
    },
}

/// Makes the next attempt of delivery `id` due now (queueing one if its schedule is used up),
/// audited in the same transaction. Refused for a delivery that already succeeded or whose
/// attempt is being made right now.
pub async fn retry_now(db: &Db, viewer: &Viewer, actor: &Actor, id: EventId) -> Result<Retried> {
    staff_only(viewer)?;
    let mut tx = db.begin().await?;
    let sql = "SELECT merchant_id, kind, invocation, attempts FROM webhook_events WHERE id = $1";
    let found: Option<(MerchantId, String, String, i64)> =
        with_tx!(&mut tx, conn => sqlx::query_as(sql).bind(id.0).fetch_optional(conn).await)?;
    let (merchant, kind, invocation, attempts) =
        found.ok_or(Error::NotFound("webhook delivery"))?;
    if invocation == Invocation::Successful.as_str() {
        return Err(Error::Conflict("this delivery already succeeded".into()));
    }
    let attempt = attempts + 1;
    let key = attempt_key(id.0, attempt);
    let now = Utc::now();
    let sql = "SELECT status FROM jobs WHERE dedupe_key = $1";
    let queued: Option<String> =
        with_tx!(&mut tx, conn => sqlx::query_scalar(sql).bind(&key).fetch_optional(conn).await)?;
    let retried = match queued.as_deref() {
        Some("running") => {
            return Err(Error::Conflict("an attempt is being made right now".into()));
        }
        Some("pending") => {
            let sql = "UPDATE jobs SET run_at = $2, updated_at = $2 WHERE dedupe_key = $1 AND status = 'pending'";
            with_tx!(&mut tx, conn => sqlx::query(sql)
                .bind(&key)
                .bind(now)
                .execute(conn)
                .await
                .map(|_| ()))?;
            Retried::BroughtForward { attempt }
        }
        // No job, or its job ended without logging the attempt (a crash too many): a job of
        // its own, once per attempt number however often the button is pressed.
        _ => {
            let payload = serde_json::to_value(DeliverJob { event_id: id, attempt, deferred: 0 })
                .map_err(|e| Error::Internal(e.to_string()))?;
            let job = NewJob::new(DELIVER_JOB, payload)
                .max_attempts(delivery::JOB_ATTEMPTS)
                .dedupe_key(format!("{key}:manual"));
            if job::enqueue_in(&mut tx, job).await?.is_none() {
                return Err(Error::Conflict("this attempt was already queued".into()));
            }
            Retried::Queued { attempt }
        }
    };
    let detail = format!("attempt {attempt} of {kind} to merchant {merchant} made due now");
    audit::record_in(&mut tx, actor, "webhook.retry", &format!("webhook_event:{id}"), &detail)
        .await?;
    tx.commit().await?;
    Ok(retried)
}
