//! Starting an attempt: who may pay, through which gateway and how, what happens to an open
//! attempt (see the protocol in [`orchestrator`](super::orchestrator)); the request itself is
//! in `send.rs`.

use chrono::Utc;

use crate::access::{self, Viewer};
use crate::connector::{Address, CardDetails, ConnectorError, GatewayStatus};
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayKind};
use crate::iban::Iban;
use crate::payment::PaymentState::{self, *};
use crate::payment::fulfilment;
use crate::payment::orchestrator::Orchestrator;
use crate::payment::record::{CardSummary, Channel, Payment};
use crate::payment::transition::{self, Change, TransitionError};
use crate::payment_method::PaymentMethod;
use crate::product::Product;
use crate::purchase::{Purchase, PurchaseId, PurchaseStatus};
use crate::service::Service;
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
    /// A wallet (Apple Pay): the customer authorises in the wallet sheet, after merchant
    /// validation; nothing is sent to the gateway until then.
    Wallet,
    /// Nothing is owed, so nothing is taken: the attempt is settled at once through whichever
    /// gateway the product offers. Refused for an amount that isn't zero.
    NothingOwed,
    /// Money that arrived outside Settle (cash, EFT, a shop), allocated by the merchant's system
    /// or staff: recorded as paid through an off-system gateway without a call. A customer may
    /// not allocate (they could mark their own purchase paid).
    OffSystem {
        /// The purchase source (channel) the money came through.
        purchase_source_id: String,
        /// What the allocating person noted, kept with the payment.
        comment: Option<String>,
    },
}

impl Instrument {
    /// Whether a gateway of `kind` takes this instrument.
    fn fits(&self, kind: GatewayKind) -> bool {
        use GatewayKind as K;
        match self {
            Instrument::HostedCheckout { .. } => matches!(kind, K::HostedCheckout | K::PaymentLink),
            Instrument::Card { .. } => kind == K::Card3ds,
            Instrument::SavedMethod(_) => {
                matches!(kind, K::Card3ds | K::HostedCheckout | K::PaymentLink | K::DirectDebit)
            }
            Instrument::DirectDebit { .. } => kind == K::DirectDebit,
            Instrument::Invoice => kind == K::Invoice,
            Instrument::Wallet => kind == K::ApplePay,
            Instrument::NothingOwed => true,
            Instrument::OffSystem { .. } => kind == K::OffSystem,
        }
    }

    /// The method named the way customers and the API name it.
    fn describe(&self) -> &'static str {
        match self {
            Instrument::HostedCheckout { .. } => "a hosted payment page",
            Instrument::Card { .. } => "card details",
            Instrument::SavedMethod(_) => "a saved payment method",
            Instrument::DirectDebit { .. } => "a bank account",
            Instrument::Invoice => "an invoice",
            Instrument::Wallet => "a wallet",
            Instrument::NothingOwed => "nothing (no payment required)",
            Instrument::OffSystem { .. } => "an off-system allocation",
        }
    }
}

/// A request to pay a purchase.
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    /// Who asks: decides whether they may pay this purchase at all.
    pub payer: Viewer,
    /// What to pay.
    pub purchase_id: PurchaseId,
    /// Gateways to try, in order: the next is tried only if one certainly did nothing.
    pub gateways: Vec<String>,
    /// How.
    pub instrument: Instrument,
    /// How the customer goes back to the client afterwards (already checked against the
    /// merchant's registered origins by the caller).
    pub return_to: Option<crate::payment::ReturnTo>,
    /// Extras kept with the payment.
    pub details: serde_json::Value,
    /// The caller's idempotency key, scoped and hashed: a retry of the same request finds the
    /// attempt it started instead of starting another.
    pub idempotency_key: Option<String>,
}

/// The gateways a request may go through, checked against the product.
struct Route {
    gateways: Vec<Gateway>,
}

