//! Durable background jobs: one table and one runner for all background work (reconciliation,
//! merchant webhooks, notifications, recurring collection, auto-recharge).
//!
//! A job is a row in `jobs`: a `kind` naming its [`JobHandler`], a JSON payload, when it is due,
//! how many attempts it has had and may have, and the last error. A [`Runner`] leases one due job
//! at a time (status `running`, its worker id, a lease expiry and `attempts + 1`, all in the
//! statement that picks the row), runs its handler and records the outcome. While the handler
//! runs the runner keeps extending the lease; a worker that crashes stops doing so, its lease
//! expires and another runner picks the job up again. Jobs are rows, so they survive restarts.
//!
//! On PostgreSQL several server instances share the table: the lease picks its row with
//! `FOR UPDATE SKIP LOCKED`, so two instances never lease the same job. On SQLite (one instance)
//! the lease is a single `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …`, serialised by
//! SQLite's write lock.
//!
//! An outcome is recorded only while the recording worker still holds the lease it ran under
//! (same `lease_owner`, same `attempts`, still `running`): a worker whose lease expired and was
//! taken over can't overwrite the new owner's result.
//!
//! Delivery is at least once: a handler may run again after a crash, so handlers must be
//! idempotent (check the state they are about to change; use the job id as an idempotency key
//! towards gateways and merchants).

pub mod report;
mod runner;
pub mod store;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;

pub use runner::{Runner, period_window};
pub use store::{counts, depth, enqueue, enqueue_in, get, prune_finished};

crate::id_type!(
    /// Identifies a job.
    JobId
);

crate::text_enum!(
    /// Where a job is in its life; stored as text in `jobs.status`.
    JobStatus, field = "status", {
        /// Waiting for its `run_at` (or for a retry after a failure).
        Pending = "pending",
        /// Leased by a worker until its lease expires.
        Running = "running",
        /// Its handler succeeded.
        Done = "done",
        /// It failed permanently or used up its attempts.
        Failed = "failed",
    }
);

/// The attempts a job gets unless [`NewJob::max_attempts`] says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 10;

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// Which handler runs it (`webhook.deliver`, `payment.reconcile`, …).
    pub kind: String,
    /// What the handler needs, as JSON.
    pub payload: serde_json::Value,
    /// When it is due.
    pub run_at: DateTime<Utc>,
    /// How many times it may be tried before it is marked failed (at least 1).
    pub max_attempts: i64,
    /// Enqueueing a second job with the same key does nothing (the key stays taken after the
    /// first job finishes, until [`prune_finished`] removes it).
    pub dedupe_key: Option<String>,
}

impl NewJob {
    /// A job of `kind`, due now, with [`DEFAULT_MAX_ATTEMPTS`] attempts and no dedupe key.
    pub fn new(kind: &str, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.to_owned(),
            payload,
            run_at: Utc::now(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            dedupe_key: None,
        }
    }

    /// Due at `at` instead of now.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = at;
        self
    }

    /// Tried at most `n` times (at least once).
    pub fn max_attempts(mut self, n: i64) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Enqueued at most once under `key`.
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }
}

/// A stored job as its handler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The job's id (stable across attempts: a good idempotency key).
    pub id: JobId,
    /// Which handler runs it.
    pub kind: String,
    /// What the handler needs.
    pub payload: serde_json::Value,
    /// Attempts so far, counting the one running now (1 on the first run).
    pub attempts: i64,
    /// Attempts allowed before the job is marked failed.
    pub max_attempts: i64,
    /// When it was (or is) due.
    pub run_at: DateTime<Utc>,
    /// The error of the last failed attempt, if any.
    pub last_error: Option<String>,
}

/// How many jobs are in each status (for the admin console).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobCounts {
    /// Waiting to run (due or not).
    pub pending: i64,
    /// Leased by a worker.
    pub running: i64,
    /// Finished successfully.
    pub done: i64,
    /// Gave up.
    pub failed: i64,
}

/// The queue's depth and age (for metrics and the load benchmark).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Jobs pending or running.
    pub waiting: i64,
    /// When the earliest of them was due, if any wait.
    pub oldest_due: Option<DateTime<Utc>>,
}

/// Why a handler did not finish its job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobFailure {
    /// Something that may pass (a gateway timed out, a merchant answered 503): back off and try
    /// again, until the job's `max_attempts` are used up.
    Retry(String),
    /// Trying again can't help (the payload names a payment that doesn't exist): mark the job
    /// failed now.
    Permanent(String),
}

impl JobFailure {
    /// The error message recorded as the job's `last_error`.
    pub fn message(&self) -> &str {
        match self {
            JobFailure::Retry(m) | JobFailure::Permanent(m) => m,
        }
    }
}

impl std::fmt::Display for JobFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobFailure::Retry(m) => write!(f, "retry: {m}"),
            JobFailure::Permanent(m) => write!(f, "permanent: {m}"),
        }
    }
}

