//! The hosted-checkout connector: the Payfort / Peach Payments Checkout / PayFast pattern, also
//! used for payment links.
//!
//! Settle creates a checkout at the provider and sends the customer to the provider's page; the
//! provider sends the browser back to Settle's return URL and, separately, posts a signed
//! server-to-server notification. Only the notification (after [`signature::verify`]) or a
//! status query may settle a payment: the browser's return carries nothing trustworthy.
//!
//! Wire protocol (JSON, `Authorization: Bearer <api_key>`, amounts as exact decimal strings):
//! - `POST {base}/checkouts` → `201` checkout (`id`, `redirect_url`, `status: "pending"`);
//! - `GET {base}/checkouts/{id}` → the checkout or token charge and its status;
//! - `GET {base}/checkouts?merchant_reference=…` → `{"checkouts": [...]}` (checkouts and token
//!   charges, newest first), for settling a payment whose creation timed out before Settle
//!   learned the provider's id; `GET {base}/checkouts?since=…` lists them for the ledger check;
//! - `POST {base}/checkouts/{id}/cancel` → the checkout as it now is: `cancelled` if it was
//!   still pending, otherwise unchanged (the customer may have paid first);
//! - `POST {base}/charges` → `201` token charge, `succeeded` or `failed`;
//! - `POST {base}/checkouts/{id}/refund` → `201` refund;
//! - `POST {base}/card-updates` → `201` card update (`id`, `redirect_url`) for a saved token;
//!   `GET {base}/card-updates/{id}` → its status and, once `succeeded`, the new `card_token`,
//!   `card_brand`, `card_last4` and `card_expiry` (MMYY);
//! - notifications: `POST` to the notification URL with a `settle-signature` header.

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::connector::http::send_json;
use crate::connector::listing::{self, Filter};
use crate::connector::signature::{self, SignatureError};
use crate::connector::{
    CardUpdateRequest, CardUpdateSession, CardUpdateStatus, CheckoutRequest, CheckoutSession,
    Connector, ConnectorConfig, ConnectorError, GatewayCharge, GatewayResult, GatewayStatus,
    Notification, TokenCollection,
};
use crate::money::Money;

/// The reason given for a checkout the customer abandoned with "Cancel".
pub const CANCELLED_REASON: &str = "cancelled by the customer";

/// Talks to a hosted-checkout provider (or the sandbox's `/sandbox/hosted-checkout`).
pub struct HostedCheckoutConnector {
    config: ConnectorConfig,
    client: reqwest::Client,
}

/// `POST /checkouts` body.
#[derive(Serialize)]
struct CreateCheckout<'a> {
    merchant_reference: &'a str,
    amount: String,
    currency: &'static str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_email: Option<&'a str>,
    return_url: &'a str,
    notification_url: &'a str,
    save_card: bool,
}

/// The fields of a created checkout this connector needs; the rest is kept as `raw`.
#[derive(Deserialize)]
struct CreatedCheckout {
    id: String,
    redirect_url: String,
}

/// `POST /charges` body.
#[derive(Serialize)]
struct CreateCharge<'a> {
    token: &'a str,
    amount: String,
    currency: &'static str,
    merchant_reference: &'a str,
    notification_url: &'a str,
}

/// `POST /checkouts/{id}/refund` body.
#[derive(Serialize)]
struct CreateRefund {
    amount: String,
    currency: &'static str,
}

/// What a checkout, charge or refund says about itself.
#[derive(Deserialize)]
struct ProviderPayment {
    id: String,
    #[serde(default)]
    merchant_reference: Option<String>,
    status: String,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    card_token: Option<String>,
}

/// What a notification says; `checkout_id` names the checkout or charge.
#[derive(Deserialize)]
struct ProviderNotification {
    event_id: String,
    checkout_id: String,
    #[serde(default)]
    merchant_reference: Option<String>,
    status: String,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    card_token: Option<String>,
}

