//! Merchants: the API clients whose customers pay through Settle.

use std::fmt;

use chrono::{DateTime, Utc};
use url::Url;

use crate::db::{Db, Tx};
use crate::error::{Error, FieldError, Result};
use crate::{secret, with_db, with_tx};

pub mod manage;

crate::id_type!(
    /// Identifies a merchant.
    MerchantId
);

/// `scheme://host[:port]` that a merchant registered as a place customers may be sent back to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReturnOrigin(String);

impl ReturnOrigin {
    /// Parses an origin, or the origin of a full URL (`https://shop.example/checkout` →
    /// `https://shop.example`). Only http and https are accepted.
    pub fn parse(raw: &str) -> Result<ReturnOrigin, FieldError> {
        let url = Url::parse(raw.trim())
            .map_err(|_| FieldError::new("url", "must be an absolute http(s) URL"))?;
        Self::of_url(&url)
    }

    /// The origin of an absolute URL.
    pub fn of_url(url: &Url) -> Result<ReturnOrigin, FieldError> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(FieldError::new("url", "must be an absolute http(s) URL"));
        }
        Ok(ReturnOrigin(url.origin().ascii_serialization()))
    }

    /// The origin as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReturnOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merchant system with API credentials.
#[derive(Clone, Debug)]
pub struct Merchant {
    /// Settle's id.
    pub id: MerchantId,
    /// Display name.
    pub name: String,
    /// The OAuth2 client id.
    pub client_id: String,
    /// The webhook URL given at registration (kept for the record; deliveries use the
    /// merchant's [`Endpoint`](crate::webhook::Endpoint)).
    pub webhook_url: Option<String>,
    /// The webhook secret given at registration (see `webhook_url`).
    pub webhook_secret: Option<String>,
    /// Origins customers may be redirected back to.
    pub return_origins: Vec<ReturnOrigin>,
    /// Whether its client is public: it may use the password grant without its secret.
    pub public_client: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// What an operator enters to register a merchant.
#[derive(Debug)]
pub struct NewMerchant {
    /// Display name.
    pub name: String,
    /// The OAuth2 client id (public, chosen by the operator).
    pub client_id: String,
    /// The OAuth2 client secret; stored only as a hash.
    pub client_secret: String,
    /// Where webhooks go: registers the merchant's webhook endpoint (all event types).
    pub webhook_url: Option<String>,
    /// The endpoint's `whsec_…` signing secret; empty means a new one (shown by
    /// `settle-server merchant webhook rotate`).
    pub webhook_secret: Option<String>,
    /// Origins customers may be redirected back to.
    pub return_origins: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct MerchantRow {
    id: MerchantId,
    name: String,
    client_id: String,
    client_secret_hash: String,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    public_client: bool,
    created_at: DateTime<Utc>,
}

const SELECT_MERCHANT: &str = "SELECT id, name, client_id, client_secret_hash, webhook_url, webhook_secret, public_client, created_at FROM merchants";

impl Merchant {
    /// Registers a merchant, validating its URLs.
    pub async fn create(db: &Db, new: NewMerchant) -> Result<Merchant> {
        let mut errors = Vec::new();
        if new.name.trim().is_empty() {
            errors.push(FieldError::new("name", "is required"));
        }
        if new.client_id.trim().is_empty() || new.client_id.chars().any(char::is_whitespace) {
            errors.push(FieldError::new("client_id", "is required and may not contain spaces"));
        }
        if new.client_secret.len() < 16 {
            errors.push(FieldError::new("client_secret", "must be at least 16 characters"));
        }
        if let Some(url) = &new.webhook_url
            && crate::webhook::endpoint::parse_url(url).is_err()
        {
            errors.push(FieldError::new("webhook_url", "must be an absolute http(s) URL"));
        }
        let webhook_secret = match new.webhook_secret.as_deref().filter(|s| !s.is_empty()) {
            Some(text) => match crate::webhook::SigningSecret::parse(text) {
                Ok(secret) => Some(secret),
                Err(e) => {
                    errors.push(e.at("webhook_secret"));
                    None
                }
            },
            None => None,
        };
        let mut origins = Vec::new();
        for raw in &new.return_origins {
            match ReturnOrigin::parse(raw) {
                Ok(o) => origins.push(o),
                Err(e) => errors.push(e.at("return_origins")),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let merchant = Merchant {
            id: MerchantId::generate(),
            name: new.name.trim().to_owned(),
            client_id: new.client_id.trim().to_owned(),
            webhook_url: new.webhook_url,
            webhook_secret: new.webhook_secret,
            return_origins: origins,
            public_client: false,
            created_at: Utc::now(),
        };
        let secret_hash = secret::hash(&new.client_secret);
        let mut tx = db.begin().await?;
        Self::insert_in(&mut tx, &merchant, &secret_hash).await?;
        tx.commit().await?;
        if let Some(url) = &merchant.webhook_url {
            crate::webhook::Endpoint::set_with(db, &merchant.id, url, None, webhook_secret).await?;
        }
        Ok(merchant)
    }

    /// Stores a new merchant and its return origins inside `tx`; a client id already taken is
    /// a conflict.
    pub(crate) async fn insert_in(
        tx: &mut Tx,
        merchant: &Merchant,
        secret_hash: &str,
    ) -> Result<()> {
        let sql = "INSERT INTO merchants (id, name, client_id, client_secret_hash, webhook_url, webhook_secret, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (client_id) DO NOTHING";
        let inserted = with_tx!(tx, conn => sqlx::query(sql)
            .bind(&merchant.id)
            .bind(&merchant.name)
            .bind(&merchant.client_id)
            .bind(secret_hash)
            .bind(&merchant.webhook_url)
            .bind(&merchant.webhook_secret)
            .bind(merchant.created_at)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Err(Error::Conflict(format!("client id {} is taken", merchant.client_id)));
        }
        for origin in &merchant.return_origins {
            let sql = "INSERT INTO merchant_return_origins (merchant_id, origin) VALUES ($1, $2) ON CONFLICT DO NOTHING";
            with_tx!(tx, conn => sqlx::query(sql)
                .bind(&merchant.id)
                .bind(origin.as_str())
                .execute(conn)
                .await
                .map(|_| ()))?;
        }
        Ok(())
    }

    /// Every merchant, by name.
    pub async fn list(db: &Db) -> Result<Vec<Merchant>> {
        let sql = format!("{SELECT_MERCHANT} ORDER BY name, id");
        let rows: Vec<MerchantRow> =
            with_db!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        let mut merchants = Vec::with_capacity(rows.len());
        for row in rows {
            merchants.push(Self::from_row(db, row).await?.0);
        }
        Ok(merchants)
    }

    /// Loads a merchant by id.
    pub async fn find(db: &Db, id: &MerchantId) -> Result<Option<Merchant>> {
        let sql = format!("{SELECT_MERCHANT} WHERE id = $1");
        let row: Option<MerchantRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(Self::from_row(db, row).await?.0)),
            None => Ok(None),
        }
    }

