//! The durable job table and runner, on SQLite and (when `SETTLE_TEST_POSTGRES_URL` is set)
//! PostgreSQL: each test runs its body once per backend on a fresh database.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use settle::Db;
use settle::job::{
    self, Backoff, Job, JobFailure, JobHandler, JobId, JobStatus, NewJob, Runner, store,
};
use support::each_backend;

// ---------------------------------------------------------------------------------------------
// Handlers

/// Succeeds and remembers every job it saw.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Job>>,
}

impl Recorder {
    fn seen(&self) -> Vec<Job> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl JobHandler for Recorder {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        self.seen.lock().unwrap().push(job.clone());
        Ok(())
    }
}

/// Always fails, as a retry or permanently; counts calls.
struct Failing {
    permanent: bool,
    calls: AtomicUsize,
}

impl Failing {
    fn new(permanent: bool) -> Arc<Self> {
        Arc::new(Self { permanent, calls: AtomicUsize::new(0) })
    }
}

#[async_trait]
impl JobHandler for Failing {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let message = format!("gateway timed out (attempt {})", job.attempts);
        Err(if self.permanent {
            JobFailure::Permanent(message)
        } else {
            JobFailure::Retry(message)
        })
    }
}

/// Panics.
struct Panicking;

#[async_trait]
impl JobHandler for Panicking {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        panic!("boom in job {}", job.id);
    }
}

/// Takes its time, then succeeds; counts calls.
struct Slow {
    takes: Duration,
    calls: AtomicUsize,
}

impl Slow {
    fn new(takes: Duration) -> Arc<Self> {
        Arc::new(Self { takes, calls: AtomicUsize::new(0) })
    }
}

#[async_trait]
impl JobHandler for Slow {
    async fn run(&self, _job: &Job) -> Result<(), JobFailure> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.takes).await;
        Ok(())
    }
}

/// Records entries and exits per job, and every overlap (a job entered while already running).
#[derive(Default)]
struct Tracker {
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    running: HashMap<JobId, bool>,
    runs: HashMap<JobId, usize>,
    overlaps: Vec<JobId>,
    finished: usize,
}

