//! The direct-debit bank connector: IBAN mandates and collections that settle or bounce later.
//!
//! Wire protocol (the sandbox provider `bank` speaks it under `/sandbox/bank`):
//! - `POST /mandates` `{iban, account_holder, merchant_reference}` → `{mandate_id, status}`;
//! - `POST /collections` with a `mandate_id` (or `iban` + `account_holder`, which creates the
//!   mandate) → `202 {id, status: "pending", mandate_id}`;
//! - `GET /collections/{id}` → `pending`, `settled` or `bounced` with a `reason`;
//! - `GET /collections?merchant_reference=…` and `GET /collections?since=…` →
//!   `{"collections": [...]}`, newest first (lookup by Settle's reference, ledger check);
//! - a signed notification (`settle-signature`) when the collection settles or bounces.
//!
//! A collection's outcome is never known when it is submitted, so [`Connector::direct_debit`]
//! always answers `Pending` with the mandate id as the reusable token.

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::connector::card_acquirer::path_segment;
use crate::connector::http::send_json;
use crate::connector::listing::{self, Filter};
use crate::connector::{
    Connector, ConnectorConfig, ConnectorError, DirectDebitRequest, GatewayCharge, GatewayResult,
    GatewayStatus, Notification, TokenCollection, signature,
};
use crate::iban::Iban;

/// Keys that could carry a full account number; `raw` never keeps them.
const ACCOUNT_DATA_KEYS: &[&str] = &["iban", "account_number"];

/// Connector for a direct-debit bank (`GatewayKind::DirectDebit`).
#[derive(Clone, Debug)]
pub struct DirectDebitConnector {
    config: ConnectorConfig,
    client: reqwest::Client,
}

/// A mandate the bank accepted.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Mandate {
    /// The bank's id for the mandate; collections quote it.
    pub mandate_id: String,
    /// The bank's word for its state (`active`).
    pub status: String,
}

impl DirectDebitConnector {
    /// A connector for the bank at `config.base_url`, sharing `client`'s connection pool.
    pub fn new(config: ConnectorConfig, client: reqwest::Client) -> DirectDebitConnector {
        DirectDebitConnector { config, client }
    }

    /// `POST /collections`: the answer is always pending (the outcome comes later), with the
    /// mandate id as the reusable token.
    async fn collect(&self, body: &CollectionRequest<'_>) -> Result<GatewayResult, ConnectorError> {
        // Not retried: a duplicate collection would debit the account twice.
        let raw: serde_json::Value = send_json(
            &self.config,
            &self.client,
            reqwest::Method::POST,
            "/collections",
            Some(body),
            false,
        )
        .await?;
        let result = collection_result(raw)?;
        if result.token.is_none() {
            // Without the mandate id the next collection would create another mandate.
            return Err(ConnectorError::BadResponse("collection answer without mandate_id".into()));
        }
        Ok(result)
    }

    /// `GET /collections?{filter}`: the collections, newest first.
    async fn collections(
        &self,
        filter: &Filter<'_>,
    ) -> Result<Vec<serde_json::Value>, ConnectorError> {
        listing::list(&self.config, &self.client, "/collections", "collections", filter).await
    }
}

/// A mandate request. Not `Debug`: it holds the full IBAN.
#[derive(Serialize)]
struct MandateRequest<'a> {
    iban: &'a str,
    account_holder: &'a str,
    merchant_reference: &'a str,
}

/// A collection request; either `mandate_id` or `iban` + `account_holder`. Not `Debug`.
#[derive(Serialize)]
struct CollectionRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    mandate_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iban: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_holder: Option<&'a str>,
    /// Exact decimal text (`378.90`).
    amount: String,
    currency: &'static str,
    merchant_reference: &'a str,
    notification_url: &'a str,
}

/// The fields of a collection answer (or notification) the mapping needs.
#[derive(Deserialize)]
struct CollectionReply {
    #[serde(alias = "collection_id")]
    id: String,
    #[serde(default)]
    merchant_reference: Option<String>,
    status: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    mandate_id: Option<String>,
}

