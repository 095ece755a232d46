//! Connectors: how Settle talks to payment gateways.
//!
//! Each gateway kind has one implementation speaking the provider's HTTP API with reqwest (with
//! timeouts; retries only on connection errors, never on a request that may have charged). The
//! orchestration core (`crate::payment`) sees only the [`Connector`] trait and maps its
//! [`GatewayResult`]s to payment states. Gateways without a `base_url` point at the sandbox
//! providers (at [`ConnectorSettings::sandbox_url`], by default the server's own `/sandbox/...`)
//! and verify with the sandbox's key; so these connectors are exercised over real HTTP.

pub mod apple_pay;
pub mod card_acquirer;
pub mod direct_debit;
pub mod hosted_checkout;
pub mod http;
pub mod listing;
pub mod signature;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use url::Url;

pub use crate::address::Address;
use crate::card::{CardNumber, Cvv, ExpiryDate};
use crate::gateway::{Gateway, GatewayKind};
use crate::iban::Iban;
use crate::money::Money;

/// The development HMAC key of the sandbox providers. It is in the source, so it is trusted only
/// where the server's configuration says so (`sandbox_signing_secret`, by default this key in
/// development and a random one in production), and only for gateways that talk to the
/// sandbox. Real gateways get their own key from the provider.
pub const SANDBOX_SIGNING_SECRET: &str = "settle-sandbox-signing-secret";

/// A form the customer's browser must POST to reach a gateway page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedForm {
    /// Where the form posts.
    pub action: String,
    /// Hidden fields, in order.
    pub fields: Vec<(String, String)>,
}

/// What to ask a hosted-checkout or payment-link gateway for.
#[derive(Clone, Debug)]
pub struct CheckoutRequest {
    /// Settle's payment reference (the gateway echoes it back).
    pub payment_reference: String,
    /// What to charge.
    pub amount: Money,
    /// Shown to the customer on the hosted page.
    pub description: String,
    /// The customer's email, if the gateway wants it.
    pub customer_email: Option<String>,
    /// Where the gateway sends the customer back to (a Settle URL).
    pub return_url: Url,
    /// Where the gateway posts its server-to-server notification (a Settle URL).
    pub notification_url: Url,
    /// Whether the gateway should keep the card as a token for later collections.
    pub save_card: bool,
}

/// A hosted checkout created at the gateway.
#[derive(Clone, Debug)]
pub struct CheckoutSession {
    /// The gateway's id for the payment.
    pub gateway_reference: String,
    /// Where to send the customer.
    pub redirect_url: Url,
    /// The form to POST instead of redirecting, where the gateway wants a POST.
    pub form: Option<HostedForm>,
}

/// Card details on their way to the gateway; never stored or logged by Settle.
#[derive(Clone, Debug)]
pub struct CardDetails {
    /// Name on the card.
    pub holder: String,
    /// The number (Debug shows only the last four).
    pub number: CardNumber,
    /// Expiry month and year.
    pub expiry: ExpiryDate,
    /// Security code (Debug shows `***`).
    pub cvv: Cvv,
}

/// A card authorisation with 3-D Secure.
#[derive(Clone, Debug)]
pub struct CardAuthorisation {
    /// Settle's payment reference.
    pub payment_reference: String,
    /// What to charge.
    pub amount: Money,
    /// The card.
    pub card: CardDetails,
    /// The billing address, for address verification.
    pub billing_address: Address,
    /// Where the issuer's challenge page sends the browser when done (a Settle URL).
    pub challenge_return_url: Url,
    /// Where the gateway posts notifications.
    pub notification_url: Url,
}

/// The issuer's 3-D Secure challenge the customer must complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreeDsChallenge {
    /// The issuer's challenge page (`acsurl`).
    pub acs_url: String,
    /// The challenge request (`creq`).
    pub creq: String,
    /// Session data to post along (`threeDSSessionData`).
    pub session_data: String,
}

/// The challenge result the issuer's page posted back (`cres`).
#[derive(Clone, Debug)]
pub struct ThreeDsCompletion {
    /// The gateway's id for the payment.
    pub gateway_reference: String,
    /// The challenge response.
    pub cres: String,
}

