//! The orchestrator: starts payments through connectors, applies what gateways answer, handles
//! their notifications and settles what they never reported. Every seed API and page that moves
//! money calls into this.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use url::Url;

use crate::connector::{
    Address, CardAuthorisation, CardDetails, CheckoutRequest, Connector, ConnectorError,
    Connectors, DirectDebitRequest, GatewayConnection, GatewayResult, GatewayStatus,
    ThreeDsCompletion, TokenCollection,
};
use crate::db::{Db, Tx};
use crate::error::{Error, Result};
use crate::gateway::GatewayKind;
use crate::iban::Iban;
use crate::merchant::MerchantId;
use crate::payment::PaymentState::{self, *};
use crate::payment::fulfilment;
use crate::payment::record::{CardSummary, Payment};
use crate::payment::transition::{self, Change};
use crate::payment_method::PaymentMethod;
use crate::purchase::{Purchase, PurchaseId, PurchaseStatus};
use crate::with_tx;

/// How a new payment is to be collected.
#[derive(Clone, Debug)]
pub enum Instrument {
    /// Send the customer to the gateway's hosted page (or payment link).
    HostedCheckout {
        /// Keep the card as a token for later collections.
        save_card: bool,
    },
    /// Card details entered on Settle's page or sent by an API client.
    Card {
        /// The card.
        card: CardDetails,
        /// The billing address.
        billing_address: Address,
    },
    /// A saved card token or bank mandate.
    SavedMethod(Box<PaymentMethod>),
    /// Collect from a bank account.
    DirectDebit {
        /// The account.
        iban: Iban,
        /// Its holder.
        account_holder: String,
    },
    /// Paid later against an invoice.
    Invoice,
}

/// A request to pay a purchase.
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    /// What to pay.
    pub purchase_id: PurchaseId,
    /// Gateways to try, in order: the next is tried only if one certainly did nothing.
    pub gateways: Vec<String>,
    /// How.
    pub instrument: Instrument,
    /// The merchant whose client asked.
    pub merchant_id: Option<MerchantId>,
    /// Where the customer goes back to afterwards (already checked against the merchant's origins).
    pub return_url: Option<String>,
    /// Seed-specific extras kept with the payment.
    pub details: serde_json::Value,
}

/// Settle's own URLs the gateways call back.
#[derive(Clone, Debug)]
pub struct CallbackUrls {
    /// Settle's public base URL.
    pub public_url: Url,
}

impl CallbackUrls {
    fn at(&self, path: &str) -> Result<Url> {
        crate::connector::http::endpoint(&self.public_url, path)
            .ok_or_else(|| Error::Internal(format!("public_url cannot take the path {path}")))
    }

    /// Where a gateway posts server-to-server notifications.
    pub fn notification(&self, gateway_id: &str) -> Result<Url> {
        self.at(&format!("/gateway/notify/{gateway_id}"))
    }

    /// Where a hosted checkout sends the customer back: seed 000's `/api/v3/payment/process/`,
    /// which serves every hosted flow.
    pub fn hosted_return(&self, reference: &str) -> Result<Url> {
        let mut url = self.at("/api/v3/payment/process/")?;
        url.query_pairs_mut().append_pair("token", reference);
        Ok(url)
    }

    /// Where the issuer's 3-D Secure page posts its result.
    pub fn challenge_return(&self, reference: &str) -> Result<Url> {
        self.at(&format!("/payments/{reference}/3ds-complete"))
    }
}

/// Reconciliation settings.
#[derive(Clone, Copy, Debug)]
pub struct ReconcilePolicy {
    /// A payment the gateway still can't settle after this long since creation is TIMED_OUT.
    pub give_up_after: Duration,
    /// How many payments one sweep looks at.
    pub batch: i64,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        ReconcilePolicy { give_up_after: Duration::from_secs(24 * 3600), batch: 100 }
    }
}

/// What one reconciliation sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Payments looked at.
    pub examined: usize,
    /// Payments whose state changed.
    pub settled: usize,
    /// Payments moved to TIMED_OUT.
    pub timed_out: usize,
    /// Payments whose gateway couldn't be asked this time.
    pub deferred: usize,
}

/// What the orchestrator did with a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// It changed the payment.
    Applied(PaymentState),
    /// The same event was seen before; recorded, nothing changed.
    Duplicate,
    /// It arrived after the payment was settled; recorded, nothing changed.
    Late,
    /// No payment has that gateway reference.
    UnknownPayment,
}