impl HostedCheckoutConnector {
    /// A connector for the provider at `config.base_url`, sharing `client`'s connection pool.
    pub fn new(config: ConnectorConfig, client: reqwest::Client) -> HostedCheckoutConnector {
        HostedCheckoutConnector { config, client }
    }

    /// `GET /checkouts?{filter}`: checkouts and token charges.
    async fn list(&self, filter: &Filter<'_>) -> Result<Vec<serde_json::Value>, ConnectorError> {
        listing::list(&self.config, &self.client, "checkouts", "checkouts", filter).await
    }

    async fn post(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<serde_json::Value, ConnectorError> {
        // Never retried: a connection error means nothing was sent, and anything after that may
        // have created a checkout or moved money.
        send_json(&self.config, &self.client, reqwest::Method::POST, path, Some(body), false).await
    }
}

/// `POST /card-updates` body.
#[derive(Serialize)]
struct CreateCardUpdate<'a> {
    token: &'a str,
    merchant_reference: &'a str,
    return_url: &'a str,
}

/// What a card update says about itself.
#[derive(Deserialize)]
struct ProviderCardUpdate {
    id: String,
    status: String,
    #[serde(default)]
    redirect_url: Option<String>,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    card_token: Option<String>,
    #[serde(default)]
    card_brand: Option<String>,
    #[serde(default)]
    card_last4: Option<String>,
    #[serde(default)]
    card_expiry: Option<String>,
}

fn card_update(raw: serde_json::Value) -> Result<ProviderCardUpdate, ConnectorError> {
    serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::BadResponse(format!("{e}: {raw}")))
}

/// The amount as the provider wants it: an exact decimal string such as `"378.90"`.
fn decimal(amount: Money) -> String {
    amount.to_decimal().to_string()
}

/// Maps the provider's status words to Settle's.
fn gateway_status(
    status: &str,
    failure_reason: Option<String>,
) -> Result<GatewayStatus, ConnectorError> {
    match status {
        "succeeded" => Ok(GatewayStatus::Succeeded),
        "pending" => Ok(GatewayStatus::Pending),
        "failed" => Ok(GatewayStatus::Failed {
            reason: failure_reason.unwrap_or_else(|| "declined by the provider".to_owned()),
        }),
        "cancelled" => Ok(GatewayStatus::Failed { reason: CANCELLED_REASON.to_owned() }),
        // A status this connector doesn't know might mean money moved: refuse to guess, so the
        // payment is left for a person or the next reconciliation rather than failed.
        other => Err(ConnectorError::BadResponse(format!("unknown payment status {other:?}"))),
    }
}

/// A checkout, charge or refund object as a [`GatewayResult`], the object kept as `raw`.
fn payment_result(raw: serde_json::Value) -> Result<GatewayResult, ConnectorError> {
    let payment: ProviderPayment = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::BadResponse(format!("{e}: {raw}")))?;
    Ok(GatewayResult {
        gateway_reference: payment.id,
        payment_reference: payment.merchant_reference,
        status: gateway_status(&payment.status, payment.failure_reason)?,
        token: payment.card_token,
        raw,
    })
}