/// A collection with a stored card token.
#[derive(Clone, Debug)]
pub struct TokenCollection {
    /// Settle's payment reference.
    pub payment_reference: String,
    /// What to charge.
    pub amount: Money,
    /// The gateway's token for the card.
    pub token: String,
    /// Where the gateway posts notifications.
    pub notification_url: Url,
}

/// A card update to start at the gateway: the customer replaces the card behind a token on
/// the gateway's page.
#[derive(Clone, Debug)]
pub struct CardUpdateRequest {
    /// Settle's id for the update (the gateway echoes it back).
    pub reference: String,
    /// The token of the card being replaced.
    pub token: String,
    /// Where the gateway sends the customer when done (a Settle URL).
    pub return_url: Url,
}

/// A card update started at the gateway.
#[derive(Clone, Debug)]
pub struct CardUpdateSession {
    /// The gateway's id for the update.
    pub gateway_reference: String,
    /// The gateway's page where the customer enters the new card.
    pub redirect_url: Url,
}

/// What the gateway says about a card update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardUpdateStatus {
    /// The customer has not finished.
    Pending,
    /// A new card was saved: its token and what may be shown of it.
    Succeeded(crate::payment_method::ReplacementCard),
    /// Declined or abandoned.
    Failed {
        /// The gateway's reason.
        reason: String,
    },
}

/// A direct-debit collection from a bank account.
#[derive(Clone, Debug)]
pub struct DirectDebitRequest {
    /// Settle's payment reference.
    pub payment_reference: String,
    /// What to collect.
    pub amount: Money,
    /// The account.
    pub iban: Iban,
    /// The account holder's name.
    pub account_holder: String,
    /// An existing mandate, or `None` to create one.
    pub mandate_reference: Option<String>,
    /// Where the bank posts the settlement or bounce.
    pub notification_url: Url,
}

/// What the gateway says about a payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GatewayStatus {
    /// Money was taken.
    Succeeded,
    /// Declined (the customer may try again with other details).
    Failed {
        /// The gateway's reason, safe to show.
        reason: String,
    },
    /// The issuer wants a 3-D Secure challenge.
    ChallengeRequired(ThreeDsChallenge),
    /// Accepted, the outcome comes later (direct debit, or a hosted page not finished yet).
    Pending,
    /// The gateway failed in a way retrying won't fix.
    Error {
        /// The gateway's reason.
        reason: String,
    },
}

/// A gateway's answer about one payment.
#[derive(Clone, Debug)]
pub struct GatewayResult {
    /// The gateway's id for the payment.
    pub gateway_reference: String,
    /// Settle's payment reference as the gateway echoes it (its `merchant_reference`), so an
    /// answer or notification can be matched before Settle learnt the gateway's id.
    pub payment_reference: Option<String>,
    /// Its status.
    pub status: GatewayStatus,
    /// A reusable token for the card or mandate, if the gateway issued one.
    pub token: Option<String>,
    /// The gateway's response, with secrets and card data removed, for the payment's timeline.
    pub raw: serde_json::Value,
}

/// Money a gateway holds for one of Settle's payments: what the ledger check compares with
/// Settle's own records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayCharge {
    /// The gateway's id for the charge.
    pub gateway_reference: String,
    /// Settle's payment reference the charge was made under (its `merchant_reference`).
    pub payment_reference: String,
    /// What was taken.
    pub captured: Money,
    /// What has been given back since.
    pub refunded: Money,
    /// When the gateway recorded it.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A verified server-to-server notification.
#[derive(Clone, Debug)]
pub struct Notification {
    /// The gateway's unique id for this event (for deduplication).
    pub event_id: String,
    /// What the gateway now says about the payment.
    pub result: GatewayResult,
}

/// How a call to a gateway went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// This gateway kind doesn't do that.
    #[error("the gateway does not support {0}")]
    Unsupported(&'static str),
    /// The request never reached the gateway (connection refused, DNS). Nothing can have been
    /// charged, so the next gateway may be tried.
    #[error("gateway unreachable: {0}")]
    Unreachable(String),
    /// The gateway said it is unavailable before acting (HTTP 503). Nothing was charged.
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
    /// The request was sent but no answer came in time. Money may have moved: the payment is
    /// left for reconciliation, never retried elsewhere.
    #[error("gateway timed out: {0}")]
    Timeout(String),
    /// The gateway refused the request as invalid (4xx).
    #[error("gateway refused the request ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The gateway's message.
        message: String,
    },
    /// The gateway's answer could not be understood. Money may have moved.
    #[error("gateway answered unexpectedly: {0}")]
    BadResponse(String),
    /// A notification's signature is missing, wrong or stale.
    #[error("notification rejected: {0}")]
    BadSignature(#[from] signature::SignatureError),
}