/// Starts, advances and settles payments.
#[derive(Clone)]
pub struct Orchestrator {
    db: Db,
    connectors: Connectors,
    gateways: HashMap<String, GatewayConnection>,
    urls: CallbackUrls,
    reconcile: ReconcilePolicy,
}

impl Orchestrator {
    /// An orchestrator over the configured gateways.
    pub fn new(
        db: Db,
        connectors: Connectors,
        gateways: Vec<GatewayConnection>,
        urls: CallbackUrls,
        reconcile: ReconcilePolicy,
    ) -> Orchestrator {
        let gateways = gateways.into_iter().map(|g| (g.gateway.id.clone(), g)).collect();
        Orchestrator { db, connectors, gateways, urls, reconcile }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Settle's callback URLs.
    pub fn urls(&self) -> &CallbackUrls {
        &self.urls
    }

    fn gateway(&self, id: &str) -> Result<&GatewayConnection> {
        self.gateways
            .get(id)
            .filter(|g| g.gateway.enabled)
            .ok_or_else(|| Error::invalid("gateway", format!("unknown gateway {id:?}")))
    }

    /// The connector of a gateway (Apple Pay merchant validation talks to it directly).
    pub fn connector(&self, id: &str) -> Result<std::sync::Arc<dyn Connector>> {
        self.connectors
            .get(id)
            .ok_or_else(|| Error::Internal(format!("no connector for gateway {id}")))
    }

    /// Starts a payment for a purchase. An open attempt on the same purchase is cancelled first
    /// (a retry replaces it); a purchase already paid, or a collection already in progress, is a
    /// conflict. Gateways are tried in order while one fails before anything moved.
    pub async fn start(&self, request: PaymentRequest) -> Result<Payment> {
        let purchase = Purchase::find(&self.db, &request.purchase_id)
            .await?
            .ok_or(Error::NotFound("purchase"))?;
        if !matches!(purchase.status, PurchaseStatus::Open | PurchaseStatus::Quote) {
            return Err(Error::Conflict(format!(
                "purchase {} is {}, not open for payment",
                purchase.id, purchase.status
            )));
        }
        // A saved method must be of a kind the product takes, and the payer's own.
        if let Instrument::SavedMethod(method) = &request.instrument {
            let service = crate::service::Service::find(&self.db, &purchase.service_id)
                .await?
                .ok_or(Error::NotFound("service"))?;
            let product = crate::product::Product::find(&self.db, &service.product_id)
                .await?
                .ok_or(Error::NotFound("product"))?;
            if !product.allows(method.kind) {
                return Err(Error::invalid(
                    "payment_method_id",
                    format!("{} does not take {} payment methods", product.name, method.kind),
                ));
            }
            if method.customer_id.as_ref().is_some_and(|owner| *owner != service.customer_id) {
                return Err(Error::invalid(
                    "payment_method_id",
                    "this payment method belongs to another customer",
                ));
            }
        }
        let first = request
            .gateways
            .first()
            .ok_or_else(|| Error::invalid("gateway", "no gateway to pay through"))?;
        let gateway = self.gateway(first)?;
        if gateway.gateway.currency != purchase.amounts.currency() {
            return Err(Error::invalid(
                "gateway",
                format!(
                    "{} takes {}, the purchase is in {}",
                    first,
                    gateway.gateway.currency,
                    purchase.amounts.currency()
                ),
            ));
        }
        let mut payment = Payment::new(purchase.id.clone(), first, purchase.amounts.gross());
        payment.merchant_id = request.merchant_id.clone();
        payment.return_url = request.return_url.clone();
        payment.details = request.details.clone();
        match &request.instrument {
            Instrument::SavedMethod(method) => payment.payment_method_id = Some(method.id.clone()),
            Instrument::Card { card, .. } => payment.card = Some(CardSummary::from(card)),
            _ => {}
        }
        let mut tx = self.db.begin().await?;
        self.cancel_open_attempts(&mut tx, &purchase.id).await?;
        payment.insert(&mut tx, "payment started").await?;
        tx.commit().await?;

        for (i, gateway_id) in request.gateways.iter().enumerate() {
            if i > 0 {
                payment = self.switch_gateway(&payment, gateway_id).await?;
            }
            match self.send(&payment, &request.instrument).await {
                Ok(result) => return self.apply_result(&payment, result, "gateway answered").await,
                Err(e) if e.nothing_happened() && i + 1 < request.gateways.len() => {
                    let mut tx = self.db.begin().await?;
                    transition::note(
                        &mut tx,
                        &payment,
                        &format!("{gateway_id} unavailable ({e}); trying the next gateway"),
                        None,
                    )
                    .await?;
                    tx.commit().await?;
                }
                Err(e) => return self.record_send_failure(&payment, e).await,
            }
        }
        Err(Error::Internal("no gateway was tried".into()))
    }

    /// Cancels attempts on a purchase that never reached a point where money can have moved.
    async fn cancel_open_attempts(&self, tx: &mut Tx, purchase: &PurchaseId) -> Result<()> {
        let sql = "SELECT id FROM payments WHERE purchase_id = $1 AND state IN (1, 2, 3, 4, 5)";
        let open: Vec<String> =
            with_tx!(tx, conn => sqlx::query_scalar(sql).bind(purchase).fetch_all(conn).await)?;
        for id in open {
            let payment = Payment::reload(tx, &crate::payment::PaymentId::from_string(id)).await?;
            if payment.state == Processing {
                return Err(Error::Conflict(format!(
                    "payment {} for this purchase is being processed by the gateway; wait for its outcome",
                    payment.reference
                )));
            }
            transition::apply(tx, &payment, Change::to(Cancelled, "replaced by a new attempt"))
                .await?;
        }
        Ok(())
    }

    async fn switch_gateway(&self, payment: &Payment, gateway_id: &str) -> Result<Payment> {
        self.gateway(gateway_id)?;
        let mut tx = self.db.begin().await?;
        let sql =
            "UPDATE payments SET gateway_id = $2, updated_at = $3 WHERE id = $1 AND state = 1";
        let moved = with_tx!(&mut tx, conn => sqlx::query(sql)
            .bind(&payment.id)
            .bind(gateway_id)
            .bind(Utc::now())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if moved == 0 {
            return Err(Error::Conflict(format!("payment {} is no longer new", payment.reference)));
        }
        let payment = Payment::reload(&mut tx, &payment.id).await?;
        transition::note(&mut tx, &payment, &format!("routed to {gateway_id}"), None).await?;
        tx.commit().await?;
        Ok(payment)
    }

    /// One call to the payment's gateway for the chosen instrument.
    async fn send(
        &self,
        payment: &Payment,
        instrument: &Instrument,
    ) -> Result<GatewayResult, ConnectorError> {
        let gateway = self
            .gateway(&payment.gateway_id)
            .map_err(|e| ConnectorError::Refused { status: 400, message: e.to_string() })?;
        if matches!(gateway.gateway.kind, GatewayKind::Invoice)
            || matches!(instrument, Instrument::Invoice)
        {
            return Ok(GatewayResult {
                gateway_reference: payment.reference.clone(),
                payment_reference: Some(payment.reference.clone()),
                status: GatewayStatus::Pending,
                token: None,
                raw: serde_json::json!({ "invoice": payment.reference }),
            });
        }
        let connector = self
            .connector(&payment.gateway_id)
            .map_err(|e| ConnectorError::Unreachable(e.to_string()))?;
        let url = |r: Result<Url>| r.map_err(|e| ConnectorError::BadResponse(e.to_string()));
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
            Instrument::Invoice => unreachable_invoice(),
        }
    }

    /// A call that failed: if the gateway may have acted, the payment waits for reconciliation;
    /// otherwise it failed for good (the customer may retry).
    async fn record_send_failure(
        &self,
        payment: &Payment,
        error: ConnectorError,
    ) -> Result<Payment> {
        let mut tx = self.db.begin().await?;
        let change = match &error {
            ConnectorError::Timeout(_) | ConnectorError::BadResponse(_) => Change::to(
                Processing,
                format!(
                    "no clear answer from {} ({error}); reconciliation will ask",
                    payment.gateway_id
                ),
            )
            .settle_after(self.settle_after(payment)),
            ConnectorError::Refused { message, .. } => Change::to(
                PaymentFailed,
                format!("{} refused the payment: {message}", payment.gateway_id),
            )
            .failure_reason(message.clone()),
            _ => Change::to(
                TerminalError,
                format!("{} could not take the payment: {error}", payment.gateway_id),
            )
            .failure_reason("The payment service is unavailable. Please try again later."),
        };
        let payment = transition::apply(&mut tx, payment, change).await?;
        tx.commit().await?;
        Ok(payment)
    }

    fn settle_after(&self, payment: &Payment) -> Duration {
        self.gateways
            .get(&payment.gateway_id)
            .map(|g| g.settle_after)
            .unwrap_or(Duration::from_secs(900))
    }

    /// Applies a gateway's answer about a payment, then fulfils it if it succeeded.
    pub async fn apply_result(
        &self,
        payment: &Payment,
        result: GatewayResult,
        cause: &str,
    ) -> Result<Payment> {
        let Some(change) = self.change_for(payment, &result, cause) else {
            let mut tx = self.db.begin().await?;
            transition::note(
                &mut tx,
                payment,
                &format!("{cause}: no change ({:?})", result.status),
                Some(&result.raw),
            )
            .await?;
            tx.commit().await?;
            return Ok(payment.clone());
        };
        let mut tx = self.db.begin().await?;
        let updated = match transition::apply(&mut tx, payment, change).await {
            Ok(updated) => {
                tx.commit().await?;
                updated
            }
            // Two reports of one outcome raced (the customer's return and the gateway's
            // notification); the other one applied it. Carry on from what it stored.
            Err(Error::Conflict(why)) => {
                drop(tx);
                let current = Payment::find(&self.db, &payment.id)
                    .await?
                    .ok_or(Error::NotFound("payment"))?;
                if current.state == payment.state {
                    return Err(Error::Conflict(why));
                }
                tracing::debug!(payment = %payment.reference, now = %current.state, "outcome already applied by a concurrent report");
                current
            }
            Err(e) => return Err(e),
        };
        if matches!(updated.state, PaymentSuccess | ConvertingPolicy) {
            return fulfilment::fulfil(&self.db, &updated.id).await;
        }
        Ok(updated)
    }

    /// The transition a gateway result calls for, or `None` if it changes nothing.
    fn change_for(&self, payment: &Payment, result: &GatewayResult, cause: &str) -> Option<Change> {
        let base = |to: PaymentState, what: &str| {
            Change::to(to, format!("{cause}: {what}"))
                .gateway_reference(result.gateway_reference.clone())
                .payload(result.raw.clone())
        };
        let gateway_kind = self.gateways.get(&payment.gateway_id).map(|g| g.gateway.kind);
        match &result.status {
            GatewayStatus::Succeeded if payment.state.can_transition_to(PaymentSuccess) => {
                Some(base(PaymentSuccess, "payment taken"))
            }
            GatewayStatus::Failed { reason } if payment.state.can_transition_to(PaymentFailed) => {
                Some(base(PaymentFailed, "declined").failure_reason(reason.clone()))
            }
            GatewayStatus::Error { reason } if payment.state.can_transition_to(TerminalError) => {
                Some(base(TerminalError, "gateway error").failure_reason(reason.clone()))
            }
            GatewayStatus::ChallengeRequired(challenge)
                if payment.state.can_transition_to(Payment3dAuth) =>
            {
                Some(
                    base(Payment3dAuth, "3-D Secure challenge required")
                        .three_ds(challenge.clone())
                        .settle_after(self.settle_after(payment)),
                )
            }
            GatewayStatus::Pending if payment.state == Created => {
                let to = match gateway_kind {
                    Some(GatewayKind::Invoice) => Invoiced,
                    Some(
                        GatewayKind::HostedCheckout
                        | GatewayKind::PaymentLink
                        | GatewayKind::ApplePay,
                    ) => AwaitingCustomer,
                    _ => Processing,
                };
                let mut change =
                    base(to, "accepted, outcome pending").settle_after(self.settle_after(payment));
                if let Some(url) = result.raw.get("redirect_url").and_then(|u| u.as_str()) {
                    change = change.redirect_url(url);
                }
                Some(change)
            }
            _ => None,
        }
    }

    /// Finishes a 3-D Secure challenge with the issuer's response.
    pub async fn complete_challenge(&self, reference: &str, cres: &str) -> Result<Payment> {
        let payment = Payment::find_by_reference(&self.db, reference)
            .await?
            .ok_or(Error::NotFound("payment"))?;
        if payment.state != Payment3dAuth {
            // The browser may post twice; the first post decided.
            return Ok(payment);
        }
        let gateway_reference = payment
            .gateway_reference
            .clone()
            .ok_or_else(|| Error::Internal("challenged payment has no gateway reference".into()))?;
        let connector = self.connector(&payment.gateway_id)?;
        match connector
            .complete_challenge(&ThreeDsCompletion { gateway_reference, cres: cres.to_owned() })
            .await
        {
            Ok(result) => {
                self.apply_result(&payment, result, "3-D Secure challenge completed").await
            }
            Err(e) => self.record_send_failure(&payment, e).await,
        }
    }

    /// Handles a gateway's server-to-server notification: verified first, deduplicated by
    /// gateway + reference + event, then applied. Duplicates and late arrivals are recorded on
    /// the payment's timeline and change nothing.
    pub async fn handle_notification(
        &self,
        gateway_id: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<NotificationOutcome> {
        let connector = self.connector(gateway_id).map_err(|_| Error::NotFound("gateway"))?;
        let notification = connector.verify_notification(signature, body).map_err(|e| {
            tracing::warn!(gateway = gateway_id, error = %e, "notification refused");
            Error::Unauthorized
        })?;
        let reference = notification.result.gateway_reference.clone();
        let payment = Payment::find_by_gateway_reference(&self.db, gateway_id, &reference).await?;
        let first_time = self
            .record_notification(gateway_id, &reference, &notification.event_id, payment.as_ref())
            .await?;
        let Some(payment) = payment else {
            tracing::warn!(gateway = gateway_id, %reference, "notification for an unknown payment");
            return Ok(NotificationOutcome::UnknownPayment);
        };
        if !first_time {
            let mut tx = self.db.begin().await?;
            transition::note(
                &mut tx,
                &payment,
                &format!("duplicate notification {} ignored", notification.event_id),
                Some(&notification.result.raw),
            )
            .await?;
            tx.commit().await?;
            return Ok(NotificationOutcome::Duplicate);
        }
        if self.change_for(&payment, &notification.result, "").is_none() {
            let mut tx = self.db.begin().await?;
            let what = if payment.state.is_final() || payment.state.is_success() {
                "late"
            } else {
                "uneventful"
            };
            transition::note(
                &mut tx,
                &payment,
                &format!("{what} notification {} recorded; nothing changed", notification.event_id),
                Some(&notification.result.raw),
            )
            .await?;
            tx.commit().await?;
            if payment.state == Cancelled && notification.result.status == GatewayStatus::Succeeded
            {
                tracing::error!(payment = %payment.reference, "money taken for a cancelled payment: needs a refund");
            }
            return Ok(NotificationOutcome::Late);
        }
        match self
            .apply_result(
                &payment,
                notification.result,
                &format!("notification {}", notification.event_id),
            )
            .await
        {
            Ok(updated) => Ok(NotificationOutcome::Applied(updated.state)),
            // A concurrent request (the customer's return, the sweep) settled it first.
            Err(Error::Conflict(_)) => Ok(NotificationOutcome::Late),
            Err(e) => Err(e),
        }
    }

    /// Stores the notification's dedup key; false if it was already there.
    async fn record_notification(
        &self,
        gateway_id: &str,
        reference: &str,
        event_id: &str,
        payment: Option<&Payment>,
    ) -> Result<bool> {
        let sql = "INSERT INTO gateway_notifications (gateway_id, gateway_reference, event_id, payment_id, outcome, received_at)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
        let inserted = crate::with_db!(&self.db, pool => sqlx::query(sql)
            .bind(gateway_id)
            .bind(reference)
            .bind(event_id)
            .bind(payment.map(|p| p.id.as_str().to_owned()))
            .bind(if payment.is_some() { "received" } else { "unknown_payment" })
            .bind(Utc::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(inserted == 1)
    }

    /// Asks the gateway about a payment now (the customer came back, or a status page polls).
    pub async fn refresh(&self, payment: &Payment) -> Result<Payment> {
        let Some(reference) = payment.gateway_reference.clone() else {
            return Ok(payment.clone());
        };
        if payment.state.is_final()
            || !matches!(payment.state, AwaitingCustomer | Processing | Payment3dAuth)
        {
            return Ok(payment.clone());
        }
        let connector = self.connector(&payment.gateway_id)?;
        match connector.query_status(&reference).await {
            Ok(result) => match self.apply_result(payment, result, "status query").await {
                Err(Error::Conflict(_)) => {
                    Payment::find(&self.db, &payment.id).await?.ok_or(Error::NotFound("payment"))
                }
                other => other,
            },
            Err(e) => {
                tracing::warn!(payment = %payment.reference, error = %e, "status query failed");
                Ok(payment.clone())
            }
        }
    }

    /// The reconciliation sweep: every payment whose `settle_by` has passed is asked about at its
    /// gateway and settled; paid payments not yet fulfilled are fulfilled; payments the gateway
    /// still can't settle after `give_up_after` are TIMED_OUT.
    pub async fn reconcile(&self) -> Result<SweepReport> {
        let now = Utc::now();
        let due = Payment::due_for_reconciliation(&self.db, now, self.reconcile.batch).await?;
        let mut report = SweepReport { examined: due.len(), ..SweepReport::default() };
        for payment in due {
            let before = payment.state;
            let outcome = self.reconcile_one(&payment).await;
            match outcome {
                Ok(after) if after.state == TimedOut && before != TimedOut => report.timed_out += 1,
                Ok(after) if after.state != before => report.settled += 1,
                Ok(_) => report.deferred += 1,
                Err(e) => {
                    report.deferred += 1;
                    tracing::warn!(payment = %payment.reference, error = %e, "reconciliation failed for this payment");
                }
            }
        }
        if report.examined > 0 {
            tracing::info!(?report, "reconciliation sweep");
        }
        Ok(report)
    }

    async fn reconcile_one(&self, payment: &Payment) -> Result<Payment> {
        if matches!(payment.state, PaymentSuccess | ConvertingPolicy) {
            return fulfilment::fulfil(&self.db, &payment.id).await;
        }
        let age = (Utc::now() - payment.created_at).to_std().unwrap_or_default();
        let give_up = age >= self.reconcile.give_up_after;
        // After a timeout Settle never learned the gateway's id; gateways can be asked by
        // Settle's own payment reference, which every request carried.
        let reference = payment.gateway_reference.as_deref().unwrap_or(&payment.reference);
        let asked = match self.connectors.get(&payment.gateway_id) {
            Some(connector) if payment.state != Created || payment.gateway_reference.is_some() => {
                Some(connector.query_status(reference).await)
            }
            _ => None,
        };
        let mut still_open = payment.clone();
        if let Some(Ok(result)) = asked {
            match self.apply_result(payment, result, "reconciliation").await {
                Ok(updated) => still_open = updated,
                Err(Error::Conflict(_)) => {
                    return Payment::find(&self.db, &payment.id)
                        .await?
                        .ok_or(Error::NotFound("payment"));
                }
                Err(e) => return Err(e),
            }
        } else if let Some(Err(e)) = &asked {
            tracing::info!(payment = %payment.reference, error = %e, "gateway could not be asked; will ask again");
        }
        if still_open.state == payment.state {
            let mut tx = self.db.begin().await?;
            let updated = if give_up && still_open.state.can_transition_to(TimedOut) {
                transition::apply(
                    &mut tx,
                    &still_open,
                    Change::to(TimedOut, "reconciliation: no outcome from the gateway in time")
                        .failure_reason("The payment timed out."),
                )
                .await?
            } else {
                // Ask again later: push settle_by forward by the gateway's interval.
                let next = Utc::now() + self.settle_after(payment);
                with_tx!(&mut tx, conn => sqlx::query("UPDATE payments SET settle_by = $2 WHERE id = $1")
                    .bind(&payment.id)
                    .bind(next)
                    .execute(conn)
                    .await
                    .map(|_| ()))?;
                still_open
            };
            tx.commit().await?;
            return Ok(updated);
        }
        Ok(still_open)
    }
}

fn unreachable_invoice() -> Result<GatewayResult, ConnectorError> {
    // Invoices are answered before a connector is needed (see `send`).
    Err(ConnectorError::Unsupported("invoice collection through a connector"))
}

impl From<&CardDetails> for CardSummary {
    fn from(card: &CardDetails) -> CardSummary {
        CardSummary {
            brand: card.number.brand().name().to_owned(),
            last4: card.number.last4().to_owned(),
            expiry: card.expiry.to_mmyy(),
        }
    }
}
