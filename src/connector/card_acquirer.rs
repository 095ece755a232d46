//! The card acquirer connector: card authorisation with 3-D Secure 2, the Sagepay/Opayo pattern.
//!
//! Wire protocol (the sandbox provider `card` speaks it under `/sandbox/card`):
//! - `POST /transactions` with the card (or a token the acquirer issued) → `201` with status
//!   `Ok` (authorised, with a reusable `token`), `NotAuthed` or `Error`, or `202` with status
//!   `3DAuth` and the challenge (`acsUrl`, `cReq`, `threeDSSessionData`);
//! - `POST /transactions/{id}/3d-secure-challenge` with the `cRes` the issuer's page posted back;
//! - `GET /transactions/{id}` for reconciliation; `POST /transactions/{id}/refund`;
//! - `GET /transactions?merchant_reference=…` and `GET /transactions?since=…` →
//!   `{"transactions": [...]}`, newest first: the lookup by Settle's own reference (after a
//!   timeout Settle may never have learnt the acquirer's id) and the ledger check's list;
//! - signed notifications (`settle-signature`) on every final outcome.
//!
//! The card number and security code leave Settle only inside the authorisation request body.
//! Nothing here logs a request, and `raw` is built from the acquirer's answer with any card-data
//! keys removed, in case a provider ever echoes them.

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::connector::http::send_json;
use crate::connector::listing::{self, Filter};
use crate::connector::{
    Address, CardAuthorisation, Connector, ConnectorConfig, ConnectorError, GatewayCharge,
    GatewayResult, GatewayStatus, Notification, ThreeDsChallenge, ThreeDsCompletion,
    TokenCollection, signature,
};
use crate::money::Money;

use crate::redact::CARD_DATA_KEYS;

/// Connector for a card acquirer with 3-D Secure 2 (`GatewayKind::Card3ds`).
#[derive(Clone, Debug)]
pub struct CardAcquirerConnector {
    config: ConnectorConfig,
    client: reqwest::Client,
}

impl CardAcquirerConnector {
    /// A connector for the acquirer at `config.base_url`, sharing `client`'s connection pool.
    pub fn new(config: ConnectorConfig, client: reqwest::Client) -> CardAcquirerConnector {
        CardAcquirerConnector { config, client }
    }

    async fn create_transaction(
        &self,
        request: &TransactionRequest<'_>,
    ) -> Result<GatewayResult, ConnectorError> {
        // Not idempotent: a retried authorisation could charge twice, so a connection error is
        // reported and the caller decides.
        let raw: serde_json::Value = send_json(
            &self.config,
            &self.client,
            reqwest::Method::POST,
            "/transactions",
            Some(request),
            false,
        )
        .await?;
        transaction_result(raw)
    }

    /// `GET /transactions?{filter}`: the transactions, newest first.
    async fn transactions(
        &self,
        filter: &Filter<'_>,
    ) -> Result<Vec<serde_json::Value>, ConnectorError> {
        listing::list(&self.config, &self.client, "/transactions", "transactions", filter).await
    }
}

/// The acquirer's word for a transaction that took money (authorised and captured).
fn took_money(status: &str) -> bool {
    status == "Ok"
}

/// The authorisation request. Deliberately not `Debug`: it holds the card number and CVV.
#[derive(Serialize)]
struct TransactionRequest<'a> {
    merchant_reference: &'a str,
    /// Exact decimal text (`378.90`): the amount never passes through floating point.
    amount: String,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    card: Option<CardWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_address: Option<&'a Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_return_url: Option<&'a str>,
    notification_url: &'a str,
}

/// The card as the acquirer wants it. Not `Debug`, for the same reason as the request.
#[derive(Serialize)]
struct CardWire<'a> {
    holder: &'a str,
    number: &'a str,
    /// `MMYY`.
    expiry: String,
    cvv: &'a str,
}