impl ConnectorError {
    /// Whether the next gateway may be tried: only when this one certainly did nothing.
    pub fn nothing_happened(&self) -> bool {
        matches!(self, ConnectorError::Unreachable(_) | ConnectorError::Unavailable(_))
    }
}

/// One gateway's connector. Methods a kind doesn't support answer `Unsupported`.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The gateway this connector serves.
    fn gateway_id(&self) -> &str;

    /// Creates a hosted checkout or payment link; the customer is sent to its URL.
    async fn create_checkout(
        &self,
        _request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ConnectorError> {
        Err(ConnectorError::Unsupported("hosted checkout"))
    }

    /// Authorises a card, with 3-D Secure when the issuer asks for it.
    async fn authorise_card(
        &self,
        _request: &CardAuthorisation,
    ) -> Result<GatewayResult, ConnectorError> {
        Err(ConnectorError::Unsupported("card authorisation"))
    }

    /// Finishes a 3-D Secure challenge with the issuer's response.
    async fn complete_challenge(
        &self,
        _completion: &ThreeDsCompletion,
    ) -> Result<GatewayResult, ConnectorError> {
        Err(ConnectorError::Unsupported("3-D Secure"))
    }

    /// Charges a stored card token.
    async fn collect_with_token(
        &self,
        _request: &TokenCollection,
    ) -> Result<GatewayResult, ConnectorError> {
        Err(ConnectorError::Unsupported("token collection"))
    }

    /// Starts a direct-debit collection (the outcome usually arrives later).
    async fn direct_debit(
        &self,
        _request: &DirectDebitRequest,
    ) -> Result<GatewayResult, ConnectorError> {
        Err(ConnectorError::Unsupported("direct debit"))
    }

    /// Registers a direct-debit mandate for an account without collecting anything, so the
    /// account can be kept as a payment method; collections then quote the mandate.
    async fn create_mandate(
        &self,
        _iban: &Iban,
        _account_holder: &str,
        _merchant_reference: &str,
    ) -> Result<direct_debit::Mandate, ConnectorError> {
        Err(ConnectorError::Unsupported("mandates"))
    }

    /// Starts a card update: the customer enters a new card on the gateway's page, which then
    /// replaces the card behind the token (as a new token).
    async fn start_card_update(
        &self,
        _request: &CardUpdateRequest,
    ) -> Result<CardUpdateSession, ConnectorError> {
        Err(ConnectorError::Unsupported("card updates"))
    }

    /// Asks the gateway how a card update ended: Settle learns the new card from the gateway,
    /// never from the browser.
    async fn card_update_status(
        &self,
        _gateway_reference: &str,
    ) -> Result<CardUpdateStatus, ConnectorError> {
        Err(ConnectorError::Unsupported("card updates"))
    }

    /// Asks the gateway where a payment stands (reconciliation).
    async fn query_status(
        &self,
        _gateway_reference: &str,
    ) -> Result<GatewayResult, ConnectorError> {
        Err(ConnectorError::Unsupported("status queries"))
    }

    /// Where a payment stands, looked up by Settle's own payment reference: the gateway's id
    /// may never have reached Settle (the request timed out, or Settle stopped mid-request).
    /// `Ok(None)` means the gateway has no payment under that reference.
    async fn find_by_reference(
        &self,
        _payment_reference: &str,
    ) -> Result<Option<GatewayResult>, ConnectorError> {
        Err(ConnectorError::Unsupported("status queries by payment reference"))
    }

    /// Cancels a payment the customer has not completed (a hosted checkout), so it can no
    /// longer be paid. Answers the payment's status afterwards: failed (cancelled), or
    /// succeeded if the customer paid first.
    async fn cancel(&self, _gateway_reference: &str) -> Result<GatewayResult, ConnectorError> {
        Err(ConnectorError::Unsupported("cancelling a payment"))
    }

    /// Every charge (money taken) the gateway recorded since `since`, for the ledger check.
    async fn charges(
        &self,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<GatewayCharge>, ConnectorError> {
        Err(ConnectorError::Unsupported("listing charges"))
    }

    /// Refunds a settled payment.
    async fn refund(
        &self,
        _gateway_reference: &str,
        _amount: Money,
    ) -> Result<GatewayResult, ConnectorError> {
        Err(ConnectorError::Unsupported("refunds"))
    }

    /// Verifies a notification's signature and parses it. Nothing may act on a notification
    /// before this accepts it.
    fn verify_notification(
        &self,
        _signature: Option<&str>,
        _body: &[u8],
    ) -> Result<Notification, ConnectorError> {
        Err(ConnectorError::Unsupported("notifications"))
    }

    /// Apple Pay merchant validation: the provider's session object, passed through.
    async fn validate_merchant(
        &self,
        _domain: &str,
        _display_name: &str,
    ) -> Result<serde_json::Value, ConnectorError> {
        Err(ConnectorError::Unsupported("Apple Pay merchant validation"))
    }
}

/// What connectors need from the server: where the sandbox is, its key, and one shared HTTP
/// client.
#[derive(Clone)]
pub struct ConnectorSettings {
    /// Base URL of the sandbox providers (by default `{public_url}/sandbox`), used by gateways
    /// without a `base_url` of their own.
    pub sandbox_url: Url,
    /// The key the sandbox signs notifications with: gateways without a `base_url` (and without
    /// a `signing_secret` of their own) verify with it. No other gateway ever does.
    pub sandbox_signing_secret: String,
    /// The shared HTTP client (connection pooling).
    pub client: reqwest::Client,
}

impl std::fmt::Debug for ConnectorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorSettings")
            .field("sandbox_url", &self.sandbox_url.as_str())
            .field("sandbox_signing_secret", &"***")
            .finish_non_exhaustive()
    }
}

