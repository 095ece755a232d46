//! Where the customer goes back to after paying on a gateway's page: the client's rule
//! ([`ReturnTo`]), checked against the merchant's registered origins. A URL a client gave for a purchase carries over to the purchase's later attempts; without
//! one, the merchant's completion page for the gateway (or for all its gateways) is used.

use url::Url;

use crate::db::Db;
use crate::error::{Error, FieldError, Result};
use crate::merchant::{Merchant, MerchantId};
use crate::payment::Payment;
pub use crate::payment::ReturnTo;
use crate::payment::orchestrator::CallbackUrls;
use crate::purchase::PurchaseId;
use crate::with_db;

/// Checks that every URL a rule can produce is an absolute http(s) URL on an origin the
/// merchant registered; `field` names the client's field in the error.
pub fn check(rule: ReturnTo, merchant: &Merchant, field: &str) -> Result<ReturnTo, FieldError> {
    for url in rule.urls() {
        registered_url(merchant, &url, field)?;
    }
    Ok(rule)
}

/// A rule a payer gives for paying `service`, checked against the origins of the merchant whose
/// client asks (or who sells the service): the core's own guard, whatever the entry point.
pub async fn allowed(
    db: &Db,
    payer: &crate::access::Viewer,
    service: &crate::service::Service,
    rule: ReturnTo,
) -> Result<ReturnTo> {
    let merchant = payers_merchant(db, payer, service).await?;
    Ok(check(rule, &merchant, "return_to")?)
}

/// [`allowed`], where a URL may also be Settle's own collection return (`own`), provided the
/// client page it forwards to (its `url` parameter) is on a registered origin.
pub async fn allowed_via(
    db: &Db,
    own: &CallbackUrls,
    payer: &crate::access::Viewer,
    service: &crate::service::Service,
    rule: ReturnTo,
) -> Result<ReturnTo> {
    let merchant = payers_merchant(db, payer, service).await?;
    for url in rule.urls() {
        registered_or_own(&merchant, own, &url, "return_to")?;
    }
    Ok(rule)
}

/// The merchant whose client asks, or who sells the service: whose origins a way back must use.
pub(crate) async fn payers_merchant(
    db: &Db,
    payer: &crate::access::Viewer,
    service: &crate::service::Service,
) -> Result<Merchant> {
    let merchant = match payer.merchant().or(service.merchant_id.as_ref()) {
        Some(id) => Merchant::find(db, id).await?,
        None => None,
    };
    merchant
        .ok_or_else(|| Error::invalid("return_to", "only a merchant's client can name a way back"))
}

/// A client's URL on a registered origin, Settle's own collection return forwarding to one, or
/// one of Settle's own customer pages (its pay now pages' way back).
pub fn registered_or_own(
    merchant: &Merchant,
    own: &CallbackUrls,
    raw: &str,
    field: &str,
) -> Result<Url, FieldError> {
    match Url::parse(raw.trim()) {
        Ok(url) if own.is_collection_return(&url) => {
            let forward = url.query_pairs().find(|(k, _)| k == "url").map(|(_, v)| v.into_owned());
            let Some(forward) = forward else {
                return Err(FieldError::new(
                    field,
                    "Settle's return needs the url parameter to send the customer on to",
                ));
            };
            registered_url(merchant, &forward, field)?;
            Ok(url)
        }
        Ok(url) if own.is_customer_page(&url) => Ok(url),
        _ => registered_url(merchant, raw, field),
    }
}

/// A client's URL, if absolute http(s) on an origin the merchant registered.
pub fn registered_url(merchant: &Merchant, raw: &str, field: &str) -> Result<Url, FieldError> {
    match Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            if merchant.allows_return_to(&url) {
                Ok(url)
            } else {
                Err(FieldError::new(
                    field,
                    format!(
                        "{} is not an origin this merchant registered for customers to return to",
                        url.origin().ascii_serialization()
                    ),
                ))
            }
        }
        _ => Err(FieldError::new(field, "must be an absolute http(s) URL")),
    }
}

