//! Idempotency keys with Stripe's semantics, for every request that can move money.
//!
//! The first request with a key runs and its response is stored; the same key with the same
//! request gets that response again; the same key with a different request is refused (422);
//! a duplicate arriving while the first still runs is refused (409). The key's row is claimed
//! with an insert on the primary key, so the rule holds across server instances sharing one
//! database. A first request that crashed frees its key after `lock_for`; its retry then runs
//! again, and a payment it had started is found by the key ([`scoped_key`], stored with the
//! payment), never started twice. Keys are kept at least 24 hours.
//!
//! The fingerprint is an HMAC under a server secret, of the request with card data removed, so
//! the table holds nothing a card number could be recovered from.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::with_db;

/// Body fields left out of a fingerprint besides the card data keys: card data never enters
/// it, even hashed, and the expiry would narrow a search for the number.
const EXPIRY_FIELDS: &[&str] = &["expiry", "expiry_date"];

/// How long keys are kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A response stored for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body as sent.
    pub body: String,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Its `Location`, for a `201`.
    pub location: Option<String>,
}

impl StoredResponse {
    /// Whether an answer may be stored and replayed: not our failure (5xx, the client may
    /// retry), not a refusal of the input (400, 422: the answer describes what was sent), not a
    /// transient conflict or throttle (409, 429: a retry may get another answer).
    pub fn is_replayable(status: u16) -> bool {
        !(status >= 500 || matches!(status, 400 | 409 | 422 | 429))
    }
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

/// The fingerprint of a request: an HMAC under `secret` of its method, path and body, with card
/// fields taken out of a JSON or form body first.
pub fn fingerprint(secret: &[u8], method: &str, path: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(method.as_bytes());
    mac.update(b" ");
    mac.update(path.as_bytes());
    mac.update(b"\n");
    mac.update(&without_card_data(body));
    hex::encode(mac.finalize().into_bytes())
}

/// The body with card fields removed: JSON at any depth, or form pairs. Anything else (which
/// carries no card fields Settle reads) is taken as it is.
fn without_card_data(body: &[u8]) -> Vec<u8> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        return strip_json(json).to_string().into_bytes();
    }
    if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        && !pairs.is_empty()
    {
        let kept: Vec<(String, String)> =
            pairs.into_iter().filter(|(k, _)| !is_card_field(k)).collect();
        return serde_urlencoded::to_string(kept).unwrap_or_default().into_bytes();
    }
    body.to_vec()
}

fn is_card_field(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    crate::redact::CARD_DATA_KEYS.iter().chain(EXPIRY_FIELDS).any(|f| {
        let f = f.to_ascii_lowercase();
        key == f || key.ends_with(&format!(".{f}")) || key.ends_with(&format!("[{f}]"))
    })
}

fn strip_json(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(k, _)| !is_card_field(k))
                .map(|(k, v)| (k, strip_json(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(strip_json).collect())
        }
        other => other,
    }
}

