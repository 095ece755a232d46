//! The HTTP plumbing every connector shares, and the factory that picks a connector per kind.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::connector::{Connector, ConnectorConfig, ConnectorError};
use crate::gateway::GatewayKind;

/// The connector for a gateway kind, or `None` for kinds without a provider (invoice, off-system).
pub fn build(
    kind: GatewayKind,
    config: ConnectorConfig,
    client: reqwest::Client,
) -> Option<Arc<dyn Connector>> {
    let _ = (&config, &client);
    match kind {
        // Each provider kind's connector registers here (hosted checkout, card, bank, Apple Pay).
        GatewayKind::Card3ds => {
            Some(Arc::new(super::card_acquirer::CardAcquirerConnector::new(config, client)))
        }
        GatewayKind::DirectDebit => {
            Some(Arc::new(super::direct_debit::DirectDebitConnector::new(config, client)))
        }
        GatewayKind::HostedCheckout | GatewayKind::PaymentLink => {
            Some(Arc::new(super::hosted_checkout::HostedCheckoutConnector::new(config, client)))
        }
        GatewayKind::ApplePay => {
            Some(Arc::new(super::apple_pay::ApplePayConnector::new(config, client)))
        }
        GatewayKind::Invoice | GatewayKind::OffSystem => None,
    }
}

/// Sends a JSON request and decodes the JSON answer, mapping transport failures to
/// [`ConnectorError`]s by whether the gateway can have acted on them.
///
/// `idempotent` requests (status queries) are retried once on a connection error; requests that
/// may charge are never retried here: a connection error means nothing was sent, and the caller
/// decides whether to try another gateway.
pub async fn send_json<B: Serialize + ?Sized, R: DeserializeOwned>(
    config: &ConnectorConfig,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<&B>,
    idempotent: bool,
) -> Result<R, ConnectorError> {
    // Every gateway request passes here: the one place its latency and errors are counted.
    let started = std::time::Instant::now();
    let outcome = send(config, client, method, path, body, idempotent).await;
    crate::telemetry::gateway_call(&config.gateway_id, started.elapsed(), &outcome);
    outcome
}

async fn send<B: Serialize + ?Sized, R: DeserializeOwned>(
    config: &ConnectorConfig,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<&B>,
    idempotent: bool,
) -> Result<R, ConnectorError> {
    let url = endpoint(&config.base_url, path).ok_or_else(|| {
        ConnectorError::BadResponse(format!("bad gateway URL {}{path}", config.base_url))
    })?;
    let attempts = if idempotent { 2 } else { 1 };
    let mut last = ConnectorError::Unreachable("no attempt made".into());
    for _ in 0..attempts {
        let mut request = client
            .request(method.clone(), url.clone())
            .timeout(config.timeout)
            .bearer_auth(&config.api_key);
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => return decode(response).await,
            Err(e) if e.is_connect() => last = ConnectorError::Unreachable(e.to_string()),
            Err(e) if e.is_timeout() => return Err(ConnectorError::Timeout(e.to_string())),
            Err(e) => return Err(ConnectorError::BadResponse(e.to_string())),
        }
    }
    Err(last)
}

/// `base_url` + `path`, without `Url::join`'s habit of dropping the base's last segment when the
/// base lacks a trailing slash.
pub fn endpoint(base: &url::Url, path: &str) -> Option<url::Url> {
    let joined =
        format!("{}/{}", base.as_str().trim_end_matches('/'), path.trim_start_matches('/'));
    url::Url::parse(&joined).ok()
}

async fn decode<R: DeserializeOwned>(response: reqwest::Response) -> Result<R, ConnectorError> {
    let status = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(e) if e.is_timeout() => return Err(ConnectorError::Timeout(e.to_string())),
        Err(e) => return Err(ConnectorError::BadResponse(e.to_string())),
    };
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return Err(ConnectorError::Unavailable(text));
    }
    if status.is_client_error() {
        return Err(ConnectorError::Refused { status: status.as_u16(), message: text });
    }
    if !status.is_success() {
        return Err(ConnectorError::BadResponse(format!("HTTP {status}: {text}")));
    }
    serde_json::from_str(&text).map_err(|e| ConnectorError::BadResponse(format!("{e}: {text}")))
}