/// A signed notification's envelope.
#[derive(Deserialize)]
struct NotificationEnvelope {
    event_id: String,
}

/// Blanks account data anywhere in `value`, so `raw` can be stored and shown.
fn redact(value: serde_json::Value) -> serde_json::Value {
    crate::redact::redact(&value, ACCOUNT_DATA_KEYS)
}

/// Reads a collection answer into a [`GatewayResult`]; the mandate id is the token.
fn collection_result(raw: serde_json::Value) -> Result<GatewayResult, ConnectorError> {
    let raw = redact(raw);
    let reply: CollectionReply = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::BadResponse(format!("collection answer: {e}")))?;
    let status = match reply.status.as_str() {
        "pending" | "submitted" => GatewayStatus::Pending,
        "settled" => GatewayStatus::Succeeded,
        "bounced" | "failed" => GatewayStatus::Failed {
            reason: reply.reason.unwrap_or_else(|| "the bank returned the collection".into()),
        },
        other => {
            return Err(ConnectorError::BadResponse(format!("unknown collection status {other}")));
        }
    };
    Ok(GatewayResult {
        gateway_reference: reply.id,
        payment_reference: reply.merchant_reference,
        status,
        token: reply.mandate_id,
        raw,
    })
}

#[async_trait]
impl Connector for DirectDebitConnector {
    fn gateway_id(&self) -> &str {
        &self.config.gateway_id
    }

    /// Registers a mandate for an account without collecting anything, so a customer can add a
    /// bank account as a payment method before the first collection is due.
    async fn create_mandate(
        &self,
        iban: &Iban,
        account_holder: &str,
        merchant_reference: &str,
    ) -> Result<Mandate, ConnectorError> {
        let body = MandateRequest { iban: iban.electronic(), account_holder, merchant_reference };
        // Not retried: a duplicate would leave a second mandate at the bank.
        send_json(
            &self.config,
            &self.client,
            reqwest::Method::POST,
            "/mandates",
            Some(&body),
            false,
        )
        .await
    }

    async fn direct_debit(
        &self,
        request: &DirectDebitRequest,
    ) -> Result<GatewayResult, ConnectorError> {
        // With a mandate the account is the bank's business; sending the IBAN again would only
        // spread it further.
        let (iban, account_holder) = match request.mandate_reference {
            Some(_) => (None, None),
            None => (Some(request.iban.electronic()), Some(request.account_holder.as_str())),
        };
        let body = CollectionRequest {
            mandate_id: request.mandate_reference.as_deref(),
            iban,
            account_holder,
            amount: request.amount.to_decimal().to_string(),
            currency: request.amount.currency().code(),
            merchant_reference: &request.payment_reference,
            notification_url: request.notification_url.as_str(),
        };
        self.collect(&body).await
    }

    /// A saved bank account's token is its mandate: collecting "with the token" is a
    /// collection under that mandate.
    async fn collect_with_token(
        &self,
        request: &TokenCollection,
    ) -> Result<GatewayResult, ConnectorError> {
        let body = CollectionRequest {
            mandate_id: Some(&request.token),
            iban: None,
            account_holder: None,
            amount: request.amount.to_decimal().to_string(),
            currency: request.amount.currency().code(),
            merchant_reference: &request.payment_reference,
            notification_url: request.notification_url.as_str(),
        };
        self.collect(&body).await
    }

    async fn query_status(&self, gateway_reference: &str) -> Result<GatewayResult, ConnectorError> {
        let path = format!("/collections/{}", path_segment(gateway_reference));
        let raw: serde_json::Value =
            send_json::<(), _>(&self.config, &self.client, reqwest::Method::GET, &path, None, true)
                .await?;
        collection_result(raw)
    }

    async fn find_by_reference(
        &self,
        payment_reference: &str,
    ) -> Result<Option<GatewayResult>, ConnectorError> {
        let found = self.collections(&Filter::Reference(payment_reference)).await?;
        listing::newest(found).map(collection_result).transpose()
    }