impl From<crate::error::Error> for JobFailure {
    /// A core error in a handler (`?` on a core call) is retried, unless another attempt could
    /// only repeat it: invalid input, something that doesn't exist, a refusal.
    fn from(e: crate::error::Error) -> Self {
        use crate::error::Error;
        match e {
            Error::Validation(_) | Error::NotFound(_) | Error::Unauthorized | Error::Forbidden => {
                JobFailure::Permanent(e.to_string())
            }
            _ => JobFailure::Retry(e.to_string()),
        }
    }
}

/// Runs the jobs of one kind. Handlers must be idempotent: after a crash a job runs again.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Does the job's work.
    async fn run(&self, job: &Job) -> Result<(), JobFailure>;
}

/// Exponential backoff between attempts: the delay after the n-th failure is
/// `min(cap, base × 2^(n−1))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s, … up to one hour.
    fn default() -> Self {
        Self { base: Duration::from_secs(1), cap: Duration::from_secs(3600) }
    }
}

impl Backoff {
    /// The delay after the `failures`-th failure (1 for the first): `min(cap, base × 2^(n−1))`.
    pub fn delay(&self, failures: i64) -> Duration {
        let exponent = u32::try_from(failures.saturating_sub(1).clamp(0, 31)).unwrap_or(31);
        self.base.checked_mul(1u32 << exponent).map_or(self.cap, |d| d.min(self.cap))
    }

    /// [`delay`](Self::delay) plus up to 10 % random jitter (still at most `cap`), so jobs that
    /// failed together don't all come back at the same instant.
    pub fn jittered(&self, failures: i64) -> Duration {
        let delay = self.delay(failures);
        let spread = u64::try_from((delay / 10).as_millis()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 { 0 } else { rand::thread_rng().gen_range(0..=spread) };
        delay.saturating_add(Duration::from_millis(jitter)).min(self.cap)
    }
}

/// `at + d`, saturating far in the future instead of overflowing.
pub(crate) fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_doubles_from_base() {
        let b = Backoff { base: S(1), cap: S(3600) };
        let delays: Vec<_> = (1..=6).map(|n| b.delay(n)).collect();
        assert_eq!(delays, vec![S(1), S(2), S(4), S(8), S(16), S(32)]);
    }

    #[test]
    fn backoff_stops_at_cap() {
        let b = Backoff { base: S(1), cap: S(3600) };
        assert_eq!(b.delay(12), S(2048));
        assert_eq!(b.delay(13), S(3600)); // 4096 s would exceed the cap
        assert_eq!(b.delay(1000), S(3600));
        assert_eq!(b.delay(i64::MAX), S(3600));
        let small = Backoff { base: Duration::from_millis(200), cap: Duration::from_millis(300) };
        assert_eq!(small.delay(1), Duration::from_millis(200));
        assert_eq!(small.delay(2), Duration::from_millis(300));
    }

    #[test]
    fn backoff_before_first_failure_is_base() {
        let b = Backoff { base: S(5), cap: S(60) };
        assert_eq!(b.delay(0), S(5));
        assert_eq!(b.delay(-3), S(5));
    }

    #[test]
    fn backoff_does_not_overflow_with_huge_base() {
        let b = Backoff { base: Duration::MAX, cap: S(10) };
        assert_eq!(b.delay(1), S(10));
        assert_eq!(b.delay(40), S(10));
    }

    #[test]
    fn jitter_adds_at_most_a_tenth_and_respects_cap() {
        let b = Backoff { base: S(10), cap: S(3600) };
        for n in 1..=14 {
            let delay = b.delay(n);
            for _ in 0..50 {
                let j = b.jittered(n);
                assert!(j >= delay && j <= delay + delay / 10 && j <= b.cap, "{n}: {j:?}");
            }
        }
    }

    #[test]
    fn default_backoff_is_one_second_to_one_hour() {
        assert_eq!(Backoff::default(), Backoff { base: S(1), cap: S(3600) });
    }

    #[test]
    fn new_job_defaults_and_builders() {
        let at = Utc::now() + chrono::TimeDelta::minutes(5);
        let job = NewJob::new("k", serde_json::json!({"a": 1}))
            .run_at(at)
            .max_attempts(0)
            .dedupe_key("k@1");
        assert_eq!(job.kind, "k");
        assert_eq!(job.run_at, at);
        assert_eq!(job.max_attempts, 1);
        assert_eq!(job.dedupe_key.as_deref(), Some("k@1"));
        assert_eq!(NewJob::new("k", serde_json::Value::Null).max_attempts, DEFAULT_MAX_ATTEMPTS);
    }

    #[test]
    fn core_errors_map_to_retry_or_permanent() {
        use crate::error::Error;
        let retry = |e: Error| matches!(JobFailure::from(e), JobFailure::Retry(_));
        assert!(retry(Error::Internal("gateway down".into())));
        assert!(retry(Error::Conflict("concurrent update".into())));
        assert!(retry(Error::Throttled { retry_after_secs: 3 }));
        assert!(!retry(Error::NotFound("payment")));
        assert!(!retry(Error::invalid("amount", "must be positive")));
        assert!(!retry(Error::Forbidden));
    }

    #[test]
    fn status_round_trips_as_text() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().ok(), Some(*s));
        }
        assert!("queued".parse::<JobStatus>().is_err());
    }
}