/// The fields of a transaction answer (or notification) the mapping needs.
#[derive(Deserialize)]
struct TransactionReply {
    #[serde(alias = "transaction_id")]
    id: String,
    #[serde(default)]
    merchant_reference: Option<String>,
    status: String,
    #[serde(default, rename = "statusDetail")]
    status_detail: Option<String>,
    #[serde(default, rename = "acsUrl")]
    acs_url: Option<String>,
    #[serde(default, rename = "cReq")]
    creq: Option<String>,
    #[serde(default, rename = "threeDSSessionData")]
    session_data: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// A signed notification's envelope.
#[derive(Deserialize)]
struct NotificationEnvelope {
    event_id: String,
}

/// The challenge completion request.
#[derive(Serialize)]
struct ChallengeRequest<'a> {
    #[serde(rename = "cRes")]
    cres: &'a str,
}

/// A refund request: the amount as exact decimal text.
#[derive(Serialize)]
struct RefundRequest {
    amount: String,
    currency: &'static str,
}

/// A refund answer.
#[derive(Deserialize)]
struct RefundReply {
    id: String,
    status: String,
    #[serde(default, rename = "statusDetail")]
    status_detail: Option<String>,
}

/// Blanks card data anywhere in `value`, so `raw` can be stored and shown.
fn redact(value: serde_json::Value) -> serde_json::Value {
    crate::redact::redact(&value, CARD_DATA_KEYS)
}

/// Maps the acquirer's status words to Settle's [`GatewayStatus`].
fn map_status(reply: &TransactionReply) -> Result<GatewayStatus, ConnectorError> {
    let detail = || reply.status_detail.clone().unwrap_or_else(|| reply.status.clone());
    Ok(match reply.status.as_str() {
        "Ok" => GatewayStatus::Succeeded,
        "NotAuthed" | "Rejected" => GatewayStatus::Failed { reason: detail() },
        "Error" => GatewayStatus::Error { reason: detail() },
        "Pending" => GatewayStatus::Pending,
        "3DAuth" => match (&reply.acs_url, &reply.creq, &reply.session_data) {
            (Some(acs_url), Some(creq), Some(session_data)) => {
                GatewayStatus::ChallengeRequired(ThreeDsChallenge {
                    acs_url: acs_url.clone(),
                    creq: creq.clone(),
                    session_data: session_data.clone(),
                })
            }
            // Without all three the customer cannot be sent to the issuer; money may still
            // be pending there, so this is a bad answer, not a decline.
            _ => {
                return Err(ConnectorError::BadResponse(
                    "3DAuth without acsUrl, cReq and threeDSSessionData".into(),
                ));
            }
        },
        other => {
            return Err(ConnectorError::BadResponse(format!("unknown transaction status {other}")));
        }
    })
}

/// Reads a transaction answer into a [`GatewayResult`].
fn transaction_result(raw: serde_json::Value) -> Result<GatewayResult, ConnectorError> {
    let raw = redact(raw);
    let reply: TransactionReply = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::BadResponse(format!("transaction answer: {e}")))?;
    let status = map_status(&reply)?;
    Ok(GatewayResult {
        gateway_reference: reply.id,
        payment_reference: reply.merchant_reference,
        status,
        token: reply.token,
        raw,
    })
}

#[async_trait]
impl Connector for CardAcquirerConnector {
    fn gateway_id(&self) -> &str {
        &self.config.gateway_id
    }

    async fn authorise_card(
        &self,
        request: &CardAuthorisation,
    ) -> Result<GatewayResult, ConnectorError> {
        let card = &request.card;
        let body = TransactionRequest {
            merchant_reference: &request.payment_reference,
            amount: request.amount.to_decimal().to_string(),
            currency: request.amount.currency().code(),
            card: Some(CardWire {
                holder: &card.holder,
                number: card.number.expose_digits(),
                expiry: card.expiry.to_mmyy(),
                cvv: card.cvv.expose_digits(),
            }),
            token: None,
            billing_address: Some(&request.billing_address),
            challenge_return_url: Some(request.challenge_return_url.as_str()),
            notification_url: request.notification_url.as_str(),
        };
        self.create_transaction(&body).await
    }