/// Where one gateway's connector finds its provider. `Debug` shows neither key.
#[derive(Clone)]
pub struct ConnectorConfig {
    /// The gateway's key.
    pub gateway_id: String,
    /// The provider's base URL.
    pub base_url: Url,
    /// The API key sent with every request.
    pub api_key: String,
    /// The HMAC key for notifications. Empty means none is configured: every notification is
    /// refused as badly signed.
    pub signing_secret: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("gateway_id", &self.gateway_id)
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &"***")
            .field("signing_secret", &if self.signing_secret.is_empty() { "" } else { "***" })
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Connectors for every configured gateway, by gateway key.
#[derive(Clone, Default)]
pub struct Connectors {
    by_gateway: HashMap<String, Arc<dyn Connector>>,
}

impl Connectors {
    /// Builds a connector for each gateway of a kind that has one.
    pub fn for_gateways(
        gateways: &[GatewayConnection],
        settings: &ConnectorSettings,
    ) -> Connectors {
        let mut by_gateway: HashMap<String, Arc<dyn Connector>> = HashMap::new();
        for g in gateways {
            let sandbox_path = match g.gateway.kind {
                GatewayKind::HostedCheckout | GatewayKind::PaymentLink => "hosted-checkout",
                GatewayKind::Card3ds => "card",
                GatewayKind::DirectDebit => "bank",
                GatewayKind::ApplePay => "apple-pay",
                GatewayKind::Invoice | GatewayKind::OffSystem => continue,
            };
            let base_url = g.base_url.clone().unwrap_or_else(|| {
                let mut url = settings.sandbox_url.clone();
                url.path_segments_mut()
                    .map(|mut s| {
                        s.pop_if_empty().push(sandbox_path);
                    })
                    .ok();
                url
            });
            // The sandbox's key only for gateways that talk to the sandbox; a gateway with a
            // provider of its own and no key of its own trusts no notification at all.
            let signing_secret = match (&g.signing_secret, &g.base_url) {
                (Some(own), _) => own.clone(),
                (None, None) => settings.sandbox_signing_secret.clone(),
                (None, Some(_)) => String::new(),
            };
            let config = ConnectorConfig {
                gateway_id: g.gateway.id.clone(),
                base_url,
                api_key: g
                    .api_key
                    .clone()
                    .unwrap_or_else(|| format!("sandbox-key-{}", g.gateway.id)),
                signing_secret,
                timeout: g.timeout,
            };
            if let Some(connector) = http::build(g.gateway.kind, config, settings.client.clone()) {
                by_gateway.insert(g.gateway.id.clone(), connector);
            }
        }
        Connectors { by_gateway }
    }