#[async_trait]
impl Connector for HostedCheckoutConnector {
    fn gateway_id(&self) -> &str {
        &self.config.gateway_id
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, ConnectorError> {
        let body = CreateCheckout {
            merchant_reference: &request.payment_reference,
            amount: decimal(request.amount),
            currency: request.amount.currency().code(),
            description: &request.description,
            customer_email: request.customer_email.as_deref(),
            return_url: request.return_url.as_str(),
            notification_url: request.notification_url.as_str(),
            save_card: request.save_card,
        };
        let raw = self.post("checkouts", &body).await?;
        let created: CreatedCheckout = serde_json::from_value(raw.clone())
            .map_err(|e| ConnectorError::BadResponse(format!("{e}: {raw}")))?;
        let redirect_url = Url::parse(&created.redirect_url).map_err(|e| {
            ConnectorError::BadResponse(format!("redirect_url {:?}: {e}", created.redirect_url))
        })?;
        Ok(CheckoutSession { gateway_reference: created.id, redirect_url, form: None })
    }

    async fn collect_with_token(
        &self,
        request: &TokenCollection,
    ) -> Result<GatewayResult, ConnectorError> {
        let body = CreateCharge {
            token: &request.token,
            amount: decimal(request.amount),
            currency: request.amount.currency().code(),
            merchant_reference: &request.payment_reference,
            notification_url: request.notification_url.as_str(),
        };
        payment_result(self.post("charges", &body).await?)
    }

    async fn start_card_update(
        &self,
        request: &CardUpdateRequest,
    ) -> Result<CardUpdateSession, ConnectorError> {
        let body = CreateCardUpdate {
            token: &request.token,
            merchant_reference: &request.reference,
            return_url: request.return_url.as_str(),
        };
        let created = card_update(self.post("card-updates", &body).await?)?;
        let raw_url = created.redirect_url.unwrap_or_default();
        let redirect_url = Url::parse(&raw_url)
            .map_err(|e| ConnectorError::BadResponse(format!("redirect_url {raw_url:?}: {e}")))?;
        Ok(CardUpdateSession { gateway_reference: created.id, redirect_url })
    }

    async fn card_update_status(
        &self,
        gateway_reference: &str,
    ) -> Result<CardUpdateStatus, ConnectorError> {
        let path = format!("card-updates/{}", path_segment(gateway_reference));
        let raw = send_json::<(), serde_json::Value>(
            &self.config,
            &self.client,
            reqwest::Method::GET,
            &path,
            None,
            true,
        )
        .await?;
        let update = card_update(raw)?;
        match update.status.as_str() {
            "pending" => Ok(CardUpdateStatus::Pending),
            "succeeded" => {
                let token = update.card_token.ok_or_else(|| {
                    ConnectorError::BadResponse("a succeeded card update without a token".into())
                })?;
                Ok(CardUpdateStatus::Succeeded(crate::payment_method::ReplacementCard {
                    token,
                    brand: update.card_brand,
                    last4: update.card_last4,
                    expiry: update.card_expiry,
                }))
            }
            "failed" | "cancelled" => Ok(CardUpdateStatus::Failed {
                reason: update.failure_reason.unwrap_or_else(|| update.status.clone()),
            }),
            other => {
                Err(ConnectorError::BadResponse(format!("unknown card update status {other:?}")))
            }
        }
    }

    async fn query_status(&self, gateway_reference: &str) -> Result<GatewayResult, ConnectorError> {
        let path = format!("checkouts/{}", path_segment(gateway_reference));
        // A status query changes nothing, so one retry on a connection error is safe.
        let raw = send_json::<(), serde_json::Value>(
            &self.config,
            &self.client,
            reqwest::Method::GET,
            &path,
            None,
            true,
        )
        .await?;
        payment_result(raw)
    }

    async fn find_by_reference(
        &self,
        payment_reference: &str,
    ) -> Result<Option<GatewayResult>, ConnectorError> {
        // Reconciliation needs this when creating a checkout or charging a token timed out: the
        // provider may have acted, but Settle never learned its id.
        let found = self.list(&Filter::Reference(payment_reference)).await?;
        listing::newest(found).map(payment_result).transpose()
    }

    async fn cancel(&self, gateway_reference: &str) -> Result<GatewayResult, ConnectorError> {
        let path = format!("checkouts/{}/cancel", path_segment(gateway_reference));
        // Safe to retry: cancelling twice leaves the checkout as the first cancel did, and the
        // answer is the checkout as it stands either way.
        let raw = send_json::<(), serde_json::Value>(
            &self.config,
            &self.client,
            reqwest::Method::POST,
            &path,
            None,
            true,
        )
        .await?;
        payment_result(raw)
    }

    async fn charges(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<GatewayCharge>, ConnectorError> {
        let listed = self.list(&Filter::Since(since)).await?;
        listing::charges(&listed, |status| status == "succeeded")
    }

    async fn refund(
        &self,
        gateway_reference: &str,
        amount: Money,
    ) -> Result<GatewayResult, ConnectorError> {
        let body = CreateRefund { amount: decimal(amount), currency: amount.currency().code() };
        let path = format!("checkouts/{}/refund", path_segment(gateway_reference));
        // The result's reference is the refund's own id; `raw` names the checkout it refunds.
        payment_result(self.post(&path, &body).await?)
    }

    fn verify_notification(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Notification, ConnectorError> {
        let header = signature.ok_or(SignatureError::Malformed)?;
        signature::verify(&self.config.signing_secret, header, body, Utc::now())?;
        // Only now is the body the provider's word; parse it.
        let raw: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ConnectorError::BadResponse(format!("notification body: {e}")))?;
        let parsed: ProviderNotification = serde_json::from_value(raw.clone())
            .map_err(|e| ConnectorError::BadResponse(format!("notification body: {e}")))?;
        Ok(Notification {
            event_id: parsed.event_id,
            result: GatewayResult {
                gateway_reference: parsed.checkout_id,
                payment_reference: parsed.merchant_reference,
                status: gateway_status(&parsed.status, parsed.failure_reason)?,
                token: parsed.card_token,
                raw,
            },
        })
    }
}

/// Percent-encodes a provider id for use as one path segment (ids come back from the provider,
/// but a stray `/` or `?` must not turn a status query into another request).
fn path_segment(id: &str) -> String {
    // `Url`'s own segment encoder, so the rules are exactly those of URL paths.
    let Ok(mut url) = Url::parse("http://segment.invalid/") else {
        return String::new();
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.clear().push(id);
    }
    url.path().trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_statuses_map_to_gateway_statuses() {
        assert_eq!(gateway_status("succeeded", None), Ok(GatewayStatus::Succeeded));
        assert_eq!(gateway_status("pending", None), Ok(GatewayStatus::Pending));
        assert_eq!(
            gateway_status("failed", Some("insufficient funds".into())),
            Ok(GatewayStatus::Failed { reason: "insufficient funds".into() })
        );
        assert_eq!(
            gateway_status("cancelled", Some("whatever".into())),
            Ok(GatewayStatus::Failed { reason: CANCELLED_REASON.into() })
        );
        assert!(matches!(gateway_status("chargeback", None), Err(ConnectorError::BadResponse(_))));
    }

    #[test]
    fn amounts_go_out_as_exact_decimal_strings() {
        use crate::money::Currency;
        assert_eq!(decimal(Money::from_minor(37890, Currency::ZAR)), "378.90");
        assert_eq!(decimal(Money::from_minor(5, Currency::KWD)), "0.005");
        assert_eq!(decimal(Money::from_minor(1200, Currency::JPY)), "1200");
    }

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(path_segment("co_abc"), "co_abc");
        assert_eq!(path_segment("../x?y"), "..%2Fx%3Fy");
    }

    #[tokio::test]
    async fn cancel_lookup_and_charges_over_http() {
        use crate::connector::listing::tests::Canned;
        use crate::money::Currency;
        let list = r#"{"checkouts":[
            {"id":"ch_2","object":"charge","merchant_reference":"PAY-2","status":"succeeded",
             "amount":"10.00","currency":"ZAR","refunded_amount":"0.00","card_token":"tok_9",
             "created_at":"2026-03-01T12:00:00Z"},
            {"id":"co_3","object":"checkout","merchant_reference":"PAY-1","status":"cancelled",
             "amount":"378.90","currency":"ZAR","refunded_amount":"0.00",
             "created_at":"2026-03-01T11:00:00Z"},
            {"id":"co_1","object":"checkout","merchant_reference":"PAY-1","status":"succeeded",
             "amount":"378.90","currency":"ZAR","refunded_amount":"100.00",
             "created_at":"2026-03-01T10:00:00Z"}]}"#;
        let pending = serde_json::json!({
            "id": "co_pending", "merchant_reference": "PAY-7", "status": "cancelled",
            "failure_reason": "cancelled by the merchant",
        });
        let paid = serde_json::json!({
            "id": "co_paid", "merchant_reference": "PAY-8", "status": "succeeded",
        });
        let canned = Canned::start(vec![
            ("POST", "/provider/checkouts/co_pending/cancel", 200, pending.to_string()),
            ("POST", "/provider/checkouts/co_paid/cancel", 200, paid.to_string()),
            ("POST", "/provider/checkouts/co_gone/cancel", 404, r#"{"error":"none"}"#.into()),
            (
                "GET",
                "/provider/checkouts?merchant_reference=PAY-1",
                200,
                list.replace("PAY-2", "PAY-1"),
            ),
            (
                "GET",
                "/provider/checkouts?merchant_reference=PAY-0",
                200,
                r#"{"checkouts":[]}"#.into(),
            ),
            ("GET", "/provider/checkouts?since=", 200, list.into()),
        ])
        .await;
        let c = HostedCheckoutConnector::new(canned.config(), reqwest::Client::new());

        let cancelled = c.cancel("co_pending").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cancelled.status, GatewayStatus::Failed { reason: CANCELLED_REASON.into() });
        assert_eq!(cancelled.payment_reference.as_deref(), Some("PAY-7"));
        let paid = c.cancel("co_paid").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(paid.status, GatewayStatus::Succeeded, "the customer paid first");
        assert!(matches!(
            c.cancel("co_gone").await,
            Err(ConnectorError::Refused { status: 404, .. })
        ));

