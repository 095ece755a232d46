//! A merchant's webhook endpoint: where its webhooks go, what signs them, which event types it
//! wants, and whether it has been answering.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::EventType;
use super::signing::SigningSecret;
use crate::db::{Db, Tx};
use crate::error::{Error, FieldError, Result};
use crate::merchant::MerchantId;
use crate::text_enum::stored;
use crate::{text_enum, with_db, with_tx};

text_enum!(
    /// Whether an endpoint has been taking its deliveries (visible to staff and the merchant).
    EndpointStatus, field = "status", {
        /// Its last delivery succeeded, or it hasn't failed enough to worry.
        Healthy = "healthy",
        /// It failed [`FAILING_AFTER`] attempts in a row or let a delivery use up its attempts.
        /// Its deliveries go on (each on its own schedule; other merchants are not held up).
        Failing = "failing",
    }
);

/// Failed attempts in a row after which an endpoint is marked failing.
pub const FAILING_AFTER: i64 = 5;

/// How long a rotated-out secret keeps signing, unless the caller says otherwise.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// A merchant's webhook endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Whose it is (one per merchant).
    pub merchant_id: MerchantId,
    /// Where deliveries are POSTed.
    pub url: Url,
    /// The current signing secret.
    pub secret: SigningSecret,
    /// The secret it replaced, still signing until `previous_expires_at`.
    pub previous_secret: Option<SigningSecret>,
    /// When the previous secret stops signing.
    pub previous_expires_at: Option<DateTime<Utc>>,
    /// The event types it wants; empty means all.
    pub event_types: Vec<EventType>,
    /// Healthy or failing.
    pub status: EndpointStatus,
    /// Failed attempts since the last success.
    pub consecutive_failures: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An endpoint as saved, with its secret when it is new (shown this once).
#[derive(Clone, Debug)]
pub struct Saved {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The secret just made (endpoint created or secret rotated); `None` otherwise.
    pub new_secret: Option<SigningSecret>,
}

#[derive(sqlx::FromRow)]
struct Row {
    merchant_id: MerchantId,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_expires_at: Option<DateTime<Utc>>,
    event_types: String,
    status: String,
    consecutive_failures: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "merchant_id, url, secret, previous_secret, previous_expires_at, event_types, status, consecutive_failures, created_at, updated_at";

impl TryFrom<Row> for Endpoint {
    type Error = Error;

    fn try_from(r: Row) -> Result<Endpoint> {
        let bad = |what: &str, e: String| Error::Internal(format!("webhook_endpoints.{what}: {e}"));
        let names: Vec<String> =
            serde_json::from_str(&r.event_types).map_err(|e| bad("event_types", e.to_string()))?;
        let event_types = names
            .iter()
            .map(|n| stored("webhook_endpoints.event_types", n))
            .collect::<Result<_>>()?;
        Ok(Endpoint {
            url: Url::parse(&r.url).map_err(|e| bad("url", e.to_string()))?,
            secret: SigningSecret::parse(&r.secret).map_err(|e| bad("secret", e.to_string()))?,
            previous_secret: r
                .previous_secret
                .as_deref()
                .map(SigningSecret::parse)
                .transpose()
                .map_err(|e| bad("previous_secret", e.to_string()))?,
            previous_expires_at: r.previous_expires_at,
            event_types,
            status: stored("webhook_endpoints.status", &r.status)?,
            merchant_id: r.merchant_id,
            consecutive_failures: r.consecutive_failures,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Parses a webhook URL: absolute http or https with a host.
pub fn parse_url(raw: &str) -> Result<Url, FieldError> {
    let url = Url::parse(raw.trim())
        .map_err(|_| FieldError::new("url", "must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(FieldError::new("url", "must be an absolute http(s) URL"));
    }
    Ok(url)
}

/// Parses event type names (`invoice.payment_executed`, …); errors name `event_types[i]`.
pub fn parse_event_types(names: &[String]) -> Result<Vec<EventType>> {
    let mut types = Vec::new();
    let mut errors = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match name.trim().parse::<EventType>() {
            Ok(t) if !types.contains(&t) => types.push(t),
            Ok(_) => {}
            Err(e) => errors.push(e.at(format!("event_types[{i}]"))),
        }
    }
    if errors.is_empty() { Ok(types) } else { Err(Error::Validation(errors)) }
}

impl Endpoint {
    /// Whether events of `kind` go to this endpoint.
    pub fn subscribes(&self, kind: EventType) -> bool {
        self.event_types.is_empty() || self.event_types.contains(&kind)
    }

    /// The secrets that sign a delivery at `now`: the current one, and the previous one during
    /// its overlap.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&SigningSecret> {
        let mut secrets = vec![&self.secret];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_expires_at)
            && until > now
        {
            secrets.push(previous);
        }
        secrets
    }

    /// The event types it receives, by name (all of them when it didn't choose).
    pub fn receives(&self) -> Vec<EventType> {
        if self.event_types.is_empty() { EventType::ALL.to_vec() } else { self.event_types.clone() }
    }

    /// The merchant's endpoint, if it has one.
    pub async fn find(db: &Db, merchant: &MerchantId) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1");
        let row: Option<Row> =
            with_db!(db, pool => sqlx::query_as(&sql).bind(merchant).fetch_optional(pool).await)?;
        row.map(Endpoint::try_from).transpose()
    }

    /// The merchant's endpoint, read inside `tx`.
    pub(crate) async fn find_in(tx: &mut Tx, merchant: &MerchantId) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1");
        let row: Option<Row> =
            with_tx!(tx, conn => sqlx::query_as(&sql).bind(merchant).fetch_optional(conn).await)?;
        row.map(Endpoint::try_from).transpose()
    }

