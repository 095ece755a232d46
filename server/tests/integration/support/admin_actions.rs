//! What the admin-actions tests do more than once: a paid card payment, a payment awaiting its
//! customer, an admin's confirmation form, and what the gateway holds of a charge.

use anyhow::{Context, Result};
use reqwest::Method;
use settle::demo::{CARD_POLICY_NUMBER, POLICY_NUMBER};
use settle::payment::Payment;

use super::{HtmlForm, TestApp, eventually, html_forms};

impl TestApp {
    /// Pays the demo's card quote with a frictionless test card (through the card acquirer
    /// sandbox) and waits until Settle counts it paid.
    pub async fn paid_card_payment(&self) -> Result<Payment> {
        use settle::service::Service;
        let service =
            Service::find_by_reference(&self.db, CARD_POLICY_NUMBER).await?.context("the quote")?;
        let purchases = settle::purchase::Purchase::open_for_service(&self.db, &service.id).await?;
        let purchase = purchases.first().context("an open purchase")?;
        let card = settle::connector::CardDetails {
            holder: "J SMITH".into(),
            number: settle::card::CardNumber::parse("4929000000006")?,
            expiry: settle::card::ExpiryDate::parse("1030")?,
            cvv: settle::card::Cvv::parse("123")?,
        };
        let payment = self
            .state
            .payments
            .start(settle::payment::PaymentRequest {
                payer: settle::access::Viewer::Staff,
                purchase_id: purchase.id.clone(),
                gateways: vec!["sagepay-gbp".into()],
                instrument: settle::payment::Instrument::Card {
                    card,
                    billing_address: settle::connector::Address {
                        postcode: Some("PE301JW".into()),
                        ..Default::default()
                    },
                },
                return_to: None,
                details: serde_json::json!({}),
                idempotency_key: None,
            })
            .await?;
        let id = payment.id.clone();
        eventually("the card payment is paid", std::time::Duration::from_secs(10), || async {
            let now = Payment::find(&self.db, &id).await?.context("payment")?;
            Ok(now.state.is_success())
        })
        .await?;
        Payment::find(&self.db, &id).await?.context("payment")
    }

    /// A hosted checkout for the demo policy that the customer has not paid (seed 000's token).
    pub async fn awaiting_payment(&self) -> Result<Payment> {
        let token = self.merchant_token().await?;
        let path = format!(
            "/api/v3/payment/token/?policy_number={POLICY_NUMBER}&url=http://localhost:8080/done"
        );
        let answer = self.call(Method::GET, &path, Some(&token), None, None).await?;
        let reference = answer.body["token"].as_str().context("the payment token")?;
        Payment::find_by_reference(&self.db, reference).await?.context("the awaiting payment")
    }

    /// The one form an admin's confirmation page at `path` shows (its request key included).
    pub async fn confirmation_form(&self, path: &str) -> Result<HtmlForm> {
        let response = self.get(path).await?;
        let status = response.status();
        let html = response.text().await?;
        anyhow::ensure!(status == 200, "{path} answered {status}");
        html_forms(&html)
            .into_iter()
            .find(|f| f.action.starts_with("/admin/api/"))
            .with_context(|| format!("no action form on {path}"))
    }

    /// What the payment's gateway lists as captured and refunded for it, in minor units.
    pub async fn gateway_charge(&self, reference: &str) -> Result<(i64, i64)> {
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        let listed = settle::ledger::charges(&self.state.payments, since).await?;
        let (_, charge) = listed
            .charges
            .iter()
            .find(|(_, c)| c.payment_reference == reference)
            .with_context(|| format!("no charge at a gateway for {reference}"))?;
        Ok((charge.captured.minor(), charge.refunded.minor()))
    }

    /// The audit log's entries about a payment: (actor, address, action, detail), newest first.
    pub async fn payment_audit(
        &self,
        reference: &str,
    ) -> Result<Vec<(String, String, String, String)>> {
        let subject = format!("payment:{reference}");
        let entries = settle::audit::page(&self.db, Some(&subject), None, 100).await?;
        Ok(entries.into_iter().map(|e| (e.actor, e.address, e.action, e.detail)).collect())
    }
}