        let found = c.find_by_reference("PAY-1").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.map(|r| r.gateway_reference).as_deref(), Some("ch_2"), "the newest");
        assert!(c.find_by_reference("PAY-0").await.unwrap_or_else(|e| panic!("{e}")).is_none());

        let since = "2026-03-01T00:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        let charges = c.charges(since).await.unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = charges.iter().map(|c| c.gateway_reference.as_str()).collect();
        assert_eq!(ids, ["ch_2", "co_1"], "succeeded checkouts and charges only");
        assert_eq!(charges[1].refunded, Money::from_minor(10000, Currency::ZAR));
    }

    fn connector(secret: &str) -> HostedCheckoutConnector {
        let config = ConnectorConfig {
            gateway_id: "peach".into(),
            base_url: Url::parse("http://127.0.0.1:9/sandbox/hosted-checkout")
                .unwrap_or_else(|e| panic!("{e}")),
            api_key: "k".into(),
            signing_secret: secret.into(),
            timeout: std::time::Duration::from_secs(1),
        };
        HostedCheckoutConnector::new(config, reqwest::Client::new())
    }

    #[test]
    fn notifications_are_parsed_only_after_the_signature_checks_out() {
        let c = connector("s3cret");
        let body = br#"{"event_id":"evt_1","checkout_id":"co_1","merchant_reference":"P1","status":"succeeded","amount":"1.00","currency":"ZAR","card_token":"tok_1"}"#;
        let header = signature::sign("s3cret", body, Utc::now());
        let n = c.verify_notification(Some(&header), body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.event_id, "evt_1");
        assert_eq!(n.result.gateway_reference, "co_1");
        assert_eq!(n.result.status, GatewayStatus::Succeeded);
        assert_eq!(n.result.token.as_deref(), Some("tok_1"));

        assert_eq!(
            c.verify_notification(None, body).err(),
            Some(ConnectorError::BadSignature(SignatureError::Malformed))
        );
        // Garbage that is signed wrongly is refused for its signature, not for its shape.
        let forged = signature::sign("other", b"not json", Utc::now());
        assert_eq!(
            c.verify_notification(Some(&forged), b"not json").err(),
            Some(ConnectorError::BadSignature(SignatureError::Mismatch))
        );
    }
}
