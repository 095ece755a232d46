//! Login throttling, per account and per client address.
//!
//! Attempts are stored in the database rather than in memory so the limits hold when several
//! server instances share one database. Only failures count; a success does not reset the
//! window (otherwise an attacker holding one account could keep resetting another's count).

use chrono::{DateTime, Duration, Utc};

use crate::account::Email;
use crate::db::Db;
use crate::error::Result;
use crate::with_db;

/// How many failures, over what window, lock an account or an address out.
#[derive(Clone, Copy, Debug)]
pub struct ThrottlePolicy {
    /// Failed attempts on one account within the window before it is refused.
    pub per_account: i64,
    /// Failed attempts from one client address within the window before it is refused.
    pub per_client: i64,
    /// The window, which is also how long a lock-out lasts at most.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy { per_account: 5, per_client: 20, window: Duration::minutes(15) }
    }
}

/// Records one attempt.
pub async fn record_attempt(db: &Db, email: &str, client_ip: &str, succeeded: bool) -> Result<()> {
    let sql = "INSERT INTO login_attempts (email, client_ip, succeeded, attempted_at) VALUES ($1, $2, $3, $4)";
    with_db!(db, pool => sqlx::query(sql)
        .bind(email)
        .bind(client_ip)
        .bind(succeeded)
        .bind(Utc::now())
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Seconds until another attempt may be made for this account from this address, or `None`
/// if an attempt may be made now.
pub async fn retry_after(
    db: &Db,
    policy: &ThrottlePolicy,
    email: &Email,
    client_ip: &str,
) -> Result<Option<u64>> {
    let since = Utc::now() - policy.window;
    let by_account = failures_since(db, "email", email.as_str(), since).await?;
    let by_client = failures_since(db, "client_ip", client_ip, since).await?;
    let locked_since = match (by_account, by_client) {
        ((n, Some(oldest)), _) if n >= policy.per_account => Some(oldest),
        (_, (n, Some(oldest))) if n >= policy.per_client => Some(oldest),
        _ => None,
    };
    Ok(locked_since.map(|oldest| {
        let free_at = oldest + policy.window;
        (free_at - Utc::now()).num_seconds().max(1) as u64
    }))
}

/// Number of failures since `since` keyed by `column`, and the oldest of them.
async fn failures_since(
    db: &Db,
    column: &'static str,
    key: &str,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    // `column` is one of two constants above, never input.
    let sql = format!(
        "SELECT COUNT(*), MIN(attempted_at) FROM login_attempts
         WHERE {column} = $1 AND NOT succeeded AND attempted_at > $2"
    );
    let row: (i64, Option<DateTime<Utc>>) =
        with_db!(db, pool => sqlx::query_as(&sql).bind(key).bind(since).fetch_one(pool).await)?;
    Ok(row)
}

/// Deletes attempts older than the window (run periodically).
pub async fn prune(db: &Db, policy: &ThrottlePolicy) -> Result<u64> {
    let before = Utc::now() - policy.window;
    let done = with_db!(db, pool => sqlx::query("DELETE FROM login_attempts WHERE attempted_at < $1")
        .bind(before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done)
}