    /// Sets the merchant's endpoint URL and event types (`None` keeps them, or means all for a
    /// new endpoint; an empty list means all). A new endpoint gets a secret, returned this once;
    /// an existing one keeps its secret.
    pub async fn set(
        db: &Db,
        merchant: &MerchantId,
        url: &str,
        event_types: Option<&[String]>,
    ) -> Result<Saved> {
        Endpoint::set_with(db, merchant, url, event_types, None).await
    }

    /// [`Endpoint::set`], with the secret a new endpoint gets chosen by the operator.
    pub(crate) async fn set_with(
        db: &Db,
        merchant: &MerchantId,
        url: &str,
        event_types: Option<&[String]>,
        secret: Option<SigningSecret>,
    ) -> Result<Saved> {
        let (url, types) = match (parse_url(url), event_types.map(parse_event_types).transpose()) {
            (Ok(url), Ok(types)) => (url, types),
            (url, types) => {
                let mut errors: Vec<FieldError> = url.err().into_iter().collect();
                if let Err(Error::Validation(more)) = types {
                    errors.extend(more);
                }
                return Err(Error::Validation(errors));
            }
        };
        let types_json = |t: &[EventType]| {
            serde_json::to_string(&t.iter().map(|t| t.as_str()).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".into())
        };
        let mut tx = db.begin().await?;
        let existing = Endpoint::find_in(&mut tx, merchant).await?;
        let now = Utc::now();
        let new_secret = match &existing {
            Some(endpoint) => {
                let types = types.unwrap_or_else(|| endpoint.event_types.clone());
                let sql = "UPDATE webhook_endpoints SET url = $2, event_types = $3, updated_at = $4 WHERE merchant_id = $1";
                with_tx!(&mut tx, conn => sqlx::query(sql)
                    .bind(merchant)
                    .bind(url.as_str())
                    .bind(types_json(&types))
                    .bind(now)
                    .execute(conn)
                    .await
                    .map(|_| ()))?;
                None
            }
            None => {
                let secret = secret.unwrap_or_else(SigningSecret::generate);
                let sql = "INSERT INTO webhook_endpoints (merchant_id, url, secret, event_types, status, consecutive_failures, created_at, updated_at)
                           VALUES ($1, $2, $3, $4, 'healthy', 0, $5, $5)";
                with_tx!(&mut tx, conn => sqlx::query(sql)
                    .bind(merchant)
                    .bind(url.as_str())
                    .bind(secret.expose())
                    .bind(types_json(&types.unwrap_or_default()))
                    .bind(now)
                    .execute(conn)
                    .await
                    .map(|_| ()))?;
                Some(secret)
            }
        };
        let endpoint = Endpoint::find_in(&mut tx, merchant)
            .await?
            .ok_or(Error::NotFound("webhook endpoint"))?;
        tx.commit().await?;
        Ok(Saved { endpoint, new_secret })
    }

    /// Gives the endpoint a new secret (returned this once); the old one keeps signing, next to
    /// the new one, for `overlap`.
    pub async fn rotate(db: &Db, merchant: &MerchantId, overlap: Duration) -> Result<Saved> {
        let secret = SigningSecret::generate();
        let now = Utc::now();
        let until = crate::job::later(now, overlap);
        let sql = "UPDATE webhook_endpoints SET previous_secret = secret, previous_expires_at = $3,
                       secret = $2, updated_at = $4 WHERE merchant_id = $1";
        let updated = with_db!(db, pool => sqlx::query(sql)
            .bind(merchant)
            .bind(secret.expose())
            .bind(until)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Err(Error::NotFound("webhook endpoint"));
        }
        let endpoint =
            Endpoint::find(db, merchant).await?.ok_or(Error::NotFound("webhook endpoint"))?;
        Ok(Saved { endpoint, new_secret: Some(secret) })
    }

    /// Points the merchant's endpoint at `url` inside `tx` (an operator's change, audited in the
    /// same transaction): a new endpoint receives every event type and gets a secret, returned
    /// this once; an existing one keeps its secret and event types.
    pub(crate) async fn set_url_in(
        tx: &mut Tx,
        merchant: &MerchantId,
        url: &Url,
    ) -> Result<Option<SigningSecret>> {
        let now = Utc::now();
        let sql = "UPDATE webhook_endpoints SET url = $2, updated_at = $3 WHERE merchant_id = $1";
        let updated = with_tx!(tx, conn => sqlx::query(sql)
            .bind(merchant)
            .bind(url.as_str())
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if updated > 0 {
            return Ok(None);
        }
        let secret = SigningSecret::generate();
        let sql = "INSERT INTO webhook_endpoints (merchant_id, url, secret, event_types, status, consecutive_failures, created_at, updated_at)
                   VALUES ($1, $2, $3, '[]', 'healthy', 0, $4, $4)";
        with_tx!(tx, conn => sqlx::query(sql)
            .bind(merchant)
            .bind(url.as_str())
            .bind(secret.expose())
            .bind(now)
            .execute(conn)
            .await
            .map(|_| ()))?;
        Ok(Some(secret))
    }

    /// [`Endpoint::rotate`] inside `tx` (an operator's change, audited in the same
    /// transaction): the new secret, returned this once.
    pub(crate) async fn rotate_in(
        tx: &mut Tx,
        merchant: &MerchantId,
        overlap: Duration,
    ) -> Result<SigningSecret> {
        let secret = SigningSecret::generate();
        let now = Utc::now();
        let until = crate::job::later(now, overlap);
        let sql = "UPDATE webhook_endpoints SET previous_secret = secret, previous_expires_at = $3,
                       secret = $2, updated_at = $4 WHERE merchant_id = $1";
        let updated = with_tx!(tx, conn => sqlx::query(sql)
            .bind(merchant)
            .bind(secret.expose())
            .bind(until)
            .bind(now)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if updated == 0 {
            return Err(Error::NotFound("webhook endpoint"));
        }
        Ok(secret)
    }

    /// Counts an attempt's outcome towards the endpoint's health, inside `tx`: a success makes
    /// it healthy; [`FAILING_AFTER`] failures in a row, or a delivery that used up its attempts,
    /// make it failing.
    pub(crate) async fn record_health(
        tx: &mut Tx,
        merchant: &MerchantId,
        succeeded: bool,
        exhausted: bool,
    ) -> Result<()> {
        let now = Utc::now();
        if succeeded {
            let sql = "UPDATE webhook_endpoints SET status = 'healthy', consecutive_failures = 0, updated_at = $2 WHERE merchant_id = $1";
            with_tx!(tx, conn => sqlx::query(sql).bind(merchant).bind(now).execute(conn).await.map(|_| ()))?;
        } else {
            let sql = "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
                           status = CASE WHEN consecutive_failures + 1 >= $3 OR $4 THEN 'failing' ELSE status END,
                           updated_at = $2 WHERE merchant_id = $1";
            with_tx!(tx, conn => sqlx::query(sql)
                .bind(merchant)
                .bind(now)
                .bind(FAILING_AFTER)
                .bind(exhausted)
                .execute(conn)
                .await
                .map(|_| ()))?;
        }
        Ok(())
    }
}
