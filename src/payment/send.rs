//! The one request to a payment's gateway, shaped for the chosen instrument (see the protocol in
//! [`orchestrator`](super::orchestrator): the attempt is stored as possibly charged before this
//! runs).

use url::Url;

use crate::connector::{
    CardAuthorisation, CheckoutRequest, ConnectorError, DirectDebitRequest, GatewayResult,
    GatewayStatus, TokenCollection,
};
use crate::error::Result;
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::Payment;
use crate::payment::start::Instrument;

impl Orchestrator {
    /// The one call to the payment's gateway for the chosen instrument.
    pub(super) async fn send(
        &self,
        payment: &Payment,
        instrument: &Instrument,
    ) -> Result<GatewayResult, ConnectorError> {
        let connector = self
            .connector(&payment.gateway_id)
            .map_err(|e| ConnectorError::Unreachable(e.to_string()))?;
        let url = |r: Result<Url>| r.map_err(|e| ConnectorError::Unreachable(e.to_string()));
        let notification_url = url(self.urls.notification(&payment.gateway_id))?;
        match instrument {
            Instrument::HostedCheckout { save_card } => {
                let session = connector
                    .create_checkout(&CheckoutRequest {
                        payment_reference: payment.reference.clone(),
                        amount: payment.amount,
                        description: format!("Payment {}", payment.reference),
                        customer_email: None,
                        return_url: url(self.urls.hosted_return(&payment.reference))?,
                        notification_url,
                        save_card: *save_card,
                    })
                    .await?;
                Ok(GatewayResult {
                    gateway_reference: session.gateway_reference,
                    payment_reference: Some(payment.reference.clone()),
                    status: GatewayStatus::Pending,
                    token: None,
                    raw: serde_json::json!({ "redirect_url": session.redirect_url.as_str(), "form": session.form }),
                })
            }
            Instrument::Card { card, billing_address } => {
                connector
                    .authorise_card(&CardAuthorisation {
                        payment_reference: payment.reference.clone(),
                        amount: payment.amount,
                        card: card.clone(),
                        billing_address: billing_address.clone(),
                        challenge_return_url: url(self.urls.challenge_return(&payment.reference))?,
                        notification_url,
                    })
                    .await
            }
            Instrument::SavedMethod(method) => {
                let token =
                    method.gateway_token.clone().ok_or_else(|| ConnectorError::Refused {
                        status: 400,
                        message: "this payment method has no gateway token".into(),
                    })?;
                connector
                    .collect_with_token(&TokenCollection {
                        payment_reference: payment.reference.clone(),
                        amount: payment.amount,
                        token,
                        notification_url,
                    })
                    .await
            }
            Instrument::DirectDebit { iban, account_holder } => {
                connector
                    .direct_debit(&DirectDebitRequest {
                        payment_reference: payment.reference.clone(),
                        amount: payment.amount,
                        iban: iban.clone(),
                        account_holder: account_holder.clone(),
                        mandate_reference: None,
                        notification_url,
                    })
                    .await
            }
            // Recorded without a call (see `record_attempt`).
            Instrument::Invoice
            | Instrument::Wallet
            | Instrument::NothingOwed
            | Instrument::OffSystem { .. } => {
                Err(ConnectorError::Unsupported("collection without a gateway call"))
            }
        }
    }
}