    async fn charges(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<GatewayCharge>, ConnectorError> {
        // Only a settled collection holds money: a pending one may still bounce.
        let listed = self.collections(&Filter::Since(since)).await?;
        listing::charges(&listed, |status| status == "settled")
    }

    fn verify_notification(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Notification, ConnectorError> {
        // The signature is checked before the body is parsed: nothing unverified is read.
        let header = signature.ok_or(signature::SignatureError::Malformed)?;
        signature::verify(&self.config.signing_secret, header, body, Utc::now())?;
        let raw: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ConnectorError::BadResponse(format!("notification body: {e}")))?;
        let envelope: NotificationEnvelope = serde_json::from_value(raw.clone())
            .map_err(|e| ConnectorError::BadResponse(format!("notification body: {e}")))?;
        Ok(Notification { event_id: envelope.event_id, result: collection_result(raw)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_statuses_map_and_ibans_are_dropped() {
        let result = collection_result(serde_json::json!({
            "id": "C1", "status": "bounced", "reason": "insufficient funds",
            "mandate_id": "M1", "iban": "DE89370400440532013000",
        }))
        .unwrap();
        assert_eq!(result.status, GatewayStatus::Failed { reason: "insufficient funds".into() });
        assert_eq!(result.token.as_deref(), Some("M1"));
        assert!(!result.raw.to_string().contains("DE89"));
        let settled =
            collection_result(serde_json::json!({ "collection_id": "C1", "status": "settled" }))
                .unwrap();
        assert_eq!(settled.status, GatewayStatus::Succeeded);
        assert!(collection_result(serde_json::json!({ "id": "C1", "status": "odd" })).is_err());
    }

    #[tokio::test]
    async fn lookups_by_reference_and_settled_collections_only() {
        use crate::connector::listing::tests::Canned;
        use crate::money::{Currency, Money};
        let list = r#"{"collections":[
            {"id":"DD-3","mandate_id":"MD-1","merchant_reference":"PAY-3","status":"pending",
             "amount":"5.00","currency":"EUR","refunded_amount":"0.00",
             "created_at":"2026-03-01T12:00:00Z"},
            {"id":"DD-2","mandate_id":"MD-1","merchant_reference":"PAY-2","status":"bounced",
             "reason":"account closed","amount":"5.00","currency":"EUR",
             "refunded_amount":"0.00","created_at":"2026-03-01T11:00:00Z"},
            {"id":"DD-1","mandate_id":"MD-1","merchant_reference":"PAY-1","status":"settled",
             "amount":"5.00","currency":"EUR","refunded_amount":"0.00",
             "created_at":"2026-03-01T10:00:00Z","iban":"DE89370400440532013000"}]}"#;
        let bounced = serde_json::json!({ "collections": [{
            "id": "DD-2", "mandate_id": "MD-1", "merchant_reference": "PAY-2", "status": "bounced",
            "reason": "account closed", "created_at": "2026-03-01T11:00:00Z",
        }]});
        let none = r#"{"error":"no such collection"}"#;
        let canned = Canned::start(vec![
            ("GET", "/provider/collections?merchant_reference=PAY-2", 200, bounced.to_string()),
            ("GET", "/provider/collections?merchant_reference=PAY-0", 404, none.into()),
            ("GET", "/provider/collections?since=", 200, list.into()),
        ])
        .await;
        let bank = DirectDebitConnector::new(canned.config(), reqwest::Client::new());
        let found = bank.find_by_reference("PAY-2").await.unwrap_or_else(|e| panic!("{e}"));
        let found = found.unwrap_or_else(|| panic!("found"));
        assert_eq!(found.status, GatewayStatus::Failed { reason: "account closed".into() });
        assert_eq!(found.token.as_deref(), Some("MD-1"));
        assert!(bank.find_by_reference("PAY-0").await.unwrap_or_else(|e| panic!("{e}")).is_none());

        let since = "2026-03-01T00:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        let charges = bank.charges(since).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(charges.len(), 1);
        assert_eq!(charges[0].gateway_reference, "DD-1");
        assert_eq!(charges[0].captured, Money::from_minor(500, Currency::EUR));
    }
}