    async fn complete_challenge(
        &self,
        completion: &ThreeDsCompletion,
    ) -> Result<GatewayResult, ConnectorError> {
        let path = format!(
            "/transactions/{}/3d-secure-challenge",
            path_segment(&completion.gateway_reference)
        );
        // Safe to retry: the acquirer answers a repeated completion with the same outcome.
        let raw: serde_json::Value = send_json(
            &self.config,
            &self.client,
            reqwest::Method::POST,
            &path,
            Some(&ChallengeRequest { cres: &completion.cres }),
            true,
        )
        .await?;
        transaction_result(raw)
    }

    async fn collect_with_token(
        &self,
        request: &TokenCollection,
    ) -> Result<GatewayResult, ConnectorError> {
        let body = TransactionRequest {
            merchant_reference: &request.payment_reference,
            amount: request.amount.to_decimal().to_string(),
            currency: request.amount.currency().code(),
            card: None,
            token: Some(&request.token),
            billing_address: None,
            // Merchant-initiated: no customer is present to take a challenge.
            challenge_return_url: None,
            notification_url: request.notification_url.as_str(),
        };
        self.create_transaction(&body).await
    }

    async fn query_status(&self, gateway_reference: &str) -> Result<GatewayResult, ConnectorError> {
        let path = format!("/transactions/{}", path_segment(gateway_reference));
        let raw: serde_json::Value =
            send_json::<(), _>(&self.config, &self.client, reqwest::Method::GET, &path, None, true)
                .await?;
        transaction_result(raw)
    }

    async fn find_by_reference(
        &self,
        payment_reference: &str,
    ) -> Result<Option<GatewayResult>, ConnectorError> {
        let found = self.transactions(&Filter::Reference(payment_reference)).await?;
        listing::newest(found).map(transaction_result).transpose()
    }

