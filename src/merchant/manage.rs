//! What operators do to merchants: register one with API credentials, rotate its client secret
//! and webhook signing secret, point its webhook endpoint, set the origins customers may return
//! to and the default return URL (completion page) per gateway. Each change is written to the
//! audit log in the transaction that makes it. New secrets are returned once and never again:
//! the client secret is stored only as its hash.

use std::time::Duration;

use chrono::Utc;
use url::Url;

use super::{Merchant, MerchantId, ReturnOrigin};
use crate::audit::{self, Actor};
use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::webhook::{Endpoint, SigningSecret};
use crate::{secret, with_db, with_tx};

/// The gateway key of a merchant's default return URL for every gateway without its own.
pub const ALL_GATEWAYS: &str = "*";

/// What an operator enters to register a merchant.
#[derive(Debug, Default)]
pub struct MerchantEntry {
    /// Display name.
    pub name: String,
    /// The OAuth2 client id its systems will send (no spaces).
    pub client_id: String,
    /// Where its webhooks go (optional; a signing secret is made for it).
    pub webhook_url: String,
    /// Origins customers may be sent back to, one per line (full URLs are cut to their origin).
    pub return_origins: String,
}

/// A merchant just registered, with its secrets: the only time they are shown.
#[derive(Debug)]
pub struct CreatedMerchant {
    /// The merchant.
    pub merchant: Merchant,
    /// Its OAuth2 client secret, in clear this once.
    pub client_secret: String,
    /// Its webhook signing secret, when a webhook URL was given.
    pub webhook_secret: Option<SigningSecret>,
}

/// Parses origins given one per line (blank lines skipped); each problem names its line.
pub fn parse_origins(lines: &str) -> Result<Vec<ReturnOrigin>, Vec<FieldError>> {
    let mut origins: Vec<ReturnOrigin> = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in lines.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match ReturnOrigin::parse(line) {
            Ok(origin) if !origins.contains(&origin) => origins.push(origin),
            Ok(_) => {}
            Err(_) => errors.push(FieldError::new(
                "return_origins",
                format!("line {} is not an absolute http(s) URL", i + 1),
            )),
        }
    }
    if errors.is_empty() { Ok(origins) } else { Err(errors) }
}

fn parse_webhook_url(raw: &str) -> Result<Option<Url>, FieldError> {
    match raw.trim() {
        "" => Ok(None),
        url => crate::webhook::endpoint::parse_url(url).map(Some).map_err(|e| e.at("webhook_url")),
    }
}

/// Registers a merchant with a new client secret (and a webhook endpoint with a new signing
/// secret, if a URL was given). Audited as `merchant.create`.
pub async fn create(db: &Db, actor: &Actor, entry: MerchantEntry) -> Result<CreatedMerchant> {
    let mut errors = Vec::new();
    let name = entry.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "is required"));
    }
    let client_id = entry.client_id.trim();
    if client_id.is_empty() || client_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(FieldError::new("client_id", "is required and may not contain spaces"));
    } else if client_id.len() > 100 {
        errors.push(FieldError::new("client_id", "must be at most 100 characters"));
    }
    let webhook_url = parse_webhook_url(&entry.webhook_url).map_err(|e| errors.push(e)).ok();
    let origins = parse_origins(&entry.return_origins).map_err(|e| errors.extend(e)).ok();
    let (Some(webhook_url), Some(origins), true) = (webhook_url, origins, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let client_secret = secret::generate("stl_cs_");
    let merchant = Merchant {
        id: MerchantId::generate(),
        name: name.to_owned(),
        client_id: client_id.to_owned(),
        webhook_url: None,
        webhook_secret: None,
        return_origins: origins,
        public_client: false,
        created_at: Utc::now(),
    };
    let mut tx = db.begin().await?;
    Merchant::insert_in(&mut tx, &merchant, &secret::hash(&client_secret)).await.map_err(|e| {
        match e {
            Error::Conflict(_) => Error::invalid("client_id", "is already another merchant's"),
            other => other,
        }
    })?;
    let webhook_secret = match &webhook_url {
        Some(url) => Endpoint::set_url_in(&mut tx, &merchant.id, url).await?,
        None => None,
    };
    let detail = format!(
        "registered {} with client id {}{}",
        merchant.name,
        merchant.client_id,
        webhook_url.map(|u| format!(", webhooks to {u}")).unwrap_or_default()
    );
    audit::record_in(&mut tx, actor, "merchant.create", &subject(&merchant.id), &detail).await?;
    tx.commit().await?;
    Ok(CreatedMerchant { merchant, client_secret, webhook_secret })
}