/// The return a new attempt on `purchase` inherits when its client named none: the newest one
/// an earlier attempt on the purchase was given, else the one the merchant gave the purchase.
pub(crate) async fn carried_over(db: &Db, purchase: &PurchaseId) -> Result<Option<ReturnTo>> {
    if let Some(rule) =
        Payment::for_purchase(db, purchase).await?.into_iter().find_map(|p| p.return_to)
    {
        return Ok(Some(rule));
    }
    of_purchase(db, purchase).await
}

/// A way back `merchant` names for its customers, checked against its registered origins;
/// `field` names the client's field in the error.
pub async fn for_merchant(
    db: &Db,
    merchant: &MerchantId,
    rule: ReturnTo,
    field: &str,
) -> Result<ReturnTo> {
    let merchant = Merchant::find(db, merchant).await?.ok_or(Error::Unauthorized)?;
    Ok(check(rule, &merchant, field)?)
}

/// Keeps `rule` as the way back of every attempt to pay `purchase`, unless the purchase has one
/// already (a repeated request changes nothing).
pub async fn keep_for_purchase(db: &Db, purchase: &PurchaseId, rule: &ReturnTo) -> Result<()> {
    let json = serde_json::to_string(rule)
        .map_err(|e| Error::Internal(format!("storing a return rule: {e}")))?;
    let sql = "UPDATE purchases SET return_to = $2 WHERE id = $1 AND return_to IS NULL";
    with_db!(db, pool => sqlx::query(sql).bind(purchase).bind(&json).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// The way back the merchant gave `purchase`, if it gave one.
pub async fn of_purchase(db: &Db, purchase: &PurchaseId) -> Result<Option<ReturnTo>> {
    let sql = "SELECT return_to FROM purchases WHERE id = $1";
    let stored: Option<Option<String>> =
        with_db!(db, pool => sqlx::query_scalar(sql).bind(purchase).fetch_optional(pool).await)?;
    stored
        .flatten()
        .map(|json| {
            serde_json::from_str(&json)
                .map_err(|e| Error::Internal(format!("purchases.return_to is invalid: {e}")))
        })
        .transpose()
}

/// Where a customer goes after a payment step: the payment's own rule, else the completion
/// page its merchant configured for its gateway (or for all its gateways), with the outcome
/// appended. `None`: Settle's own status page.
pub async fn continue_url(db: &Db, payment: &Payment) -> Result<Option<String>> {
    if let Some(rule) = &payment.return_to {
        return Ok(rule.url_for(payment));
    }
    let Some(merchant) = &payment.merchant_id else { return Ok(None) };
    Ok(completion_page(db, merchant, &payment.gateway_id)
        .await?
        .and_then(|url| ReturnTo::AppendOutcome { url }.url_for(payment)))
}

/// A merchant's completion page for a gateway, else its page for all gateways.
pub async fn completion_page(db: &Db, merchant: &MerchantId, gateway: &str) -> Result<Option<Url>> {
    let sql = "SELECT url FROM merchant_completion_pages WHERE merchant_id = $1 AND gateway_id IN ($2, '*')
               ORDER BY CASE WHEN gateway_id = '*' THEN 1 ELSE 0 END LIMIT 1";
    let url: Option<String> = with_db!(db, pool => sqlx::query_scalar(sql)
        .bind(merchant)
        .bind(gateway)
        .fetch_optional(pool)
        .await)?;
    url.map(|u| Url::parse(&u).map_err(|e| Error::Internal(format!("completion page {u}: {e}"))))
        .transpose()
}

/// Sets a merchant's completion page for one gateway (`Some`) or for all of them (`None`); the
/// URL must be on one of its registered origins.
pub async fn set_completion_page(
    db: &Db,
    merchant: &Merchant,
    gateway: Option<&str>,
    url: &str,
) -> Result<()> {
    let url = registered_url(merchant, url, "url")?;
    let sql =
        "INSERT INTO merchant_completion_pages (merchant_id, gateway_id, url) VALUES ($1, $2, $3)
               ON CONFLICT (merchant_id, gateway_id) DO UPDATE SET url = $3";
    with_db!(db, pool => sqlx::query(sql)
        .bind(&merchant.id)
        .bind(gateway.unwrap_or("*"))
        .bind(url.as_str())
        .execute(pool)
        .await
        .map(|_| ()))?;
    Ok(())
}