#[async_trait]
impl JobHandler for Tracker {
    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        {
            let mut s = self.state.lock().unwrap();
            let running = s.running.entry(job.id.clone()).or_default();
            if *running {
                s.overlaps.push(job.id.clone());
            } else {
                *running = true;
            }
            *s.runs.entry(job.id.clone()).or_default() += 1;
        }
        let n = job.payload["n"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(n % 4)).await;
        let mut s = self.state.lock().unwrap();
        s.running.insert(job.id.clone(), false);
        s.finished += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

async fn status_of(db: &Db, id: &JobId) -> Result<(Job, JobStatus)> {
    job::get(db, id).await?.with_context(|| format!("job {id} is gone"))
}

async fn enqueue(db: &Db, job: NewJob) -> Result<JobId> {
    job::enqueue(db, job).await?.context("the job was not enqueued")
}

async fn jobs_of_kind(db: &Db, kind: &str) -> Result<Vec<Option<String>>> {
    let sql = "SELECT dedupe_key FROM jobs WHERE kind = $1 ORDER BY dedupe_key";
    Ok(settle::with_db!(db, pool => sqlx::query_scalar(sql).bind(kind).fetch_all(pool).await)?)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// `run_at` as far after `from` as the backoff said, within `slack` (jitter, clock reads,
/// PostgreSQL's microsecond rounding).
fn ensure_delay(
    run_at: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    delay: Duration,
    slack: Duration,
) -> Result<()> {
    let delay = TimeDelta::from_std(delay)?;
    let earliest = from + delay - TimeDelta::milliseconds(1);
    let latest = to + delay + TimeDelta::from_std(slack)?;
    ensure!(
        run_at >= earliest && run_at <= latest,
        "run_at {run_at} should be between {earliest} and {latest}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1. A job runs, its payload reaches the handler, it is marked done.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_runs_and_is_marked_done() -> Result<()> {
    each_backend(|t| async move {
        let payload = json!({"payment_id": "pay_123", "amount": 510000, "lines": [{"sku": "A"}]});
        let id = enqueue(t.db(), NewJob::new("webhook.deliver", payload.clone())).await?;
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Pending && job.attempts == 0, "new job: {status} {job:?}");

        let recorder = Arc::new(Recorder::default());
        let runner =
            Runner::new(t.db().clone(), "worker-1").handle("webhook.deliver", recorder.clone());
        ensure!(runner.run_once().await? == Some(id.clone()), "the job should run");

        let seen = recorder.seen();
        ensure!(seen.len() == 1, "handler ran {} times", seen.len());
        ensure!(seen[0].id == id && seen[0].payload == payload, "handler got {:?}", seen[0]);
        ensure!(seen[0].attempts == 1, "first run is attempt 1, got {}", seen[0].attempts);
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Done, "status {status}");
        ensure!(job.attempts == 1 && job.last_error.is_none(), "{job:?}");
        ensure!(runner.run_once().await?.is_none(), "a done job must not run again");
        let counts = job::counts(t.db()).await?;
        ensure!(counts.done == 1 && counts.pending == 0 && counts.running == 0, "{counts:?}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_waits_for_its_run_at() -> Result<()> {
    each_backend(|t| async move {
        let recorder = Arc::new(Recorder::default());
        let runner = Runner::new(t.db().clone(), "worker-1").handle("later", recorder.clone());
        let due = Utc::now() + TimeDelta::milliseconds(300);
        let id = enqueue(t.db(), NewJob::new("later", json!({})).run_at(due)).await?;
        ensure!(runner.run_once().await?.is_none(), "ran before its run_at");
        tokio::time::sleep(millis(350)).await;
        ensure!(runner.run_once().await? == Some(id), "should run once due");
        ensure!(recorder.seen().len() == 1, "handler should have run once");
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 2. Failures back off, count attempts, keep the last error, and end failed.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_job_backs_off_then_fails_after_max_attempts() -> Result<()> {
    each_backend(|t| async move {
        let backoff = Backoff { base: millis(200), cap: millis(300) };
        let handler = Failing::new(false);
        let runner = Runner::new(t.db().clone(), "worker-1")
            .handle("flaky", handler.clone())
            .backoff(backoff);
        let id = enqueue(t.db(), NewJob::new("flaky", json!({})).max_attempts(3)).await?;

        // Attempt 1: back off by base (200 ms, up to 10 % jitter).
        let before = Utc::now();
        ensure!(runner.run_once().await? == Some(id.clone()), "attempt 1 should run");
        let after = Utc::now();
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Pending, "after attempt 1: {status}");
        ensure!(job.attempts == 1, "attempts {}", job.attempts);
        ensure!(job.last_error.as_deref() == Some("gateway timed out (attempt 1)"), "{job:?}");
        ensure_delay(job.run_at, before, after, millis(200), millis(25))?;
        ensure!(runner.run_once().await?.is_none(), "ran again before its backoff passed");

        // Attempt 2: 400 ms would exceed the cap, so 300 ms.
        tokio::time::sleep((job.run_at - Utc::now()).to_std().unwrap_or_default() + millis(20))
            .await;
        let before = Utc::now();
        ensure!(runner.run_once().await? == Some(id.clone()), "attempt 2 should run");
        let after = Utc::now();
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Pending && job.attempts == 2, "after 2: {status} {job:?}");
        ensure!(job.last_error.as_deref() == Some("gateway timed out (attempt 2)"), "{job:?}");
        ensure_delay(job.run_at, before, after, millis(300), millis(5))?;

        // Attempt 3 is the last one.
        tokio::time::sleep((job.run_at - Utc::now()).to_std().unwrap_or_default() + millis(20))
            .await;
        ensure!(runner.run_once().await? == Some(id.clone()), "attempt 3 should run");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Failed && job.attempts == 3, "after 3: {status} {job:?}");
        ensure!(job.last_error.as_deref() == Some("gateway timed out (attempt 3)"), "{job:?}");
        tokio::time::sleep(millis(350)).await;
        ensure!(runner.run_once().await?.is_none(), "a failed job must not run again");
        ensure!(handler.calls.load(Ordering::SeqCst) == 3, "handler calls");
        ensure!(job::counts(t.db()).await?.failed == 1, "counts should show the failure");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_fails_at_once() -> Result<()> {
    each_backend(|t| async move {
        let handler = Failing::new(true);
        let runner = Runner::new(t.db().clone(), "worker-1").handle("doomed", handler.clone());
        let id = enqueue(t.db(), NewJob::new("doomed", json!({})).max_attempts(5)).await?;
        ensure!(runner.run_once().await? == Some(id.clone()), "should run");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Failed && job.attempts == 1, "{status} {job:?}");
        ensure!(job.last_error.as_deref() == Some("gateway timed out (attempt 1)"), "{job:?}");
        ensure!(runner.run_once().await?.is_none(), "a failed job must not run again");
        ensure!(handler.calls.load(Ordering::SeqCst) == 1, "handler calls");
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 3. Dedupe keys and transactions.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedupe_key_enqueues_once() -> Result<()> {
    each_backend(|t| async move {
        let job = NewJob::new("webhook.deliver", json!({"event": 1})).dedupe_key("pay_1:executed");
        let first = job::enqueue(t.db(), job.clone()).await?;
        let second = job::enqueue(t.db(), job.clone()).await?;
        ensure!(first.is_some() && second.is_none(), "got {first:?} then {second:?}");
        let recorder = Arc::new(Recorder::default());
        let runner = Runner::new(t.db().clone(), "w").handle("webhook.deliver", recorder.clone());
        ensure!(runner.run_once().await? == first, "the one job runs");
        ensure!(runner.run_once().await?.is_none(), "and nothing else");
        // The key stays taken after the job is done.
        ensure!(job::enqueue(t.db(), job.clone()).await?.is_none(), "re-enqueued a done key");
        // Jobs without a key never collide.
        let a = job::enqueue(t.db(), NewJob::new("webhook.deliver", json!({}))).await?;
        let b = job::enqueue(t.db(), NewJob::new("webhook.deliver", json!({}))).await?;
        ensure!(a.is_some() && b.is_some() && a != b, "keyless jobs: {a:?} {b:?}");
        ensure!(jobs_of_kind(t.db(), "webhook.deliver").await?.len() == 3, "three jobs in all");
        // Pruning finished jobs frees the key; pending jobs stay.
        let pruned = job::prune_finished(t.db(), Utc::now() + TimeDelta::seconds(1)).await?;
        ensure!(pruned == 1, "pruned {pruned}");
        ensure!(jobs_of_kind(t.db(), "webhook.deliver").await?.len() == 2, "pending jobs pruned");
        ensure!(job::enqueue(t.db(), job).await?.is_some(), "key still taken after pruning");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_in_follows_the_transaction() -> Result<()> {
    each_backend(|t| async move {
        let job = || NewJob::new("webhook.deliver", json!({"p": 1})).dedupe_key("pay_2:executed");

        // Rolled back (a Tx that is dropped without commit rolls back): no job.
        let mut tx = t.db().begin().await?;
        let id = job::enqueue_in(&mut tx, job()).await?.context("enqueued in tx")?;
        drop(tx);
        ensure!(job::get(t.db(), &id).await?.is_none(), "rolled-back job exists");
        ensure!(jobs_of_kind(t.db(), "webhook.deliver").await?.is_empty(), "jobs after rollback");

        // Committed: exactly one job, and a second transaction with the same key adds nothing.
        let mut tx = t.db().begin().await?;
        let id = job::enqueue_in(&mut tx, job()).await?.context("enqueued in tx")?;
        tx.commit().await?;
        let (_, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Pending, "committed job is {status}");
        let mut tx = t.db().begin().await?;
        ensure!(job::enqueue_in(&mut tx, job()).await?.is_none(), "duplicate key in tx");
        tx.commit().await?;
        let keys = jobs_of_kind(t.db(), "webhook.deliver").await?;
        ensure!(keys == vec![Some("pay_2:executed".to_owned())], "jobs: {keys:?}");
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 4. Leases: a dead worker's job runs again; its late result is ignored; live workers keep
//    their lease.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_workers_job_runs_again_and_its_late_result_is_ignored() -> Result<()> {
    each_backend(|t| async move {
        let id = enqueue(t.db(), NewJob::new("crashy", json!({"x": 1}))).await?;
        // The worker leases the job and dies before finishing it.
        let dead = store::lease(t.db(), "dead-worker", millis(300)).await?.context("lease")?;
        ensure!(dead.id == id && dead.attempts == 1, "leased {dead:?}");
        let (_, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Running, "leased job is {status}");

        let recorder = Arc::new(Recorder::default());
        let live = Runner::new(t.db().clone(), "live-worker").handle("crashy", recorder.clone());
        ensure!(live.run_once().await?.is_none(), "took a job whose lease is still valid");
        tokio::time::sleep(millis(400)).await;
        ensure!(live.run_once().await? == Some(id.clone()), "expired lease not taken over");
        ensure!(recorder.seen().len() == 1, "handler should run once");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Done && job.attempts == 2, "{status} {job:?}");

        // The dead worker comes back and reports: none of it may land.
        ensure!(!store::fail(t.db(), &dead, "dead-worker", "late failure").await?, "late fail");
        ensure!(!store::retry(t.db(), &dead, "dead-worker", "late", Utc::now()).await?, "retry");
        ensure!(!store::complete(t.db(), &dead, "dead-worker").await?, "late complete");
        ensure!(!store::extend_lease(t.db(), &dead, "dead-worker", millis(999)).await?, "extend");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Done && job.last_error.is_none(), "{status} {job:?}");

        // Even the same worker id can't record a stale lease's result: leases are told apart
        // by their attempt.
        let id = enqueue(t.db(), NewJob::new("crashy", json!({"x": 2}))).await?;
        let stale = store::lease(t.db(), "worker-9", millis(100)).await?.context("lease 1")?;
        tokio::time::sleep(millis(150)).await;
        let fresh = store::lease(t.db(), "worker-9", millis(60_000)).await?.context("lease 2")?;
        ensure!(stale.id == id && fresh.id == id && fresh.attempts == 2, "{stale:?} {fresh:?}");
        ensure!(!store::fail(t.db(), &stale, "worker-9", "stale").await?, "stale lease recorded");
        ensure!(store::complete(t.db(), &fresh, "worker-9").await?, "fresh lease refused");
        let (_, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Done, "{status}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_worker_keeps_its_lease_while_the_handler_runs() -> Result<()> {
    each_backend(|t| async move {
        let id = enqueue(t.db(), NewJob::new("long", json!({}))).await?;
        let slow = Slow::new(millis(700));
        let a = Arc::new(
            Runner::new(t.db().clone(), "worker-a")
                .handle("long", slow.clone())
                .lease_for(millis(150)),
        );
        let b = Runner::new(t.db().clone(), "worker-b").handle("long", slow.clone());
        let a_run = tokio::spawn({
            let a = a.clone();
            async move { a.run_once().await }
        });
        // Once A has leased the job (lease 150 ms, handler 700 ms), the heartbeat must keep B
        // away.
        let started = tokio::time::Instant::now();
        while slow.calls.load(Ordering::SeqCst) == 0 {
            ensure!(started.elapsed() < Duration::from_secs(5), "A never started the job");
            tokio::time::sleep(millis(5)).await;
        }
        let until = tokio::time::Instant::now() + millis(600);
        while tokio::time::Instant::now() < until {
            ensure!(b.run_once().await?.is_none(), "B took a job A is still running");
            tokio::time::sleep(millis(40)).await;
        }
        ensure!(a_run.await?? == Some(id.clone()), "A should finish the job");
        ensure!(slow.calls.load(Ordering::SeqCst) == 1, "handler ran more than once");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Done && job.attempts == 1, "{status} {job:?}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_whose_last_attempt_never_finished_fails() -> Result<()> {
    each_backend(|t| async move {
        let id = enqueue(t.db(), NewJob::new("poison", json!({})).max_attempts(1)).await?;
        store::lease(t.db(), "dead-worker", millis(50)).await?.context("lease")?;
        tokio::time::sleep(millis(100)).await;
        let recorder = Arc::new(Recorder::default());
        let runner = Runner::new(t.db().clone(), "w").handle("poison", recorder.clone());
        ensure!(runner.run_once().await? == Some(id.clone()), "expired job should be taken");
        ensure!(recorder.seen().is_empty(), "ran beyond max_attempts");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Failed, "{status}");
        let error = job.last_error.unwrap_or_default();
        ensure!(error.contains("gave up after 1 attempts"), "last_error {error:?}");
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 5. Restarts.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_survive_a_restart() -> Result<()> {
    each_backend(|t| async move {
        let pending = enqueue(t.db(), NewJob::new("survivor", json!({"n": 1}))).await?;
        let id = enqueue(t.db(), NewJob::new("survivor", json!({"n": 2}))).await?;
        // The old instance was running this one when it stopped.
        let leased = store::lease(t.db(), "old-instance", millis(200)).await?.context("lease")?;
        ensure!(leased.id == pending, "leased the oldest job first");
        t.db().close().await;

        let db = t.connect().await?;
        tokio::time::sleep(millis(250)).await;
        let recorder = Arc::new(Recorder::default());
        let runner = Runner::new(db.clone(), "new-instance").handle("survivor", recorder.clone());
        let mut ran = vec![
            runner.run_once().await?.context("first job")?,
            runner.run_once().await?.context("second job")?,
        ];
        ran.sort();
        let mut expected = vec![pending.clone(), id.clone()];
        expected.sort();
        ensure!(ran == expected, "ran {ran:?}");
        let mut payloads: Vec<_> = recorder.seen().iter().map(|j| j.payload["n"].clone()).collect();
        payloads.sort_by_key(|n| n.as_u64());
        ensure!(payloads == vec![json!(1), json!(2)], "payloads {payloads:?}");
        for id in [&pending, &id] {
            ensure!(status_of(&db, id).await?.1 == JobStatus::Done, "job {id} not done");
        }
        db.close().await;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 6. Two instances, one table: every job runs exactly once, never concurrently.
//
// Also run on SQLite: two pools on one file are two processes as far as SQLite is concerned,
// and the lease statement holds its write lock, so the guarantee is the same (one instance is
// what we support there, but two must not break it).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_run_every_job_exactly_once() -> Result<()> {
    const JOBS: usize = 200;
    const LOOPS_PER_INSTANCE: usize = 4;
    each_backend(|t| async move {
        let mut ids = Vec::new();
        for n in 0..JOBS {
            ids.push(enqueue(t.db(), NewJob::new("count", json!({"n": n}))).await?);
        }
        let tracker = Arc::new(Tracker::default());
        let mut instances = Vec::new();
        for name in ["instance-a", "instance-b"] {
            let db = t.connect().await?; // its own pool, as a separate server would have
            instances.push(Arc::new(
                Runner::new(db, name).handle("count", tracker.clone()).lease_for(millis(5_000)),
            ));
        }
        let ran_by: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let mut loops = Vec::new();
        for runner in &instances {
            for _ in 0..LOOPS_PER_INSTANCE {
                let (runner, tracker, ran_by) = (runner.clone(), tracker.clone(), ran_by.clone());
                loops.push(tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                    loop {
                        match runner.run_once().await? {
                            Some(_) => {
                                *ran_by
                                    .lock()
                                    .unwrap()
                                    .entry(runner.worker_id().to_owned())
                                    .or_default() += 1;
                            }
                            None if tracker.state.lock().unwrap().finished >= JOBS => break,
                            None => tokio::time::sleep(millis(2)).await,
                        }
                        if tokio::time::Instant::now() > deadline {
                            bail!("jobs still unfinished after 60 s");
                        }
                    }
                    anyhow::Ok(())
                }));
            }
        }
        for task in loops {
            task.await??;
        }

        {
            let state = tracker.state.lock().unwrap();
            ensure!(
                state.overlaps.is_empty(),
                "{} overlapping runs, e.g. {:?}",
                state.overlaps.len(),
                &state.overlaps[..state.overlaps.len().min(5)]
            );
            for id in &ids {
                let runs = state.runs.get(id).copied().unwrap_or(0);
                ensure!(runs == 1, "job {id} ran {runs} times");
            }
            ensure!(state.runs.len() == JOBS, "ran {} distinct jobs", state.runs.len());
        }
        let counts = job::counts(t.db()).await?;
        ensure!(counts.done == JOBS as i64 && counts.pending + counts.running == 0, "{counts:?}");
        let ran_by = ran_by.lock().unwrap().clone();
        ensure!(ran_by.values().sum::<usize>() == JOBS, "ran by {ran_by:?}");
        ensure!(ran_by.len() == 2, "both instances should have run jobs: {ran_by:?}");
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 7. Periodic work: enqueued once per window across instances.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_job_is_enqueued_once_per_window() -> Result<()> {
    each_backend(|t| async move {
        let hour = Duration::from_secs(3600);
        let recorder = Arc::new(Recorder::default());
        let instance = |name: &'static str, db: Db| {
            Runner::new(db, name).handle("reconcile", recorder.clone()).every("reconcile", hour)
        };
        let a = instance("instance-a", t.db().clone());
        let b = instance("instance-b", t.connect().await?);

        let hour_delta = TimeDelta::hours(1);
        let two_hours_ago = Utc::now() - TimeDelta::hours(2);
        let window = |at| job::period_window(at, hour);
        let (x, y) =
            tokio::join!(a.enqueue_periodic(two_hours_ago), b.enqueue_periodic(two_hours_ago));
        ensure!(x? + y? == 1, "one enqueue for the window between the two instances");
        // Later in the same window: nothing new.
        let same_window = window(two_hours_ago) + TimeDelta::minutes(59);
        let (x, y) = tokio::join!(a.enqueue_periodic(same_window), b.enqueue_periodic(same_window));
        ensure!(x? + y? == 0, "enqueued twice in one window");
        // The next window: one more.
        let next = two_hours_ago + hour_delta;
        let (x, y) = tokio::join!(b.enqueue_periodic(next), a.enqueue_periodic(next));
        ensure!(x? + y? == 1, "one enqueue for the next window");

        // Both instances run (run_once also enqueues the current window): each window's job
        // runs once.
        let started = Utc::now();
        let mut ran = 0;
        for _ in 0..10 {
            let (x, y) = tokio::join!(a.run_once(), b.run_once());
            ran += usize::from(x?.is_some()) + usize::from(y?.is_some());
        }
        let key = |at: DateTime<Utc>| {
            let start = window(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            Some(format!("reconcile@{start}"))
        };
        // (The current window is read before and after, in case an hour began meanwhile.)
        let mut expected = vec![key(two_hours_ago), key(next), key(started), key(Utc::now())];
        expected.sort();
        expected.dedup();
        let keys = jobs_of_kind(t.db(), "reconcile").await?;
        ensure!(keys == expected, "jobs: {keys:?}, expected {expected:?}");
        let seen = recorder.seen();
        ensure!(ran == keys.len() && seen.len() == keys.len(), "ran {ran}, handler saw {seen:?}");
        ensure!(seen.iter().all(|j| j.payload["window_start"].is_string()), "payloads {seen:?}");

        // A restarted instance (empty memory) still finds this window's job already there.
        let c = instance("instance-c", t.db().clone());
        ensure!(c.enqueue_periodic(Utc::now()).await? == 0, "restart re-enqueued the window");
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// 8. A panic, an unknown kind and a timeout are retries with an error, not a dead runner.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_handler_becomes_a_retry() -> Result<()> {
    each_backend(|t| async move {
        let runner = Runner::new(t.db().clone(), "w").handle("explosive", Arc::new(Panicking));
        let id = enqueue(t.db(), NewJob::new("explosive", json!({}))).await?;
        let before = Utc::now();
        ensure!(runner.run_once().await? == Some(id.clone()), "should run");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Pending && job.attempts == 1, "{status} {job:?}");
        let error = job.last_error.clone().unwrap_or_default();
        ensure!(error == format!("handler panicked: boom in job {id}"), "last_error {error:?}");
        ensure!(job.run_at >= before + TimeDelta::milliseconds(999), "not backed off: {job:?}");
        // The runner still works.
        let ok = enqueue(t.db(), NewJob::new("explosive-not", json!({}))).await?;
        let runner = runner.handle("explosive-not", Arc::new(Recorder::default()));
        ensure!(runner.run_once().await? == Some(ok), "runner should go on after a panic");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_without_handler_is_retried_with_an_error() -> Result<()> {
    each_backend(|t| async move {
        let runner =
            Runner::new(t.db().clone(), "w").handle("known", Arc::new(Recorder::default()));
        let id = enqueue(t.db(), NewJob::new("mystery", json!({}))).await?;
        let before = Utc::now();
        ensure!(runner.run_once().await? == Some(id.clone()), "should be leased");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Pending && job.attempts == 1, "{status} {job:?}");
        ensure!(job.last_error.as_deref() == Some("no handler for kind mystery"), "{job:?}");
        ensure!(job.run_at >= before + TimeDelta::milliseconds(999), "not backed off: {job:?}");
        // Another instance that knows the kind runs it once it is due.
        let recorder = Arc::new(Recorder::default());
        let other = Runner::new(t.db().clone(), "w2").handle("mystery", recorder.clone());
        tokio::time::sleep(millis(1_200)).await;
        ensure!(other.run_once().await? == Some(id.clone()), "the other instance should run it");
        ensure!(status_of(t.db(), &id).await?.1 == JobStatus::Done, "not done");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_that_hangs_times_out_and_is_retried() -> Result<()> {
    each_backend(|t| async move {
        let slow = Slow::new(Duration::from_secs(30));
        let runner =
            Runner::new(t.db().clone(), "w").handle("hang", slow.clone()).job_timeout(millis(200));
        let id = enqueue(t.db(), NewJob::new("hang", json!({}))).await?;
        let started = tokio::time::Instant::now();
        ensure!(runner.run_once().await? == Some(id.clone()), "should run");
        ensure!(started.elapsed() < Duration::from_secs(5), "the timeout did not stop it");
        let (job, status) = status_of(t.db(), &id).await?;
        ensure!(status == JobStatus::Pending && job.attempts == 1, "{status} {job:?}");
        let error = job.last_error.unwrap_or_default();
        ensure!(error.starts_with("handler timed out"), "last_error {error:?}");
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The background loop.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_runner_runs_jobs_until_shutdown() -> Result<()> {
    each_backend(|t| async move {
        let recorder = Arc::new(Recorder::default());
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let handle = Runner::new(t.db().clone(), "bg")
            .handle("bg", recorder.clone())
            .poll_interval(millis(20))
            .spawn(shutdown);
        for n in 0..3 {
            enqueue(t.db(), NewJob::new("bg", json!({ "n": n }))).await?;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while job::counts(t.db()).await?.done < 3 {
            ensure!(tokio::time::Instant::now() < deadline, "jobs not run by the loop");
            tokio::time::sleep(millis(20)).await;
        }
        stop.send(true)?;
        tokio::time::timeout(Duration::from_secs(5), handle).await.context("runner stop")??;
        // Stopped: a new job stays pending.
        let id = enqueue(t.db(), NewJob::new("bg", json!({}))).await?;
        tokio::time::sleep(millis(100)).await;
        ensure!(status_of(t.db(), &id).await?.1 == JobStatus::Pending, "ran after shutdown");
        ensure!(recorder.seen().len() == 3, "handler runs");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_new_jobs_are_refused() -> Result<()> {
    each_backend(|t| async move {
        let mut no_kind = NewJob::new(" ", json!({}));
        ensure!(job::enqueue(t.db(), no_kind.clone()).await.is_err(), "empty kind accepted");
        no_kind.kind = "k".into();
        no_kind.max_attempts = 0;
        ensure!(job::enqueue(t.db(), no_kind).await.is_err(), "zero attempts accepted");
        ensure!(job::counts(t.db()).await? == job::JobCounts::default(), "something was stored");
        Ok(())
    })
    .await
}
