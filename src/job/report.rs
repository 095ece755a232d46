//! The admin console's view of the durable job queue: counts by kind and state, the job
//! waiting longest, failures with their last error (keyset-paged), and "retry now".
//! Every query is served by an index of `jobs` (migration 22 adds the kind and failure ones).

use chrono::{DateTime, Utc};

use super::{JobId, JobStatus};
use crate::access::Viewer;
use crate::audit::{self, Actor};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::text_enum::stored;
use crate::{with_db, with_tx};

/// Failures shown per page.
pub const PAGE_SIZE: i64 = 50;

/// The console is staff's: anyone else is refused before a query runs.
fn staff_only(viewer: &Viewer) -> Result<()> {
    match viewer {
        Viewer::Staff => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

/// How many jobs of one kind are in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindCount {
    /// The job kind (`webhook.deliver`, `payment.reconcile`, …).
    pub kind: String,
    /// The state.
    pub status: JobStatus,
    /// How many.
    pub count: i64,
    /// The earliest due time among them.
    pub earliest_run_at: Option<DateTime<Utc>>,
}

/// Counts by kind and state, by kind then state (an index-only walk of `jobs_by_kind`).
pub async fn counts_by_kind(db: &Db, viewer: &Viewer) -> Result<Vec<KindCount>> {
    staff_only(viewer)?;
    let sql = "SELECT kind, status, COUNT(*), MIN(run_at) FROM jobs GROUP BY kind, status ORDER BY kind, status";
    let rows: Vec<(String, String, i64, Option<DateTime<Utc>>)> =
        with_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
    rows.into_iter()
        .map(|(kind, status, count, earliest_run_at)| {
            Ok(KindCount { kind, status: stored("jobs", &status)?, count, earliest_run_at })
        })
        .collect()
}

/// A job as the console lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobLine {
    /// Its id.
    pub id: JobId,
    /// Its kind.
    pub kind: String,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// When it was (or is) due.
    pub run_at: DateTime<Utc>,
    /// The last failed attempt's error.
    pub last_error: Option<String>,
    /// When it last changed (for a failed job: when it failed).
    pub updated_at: DateTime<Utc>,
    /// Its payload, as stored (JSON).
    pub payload: String,
}

const LINE_COLUMNS: &str =
    "id, kind, attempts, max_attempts, run_at, last_error, updated_at, payload";

/// The job that has waited longest: pending and due since the earliest time (`jobs_due`).
pub async fn oldest_waiting(
    db: &Db,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> Result<Option<JobLine>> {
    staff_only(viewer)?;
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM jobs WHERE status = 'pending' AND run_at <= $1 ORDER BY run_at, id LIMIT 1"
    );
    Ok(with_db!(db, pool => sqlx::query_as(&sql).bind(now).fetch_optional(pool).await)?)
}

/// Where a page of failures starts: after the failure that failed at `at` with id `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The last shown failure's `updated_at`.
    pub at: DateTime<Utc>,
    /// Its id.
    pub id: JobId,
}

/// Failed jobs, most recently failed first, after `after` (keyset on `(updated_at, id)`).
pub async fn failures(
    db: &Db,
    viewer: &Viewer,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<JobLine>> {
    staff_only(viewer)?;
    let rows: Vec<JobLine> = match after {
        Some(cursor) => {
            let sql = format!(
                "SELECT {LINE_COLUMNS} FROM jobs WHERE status = 'failed'
                   AND (updated_at < $1 OR (updated_at = $1 AND id < $2))
                 ORDER BY updated_at DESC, id DESC LIMIT $3"
            );
            with_db!(db, pool => sqlx::query_as(&sql)
                .bind(cursor.at)
                .bind(&cursor.id)
                .bind(limit)
                .fetch_all(pool)
                .await)?
        }
        None => {
            let sql = format!(
                "SELECT {LINE_COLUMNS} FROM jobs WHERE status = 'failed'
                 ORDER BY updated_at DESC, id DESC LIMIT $1"
            );
            with_db!(db, pool => sqlx::query_as(&sql).bind(limit).fetch_all(pool).await)?
        }
    };
    Ok(rows)
}

/// Puts failed job `id` back in the queue, due now, with one more attempt allowed (its history
/// of attempts and its last error stay), audited in the same transaction. Refused for a job
/// that hasn't failed.
pub async fn retry_now(db: &Db, viewer: &Viewer, actor: &Actor, id: &JobId) -> Result<()> {
    staff_only(viewer)?;
    let mut tx = db.begin().await?;
    let now = Utc::now();
    let sql = "UPDATE jobs SET status = 'pending', run_at = $2, max_attempts = attempts + 1,
                   lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
               WHERE id = $1 AND status = 'failed' RETURNING kind";
    let kind: Option<String> = with_tx!(&mut tx, conn => sqlx::query_scalar(sql)
        .bind(id)
        .bind(now)
        .fetch_optional(conn)
        .await)?;
    let Some(kind) = kind else {
        let sql = "SELECT status FROM jobs WHERE id = $1";
        let status: Option<String> =
            with_tx!(&mut tx, conn => sqlx::query_scalar(sql).bind(id).fetch_optional(conn).await)?;
        return Err(match status {
            None => Error::NotFound("job"),
            Some(s) => Error::Conflict(format!("this job is {s}, not failed")),
        });
    };
    let detail = format!("{kind} job put back in the queue, due now");
    audit::record_in(&mut tx, actor, "job.retry", &format!("job:{id}"), &detail).await?;
    tx.commit().await?;
    Ok(())
}
