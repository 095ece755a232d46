//! High-entropy secrets (client secrets, bearer tokens): generated here, stored only as hashes.
//!
//! SHA-256 is the right hash for these (unlike passwords): they are 256 random bits, so there is
//! nothing to brute-force, and a fast hash keeps every API request cheap.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::with_db;

/// A new random secret with a readable prefix (`stl_at_…`), 256 bits of entropy.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored hash in constant time.
pub fn matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash(secret);
    presented.len() == stored_hash.len()
        && presented.bytes().zip(stored_hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A 256-bit key the server keeps in its database under `name`, made on first use and the same
/// for every instance sharing the database (so what one instance keyed, another can check).
pub async fn server_key(db: &Db, name: &str) -> Result<Vec<u8>> {
    let fresh = generate("");
    let insert = "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    with_db!(db, pool => sqlx::query(insert).bind(name).bind(&fresh).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    let select = "SELECT value FROM server_secrets WHERE name = $1";
    let value: String =
        with_db!(db, pool => sqlx::query_scalar(select).bind(name).fetch_one(pool).await)?;
    URL_SAFE_NO_PAD
        .decode(value.as_bytes())
        .map_err(|e| Error::Internal(format!("server_secrets.{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_match_only_their_hash() {
        let a = generate("stl_test_");
        let b = generate("stl_test_");
        assert_ne!(a, b);
        assert!(a.starts_with("stl_test_") && a.len() > 40);
        assert!(matches(&a, &hash(&a)));
        assert!(!matches(&b, &hash(&a)));
        assert!(!matches(&a, "short"));
    }
}