impl Orchestrator {
    /// Starts a payment for a purchase the payer may pay, following the attempt protocol: a
    /// purchase already paid is a conflict; an open attempt that may have moved money makes this
    /// one [`Error::PaymentInProgress`]; a retry with the same idempotency key answers the
    /// attempt it started. Nothing owed settles at once; an invoice or a wallet payment is
    /// recorded without a call; otherwise the gateways are tried in order while one certainly
    /// did nothing.
    pub async fn start(&self, request: PaymentRequest) -> Result<Payment> {
        let (purchase, service) =
            access::purchase(&self.db, &request.payer, &request.purchase_id).await?;
        if let Some(earlier) = self.earlier_attempt(request.idempotency_key.as_deref()).await? {
            return Ok(earlier);
        }
        if !matches!(purchase.status, PurchaseStatus::Open | PurchaseStatus::Quote) {
            return Err(Error::Conflict(format!(
                "this purchase is {}: there is nothing to pay",
                purchase.status
            )));
        }
        let product = Product::find(&self.db, &service.product_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("service {} has no product", service.id)))?;
        if matches!(request.instrument, Instrument::NothingOwed)
            && !purchase.amounts.gross().is_zero()
        {
            return Err(Error::invalid(
                "method",
                format!("{} is owed: choose how to pay it", purchase.amounts.gross()),
            ));
        }
        if matches!(request.instrument, Instrument::OffSystem { .. })
            && !matches!(request.payer, Viewer::Merchant(_) | Viewer::Staff)
        {
            // Only the merchant's system or staff saw the money arrive.
            return Err(Error::Forbidden);
        }
        let route = self.route(&request, &purchase, &service, &product).await?;
        self.replace_open_attempt(&purchase.id).await?;
        let payment = self.record_attempt(&request, &purchase, &service, &route).await?;
        if payment.state != Processing {
            // Nothing owed, an invoice, a wallet: there was nothing to send.
            // (Paid ones were fulfilled in the same commit.)
            return Ok(payment);
        }
        self.send_through(payment, &route, &request.instrument).await
    }

    /// The attempt an earlier run of the same request (same scoped idempotency key) started, so a
    /// retry answers it instead of starting another; one still possibly moving money makes the
    /// retry wait ([`Error::PaymentInProgress`]). Use cases that check what is owed before they
    /// start ask this first, so a retry after success replays instead of meeting "paid".
    pub async fn earlier_attempt(&self, idempotency_key: Option<&str>) -> Result<Option<Payment>> {
        match idempotency_key {
            Some(key) => match Payment::find_by_idempotency_key(&self.db, key).await? {
                Some(earlier) => resumed(earlier).map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// The request's gateways, each offered by the product, in its currency, and taking the
    /// instrument; a saved method must be the payer's own, of a kind the product takes, and
    /// held by that gateway.
    async fn route(
        &self,
        request: &PaymentRequest,
        purchase: &Purchase,
        service: &Service,
        product: &Product,
    ) -> Result<Route> {
        if request.gateways.is_empty() {
            return Err(Error::invalid("gateway", "no gateway to pay through"));
        }
        let offered = Gateway::for_product(&self.db, &product.id).await?;
        let currency = purchase.amounts.currency();
        let mut gateways = Vec::new();
        for id in &request.gateways {
            let gateway = offered.iter().find(|g| &g.id == id).ok_or_else(|| {
                Error::invalid(
                    "gateway",
                    format!("{id:?} is not offered for {} {}", product.name, service.reference),
                )
            })?;
            if gateway.currency != currency {
                return Err(Error::invalid(
                    "gateway",
                    format!("{id} takes {}, the amount owed is in {currency}", gateway.currency),
                ));
            }
            if !request.instrument.fits(gateway.kind) {
                return Err(Error::invalid(
                    "method",
                    format!("{id} does not take {}", request.instrument.describe()),
                ));
            }
            if let Instrument::SavedMethod(method) = &request.instrument {
                check_saved_method(method, service, product, gateway)?;
            }
            gateways.push(gateway.clone());
        }
        Ok(Route { gateways })
    }

    /// Makes way for a new attempt: an open attempt that can't have moved money is cancelled
    /// (a hosted checkout first at its gateway); one that may have is left alone and the new
    /// attempt refused with its reference. A challenged card attempt is sent but can't move
    /// money on its own: the acquirer authorises only when Settle posts the customer's answer
    /// ([`Orchestrator::complete_challenge`], which moves it out of `PAYMENT_3DAUTH` by
    /// compare-and-set first), so once it is cancelled here no answer reaches the acquirer.
    async fn replace_open_attempt(&self, purchase: &PurchaseId) -> Result<()> {
        for open in Payment::open_for_purchase(&self.db, purchase).await? {
            match open.state {
                Processing => return Err(Error::PaymentInProgress(open.reference)),
                AwaitingCustomer if open.gateway_reference.is_some() => {
                    self.cancel_at_gateway(&open).await?;
                }
                Created | AwaitingCustomer | Invoiced | Payment3dAuth => {
                    self.cancel_locally(&open, "replaced by a new attempt", None).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Cancels an open hosted checkout at its gateway, so the customer can no longer pay it,
    /// and then here; if the customer paid first, that payment is applied and the new attempt
    /// refused.
    async fn cancel_at_gateway(&self, open: &Payment) -> Result<()> {
        let connector = self.connector(&open.gateway_id)?;
        let gateway_reference = open.gateway_reference.as_deref().unwrap_or_default();
        match connector.cancel(gateway_reference).await {
            Ok(result) => match &result.status {
                GatewayStatus::Failed { .. } => {
                    let cause =
                        "replaced by a new attempt; the checkout was cancelled at the gateway";
                    self.cancel_locally(open, cause, Some(result.raw)).await
                }
                GatewayStatus::Succeeded => {
                    let paid = self
                        .apply_result(
                            open,
                            result,
                            "the customer paid before the checkout could be replaced",
                        )
                        .await?;
                    Err(Error::Conflict(format!(
                        "payment {} for this purchase has just succeeded",
                        paid.reference
                    )))
                }
                _ => Err(Error::PaymentInProgress(open.reference.clone())),
            },
            Err(ConnectorError::Unsupported(_)) => {
                self.cancel_locally(open, "replaced by a new attempt", None).await
            }
            Err(e) => {
                tracing::warn!(payment = %open.reference, error = %e, "could not cancel an open checkout");
                Err(Error::PaymentInProgress(open.reference.clone()))
            }
        }
    }

    /// Cancels an attempt that can't have moved money. Losing the compare-and-set means it moved
    /// meanwhile (the customer finished the challenge): the new attempt waits for it.
    async fn cancel_locally(
        &self,
        open: &Payment,
        cause: &str,
        payload: Option<serde_json::Value>,
    ) -> Result<()> {
        let mut change = Change::to(Cancelled, cause);
        if let Some(payload) = payload {
            change = change.payload(payload);
        }
        let mut tx = self.db.begin().await?;
        match transition::apply(&mut tx, open, change).await {
            Ok(_) => {
                tx.commit().await?;
                Ok(())
            }
            Err(TransitionError::Store(e)) => Err(e),
            Err(_) => Err(Error::PaymentInProgress(open.reference.clone())),
        }
    }

    /// Stores the new attempt, before anything is sent: `PROCESSING` (possibly charged) for a
    /// gateway call; `INVOICED`, `AWAITING_CUSTOMER` (wallet) or paid (nothing owed) otherwise.
    async fn record_attempt(
        &self,
        request: &PaymentRequest,
        purchase: &Purchase,
        service: &Service,
        route: &Route,
    ) -> Result<Payment> {
        let first = &route.gateways[0];
        let mut payment = Payment::new(purchase.id.clone(), &first.id, purchase.amounts.gross());
        payment.merchant_id =
            request.payer.merchant().cloned().or_else(|| service.merchant_id.clone());
        payment.return_to = request.return_to.clone();
        payment.channel = Channel::of(&request.payer);
        payment.details = request.details.clone();
        payment.idempotency_key = request.idempotency_key.clone();
        match &request.instrument {
            Instrument::SavedMethod(method) => payment.payment_method_id = Some(method.id.clone()),
            Instrument::Card { card, billing_address } => {
                payment.card = Some(CardSummary::from(card));
                payment.billing_address = Some(billing_address.clone());
            }
            Instrument::OffSystem { purchase_source_id, comment } => {
                payment.purchase_source_id = Some(purchase_source_id.clone());
                if let (Some(comment), Some(details)) = (comment, payment.details.as_object_mut()) {
                    details.insert("comment".into(), comment.clone().into());
                }
            }
            _ => {}
        }
        let now = Utc::now();
        let (initial, cause): (PaymentState, String) = if purchase.amounts.gross().is_zero() {
            (Created, "nothing owed".into())
        } else {
            match &request.instrument {
                Instrument::OffSystem { purchase_source_id, .. } => {
                    (Created, format!("off-system allocation from source {purchase_source_id}"))
                }
                Instrument::Invoice => (Invoiced, "invoice issued; to be paid against it".into()),
                Instrument::Wallet => {
                    (AwaitingCustomer, "waiting for the customer's wallet authorisation".into())
                }
                _ => (Processing, format!("payment started; sending it to {}", first.id)),
            }
        };
        payment.state = initial;
        if matches!(initial, Processing | AwaitingCustomer) {
            payment.settle_by = Some(now + chrono_duration(self.first_ask(&payment.gateway_id)));
        }
        let mut tx = self.db.begin().await?;
        // Locks the purchase until the attempt is stored, so a cancel waits for it (and then
        // refuses), or the attempt finds the purchase cancelled.
        if !Purchase::hold_payable(&mut tx, &purchase.id).await? {
            return Err(Error::Conflict(
                "this purchase is no longer open: there is nothing to pay".into(),
            ));
        }
        match payment.insert(&mut tx, &cause).await {
            Ok(()) => {}
            Err(Error::Conflict(_)) => {
                drop(tx);
                return Err(self.lost_insert(request, purchase).await);
            }
            Err(e) => return Err(e),
        }
        if matches!(request.instrument, Instrument::HostedCheckout { save_card: true }) {
            super::saved_card::expect(&mut tx, &payment.id).await?;
        }
        if initial == Created {
            let why = if purchase.amounts.gross().is_zero() {
                "nothing owed: no payment required"
            } else {
                "allocated: the money arrived outside Settle"
            };
            let paid =
                transition::apply(&mut tx, &payment, Change::to(PaymentSuccess, why)).await?;
            let fulfilled = fulfilment::fulfil_in(&mut tx, &paid).await?;
            tx.commit().await?;
            return Ok(fulfilled);
        }
        tx.commit().await?;
        Ok(payment)
    }

    /// Why a new attempt couldn't be stored: a concurrent duplicate of the same request (its
    /// attempt answers), or another attempt on the purchase that got in first.
    async fn lost_insert(&self, request: &PaymentRequest, purchase: &Purchase) -> Error {
        if let Some(key) = &request.idempotency_key
            && let Ok(Some(earlier)) = Payment::find_by_idempotency_key(&self.db, key).await
        {
            return resumed(earlier).err().unwrap_or_else(|| {
                Error::Conflict(
                    "this request was answered already; retry it to see the answer".into(),
                )
            });
        }
        match Payment::open_for_purchase(&self.db, &purchase.id).await {
            Ok(open) => match open.into_iter().next() {
                Some(open) => Error::PaymentInProgress(open.reference),
                None => Error::Conflict("another payment for this purchase has just finished; check it before paying again".into()),
            },
            Err(e) => e,
        }
    }

    /// Sends the stored attempt through its route: the next gateway only when one certainly
    /// did nothing (it couldn't be reached, or said it is unavailable before acting).
    async fn send_through(
        &self,
        mut payment: Payment,
        route: &Route,
        instrument: &Instrument,
    ) -> Result<Payment> {
        // Until the answer is applied, a notification for this payment waits for it.
        let _sending = self.in_flight.begin(&payment.id);
        for (i, gateway) in route.gateways.iter().enumerate() {
            if i > 0 {
                payment = self.switch_gateway(&payment, &gateway.id).await?;
            }
            match self.send(&payment, instrument).await {
                Ok(result) => return self.apply_result(&payment, result, "gateway answered").await,
                Err(e) if e.nothing_happened() && i + 1 < route.gateways.len() => {
                    let mut tx = self.db.begin().await?;
                    let cause =
                        format!("{} unavailable ({e}); trying the next gateway", gateway.id);
                    transition::note(&mut tx, &payment, &cause, None).await?;
                    tx.commit().await?;
                }
                Err(e) => return self.record_send_failure(&payment, e).await,
            }
        }
        Err(Error::Internal("no gateway was tried".into()))
    }

    /// Moves an attempt that certainly reached no gateway on to the next one.
    async fn switch_gateway(&self, payment: &Payment, gateway_id: &str) -> Result<Payment> {
        let mut tx = self.db.begin().await?;
        let sql = "UPDATE payments SET gateway_id = $2, updated_at = $3
                   WHERE id = $1 AND state = 3 AND gateway_id = $4 AND gateway_reference IS NULL";
        let moved = with_tx!(&mut tx, conn => sqlx::query(sql)
            .bind(&payment.id)
            .bind(gateway_id)
            .bind(Utc::now())
            .bind(&payment.gateway_id)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        if moved == 0 {
            return Err(Error::PaymentInProgress(payment.reference.clone()));
        }
        let payment = Payment::reload(&mut tx, &payment.id).await?;
        transition::note(&mut tx, &payment, &format!("routed to {gateway_id}"), None).await?;
        tx.commit().await?;
        Ok(payment)
    }
}

/// The answer to a retried request: the attempt it started, unless that may still be moving
/// money (then the retry waits like any concurrent attempt).
fn resumed(earlier: Payment) -> Result<Payment> {
    if earlier.state == Processing {
        Err(Error::PaymentInProgress(earlier.reference))
    } else {
        Ok(earlier)
    }
}

/// A saved method may pay only its owner's services, of a kind the product takes, through the
/// gateway that holds its token.
fn check_saved_method(
    method: &PaymentMethod,
    service: &Service,
    product: &Product,
    gateway: &Gateway,
) -> Result<()> {
    let field = "payment_method_id";
    if method.customer_id.as_ref() != Some(&service.customer_id) {
        return Err(Error::invalid(field, "no such payment method"));
    }
    if !product.allows(method.kind) {
        return Err(Error::invalid(
            field,
            format!("{} does not take {} payment methods", product.name, method.kind),
        ));
    }
    if method.gateway_id.as_deref() != Some(gateway.id.as_str()) {
        return Err(Error::invalid(
            field,
            format!("this payment method can't be charged through {}", gateway.id),
        ));
    }
    Ok(())
}

/// A std duration as chrono's, saturating.
pub(super) fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
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
