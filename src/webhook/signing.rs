//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`, keyed with the base64-decoded part of a `whsec_` secret. The
//! `standardwebhooks` crate (the specification's own library) computes them, so merchants can
//! verify with the same library in any language.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use crate::error::{Error, FieldError, Result};

/// Header carrying the message id (the event id; the same on every retry).
pub const ID_HEADER: &str = "webhook-id";
/// Header carrying the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Header carrying one `v1,<signature>` per valid secret, separated by spaces.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

const PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks for 24 to 64).
const KEY_BYTES: usize = 32;
/// The shortest key accepted.
const MIN_KEY_BYTES: usize = 24;

/// A webhook signing secret, `whsec_<base64 of the key>`. Not `Debug`-printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(whsec_…)")
    }
}

impl SigningSecret {
    /// A new secret of 32 random bytes.
    pub fn generate() -> SigningSecret {
        let mut key = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SigningSecret(format!("{PREFIX}{}", STANDARD.encode(key)))
    }

    /// Parses a stored or given secret: `whsec_` and the base64 of at least 24 bytes.
    pub fn parse(text: &str) -> Result<SigningSecret, FieldError> {
        let key = text
            .strip_prefix(PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .ok_or_else(|| FieldError::new("secret", "must be whsec_ and base64"))?;
        if key.len() < MIN_KEY_BYTES {
            return Err(FieldError::new("secret", "must hold at least 24 bytes"));
        }
        Ok(SigningSecret(text.to_owned()))
    }

    /// The secret as the merchant configures it in their verifier.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The `webhook-signature` value for `body`, sent as message `id` at `timestamp`: one `v1,`
/// signature per secret (during a rotation's overlap, the new and the old one).
pub fn sign(secrets: &[&SigningSecret], id: &str, timestamp: i64, body: &str) -> Result<String> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let webhook = standardwebhooks::Webhook::new(secret.expose())
            .map_err(|e| Error::Internal(format!("webhook secret: {e}")))?;
        signatures.push(
            webhook
                .sign(id, timestamp, body.as_bytes())
                .map_err(|e| Error::Internal(format!("signing a webhook: {e}")))?,
        );
    }
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_test_vector() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature =
            sign(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#)
                .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let (a, b) = (SigningSecret::generate(), SigningSecret::generate());
        let both = sign(&[&a, &b], "1", 1, "{}").unwrap();
        let parts: Vec<_> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&[&a], "1", 1, "{}").unwrap());
        assert_eq!(parts[1], sign(&[&b], "1", 1, "{}").unwrap());
    }

    #[test]
    fn secrets_are_whsec_base64_of_enough_bytes() {
        let s = SigningSecret::generate();
        assert!(SigningSecret::parse(s.expose()).is_ok());
        assert!(SigningSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(!format!("{s:?}").contains(&s.expose()[6..]));
    }
}
