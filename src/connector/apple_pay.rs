//! The Apple Pay connector: merchant validation.
//!
//! When the customer taps the Apple Pay button, the browser asks the merchant to validate
//! itself; Settle asks the payment-session endpoint for a merchant session and hands the opaque
//! object to the browser unchanged (seed 000's `validate-session`). The object is the
//! provider's, signed by it, so Settle must not reshape it.
//!
//! Wire protocol: `POST {base}/paymentSession` with
//! `{"merchantIdentifier", "domainName", "displayName"}` → `200` session object
//! (`epochTimestamp`, `expiresAt`, `merchantSessionIdentifier`, `nonce`, `merchantIdentifier`,
//! `domainName`, `displayName`, `signature`, `operationalAnalyticsIdentifier`, `retries`,
//! `pspId`).

use async_trait::async_trait;
use serde::Serialize;

use crate::connector::http::send_json;
use crate::connector::{Connector, ConnectorConfig, ConnectorError};

/// Asks an Apple Pay payment-session endpoint (or the sandbox's `/sandbox/apple-pay`) for
/// merchant sessions.
pub struct ApplePayConnector {
    config: ConnectorConfig,
    client: reqwest::Client,
    merchant_identifier: String,
}

/// `POST /paymentSession` body, in Apple's field names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionRequest<'a> {
    merchant_identifier: &'a str,
    domain_name: &'a str,
    display_name: &'a str,
}

impl ApplePayConnector {
    /// A connector for the endpoint at `config.base_url`. The merchant identifier defaults to
    /// `merchant.settle.{gateway_id}`; set the one Apple issued with
    /// [`ApplePayConnector::with_merchant_identifier`].
    pub fn new(config: ConnectorConfig, client: reqwest::Client) -> ApplePayConnector {
        let merchant_identifier = format!("merchant.settle.{}", config.gateway_id);
        ApplePayConnector { config, client, merchant_identifier }
    }

    /// The same connector validating as `merchant_identifier` (e.g. `merchant.com.example`).
    pub fn with_merchant_identifier(mut self, merchant_identifier: impl Into<String>) -> Self {
        self.merchant_identifier = merchant_identifier.into();
        self
    }

    /// The Apple merchant identifier sent with every validation.
    pub fn merchant_identifier(&self) -> &str {
        &self.merchant_identifier
    }
}

#[async_trait]
impl Connector for ApplePayConnector {
    fn gateway_id(&self) -> &str {
        &self.config.gateway_id
    }

    async fn validate_merchant(
        &self,
        domain: &str,
        display_name: &str,
    ) -> Result<serde_json::Value, ConnectorError> {
        let body = SessionRequest {
            merchant_identifier: &self.merchant_identifier,
            domain_name: domain,
            display_name,
        };
        // A merchant session moves no money and a spare one expires unused, so a retry after a
        // connection error is harmless.
        let session: serde_json::Value = send_json(
            &self.config,
            &self.client,
            reqwest::Method::POST,
            "paymentSession",
            Some(&body),
            true,
        )
        .await?;
        // The browser hands this object to Apple Pay JS as is; anything but an object carrying a
        // session id would only fail later, in the customer's face.
        if session.get("merchantSessionIdentifier").and_then(|v| v.as_str()).is_none() {
            return Err(ConnectorError::BadResponse(format!(
                "payment session without merchantSessionIdentifier: {session}"
            )));
        }
        Ok(session)
    }
}