    /// Loads a merchant by its OAuth2 client id, with the stored secret hash.
    async fn find_by_client_id(db: &Db, client_id: &str) -> Result<Option<(Merchant, String)>> {
        let sql = format!("{SELECT_MERCHANT} WHERE client_id = $1");
        let row: Option<MerchantRow> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(client_id).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok(Some(Self::from_row(db, row).await?)),
            None => Ok(None),
        }
    }

    /// The merchant with this client id, if the id exists.
    pub async fn by_client_id(db: &Db, client_id: &str) -> Result<Option<Merchant>> {
        Ok(Self::find_by_client_id(db, client_id).await?.map(|(m, _)| m))
    }

    /// Makes the merchant's client public (password grant without the secret) or confidential.
    pub async fn set_public_client(db: &Db, id: &MerchantId, public: bool) -> Result<()> {
        let sql = "UPDATE merchants SET public_client = $2 WHERE id = $1";
        with_db!(db, pool => sqlx::query(sql).bind(id).bind(public).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The merchant whose client id and secret these are, or `Unauthorized`.
    pub async fn authenticate(db: &Db, client_id: &str, client_secret: &str) -> Result<Merchant> {
        match Self::find_by_client_id(db, client_id).await? {
            Some((merchant, hash)) if secret::matches(client_secret, &hash) => Ok(merchant),
            _ => Err(Error::Unauthorized),
        }
    }

    /// The product the merchant's orders are booked against, if it takes orders.
    pub async fn order_product(
        db: &Db,
        id: &MerchantId,
    ) -> Result<Option<crate::product::Product>> {
        let sql = "SELECT order_product_id FROM merchants WHERE id = $1";
        let product: Option<Option<crate::product::ProductId>> =
            with_db!(db, pool => sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await)?;
        match product.flatten() {
            Some(product) => crate::product::Product::find(db, &product).await,
            None => Ok(None),
        }
    }

    /// Makes one of the merchant's products the one its orders are booked against.
    pub async fn set_order_product(
        db: &Db,
        id: &MerchantId,
        product: &crate::product::Product,
    ) -> Result<()> {
        if product.merchant_id.as_ref() != Some(id) {
            return Err(Error::invalid("product", "is not one of this merchant's products"));
        }
        let sql = "UPDATE merchants SET order_product_id = $2 WHERE id = $1";
        with_db!(db, pool => sqlx::query(sql).bind(id).bind(&product.id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Whether a customer may be sent to `url` (its origin was registered by this merchant).
    pub fn allows_return_to(&self, url: &Url) -> bool {
        ReturnOrigin::of_url(url).is_ok_and(|origin| self.return_origins.contains(&origin))
    }

    async fn from_row(db: &Db, row: MerchantRow) -> Result<(Merchant, String)> {
        let sql =
            "SELECT origin FROM merchant_return_origins WHERE merchant_id = $1 ORDER BY origin";
        let origins: Vec<String> =
            with_db!(db, pool => sqlx::query_scalar(sql).bind(&row.id).fetch_all(pool).await)?;
        let merchant = Merchant {
            id: row.id,
            name: row.name,
            client_id: row.client_id,
            webhook_url: row.webhook_url,
            webhook_secret: row.webhook_secret,
            public_client: row.public_client,
            return_origins: origins.into_iter().map(ReturnOrigin).collect(),
            created_at: row.created_at,
        };
        Ok((merchant, row.client_secret_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_drop_paths_and_default_ports() {
        let o = ReturnOrigin::parse("https://Shop.Example:443/checkout/done?x=1").unwrap();
        assert_eq!(o.as_str(), "https://shop.example");
        let o = ReturnOrigin::parse("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(o.as_str(), "http://127.0.0.1:8080");
        assert!(ReturnOrigin::parse("javascript:alert(1)").is_err());
        assert!(ReturnOrigin::parse("/relative").is_err());
    }
}