fn subject(id: &MerchantId) -> String {
    format!("merchant:{id}")
}

async fn existing(db: &Db, id: &MerchantId) -> Result<Merchant> {
    Merchant::find(db, id).await?.ok_or(Error::NotFound("merchant"))
}

/// Gives the merchant a new client secret, returned this once; the old one stops working at
/// once (tokens already issued run out on their own). Audited as `merchant.secret.rotate`.
pub async fn rotate_client_secret(db: &Db, actor: &Actor, id: &MerchantId) -> Result<String> {
    let merchant = existing(db, id).await?;
    let client_secret = secret::generate("stl_cs_");
    let mut tx = db.begin().await?;
    let sql = "UPDATE merchants SET client_secret_hash = $2 WHERE id = $1";
    with_tx!(&mut tx, conn => sqlx::query(sql)
        .bind(id)
        .bind(secret::hash(&client_secret))
        .execute(conn)
        .await
        .map(|_| ()))?;
    let detail =
        format!("new client secret for {}; the old one no longer works", merchant.client_id);
    audit::record_in(&mut tx, actor, "merchant.secret.rotate", &subject(id), &detail).await?;
    tx.commit().await?;
    Ok(client_secret)
}

/// Points the merchant's webhook endpoint at `url`; a new endpoint's signing secret is returned
/// this once. Audited as `merchant.webhook.set`.
pub async fn set_webhook_url(
    db: &Db,
    actor: &Actor,
    id: &MerchantId,
    url: &str,
) -> Result<Option<SigningSecret>> {
    existing(db, id).await?;
    let url = match parse_webhook_url(url) {
        Ok(Some(url)) => url,
        Ok(None) => return Err(Error::invalid("webhook_url", "is required")),
        Err(e) => return Err(Error::Validation(vec![e])),
    };
    let mut tx = db.begin().await?;
    let secret = Endpoint::set_url_in(&mut tx, id, &url).await?;
    audit::record_in(
        &mut tx,
        actor,
        "merchant.webhook.set",
        &subject(id),
        &format!("webhooks to {url}"),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// Gives the merchant's webhook endpoint a new signing secret, returned this once; the old one
/// keeps signing next to it for `overlap`. Audited as `merchant.webhook.rotate`.
pub async fn rotate_webhook_secret(
    db: &Db,
    actor: &Actor,
    id: &MerchantId,
    overlap: Duration,
) -> Result<SigningSecret> {
    existing(db, id).await?;
    let mut tx = db.begin().await?;
    let secret = Endpoint::rotate_in(&mut tx, id, overlap).await?;
    let detail = format!(
        "new webhook signing secret; the old one signs too for {} h",
        overlap.as_secs() / 3600
    );
    audit::record_in(&mut tx, actor, "merchant.webhook.rotate", &subject(id), &detail).await?;
    tx.commit().await?;
    Ok(secret)
}

/// Replaces the origins customers may be sent back to (one per line). An origin still used by
/// a default return URL can't be removed. Audited as `merchant.origins.set`.
pub async fn set_return_origins(
    db: &Db,
    actor: &Actor,
    id: &MerchantId,
    lines: &str,
) -> Result<Vec<ReturnOrigin>> {
    existing(db, id).await?;
    let origins = parse_origins(lines).map_err(Error::Validation)?;
    let mut errors = Vec::new();
    for (gateway, url) in completion_pages(db, id).await? {
        let kept = Url::parse(&url)
            .ok()
            .and_then(|u| ReturnOrigin::of_url(&u).ok())
            .is_some_and(|o| origins.contains(&o));
        if !kept {
            errors.push(FieldError::new(
                "return_origins",
                format!(
                    "must keep the origin of {url}, the default return URL for {}",
                    gateway_words(&gateway)
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut tx = db.begin().await?;
    let sql = "DELETE FROM merchant_return_origins WHERE merchant_id = $1";
    with_tx!(&mut tx, conn => sqlx::query(sql).bind(id).execute(conn).await.map(|_| ()))?;
    for origin in &origins {
        let sql = "INSERT INTO merchant_return_origins (merchant_id, origin) VALUES ($1, $2)";
        with_tx!(&mut tx, conn => sqlx::query(sql)
            .bind(id)
            .bind(origin.as_str())
            .execute(conn)
            .await
            .map(|_| ()))?;
    }
    let listed: Vec<&str> = origins.iter().map(ReturnOrigin::as_str).collect();
    let detail = if listed.is_empty() { "no return origins".to_owned() } else { listed.join(", ") };
    audit::record_in(&mut tx, actor, "merchant.origins.set", &subject(id), &detail).await?;
    tx.commit().await?;
    Ok(origins)
}

fn gateway_words(gateway: &str) -> String {
    if gateway == ALL_GATEWAYS { "every gateway".to_owned() } else { format!("gateway {gateway}") }
}

/// The merchant's default return URLs: (gateway key or [`ALL_GATEWAYS`], URL), by gateway.
pub async fn completion_pages(db: &Db, id: &MerchantId) -> Result<Vec<(String, String)>> {
    let sql = "SELECT gateway_id, url FROM merchant_completion_pages WHERE merchant_id = $1 ORDER BY gateway_id";
    Ok(with_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_all(pool).await)?)
}

/// Sets (or, with an empty URL, removes) the merchant's default return URL for one gateway or
/// for [`ALL_GATEWAYS`]: where a customer goes after paying when the payment names no return
/// URL (seed 000's completion page). The URL must be on one of its origins. Audited as
/// `merchant.return_url.set`.
pub async fn set_return_url(
    db: &Db,
    actor: &Actor,
    id: &MerchantId,
    gateway: &str,
    url: &str,
) -> Result<()> {
    let merchant = existing(db, id).await?;
    let gateway = gateway.trim();
    let known = gateway == ALL_GATEWAYS
        || crate::gateway::Gateway::list(db).await?.iter().any(|g| g.id == gateway);
    if !known {
        return Err(Error::invalid("gateway", "must be one of the gateways listed"));
    }
    let url = match url.trim() {
        "" => None,
        raw => Some(crate::checkout::return_to::registered_url(&merchant, raw, "url").map_err(
            |e| {
                Error::Validation(vec![FieldError::new(
                    "url",
                    match e.message.as_str() {
                        "must be an absolute http(s) URL" => e.message,
                        _ => {
                            "must be on one of the merchant's return origins (add its origin first)"
                                .to_owned()
                        }
                    },
                )])
            },
        )?),
    };
    let mut tx = db.begin().await?;
    let detail = match &url {
        Some(url) => {
            let sql = "INSERT INTO merchant_completion_pages (merchant_id, gateway_id, url) VALUES ($1, $2, $3)
                       ON CONFLICT (merchant_id, gateway_id) DO UPDATE SET url = $3";
            with_tx!(&mut tx, conn => sqlx::query(sql)
                .bind(id)
                .bind(gateway)
                .bind(url.as_str())
                .execute(conn)
                .await
                .map(|_| ()))?;
            format!("default return URL for {}: {url}", gateway_words(gateway))
        }
        None => {
            let sql =
                "DELETE FROM merchant_completion_pages WHERE merchant_id = $1 AND gateway_id = $2";
            with_tx!(&mut tx, conn => sqlx::query(sql).bind(id).bind(gateway).execute(conn).await.map(|_| ()))?;
            format!("no default return URL for {}", gateway_words(gateway))
        }
    };
    audit::record_in(&mut tx, actor, "merchant.return_url.set", &subject(id), &detail).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_read_one_per_line_and_problems_name_the_line() {
        let origins = parse_origins(
            "https://shop.example/done\n\nhttp://127.0.0.1:8080\nhttps://shop.example",
        )
        .unwrap();
        let names: Vec<&str> = origins.iter().map(ReturnOrigin::as_str).collect();
        assert_eq!(names, ["https://shop.example", "http://127.0.0.1:8080"]);
        let errors = parse_origins("https://ok.example\nnot a url").unwrap_err();
        assert_eq!(errors[0].message, "line 2 is not an absolute http(s) URL");
    }
}
