//! Passwords: argon2id hashes, computed off the async runtime.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{Error, FieldError, Result};

/// A plaintext password on its way to being hashed or checked. Never printed.
#[derive(Clone)]
pub struct Password(String);

/// Shortest password accepted for new accounts.
pub const MIN_PASSWORD_LEN: usize = 10;

impl Password {
    /// Wraps a password typed at login (no strength rules: those apply when it is set).
    pub fn for_login(raw: impl Into<String>) -> Password {
        Password(raw.into())
    }

    /// Accepts a new password if it is long enough to resist guessing.
    pub fn new_secret(raw: impl Into<String>) -> Result<Password, FieldError> {
        let raw = raw.into();
        if raw.chars().count() < MIN_PASSWORD_LEN {
            return Err(FieldError::new(
                "password",
                format!("must be at least {MIN_PASSWORD_LEN} characters"),
            ));
        }
        if raw.len() > 1024 {
            return Err(FieldError::new("password", "must be at most 1024 bytes"));
        }
        Ok(Password(raw))
    }

    /// Hashes with argon2id and a fresh salt. Runs on the blocking pool: a hash takes tens of
    /// milliseconds of CPU, which would stall every other request on the same runtime thread.
    pub async fn hash(self) -> Result<String> {
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(self.0.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
        })
        .await
        .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))?
    }

    /// Checks the password against a stored PHC hash, on the blocking pool.
    pub async fn verify(self, phc_hash: String) -> Result<bool> {
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc_hash)
                .map_err(|e| Error::Internal(format!("stored password hash is unreadable: {e}")))?;
            Ok(Argon2::default().verify_password(self.0.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|e| Error::Internal(format!("password check task failed: {e}")))?
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A valid hash of a password nobody knows: checked against when the account doesn't exist, so
/// a wrong email takes as long as a wrong password and timing doesn't reveal who has an account.
pub(crate) async fn dummy_hash() -> Result<String> {
    use tokio::sync::OnceCell;
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| Password("settle-dummy-password-for-timing".into()).hash())
        .await
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hash = Password::for_login("correct horse battery").hash().await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(Password::for_login("correct horse battery").verify(hash.clone()).await.unwrap());
        assert!(!Password::for_login("wrong").verify(hash).await.unwrap());
    }

    #[test]
    fn short_new_passwords_are_refused_and_debug_hides_them() {
        assert_eq!(Password::new_secret("short").unwrap_err().field, "password");
        let p = Password::new_secret("long enough password").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
