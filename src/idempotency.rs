//! Idempotency keys with Stripe's semantics, for every request that can move money.
//!
//! The first request with a key runs and its response is stored; the same key with the same
//! request gets that response again; the same key with a different request is refused (422);
//! a duplicate arriving while the first still runs is refused (409). The key's row is claimed
//! with an insert on the primary key, so the rule holds across server instances sharing one
//! database. A first request that crashed frees its key after `lock_for`. Keys are kept at least
//! 24 hours.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::with_db;

/// How long keys are kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A response stored for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body as sent.
    pub body: String,
}

/// What to do with a request carrying a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First time: run it, then [`finish`] (or [`release`] if it failed before doing anything).
    Run,
    /// Seen and answered: send this again.
    Replay(StoredResponse),
    /// The same key was used for a different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// The fingerprint of a request: method, path and body.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b" ");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Validates a client's key: 1 to 255 visible ASCII characters.
pub fn parse_key(raw: &str) -> Result<String> {
    let key = raw.trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
    }
    Ok(key.to_owned())
}

/// A stored key: request hash, response status and body (once answered), lock expiry.
type KeyRow = (String, Option<i64>, Option<String>, DateTime<Utc>);

/// Claims `key` in `scope` (the caller: merchant or user) for a request with `fingerprint`.
pub async fn claim(
    db: &Db,
    scope: &str,
    key: &str,
    fingerprint: &str,
    lock_for: Duration,
) -> Result<Claim> {
    let now = Utc::now();
    let locked_until = now + lock_for;
    let insert = "INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body, created_at, locked_until)
                  VALUES ($1, $2, $3, NULL, NULL, $4, $5) ON CONFLICT DO NOTHING";
    let inserted = with_db!(db, pool => sqlx::query(insert)
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .bind(locked_until)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if inserted == 1 {
        return Ok(Claim::Run);
    }
    let select = "SELECT request_hash, response_status, response_body, locked_until FROM idempotency_keys WHERE scope = $1 AND key = $2";
    let row: Option<KeyRow> = with_db!(db, pool => sqlx::query_as(select).bind(scope).bind(key).fetch_optional(pool).await)?;
    let Some((hash, status, body, held_until)) = row else {
        // Pruned between the two statements: claim again.
        return Box::pin(claim(db, scope, key, fingerprint, lock_for)).await;
    };
    if hash != fingerprint {
        return Ok(Claim::Mismatch);
    }
    if let Some(status) = status {
        let status = u16::try_from(status)
            .map_err(|_| Error::Internal(format!("stored status {status}")))?;
        return Ok(Claim::Replay(StoredResponse { status, body: body.unwrap_or_default() }));
    }
    if held_until > now {
        return Ok(Claim::InProgress);
    }
    // The first request died without answering: take the key over, exactly one taker wins.
    let take = "UPDATE idempotency_keys SET locked_until = $4 WHERE scope = $1 AND key = $2 AND response_status IS NULL AND locked_until = $3";
    let taken = with_db!(db, pool => sqlx::query(take)
        .bind(scope)
        .bind(key)
        .bind(held_until)
        .bind(locked_until)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(if taken == 1 { Claim::Run } else { Claim::InProgress })
}

/// Stores the response of the request that claimed the key.
pub async fn finish(db: &Db, scope: &str, key: &str, response: &StoredResponse) -> Result<()> {
    let sql = "UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE scope = $1 AND key = $2";
    with_db!(db, pool => sqlx::query(sql)
        .bind(scope)
        .bind(key)
        .bind(i64::from(response.status))
        .bind(&response.body)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Frees a key whose request failed before anything happened (so the client may retry it).
pub async fn release(db: &Db, scope: &str, key: &str) -> Result<()> {
    let sql =
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND response_status IS NULL";
    with_db!(db, pool => sqlx::query(sql).bind(scope).bind(key).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Deletes keys older than the retention period.
pub async fn prune(db: &Db) -> Result<u64> {
    let before = Utc::now() - RETENTION;
    let sql = "DELETE FROM idempotency_keys WHERE created_at < $1";
    Ok(
        with_db!(db, pool => sqlx::query(sql).bind(before).execute(pool).await.map(|r| r.rows_affected()))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_by_method_path_and_body() {
        let a = fingerprint("POST", "/x", b"{}");
        assert_eq!(a, fingerprint("POST", "/x", b"{}"));
        assert_ne!(a, fingerprint("PUT", "/x", b"{}"));
        assert_ne!(a, fingerprint("POST", "/y", b"{}"));
        assert_ne!(a, fingerprint("POST", "/x", b"{ }"));
    }

    #[test]
    fn keys_are_visible_ascii() {
        assert_eq!(parse_key(" abc-123 ").unwrap(), "abc-123");
        assert!(parse_key("").is_err());
        assert!(parse_key("with space").is_err());
        assert!(parse_key(&"x".repeat(256)).is_err());
    }
}
