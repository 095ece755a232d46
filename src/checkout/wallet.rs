//! Wallets (Apple Pay): the merchant session a customer's wallet sheet needs, for a payment
//! started with the wallet method.

use url::Url;

use crate::access::Viewer;
use crate::checkout::{payment_for, policy};
use crate::connector::ConnectorError;
use crate::error::{Error, Result};
use crate::gateway::GatewayKind;
use crate::merchant::Merchant;
use crate::payment::Orchestrator;

/// The wallet provider's merchant session for a started payment, as the provider answered it.
/// The outer error is about the request (unknown payment, wrong policy or gateway, a finished
/// payment); the inner one is the gateway's refusal or failure.
///
/// The session is for the host of the payment's return (where the client's checkout page runs),
/// else Settle's own public host, under the merchant's name.
pub async fn session(
    payments: &Orchestrator,
    viewer: &Viewer,
    merchant: &Merchant,
    token: &str,
    policy_number: &str,
    gateway: &str,
) -> Result<std::result::Result<serde_json::Value, ConnectorError>> {
    let db = payments.db();
    let found = payment_for(db, viewer, token).await?;
    let offer = policy(db, viewer, policy_number).await?;
    if found.service.id != offer.service.id {
        return Err(Error::invalid(
            "policy_number",
            format!("payment {token} is not for policy {policy_number}"),
        ));
    }
    let chosen = offer.gateway(gateway)?;
    if chosen.kind != GatewayKind::ApplePay {
        return Err(Error::invalid("gateway", format!("{gateway} is not an Apple Pay gateway")));
    }
    let payment = found.payment;
    if payment.gateway_id != chosen.id {
        return Err(Error::invalid(
            "gateway",
            format!("payment {token} was initiated for {}", payment.gateway_id),
        ));
    }
    if payment.state.is_final() || payment.state.is_success() {
        return Err(Error::Conflict(format!(
            "payment {token} is {}; initiate a new payment",
            payment.state
        )));
    }
    let public_url = &payments.urls().public_url;
    let client_host = payment.return_to.as_ref().and_then(|r| {
        r.urls()
            .first()
            .and_then(|u| Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
    });
    let domain = client_host
        .or_else(|| public_url.host_str().map(str::to_owned))
        .ok_or_else(|| Error::Internal("public_url has no host".into()))?;
    let display_name: String = merchant.name.chars().take(64).collect();
    let connector = payments.connector(&chosen.id)?;
    Ok(connector.validate_merchant(&domain, &display_name).await)
}
