//! The worker loop: lease a due job, run its handler, record the outcome.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Backoff, Job, JobFailure, JobHandler, JobId, NewJob, enqueue, later, store};
use crate::db::Db;
use crate::error::Result;

/// Attempts a periodic job gets; the next window runs the work again anyway.
const PERIODIC_MAX_ATTEMPTS: i64 = 3;

/// The shortest period [`Runner::every`] accepts.
const MIN_PERIOD: Duration = Duration::from_secs(1);

/// Runs jobs: leases due ones from the table, hands each to the handler registered for its
/// kind, and records done / retry (with [`Backoff`]) / failed.
///
/// Build one per server instance, register handlers, then [`spawn`](Runner::spawn) it.
/// Several runners (instances) may share one PostgreSQL database.
pub struct Runner {
    db: Db,
    worker_id: String,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    schedules: Vec<Schedule>,
    lease_for: Duration,
    poll_interval: Duration,
    backoff: Backoff,
    job_timeout: Duration,
    /// The last window each periodic kind was enqueued for by this runner.
    enqueued_windows: Mutex<HashMap<String, DateTime<Utc>>>,
}

struct Schedule {
    kind: String,
    period: Duration,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds: Vec<_> = self.handlers.keys().collect();
        kinds.sort();
        f.debug_struct("Runner")
            .field("worker_id", &self.worker_id)
            .field("kinds", &kinds)
            .field("lease_for", &self.lease_for)
            .field("poll_interval", &self.poll_interval)
            .field("backoff", &self.backoff)
            .field("job_timeout", &self.job_timeout)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner on `db` that leases jobs as `worker_id` (make it unique per server instance,
    /// e.g. host name and process id). Defaults: 60 s leases, polls every 500 ms when idle,
    /// backoff 1 s doubling to 1 h, handlers time out after 10 minutes.
    pub fn new(db: Db, worker_id: impl Into<String>) -> Self {
        Self {
            db,
            worker_id: worker_id.into(),
            handlers: HashMap::new(),
            schedules: Vec::new(),
            lease_for: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            backoff: Backoff::default(),
            job_timeout: Duration::from_secs(600),
            enqueued_windows: Mutex::new(HashMap::new()),
        }
    }

    /// Runs jobs of `kind` with `handler` (a second handler for the same kind replaces the first).
    pub fn handle(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// Periodic work (the reconciliation sweep): enqueues a job of `kind` once per `period`
    /// window (windows are aligned to the Unix epoch; at least one second). The dedupe key
    /// `"{kind}@{window start}"` makes every runner sharing the database enqueue it once per
    /// window between them. The payload is `{"window_start": "<RFC 3339>"}`; the job is due at
    /// the window's start and gets 3 attempts (the next window runs the work again anyway).
    pub fn every(mut self, kind: &str, period: Duration) -> Self {
        self.schedules.push(Schedule { kind: kind.to_owned(), period: period.max(MIN_PERIOD) });
        self
    }

    /// How long a leased job stays ours without a heartbeat (default 60 s; kept between 30 ms
    /// and one day). While a handler runs, the lease is extended every third of this; if the
    /// worker dies, the job is leased again this long after the last extension.
    pub fn lease_for(mut self, d: Duration) -> Self {
        self.lease_for = d.clamp(Duration::from_millis(30), Duration::from_secs(86_400));
        self
    }

    /// How long to sleep when no job is due (default 500 ms).
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// Delays between attempts of a failing job (default 1 s doubling to 1 h).
    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = b;
        self
    }

    /// How long a handler may run before it is cancelled and the job retried (default 10 min).
    pub fn job_timeout(mut self, d: Duration) -> Self {
        self.job_timeout = d;
        self
    }

    /// The worker id this runner leases jobs as.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Enqueues the periodic jobs (see [`every`](Self::every)) of the window `now` falls in,
    /// unless this runner already did; returns how many were newly enqueued (0 when another
    /// runner got there first).
    pub async fn enqueue_periodic(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut enqueued = 0;
        for schedule in &self.schedules {
            let window = period_window(now, schedule.period);
            if self.enqueued_window(&schedule.kind) == Some(window) {
                continue;
            }
            let window_text = window.to_rfc3339_opts(SecondsFormat::Millis, true);
            let job =
                NewJob::new(&schedule.kind, serde_json::json!({ "window_start": window_text }))
                    .run_at(window)
                    .max_attempts(PERIODIC_MAX_ATTEMPTS)
                    .dedupe_key(format!("{}@{window_text}", schedule.kind));
            if let Some(id) = enqueue(&self.db, job).await? {
                tracing::debug!(
                    job.id = %id,
                    job.kind = %schedule.kind,
                    worker = %self.worker_id,
                    window = %window_text,
                    "periodic job enqueued"
                );
                enqueued += 1;
            }
            self.enqueued_windows
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(schedule.kind.clone(), window);
        }
        Ok(enqueued)
    }

    fn enqueued_window(&self, kind: &str) -> Option<DateTime<Utc>> {
        self.enqueued_windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(kind)
            .copied()
    }

    /// Enqueues due periodic jobs, then leases one due job (pending and due, or running with an
    /// expired lease), runs its handler and records done, retry or failed. `None` if nothing
    /// was due. Errors are the database's; a handler's failure is recorded, not returned.
    pub async fn run_once(&self) -> Result<Option<JobId>> {
        if let Err(e) = self.enqueue_periodic(Utc::now()).await {
            tracing::warn!(worker = %self.worker_id, error = %e, "enqueueing periodic jobs failed");
        }
        let Some(job) = store::lease(&self.db, &self.worker_id, self.lease_for).await? else {
            return Ok(None);
        };
        let id = job.id.clone();
        self.execute(job).await?;
        Ok(Some(id))
    }

    async fn execute(&self, job: Job) -> Result<()> {
        let worker = self.worker_id.as_str();
        if job.attempts > job.max_attempts {
            // The last allowed attempt lost its lease (its worker died or stalled): give up
            // rather than let a job that kills its worker run forever.
            let error = format!(
                "gave up after {} attempts: the last one never finished (its worker stopped)",
                job.max_attempts
            );
            tracing::error!(job.id = %job.id, job.kind = %job.kind, worker, %error, "job failed");
            let applied = store::fail(&self.db, &job, worker, &error).await?;
            self.check_applied(&job, applied);
            return Ok(());
        }
        tracing::debug!(
            job.id = %job.id,
            job.kind = %job.kind,
            worker,
            attempt = job.attempts,
            max_attempts = job.max_attempts,
            "job started"
        );
        let outcome = match self.handlers.get(&job.kind) {
            Some(handler) => match self.supervise(Arc::clone(handler), &job).await {
                Some(outcome) => outcome,
                None => return Ok(()), // the lease was lost; the new owner records the outcome
            },
            None => Err(JobFailure::Retry(format!("no handler for kind {}", job.kind))),
        };
        self.record(&job, outcome).await
    }

    /// Runs the handler in its own task (a panic becomes a retry), extending the lease while it
    /// runs. `None` if the lease was lost meanwhile (the handler is then cancelled).
    async fn supervise(
        &self,
        handler: Arc<dyn JobHandler>,
        job: &Job,
    ) -> Option<Result<(), JobFailure>> {
        let worker = self.worker_id.as_str();
        let task_job = job.clone();
        let mut task = tokio::spawn(async move { handler.run(&task_job).await });
        let every = (self.lease_for / 3).max(Duration::from_millis(10));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let deadline = tokio::time::sleep(self.job_timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = &mut task => {
                    return Some(match joined {
                        Ok(outcome) => outcome,
                        Err(e) if e.is_panic() => Err(JobFailure::Retry(format!(
                            "handler panicked: {}",
                            panic_message(e.into_panic().as_ref())
                        ))),
                        Err(_) => Err(JobFailure::Retry("handler was cancelled".to_owned())),
                    });
                }
                _ = heartbeat.tick() => {
                    match store::extend_lease(&self.db, job, worker, self.lease_for).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(
                                job.id = %job.id,
                                job.kind = %job.kind,
                                worker,
                                "lost the lease of a running job (another worker took it over); \
                                 cancelling this run"
                            );
                            task.abort();
                            return None;
                        }
                        Err(e) => tracing::warn!(
                            job.id = %job.id,
                            job.kind = %job.kind,
                            worker,
                            error = %e,
                            "extending a job's lease failed"
                        ),
                    }
                }
                _ = &mut deadline => {
                    task.abort();
                    return Some(Err(JobFailure::Retry(format!(
                        "handler timed out after {:?}",
                        self.job_timeout
                    ))));
                }
            }
        }
    }

    async fn record(&self, job: &Job, outcome: Result<(), JobFailure>) -> Result<()> {
        let worker = self.worker_id.as_str();
        let applied = match outcome {
            Ok(()) => {
                tracing::info!(
                    job.id = %job.id,
                    job.kind = %job.kind,
                    worker,
                    attempt = job.attempts,
                    "job done"
                );
                store::complete(&self.db, job, worker).await?
            }
            Err(JobFailure::Retry(error)) if job.attempts < job.max_attempts => {
                let delay = self.backoff.jittered(job.attempts);
                let run_at = later(Utc::now(), delay);
                tracing::warn!(
                    job.id = %job.id,
                    job.kind = %job.kind,
                    worker,
                    attempt = job.attempts,
                    max_attempts = job.max_attempts,
                    retry_in = ?delay,
                    %error,
                    "job failed; will retry"
                );
                store::retry(&self.db, job, worker, &error, run_at).await?
            }
            Err(failure) => {
                let error = failure.message();
                let why = match failure {
                    JobFailure::Permanent(_) => "permanent failure",
                    JobFailure::Retry(_) => "attempts used up",
                };
                tracing::error!(
                    job.id = %job.id,
                    job.kind = %job.kind,
                    worker,
                    attempt = job.attempts,
                    max_attempts = job.max_attempts,
                    %error,
                    why,
                    "job failed for good"
                );
                store::fail(&self.db, job, worker, error).await?
            }
        };
        self.check_applied(job, applied);
        Ok(())
    }

    fn check_applied(&self, job: &Job, applied: bool) {
        if !applied {
            tracing::warn!(
                job.id = %job.id,
                job.kind = %job.kind,
                worker = %self.worker_id,
                attempt = job.attempts,
                "outcome not recorded: this worker's lease expired and another worker owns the job"
            );
        }
    }

    /// Runs in the background until `shutdown` turns true (or its sender is dropped): runs due
    /// jobs one after another and sleeps `poll_interval` when none is due or the database
    /// fails. A job in progress is finished before the loop stops. Never panics; errors are
    /// logged.
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let worker = self.worker_id.as_str();
            tracing::info!(worker, kinds = ?self.handlers.keys().collect::<Vec<_>>(), "job runner started");
            while !*shutdown.borrow_and_update() {
                match self.run_once().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(e) => tracing::error!(worker, error = %e, "job runner: database error"),
                }
                tokio::select! {
                    changed = shutdown.changed() => {
                        if changed.is_err() {
                            break; // the sender is gone: nobody can stop us any more, so stop
                        }
                    }
                    _ = tokio::time::sleep(self.poll_interval) => {}
                }
            }
            tracing::info!(worker, "job runner stopped");
        })
    }
}

/// The start of the `period`-long window (aligned to the Unix epoch) that `now` falls in.
pub fn period_window(now: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
    let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1);
    let start = now.timestamp_millis().div_euclid(period_ms) * period_ms;
    DateTime::from_timestamp_millis(start).unwrap_or(now)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap()
    }

    #[test]
    fn windows_align_to_the_epoch() {
        let hour = Duration::from_secs(3600);
        assert_eq!(period_window(at("2026-11-21T10:59:59.999Z"), hour), at("2026-11-21T10:00:00Z"));
        assert_eq!(period_window(at("2026-11-21T11:00:00Z"), hour), at("2026-11-21T11:00:00Z"));
        let five = Duration::from_secs(300);
        assert_eq!(period_window(at("2026-11-21T10:07:30Z"), five), at("2026-11-21T10:05:00Z"));
    }

    #[test]
    fn panic_messages_are_recovered() {
        let s: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(panic_message(s.as_ref()), "boom");
        let s: Box<dyn Any + Send> = Box::new(String::from("bang 7"));
        assert_eq!(panic_message(s.as_ref()), "bang 7");
        let s: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(s.as_ref()), "(no message)");
    }
}
