//! Opaque bearer tokens for the REST APIs. Only their SHA-256 is stored.

use chrono::{DateTime, Duration, Utc};

use crate::account::UserId;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::merchant::MerchantId;
use crate::{secret, with_db};

/// How a token was obtained; it decides what the token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    /// A user of a merchant system logged in (`grant_type=password`).
    Password,
    /// A merchant system authenticated as itself (`grant_type=client_credentials`).
    ClientCredentials,
}

impl GrantType {
    /// The OAuth2 name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    fn parse(s: &str) -> Result<GrantType> {
        match s {
            "password" => Ok(GrantType::Password),
            "client_credentials" => Ok(GrantType::ClientCredentials),
            other => Err(Error::Internal(format!("stored grant type {other:?} is unknown"))),
        }
    }
}

/// A token just issued: the only moment its clear text exists.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The bearer token to give the client.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// Who is calling the API, established from a bearer token.
#[derive(Clone, Debug)]
pub struct ApiPrincipal {
    /// The merchant system the token belongs to.
    pub merchant_id: MerchantId,
    /// The user who logged in, for password-grant tokens.
    pub user_id: Option<UserId>,
    /// How the token was obtained.
    pub grant_type: GrantType,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Issues a token for a merchant (and user, for the password grant).
pub async fn issue(
    db: &Db,
    merchant_id: &MerchantId,
    user_id: Option<&UserId>,
    grant_type: GrantType,
    ttl: Duration,
) -> Result<IssuedToken> {
    let token = secret::generate("stl_at_");
    let now = Utc::now();
    let sql = "INSERT INTO api_tokens (token_hash, merchant_id, user_id, grant_type, expires_at, created_at)
               VALUES ($1, $2, $3, $4, $5, $6)";
    with_db!(db, pool => sqlx::query(sql)
        .bind(secret::hash(&token))
        .bind(merchant_id)
        .bind(user_id)
        .bind(grant_type.as_str())
        .bind(now + ttl)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(IssuedToken { access_token: token, expires_in: ttl.num_seconds() })
}

/// The principal a presented bearer token stands for, or `Unauthorized` if it is unknown or
/// expired.
pub async fn authenticate(db: &Db, token: &str) -> Result<ApiPrincipal> {
    // Disabling a user deletes their tokens; the join also refuses one issued in the moment
    // between their login and their disabling.
    let sql = "SELECT t.merchant_id, t.user_id, t.grant_type, t.expires_at FROM api_tokens t
               LEFT JOIN users u ON u.id = t.user_id
               WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.disabled_at IS NULL";
    let row: Option<(MerchantId, Option<UserId>, String, DateTime<Utc>)> = with_db!(db, pool =>
        sqlx::query_as(sql).bind(secret::hash(token)).bind(Utc::now()).fetch_optional(pool).await)?;
    let (merchant_id, user_id, grant_type, expires_at) = row.ok_or(Error::Unauthorized)?;
    Ok(ApiPrincipal {
        merchant_id,
        user_id,
        grant_type: GrantType::parse(&grant_type)?,
        expires_at,
    })
}

/// Deletes every token of `user`, inside `tx` (the user was disabled).
pub(crate) async fn revoke_user_in(tx: &mut crate::db::Tx, user: &UserId) -> Result<u64> {
    let sql = "DELETE FROM api_tokens WHERE user_id = $1";
    Ok(crate::with_tx!(tx, conn => sqlx::query(sql)
        .bind(user)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Deletes expired tokens (run periodically).
pub async fn prune_expired(db: &Db) -> Result<u64> {
    let sql = "DELETE FROM api_tokens WHERE expires_at <= $1";
    Ok(with_db!(db, pool => sqlx::query(sql)
        .bind(Utc::now())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
}
