//! The `jobs` table: enqueueing, leasing and recording outcomes.
//!
//! The lease functions ([`lease`], [`extend_lease`], [`complete`], [`retry`], [`fail`]) are what
//! [`Runner`](super::Runner) is built from; they are public for tools and tests. A lease is
//! identified by the job id, the worker id and the job's `attempts` when it was leased (every
//! lease increments `attempts`), so a worker that re-leases its own expired job can't have the
//! stale execution's result recorded either.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Job, JobCounts, JobId, JobStatus, NewJob, later};
use crate::db::{Backend, Db, Tx};
use crate::error::{Error, Result};
use crate::text_enum::stored;
use crate::{with_db, with_tx};

#[derive(sqlx::FromRow)]
struct JobRow {
    id: JobId,
    kind: String,
    payload: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    run_at: DateTime<Utc>,
    last_error: Option<String>,
}

impl JobRow {
    fn into_job(self) -> Result<(Job, JobStatus)> {
        let payload = serde_json::from_str(&self.payload).map_err(|e| {
            Error::Internal(format!("stored payload of job {} is not JSON: {e}", self.id))
        })?;
        let status = stored("jobs", &self.status)?;
        let job = Job {
            id: self.id,
            kind: self.kind,
            payload,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            run_at: self.run_at,
            last_error: self.last_error,
        };
        Ok((job, status))
    }
}

const JOB_COLUMNS: &str = "id, kind, payload, status, attempts, max_attempts, run_at, last_error";

const INSERT_JOB: &str = "INSERT INTO jobs (id, kind, payload, dedupe_key, status, run_at, attempts,
                              max_attempts, last_error, lease_owner, lease_expires_at, created_at, updated_at)
                          VALUES ($1, $2, $3, $4, 'pending', $5, 0, $6, NULL, NULL, NULL, $7, $7)
                          ON CONFLICT (dedupe_key) DO NOTHING";

/// A validated job, ready to bind.
struct Insert {
    id: JobId,
    kind: String,
    payload: String,
    dedupe_key: Option<String>,
    run_at: DateTime<Utc>,
    max_attempts: i64,
    now: DateTime<Utc>,
}

impl Insert {
    fn prepare(job: NewJob) -> Result<Insert> {
        let kind = job.kind.trim().to_owned();
        if kind.is_empty() {
            return Err(Error::invalid("kind", "is required"));
        }
        if job.max_attempts < 1 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        let payload = serde_json::to_string(&job.payload)
            .map_err(|e| Error::Internal(format!("job payload does not serialise: {e}")))?;
        Ok(Insert {
            id: JobId::generate(),
            kind,
            payload,
            dedupe_key: job.dedupe_key,
            run_at: job.run_at,
            max_attempts: job.max_attempts,
            now: Utc::now(),
        })
    }

    fn log(self, inserted: u64) -> Option<JobId> {
        if inserted == 0 {
            tracing::debug!(
                job.kind = %self.kind,
                job.dedupe_key = self.dedupe_key.as_deref().unwrap_or(""),
                "job already enqueued under this dedupe key"
            );
            return None;
        }
        tracing::debug!(job.id = %self.id, job.kind = %self.kind, run_at = %self.run_at, "job enqueued");
        Some(self.id)
    }
}

/// Binds an [`Insert`] to [`INSERT_JOB`] and runs it on `$executor`; rows inserted.
macro_rules! insert_job {
    ($insert:expr, $executor:expr) => {
        sqlx::query(INSERT_JOB)
            .bind(&$insert.id)
            .bind(&$insert.kind)
            .bind(&$insert.payload)
            .bind(&$insert.dedupe_key)
            .bind($insert.run_at)
            .bind($insert.max_attempts)
            .bind($insert.now)
            .execute($executor)
            .await
            .map(|r| r.rows_affected())
    };
}

/// Enqueues a job. `None` if a job with the same dedupe key already exists.
pub async fn enqueue(db: &Db, job: NewJob) -> Result<Option<JobId>> {
    let insert = Insert::prepare(job)?;
    let inserted = with_db!(db, pool => insert_job!(insert, pool))?;
    Ok(insert.log(inserted))
}

/// Enqueues a job inside the caller's transaction: it exists only if the transaction commits
/// (a state change and the webhook announcing it happen together or not at all). `None` if a
/// job with the same dedupe key already exists.
pub async fn enqueue_in(tx: &mut Tx, job: NewJob) -> Result<Option<JobId>> {
    let insert = Insert::prepare(job)?;
    let inserted = with_tx!(tx, conn => insert_job!(insert, conn))?;
    Ok(insert.log(inserted))
}

/// A job and its status, or `None` if there is no such job.
pub async fn get(db: &Db, id: &JobId) -> Result<Option<(Job, JobStatus)>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    let row: Option<JobRow> =
        with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    row.map(JobRow::into_job).transpose()
}

/// How many jobs are pending, running, done and failed.
pub async fn counts(db: &Db) -> Result<JobCounts> {
    let sql = "SELECT status, COUNT(*) FROM jobs GROUP BY status";
    let rows: Vec<(String, i64)> = with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
    let mut counts = JobCounts::default();
    for (status, n) in rows {
        match stored::<JobStatus>("jobs", &status)? {
            JobStatus::Pending => counts.pending = n,
            JobStatus::Running => counts.running = n,
            JobStatus::Done => counts.done = n,
            JobStatus::Failed => counts.failed = n,
        }
    }
    Ok(counts)
}