/// The key as stored with a payment: the caller's scope and key, hashed, so the same client key
/// from two callers names two requests.
pub fn scoped_key(scope: &str, key: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(scope.as_bytes());
    hash.update(b"\n");
    hash.update(key.as_bytes());
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

/// A stored key: request hash, response (once answered), lock expiry.
type KeyRow = (String, Option<i64>, Option<String>, Option<String>, Option<String>, DateTime<Utc>);

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
    let select = "SELECT request_hash, response_status, response_body, response_content_type, response_location, locked_until FROM idempotency_keys WHERE scope = $1 AND key = $2";
    let row: Option<KeyRow> = with_db!(db, pool => sqlx::query_as(select).bind(scope).bind(key).fetch_optional(pool).await)?;
    let Some((hash, status, body, content_type, location, held_until)) = row else {
        // Pruned between the two statements: claim again.
        return Box::pin(claim(db, scope, key, fingerprint, lock_for)).await;
    };
    if hash != fingerprint {
        return Ok(Claim::Mismatch);
    }
    if let Some(status) = status {
        let status = u16::try_from(status)
            .map_err(|_| Error::Internal(format!("stored status {status}")))?;
        return Ok(Claim::Replay(StoredResponse {
            status,
            body: body.unwrap_or_default(),
            content_type,
            location,
        }));
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

/// Takes over a key whose first request is still marked running, once the payment that request
/// started is settled: the retry is then answered from that payment (the core finds it by the
/// key), so it need not wait for the first request's lock to expire (it died, e.g. in a crash).
pub async fn take_over(db: &Db, scope: &str, key: &str, lock_for: Duration) -> Result<bool> {
    let sql = "UPDATE idempotency_keys SET locked_until = $3 WHERE scope = $1 AND key = $2 AND response_status IS NULL";
    let taken = with_db!(db, pool => sqlx::query(sql)
        .bind(scope)
        .bind(key)
        .bind(Utc::now() + lock_for)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(taken == 1)
}

/// Stores the response of the request that claimed the key.
pub async fn finish(db: &Db, scope: &str, key: &str, response: &StoredResponse) -> Result<()> {
    let sql = "UPDATE idempotency_keys SET response_status = $3, response_body = $4, response_content_type = $5, response_location = $6 WHERE scope = $1 AND key = $2";
    with_db!(db, pool => sqlx::query(sql)
        .bind(scope)
        .bind(key)
        .bind(i64::from(response.status))
        .bind(&response.body)
        .bind(&response.content_type)
        .bind(&response.location)
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
    fn fingerprints_differ_by_method_path_body_and_key() {
        let k = b"server-secret";
        let a = fingerprint(k, "POST", "/x", br#"{"a":1}"#);
        assert_eq!(a, fingerprint(k, "POST", "/x", br#"{"a":1}"#));
        assert_ne!(a, fingerprint(k, "PUT", "/x", br#"{"a":1}"#));
        assert_ne!(a, fingerprint(k, "POST", "/y", br#"{"a":1}"#));
        assert_ne!(a, fingerprint(k, "POST", "/x", br#"{"a":2}"#));
        assert_ne!(a, fingerprint(b"another-secret", "POST", "/x", br#"{"a":1}"#));
    }

    #[test]
    fn card_data_never_enters_the_fingerprint() {
        let k = b"server-secret";
        let one = br#"{"card":{"card_number":"4929000000006","cv2":"123","expiry_date":"1030","holder":"J"},"x":1}"#;
        let other = br#"{"card":{"card_number":"4462000000000003","cv2":"999","expiry_date":"1129","holder":"J"},"x":1}"#;
        assert_eq!(fingerprint(k, "POST", "/p", one), fingerprint(k, "POST", "/p", other));
        let form_one = b"card_number=4929000000006&cv2=123&policy=P1";
        let form_other = b"card_number=4462000000000003&cv2=999&policy=P1";
        assert_eq!(
            fingerprint(k, "POST", "/p", form_one),
            fingerprint(k, "POST", "/p", form_other)
        );
        assert_ne!(
            fingerprint(k, "POST", "/p", form_one),
            fingerprint(k, "POST", "/p", b"card_number=4929000000006&cv2=123&policy=P2")
        );
    }

    #[test]
    fn scoped_keys_differ_by_caller() {
        assert_ne!(scoped_key("merchant:a", "k1"), scoped_key("merchant:b", "k1"));
        assert_eq!(scoped_key("merchant:a", "k1"), scoped_key("merchant:a", "k1"));
    }

    #[test]
    fn keys_are_visible_ascii() {
        assert_eq!(parse_key(" abc-123 ").unwrap(), "abc-123");
        assert!(parse_key("").is_err());
        assert!(parse_key("with space").is_err());
        assert!(parse_key(&"x".repeat(256)).is_err());
    }
}