    /// Adds or replaces one connector (tests use this to inject fakes).
    pub fn insert(&mut self, gateway_id: impl Into<String>, connector: Arc<dyn Connector>) {
        self.by_gateway.insert(gateway_id.into(), connector);
    }

    /// The connector of a gateway.
    pub fn get(&self, gateway_id: &str) -> Option<Arc<dyn Connector>> {
        self.by_gateway.get(gateway_id).cloned()
    }
}

/// A gateway with its connection settings (loaded by [`Gateway::connections`]).
#[derive(Clone, Debug)]
pub struct GatewayConnection {
    /// The gateway.
    pub gateway: Gateway,
    /// Its provider's base URL; `None` means the sandbox.
    pub base_url: Option<Url>,
    /// API key.
    pub api_key: Option<String>,
    /// Notification HMAC key.
    pub signing_secret: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Its own reconciliation timing, where the operator set one.
    pub reconcile: crate::payment::orchestrator::GatewayTiming,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn connection(id: &str, base_url: Option<&str>, secret: Option<&str>) -> GatewayConnection {
        GatewayConnection {
            gateway: Gateway {
                id: id.into(),
                name: id.into(),
                provider: "test".into(),
                kind: GatewayKind::HostedCheckout,
                currency: Currency::ZAR,
                enabled: true,
                created_at: chrono::Utc::now(),
            },
            base_url: base_url.map(|u| Url::parse(u).unwrap_or_else(|e| panic!("{e}"))),
            api_key: None,
            signing_secret: secret.map(str::to_owned),
            timeout: Duration::from_secs(1),
            reconcile: Default::default(),
        }
    }

    fn accepts(connectors: &Connectors, gateway: &str, key: &str) -> bool {
        let body = br#"{"event_id":"evt_1","checkout_id":"co_1","status":"succeeded"}"#;
        let header = signature::sign(key, body, chrono::Utc::now());
        let connector = connectors.get(gateway).unwrap_or_else(|| panic!("no {gateway}"));
        match connector.verify_notification(Some(&header), body) {
            Ok(_) => true,
            Err(ConnectorError::BadSignature(_)) => false,
            Err(e) => panic!("{gateway}: {e}"),
        }
    }

    #[test]
    fn only_sandbox_gateways_trust_the_sandbox_key() {
        let settings = ConnectorSettings {
            sandbox_url: Url::parse("http://127.0.0.1:9/sandbox").unwrap_or_else(|e| panic!("{e}")),
            sandbox_signing_secret: "configured-sandbox-key".into(),
            client: reqwest::Client::new(),
        };
        let connectors = Connectors::for_gateways(
            &[
                connection("sandboxed", None, None),
                connection("own-key", Some("https://psp.example/api"), Some("psp-key")),
                connection("no-key", Some("https://psp.example/api"), None),
            ],
            &settings,
        );
        assert!(accepts(&connectors, "sandboxed", "configured-sandbox-key"));
        assert!(!accepts(&connectors, "sandboxed", SANDBOX_SIGNING_SECRET));
        assert!(accepts(&connectors, "own-key", "psp-key"));
        assert!(!accepts(&connectors, "own-key", "configured-sandbox-key"));
        for key in [SANDBOX_SIGNING_SECRET, "configured-sandbox-key", "psp-key", ""] {
            assert!(!accepts(&connectors, "no-key", key), "no-key accepted {key:?}");
        }
        assert!(!format!("{settings:?}").contains("configured-sandbox-key"));
        let config = ConnectorConfig {
            gateway_id: "g".into(),
            base_url: settings.sandbox_url.clone(),
            api_key: "api-key-1".into(),
            signing_secret: "signing-key-1".into(),
            timeout: Duration::from_secs(1),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("api-key-1") && !shown.contains("signing-key-1"), "{shown}");
    }
}
