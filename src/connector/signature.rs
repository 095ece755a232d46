//! Signed gateway notifications: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`, the
//! scheme Stripe uses. The timestamp inside the signed text stops replays of old notifications.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const HEADER: &str = "settle-signature";

/// How old a notification may be before it is refused.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is missing or not `t=…,v1=…`.
    #[error("signature header missing or malformed")]
    Malformed,
    /// The HMAC doesn't match: wrong key or altered body.
    #[error("signature does not match")]
    Mismatch,
    /// Signed too long ago (or in the future).
    #[error("signature timestamp outside the {TOLERANCE_SECS} s tolerance")]
    Stale,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for `body` signed at `at`.
pub fn sign(secret: &str, body: &[u8], at: DateTime<Utc>) -> String {
    let t = at.timestamp();
    format!("t={t},v1={}", hex::encode(mac(secret, t, body).finalize().into_bytes()))
}

/// Checks a signature header against `body` at time `now`, in constant time.
///
/// An empty `secret` means no key is configured: nothing verifies (HMAC would happily accept an
/// empty key, and so would anyone forging with one).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => {
                signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now.timestamp() - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    if secret.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    let expected = mac(secret, t, body);
    if signatures.iter().any(|s| expected.clone().verify_slice(s).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_signature_verifies_only_its_body_key_and_time() {
        let now = Utc::now();
        let header = sign("secret", b"{\"a\":1}", now);
        assert_eq!(verify("secret", &header, b"{\"a\":1}", now), Ok(()));
        assert_eq!(verify("secret", &header, b"{\"a\":2}", now), Err(SignatureError::Mismatch));
        assert_eq!(verify("other", &header, b"{\"a\":1}", now), Err(SignatureError::Mismatch));
        assert_eq!(
            verify("secret", &header, b"{\"a\":1}", now + Duration::seconds(TOLERANCE_SECS + 1)),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify("secret", "v1=00", b"", now), Err(SignatureError::Malformed));
        assert_eq!(verify("secret", "garbage", b"", now), Err(SignatureError::Malformed));
    }

    #[test]
    fn without_a_key_nothing_verifies() {
        let now = Utc::now();
        let header = sign("", b"{}", now);
        assert_eq!(verify("", &header, b"{}", now), Err(SignatureError::Mismatch));
    }
}