    async fn charges(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<GatewayCharge>, ConnectorError> {
        let listed = self.transactions(&Filter::Since(since)).await?;
        listing::charges(&listed, took_money)
    }

    async fn refund(
        &self,
        gateway_reference: &str,
        amount: Money,
    ) -> Result<GatewayResult, ConnectorError> {
        let path = format!("/transactions/{}/refund", path_segment(gateway_reference));
        let body = RefundRequest {
            amount: amount.to_decimal().to_string(),
            currency: amount.currency().code(),
        };
        // Not retried: a second refund request could refund twice.
        let raw: serde_json::Value =
            send_json(&self.config, &self.client, reqwest::Method::POST, &path, Some(&body), false)
                .await?;
        let raw = redact(raw);
        let reply: RefundReply = serde_json::from_value(raw.clone())
            .map_err(|e| ConnectorError::BadResponse(format!("refund answer: {e}")))?;
        let status = match reply.status.as_str() {
            "Ok" => GatewayStatus::Succeeded,
            "NotAuthed" | "Rejected" => {
                GatewayStatus::Failed { reason: reply.status_detail.unwrap_or(reply.status) }
            }
            "Error" => GatewayStatus::Error { reason: reply.status_detail.unwrap_or(reply.status) },
            other => {
                return Err(ConnectorError::BadResponse(format!("unknown refund status {other}")));
            }
        };
        Ok(GatewayResult {
            gateway_reference: reply.id,
            payment_reference: None,
            status,
            token: None,
            raw,
        })
    }

    fn verify_notification(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Notification, ConnectorError> {
        // The signature is checked before the body is even parsed: nothing unverified is read.
        let header = signature.ok_or(signature::SignatureError::Malformed)?;
        signature::verify(&self.config.signing_secret, header, body, Utc::now())?;
        let raw: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ConnectorError::BadResponse(format!("notification body: {e}")))?;
        let envelope: NotificationEnvelope = serde_json::from_value(raw.clone())
            .map_err(|e| ConnectorError::BadResponse(format!("notification body: {e}")))?;
        Ok(Notification { event_id: envelope.event_id, result: transaction_result(raw)? })
    }
}

/// Percent-encodes a gateway reference for use as one path segment, so a reference can never
/// reach another endpoint.
pub(crate) fn path_segment(reference: &str) -> String {
    url::form_urlencoded::byte_serialize(reference.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_card_data_at_any_depth() {
        let raw = serde_json::json!({
            "id": "T1",
            "card": { "number": "4462000000000003", "cvv": "123", "last4": "0003" },
            "list": [{ "pan": "4462000000000003" }],
        });
        let text = redact(raw).to_string();
        assert!(!text.contains("4462000000000003") && !text.contains("123\""), "{text}");
        assert!(text.contains("0003"));
    }

    #[test]
    fn statuses_map_to_gateway_statuses() {
        let reply = |status: &str| TransactionReply {
            id: "T1".into(),
            merchant_reference: None,
            status: status.into(),
            status_detail: Some("detail".into()),
            acs_url: None,
            creq: None,
            session_data: None,
            token: None,
        };
        assert_eq!(map_status(&reply("Ok")).unwrap(), GatewayStatus::Succeeded);
        assert_eq!(
            map_status(&reply("NotAuthed")).unwrap(),
            GatewayStatus::Failed { reason: "detail".into() }
        );
        assert_eq!(
            map_status(&reply("Error")).unwrap(),
            GatewayStatus::Error { reason: "detail".into() }
        );
        assert!(matches!(map_status(&reply("3DAuth")), Err(ConnectorError::BadResponse(_))));
        assert!(matches!(map_status(&reply("Weird")), Err(ConnectorError::BadResponse(_))));
    }

    #[tokio::test]
    async fn lookups_by_reference_and_charge_lists() {
        use crate::connector::listing::tests::Canned;
        use crate::money::Currency;
        let list = r#"{"transactions":[
            {"id":"T2","merchant_reference":"PAY-1","status":"NotAuthed","statusDetail":"no",
             "amount":"51.34","currency":"GBP","refunded_amount":"0.00",
             "created_at":"2026-03-01T11:00:00Z","card":{"brand":"VISA","last4":"0002"}},
            {"id":"T1","merchant_reference":"PAY-1","status":"Ok","statusDetail":"yes",
             "amount":"51.34","currency":"GBP","refunded_amount":"5.00","token":"tok_1",
             "created_at":"2026-03-01T10:00:00Z","card":{"brand":"VISA","last4":"0006"}}]}"#;
        let canned = Canned::start(vec![
            ("GET", "/provider/transactions?merchant_reference=PAY-1", 200, list.into()),
            (
                "GET",
                "/provider/transactions?merchant_reference=PAY-404",
                404,
                r#"{"error":"no such transaction"}"#.into(),
            ),
            (
                "GET",
                "/provider/transactions?merchant_reference=PAY-0",
                200,
                r#"{"transactions":[]}"#.into(),
            ),
            ("GET", "/provider/transactions?since=", 200, list.into()),
        ])
        .await;
        let card = CardAcquirerConnector::new(canned.config(), reqwest::Client::new());

        let newest = card.find_by_reference("PAY-1").await.unwrap_or_else(|e| panic!("{e}"));
        let newest = newest.unwrap_or_else(|| panic!("found"));
        assert_eq!(newest.gateway_reference, "T2");
        assert_eq!(newest.payment_reference.as_deref(), Some("PAY-1"));
        assert_eq!(newest.status, GatewayStatus::Failed { reason: "no".into() });
        assert!(
            card.find_by_reference("PAY-404").await.unwrap_or_else(|e| panic!("{e}")).is_none()
        );
        assert!(card.find_by_reference("PAY-0").await.unwrap_or_else(|e| panic!("{e}")).is_none());

        let since = "2026-03-01T00:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        let charges = card.charges(since).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(charges.len(), 1, "{charges:?}");
        assert_eq!(charges[0].gateway_reference, "T1");
        assert_eq!(charges[0].captured, Money::from_minor(5134, Currency::GBP));
        assert_eq!(charges[0].refunded, Money::from_minor(500, Currency::GBP));
        assert!(
            canned.seen().contains(
                &"GET /provider/transactions?since=2026-03-01T00%3A00%3A00%2B00%3A00".to_owned()
            ),
            "{:?}",
            canned.seen()
        );
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(path_segment("a b"), "a%20b");
    }
}