/// How many jobs are due and waiting for a worker at `now`, and since when the oldest of them
/// is due (a range scan of the `jobs_due` index; read at each metrics scrape).
pub async fn waiting(db: &Db, now: DateTime<Utc>) -> Result<(i64, Option<DateTime<Utc>>)> {
    let sql = "SELECT COUNT(*), MIN(run_at) FROM jobs WHERE status = 'pending' AND run_at <= $1";
    let row: (i64, Option<DateTime<Utc>>) =
        with_db!(db, pool => sqlx::query_as(sql).bind(now).fetch_one(pool).await)?;
    Ok(row)
}

/// Deletes done and failed jobs last updated before `before` (their dedupe keys become free
/// again); returns how many were deleted.
pub async fn prune_finished(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    let sql = "DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated_at < $1";
    let deleted = with_db!(db, pool => sqlx::query(sql)
        .bind(before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(deleted)
}

/// Picks a due job: pending with `run_at` passed, or running with an expired lease (its worker
/// died). `{lock}` is `FOR UPDATE SKIP LOCKED` on PostgreSQL, nothing on SQLite.
const LEASE_JOB: &str = "UPDATE jobs
    SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1,
        updated_at = $3
    WHERE id = (
        SELECT id FROM jobs
        WHERE (status = 'pending' AND run_at <= $3)
           OR (status = 'running' AND lease_expires_at <= $3)
        ORDER BY run_at, id
        LIMIT 1 {lock})
    RETURNING {columns}";

/// Leases one due job to `worker` for `lease_for`: in one statement, sets it running, owned by
/// `worker` until now + `lease_for`, and counts the attempt. `None` if nothing is due.
///
/// On PostgreSQL the row is picked with `FOR UPDATE SKIP LOCKED`, so concurrent workers (other
/// server instances) never lease the same job; on SQLite the statement holds the write lock.
pub async fn lease(db: &Db, worker: &str, lease_for: Duration) -> Result<Option<Job>> {
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = LEASE_JOB.replace("{lock}", lock).replace("{columns}", JOB_COLUMNS);
    let now = Utc::now();
    let row: Option<JobRow> = with_db!(db, pool => sqlx::query_as(&sql)
        .bind(worker)
        .bind(later(now, lease_for))
        .bind(now)
        .fetch_optional(pool)
        .await)?;
    let Some(row) = row else { return Ok(None) };
    let (id, attempts) = (row.id.clone(), row.attempts);
    match row.into_job() {
        Ok((job, _)) => Ok(Some(job)),
        Err(e) => {
            // A row we can't read would be leased again and again: fail it for good.
            tracing::error!(job.id = %id, error = %e, "leased a job that can't be read; failing it");
            let sql = "UPDATE jobs SET status = 'failed', last_error = $1, lease_expires_at = NULL,
                       updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND attempts = $5";
            with_db!(db, pool => sqlx::query(sql)
                .bind(e.to_string())
                .bind(Utc::now())
                .bind(&id)
                .bind(worker)
                .bind(attempts)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
            Err(e)
        }
    }
}

/// The condition every lease-holder update carries: the row is still running under this lease.
const HELD: &str = "id = $1 AND lease_owner = $2 AND attempts = $3 AND status = 'running'";

/// Runs an update of a leased row (`$1..$3` are the lease, `$4..` the given values) and answers
/// whether the lease was still held.
macro_rules! update_held {
    ($db:expr, $job:expr, $worker:expr, $set:expr $(, $value:expr)* $(,)?) => {{
        let sql = format!("UPDATE jobs SET {} WHERE {HELD}", $set);
        let updated = with_db!($db, pool => sqlx::query(&sql)
            .bind(&$job.id)
            .bind($worker)
            .bind($job.attempts)
            $(.bind($value))*
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(updated > 0)
    }};
}

/// Pushes the lease of a job `worker` is running out to now + `lease_for`. `false` if the lease
/// is no longer held (it expired and another worker took the job).
pub async fn extend_lease(db: &Db, job: &Job, worker: &str, lease_for: Duration) -> Result<bool> {
    let now = Utc::now();
    update_held!(
        db,
        job,
        worker,
        "lease_expires_at = $4, updated_at = $5",
        later(now, lease_for),
        now
    )
}

/// Marks a leased job done. `false` (and nothing changes) if `worker` no longer holds the lease.
pub async fn complete(db: &Db, job: &Job, worker: &str) -> Result<bool> {
    update_held!(
        db,
        job,
        worker,
        "status = 'done', lease_expires_at = NULL, updated_at = $4",
        Utc::now()
    )
}

/// Puts a leased job back to pending until `run_at`, recording `error`. `false` (and nothing
/// changes) if `worker` no longer holds the lease.
pub async fn retry(
    db: &Db,
    job: &Job,
    worker: &str,
    error: &str,
    run_at: DateTime<Utc>,
) -> Result<bool> {
    update_held!(
        db,
        job,
        worker,
        "status = 'pending', run_at = $4, last_error = $5, lease_expires_at = NULL, updated_at = $6",
        run_at,
        error,
        Utc::now()
    )
}

/// Marks a leased job failed for good, recording `error`. `false` (and nothing changes) if
/// `worker` no longer holds the lease.
pub async fn fail(db: &Db, job: &Job, worker: &str, error: &str) -> Result<bool> {
    update_held!(
        db,
        job,
        worker,
        "status = 'failed', last_error = $4, lease_expires_at = NULL, updated_at = $5",
        error,
        Utc::now()
    )
}
